/* relay: `kubectl logs` on a tenant pod, relayed to its host pod. The tenant
 * request's query (container, follow, previous, timestamps, tailLines,
 * sinceSeconds, sinceTime, limitBytes) is passed on, the path is rewritten to
 * the host pod (tenant's host namespace, translated name), the host client's
 * own credentials are used (tenant credentials are never forwarded), and the
 * host's answer streams back line by line (follow keeps streaming until the
 * tenant client or the host ends it).
 *
 * exec, attach and port-forward (vk_relay_pod_stream) are relayed as upgraded
 * connections: the tenant's upgrade request (WebSocket: GET with
 * Sec-WebSocket-* headers, kubectl 1.30+, port-forward tunnelling SPDY inside
 * WebSocket from 1.31; SPDY/3.1: POST with X-Stream-Protocol-Version, older
 * kubectl) is sent to the host pod on a connection of its own with the same
 * protocol headers and the tenant's raw query, so the host negotiates the
 * subprotocol the client offered; its 101 answer (Sec-WebSocket-Accept,
 * Sec-WebSocket-Protocol, X-Stream-Protocol-Version) is passed back, and from
 * then on bytes are copied both ways unchanged, with flow control (a side
 * whose peer is more than 1 MiB behind stops being read). A host answer other
 * than 101 is passed back as a Status.
 *
 * Wiring: cli/serve.c creates the relay with the host client when a host is
 * configured and hands it to the API layer through vk_apiserver_config_t:
 * pod_log (called by proxy/rest.c do_get for pods/NAME/log once the tenant
 * pod was found) and pod_stream (called by proxy/apiserver.c for
 * pods/NAME/exec|attach|portforward after RBAC allowed `create` on the
 * subresource and the tenant pod was found). The host pod is always the
 * translation of that tenant pod in the tenant's own host namespace, so no
 * other tenant's pod and no host pod outside it can be reached.
 * Runs on the loop of the host client. */
#ifndef VK_RELAY_H
#define VK_RELAY_H

#include "common/httpc.h"
#include "proxy/http.h"
#include "syncer/tenant.h"

typedef struct vk_relay vk_relay_t;

/* A relay through host (borrowed) for tenant (borrowed); both must outlive
 * it. */
vk_relay_t *vk_relay_new(vk_httpc_t *host, const vk_tenant_config_t *tenant);
/* Cancels relayed requests in flight (their tenant streams end; upgrades
 * still waiting for the host answer 503; relayed streams are closed) and
 * frees. */
void vk_relay_free(vk_relay_t *r);

/* Answers req (GET pods/NAME/log of tenant pod ns/name) with the host pod's
 * log: 200 text/plain streamed, or the host's error status with a Status
 * body. Always answers, also when the host cannot be reached (503). */
void vk_relay_pod_log(vk_relay_t *r, vk_http_req_t *req, const char *ns, const char *name);

/* Answers req (GET or POST pods/NAME/<sub> of tenant pod ns/name, sub
 * "exec", "attach" or "portforward"; the caller authorized it) by relaying
 * the upgrade to the host pod (translated name in the tenant's host
 * namespace; the host client's credentials). Always answers: 101 and the
 * relayed stream, the host's error Status, 400 for a request without
 * Upgrade, 503 when the host cannot be reached. */
void vk_relay_pod_stream(vk_relay_t *r, vk_http_req_t *req, const char *sub, const char *ns,
                         const char *name);

/* Builds the host path of a pods/<sub> request: /api/v1/namespaces/HOSTNS/
 * pods/HOSTNAME/<sub>[?query], query passed on as it is (only the characters
 * a query may hold). Caller frees; NULL if sub or query is not acceptable. */
char *vk_relay_stream_path(const char *host_ns, const char *host_name, const char *sub,
                           const char *query);

/* The 101 answer to send to the tenant, from the host's response headers
 * (name0, value0, ..., NULL; names lower-case): the status line and the
 * upgrade headers the client checks, ending with the empty line. Caller frees. */
char *vk_relay_switching_head(const char *const *host_headers);

#endif
