/* tenantops: the syncer's tenant side (vk_syncer_tenant_ops_t) inside `vkube
 * serve`, over the tenant's own API server. Reads come from in-process
 * informers (proxy/client.h) on pods, ConfigMaps, Secrets and Services; every
 * change they see calls vk_syncer_notify. Writes are in-process API requests
 * (status PUT, delete with a uid precondition, server-side apply of Nodes,
 * Events and EndpointSlices), started at once and finished asynchronously:
 * the ops answer 0 when the request is started and a failed write is simply
 * redone by a later (level-triggered) pass.
 *
 * Two writes have no API path in the REST layer yet and go to the store with
 * a compare-and-swap on the object's revision and a uid check, as
 * kube-apiserver's own binding storage does: spec.nodeName (pods/binding) and
 * the host-assigned spec.clusterIP(s) of a Service. Service-account tokens
 * are bearer tokens of the tenant's tokens.csv for user
 * system:serviceaccount:NS:SA (groups system:serviceaccounts and
 * system:serviceaccounts:NS), issued once and reused (the API server does not
 * issue JWTs yet).
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
 * (for the two CAS writes), t its directory (tokens.csv); both borrowed and
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
