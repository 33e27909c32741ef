/* relay: `kubectl logs` on a tenant pod, relayed to its host pod. The tenant
 * request's query (container, follow, previous, timestamps, tailLines,
 * sinceSeconds, sinceTime, limitBytes) is passed on, the path is rewritten to
 * the host pod (tenant's host namespace, translated name), the host client's
 * own credentials are used (tenant credentials are never forwarded), and the
 * host's answer streams back line by line (follow keeps streaming until the
 * tenant client or the host ends it). exec/attach/port-forward upgrades are
 * not relayed yet (vk_relay_pod_log is the only entry).
 *
 * Wiring (cli/serve.c creates the relay with the host client when a host is
 * configured; the REST layer calls it): in proxy/rest.c do_get, where
 * `c->sub` is "log" and load_current found the pod, instead of the 400
 * "logs are not available without a host" answer:
 *     if (relay) { vk_relay_pod_log(relay, c->req, c->ns, c->name); return; }
 * (the relay pointer reaching the REST layer through vk_apiserver_config_t).
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
/* Cancels relayed requests in flight (their tenant streams end) and frees. */
void vk_relay_free(vk_relay_t *r);

/* Answers req (GET pods/NAME/log of tenant pod ns/name) with the host pod's
 * log: 200 text/plain streamed, or the host's error status with a Status
 * body. Always answers, also when the host cannot be reached (503). */
void vk_relay_pod_log(vk_relay_t *r, vk_http_req_t *req, const char *ns, const char *name);

#endif
