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

/* One page of a list: GET collection_path?limit=limit (0: no limit) and, if
 * cont is not NULL, &continue=cont (escaped here). The answer's
 * metadata.continue, when not empty, asks for the next page. */
void vk_client_list(vk_client_t *c, const char *collection_path, int limit, const char *cont,
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

/* Another subscriber (as client-go's AddEventHandler): on_change and on_synced
 * (may be NULL) are called like the informer's own, after it, with the same
 * borrowed object. Call right after vk_client_informer_new (before the first
 * list). The informer still belongs to its client: once that is closed no
 * subscriber is called again. */
void vk_client_informer_add_handler(vk_client_informer_t *inf, vk_client_informer_cb on_change,
                                    void (*on_synced)(void *arg), void *arg);

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

/* ---- Compact caches ----
 * A jansson tree costs 40-60 bytes per value (a pod kept for the controllers:
 * 3-5 KB); its compact JSON text, packed (vk_client_text_pack), is 10-20x
 * smaller. A compact informer keeps every object as that text in a
 * vk_client_cache_t and decodes it on each read, so reads cost a parse (4-10 us
 * for a kept pod) instead of memory. Read every informer, compact or not,
 * with vk_client_informer_lookup and vk_client_informer_foreach
 * (vk_client_informer_get/_items are for plain informers only). */

/* Makes the informer compact (texts packed, see vk_client_text_pack); call
 * right after vk_client_informer_new. */
void vk_client_informer_set_compact(vk_client_informer_t *inf);

/* The cached object by namespace ("" for cluster-scoped) and name: a new
 * reference (caller json_decref), or NULL if absent. Read-only: for a plain
 * informer it is the cached object itself. */
json_t *vk_client_informer_lookup(const vk_client_informer_t *inf, const char *ns,
                                  const char *name);
/* Number of cached objects. */
size_t vk_client_informer_size(const vk_client_informer_t *inf);

/* A cheap pre-test on an object's compact JSON text (unpacked): 0 when the
 * object certainly does not matter to the caller (it is then skipped without
 * being decoded), else 1. */
typedef int (*vk_client_text_filter_cb)(void *arg, const char *text, size_t len);
/* An iteration over the cached objects of one namespace (NULL: all), in the
 * order they were first cached. The cache changes only on later loop turns
 * (never inside a request call), so an iteration must end on the turn it
 * started. Fields are private. */
typedef struct vk_client_iter {
    const vk_client_informer_t *inf;
    const char *ns;     /* borrowed */
    size_t ns_len;
    void *pos;          /* next entry (compact) or jansson iterator */
    unsigned long gen;  /* the cache's change count when it started */
    vk_client_text_filter_cb filter; /* NULL: none */
    void *filter_arg;
} vk_client_iter_t;
void vk_client_iter_begin(vk_client_iter_t *it, const vk_client_informer_t *inf, const char *ns);
/* Adds a pre-test to an iteration just begun (compact informers; a plain
 * informer's objects are already decoded and all come). Callers still check
 * every object they get. */
void vk_client_iter_filter(vk_client_iter_t *it, vk_client_text_filter_cb fn, void *arg);
/* The next object, a new reference (caller json_decref; read-only as for
 * lookup), or NULL at the end. */
json_t *vk_client_iter_next(vk_client_iter_t *it);
/* for (each obj of namespace ns in inf): obj is released at the end of each
 * round (continue is fine); after a break, obj is still the caller's to
 * json_decref. */
#define vk_client_informer_foreach(inf, ns, it, obj)                                              \
    for (vk_client_iter_begin(&(it), (inf), (ns)); ((obj) = vk_client_iter_next(&(it)));          \
         json_decref(obj))
/* The same, with a pre-test (vk_client_iter_filter). */
#define vk_client_informer_foreach_where(inf, ns, fn, arg, it, obj)                               \
    for (vk_client_iter_begin(&(it), (inf), (ns)), vk_client_iter_filter(&(it), (fn), (arg));      \
         ((obj) = vk_client_iter_next(&(it))); json_decref(obj))
/* A pre-test for owners: the object's text names uid (arg, a NUL-terminated
 * string), e.g. in a controller ownerReference. */
int vk_client_text_has(void *uid, const char *text, size_t len);

/* Bytes the informer's cache holds (entries, keys and texts as allocated);
 * 0 for a plain informer (not counted). */
size_t vk_client_informer_bytes(const vk_client_informer_t *inf);

/* The compact caches' text codec, like HPACK's static table: fragments
 * frequent in Kubernetes objects (a pod's keys, its conditions' common parts)
 * stand for one byte each, 0x01-0x1f, which compact JSON never holds raw
 * (jansson escapes control characters). A kept pod's text shrinks to 35-40%.
 * pack: in place; text (*len bytes and a NUL, no byte below 0x20) becomes its
 * packed form, *len updated (it never grows). unpack: writes the text of
 * packed (len bytes) into out (cap bytes, NUL-terminated when it fits) and
 * returns its length; when that is >= cap, call again with more room. */
void vk_client_text_pack(char *text, size_t *len);
size_t vk_client_text_unpack(const char *packed, size_t len, char *out, size_t cap);

/* The cache itself: "ns/name" keys -> texts (a compact informer's: packed
 * compact JSON), insertion-ordered (replacing a value keeps its place). Used
 * by compact informers; public for tests/client. */
typedef struct vk_client_cache vk_client_cache_t;
/* Caller frees with vk_client_cache_free. */
vk_client_cache_t *vk_client_cache_new(void);
void vk_client_cache_free(vk_client_cache_t *cc);
/* Stores text (len bytes; takes ownership of the malloc'd buffer, which must
 * hold text[len] == 0) under key (copied). Returns 1 if the key was new, 0 if
 * it replaced a value. */
int vk_client_cache_put(vk_client_cache_t *cc, const char *key, char *text, size_t len);
/* Removes key; 1 if it was there. */
int vk_client_cache_del(vk_client_cache_t *cc, const char *key);
/* The text under key (borrowed, valid until the key changes), *len set; NULL
 * if absent. */
const char *vk_client_cache_text(const vk_client_cache_t *cc, const char *key, size_t *len);
size_t vk_client_cache_size(const vk_client_cache_t *cc);
size_t vk_client_cache_bytes(const vk_client_cache_t *cc);
/* Incremented by every put and del. */
unsigned long vk_client_cache_gen(const vk_client_cache_t *cc);
/* Insertion-order walk: the first entry (NULL: empty), the next one; key and
 * text of an entry (borrowed). An entry pointer stays valid until its key is
 * deleted. */
const void *vk_client_cache_first(const vk_client_cache_t *cc);
const void *vk_client_cache_next(const void *entry);
const char *vk_client_cache_entry(const void *entry, const char **text, size_t *len);

/* 1 once the first list has been loaded. */
int vk_client_informer_synced(const vk_client_informer_t *inf);
/* Cached object by namespace ("" for cluster-scoped) and name, borrowed; NULL if
 * absent. Plain informers only (see vk_client_informer_lookup). */
json_t *vk_client_informer_get(const vk_client_informer_t *inf, const char *ns, const char *name);
/* The cache: a JSON object "ns/name" -> object (borrowed; do not modify).
 * Plain informers only (see vk_client_informer_foreach). */
json_t *vk_client_informer_items(const vk_client_informer_t *inf);
/* Stops watching and lists again after delay_ms, as a 410 Gone does (at
 * once): on_change then reports what changed meanwhile (objects gone as
 * DELETED, with their last cached state) and nothing for unchanged objects.
 * No-op before the first list is in or while a list runs. */
void vk_client_informer_relist(vk_client_informer_t *inf, int delay_ms);
/* Number of times the informer relisted after its first list (410, broken watch). */
int vk_client_informer_relists(const vk_client_informer_t *inf);
/* Pages (list requests) the informer has loaded so far, all lists included. */
int vk_client_informer_pages(const vk_client_informer_t *inf);

#endif
