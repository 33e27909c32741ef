/* translate: the syncer's pure tenant <-> host object translation. No I/O:
 * every function takes JSON objects and returns new ones.
 *
 * Tenant -> host: names become "<name>-x-<namespace>-x-<tenant>" (hashed when
 * longer than 63), objects land in the tenant's host namespace and carry the
 * vkube marks (labels vkube.io/managed-by, vkube.io/namespace; annotations
 * vkube.io/object-name, -namespace, -uid, -kind); tenant label/annotation
 * keys under vkube.io are moved to t.vkube.io (reversibly); pods get their
 * references rewritten, the tenant's service-account token instead of a host
 * one, the tenant API server as KUBERNETES_SERVICE_HOST/PORT and the isolation
 * policy, whatever the tenant wrote.
 * Host -> tenant: pod status, nodes (no host secrets) and events.
 *
 * Used by the syncer loop (syncer/) and its tests. */
#ifndef VK_TRANSLATE_H
#define VK_TRANSLATE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "syncer/tenant.h"

/* The host service account every tenant pod runs as (no host permissions). */
#define VK_TRANSLATE_WORKLOAD_SA "vkube-workload"
/* Where the tenant token is mounted in tenant containers. */
#define VK_TRANSLATE_SA_MOUNT "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct vk_translate_ctx {
    const vk_tenant_config_t *tenant; /* borrowed */
    const char *api_host;  /* tenant API server as host pods reach it (KUBERNETES_SERVICE_HOST) */
    const char *api_port;  /* its port, e.g. "6443" */
} vk_translate_ctx_t;

/* "<name>-x-<namespace>-x-<tenant>", or its first 52 characters + "-" + the
 * first 10 hex digits of its SHA-256 when longer than 63. Caller frees. */
char *vk_translate_host_name(const char *name, const char *ns, const char *tenant);
/* Host name of the Secret holding the tenant token of pod ns/pod
 * ("vkube-token-<pod>" translated). Caller frees. */
char *vk_translate_token_secret_name(const char *ns, const char *pod, const char *tenant);

/* Tenant label/annotation key -> host key ("vkube.io/x" -> "t.vkube.io/x") and
 * back. Caller frees. The host form of a key may be invalid (too long): the
 * caller validates. */
char *vk_translate_key_to_host(const char *key);
char *vk_translate_key_to_tenant(const char *key);

/* Pod, tenant -> host. tenant_pod is borrowed. Returns 0 and *out (new), or
 * VK_EFORBIDDEN (host namespaces/network, privileged, hostPath: never sent
 * to the host) / VK_EINVALID (missing name, unsupported volume source, name
 * too long) with a message in err. */
int vk_translate_pod_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_pod,
                             json_t **out, char *err, size_t errlen);

/* ConfigMap or Secret, tenant -> host (service-account-token Secrets become
 * Opaque so that the host never fills them). 0, or VK_EINVALID. */
int vk_translate_config_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_obj,
                                json_t **out, char *err, size_t errlen);

/* Marks of a token Secret: label (service account) and annotations (the
 * pod it is bound to, issue and expiry times in Unix seconds). */
#define VK_TRANSLATE_TOKEN_FOR "vkube.io/token-for"
#define VK_TRANSLATE_TOKEN_POD "vkube.io/token-pod"
#define VK_TRANSLATE_TOKEN_POD_UID "vkube.io/token-pod-uid"
#define VK_TRANSLATE_TOKEN_IAT "vkube.io/token-iat"
#define VK_TRANSLATE_TOKEN_EXP "vkube.io/token-exp"

/* The host Secret with the tenant token of pod ns/pod (uid pod_uid, service
 * account sa), a JWT bound to the pod issued at iat and expiring at exp:
 * keys token, ca.crt, namespace; the marks above. New object. */
json_t *vk_translate_token_secret(const vk_translate_ctx_t *ctx, const char *ns, const char *pod,
                                  const char *pod_uid, const char *sa, const char *token,
                                  int64_t iat, int64_t exp, const char *ca_pem);

/* Service, tenant -> host: selector translated to host labels, ClusterIP
 * left to the host (None kept), NodePort/LoadBalancer become ClusterIP,
 * externalIPs dropped. 0, or VK_EINVALID. */
int vk_translate_service_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_svc,
                                 json_t **out, char *err, size_t errlen);

/* PersistentVolumeClaim, tenant -> host: accessModes, resources,
 * storageClassName (as the tenant wrote it: the host's storage classes
 * serve the tenant's claims), volumeMode; volumeName, selector and data
 * sources dropped (they name tenant objects). 0, or VK_EINVALID. */
int vk_translate_pvc_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_pvc, json_t **out,
                             char *err, size_t errlen);
/* The claim status to show in the tenant (phase, accessModes, capacity,
 * conditions, allocated resources): a new object; *volume_name (borrowed from
 * host_pvc, NULL when unbound) is the host PersistentVolume it is bound to. */
json_t *vk_translate_pvc_status_to_tenant(const json_t *host_pvc, const char **volume_name);

/* A tenant label selector map (Service.spec.selector) -> the host labels
 * that select the same pods of this tenant namespace. New object. */
json_t *vk_translate_selector_to_host(const vk_translate_ctx_t *ctx, const char *ns,
                                      const json_t *selector);

/* The pod status to write to the tenant: a new status object (phase,
 * conditions, IPs, container statuses, start time, ...), and *node_name
 * (borrowed from host_pod, NULL when not scheduled) for spec.nodeName. */
json_t *vk_translate_pod_status_to_tenant(const json_t *host_pod, const char **node_name);

/* A host Node as the tenant sees it: name, allowlisted labels (os/arch,
 * hostname, instance type, zone, vkube.io/ keys, kata), capacity/allocatable,
 * conditions, nodeInfo without machine ids, addresses and kubelet port
 * pointing at the tenant API server. No annotations, taints or images. */
json_t *vk_translate_node_to_tenant(const vk_translate_ctx_t *ctx, const json_t *host_node);

/* A host Event about a host object, as an Event about the tenant object
 * (tenant_ns/tenant_name/tenant_uid; host names in the message replaced). */
json_t *vk_translate_event_to_tenant(const vk_translate_ctx_t *ctx, const json_t *host_event,
                                     const char *tenant_ns, const char *tenant_name,
                                     const char *tenant_uid);

/* 1 if host_obj carries this tenant's marks and lives in its host namespace:
 * the only objects the syncer may update or delete. */
int vk_translate_is_ours(const vk_translate_ctx_t *ctx, const json_t *host_obj);
/* The tenant object a marked host object stands for (borrowed strings;
 * NULL when absent). 0 or VK_ENOTFOUND when the object is not ours. */
int vk_translate_tenant_ref(const vk_translate_ctx_t *ctx, const json_t *host_obj,
                            const char **ns, const char **name, const char **uid,
                            const char **kind);

#endif
