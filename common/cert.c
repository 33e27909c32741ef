/* cert: CA, serving and client certificates and the SA key with OpenSSL 3. */
#include "common/cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/mem.h"

void vk_cert_pem_free(vk_cert_pem_t *p)
{
    if (!p) return;
    free(p->cert);
    free(p->key);
    p->cert = p->key = NULL;
}

static char *bio_take(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = vk_xstrndup(n > 0 ? data : "", n > 0 ? (size_t)n : 0);
    BIO_free(b);
    return s;
}

static char *key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(b);
        return NULL;
    }
    return bio_take(b);
}

static char *cert_pem(X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (!PEM_write_bio_X509(b, x)) {
        BIO_free(b);
        return NULL;
    }
    return bio_take(b);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!e) return -1;
    int ok = X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    return ok ? 0 : -1;
}

/* A new certificate for key with a random serial and the validity window. */
static X509 *new_cert(EVP_PKEY *key, int days)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof rnd);
    rnd[0] &= 0x7f; /* positive */
    BIGNUM *bn = BN_bin2bn(rnd, sizeof rnd, NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400L);
    X509_set_pubkey(x, key);
    return x;
}

static int set_name(X509 *x, const char *cn, const char *const *orgs)
{
    X509_NAME *nm = X509_get_subject_name(x);
    for (const char *const *o = orgs; o && *o; o++)
        if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8, (const unsigned char *)*o, -1, -1,
                                        0))
            return -1;
    if (!X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0))
        return -1;
    return 0;
}

int vk_cert_make_ca(const char *cn, int days, vk_cert_pem_t *out)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) return VK_EINTERNAL;
    X509 *x = new_cert(key, days);
    int rc = set_name(x, cn, NULL);
    if (!rc) rc = X509_set_issuer_name(x, X509_get_subject_name(x)) ? 0 : -1;
    if (!rc) rc = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
    if (!rc) rc = add_ext(x, x, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign");
    if (!rc) rc = add_ext(x, x, NID_subject_key_identifier, "hash");
    if (!rc) rc = X509_sign(x, key, EVP_sha256()) > 0 ? 0 : -1;
    if (!rc) {
        out->cert = cert_pem(x);
        out->key = key_pem(key);
        if (!out->cert || !out->key) rc = -1;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    if (rc) {
        vk_cert_pem_free(out);
        ERR_clear_error();
        return VK_EINTERNAL;
    }
    return 0;
}

static int load_ca(const vk_cert_pem_t *ca, X509 **x, EVP_PKEY **k)
{
    BIO *b = BIO_new_mem_buf(ca->cert, -1);
    *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(ca->key, -1);
    *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (!*x || !*k) {
        X509_free(*x);
        EVP_PKEY_free(*k);
        ERR_clear_error();
        return VK_EINVALID;
    }
    return 0;
}

/* Issues a leaf certificate. sans: OpenSSL subjectAltName value or NULL. */
static int issue(const vk_cert_pem_t *ca, const char *cn, const char *const *orgs,
                 const char *eku, const char *sans, int days, vk_cert_pem_t *out)
{
    memset(out, 0, sizeof *out);
    X509 *cax;
    EVP_PKEY *cak;
    int rc = load_ca(ca, &cax, &cak);
    if (rc) return rc;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (!key) {
        X509_free(cax);
        EVP_PKEY_free(cak);
        return VK_EINTERNAL;
    }
    X509 *x = new_cert(key, days);
    rc = set_name(x, cn, orgs);
    if (!rc) rc = X509_set_issuer_name(x, X509_get_subject_name(cax)) ? 0 : -1;
    if (!rc) rc = add_ext(x, cax, NID_basic_constraints, "critical,CA:FALSE");
    if (!rc) rc = add_ext(x, cax, NID_key_usage, "critical,digitalSignature,keyEncipherment");
    if (!rc) rc = add_ext(x, cax, NID_ext_key_usage, eku);
    if (!rc) rc = add_ext(x, cax, NID_authority_key_identifier, "keyid:always");
    if (!rc && sans) rc = add_ext(x, cax, NID_subject_alt_name, sans);
    if (!rc) rc = X509_sign(x, cak, EVP_sha256()) > 0 ? 0 : -1;
    if (!rc) {
        out->cert = cert_pem(x);
        out->key = key_pem(key);
        if (!out->cert || !out->key) rc = -1;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    X509_free(cax);
    EVP_PKEY_free(cak);
    if (rc) {
        vk_cert_pem_free(out);
        ERR_clear_error();
        return VK_EINTERNAL;
    }
    return 0;
}

static int is_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int vk_cert_make_serving(const vk_cert_pem_t *ca, const char *cn, const char *const *extra_sans,
                         int days, vk_cert_pem_t *out)
{
    char *sans = vk_xstrdup("IP:127.0.0.1,DNS:localhost,IP:::1");
    for (const char *const *s = extra_sans; s && *s; s++) {
        if (!**s || strpbrk(*s, ", ")) {
            free(sans);
            return VK_EINVALID;
        }
        char *n = vk_xasprintf("%s,%s:%s", sans, is_ip(*s) ? "IP" : "DNS", *s);
        free(sans);
        sans = n;
    }
    int rc = issue(ca, cn, NULL, "serverAuth", sans, days, out);
    free(sans);
    return rc;
}

int vk_cert_make_client(const vk_cert_pem_t *ca, const char *user, const char *const *groups,
                        int days, vk_cert_pem_t *out)
{
    return issue(ca, user, groups, "clientAuth", NULL, days, out);
}

int vk_cert_make_sa_key(vk_cert_pem_t *out)
{
    memset(out, 0, sizeof *out);
    EVP_PKEY *key = EVP_RSA_gen(2048);
    if (!key) return VK_EINTERNAL;
    out->key = key_pem(key);
    BIO *b = BIO_new(BIO_s_mem());
    if (PEM_write_bio_PUBKEY(b, key))
        out->cert = bio_take(b);
    else
        BIO_free(b);
    EVP_PKEY_free(key);
    if (!out->key || !out->cert) {
        vk_cert_pem_free(out);
        ERR_clear_error();
        return VK_EINTERNAL;
    }
    return 0;
}

int vk_cert_write_file(const char *path, const char *data, int mode)
{
    char *tmp = vk_xasprintf("%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return -e;
    }
    fchmod(fd, (mode_t)mode);
    size_t len = strlen(data), off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            free(tmp);
            return -e;
        }
        off += (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return -e;
    }
    free(tmp);
    return 0;
}

int vk_cert_read_file(const char *path, char **out, size_t *len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return -errno;
    size_t cap = 4096, n = 0;
    char *buf = vk_xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) buf = vk_xrealloc(buf, cap *= 2);
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}
