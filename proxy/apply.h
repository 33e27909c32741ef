/* apply: server-side apply and field ownership (metadata.managedFields), as
 * kube-apiserver does with sigs.k8s.io/structured-merge-diff: field sets in
 * the FieldsV1 format ("f:<field>", "k:{<keys>}", "v:<value>", "i:<index>",
 * "." for the node itself), merging an applied configuration into the live
 * object by list type (+listType=map by keys, set, atomic), removing fields
 * the applier stopped applying, and 409 conflicts with other managers.
 *
 * Pure functions over jansson values, no I/O. Called by the REST layer
 * (proxy/apiserver.c): vk_apply for PATCH with application/apply-patch+yaml
 * (the YAML already turned into JSON), vk_apply_track for every other
 * create/update/patch so managedFields stay right. The schema (list types and
 * keys, maps vs structs) comes from the same callback as proxy/patch.h
 * (vk_patch_schema_builtin for built-in kinds). */
#ifndef VK_APPLY_H
#define VK_APPLY_H

#include <jansson.h>

#include "proxy/patch.h"

typedef struct vk_apply_opts {
    const char *manager;       /* field manager: ?fieldManager= or the User-Agent up to '/' */
    const char *api_version;   /* apiVersion of the request ("v1", "apps/v1") */
    const char *subresource;   /* "status", "scale" or NULL for the main resource */
    const char *now;           /* RFC3339 time for the entry ("2026-11-25T21:00:00Z") */
    int force;                 /* ?force=true: take conflicting fields */
    vk_patch_schema_cb schema; /* may be NULL: maps merge by key, lists atomic */
    void *schema_ctx;
    /* Top-level fields this endpoint resets and never tracks, NULL-terminated
     * (e.g. {"status", NULL} on the main resource of a kind with a status
     * subresource, {"spec", "metadata", NULL} on /status); may be NULL. */
    const char *const *ignored;
} vk_apply_opts_t;

/* Server-side apply of `config` (borrowed; the applied object as JSON) onto
 * `live` (borrowed; NULL when the object does not exist yet).
 * On success returns 0 and *out is the new object (caller json_decref's it)
 * with metadata.managedFields updated; when the apply changes nothing but
 * ownership, *out is still a new object equal to live except managedFields.
 * Errors, with *err (caller frees with free()):
 *   VK_ECONFLICT  409, "Apply failed with 1 conflict: conflict with
 *                 \"kubectl-client-side-apply\" using v1: .data.a"; *causes
 *                 (if causes is not NULL) gets the Status details.causes array
 *                 [{reason: "FieldManagerConflict", message, field}] (caller
 *                 json_decref's it);
 *   VK_EBADREQUEST 400, e.g. "metadata.managedFields must be nil";
 *   VK_EINVALID   422, e.g. a list item without its key field. */
int vk_apply(const json_t *live, const json_t *config, const vk_apply_opts_t *o, json_t **out,
             json_t **causes, char **err);

/* Ownership for an ordinary create (old NULL), update or non-apply patch
 * (operation "Update"): compares old and obj, gives the changed fields to
 * o->manager (taking them from other managers) and rewrites
 * obj.metadata.managedFields in place (obj is borrowed and modified). If obj
 * arrives with managedFields different from old's, those are the starting
 * point (clients may reset them). 0, or VK_EBADREQUEST when managedFields is
 * malformed (*err says why; caller frees). o->force is ignored. */
int vk_apply_track(const json_t *old, json_t *obj, const vk_apply_opts_t *o, char **err);

#endif
