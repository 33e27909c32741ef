/* apiserver: the tenant's Kubernetes API (the REST layer). Given a store, it
 * serves /version, health, /metrics, discovery, OpenAPI and every resource in
 * the resource table (get/list/watch/create/update/patch/delete/deletecollection)
 * with authorization (system:masters, else RBAC objects stored in the tenant).
 *
 * Called by cli/ (`vkube serve`): the server's handler and token callbacks are
 * given to vk_http_server_start. Runs on the tenant's loop thread. */
#ifndef VK_APISERVER_H
#define VK_APISERVER_H

#include <jansson.h>
#include <uv.h>

#include "proxy/http.h"
#include "store/store.h"

typedef struct vk_apiserver vk_apiserver_t;

typedef struct vk_apiserver_config {
    const char *tenant;              /* tenant name */
    const char *ca_cert_file;        /* the tenant CA (PEM): kube-root-ca.crt content */
    const char *sa_key_file;         /* private key (PEM) signing service-account tokens */
    const char *external_address;    /* "host:port" clients use (for Endpoints of "kubernetes") */
    const json_t *quota;             /* the Tenant manifest's spec.quota (resource -> quantity),
                                        borrowed, NULL: none; enforced over all namespaces
                                        (proxy/quota.h) */
    const char *pod_security;        /* Pod Security floor of every namespace: "baseline" (NULL)
                                        or "restricted"; a namespace label may only raise it */
    /* Relays GET pods/NAME/log to the host pod (the syncer's relay); it must
     * answer req. NULL: logs answer "not available without a host". */
    void (*pod_log)(void *arg, vk_http_req_t *req, const char *ns, const char *name);
    void *pod_log_arg;
    /* Relays pods/NAME/exec, attach and portforward (sub) upgrade requests to
     * the host pod (the syncer's relay); called after RBAC allowed `create` on
     * pods/<sub> and the tenant pod was found; it must answer req. NULL: those
     * answer "not available without a host". */
    void (*pod_stream)(void *arg, vk_http_req_t *req, const char *sub, const char *ns,
                       const char *name);
    void *pod_stream_arg;
} vk_apiserver_config_t;

/* Creates the API layer over an open store (borrowed; must outlive it) and
 * makes sure the built-in namespaces and objects exist. 0 or an error. */
int vk_apiserver_new(uv_loop_t *loop, vk_store_t *store, const vk_apiserver_config_t *cfg,
                     vk_apiserver_t **out);
/* The vk_http_handler_cb: ctx is the vk_apiserver_t. */
void vk_apiserver_handle(void *ctx, vk_http_req_t *req);
/* The vk_http_token_cb for service-account tokens: ctx is the vk_apiserver_t. */
int vk_apiserver_authenticate_token(void *ctx, const char *token, vk_pool_t *pool,
                                    vk_http_user_t *user);
/* 1 once start-up work is done (for /readyz). */
int vk_apiserver_ready(const vk_apiserver_t *api);
/* Ends watches and frees the API layer (the store stays open). */
void vk_apiserver_free(vk_apiserver_t *api);

#endif
