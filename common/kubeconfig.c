/* kubeconfig: render a single-context kubeconfig; load credentials from a
 * kubeconfig file (YAML or JSON) or from in-cluster service-account files. */
#include "kubeconfig.h"

#include "err.h"
#include "mem.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable string buffer for rendering. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = vk_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_str(buf_t *b, const char *s) { buf_add(b, s, strlen(s)); }

/* Appends s as a YAML double-quoted scalar (JSON-compatible escapes). */
static void buf_quoted(buf_t *b, const char *s)
{
    buf_str(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\', esc[1] = (char)*c, esc[2] = 0;
            buf_str(b, esc);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof esc, "\\x%02x", *c);
            buf_str(b, esc);
        } else {
            buf_add(b, (const char *)c, 1);
        }
    }
    buf_str(b, "\"");
}

/* Appends base64 of s (no line breaks). */
static void buf_base64(buf_t *b, const char *s)
{
    size_t n = strlen(s);
    unsigned char *out = vk_xmalloc(4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock(out, (const unsigned char *)s, (int)n);
    buf_add(b, (const char *)out, (size_t)len);
    free(out);
}

int vk_kubeconfig_render(const char *name, const char *server, const char *ca_pem,
                         const char *client_cert_pem, const char *client_key_pem,
                         const char *token, char **out)
{
    *out = NULL;
    if (!name || !*name || !server || !*server || !ca_pem || !*ca_pem) return VK_EINVALID;
    int have_cert = client_cert_pem && client_key_pem;
    if ((client_cert_pem != NULL) != (client_key_pem != NULL)) return VK_EINVALID;
    if (!have_cert && !token) return VK_EINVALID;
    if (have_cert && token) return VK_EINVALID;

    buf_t b = {0};
    buf_str(&b, "apiVersion: v1\nkind: Config\nclusters:\n- name: ");
    buf_quoted(&b, name);
    buf_str(&b, "\n  cluster:\n    server: ");
    buf_quoted(&b, server);
    buf_str(&b, "\n    certificate-authority-data: ");
    buf_base64(&b, ca_pem);
    buf_str(&b, "\nusers:\n- name: ");
    buf_quoted(&b, name);
    buf_str(&b, "\n  user:\n");
    if (have_cert) {
        buf_str(&b, "    client-certificate-data: ");
        buf_base64(&b, client_cert_pem);
        buf_str(&b, "\n    client-key-data: ");
        buf_base64(&b, client_key_pem);
        buf_str(&b, "\n");
    } else {
        buf_str(&b, "    token: ");
        buf_quoted(&b, token);
        buf_str(&b, "\n");
    }
    buf_str(&b, "contexts:\n- name: ");
    buf_quoted(&b, name);
    buf_str(&b, "\n  context:\n    cluster: ");
    buf_quoted(&b, name);
    buf_str(&b, "\n    user: ");
    buf_quoted(&b, name);
    buf_str(&b, "\ncurrent-context: ");
    buf_quoted(&b, name);
    buf_str(&b, "\npreferences: {}\n");
    *out = b.p;
    return 0;
}

int vk_kubeconfig_load(const char *path, vk_kubeconfig_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "kubeconfig load: not implemented yet");
    return VK_ENOTIMPL;
}

int vk_kubeconfig_in_cluster(vk_kubeconfig_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "in-cluster config: not implemented yet");
    return VK_ENOTIMPL;
}

void vk_kubeconfig_free(vk_kubeconfig_t *kc)
{
    if (!kc) return;
    free(kc->server);
    free(kc->ca_pem);
    free(kc->client_cert_pem);
    free(kc->client_key_pem);
    free(kc->token);
    free(kc->namespace_);
    memset(kc, 0, sizeof *kc);
}
