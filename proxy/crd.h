/* crd: CustomResourceDefinitions (apiextensions.k8s.io/v1) as kube-apiserver
 * handles them, in pure functions over jansson values:
 *   - validating a CRD on create/update (names, group, scope, versions,
 *     conversion, subresources, printer columns, schemas via proxy/crdschema.h),
 *   - its status: acceptedNames, conditions NamesAccepted / Established (names
 *     conflicting with other resources of the group: NamesAccepted False),
 *     plus one vkube condition "UnsupportedFeatures" naming what this server
 *     does not do (x-kubernetes-validations CEL rules — accepted, listed, not
 *     enforced; webhook conversion — only the storage version is served),
 *   - the resource rows (proxy/resources.h) of its served versions,
 *   - apiVersion rewriting between versions (conversion None),
 *   - Table columns and cells from additionalPrinterColumns,
 *   - the scale subresource (autoscaling/v1 Scale) from the replica paths,
 *   - the schema to publish in OpenAPI (proxy/openapi.h).
 * No I/O, no global state. Called by the REST layer (proxy/apiserver.c,
 * proxy/rest.c, proxy/table.c) on the loop thread.
 *
 * WIRING (what the API server calls, where). The server keeps the stored
 * CRDs in memory (json, by "<plural>.<group>", loaded at start and kept in
 * step with writes to customresourcedefinitions); `crd` below is the CRD of
 * the row being served (find it by row->group + row->kind).
 *  CRD create/update (after vk_defaults_apply; on create first
 *    vk_crd_prepare_create(crd)):
 *    n = vk_crd_validate(crd, old_or_NULL, causes) -> 422 with
 *      vk_validate_message("apiextensions.k8s.io", "CustomResourceDefinition", name, causes);
 *    w = vk_crd_warnings(crd) -> one Warning header each;
 *    after the write commits: vk_crd_rows_remove(old_or_crd, table);
 *      st = vk_crd_status(crd, table, now, &ok); write st as the CRD's
 *      status (a second write, as upstream's controllers do, so watchers and
 *      `kubectl wait --for condition=Established` see it); if ok:
 *      vk_crd_rows_add(crd_with_status, table);
 *    rebuild OpenAPI: vk_openapi_free(o); o = vk_openapi_new_from_resources(
 *      table, ver); for every CRD: vk_crd_openapi_apply(crd, o); drop the
 *      discovery caches/ETags.
 *  CRD delete (proxy/crdserve.c): upstream adds finalizer customresourcecleanup.
 *    apiextensions.k8s.io on create; on delete: condition Terminating=True,
 *    delete every object under vk_resources_key(row, NULL, NULL) (one prefix
 *    for all versions), Terminating=False and the finalizer removed; once the
 *    CRD is gone vk_crd_rows_remove, rebuild OpenAPI.
 *  Custom object writes (rest.c default_and_validate, VK_RES_CUSTOM): the
 *    short way is one call, rc = vk_crd_write(crd, row->version, obj, old,
 *    flags, &res) (flags: STRICT for fieldValidation=Strict, MAIN_STATUS on
 *    the main resource of a row with VK_RES_STATUS, STATUS_ONLY on /status);
 *    Warn: res.pruned -> `unknown field "<p>"` headers; rc -> 400/422/500
 *    with res.message (422: details.causes = res.causes, details.kind =
 *    Kind). It does, with schema = vk_crd_schema(crd, row->version):
 *    1. pruned = json_array(); vk_crdschema_prune(schema, obj, pruned)
 *       (instead of vk_schema_unknown_fields); fieldValidation Strict and
 *       pruned not empty: 400 vk_crd_strict_error(kind, version, pruned);
 *       Warn: header `unknown field "<path>"` per path; Ignore: nothing.
 *    2. vk_crdschema_default(schema, obj).
 *    3. status subresource rules as for built-ins (main resource keeps the
 *       old status / none on create; /status keeps the old spec).
 *    4. causes: vk_validate_object(group, kind, obj, old, causes) (metadata),
 *       vk_crdschema_validate_update(schema, obj, old, causes) (old in the
 *       same version, NULL on create), and if VK_RES_SCALE
 *       vk_crd_scale_validate(crd, version, obj, causes); 422 with
 *       vk_validate_message(group, kind, name, causes), details.kind = Kind.
 *       Same on /status writes (upstream validates the whole object).
 *    5. store at the storage version: vk_crd_convert(crd, obj,
 *       vk_crd_storage_version(crd), &err) (webhook CRDs: VK_EINTERNAL, 500).
 *  Custom object reads (get, list items, watch events): vk_crd_read(crd,
 *    row->version, obj, &err) = vk_crd_convert to the version, then its
 *    defaults (upstream defaults on read too).
 *  Patches: JSON and merge patch as for built-ins, then the write steps;
 *    strategic: 415 (already in rest.c); apply: vk_apply_opts_t.schema =
 *    vk_patch_schema_openapi, schema_ctx = &(vk_patch_openapi_t){schema, pool}.
 *  Tables (table.c, VK_RES_CUSTOM): columns vk_crd_table_columns(crd,
 *    version), rows vk_crd_table_row(crd, version, obj, now) (+ "object").
 *  Scale (VK_RES_SCALE custom rows): GET vk_crd_scale_get; PUT/PATCH: patch
 *    the Scale from vk_crd_scale_get, then vk_crd_scale_set(crd, version,
 *    obj, scale, causes) (VK_EINVALID -> 422 for kind Scale).
 *  Discovery: nothing extra; the rows carry short names, categories, scope,
 *    status/scale flags; vk_crd_rows gives a CRD's versions in
 *    vk_crd_version_cmp order, so table order = discovery order, the first
 *    one preferred. The syncer skips VK_RES_CUSTOM. */
#ifndef VK_CRD_H
#define VK_CRD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/resources.h"

/* ---- the CRD object ------------------------------------------------------ */

/* Validates a CRD (borrowed; defaulted by proxy/defaults.c first); old is
 * the stored CRD on update, NULL on create. Appends causes in the format of
 * proxy/validate.h (answer 422 with vk_validate_message("apiextensions.k8s.io",
 * "CustomResourceDefinition", name, causes)). Returns the number appended. */
size_t vk_crd_validate(const json_t *crd, const json_t *old, json_t *causes);

/* Warnings to send (one `Warning: 299 - "<text>"` header each) when a CRD is
 * created or updated: features accepted but not implemented here (CEL rules,
 * webhook conversion). New JSON array of strings (maybe empty); caller
 * json_decref's it. */
json_t *vk_crd_warnings(const json_t *crd);

/* Computes the CRD's status (new reference, caller json_decref's it) from
 * its spec, its current status (kept: storedVersions, lastTransitionTimes of
 * unchanged conditions) and the resource table `res` (borrowed), which must
 * not hold this CRD's own rows (remove them with vk_crd_rows_remove first).
 * now is the RFC 3339 time for lastTransitionTime of changed conditions.
 * *accepted (may be NULL) is set to 1 when the names are accepted: then add
 * the rows of vk_crd_rows, else serve nothing. */
json_t *vk_crd_status(const json_t *crd, const vk_resources_t *res, const char *now,
                      int *accepted);

/* Create strategy: resets status to what kube-apiserver stores with a new
 * CRD ({acceptedNames: {plural: "", kind: ""}, storedVersions: [<storage
 * version>]}) before the write; vk_crd_status fills in the rest after. */
void vk_crd_prepare_create(json_t *crd);

/* Orders version names as Kubernetes does (apimachinery's
 * CompareKubeAwareVersionStrings): GA before beta before alpha before
 * other names; higher major, then higher minor first; other names
 * alphabetically. Negative when a sorts first. For discovery's version
 * order and preferred version (the first). */
int vk_crd_version_cmp(const char *a, const char *b);

/* ---- resource rows ------------------------------------------------------- */

typedef struct vk_crd_rows {
    size_t n;
    vk_resource_t *rows; /* one per served version, strings owned by this struct */
} vk_crd_rows_t;

/* The rows for the CRD's served versions (in vk_crd_version_cmp order), with status.acceptedNames (or
 * spec.names when there are none yet). Caller frees with vk_crd_rows_free. */
vk_crd_rows_t *vk_crd_rows(const json_t *crd);
void vk_crd_rows_free(vk_crd_rows_t *r);
/* Adds every row to t (0, or the first error of vk_resources_add; rows added
 * before the error are removed again). */
int vk_crd_rows_add(const json_t *crd, vk_resources_t *t);
/* Removes every run-time row of the CRD's group whose kind is the CRD's
 * accepted kind (all versions). Returns how many were removed. */
size_t vk_crd_rows_remove(const json_t *crd, vk_resources_t *t);

/* ---- versions ------------------------------------------------------------ */

/* The spec.versions[] entry named version, or NULL. Borrowed. */
const json_t *vk_crd_version(const json_t *crd, const char *version);
/* Its schema.openAPIV3Schema, or NULL. Borrowed. */
const json_t *vk_crd_schema(const json_t *crd, const char *version);
/* The storage version's name, or NULL. Borrowed. */
const char *vk_crd_storage_version(const json_t *crd);

/* Converts obj (borrowed, modified in place) to `version` of the CRD's
 * group: conversion None rewrites apiVersion. With strategy Webhook, only an
 * object already at `version` passes; anything else returns VK_EINTERNAL
 * with *err (caller frees with free()) saying webhook conversion is not
 * supported (kube-apiserver answers 500 when a conversion webhook fails).
 * VK_ENOTFOUND when version is not a version of the CRD. */
int vk_crd_convert(const json_t *crd, json_t *obj, const char *version, char **err);

/* ---- the whole write / read pipeline ------------------------------------- */

enum {
    VK_CRD_WRITE_STRICT = 1 << 0,      /* fieldValidation=Strict: unknown fields -> 400 */
    VK_CRD_WRITE_MAIN_STATUS = 1 << 1, /* main resource of a kind with the status
                                          subresource: status comes from old (none on create) */
    VK_CRD_WRITE_STATUS_ONLY = 1 << 2, /* the /status subresource: all but status comes
                                          from old */
};

typedef struct vk_crd_write_result {
    json_t *pruned; /* paths of the pruned unknown fields (Warn: one header each); caller
                       json_decref's it; never NULL after the call */
    json_t *causes; /* the 422 causes with VK_EINVALID, else NULL; caller json_decref's */
    char *message;  /* the error message (400 strict decoding error, 422 Status message,
                       500 conversion), else NULL; caller frees */
} vk_crd_write_result_t;

/* One call for a custom object create/update/patch result at the request's
 * `version`, in upstream's order: prune (with VK_CRD_WRITE_STRICT unknown
 * fields answer VK_EBADREQUEST), default, status rules per flags, validate
 * (metadata via proxy/validate.h, the schema with ratcheting against old,
 * the scale replica paths), then convert obj to the storage version for
 * the store. obj is modified in place; old (borrowed, the stored object,
 * any version) is NULL on create. Returns 0, VK_EBADREQUEST, VK_EINVALID
 * (422: details.kind is the Kind), VK_EINTERNAL (webhook conversion) or
 * VK_ENOTFOUND (version not in the CRD); *res is filled in every case. */
int vk_crd_write(const json_t *crd, const char *version, json_t *obj, const json_t *old,
                 unsigned flags, vk_crd_write_result_t *res);

/* For reads (get, list items, watch events): converts a stored object to
 * `version` and applies that version's defaults. 0 or vk_crd_convert's
 * errors (*err as there). */
int vk_crd_read(const json_t *crd, const char *version, json_t *obj, char **err);

/* ---- tables -------------------------------------------------------------- */

/* columnDefinitions for a Table of the CRD's version: Name, the
 * additionalPrinterColumns, or Age when there are none. New reference. */
json_t *vk_crd_table_columns(const json_t *crd, const char *version);
/* The row {"cells": [...]} for obj (borrowed). now: Unix seconds (ages).
 * New reference. */
json_t *vk_crd_table_row(const json_t *crd, const char *version, const json_t *obj, int64_t now);

/* Evaluates the JSONPath subset printer columns use (".a.b", ".a[0].b",
 * ".a[*].b", ".a['x.y']", ".a[-1]") on obj; a string cell shows the first
 * match only, as upstream. Appends the matched values
 * (borrowed from obj) to out (a JSON array). 0, or VK_EINVALID for a path
 * outside the subset. */
int vk_crd_jsonpath(const json_t *obj, const char *path, json_t *out);

/* ---- scale --------------------------------------------------------------- */

/* The autoscaling/v1 Scale of obj (borrowed) for a version with the scale
 * subresource. New reference in *scale; 0, VK_ENOTFOUND when the version
 * has no scale subresource. */
int vk_crd_scale_get(const json_t *crd, const char *version, const json_t *obj, json_t **scale);
/* Writes scale.spec.replicas (scale borrowed) into obj at specReplicasPath.
 * 0; VK_ENOTFOUND (no scale subresource); VK_EINVALID with causes appended
 * (spec.replicas missing or negative). */
int vk_crd_scale_set(const json_t *crd, const char *version, json_t *obj, const json_t *scale,
                     json_t *causes);
/* Checks, as upstream on every create/update of a resource with a scale
 * subresource, that the value at specReplicasPath (and statusReplicasPath)
 * is absent or a non-negative integer. Appends causes; returns how many. */
size_t vk_crd_scale_validate(const json_t *crd, const char *version, const json_t *obj,
                             json_t *causes);

/* ---- OpenAPI ------------------------------------------------------------- */

/* The schema to give vk_openapi_set_schema for a version (new reference,
 * NULL when the version has none): the openAPIV3Schema; with v2 != 0 in the
 * form upstream publishes in /openapi/v2 (nullable, anyOf/oneOf/allOf/not,
 * x-kubernetes-int-or-string types and x-kubernetes-validations removed, as
 * kubectl's v2 validation cannot use them). */
json_t *vk_crd_openapi_schema(const json_t *crd, const char *version, int v2);

/* Sets, for every served version, the schema of the CRD's kind in o (see
 * proxy/openapi.h; o must have been built from a table holding the CRD's
 * rows). Returns 0 or the first error of vk_openapi_set_schema. */
struct vk_openapi;
int vk_crd_openapi_apply(const json_t *crd, struct vk_openapi *o);

/* ---- fieldValidation ------------------------------------------------------- */

/* The 400 BadRequest message of fieldValidation=Strict for the pruned paths
 * of vk_crdschema_prune (a JSON array of strings, borrowed):
 * `Widget in version "v1" cannot be handled as a Widget: strict decoding
 * error: unknown field "spec.foo", unknown field "spec.bar"`. With Warn,
 * send one header per path instead: `Warning: 299 - "unknown field
 * \"spec.foo\""`. Caller frees with free(). */
char *vk_crd_strict_error(const char *kind, const char *version, const json_t *pruned);

#endif
