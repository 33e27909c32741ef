/* client: an in-process Kubernetes API client for code inside the tenant
 * process (the controllers). Every request is a local request
 * (vk_http_local_request) run by the API server's own handler, so it goes
 * through routing, authorization, admission, validation, resourceVersion checks
 * and the store, and its writes reach every watch, exactly like kubectl's.
 *
 * Results are delivered on a later loop turn, never inside the call that
 * started the request. Informers keep a cache of one resource (list, then watch
 * from the list's resourceVersion; on 410 Gone or a broken watch they relist and
 * report the differences), the building block of the controllers.
 *
 * Called by controllers/ on the tenant's loop thread. */
#ifndef VK_CLIENT_H
#define VK_CLIENT_H

#include <jansson.h>
#include <uv.h>

#include "proxy/http.h"

typedef struct vk_client vk_client_t;
typedef struct vk_client_informer vk_client_informer_t;

/* Result of one request: status is the HTTP status, or 0 (obj NULL) if the
 * client was closed before the answer (then it may run inside vk_client_close
 * or later, so the caller can free its context); obj is the decoded body (an
 * object or a Status), borrowed for the callback's duration (json_incref to
 * keep it); may be NULL. Every request's callback runs exactly once. */
typedef void (*vk_client_cb)(void *arg, int status, json_t *obj);

/* A client that runs requests through handler(ctx, req) as user/groups
 * (copied). Caller closes it with vk_client_close. */
vk_client_t *vk_client_new(uv_loop_t *loop, vk_http_handler_cb handler, void *ctx,
                           const char *user, const char *const *groups);
/* Cancels informers (their callbacks stop); requests still in flight finish
 * with status 0; memory is freed once the last one has finished, then
 * done_cb(arg) runs (may be NULL). The API layer must outlive the client until
 * then (a request in flight still runs through it). */
void vk_client_close(vk_client_t *c, void (*done_cb)(void *arg), void *arg);

/* Path of a resource: "/api/v1" for group "" else "/apis/GROUP/VERSION", then
 * "/namespaces/NS" if ns, "/RESOURCE", "/NAME" if name, "/SUB" if sub. Caller
 * frees with free(). */
char *vk_client_path(const char *group, const char *version, const char *resource,
                     const char *ns, const char *name, const char *sub);

/* The generic call: body (borrowed, may be NULL) is sent as JSON with
 * content_type (NULL: application/json). cb may be NULL. */
void vk_client_request(vk_client_t *c, const char *method, const char *path, const char *query,
                       const char *content_type, json_t *body, vk_client_cb cb, void *arg);

/* Shorthands. obj/patch are borrowed. */
void vk_client_get(vk_client_t *c, const char *path, vk_client_cb cb, void *arg);
void vk_client_create(vk_client_t *c, const char *collection_path, json_t *obj, vk_client_cb cb,
                      void *arg);
/* PUT to path (add "/status" for the status subresource). A stale
 * metadata.resourceVersion answers 409 Conflict. */
void vk_client_update(vk_client_t *c, const char *path, json_t *obj, vk_client_cb cb, void *arg);
/* type: "merge", "json" or "strategic". */
void vk_client_patch(vk_client_t *c, const char *path, const char *type, json_t *patch,
                     vk_client_cb cb, void *arg);
/* propagation: "Background", "Foreground", "Orphan" or NULL (the default). */
void vk_client_delete(vk_client_t *c, const char *path, const char *propagation,
                      vk_client_cb cb, void *arg);

/* ---- Informers ---- */
enum { VK_CLIENT_ADDED, VK_CLIENT_MODIFIED, VK_CLIENT_DELETED };
/* One change: obj is the new object (for DELETED the last known one), borrowed. */
typedef void (*vk_client_informer_cb)(void *arg, int type, json_t *obj);

/* Lists and watches collection_path (e.g. vk_client_path("apps","v1",
 * "deployments",NULL,NULL,NULL)), calling on_change for every change after the
 * first list (which reports every object as ADDED), and on_synced once the first
 * list is in the cache. Freed by vk_client_close. */
vk_client_informer_t *vk_client_informer_new(vk_client_t *c, const char *collection_path,
                               vk_client_informer_cb on_change, void (*on_synced)(void *arg), void *arg);
/* Cached objects never hold metadata.managedFields (often half of an object;
 * no in-process caller reads it, and an update without it keeps the stored
 * one, as in kube-apiserver). */

/* The informer lists in pages of VK_CLIENT_PAGE items (limit + continue), a
 * millisecond apart, so that a large collection neither blocks the loop (other
 * requests, /readyz, are served between pages) nor is held as one huge
 * response. The first list starts on a later loop turn: the settings below,
 * called right after vk_client_informer_new, apply to it. */
enum { VK_CLIENT_PAGE = 100 };

/* A transform (as client-go's SetTransform): called with every object before
 * it enters the cache, is compared with the cached one, or reaches on_change
 * (list items, watch events, the last state of deleted objects). obj is
 * borrowed; returns the object to keep, a new reference (json_incref(obj) or a
 * new, smaller object). Must not return NULL. */
typedef json_t *(*vk_client_transform_cb)(void *arg, json_t *obj);
void vk_client_informer_set_transform(vk_client_informer_t *inf, vk_client_transform_cb fn,
                                      void *arg);
/* A ready-made transform: the cache keeps only apiVersion, kind, and the
 * listed fields, dotted paths from the object's root ("metadata",
 * "spec.nodeName", "status.conditions"), always without
 * metadata.managedFields. Through an array the rest of the path applies to
 * every element ("spec.containers.ports" keeps each container's ports, in an
 * array as long as the original, so "spec.containers.name" lines up with
 * it). A path that is absent adds nothing (no empty parents). fields is
 * NULL-terminated and copied (a compound literal is fine).
 * For a controller, list exactly what it reads: a field not kept is absent
 * from the cached objects. */
void vk_client_informer_keep(vk_client_informer_t *inf, const char *const *fields);
/* Page size of the lists (default VK_CLIENT_PAGE; 0: one unpaged list). */
void vk_client_informer_set_page_size(vk_client_informer_t *inf, int limit);
/* The transform vk_client_informer_keep installs, on one object: a new object
 * holding only those fields (fields NULL-terminated, borrowed). Caller frees with json_decref. */
json_t *vk_client_keep_fields(json_t *obj, const char *const *fields);

/* 1 once the first list has been loaded. */
int vk_client_informer_synced(const vk_client_informer_t *inf);
/* Cached object by namespace ("" for cluster-scoped) and name, borrowed; NULL if
 * absent. */
json_t *vk_client_informer_get(const vk_client_informer_t *inf, const char *ns, const char *name);
/* The cache: a JSON object "ns/name" -> object (borrowed; do not modify). */
json_t *vk_client_informer_items(const vk_client_informer_t *inf);
/* Number of times the informer relisted after its first list (410, broken watch). */
int vk_client_informer_relists(const vk_client_informer_t *inf);
/* Pages (list requests) the informer has loaded so far, all lists included. */
int vk_client_informer_pages(const vk_client_informer_t *inf);

#endif
