/* syncer: keeps one tenant's pods running in the host cluster. Level-
 * triggered: every change on either side (vk_syncer_notify from the tenant
 * side, informer events from the host) schedules one reconcile pass over the
 * whole tenant (debounced); a pass lists the tenant's pods, ConfigMaps and
 * Secrets (and Services, PersistentVolumeClaims) through the tenant ops,
 * reads the host objects from informers, plans with syncer/reconcile, keeps
 * one token Secret per pod (a JWT bound to the pod, re-issued at 80% of its
 * lifetime), runs the host actions with syncer/hostexec and applies tenant
 * actions (status, deletes) through the ops. A pod the host refuses (quota,
 * LimitRange, admission) gets PodScheduled=False and a FailedCreate event in
 * the tenant; failed passes are retried with exponential backoff (1-30 s) and
 * a pass runs at least every resync_ms. Nodes that run the tenant's pods are mirrored
 * into the tenant (and removed when unused); host events about the tenant's
 * pods are recorded in the tenant. Only objects with this tenant's marks are
 * ever changed on the host.
 *
 * The tenant side is an interface so that the syncer runs over the API
 * server's internal write path in `vkube serve`, and over an in-memory fake in
 * tests. Everything runs on the loop of the given httpc client. */
#ifndef VK_SYNCER_H
#define VK_SYNCER_H

#include <jansson.h>

#include "common/httpc.h"
#include "syncer/translate.h"

typedef struct vk_syncer vk_syncer_t;

/* The tenant side. Every function is called on the loop thread; ctx is
 * vk_syncer_config_t.tenant_ctx. Return 0 or a negative error. */
typedef struct vk_syncer_tenant_ops {
    /* All tenant objects of kind "Pod", "ConfigMap" or "Secret": a new array. */
    json_t *(*list)(void *ctx, const char *kind);
    /* Writes a pod's status (and spec.nodeName through the binding when
     * node_name is not NULL), if the pod still has uid. */
    int (*write_status)(void *ctx, const char *ns, const char *name, const char *uid,
                        const json_t *status, const char *node_name);
    /* Deletes a pod immediately (grace period 0), if it still has uid. */
    int (*delete_pod)(void *ctx, const char *ns, const char *name, const char *uid);
    /* Creates or replaces a Node (already translated), or deletes one. */
    int (*put_node)(void *ctx, const json_t *node);
    int (*delete_node)(void *ctx, const char *name);
    /* Records an Event (already translated; created or updated by name). */
    int (*record_event)(void *ctx, const json_t *event);
    /* A service-account token of ns/sa bound to pod ns/pod (uid pod_uid),
     * that the tenant API server verifies, valid ttl_s seconds: *token
     * (caller frees), *iat and *exp (Unix seconds). VK_ENOTFOUND while the
     * service account does not exist (retried by a later pass). */
    int (*token)(void *ctx, const char *ns, const char *sa, const char *pod, const char *pod_uid,
                 int64_t ttl_s, char **token, int64_t *iat, int64_t *exp);
    /* Optional (Services are synced only when set, and list("Service") works):
     * shows the host-assigned ClusterIP(s) on the tenant Service with uid. */
    int (*write_service_ip)(void *ctx, const char *ns, const char *name, const char *uid,
                            const char *cluster_ip, const json_t *cluster_ips);
    /* Optional (PersistentVolumeClaims are synced only when set, and
     * list("PersistentVolumeClaim") works): shows the host claim's status
     * (and spec.volumeName when not NULL and the tenant claim has none) on
     * the tenant claim with uid. */
    int (*write_pvc_status)(void *ctx, const char *ns, const char *name, const char *uid,
                            const json_t *status, const char *volume_name);
} vk_syncer_tenant_ops_t;

typedef struct vk_syncer_config {
    vk_translate_ctx_t translate;  /* tenant config (borrowed) and API address */
    const char *tenant_ca_pem;     /* the tenant CA, put in token Secrets as ca.crt */
    const vk_syncer_tenant_ops_t *ops;
    void *tenant_ctx;
    uint64_t debounce_ms;          /* (0: 20) */
    int64_t token_ttl_s;           /* lifetime of pod tokens (0: $VKUBE_SYNCER_TOKEN_SECONDS,
                                      else 3600); refreshed at 80% of it */
    uint64_t resync_ms;            /* a pass at least this often (0: 30000) */
} vk_syncer_config_t;

/* Starts informers on the host (pods, ConfigMaps, Secrets and events of the
 * host namespace; nodes) and reconciles once they have listed. The config
 * strings are borrowed and must outlive the syncer. 0 or a negative error. */
int vk_syncer_start(vk_httpc_t *host, const vk_syncer_config_t *cfg, vk_syncer_t **out);
/* Something changed on the tenant side: schedule a pass. */
void vk_syncer_notify(vk_syncer_t *s);
/* Stops (after the host request in flight); frees from the loop. */
void vk_syncer_stop(vk_syncer_t *s);

/* Counters: passes run, host actions executed and failed, tenant actions. */
typedef struct vk_syncer_stats {
    uint64_t passes, host_actions, host_failures, tenant_actions, conflicts, events;
} vk_syncer_stats_t;
void vk_syncer_get_stats(const vk_syncer_t *s, vk_syncer_stats_t *out);

#endif
