/* Unit tests for common/kubeconfig: render and load. */
#include "common/err.h"
#include "common/kubeconfig.h"
#include "tests/test.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* A fresh temporary folder (caller frees the path). */
static char *tmpdir(void)
{
    char *t = strdup("/tmp/vk-kc-XXXXXX");
    return mkdtemp(t) ? t : NULL;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "  cannot remove %s\n", dir);
}

TEST(load_round_trips_render)
{
    char *d = tmpdir();
    CHECK(d != NULL);
    if (!d) return;
    char *y = NULL;
    CHECK_EQ_INT(vk_kubeconfig_render("acme", "https://127.0.0.1:6443", CA, CRT, KEY, NULL, &y), 0);
    write_file(d, "config", y);
    free(y);
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/config", d);
    vk_kubeconfig_t kc;
    CHECK_EQ_INT(vk_kubeconfig_load(path, &kc, err, sizeof err), 0);
    CHECK_EQ_STR(kc.server, "https://127.0.0.1:6443");
    CHECK_EQ_STR(kc.ca_pem, CA);
    CHECK_EQ_STR(kc.client_cert_pem, CRT);
    CHECK_EQ_STR(kc.client_key_pem, KEY);
    CHECK(kc.token == NULL && kc.namespace_ == NULL && kc.insecure == 0);
    vk_kubeconfig_free(&kc);

    CHECK_EQ_INT(vk_kubeconfig_render("t", "https://127.0.0.2:1", CA, NULL, NULL, "tok123", &y), 0);
    write_file(d, "config", y);
    free(y);
    CHECK_EQ_INT(vk_kubeconfig_load(path, &kc, err, sizeof err), 0);
    CHECK_EQ_STR(kc.token, "tok123");
    CHECK(kc.client_cert_pem == NULL);
    vk_kubeconfig_free(&kc);
    rm_rf(d);
    free(d);
}

TEST(load_file_references_current_context_and_json)
{
    char *d = tmpdir();
    if (!d) return;
    char sub[512];
    snprintf(sub, sizeof sub, "%s/pki", d);
    mkdir(sub, 0700);
    write_file(d, "pki/ca.crt", CA);
    write_file(d, "pki/c.crt", CRT);
    write_file(d, "pki/c.key", KEY);
    write_file(d, "tok", "filetoken\n");
    write_file(d, "config",
               "apiVersion: v1\nkind: Config\ncurrent-context: second\n"
               "clusters:\n- name: one\n  cluster: {server: 'https://127.0.0.1:1', "
               "insecure-skip-tls-verify: true}\n"
               "- name: two\n  cluster:\n    server: https://127.0.0.1:2/\n"
               "    certificate-authority: pki/ca.crt\n"
               "users:\n- name: u1\n  user: {tokenFile: tok}\n"
               "- name: u2\n  user: {client-certificate: pki/c.crt, client-key: pki/c.key}\n"
               "contexts:\n- name: first\n  context: {cluster: one, user: u1}\n"
               "- name: second\n  context: {cluster: two, user: u2, namespace: team-a}\n");
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/config", d);
    vk_kubeconfig_t kc;
    CHECK_EQ_INT(vk_kubeconfig_load(path, &kc, err, sizeof err), 0);
    CHECK_EQ_STR(kc.server, "https://127.0.0.1:2");
    CHECK_EQ_STR(kc.ca_pem, CA);
    CHECK_EQ_STR(kc.client_cert_pem, CRT);
    CHECK_EQ_STR(kc.client_key_pem, KEY);
    CHECK_EQ_STR(kc.namespace_, "team-a");
    vk_kubeconfig_free(&kc);

    /* The same file as JSON, switched to the first context. */
    write_file(d, "config.json",
               "{\"current-context\":\"first\",\"clusters\":[{\"name\":\"one\",\"cluster\":"
               "{\"server\":\"https://127.0.0.1:1\",\"insecure-skip-tls-verify\":true}}],"
               "\"users\":[{\"name\":\"u1\",\"user\":{\"tokenFile\":\"tok\"}}],"
               "\"contexts\":[{\"name\":\"first\",\"context\":{\"cluster\":\"one\",\"user\":\"u1\"}}]}");
    snprintf(path, sizeof path, "%s/config.json", d);
    CHECK_EQ_INT(vk_kubeconfig_load(path, &kc, err, sizeof err), 0);
    CHECK_EQ_INT(kc.insecure, 1);
    CHECK(kc.ca_pem == NULL);
    CHECK_EQ_STR(kc.token, "filetoken");
    vk_kubeconfig_free(&kc);
    rm_rf(d);
    free(d);
}

static void check_bad(const char *text, const char *needle)
{
    vk_kubeconfig_t kc;
    char err[256] = "";
    int rc = vk_kubeconfig_parse(text, strlen(text), "/nonexistent", &kc, err, sizeof err);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK(kc.server == NULL && kc.token == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error was: %s (wanted %s)\n", err, needle);
        CHECK(strstr(err, needle) != NULL);
    }
}

TEST(load_errors_are_clear)
{
    const char *ok_tail = "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
                          "users: [{name: u, user: {token: t}}]\n";
    char buf[1024];
    check_bad("a: [\n", "kubeconfig: yaml: line");
    check_bad("- 1\n", "not a mapping");
    check_bad(ok_tail, "current-context is not set");
    snprintf(buf, sizeof buf, "current-context: x\n%s", ok_tail);
    check_bad(buf, "context \"x\" not found");
    snprintf(buf, sizeof buf, "current-context: x\ncontexts: [{name: x, context: {cluster: nope, user: u}}]\n%s", ok_tail);
    check_bad(buf, "cluster \"nope\"");
    snprintf(buf, sizeof buf, "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: nope}}]\n%s", ok_tail);
    check_bad(buf, "user \"nope\"");
    check_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
              "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n", "https://");
    check_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
              "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!notb64'}}]\n",
              "not valid base64");
    check_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
              "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: missing.crt}}]\n",
              "cannot read certificate-authority /nonexistent/missing.crt");
    check_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
              "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
              "users: [{name: u, user: {exec: {command: aws}}}]\n", "are not)");
    check_bad("current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
              "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
              "users: [{name: u, user: {client-certificate-data: Q0EK}}]\n", "without a key");
    vk_kubeconfig_t kc;
    char err[256];
    CHECK_EQ_INT(vk_kubeconfig_load("/nonexistent/kubeconfig", &kc, err, sizeof err), VK_ENOTFOUND);
    CHECK(strstr(err, "/nonexistent/kubeconfig") != NULL);
}

TEST(in_cluster_reads_service_account)
{
    char *d = tmpdir();
    if (!d) return;
    vk_kubeconfig_t kc;
    char err[256];
    CHECK_EQ_INT(vk_kubeconfig_in_cluster_at(d, "10.0.0.1", "443", &kc, err, sizeof err), VK_ENOTFOUND);
    CHECK(strstr(err, "token") != NULL);
    write_file(d, "token", "satoken\n");
    write_file(d, "ca.crt", CA);
    write_file(d, "namespace", "vkube-acme");
    CHECK_EQ_INT(vk_kubeconfig_in_cluster_at(d, NULL, "443", &kc, err, sizeof err), VK_ENOTFOUND);
    CHECK(strstr(err, "KUBERNETES_SERVICE_HOST") != NULL);
    CHECK_EQ_INT(vk_kubeconfig_in_cluster_at(d, "10.0.0.1", "443", &kc, err, sizeof err), 0);
    CHECK_EQ_STR(kc.server, "https://10.0.0.1:443");
    CHECK_EQ_STR(kc.token, "satoken");
    CHECK_EQ_STR(kc.ca_pem, CA);
    CHECK_EQ_STR(kc.namespace_, "vkube-acme");
    vk_kubeconfig_free(&kc);
    CHECK_EQ_INT(vk_kubeconfig_in_cluster_at(d, "fd00::1", "6443", &kc, err, sizeof err), 0);
    CHECK_EQ_STR(kc.server, "https://[fd00::1]:6443");
    vk_kubeconfig_free(&kc);
    rm_rf(d);
    free(d);
}

int main(void)
{
    RUN(load_round_trips_render);
    RUN(load_file_references_current_context_and_json);
    RUN(load_errors_are_clear);
    RUN(in_cluster_reads_service_account);
    RUN(render_client_cert);
    RUN(render_token_and_quoting);
    RUN(render_rejects_bad_arguments);
    TEST_EXIT();
}
