/* status: Kubernetes `Status` objects (kind Status, apiVersion v1) for errors
 * and for successful deletes, with upstream's message shapes
 * (`configmaps "x" not found`, `deployments.apps "x" already exists`...).
 *
 * Called by the REST layer (proxy/rest.c, proxy/apiserver.c, proxy/watch.c). */
#ifndef VK_STATUS_H
#define VK_STATUS_H

#include <jansson.h>

#include "proxy/resources.h"

/* A failure Status: code is the HTTP status, reason the Kubernetes reason,
 * message free text; res/name fill details{name,group,kind} when non-NULL
 * (kind is the plural resource, as upstream does for most reasons).
 * Returns a new reference (caller decrefs). */
json_t *vk_status_new(int code, const char *reason, const char *message,
                      const vk_resource_t *res, const char *name);
/* The Status for a vk error code with upstream's message for the common
 * codes about an object (NotFound, AlreadyExists, Conflict); msg overrides the
 * message when non-NULL. New reference. */
json_t *vk_status_for_err(int err, const vk_resource_t *res, const char *name, const char *msg);
/* A success Status for a delete: details{name, group, kind, uid}. New reference. */
json_t *vk_status_success(const vk_resource_t *res, const char *name, const char *uid);
/* The HTTP code carried in a Status object (its "code" field, 500 if absent). */
int vk_status_code(const json_t *status);

#endif
