/* patch: the three PATCH body formats of the Kubernetes API applied to a JSON
 * object: JSON patch (RFC 6902, as gopkg.in/evanphx/json-patch.v4 which
 * kube-apiserver uses), JSON merge patch (RFC 7386) and strategic merge patch
 * (k8s.io/apimachinery/pkg/util/strategicpatch: merge keys, `$patch`,
 * `$setElementOrder/`, `$deleteFromPrimitiveList/`, `$retainKeys`).
 *
 * Pure functions over jansson values, no I/O. Called by the REST layer
 * (proxy/apiserver.c) for PATCH requests; the schema (merge keys, strategies,
 * list types) comes in through a callback so this module does not depend on
 * the schema tables (vk_patch_schema_builtin adapts proxy/schema.h).
 *
 * Errors: a negative code from common/err.h whose HTTP status is the one
 * kube-apiserver answers, and *err (caller frees with free()) holding the
 * message it prints. */
#ifndef VK_PATCH_H
#define VK_PATCH_H

#include <jansson.h>
#include <stddef.h>

/* Patch content types. */
typedef enum vk_patch_type {
    VK_PATCH_NONE = 0,
    VK_PATCH_JSON,      /* application/json-patch+json */
    VK_PATCH_MERGE,     /* application/merge-patch+json */
    VK_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    VK_PATCH_APPLY,     /* application/apply-patch+yaml (server-side apply, see proxy/apply.h) */
} vk_patch_type_t;

/* Maps a Content-Type header value (parameters after ';' ignored, case-
 * insensitive) to a patch type; VK_PATCH_NONE means answer 415 with
 * VK_PATCH_ACCEPTED in the message. */
vk_patch_type_t vk_patch_type_from_content_type(const char *content_type);
#define VK_PATCH_ACCEPTED                                                                          \
    "application/json-patch+json, application/merge-patch+json, "                                 \
    "application/strategic-merge-patch+json, application/apply-patch+yaml"

/* ---- schema callback ------------------------------------------------------ */

enum {
    VK_PATCH_STRATEGY_MERGE = 1 << 0,       /* +patchStrategy=merge */
    VK_PATCH_STRATEGY_RETAIN_KEYS = 1 << 1, /* +patchStrategy=retainKeys */
    VK_PATCH_STRATEGY_REPLACE = 1 << 2,     /* +patchStrategy=replace */
};

enum {
    VK_PATCH_LIST_UNKNOWN = 0, /* no +listType: atomic for apply */
    VK_PATCH_LIST_ATOMIC,
    VK_PATCH_LIST_SET,
    VK_PATCH_LIST_MAP,
};

typedef struct vk_patch_field {
    unsigned strategy;         /* VK_PATCH_STRATEGY_* flags */
    const char *merge_key;     /* +patchMergeKey, or NULL (borrowed, static or ctx-owned) */
    int list_type;             /* VK_PATCH_LIST_* (+listType), for server-side apply */
    const char *list_map_keys; /* +listMapKey, comma-separated ("containerPort,protocol"), or NULL */
    int is_map;                /* the field is a map<string,T> (labels, data), not a struct */
    int atomic;                /* +structType=atomic / +mapType=atomic: applied as one value */
    int zero_present;          /* present in the JSON of a zero Go object (non-omitempty, or a
                                * non-pointer struct); such fields are never "added" */
    int is_list;               /* the field is a list */
    int primitive_list;        /* the field is a list of scalars */
} vk_patch_field_t;

/* Describes the field at `path` (depth elements from the object root, list
 * indices skipped: {"spec","template","spec","containers"}). Fills *out and
 * returns 0, or returns VK_ENOTFOUND for a field without schema (maps then
 * merge key by key, lists are replaced / atomic). */
typedef int (*vk_patch_schema_cb)(void *ctx, const char *const *path, size_t depth,
                                  vk_patch_field_t *out);

/* The kind an adapter callback looks up. */
typedef struct vk_patch_kind {
    const char *group; /* "" for core */
    const char *version;
    const char *kind;
} vk_patch_kind_t;

/* A vk_patch_schema_cb over proxy/schema.h: ctx is a vk_patch_kind_t*. */
int vk_patch_schema_builtin(void *ctx, const char *const *path, size_t depth,
                            vk_patch_field_t *out);

/* A vk_patch_schema_cb over an OpenAPI v3 structural schema (a CRD
 * version's schema.openAPIV3Schema): x-kubernetes-list-type,
 * x-kubernetes-list-map-keys and x-kubernetes-map-type, for server-side apply
 * of custom resources (they have no strategic merge keys). ctx is a
 * vk_patch_openapi_t; strings handed out are allocated from its pool. */
typedef struct vk_patch_openapi {
    const json_t *schema; /* borrowed */
    struct vk_pool *pool; /* request pool (common/mem.h), for joined list-map keys */
} vk_patch_openapi_t;
int vk_patch_schema_openapi(void *ctx, const char *const *path, size_t depth,
                            vk_patch_field_t *out);

/* ---- applying patches ------------------------------------------------------ */

/* Applies an RFC 6902 JSON patch (a JSON array of operations) to doc.
 * doc and patch are borrowed. On success *out is a new value (caller
 * json_decref's it). Errors: VK_EBADREQUEST (patch is not a list of
 * operations), VK_ETOOLARGE (over 10000 operations), VK_EINVALID (an
 * operation failed: "testing value /a failed: test failed", 422). */
int vk_patch_json(const json_t *doc, const json_t *patch, json_t **out, char **err);

/* Removes the null members of objects in v (borrowed, modified), recursively,
 * also inside arrays: what decoding into a typed object does to them. */
void vk_patch_prune_nulls(json_t *v);

/* Applies an RFC 7386 merge patch. VK_EBADREQUEST "Invalid JSON Patch" when
 * the patch is not an object. Same ownership as vk_patch_json. */
int vk_patch_merge(const json_t *doc, const json_t *patch, json_t **out, char **err);

/* Applies a strategic merge patch (a JSON object) to doc with the given
 * schema (cb may be NULL: no merge keys, every list replaced). Same ownership
 * as vk_patch_json. Errors as kube-apiserver: VK_EBADREQUEST for malformed
 * directives ("invalid patch format of setElementOrder list"), VK_EINVALID
 * for lists of lists, VK_EINTERNAL for the rest (upstream answers 500, e.g.
 * "map: map[image:x] does not contain declared merge key: name"). */
int vk_patch_strategic(const json_t *doc, const json_t *patch, vk_patch_schema_cb cb, void *ctx,
                       json_t **out, char **err);

#endif
