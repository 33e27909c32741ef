/* crdserve: the CustomResourceDefinitions of one API server, served. It keeps
 * the stored CRDs in memory (loaded from the store at start, then kept in step
 * by a store watch on /apiextensions.k8s.io/customresourcedefinitions/) and acts
 * as upstream's CRD controllers do on every change: computes the CRD's status
 * (NamesAccepted, Established) and writes it back, adds/removes the custom rows
 * of the resource table, and on deletion (finalizer
 * customresourcecleanup.apiextensions.k8s.io), as upstream's finalizer
 * controller: writes condition Terminating=True (InstanceDeletionInProgress;
 * custom object creates answer 403 meanwhile), deletes every object of the
 * CRD, then writes Terminating=False (InstanceDeletionCompleted, or
 * NeverEstablished) without the finalizer, deleting the CRD when no other
 * finalizer holds it. The rows stay served until the CRD is gone; then the
 * removed-rows callback runs (watch streams end after their DELETED events).
 * Objects with finalizers of their own get a deletionTimestamp and the CRD
 * stays Terminating=True (creates 403) until they are gone (upstream switches the reason to
 * InstanceDeletionCheck after a minute; here it stays). Everything else is a thin adapter to proxy/crd.h with the
 * signatures the REST layer needs:
 *   rest.c default_and_validate: vk_crdserve_admit_crd (CRD rows),
 *     vk_crdserve_write (custom rows);
 *   rest.c reads: vk_crdserve_read; tables (rest.c, watch.c):
 *     vk_crdserve_table_new / vk_crdserve_table_add (built-ins fall through to
 *     proxy/table.h); scale: vk_crdserve_scale_get / vk_crdserve_scale_set;
 *     server-side apply: vk_crdserve_apply_schema;
 *   apiserver.c: vk_crdserve_new / vk_crdserve_free, OpenAPI rebuilt when
 *     vk_crdserve_generation changes, then vk_crdserve_openapi_apply.
 * Runs on the tenant's loop thread; not thread-safe. */
#ifndef VK_CRDSERVE_H
#define VK_CRDSERVE_H

#include <jansson.h>

#include "proxy/patch.h"
#include "proxy/resources.h"
#include "store/store.h"

typedef struct vk_crdserve vk_crdserve_t;
struct vk_openapi;
struct vk_pool;

/* Called just before the rows of group/plural are removed from the table (a
 * CRD was deleted or renamed): end what still points to them (watch
 * streams). */
typedef void (*vk_crdserve_removed_cb)(void *arg, const char *group, const char *plural);

/* Loads every stored CRD into t (borrowed; must outlive the result), writes
 * their status where it is out of date and starts watching. store borrowed.
 * 0 and *out (free with vk_crdserve_free), or a store error. */
int vk_crdserve_new(vk_store_t *store, vk_resources_t *t, vk_crdserve_t **out);
/* Sets the removed-rows callback (may be NULL). */
void vk_crdserve_on_removed(vk_crdserve_t *s, vk_crdserve_removed_cb cb, void *arg);
/* Stops watching; the memory goes once in-flight store writes finish. */
void vk_crdserve_free(vk_crdserve_t *s);

/* Bumped each time the custom rows change (rebuild OpenAPI then). */
unsigned vk_crdserve_generation(const vk_crdserve_t *s);
/* Sets the schema of every served CRD version in o (built from the table). */
int vk_crdserve_apply_openapi(const vk_crdserve_t *s, struct vk_openapi *o);

/* The CRD (borrowed, status included) serving a custom row, by group and
 * kind; NULL for built-in rows or if unknown. */
const json_t *vk_crdserve_find(const vk_crdserve_t *s, const vk_resource_t *row);

/* CRD create (old NULL) or update, after defaulting: on create resets the
 * status and adds the cleanup finalizer; validates. 0 and *warnings (new JSON
 * array of strings, one Warning header each; caller decrefs), or -1 and
 * *status: the 422 Status to answer (new reference). row is the CRD row. */
int vk_crdserve_admit_crd(vk_crdserve_t *s, const vk_resource_t *row, json_t *crd,
                          const json_t *old, json_t **warnings, json_t **status);

/* A custom object write at row's version (create: old NULL; sub NULL,
 * "status" or "scale"; field_validation the query parameter or NULL): prune,
 * default, status rules, validate, convert to the storage version (obj in
 * place). 0 and *warnings (new array of strings), or -1 and *status (new
 * reference: 400 strict decoding, 422 with causes, 500, 404 if the CRD is
 * gone). */
int vk_crdserve_write(vk_crdserve_t *s, const vk_resource_t *row, const char *sub,
                      const char *field_validation, json_t *obj, const json_t *old,
                      json_t **warnings, json_t **status);
/* A stored custom object (in place) as row's version, with its defaults. No-op
 * for built-in rows. 0 or an error (obj unchanged then). */
int vk_crdserve_read(const vk_crdserve_t *s, const vk_resource_t *row, json_t *obj);

/* Tables: printer columns for custom rows, proxy/table.h for the others. */
json_t *vk_crdserve_table_new(const vk_crdserve_t *s, const vk_resource_t *row);
void vk_crdserve_table_add(const vk_crdserve_t *s, json_t *table, const vk_resource_t *row,
                           const json_t *obj, int include);

/* Scale of a custom object (new reference), or NULL when row is not custom
 * (use the built-in path then). */
json_t *vk_crdserve_scale_get(const vk_crdserve_t *s, const vk_resource_t *row,
                              const json_t *obj);
/* Writes scale.spec.replicas into obj (custom rows). 0, or -1 and *status (422
 * for kind Scale, or 404; new reference). */
int vk_crdserve_scale_set(const vk_crdserve_t *s, const vk_resource_t *row, json_t *obj,
                          const json_t *scale, json_t **status);

/* Server-side apply over the CRD version's schema: sets *cb and *cb_ctx
 * (allocated from pool) for vk_apply_opts_t. Leaves them alone when the row is
 * not custom or has no schema. */
void vk_crdserve_apply_schema(const vk_crdserve_t *s, const vk_resource_t *row,
                              struct vk_pool *pool, vk_patch_schema_cb *cb, void **cb_ctx);

#endif
