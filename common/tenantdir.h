/* tenantdir: the on-disk layout of one tenant, DIR/NAME/:
 *
 *   store.db            the tenant's object store (store/)
 *   ca.crt, ca.key      the tenant CA (signs serving and client certificates)
 *   serving.crt/.key    the API server's certificate (SANs 127.0.0.1, localhost, ::1, extras)
 *   admin.crt/.key      client certificate CN=admin, O=system:masters
 *   sa.key, sa.pub      service-account token signing key pair (RSA)
 *   tokens.csv          bearer tokens: "token,user,uid,\"group1,group2\"" per line
 *   kubeconfig          context NAME, server https://<listen>, embedded admin credentials
 *   listen              the address the API server listens on ("127.0.0.1:PORT")
 *
 * Keys and the kubeconfig are written 0600, the directory 0700. Called by cli/
 * (`vkube tenant create`, `tenant kubeconfig`, `serve`) and tests. */
#ifndef VK_TENANTDIR_H
#define VK_TENANTDIR_H

#include <stddef.h>

/* Paths of one tenant's files; every string owned, freed by vk_tenantdir_free. */
typedef struct vk_tenantdir {
    char *name;
    char *dir; /* DIR/NAME */
    char *store_db;
    char *ca_crt, *ca_key;
    char *serving_crt, *serving_key;
    char *admin_crt, *admin_key;
    char *sa_key, *sa_pub;
    char *tokens;
    char *kubeconfig;
    char *listen_file;
} vk_tenantdir_t;

/* 1 if name is a valid tenant name (DNS-1123 label: [a-z0-9-], 1..63, starts
 * and ends alphanumeric). */
int vk_tenantdir_valid_name(const char *name);

/* Fills the paths for data_dir/name (does not touch the disk). */
void vk_tenantdir_paths(const char *data_dir, const char *name, vk_tenantdir_t *out);
void vk_tenantdir_free(vk_tenantdir_t *t);

/* 1 if the tenant directory exists with its listen file. */
int vk_tenantdir_exists(const vk_tenantdir_t *t);

/* Creates everything above except store.db (the caller opens the store to
 * create it). listen: "IP:PORT", or NULL to pick a free loopback port now.
 * extra_sans (NULL-terminated, may be NULL) go into the serving certificate.
 * Fails with VK_EEXIST if the tenant exists, VK_EINVALID for a bad name or
 * address; a message in err. On failure nothing is left behind. */
int vk_tenantdir_create(const vk_tenantdir_t *t, const char *listen,
                        const char *const *extra_sans, char *err, size_t errlen);

/* The remembered listen address; caller frees *out. 0 or -errno. */
int vk_tenantdir_listen(const vk_tenantdir_t *t, char **out);

/* A kubeconfig for another user of the tenant (context NAME, the tenant's
 * server address): with as_token 0 a new client certificate CN=user,
 * O=groups signed by the tenant CA is embedded; with as_token 1 a new random
 * bearer token is appended to tokens.csv (a running server picks it up within
 * a second) and embedded. groups: NULL-terminated, may be NULL. Caller frees
 * *out. VK_EINVALID for names with characters the tokens file cannot hold. */
int vk_tenantdir_user_kubeconfig(const vk_tenantdir_t *t, const char *user,
                                 const char *const *groups, int as_token, char **out, char *err,
                                 size_t errlen);

/* Recursively removes the tenant directory (for failed creates and tests). */
int vk_tenantdir_remove(const vk_tenantdir_t *t);

#endif
