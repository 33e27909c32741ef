/* satoken: service-account tokens. Signs and verifies RS256 JWTs with the
 * tenant's sa.key, with the claims kube-apiserver puts in them (iss, sub
 * "system:serviceaccount:NS:NAME", aud, exp/iat/nbf, jti and the
 * "kubernetes.io" private claim {namespace, serviceaccount{name,uid},
 * pod|secret|node{name,uid}}), and checks that the objects a token names still
 * exist in the store with the same uid. Also the REST handlers of
 * serviceaccounts/NAME/token (TokenRequest) and tokenreviews.
 *
 * Called by proxy/apiserver.c (bearer-token authentication), proxy/rest.c
 * (the two handlers) and syncer/ (vk_satoken_issue for projected pod tokens),
 * on the tenant's loop thread (a vk_satoken_t is read-only after creation). */
#ifndef VK_SATOKEN_H
#define VK_SATOKEN_H

#include <jansson.h>
#include <stdint.h>

#include "common/mem.h"
#include "proxy/http.h"
#include "store/store.h"

/* The issuer (and default audience) kube-apiserver uses in a stock cluster. */
#define VK_SATOKEN_ISSUER "https://kubernetes.default.svc.cluster.local"

typedef struct vk_satoken vk_satoken_t;

/* A signer/verifier from a PEM private key (RSA) in a file or in memory.
 * issuer NULL means VK_SATOKEN_ISSUER. 0 and *out (free with vk_satoken_free),
 * VK_EIO (file unreadable) or VK_EINVALID (not an RSA private key). */
int vk_satoken_new(const char *key_file, const char *issuer, vk_satoken_t **out);
int vk_satoken_new_pem(const char *pem, const char *issuer, vk_satoken_t **out);
void vk_satoken_free(vk_satoken_t *s);
/* The issuer (borrowed). */
const char *vk_satoken_issuer(const vk_satoken_t *s);

/* What a token says. Every string is borrowed (issue) or pool memory (verify). */
typedef struct vk_satoken_claims {
    const char *namespace_;
    const char *sa_name, *sa_uid;
    const char *pod_name, *pod_uid;       /* NULL: not bound to a pod */
    const char *secret_name, *secret_uid; /* NULL: not bound to a secret */
    const char *node_name, *node_uid;     /* NULL: not bound to a node */
    const char *const *audiences;         /* NULL-terminated; NULL or empty: the issuer */
    int64_t iat;                          /* issued at, Unix seconds (also nbf) */
    int64_t exp;                          /* expires at, Unix seconds */
} vk_satoken_claims_t;

/* Signs a token with the claims in c (namespace_, sa_name, sa_uid, exp
 * required). 0 and *token (caller frees), or VK_EINVALID / VK_EINTERNAL. */
int vk_satoken_issue(const vk_satoken_t *s, const vk_satoken_claims_t *c, char **token);

/* Checks the signature, issuer, time (now, with kube-apiserver's 60 s leeway)
 * and that aud has one of audiences (NULL: the issuer). 0 and *out (strings
 * and out->audiences from pool), or VK_EUNAUTHORIZED with a reason in err. */
int vk_satoken_verify(const vk_satoken_t *s, const char *token, const char *const *audiences,
                      int64_t now, vk_pool_t *pool, vk_satoken_claims_t *out, char *err,
                      size_t errlen);

/* Checks that the ServiceAccount (and the bound pod/secret/node) of c still
 * exist in store with the uids the token names. 0 or VK_EUNAUTHORIZED (err). */
int vk_satoken_check_objects(vk_store_t *store, const vk_satoken_claims_t *c, char *err,
                             size_t errlen);

/* verify + check_objects, then fills *user (pool strings): name
 * system:serviceaccount:NS:NAME, uid, groups system:serviceaccounts,
 * system:serviceaccounts:NS, system:authenticated. 1 if valid, else 0 (err set).
 * *aud_out (may be NULL) gets the token's audiences that matched. */
int vk_satoken_authenticate(const vk_satoken_t *s, vk_store_t *store, const char *token,
                            const char *const *audiences, vk_pool_t *pool, vk_http_user_t *user,
                            const char ***aud_out, char *err, size_t errlen);

struct vk_rest_call;
/* POST .../serviceaccounts/NAME/token with a TokenRequest (obj taken): answers
 * 201 with status.token and status.expirationTimestamp, or an error Status. */
void vk_satoken_token_request(struct vk_rest_call *c, json_t *obj);
/* POST tokenreviews (obj taken): answers 201 with status.authenticated/user/audiences. */
void vk_satoken_token_review(struct vk_rest_call *c, json_t *obj);

#endif
