/* Unit tests for proxy/satoken: RS256 sign/verify, claims, expiry, audience,
 * tampering, a foreign key, and the store checks of the bound objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/err.h"
#include "common/mem.h"
#include "proxy/satoken.h"
#include "store/store.h"
#include "tests/test.h"

static vk_satoken_t *signer(const char *issuer)
{
    vk_cert_pem_t k;
    if (vk_cert_make_sa_key(&k)) return NULL;
    vk_satoken_t *s = NULL;
    int rc = vk_satoken_new_pem(k.key, issuer, &s);
    vk_cert_pem_free(&k);
    return rc ? NULL : s;
}

static vk_satoken_claims_t base_claims(int64_t now)
{
    vk_satoken_claims_t c = {0};
    c.namespace_ = "ns1";
    c.sa_name = "builder";
    c.sa_uid = "11111111-2222-3333-4444-555555555555";
    c.iat = now;
    c.exp = now + 3600;
    return c;
}

/* Decodes the middle part of a JWT (test-only base64url via the shell-free table). */
static json_t *payload_of(const char *tok)
{
    const char *a = strchr(tok, '.'), *b = a ? strchr(a + 1, '.') : NULL;
    if (!b) return NULL;
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = (size_t)(b - a - 1), o = 0;
    char *out = malloc(n);
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(t, a[1 + i]);
        if (!p) break;
        acc = acc << 6 | (unsigned)(p - t);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)(acc >> bits & 0xff);
        }
    }
    json_t *j = json_loadb(out, o, 0, NULL);
    free(out);
    return j;
}

TEST(issue_and_verify_roundtrip)
{
    vk_satoken_t *s = signer(NULL);
    CHECK(s != NULL);
    if (!s) return;
    int64_t now = (int64_t)time(NULL);
    vk_satoken_claims_t c = base_claims(now);
    char *tok = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c, &tok), 0);
    CHECK(tok && strncmp(tok, "eyJ", 3) == 0);
    json_t *p = payload_of(tok);
    CHECK(p != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(p, "sub")), "system:serviceaccount:ns1:builder");
    CHECK_EQ_STR(json_string_value(json_object_get(p, "iss")), VK_SATOKEN_ISSUER);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(p, "aud"), 0)),
                 VK_SATOKEN_ISSUER);
    CHECK_EQ_INT(json_integer_value(json_object_get(p, "exp")), now + 3600);
    CHECK_EQ_INT(json_integer_value(json_object_get(p, "nbf")), now);
    json_t *k = json_object_get(p, "kubernetes.io");
    CHECK_EQ_STR(json_string_value(json_object_get(k, "namespace")), "ns1");
    CHECK_EQ_STR(json_string_value(
                     json_object_get(json_object_get(k, "serviceaccount"), "uid")),
                 c.sa_uid);
    CHECK(json_object_get(k, "pod") == NULL);
    json_decref(p);

    vk_pool_t *pool = vk_pool_new();
    vk_satoken_claims_t v;
    char err[256] = "";
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, now, pool, &v, err, sizeof err), 0);
    CHECK_EQ_STR(v.namespace_, "ns1");
    CHECK_EQ_STR(v.sa_name, "builder");
    CHECK_EQ_STR(v.sa_uid, c.sa_uid);
    CHECK(v.pod_name == NULL);
    CHECK_EQ_STR(v.audiences[0], VK_SATOKEN_ISSUER);
    CHECK(v.audiences[1] == NULL);
    CHECK_EQ_INT(v.exp, now + 3600);
    vk_pool_free(pool);
    free(tok);
    vk_satoken_free(s);
}

TEST(expiry_and_not_before)
{
    vk_satoken_t *s = signer(NULL);
    if (!s) return;
    int64_t now = (int64_t)time(NULL);
    vk_satoken_claims_t c = base_claims(now - 7200); /* expired an hour ago */
    char *tok = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c, &tok), 0);
    vk_pool_t *pool = vk_pool_new();
    vk_satoken_claims_t v;
    char err[256] = "";
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK(strstr(err, "expired") != NULL);
    /* Within the 60 s leeway after exp it is still valid, past it not. */
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, c.exp + 59, pool, &v, err, sizeof err), 0);
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, c.exp + 61, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    /* Before nbf (minus leeway) it is refused. */
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, c.iat - 120, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK(strstr(err, "not valid yet") != NULL);
    vk_pool_free(pool);
    free(tok);
    vk_satoken_free(s);
}

TEST(audiences)
{
    vk_satoken_t *s = signer(NULL);
    if (!s) return;
    int64_t now = (int64_t)time(NULL);
    vk_satoken_claims_t c = base_claims(now);
    const char *aud[] = {"vault", "other", NULL};
    c.audiences = aud;
    char *tok = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c, &tok), 0);
    vk_pool_t *pool = vk_pool_new();
    vk_satoken_claims_t v;
    char err[256] = "";
    /* The API server's own audience (the issuer) is not in the token. */
    CHECK_EQ_INT(vk_satoken_verify(s, tok, NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK(strstr(err, "audience") != NULL);
    const char *want[] = {"nope", "other", NULL};
    CHECK_EQ_INT(vk_satoken_verify(s, tok, want, now, pool, &v, err, sizeof err), 0);
    CHECK_EQ_STR(v.audiences[0], "other");
    CHECK(v.audiences[1] == NULL);
    vk_pool_free(pool);
    free(tok);
    vk_satoken_free(s);
}

TEST(tampered_and_foreign)
{
    vk_satoken_t *s = signer(NULL), *s2 = signer(NULL), *s3 = signer("https://other.example");
    if (!s || !s2 || !s3) return;
    int64_t now = (int64_t)time(NULL);
    vk_satoken_claims_t c = base_claims(now);
    char *tok = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c, &tok), 0);
    vk_pool_t *pool = vk_pool_new();
    vk_satoken_claims_t v;
    char err[256] = "";
    /* Flip one character of the payload. */
    char *t2 = vk_xstrdup(tok);
    char *p = strchr(t2, '.') + 10;
    *p = *p == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(vk_satoken_verify(s, t2, NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    /* Flip a signature character. */
    strcpy(t2, tok);
    p = t2 + strlen(t2) - 5;
    *p = *p == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(vk_satoken_verify(s, t2, NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK(strstr(err, "signature") != NULL);
    /* Another key does not verify it; another issuer refuses it. */
    CHECK_EQ_INT(vk_satoken_verify(s2, tok, NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    char *tok3 = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s3, &c, &tok3), 0);
    CHECK_EQ_INT(vk_satoken_verify(s3, tok3, (const char *const[]){VK_SATOKEN_ISSUER, NULL}, now,
                                   pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK_EQ_INT(vk_satoken_verify(s3, tok3, NULL, now, pool, &v, err, sizeof err), 0);
    /* Garbage. */
    CHECK_EQ_INT(vk_satoken_verify(s, "abc", NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK_EQ_INT(vk_satoken_verify(s, "a.b.c.d", NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    CHECK_EQ_INT(vk_satoken_verify(s, "!!.??.**", NULL, now, pool, &v, err, sizeof err),
                 VK_EUNAUTHORIZED);
    vk_pool_free(pool);
    free(t2);
    free(tok);
    free(tok3);
    vk_satoken_free(s);
    vk_satoken_free(s2);
    vk_satoken_free(s3);
}

TEST(bad_keys)
{
    vk_satoken_t *s = NULL;
    CHECK_EQ_INT(vk_satoken_new("/nonexistent/sa.key", NULL, &s), VK_EIO);
    CHECK_EQ_INT(vk_satoken_new_pem("not a key", NULL, &s), VK_EINVALID);
    vk_satoken_t *ok = signer(NULL);
    vk_satoken_claims_t c = {0};
    char *tok = NULL;
    if (ok) CHECK_EQ_INT(vk_satoken_issue(ok, &c, &tok), VK_EINVALID);
    vk_satoken_free(ok);
}

/* A store with a ServiceAccount and a pod; the check follows their uids. */
typedef struct {
    int done, status;
} wr_t;

static void wr_cb(void *arg, int status, const vk_kv_t *kv)
{
    wr_t *w = arg;
    w->done = 1;
    w->status = status;
}

static int put(uv_loop_t *loop, vk_store_t *st, const char *key, const char *json)
{
    wr_t w = {0};
    int rc = vk_store_create(st, key, json, strlen(json), wr_cb, &w);
    if (rc) return rc;
    while (!w.done) uv_run(loop, UV_RUN_ONCE);
    return w.status;
}

static int del(uv_loop_t *loop, vk_store_t *st, const char *key)
{
    wr_t w = {0};
    int rc = vk_store_delete(st, key, 0, wr_cb, &w);
    if (rc) return rc;
    while (!w.done) uv_run(loop, UV_RUN_ONCE);
    return w.status;
}

TEST(store_checks)
{
    char dir[] = "/tmp/vk-satoken-XXXXXX";
    if (!mkdtemp(dir)) return;
    char path[256];
    snprintf(path, sizeof path, "%s/db", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_store_t *st = NULL;
    CHECK_EQ_INT(vk_store_open(&loop, path, NULL, &st), 0);
    if (!st) return;
    CHECK_EQ_INT(put(&loop, st, "/core/serviceaccounts/ns1/builder",
                     "{\"metadata\":{\"name\":\"builder\",\"namespace\":\"ns1\","
                     "\"uid\":\"11111111-2222-3333-4444-555555555555\"}}"),
                 0);
    CHECK_EQ_INT(put(&loop, st, "/core/pods/ns1/web",
                     "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"pod-1\"}}"),
                 0);
    vk_satoken_t *s = signer(NULL);
    int64_t now = (int64_t)time(NULL);
    vk_satoken_claims_t c = base_claims(now);
    c.pod_name = "web";
    c.pod_uid = "pod-1";
    char *tok = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c, &tok), 0);
    vk_pool_t *pool = vk_pool_new();
    vk_http_user_t u = {0};
    char err[256] = "";
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok, NULL, pool, &u, NULL, err, sizeof err), 1);
    CHECK_EQ_STR(u.name, "system:serviceaccount:ns1:builder");
    CHECK_EQ_STR(u.uid, c.sa_uid);
    CHECK_EQ_STR(u.groups[0], "system:serviceaccounts");
    CHECK_EQ_STR(u.groups[1], "system:serviceaccounts:ns1");
    CHECK_EQ_STR(u.groups[2], "system:authenticated");
    CHECK(u.groups[3] == NULL);
    /* A different pod uid in the token: refused. */
    vk_satoken_claims_t c2 = c;
    c2.pod_uid = "pod-2";
    char *tok2 = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c2, &tok2), 0);
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok2, NULL, pool, &u, NULL, err, sizeof err), 0);
    CHECK(strstr(err, "UID") != NULL);
    /* Pod deleted: refused; then the ServiceAccount deleted: refused too. */
    CHECK_EQ_INT(del(&loop, st, "/core/pods/ns1/web"), 0);
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok, NULL, pool, &u, NULL, err, sizeof err), 0);
    CHECK(strstr(err, "pod") != NULL);
    vk_satoken_claims_t c3 = base_claims(now);
    char *tok3 = NULL;
    CHECK_EQ_INT(vk_satoken_issue(s, &c3, &tok3), 0);
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok3, NULL, pool, &u, NULL, err, sizeof err), 1);
    CHECK_EQ_INT(del(&loop, st, "/core/serviceaccounts/ns1/builder"), 0);
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok3, NULL, pool, &u, NULL, err, sizeof err), 0);
    CHECK(strstr(err, "not found") != NULL);
    /* Recreated with a new uid: the old token stays invalid. */
    CHECK_EQ_INT(put(&loop, st, "/core/serviceaccounts/ns1/builder",
                     "{\"metadata\":{\"name\":\"builder\",\"namespace\":\"ns1\","
                     "\"uid\":\"99999999-2222-3333-4444-555555555555\"}}"),
                 0);
    CHECK_EQ_INT(vk_satoken_authenticate(s, st, tok3, NULL, pool, &u, NULL, err, sizeof err), 0);
    vk_pool_free(pool);
    free(tok);
    free(tok2);
    free(tok3);
    vk_satoken_free(s);
    vk_store_close(st, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
    }
}

int main(void)
{
    RUN(issue_and_verify_roundtrip);
    RUN(expiry_and_not_before);
    RUN(audiences);
    RUN(tampered_and_foreign);
    RUN(bad_keys);
    RUN(store_checks);
    TEST_EXIT();
}
