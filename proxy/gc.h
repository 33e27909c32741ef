/* gc: the garbage collector of the tenant (what kube-controller-manager's
 * garbage collector is to a real cluster). It follows every object through the
 * store's watch, keeps an index owner uid -> dependents (from
 * metadata.ownerReferences), and acts on what the API server's delete path
 * wrote (proxy/rest.c sets the finalizers, as kube-apiserver does):
 *   - an owner deleted (Background, the default): its dependents are deleted;
 *   - an owner with deletionTimestamp and the "foregroundDeletion" finalizer:
 *     its dependents are deleted, and once no dependent with
 *     blockOwnerDeletion=true is left the finalizer is removed (the API server
 *     then removes the owner);
 *   - an owner with deletionTimestamp and the "orphan" finalizer: its dependents
 *     lose their ownerReference to it, then the finalizer is removed;
 *   - a dependent none of whose owners exists (no object of that kind and name
 *     with that uid, checked against the store at that moment) is deleted.
 * An ownerReference whose kind is not served, or a namespaced owner named by a
 * cluster-scoped dependent, counts as an owner that exists (never collected).
 * Writes go through the API handler as an in-process client (proxy/client.h),
 * so they are authorized, validated and seen by every watch. On start (and when
 * its watch ends) it lists everything again, so work left by a killed process
 * is finished.
 *
 * Started and stopped by proxy/apiserver.c; runs on the tenant's loop thread. */
#ifndef VK_GC_H
#define VK_GC_H

#include <stdint.h>
#include <uv.h>

#include "proxy/http.h"
#include "proxy/resources.h"
#include "store/store.h"

typedef struct vk_gc vk_gc_t;

/* Starts the collector over store (borrowed) with the resource table (borrowed;
 * run-time rows are looked up on use); requests go through handler(ctx, req).
 * Both must outlive the collector until vk_gc_stop's done_cb. Caller stops it
 * with vk_gc_stop. */
vk_gc_t *vk_gc_start(uv_loop_t *loop, vk_store_t *store, const vk_resources_t *resources,
                     vk_http_handler_cb handler, void *ctx);
/* Stops watching and working; requests in flight finish quietly, then
 * everything is freed and done_cb(arg) runs on a later loop turn (may be
 * NULL). gc may be NULL (done_cb is then not called). */
void vk_gc_stop(vk_gc_t *gc, void (*done_cb)(void *arg), void *arg);

typedef struct vk_gc_stats {
    uint64_t events;       /* store events looked at */
    uint64_t deletes;      /* dependents deleted (requests answered 2xx) */
    uint64_t orphaned;     /* ownerReferences removed from dependents */
    uint64_t finalized;    /* foregroundDeletion/orphan finalizers removed */
    uint64_t failures;     /* requests that failed (retried) */
    uint64_t relists;      /* times the object list was read again after the first */
    size_t owners;         /* owner uids in the index */
    size_t queued;         /* objects waiting to be looked at */
} vk_gc_stats_t;

void vk_gc_get_stats(const vk_gc_t *gc, vk_gc_stats_t *out);

#endif
