/* validate: kube-apiserver's validation of built-in kinds, for what users hit
 * daily: object and namespace names (per kind), generateName, labels,
 * annotations, immutable metadata on update, Pod specs (containers, ports,
 * volumes and mounts, enums, resources, immutability on update), Services,
 * ConfigMaps/Secrets, apps/v1 workloads, Jobs/CronJobs, Namespaces, RBAC.
 * Errors are reported as upstream's field errors, with the same field paths,
 * reasons and messages, so clients see what a real cluster says.
 * Pure functions over jansson objects, no I/O.
 *
 * Called by the REST layer (proxy/apiserver.c) on create and update, after
 * proxy/defaults.h has defaulted the new object:
 *     json_t *causes = json_array();
 *     if (vk_validate_object(group, kind, obj, old_or_NULL, causes) == VK_EINVALID) {
 *         char *msg = vk_validate_message(group, kind, name, causes);
 *         ... answer 422 Status{reason: Invalid, message: msg,
 *             details: {name, group, kind: <the Kind, "Pod">, causes}} ...
 *         free(msg);
 *     }
 *     json_decref(causes);
 * Status subresource writes are not validated here (only metadata). */
#ifndef VK_VALIDATE_H
#define VK_VALIDATE_H

#include <jansson.h>

/* Validates obj (borrowed) of group/kind ("" is the core group); old is the
 * stored object on update, NULL on create. Appends one object
 * {"reason", "message", "field"} per error to causes (borrowed JSON array;
 * "reason" is e.g. "FieldValueRequired", "message" the error body such as
 * "Required value", "field" the path such as "spec.containers[0].image").
 * Returns 0 when valid, VK_EINVALID when causes were appended. Kinds it does
 * not know get the generic metadata checks only. */
int vk_validate_object(const char *group, const char *kind, const json_t *obj, const json_t *old,
                       json_t *causes);

/* The Status message for a 422: `Pod "x" is invalid: spec.containers[0].image:
 * Required value`, or `Deployment.apps "x" is invalid: [a, b]` for several
 * causes (duplicate messages removed, as upstream's aggregate does).
 * causes is borrowed. Caller frees the result with free(). */
char *vk_validate_message(const char *group, const char *kind, const char *name,
                          const json_t *causes);

/* Appends one cause (as vk_validate_object does) to causes. For callers that
 * check something themselves (for example a namespace that is terminating).
 * reason/field/message are copied. */
void vk_validate_add_cause(json_t *causes, const char *reason, const char *field,
                           const char *message);
/* The same with a printf-style message. */
void vk_validate_add_causef(json_t *causes, const char *reason, const char *field,
                            const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
