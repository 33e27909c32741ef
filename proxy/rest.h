/* rest: the generic REST code over the store, with kube-apiserver semantics
 * (API-NOTES.md "Writes" and "Reads"): get, list, create, update, patch,
 * delete, deletecollection for every row of the resource table, the status
 * and scale subresources, pods/log (an error until a host relays it), the
 * access reviews, built-in objects every namespace gets, and namespace
 * finalization. One call struct per request carries everything a handler needs.
 *
 * Called by proxy/apiserver.c (routing has resolved the resource and verb) and
 * proxy/watch.c (decoding and filtering), on the tenant's loop thread. */
#ifndef VK_REST_H
#define VK_REST_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "proxy/http.h"
#include "proxy/metrics.h"
#include "proxy/resources.h"
#include "proxy/selector.h"
#include "store/store.h"

typedef struct vk_watch vk_watch_t;

/* State shared by every request of one API server (owned by vk_apiserver_t). */
typedef struct vk_rest_ctx {
    uv_loop_t *loop;
    vk_store_t *store;          /* borrowed */
    vk_resources_t *resources;  /* owned by the apiserver */
    struct vk_crdserve *crds;   /* custom resources (proxy/crdserve.h), owned by the apiserver */
    vk_metrics_t *metrics;      /* owned by the apiserver */
    char *ca_pem;               /* kube-root-ca.crt content, owned; "" if none */
    struct vk_satoken *satoken; /* service-account token signer, owned by the apiserver; may be NULL */
    vk_watch_t *watches;        /* active watch streams (list through vk_watch_t) */
    uv_timer_t ns_timer;        /* namespace finalization pass while some terminate */
    int ns_timer_on;
    int bookmark_ms;            /* watch bookmark period (0: 60000) */
    int closing;
    int pod_security_floor;     /* vk_podsecurity_level_t every namespace gets at least */
    void (*pod_log)(void *arg, vk_http_req_t *req, const char *ns, const char *name);
    void *pod_log_arg;          /* see vk_apiserver_config_t.pod_log */
    struct vk_quota *quota;     /* quota admission state (proxy/quota.h), lazily made */
    json_t *ns_objs;            /* namespace name -> [mod_rev, object]: parsed namespaces
                                   (rest.c namespace_object), freed by vk_rest_ctx_close */
    unsigned char rnd[256];     /* random bytes for uids and names (rest.c random_bytes) */
    size_t rnd_left;            /* unused bytes at the end of rnd */
} vk_rest_ctx_t;

/* One request routed to a resource. Allocated from the request pool. */
typedef struct vk_rest_call {
    vk_rest_ctx_t *ctx;
    vk_http_req_t *req;          /* NULL once answered */
    const vk_resource_t *res;
    const char *ns;              /* NULL for cluster scope / all namespaces */
    const char *name;            /* NULL for collections */
    const char *sub;             /* subresource or NULL */
    unsigned verb;               /* VK_VERB_* */
    const char *metric_verb;     /* "GET", "LIST", "WATCH", "POST", ... */
    int retries;                 /* conflict retries so far (unconditional writes) */
    int precondition;            /* the client gave a resourceVersion precondition */
    int applied;                 /* server-side apply set managedFields already */
    void *op;                    /* per-operation state */
    json_t *created;             /* a custom object being created (create_done), owned */
} vk_rest_call_t;

/* Runs the request (answers it, now or after a store write). */
void vk_rest_handle(vk_rest_call_t *c);

/* Answers with a JSON body (takes the reference) and records metrics. */
void vk_rest_reply(vk_rest_call_t *c, int code, json_t *body);
/* Answers with a Status for err (msg overrides the message when non-NULL). */
void vk_rest_reply_err(vk_rest_call_t *c, int err, const char *msg);
/* Answers with a ready Status object (takes the reference). */
void vk_rest_reply_status(vk_rest_call_t *c, json_t *status);

/* A stored value as an API object with metadata.resourceVersion set to its
 * mod_rev. New reference, or NULL if the value is not JSON. */
json_t *vk_rest_decode(const vk_kv_t *kv);

/* Label and field selectors of a list/watch/deletecollection. */
typedef struct vk_rest_filter {
    vk_selector_label_t *label;
    vk_selector_field_t *field;
} vk_rest_filter_t;
/* Parses labelSelector/fieldSelector from the request. 0, or answers the request
 * with 400 and returns VK_EBADREQUEST. Free with vk_rest_filter_free. */
int vk_rest_filter_parse(vk_rest_call_t *c, vk_rest_filter_t *f);
int vk_rest_filter_match(const vk_rest_filter_t *f, const vk_resource_t *res, const json_t *obj);
void vk_rest_filter_free(vk_rest_filter_t *f);

/* 1 if Accept asks for a meta.k8s.io Table. */
int vk_rest_wants_table(vk_http_req_t *req);
/* includeObject query parameter: 0 None, 1 Metadata (default), 2 Object. */
int vk_rest_include_object(vk_http_req_t *req);

/* Makes sure the built-in namespaces, the default ServiceAccount and
 * kube-root-ca.crt ConfigMap of every namespace, and the bootstrap RBAC roles
 * exist; resumes finalization of terminating namespaces. Writes are queued; done
 * runs (once) after they are all committed. 0 or an error. */
int vk_rest_bootstrap(vk_rest_ctx_t *ctx, void (*done)(void *arg), void *arg);
/* Stops timers (close callbacks run on the loop). */
void vk_rest_ctx_close(vk_rest_ctx_t *ctx);

/* Current time as RFC 3339 seconds ("2026-01-02T03:04:05Z") into buf (>= 21). */
char *vk_rest_now(char *buf, size_t n);

#endif
