/* tenantops: the syncer's tenant side (vk_syncer_tenant_ops_t) inside `vkube
 * serve`, over the tenant's own API server. Reads come from in-process
 * informers (proxy/client.h) on pods, ConfigMaps, Secrets, Services and
 * PersistentVolumeClaims; every
 * change they see calls vk_syncer_notify. Writes are in-process API requests
 * (status PUT, delete with a uid precondition, server-side apply of Nodes,
 * Events and EndpointSlices), started at once and finished asynchronously:
 * the ops answer 0 when the request is started and a failed write is simply
 * redone by a later (level-triggered) pass.
 *
 * Pods are bound as a scheduler binds them: POST pods/NAME/binding (with the
 * pod's uid as precondition; proxy/binding.c), then the status through
 * pods/NAME/status. PersistentVolumeClaim statuses go through
 * persistentvolumeclaims/NAME/status, spec.volumeName through a merge patch.
 *
 * One write has no API path on purpose: the host-assigned spec.clusterIP(s)
 * of a Service. In kube-apiserver the ClusterIP is allocated inside the
 * Service registry at create time and is immutable through the API; in vkube
 * the host's allocator is the one that counts (pods reach the host Service),
 * so the syncer plays the registry's allocator and writes it to the store
 * with a compare-and-swap on the revision and a uid check, instead of
 * opening an update path that clients could use too.
 *
 * Service-account tokens are RS256 JWTs signed with the tenant's sa.key (the
 * API server's own signer, proxy/satoken.h), bound to the pod (name and uid
 * claims, audience the API server), checked by the API server like any
 * bound token (TokenReview, bearer authentication; refused once the pod is
 * gone).
 *
 * Called by cli/serve.c on the tenant's loop thread:
 *     o = vk_tenantops_new(loop, vk_apiserver_handle, api, store, &tenantdir, on_ready, arg);
 *     ... on_ready: vk_syncer_start(host, &(cfg){.ops = vk_tenantops_ops(), .tenant_ctx = o}, &s);
 *                   vk_tenantops_set_syncer(o, s);
 *     ... stop: vk_syncer_stop(s); vk_tenantops_close(o, done, arg); */
#ifndef VK_TENANTOPS_H
#define VK_TENANTOPS_H

#include <uv.h>

#include "common/tenantdir.h"
#include "proxy/http.h"
#include "store/store.h"
#include "syncer/syncer.h"

typedef struct vk_tenantops vk_tenantops_t;

/* Starts the informers through handler(api_ctx, req) as user
 * "system:vkube-syncer" (group system:masters). store is the tenant's store
 * (for the ClusterIP write and service-account uids), t its directory
 * (sa.key, the token signer); both borrowed and
 * must outlive the ops. on_ready(arg) runs once every informer has listed
 * (start the syncer then: before, list() would show an empty tenant). */
vk_tenantops_t *vk_tenantops_new(uv_loop_t *loop, vk_http_handler_cb handler, void *api_ctx,
                                 vk_store_t *store, const vk_tenantdir_t *t,
                                 void (*on_ready)(void *arg), void *arg);
/* The ops table; tenant_ctx is the vk_tenantops_t. */
const vk_syncer_tenant_ops_t *vk_tenantops_ops(void);
/* The syncer to notify on tenant changes (NULL: none). */
void vk_tenantops_set_syncer(vk_tenantops_t *o, vk_syncer_t *s);
/* Stops the informers; requests in flight finish first, then done_cb(arg)
 * (may be NULL) runs and o is freed. The API layer and store must stay up
 * until then. */
void vk_tenantops_close(vk_tenantops_t *o, void (*done_cb)(void *arg), void *arg);

#endif
