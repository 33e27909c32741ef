/* Unit tests for common/kubeconfig: render and load. */
#include "common/err.h"
#include "common/kubeconfig.h"
#include "tests/test.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char *CA = "-----BEGIN CERTIFICATE-----\nQ0EK\n-----END CERTIFICATE-----\n";
static const char *CRT = "-----BEGIN CERTIFICATE-----\nQ1JUCg==\n-----END CERTIFICATE-----\n";
static const char *KEY = "-----BEGIN PRIVATE KEY-----\nS0VZCg==\n-----END PRIVATE KEY-----\n";

/* Returns the value after "key: " on the first line containing it (malloc'd), or NULL. */
static char *value_of(const char *text, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "%s: ", key);
    const char *p = strstr(text, pat);
    if (!p) return NULL;
    p += strlen(pat);
    const char *e = strchr(p, '\n');
    return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static char *b64dec(const char *s)
{
    size_t n = strlen(s);
    unsigned char *out = calloc(1, n + 1);
    int len = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (len < 0) { free(out); return NULL; }
    while (n > 0 && s[n - 1] == '=') n--, len--; /* DecodeBlock counts padding */
    out[len] = 0;
    return (char *)out;
}

TEST(render_client_cert)
{
    char *y = NULL;
    CHECK_EQ_INT(vk_kubeconfig_render("acme", "https://127.0.0.1:6443", CA, CRT, KEY, NULL, &y), 0);
    CHECK(y != NULL);
    if (!y) return;
    CHECK(strncmp(y, "apiVersion: v1\nkind: Config\n", 28) == 0);
    char *v = value_of(y, "current-context");
    CHECK_EQ_STR(v, "\"acme\"");
    free(v);
    v = value_of(y, "server");
    CHECK_EQ_STR(v, "\"https://127.0.0.1:6443\"");
    free(v);
    v = value_of(y, "certificate-authority-data");
    char *d = v ? b64dec(v) : NULL;
    CHECK_EQ_STR(d, CA);
    free(v), free(d);
    v = value_of(y, "client-certificate-data");
    d = v ? b64dec(v) : NULL;
    CHECK_EQ_STR(d, CRT);
    free(v), free(d);
    v = value_of(y, "client-key-data");
    d = v ? b64dec(v) : NULL;
    CHECK_EQ_STR(d, KEY);
    free(v), free(d);
    CHECK(strstr(y, "token:") == NULL);
    CHECK(strstr(y, "clusters:\n- name: \"acme\"\n") != NULL);
    CHECK(strstr(y, "users:\n- name: \"acme\"\n") != NULL);
    CHECK(strstr(y, "contexts:\n- name: \"acme\"\n  context:\n    cluster: \"acme\"\n    user: \"acme\"\n") != NULL);
    free(y);
}

TEST(render_token_and_quoting)
{
    char *y = NULL;
    CHECK_EQ_INT(vk_kubeconfig_render("we\"ird", "https://127.0.0.1:1", CA, NULL, NULL, "abc:def", &y), 0);
    if (!y) return;
    char *v = value_of(y, "token");
    CHECK_EQ_STR(v, "\"abc:def\"");
    free(v);
    CHECK(strstr(y, "- name: \"we\\\"ird\"") != NULL);
    CHECK(strstr(y, "client-key-data") == NULL);
    free(y);
}

TEST(render_rejects_bad_arguments)
{
    char *y = (char *)1;
    CHECK_EQ_INT(vk_kubeconfig_render("a", "https://x", NULL, NULL, NULL, "t", &y), VK_EINVALID);
    CHECK(y == NULL);
    CHECK_EQ_INT(vk_kubeconfig_render("a", "https://x", CA, CRT, NULL, NULL, &y), VK_EINVALID);
    CHECK_EQ_INT(vk_kubeconfig_render("a", "https://x", CA, NULL, NULL, NULL, &y), VK_EINVALID);
    CHECK_EQ_INT(vk_kubeconfig_render("a", "https://x", CA, CRT, KEY, "t", &y), VK_EINVALID);
    CHECK_EQ_INT(vk_kubeconfig_render("", "https://x", CA, NULL, NULL, "t", &y), VK_EINVALID);
}

int main(void)
{
    RUN(render_client_cert);
    RUN(render_token_and_quoting);
    RUN(render_rejects_bad_arguments);
    TEST_EXIT();
}
