/* satoken: service-account JWTs (RS256) signed with the tenant's sa.key, their
 * verification against the store, and the TokenRequest/TokenReview handlers. */
#include "satoken.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "proxy/rest.h"
#include "proxy/status.h"

#define LEEWAY 60 /* seconds, as go-jose's DefaultLeeway used by kube-apiserver */
#define DEFAULT_EXPIRATION 3600
#define MIN_EXPIRATION 600
#define MAX_EXPIRATION 4294967296LL /* 2^32 */

struct vk_satoken {
    EVP_PKEY *key; /* owned; private and public halves */
    char *issuer;  /* owned */
    char *kid;     /* owned: base64url(sha256(DER public key)), as kube-apiserver */
};

/* ------------------------------------------------------------------ base64url */

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of len bytes. Caller frees. */
static char *b64url_encode(const unsigned char *in, size_t len)
{
    char *out = vk_xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        out[o++] = b64u[v >> 6 & 63];
        out[o++] = b64u[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = b64u[v >> 18 & 63];
        out[o++] = b64u[v >> 12 & 63];
        out[o++] = b64u[v >> 6 & 63];
    }
    out[o] = 0;
    return out;
}

static int b64u_val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Decodes n chars of unpadded base64url. Caller frees *out (NUL-terminated). 0 or -1. */
static int b64url_decode(const char *in, size_t n, unsigned char **out, size_t *outlen)
{
    if (n % 4 == 1) return -1;
    unsigned char *b = vk_xmalloc(n / 4 * 3 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64u_val(in[i]);
        if (v < 0) {
            free(b);
            return -1;
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    /* Leftover bits must be zero (canonical encoding). */
    if (bits && (acc & ((1u << bits) - 1))) {
        free(b);
        return -1;
    }
    b[o] = 0;
    *out = b;
    *outlen = o;
    return 0;
}

/* ------------------------------------------------------------------- signer */

static int finish_new(EVP_PKEY *key, const char *issuer, vk_satoken_t **out)
{
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        return VK_EINVALID;
    }
    vk_satoken_t *s = vk_xcalloc(1, sizeof *s);
    s->key = key;
    s->issuer = vk_xstrdup(issuer ? issuer : VK_SATOKEN_ISSUER);
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (n <= 0 || !EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL)) {
        OPENSSL_free(der);
        vk_satoken_free(s);
        ERR_clear_error();
        return VK_EINTERNAL;
    }
    OPENSSL_free(der);
    s->kid = b64url_encode(md, mdlen);
    *out = s;
    return 0;
}

int vk_satoken_new_pem(const char *pem, const char *issuer, vk_satoken_t **out)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    if (!b) return VK_EINTERNAL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    return finish_new(key, issuer, out);
}

int vk_satoken_new(const char *key_file, const char *issuer, vk_satoken_t **out)
{
    FILE *f = key_file ? fopen(key_file, "rb") : NULL;
    if (!f) return VK_EIO;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return finish_new(key, issuer, out);
}

void vk_satoken_free(vk_satoken_t *s)
{
    if (!s) return;
    EVP_PKEY_free(s->key);
    free(s->issuer);
    free(s->kid);
    free(s);
}

const char *vk_satoken_issuer(const vk_satoken_t *s)
{
    return s->issuer;
}

static json_t *name_uid(const char *name, const char *uid)
{
    return json_pack("{s:s,s:s}", "name", name, "uid", uid ? uid : "");
}

static void new_jti(char out[37])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) memset(r, 0, sizeof r);
    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

int vk_satoken_issue(const vk_satoken_t *s, const vk_satoken_claims_t *c, char **token)
{
    if (!c->namespace_ || !c->sa_name || !c->sa_uid || c->exp <= 0) return VK_EINVALID;
    json_t *aud = json_array();
    for (size_t i = 0; c->audiences && c->audiences[i]; i++)
        json_array_append_new(aud, json_string(c->audiences[i]));
    if (!json_array_size(aud)) json_array_append_new(aud, json_string(s->issuer));
    json_t *k8s = json_pack("{s:s,s:o}", "namespace", c->namespace_, "serviceaccount",
                            name_uid(c->sa_name, c->sa_uid));
    if (c->pod_name) json_object_set_new(k8s, "pod", name_uid(c->pod_name, c->pod_uid));
    if (c->secret_name)
        json_object_set_new(k8s, "secret", name_uid(c->secret_name, c->secret_uid));
    if (c->node_name) json_object_set_new(k8s, "node", name_uid(c->node_name, c->node_uid));
    char jti[37];
    new_jti(jti);
    char *sub = vk_xasprintf("system:serviceaccount:%s:%s", c->namespace_, c->sa_name);
    json_t *claims = json_pack("{s:o,s:I,s:I,s:s,s:s,s:o,s:I,s:s}", "aud", aud, "exp",
                               (json_int_t)c->exp, "iat", (json_int_t)c->iat, "iss", s->issuer,
                               "jti", jti, "kubernetes.io", k8s, "nbf", (json_int_t)c->iat, "sub",
                               sub);
    free(sub);
    json_t *hdr = json_pack("{s:s,s:s}", "alg", "RS256", "kid", s->kid);
    char *hj = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *cj = json_dumps(claims, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    json_decref(claims);
    char *h64 = b64url_encode((unsigned char *)hj, strlen(hj));
    char *c64 = b64url_encode((unsigned char *)cj, strlen(cj));
    free(hj);
    free(cj);
    char *input = vk_xasprintf("%s.%s", h64, c64);
    free(h64);
    free(c64);
    int rc = VK_EINTERNAL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 0;
    unsigned char *sig = NULL;
    if (md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, s->key) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (unsigned char *)input, strlen(input)) == 1) {
        sig = vk_xmalloc(siglen);
        if (EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)) == 1) {
            char *s64 = b64url_encode(sig, siglen);
            *token = vk_xasprintf("%s.%s", input, s64);
            free(s64);
            rc = 0;
        }
    }
    EVP_MD_CTX_free(md);
    free(sig);
    free(input);
    if (rc) ERR_clear_error();
    return rc;
}

/* ----------------------------------------------------------------- verifier */

static int fail(char *err, size_t n, const char *msg)
{
    if (err && n) snprintf(err, n, "%s", msg);
    return VK_EUNAUTHORIZED;
}

static const char *pstr(vk_pool_t *pool, const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? vk_pool_strdup(pool, v) : NULL;
}

static int aud_wanted(const char *a, const char *const *want, const char *issuer)
{
    if (!want || !want[0]) return !strcmp(a, issuer);
    for (size_t i = 0; want[i]; i++)
        if (!strcmp(a, want[i])) return 1;
    return 0;
}

int vk_satoken_verify(const vk_satoken_t *s, const char *token, const char *const *audiences,
                      int64_t now, vk_pool_t *pool, vk_satoken_claims_t *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) return fail(err, errlen, "token is not a JWT");
    unsigned char *hdr = NULL, *body = NULL, *sig = NULL;
    size_t hl, bl, sl;
    json_t *h = NULL, *cl = NULL;
    int rc = VK_EUNAUTHORIZED;
    if (b64url_decode(token, (size_t)(d1 - token), &hdr, &hl) ||
        b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &body, &bl) ||
        b64url_decode(d2 + 1, strlen(d2 + 1), &sig, &sl)) {
        fail(err, errlen, "token is not valid base64url");
        goto out;
    }
    h = json_loadb((char *)hdr, hl, 0, NULL);
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (!alg || strcmp(alg, "RS256")) {
        fail(err, errlen, "token is not an RS256 JWT");
        goto out;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, s->key) == 1 &&
             EVP_DigestVerify(md, sig, sl, (const unsigned char *)token, (size_t)(d2 - token)) == 1;
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    if (!ok) {
        fail(err, errlen, "invalid bearer token, signature does not verify");
        goto out;
    }
    cl = json_loadb((char *)body, bl, 0, NULL);
    if (!json_is_object(cl)) {
        fail(err, errlen, "token claims are not a JSON object");
        goto out;
    }
    const char *iss = json_string_value(json_object_get(cl, "iss"));
    if (!iss || strcmp(iss, s->issuer)) {
        fail(err, errlen, "token has an unknown issuer");
        goto out;
    }
    json_t *exp = json_object_get(cl, "exp"), *nbf = json_object_get(cl, "nbf");
    json_t *iat = json_object_get(cl, "iat");
    if (!json_is_integer(exp)) {
        fail(err, errlen, "token has no expiry");
        goto out;
    }
    if (now > json_integer_value(exp) + LEEWAY) {
        fail(err, errlen, "token has expired");
        goto out;
    }
    if (json_is_integer(nbf) && now + LEEWAY < json_integer_value(nbf)) {
        fail(err, errlen, "token is not valid yet");
        goto out;
    }
    if (json_is_integer(iat) && now + LEEWAY < json_integer_value(iat)) {
        fail(err, errlen, "token issued in the future");
        goto out;
    }
    json_t *aud = json_object_get(cl, "aud");
    size_t na = json_is_array(aud) ? json_array_size(aud) : json_is_string(aud) ? 1 : 0;
    const char **matched = vk_pool_alloc(pool, (na + 1) * sizeof *matched);
    size_t nm = 0;
    for (size_t i = 0; i < na; i++) {
        const char *a = json_string_value(json_is_array(aud) ? json_array_get(aud, i) : aud);
        if (a && aud_wanted(a, audiences, s->issuer)) matched[nm++] = vk_pool_strdup(pool, a);
    }
    if (!nm) {
        fail(err, errlen, "token audiences is invalid for the target audiences");
        goto out;
    }
    json_t *k = json_object_get(cl, "kubernetes.io");
    json_t *sa = json_object_get(k, "serviceaccount");
    out->namespace_ = pstr(pool, k, "namespace");
    out->sa_name = pstr(pool, sa, "name");
    out->sa_uid = pstr(pool, sa, "uid");
    json_t *pod = json_object_get(k, "pod"), *sec = json_object_get(k, "secret");
    json_t *node = json_object_get(k, "node");
    if (pod) out->pod_name = pstr(pool, pod, "name"), out->pod_uid = pstr(pool, pod, "uid");
    if (sec) out->secret_name = pstr(pool, sec, "name"), out->secret_uid = pstr(pool, sec, "uid");
    if (node) out->node_name = pstr(pool, node, "name"), out->node_uid = pstr(pool, node, "uid");
    out->audiences = matched;
    out->exp = json_integer_value(exp);
    out->iat = json_is_integer(iat) ? json_integer_value(iat) : 0;
    const char *sub = json_string_value(json_object_get(cl, "sub"));
    if (!out->namespace_ || !out->sa_name || !out->sa_uid || !sub ||
        (pod && !out->pod_name) || (sec && !out->secret_name) || (node && !out->node_name)) {
        fail(err, errlen, "token lacks the kubernetes.io service account claims");
        goto out;
    }
    char want[640];
    snprintf(want, sizeof want, "system:serviceaccount:%s:%s", out->namespace_, out->sa_name);
    if (strcmp(sub, want)) {
        fail(err, errlen, "token subject does not match its service account claims");
        goto out;
    }
    rc = 0;
out:
    json_decref(h);
    json_decref(cl);
    free(hdr);
    free(body);
    free(sig);
    return rc;
}

/* 0 if key exists with metadata.uid == uid (and is not being deleted when
 * strict), else VK_EUNAUTHORIZED with err. */
static int check_one(vk_store_t *store, const char *key, const char *what, const char *name,
                     const char *uid, char *err, size_t errlen)
{
    vk_kv_t *kv;
    if (vk_store_get(store, key, &kv)) {
        if (err && errlen) snprintf(err, errlen, "%s \"%s\" not found", what, name);
        return VK_EUNAUTHORIZED;
    }
    json_t *o = vk_rest_decode(kv);
    vk_kv_unref(kv);
    json_t *md = json_object_get(o, "metadata");
    const char *u = json_string_value(json_object_get(md, "uid"));
    int same = u && uid && !strcmp(u, uid);
    int deleting = json_object_get(md, "deletionTimestamp") &&
                   !json_is_null(json_object_get(md, "deletionTimestamp"));
    if (!same && err && errlen)
        snprintf(err, errlen, "%s UID (%s) does not match claim (%s)", what, u ? u : "",
                 uid ? uid : "");
    json_decref(o); /* u points into o */
    if (!same) return VK_EUNAUTHORIZED;
    if (deleting && strcmp(what, "pod")) {
        if (err && errlen) snprintf(err, errlen, "%s \"%s\" is being deleted", what, name);
        return VK_EUNAUTHORIZED;
    }
    return 0;
}

int vk_satoken_check_objects(vk_store_t *store, const vk_satoken_claims_t *c, char *err,
                             size_t errlen)
{
    char *k = vk_xasprintf("/core/serviceaccounts/%s/%s", c->namespace_, c->sa_name);
    int rc = check_one(store, k, "service account", c->sa_name, c->sa_uid, err, errlen);
    free(k);
    if (!rc && c->pod_name) {
        k = vk_xasprintf("/core/pods/%s/%s", c->namespace_, c->pod_name);
        rc = check_one(store, k, "pod", c->pod_name, c->pod_uid, err, errlen);
        free(k);
    }
    if (!rc && c->secret_name) {
        k = vk_xasprintf("/core/secrets/%s/%s", c->namespace_, c->secret_name);
        rc = check_one(store, k, "secret", c->secret_name, c->secret_uid, err, errlen);
        free(k);
    }
    if (!rc && c->node_name) {
        k = vk_xasprintf("/core/nodes/%s", c->node_name);
        rc = check_one(store, k, "node", c->node_name, c->node_uid, err, errlen);
        free(k);
    }
    return rc;
}

int vk_satoken_authenticate(const vk_satoken_t *s, vk_store_t *store, const char *token,
                            const char *const *audiences, vk_pool_t *pool, vk_http_user_t *user,
                            const char ***aud_out, char *err, size_t errlen)
{
    vk_satoken_claims_t c;
    if (!s) return fail(err, errlen, "service account tokens are not configured"), 0;
    if (vk_satoken_verify(s, token, audiences, (int64_t)time(NULL), pool, &c, err, errlen))
        return 0;
    if (vk_satoken_check_objects(store, &c, err, errlen)) return 0;
    const char **g = vk_pool_alloc(pool, 4 * sizeof *g);
    g[0] = "system:serviceaccounts";
    char *nsg = vk_pool_alloc(pool, strlen(c.namespace_) + 24);
    sprintf(nsg, "system:serviceaccounts:%s", c.namespace_);
    g[1] = nsg;
    g[2] = "system:authenticated";
    char *name = vk_pool_alloc(pool, strlen(c.namespace_) + strlen(c.sa_name) + 24);
    sprintf(name, "system:serviceaccount:%s:%s", c.namespace_, c.sa_name);
    user->name = name;
    user->uid = c.sa_uid;
    user->groups = g;
    user->authenticated = 1;
    if (aud_out) *aud_out = (const char **)c.audiences;
    return 1;
}

/* ------------------------------------------------------------ REST handlers */

static void reply_invalid(vk_rest_call_t *c, const char *kind, const char *name,
                          const char *field, const char *detail)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s.authentication.k8s.io \"%s\" is invalid: %s: %s", kind, name,
             field, detail);
    json_t *st = vk_status_new(422, "Invalid", msg, NULL, name);
    json_t *d = json_object_get(st, "details");
    if (!d) json_object_set_new(st, "details", d = json_object());
    json_object_set_new(d, "name", json_string(name));
    json_object_set_new(d, "group", json_string("authentication.k8s.io"));
    json_object_set_new(d, "kind", json_string(kind));
    json_object_set_new(d, "causes", json_pack("[{s:s,s:s,s:s}]", "reason", "FieldValueInvalid",
                                               "message", detail, "field", field));
    vk_rest_reply_status(c, st);
}

/* The object at key decoded, or NULL. */
static json_t *load(vk_store_t *store, const char *key)
{
    vk_kv_t *kv;
    if (vk_store_get(store, key, &kv)) return NULL;
    json_t *o = vk_rest_decode(kv);
    vk_kv_unref(kv);
    return o;
}

static const char *uid_of(const json_t *o)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));
}

void vk_satoken_token_request(vk_rest_call_t *c, json_t *obj)
{
    vk_pool_t *pool = c->req->pool;
    const vk_satoken_t *s = c->ctx->satoken;
    if (!s) {
        json_decref(obj);
        vk_rest_reply_err(c, VK_ENOTIMPL, "service account token signing is not configured "
                                          "on this server (no service account key)");
        return;
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && *kind && strcmp(kind, "TokenRequest")) {
        char m[256];
        snprintf(m, sizeof m, "the kind of the provided object (%s) does not match the expected "
                 "kind (TokenRequest)", kind);
        json_decref(obj);
        vk_rest_reply_err(c, VK_EBADREQUEST, m);
        return;
    }
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) json_object_set_new(obj, "spec", spec = json_object());
    json_t *es = json_object_get(spec, "expirationSeconds");
    int64_t secs = json_is_integer(es) ? json_integer_value(es) : DEFAULT_EXPIRATION;
    char detail[128];
    if (secs < MIN_EXPIRATION || secs > MAX_EXPIRATION) {
        snprintf(detail, sizeof detail, "Invalid value: %lld: may not specify a duration %s",
                 (long long)secs,
                 secs < MIN_EXPIRATION ? "less than 10 minutes" : "larger than 2^32 seconds");
        json_decref(obj);
        reply_invalid(c, "TokenRequest", c->name, "spec.expirationSeconds", detail);
        return;
    }
    char *key = vk_xasprintf("/core/serviceaccounts/%s/%s", c->ns, c->name);
    json_t *sa = load(c->ctx->store, key);
    free(key);
    if (!sa) {
        json_decref(obj);
        char m[512];
        snprintf(m, sizeof m, "serviceaccounts \"%s\" not found", c->name);
        json_t *st = vk_status_new(404, "NotFound", m, NULL, c->name);
        json_t *d = json_object_get(st, "details");
        if (!d) json_object_set_new(st, "details", d = json_object());
        json_object_set_new(d, "name", json_string(c->name));
        json_object_set_new(d, "kind", json_string("serviceaccounts"));
        vk_rest_reply_status(c, st);
        return;
    }
    vk_satoken_claims_t cl = {0};
    cl.namespace_ = c->ns;
    cl.sa_name = c->name;
    cl.sa_uid = vk_pool_strdup(pool, uid_of(sa) ? uid_of(sa) : "");
    json_decref(sa);
    /* boundObjectRef: Pod, Secret or Node that must exist (with the uid if given). */
    json_t *ref = json_object_get(spec, "boundObjectRef");
    if (json_is_object(ref)) {
        const char *rk = json_string_value(json_object_get(ref, "kind"));
        const char *rn = json_string_value(json_object_get(ref, "name"));
        const char *ru = json_string_value(json_object_get(ref, "uid"));
        const char *rav = json_string_value(json_object_get(ref, "apiVersion"));
        char *okey = NULL;
        if (rk && rn && (!rav || !*rav || !strcmp(rav, "v1"))) {
            if (!strcmp(rk, "Pod")) okey = vk_xasprintf("/core/pods/%s/%s", c->ns, rn);
            if (!strcmp(rk, "Secret")) okey = vk_xasprintf("/core/secrets/%s/%s", c->ns, rn);
            if (!strcmp(rk, "Node")) okey = vk_xasprintf("/core/nodes/%s", rn);
        }
        if (!okey) {
            /* As upstream: "cannot bind token to object of type /v1, Kind=ConfigMap". */
            char m[512];
            const char *sl = rav ? strchr(rav, '/') : NULL;
            snprintf(m, sizeof m, "cannot bind token to object of type %s%s, Kind=%s",
                     sl ? "" : "/", rav ? rav : "", rk ? rk : "");
            json_decref(obj);
            vk_rest_reply_err(c, VK_EBADREQUEST, m);
            return;
        }
        json_t *o = load(c->ctx->store, okey);
        free(okey);
        const char *ou = o ? uid_of(o) : NULL;
        if (!o || (ru && *ru && (!ou || strcmp(ru, ou)))) {
            char m[512];
            if (!o)
                snprintf(m, sizeof m, "%ss \"%s\" not found", rk, rn);
            else
                snprintf(m, sizeof m, "Operation cannot be fulfilled on %s \"%s\": the UID in "
                         "the bound object reference (%s) does not match the UID in record. The "
                         "object might have been deleted and then recreated", rk, rn, ru);
            for (char *p = m; o == NULL && *p && *p != ' '; p++)
                if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
            json_decref(o);
            json_decref(obj);
            vk_rest_reply_status(c, vk_status_new(o ? 409 : 404, o ? "Conflict" : "NotFound", m,
                                                  NULL, rn));
            return;
        }
        const char *bu = vk_pool_strdup(pool, ou ? ou : "");
        const char *bn = vk_pool_strdup(pool, rn);
        json_object_set_new(ref, "uid", json_string(bu));
        if (!rav) json_object_set_new(ref, "apiVersion", json_string("v1"));
        json_decref(o);
        if (!strcmp(rk, "Pod")) cl.pod_name = bn, cl.pod_uid = bu;
        if (!strcmp(rk, "Secret")) cl.secret_name = bn, cl.secret_uid = bu;
        if (!strcmp(rk, "Node")) cl.node_name = bn, cl.node_uid = bu;
    }
    json_t *aud = json_object_get(spec, "audiences");
    size_t na = json_is_array(aud) ? json_array_size(aud) : 0;
    const char **av = vk_pool_alloc(pool, (na + 2) * sizeof *av);
    size_t k = 0;
    for (size_t i = 0; i < na; i++) {
        const char *a = json_string_value(json_array_get(aud, i));
        if (a && *a) av[k++] = vk_pool_strdup(pool, a);
    }
    if (!k) av[k++] = s->issuer;
    cl.audiences = av;
    cl.iat = (int64_t)time(NULL);
    cl.exp = cl.iat + secs;
    char *tok;
    int rc = vk_satoken_issue(s, &cl, &tok);
    if (rc) {
        json_decref(obj);
        vk_rest_reply_err(c, rc, "could not sign the service account token");
        return;
    }
    json_t *ja = json_array();
    for (size_t i = 0; i < k; i++) json_array_append_new(ja, json_string(av[i]));
    json_object_set_new(spec, "audiences", ja);
    json_object_set_new(spec, "expirationSeconds", json_integer(secs));
    if (!json_object_get(spec, "boundObjectRef")) json_object_set_new(spec, "boundObjectRef",
                                                                      json_null());
    char ts[32];
    time_t e = (time_t)cl.exp;
    struct tm tm;
    gmtime_r(&e, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(obj, "apiVersion", json_string("authentication.k8s.io/v1"));
    json_object_set_new(obj, "kind", json_string("TokenRequest"));
    json_object_set_new(obj, "metadata",
                        json_pack("{s:s,s:s,s:n}", "name", c->name, "namespace", c->ns,
                                  "creationTimestamp"));
    json_object_set_new(obj, "status",
                        json_pack("{s:s,s:s}", "token", tok, "expirationTimestamp", ts));
    free(tok);
    vk_rest_reply(c, 201, obj);
}

void vk_satoken_token_review(vk_rest_call_t *c, json_t *obj)
{
    vk_pool_t *pool = c->req->pool;
    json_t *spec = json_object_get(obj, "spec");
    const char *token = json_string_value(json_object_get(spec, "token"));
    json_t *aud = json_object_get(spec, "audiences");
    size_t na = json_is_array(aud) ? json_array_size(aud) : 0;
    const char **want = vk_pool_alloc(pool, (na + 1) * sizeof *want);
    for (size_t i = 0, k = 0; i < na; i++)
        if (json_string_value(json_array_get(aud, i)))
            want[k++] = vk_pool_strdup(pool, json_string_value(json_array_get(aud, i)));
    json_object_set_new(obj, "apiVersion", json_string("authentication.k8s.io/v1"));
    json_object_set_new(obj, "kind", json_string("TokenReview"));
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) json_object_set_new(obj, "metadata", md = json_object());
    json_object_set_new(md, "creationTimestamp", json_null());
    json_t *st = json_object();
    char err[512] = "";
    vk_http_user_t u = {0};
    const char **got = NULL;
    int ok = token && *token &&
             vk_satoken_authenticate(c->ctx->satoken, c->ctx->store, token, want, pool, &u,
                                     &got, err, sizeof err);
    json_object_set_new(st, "authenticated", json_boolean(ok));
    if (ok) {
        json_t *g = json_array();
        for (size_t i = 0; u.groups[i]; i++) json_array_append_new(g, json_string(u.groups[i]));
        json_object_set_new(st, "user", json_pack("{s:s,s:s,s:o}", "username", u.name, "uid",
                                                  u.uid, "groups", g));
        json_t *ga = json_array();
        for (size_t i = 0; got && got[i]; i++) json_array_append_new(ga, json_string(got[i]));
        json_object_set_new(st, "audiences", ga);
    } else {
        json_object_set_new(st, "user", json_object());
        if (token && *token && err[0]) json_object_set_new(st, "error", json_string(err));
    }
    json_object_set_new(obj, "status", st);
    vk_rest_reply(c, 201, obj);
}
