/* kubeconfig: render a single-context kubeconfig; load credentials from a
 * kubeconfig file (YAML or JSON) or from in-cluster service-account files. */
#include "kubeconfig.h"

#include "err.h"
#include "mem.h"
#include "yaml.h"

#include <errno.h>

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

/* Largest file (kubeconfig, certificate, token) we read. */
#define MAX_FILE (4u << 20)

/* Reads a whole file into a NUL-terminated string (caller frees). */
static int read_file(const char *path, char **out, size_t *outlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    buf_t b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > MAX_FILE) {
            fclose(f);
            free(b.p);
            return VK_ETOOLARGE;
        }
        buf_add(&b, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.p);
        return VK_EIO;
    }
    if (outlen) *outlen = b.len;
    *out = b.p ? b.p : vk_xstrdup("");
    return 0;
}

/* Decodes base64 (whitespace allowed) into a NUL-terminated string; NULL if invalid. */
static char *b64_decode(const char *in)
{
    size_t n = strlen(in);
    char *clean = vk_xmalloc(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\r\n", in[i])) clean[m++] = in[i];
    clean[m] = 0;
    if (m % 4 != 0) {
        free(clean);
        return NULL;
    }
    unsigned char *out = vk_xmalloc(m / 4 * 3 + 1);
    int len = EVP_DecodeBlock(out, (unsigned char *)clean, (int)m);
    if (len < 0) {
        free(clean), free(out);
        return NULL;
    }
    if (m >= 1 && clean[m - 1] == '=') len--;
    if (m >= 2 && clean[m - 2] == '=') len--;
    out[len] = 0;
    free(clean);
    return (char *)out;
}

/* The entry of list (clusters/users/contexts) named name, its `field` object. */
static json_t *named(json_t *cfg, const char *list, const char *name, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(cfg, list), i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0) {
            json_t *f = json_object_get(e, field);
            return json_is_object(f) ? f : NULL;
        }
    }
    return NULL;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Loads PEM (or token) text from `<key>-data` (base64) or `<key>` (a file,
 * relative to dir). 0 with *out NULL when neither is set. */
static int data_or_file(json_t *o, const char *key, const char *dir, char **out, char *err,
                        size_t errlen)
{
    *out = NULL;
    char datakey[64];
    snprintf(datakey, sizeof datakey, "%s-data", key);
    const char *data = str_of(o, datakey);
    if (data && *data) {
        *out = b64_decode(data);
        if (!*out) {
            snprintf(err, errlen, "kubeconfig: %s is not valid base64", datakey);
            return VK_EINVALID;
        }
        return 0;
    }
    const char *file = str_of(o, key);
    if (!file || !*file) return 0;
    char *path = file[0] == '/' ? vk_xstrdup(file) : vk_xasprintf("%s/%s", dir, file);
    int rc = read_file(path, out, NULL);
    if (rc) snprintf(err, errlen, "kubeconfig: cannot read %s %s: %s", key, path, vk_err_name(rc));
    free(path);
    return rc ? VK_EINVALID : 0;
}

/* Is the value true in YAML/JSON terms (a bool, or the string "true"). */
static int truthy(json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
}

int vk_kubeconfig_parse(const char *text, size_t len, const char *dir, vk_kubeconfig_t *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *cfg = NULL;
    char yerr[256];
    if (vk_yaml_parse(text, len, &cfg, yerr, sizeof yerr) != 0) {
        snprintf(err, errlen, "kubeconfig: %s", yerr);
        return VK_EINVALID;
    }
    int rc = VK_EINVALID;
    if (!json_is_object(cfg)) {
        snprintf(err, errlen, "kubeconfig: not a mapping");
        goto done;
    }
    const char *cur = str_of(cfg, "current-context");
    if (!cur || !*cur) {
        snprintf(err, errlen, "kubeconfig: current-context is not set");
        goto done;
    }
    json_t *ctx = named(cfg, "contexts", cur, "context");
    if (!ctx) {
        snprintf(err, errlen, "kubeconfig: context \"%s\" not found", cur);
        goto done;
    }
    const char *cname = str_of(ctx, "cluster"), *uname = str_of(ctx, "user");
    json_t *cluster = cname ? named(cfg, "clusters", cname, "cluster") : NULL;
    if (!cluster) {
        snprintf(err, errlen, "kubeconfig: cluster \"%s\" of context \"%s\" not found",
                 cname ? cname : "", cur);
        goto done;
    }
    json_t *user = uname ? named(cfg, "users", uname, "user") : NULL;
    if (uname && *uname && !user) {
        snprintf(err, errlen, "kubeconfig: user \"%s\" of context \"%s\" not found", uname, cur);
        goto done;
    }
    const char *server = str_of(cluster, "server");
    if (!server || strncmp(server, "https://", 8) != 0) {
        snprintf(err, errlen, "kubeconfig: cluster \"%s\" server must be an https:// URL (got %s)",
                 cname, server ? server : "nothing");
        goto done;
    }
    out->server = vk_xstrdup(server);
    size_t sl = strlen(out->server);
    while (sl > 8 && out->server[sl - 1] == '/') out->server[--sl] = 0;
    out->insecure = truthy(json_object_get(cluster, "insecure-skip-tls-verify"));
    if (!out->insecure &&
        data_or_file(cluster, "certificate-authority", dir, &out->ca_pem, err, errlen))
        goto done;
    const char *ns = str_of(ctx, "namespace");
    if (ns && *ns) out->namespace_ = vk_xstrdup(ns);
    if (user) {
        if (json_object_get(user, "exec") || json_object_get(user, "auth-provider") ||
            json_object_get(user, "username")) {
            snprintf(err, errlen,
                     "kubeconfig: user \"%s\": only client certificates and tokens are "
                     "supported (exec, auth-provider and basic auth are not)",
                     uname);
            goto done;
        }
        if (data_or_file(user, "client-certificate", dir, &out->client_cert_pem, err, errlen) ||
            data_or_file(user, "client-key", dir, &out->client_key_pem, err, errlen))
            goto done;
        if (!out->client_cert_pem != !out->client_key_pem) {
            snprintf(err, errlen, "kubeconfig: user \"%s\" has a client certificate without a key "
                                  "or a key without a certificate", uname);
            goto done;
        }
        const char *tok = str_of(user, "token");
        if (tok && *tok) {
            out->token = vk_xstrdup(tok);
        } else {
            const char *tf = str_of(user, "tokenFile");
            if (tf && *tf) {
                json_t *tmp = json_pack("{ss}", "token", tf);
                int r = data_or_file(tmp, "token", dir, &out->token, err, errlen);
                json_decref(tmp);
                if (r) goto done;
                size_t tl = strlen(out->token);
                while (tl && strchr(" \t\r\n", out->token[tl - 1])) out->token[--tl] = 0;
            }
        }
    }
    rc = 0;
done:
    json_decref(cfg);
    if (rc) vk_kubeconfig_free(out);
    return rc;
}

int vk_kubeconfig_load(const char *path, vk_kubeconfig_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = read_file(path, &text, &len);
    if (rc) {
        snprintf(err, errlen, "kubeconfig: cannot read %s: %s", path,
                 rc == VK_ETOOLARGE ? "file too large" : vk_err_name(rc));
        return rc == VK_ETOOLARGE ? VK_EINVALID : VK_ENOTFOUND;
    }
    char *dir = vk_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else strcpy(dir, ".");
    rc = vk_kubeconfig_parse(text, len, dir, out, err, errlen);
    free(dir);
    free(text);
    return rc;
}

int vk_kubeconfig_in_cluster_at(const char *sa_dir, const char *host, const char *port,
                                vk_kubeconfig_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!host || !*host || !port || !*port) {
        snprintf(err, errlen, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                              "must be set");
        return VK_ENOTFOUND;
    }
    char *path = vk_xasprintf("%s/token", sa_dir);
    int rc = read_file(path, &out->token, NULL);
    if (rc) snprintf(err, errlen, "in-cluster: cannot read %s: %s", path, vk_err_name(rc));
    free(path);
    if (!rc) {
        path = vk_xasprintf("%s/ca.crt", sa_dir);
        rc = read_file(path, &out->ca_pem, NULL);
        if (rc) snprintf(err, errlen, "in-cluster: cannot read %s: %s", path, vk_err_name(rc));
        free(path);
    }
    if (rc) {
        vk_kubeconfig_free(out);
        return VK_ENOTFOUND;
    }
    size_t tl = strlen(out->token);
    while (tl && strchr(" \t\r\n", out->token[tl - 1])) out->token[--tl] = 0;
    path = vk_xasprintf("%s/namespace", sa_dir);
    if (read_file(path, &out->namespace_, NULL) == 0) {
        size_t nl = strlen(out->namespace_);
        while (nl && strchr(" \t\r\n", out->namespace_[nl - 1])) out->namespace_[--nl] = 0;
    }
    free(path);
    out->server = strchr(host, ':') ? vk_xasprintf("https://[%s]:%s", host, port)
                                    : vk_xasprintf("https://%s:%s", host, port);
    return 0;
}

int vk_kubeconfig_in_cluster(vk_kubeconfig_t *out, char *err, size_t errlen)
{
    return vk_kubeconfig_in_cluster_at("/var/run/secrets/kubernetes.io/serviceaccount",
                                       getenv("KUBERNETES_SERVICE_HOST"),
                                       getenv("KUBERNETES_SERVICE_PORT"), out, err, errlen);
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
