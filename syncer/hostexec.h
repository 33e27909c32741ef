/* hostexec: carries out the host actions of a reconcile plan (syncer/
 * reconcile.h) against the host API server with common/httpc, in plan
 * order, up to 8 requests in flight; an action waits for the answer to an
 * earlier one on the same object (a delete must reach the server before the
 * create of the same name that follows):
 *   host-create -> POST   .../namespaces/<ns>/<resource>
 *   host-patch  -> PATCH  .../<name> (application/json-patch+json)
 *   host-delete -> DELETE .../<name> with preconditions.uid and the grace period
 * Other actions (tenant-*, conflict) are handed to the callback untouched,
 * for the tenant side. Used by the syncer loop; runs on the client's loop. */
#ifndef VK_HOSTEXEC_H
#define VK_HOSTEXEC_H

#include <jansson.h>
#include <stdint.h>

#include "common/httpc.h"

typedef struct vk_hostexec vk_hostexec_t;

/* After each action: status is the HTTP status (0 for actions not run here),
 * or a negative error (transport, unknown kind); resp the response body when
 * it was JSON (borrowed, may be NULL). */
typedef void (*vk_hostexec_each_cb)(void *data, const json_t *action, int status,
                                    const json_t *resp);
/* After the last action: failures counts host actions answered with neither
 * 2xx nor an expected outcome (404 on delete, 409 on create count as done). */
typedef void (*vk_hostexec_done_cb)(void *data, int failures);

/* Starts executing plan (a reference is taken) in host namespace ns. 0 and
 * done_cb will run (never from inside this call), or a negative error.
 * *out (may be NULL) can be given to vk_hostexec_cancel until done_cb runs. */
int vk_hostexec_run(vk_httpc_t *c, const char *ns, json_t *plan, uint64_t timeout_ms,
                    vk_hostexec_each_cb each, vk_hostexec_done_cb done, void *data,
                    vk_hostexec_t **out);
/* Stops after the request in flight is cancelled; done_cb runs (before this
 * returns) with the failures so far plus one. */
void vk_hostexec_cancel(vk_hostexec_t *x);

/* The REST resource of a kind ("Pod" -> "pods"), or NULL if not synced. */
const char *vk_hostexec_resource(const char *kind);

#endif
