/* cert: X.509 material for a tenant, made with OpenSSL. A self-signed CA, a
 * serving certificate (SANs 127.0.0.1, localhost, ::1 plus extra names),
 * client certificates (CN = user, O = groups) and the service-account signing
 * key pair, all as PEM text; plus small file helpers that write secrets 0600.
 *
 * Called by common/tenantdir (`vkube tenant create`) and by tests that need
 * certificates. Keys are ECDSA P-256 for certificates and RSA 2048 for the
 * service-account key (RS256, as kube-apiserver uses). */
#ifndef VK_CERT_H
#define VK_CERT_H

#include <stddef.h>

/* A certificate and its private key as PEM text; both owned, freed with
 * vk_cert_pem_free. */
typedef struct vk_cert_pem {
    char *cert; /* "-----BEGIN CERTIFICATE-----..." */
    char *key;  /* "-----BEGIN PRIVATE KEY-----..." (PKCS#8) */
} vk_cert_pem_t;

void vk_cert_pem_free(vk_cert_pem_t *p);

/* Self-signed CA with common name cn, valid for days. 0 or VK_EINTERNAL. */
int vk_cert_make_ca(const char *cn, int days, vk_cert_pem_t *out);

/* Serving certificate signed by ca: CN cn, SANs 127.0.0.1, localhost, ::1 and
 * every entry of extra_sans (NULL-terminated, may be NULL; IP literals become
 * IP SANs, everything else DNS). 0, VK_EINVALID (bad CA PEM) or VK_EINTERNAL. */
int vk_cert_make_serving(const vk_cert_pem_t *ca, const char *cn, const char *const *extra_sans,
                         int days, vk_cert_pem_t *out);

/* Client certificate signed by ca: CN = user, one O per entry of groups
 * (NULL-terminated, may be NULL). 0, VK_EINVALID or VK_EINTERNAL. */
int vk_cert_make_client(const vk_cert_pem_t *ca, const char *user, const char *const *groups,
                        int days, vk_cert_pem_t *out);

/* RSA 2048 key pair for signing service-account tokens: out->key is the
 * private key (PKCS#8 PEM), out->cert the public key ("PUBLIC KEY" PEM). */
int vk_cert_make_sa_key(vk_cert_pem_t *out);

/* Writes data to path atomically (temp file + rename) with the given mode
 * (0600 for keys). 0 or -errno. */
int vk_cert_write_file(const char *path, const char *data, int mode);

/* Reads a whole file; *out is NUL-terminated, caller frees with free().
 * len may be NULL. 0 or -errno. */
int vk_cert_read_file(const char *path, char **out, size_t *len);

#endif
