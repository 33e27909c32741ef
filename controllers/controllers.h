/* controllers: the workload controllers that run inside the tenant process
 * (what kube-controller-manager is to a real cluster): ReplicaSet, Deployment,
 * StatefulSet and DaemonSet (with ControllerRevisions, as upstream), Job and
 * CronJob. Names match a real cluster's: ReplicaSets carry upstream's
 * pod-template-hash, revisions upstream's hashes (tests/controllers,
 * e2e/suites/55-controllers-host). They watch and write through proxy/client, i.e. through the tenant's
 * own API handler (authorization, validation, resourceVersion, watches), as the
 * user "system:kube-controller-manager" in group "system:masters". On start
 * they list everything again, so a restarted tenant picks up where it was.
 *
 * Started by cli/serve after the API layer exists; runs on the tenant's loop.
 * The pure parts (template hash, rolling-update arithmetic) are public for the
 * unit tests in tests/controllers/. */
#ifndef VK_CONTROLLERS_H
#define VK_CONTROLLERS_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "proxy/client.h"
#include "proxy/http.h"

typedef struct vk_controllers vk_controllers_t;

/* Starts the controllers; requests go through handler(ctx, req) (the API
 * server's vk_apiserver_handle). Caller stops them with vk_controllers_stop. */
vk_controllers_t *vk_controllers_start(uv_loop_t *loop, vk_http_handler_cb handler, void *ctx);
/* Stops watching; requests in flight finish quietly, then everything is freed
 * and done_cb(arg) runs (may be NULL). Free the API layer only after that. */
void vk_controllers_stop(vk_controllers_t *k, void (*done_cb)(void *arg), void *arg);

/* ---- Pure logic (exposed for tests) ---- */
/* FNV-32a of data. */
uint32_t vk_controllers_fnv32a(const void *data, size_t len);
/* Upstream's rand.SafeEncodeString: each byte of s mapped onto
 * "bcdfghjklmnpqrstvwxz2456789". out must hold strlen(s)+1. */
void vk_controllers_safe_encode(const char *s, char *out);
/* The pod-template-hash of a pod template (borrowed; its pod-template-hash
 * label is ignored) with collisionCount (<0: none), as kube-controller-manager
 * computes it: FNV-32a over the text upstream's hash printer (spew "%#v" of the
 * typed v1.PodTemplateSpec) gives, then the count as 8 little-endian bytes,
 * rendered as the safe-encoded decimal. out needs 16 bytes. */
void vk_controllers_template_hash(json_t *tmpl, long collision_count, char *out);
/* The text that hash is taken over. *exact (may be NULL) is set to 0 when the
 * template holds something the printer cannot reproduce (a set timestamp, a
 * quantity that needs arbitrary precision, a JSON value of the wrong type).
 * Caller frees with free(). */
char *vk_controllers_template_dump(json_t *tmpl, int *exact);
/* An IntOrString (int, "N" or "P%") against total; round_up for maxSurge.
 * Returns the value, or -1 if v is malformed. NULL v gives dflt. */
long vk_controllers_int_or_percent(json_t *v, long total, int round_up, long dflt);
/* Rolling update numbers: maxSurge and maxUnavailable for replicas (both 0 is
 * turned into maxUnavailable 1, as upstream). */
void vk_controllers_surge_unavailable(json_t *rolling, long replicas, long *surge,
                                      long *unavailable);
/* How many replicas the new ReplicaSet may add now (RollingUpdate). */
long vk_controllers_new_rs_scale_up(long desired, long surge, long all_replicas,
                                    long new_replicas);
/* How many old replicas may be removed now: all_replicas (spec sum),
 * min_available = desired - unavailable, new RS's unavailable pods. */
long vk_controllers_max_scale_down(long all_replicas, long min_available,
                                   long new_unavailable);

/* A parsed cron schedule (standard 5 fields, names, ranges, steps, lists, and
 * @yearly/@annually/@monthly/@weekly/@daily/@midnight/@hourly), in UTC. */
typedef struct vk_controllers_cron {
    uint64_t minute; /* bit per value */
    uint32_t hour, dom;
    uint16_t month;
    uint8_t dow;
    int dom_star, dow_star; /* "*" (no step): day matching ANDs instead of ORs */
} vk_controllers_cron_t;
/* 0, or -1 if spec is not a valid schedule. */
int vk_controllers_cron_parse(const char *spec, vk_controllers_cron_t *out);
/* The first scheduled time (Unix seconds) strictly after `after`, or -1 if
 * none within 5 years. */
long long vk_controllers_cron_next(const vk_controllers_cron_t *c, long long after);

/* ---- Endpoints and EndpointSlices (controllers/endpoints.c) ---- */
/* For every Service with a selector: an Endpoints object of the same name and
 * EndpointSlices "<svc>-xxxxx" (managed-by endpointslice-controller.k8s.io)
 * from the selected pods that have a status.podIP. Started and stopped by
 * vk_controllers_start/stop; its own client and informers, except pods: a
 * pod informer to share (borrowed; keeping at least
 * VK_CONTROLLERS_ENDPOINTS_POD_FIELDS; its client closed no later than this
 * controller is stopped), or NULL for its own. */
typedef struct vk_controllers_endpoints vk_controllers_endpoints_t;
vk_controllers_endpoints_t *vk_controllers_endpoints_start(uv_loop_t *loop,
                                                           vk_http_handler_cb handler, void *ctx,
                                                           vk_client_informer_t *pods);
/* The pod fields the endpoints controller reads (vk_client_informer_keep). */
#define VK_CONTROLLERS_ENDPOINTS_POD_FIELDS                                                        \
    (const char *const[]) {                                                                        \
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.deletionTimestamp",       \
            "metadata.labels", "spec.nodeName", "spec.hostname", "spec.subdomain",                 \
            "spec.containers.name", "spec.containers.ports", "status.phase", "status.conditions",  \
            "status.podIP", "status.podIPs", NULL                                                  \
    }
/* Like vk_controllers_stop: done_cb(arg) once everything is freed. */
void vk_controllers_endpoints_stop(vk_controllers_endpoints_t *e, void (*done_cb)(void *arg),
                                   void *arg);
/* 1 if svc's spec.selector (non-empty map) matches pod's labels. */
int vk_controllers_endpoints_selects(const json_t *svc, const json_t *pod);
/* Endpoints.subsets for svc from pods (array, borrowed; pods of svc's
 * namespace that it selects): ready pods in addresses, others in
 * notReadyAddresses, one subset per distinct resolved port list; terminal
 * pods and pods without an IPv4 podIP left out; terminating ones too unless
 * publishNotReadyAddresses. New reference. */
json_t *vk_controllers_endpoints_subsets(const json_t *svc, const json_t *pods);
/* EndpointSlice endpoints for the same input (terminating pods included with
 * ready=false, terminating=true); *ports_out gets the slice ports (new
 * reference). New reference. */
json_t *vk_controllers_endpoints_slice_endpoints(const json_t *svc, const json_t *pods,
                                                 json_t **ports_out);

/* ---- ResourceQuota status (controllers/quota.c) ---- */
/* Keeps status.hard and status.used of every ResourceQuota (the tenant-wide
 * quota of proxy/quota.h counts every namespace). pods: a pod informer to
 * count pods from (borrowed; keeping at least VK_CONTROLLERS_QUOTA_POD_FIELDS;
 * its client closed no later than this controller is stopped), or NULL to
 * list them at every recount. */
typedef struct vk_controllers_quota vk_controllers_quota_t;
vk_controllers_quota_t *vk_controllers_quota_start(uv_loop_t *loop, vk_http_handler_cb handler,
                                                   void *ctx, vk_client_informer_t *pods);
/* The pod fields vk_quota_object_usage and vk_quota_scopes_match read. */
#define VK_CONTROLLERS_QUOTA_POD_FIELDS                                                            \
    (const char *const[]) {                                                                        \
        "metadata.name", "metadata.namespace", "metadata.deletionTimestamp",                       \
            "metadata.deletionGracePeriodSeconds", "spec.containers.resources",                    \
            "spec.initContainers.resources", "spec.initContainers.restartPolicy", "spec.overhead", \
            "spec.activeDeadlineSeconds", "spec.priorityClassName", "spec.affinity",               \
            "status.phase", NULL                                                                   \
    }
void vk_controllers_quota_stop(vk_controllers_quota_t *q, void (*done_cb)(void *arg), void *arg);

#endif
