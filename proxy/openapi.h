/* openapi: the OpenAPI documents of the served resources, built from the
 * generated schema tables (proxy/schema.h):
 *   /openapi/v3                      the index: {"paths": {"api/v1":
 *                                    {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"}}}
 *   /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version>
 *                                    one group-version (OpenAPI 3.0)
 *   /openapi/v2                      everything (Swagger 2.0, JSON only)
 * with what kubectl reads: schemas named like upstream
 * (io.k8s.api.core.v1.Pod) with descriptions for `kubectl explain`,
 * x-kubernetes-group-version-kind on kinds and operations, patch
 * strategy/merge keys for client-side apply, list types, and PATCH operations
 * carrying the `fieldValidation` query parameter and the
 * application/strategic-merge-patch+json body for built-in kinds (kubectl's
 * server-side field validation check).
 *
 * Kinds without a schema here (custom resources) get the schema set with
 * vk_openapi_set_schema (a CRD's openAPIV3Schema) or an open object, and no
 * strategic merge patch. Documents are built lazily and cached in the
 * vk_openapi_t; build a new one when the served resources change.
 * Called by the REST layer (proxy/) on the loop thread; not thread-safe. */
#ifndef VK_OPENAPI_H
#define VK_OPENAPI_H

#include <jansson.h>
#include <stddef.h>

/* One served resource (strings are copied by vk_openapi_new). */
typedef struct vk_openapi_resource {
    const char *group;   /* "" for core */
    const char *version; /* "v1" */
    const char *kind;    /* "Deployment" */
    const char *plural;  /* "deployments" */
    int namespaced;
    const char *const *verbs; /* NULL-terminated: "get", "list", "watch", "create", "update",
                                 "patch", "delete", "deletecollection" */
    int has_status;           /* serves <plural>/status */
    int has_scale;            /* serves <plural>/scale (autoscaling/v1 Scale) */
} vk_openapi_resource_t;

typedef struct vk_openapi vk_openapi_t;

/* Copies the resource table. kube_version is the gitVersion to put in
 * info.version ("v1.33.0"). Caller frees with vk_openapi_free. */
vk_openapi_t *vk_openapi_new(const vk_openapi_resource_t *res, size_t n, const char *kube_version);
/* The same from the server's resource table (proxy/resources.h): every row,
 * built-in and custom. Rebuild (free + new) when rows are added or removed. */
struct vk_resources;
vk_openapi_t *vk_openapi_new_from_resources(const struct vk_resources *t,
                                            const char *kube_version);
void vk_openapi_free(vk_openapi_t *o);
/* Sets the schema of a kind without a built-in one (a custom resource: the
 * CRD version's openAPIV3Schema; deep-copied; NULL for an open object) for
 * every row of group/version/kind, dropping the cached documents that change.
 * 0, or VK_ENOTFOUND when no row has that kind. */
int vk_openapi_set_schema(vk_openapi_t *o, const char *group, const char *version,
                          const char *kind, const json_t *schema);

/* The serialized document for a request path without query string:
 * "/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1",
 * "/openapi/v2". *body (length *len) and *etag (a quoted-free hex hash,
 * stable while the resource table is the same) are borrowed from o and live
 * until vk_openapi_free. 0, or VK_ENOTFOUND for an unknown path or group
 * version. Serve with Content-Type application/json (v2: only when the client
 * accepts JSON; kubectl's v2 request asks for protobuf first, answer 406 when
 * JSON is not acceptable). */
int vk_openapi_get(vk_openapi_t *o, const char *path, const char **body, size_t *len,
                   const char **etag);

/* The /openapi/v2 document in the protobuf encoding (gnostic
 * openapi_v2.Document) that kubectl 1.27/1.28 (explain, apply) and client-go's
 * OpenAPISchema() ask for with Accept: VK_OPENAPI_V2_PROTOBUF. Serve it with
 * that Content-Type. body, len and etag are borrowed from o. Returns 0. */
#define VK_OPENAPI_V2_PROTOBUF "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
int vk_openapi_get_v2_protobuf(vk_openapi_t *o, const char **body, size_t *len, const char **etag);

/* Document builders (uncached; caller frees with json_decref). group "" is core. */
json_t *vk_openapi_v3_gv(const vk_openapi_resource_t *res, size_t n, const char *group,
                         const char *version, const char *kube_version);
json_t *vk_openapi_v2(const vk_openapi_resource_t *res, size_t n, const char *kube_version);

#endif
