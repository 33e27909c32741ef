/* operator: the Tenant operator. Watches Tenant objects (tenants.vkube.io/
 * v1alpha1) on a host cluster and, for each, reconciles the host namespace
 * and what lives in it (ResourceQuota, LimitRange, default-deny
 * NetworkPolicy, the syncer's ServiceAccount/Role/RoleBinding, node-read
 * ClusterRoleBinding, the admin kubeconfig Secret), the tenant's control
 * plane (--local: a supervised `vkube serve` child per tenant), status
 * through the status subresource, and cleanup through the finalizer
 * vkube.io/tenant-cleanup. Level-triggered: every pass lists all Tenants and
 * converges each one, so a restarted operator picks up where it stopped.
 *
 * The pure part (what a spec wants on the host) is separate so that it can be
 * unit-tested without a cluster. Called by cli/operator.c and tests/operator. */
#ifndef VK_OPERATOR_H
#define VK_OPERATOR_H

#include <jansson.h>

#include "syncer/tenant.h"

#define VK_OPERATOR_FINALIZER "vkube.io/tenant-cleanup"
#define VK_OPERATOR_FIELD_MANAGER "vkube-operator"
#define VK_OPERATOR_LABEL_TENANT "vkube.io/tenant"
#define VK_OPERATOR_LABEL_MANAGED "vkube.io/managed-by"
#define VK_OPERATOR_SYNCER "vkube-syncer" /* ServiceAccount, Role, RoleBinding name */
#define VK_OPERATOR_WORKLOAD_SA "vkube-workload" /* host pods' ServiceAccount (syncer/translate.h) */

/* The host objects a Tenant wants, in creation order (namespace first): a new
 * JSON array (caller frees with json_decref) of complete objects (apiVersion,
 * kind, metadata with ownership labels, spec), ready for server-side apply.
 * api_host/api_port: where the tenant's API server listens as seen from the
 * host pods' network (the NetworkPolicy allows egress to it); api_host NULL
 * leaves that rule out. */
json_t *vk_operator_desired(const vk_tenant_config_t *cfg, const char *api_host, int api_port);

/* In-cluster control plane (not --local): the API server's Service and
 * StatefulSet (one replica, store on a PVC, `vkube serve` from image) and a
 * NetworkPolicy letting clients reach it. New array (caller decrefs). The
 * certificates come from the Secret VK_OPERATOR_SEED_SECRET. */
#define VK_OPERATOR_API_NAME "vkube-api"
#define VK_OPERATOR_API_PORT 6443
#define VK_OPERATOR_SEED_SECRET "vkube-api-seed"
json_t *vk_operator_control_plane(const vk_tenant_config_t *cfg, const char *image);

/* The Secret holding a tenant's admin kubeconfig (key "kubeconfig"), named
 * vk_operator_secret_name(). New reference. */
json_t *vk_operator_kubeconfig_secret(const vk_tenant_config_t *cfg, const char *kubeconfig);
/* "<tenant>-kubeconfig"; caller frees with free(). */
char *vk_operator_secret_name(const char *tenant);

/* The REST path of an object (apiVersion, kind, metadata.name/namespace), e.g.
 * "/api/v1/namespaces/ns/resourcequotas/q". Caller frees. NULL for a kind the
 * operator does not manage. */
char *vk_operator_object_path(const json_t *obj);

/* Which Tenant owns each host namespace: tenants is a JSON array of Tenant
 * objects (borrowed). The oldest claim (creationTimestamp, then name) wins.
 * Returns a new object tenant name -> name of the Tenant that owns its
 * namespace (itself, or the winner of a conflict). */
json_t *vk_operator_namespace_owners(const json_t *tenants);

/* A condition object {type, status, reason, message, lastTransitionTime}
 * whose lastTransitionTime is copied from the same-type condition in old
 * (an array, may be NULL) when its status did not change, else now. New ref. */
json_t *vk_operator_condition(const json_t *old, const char *type, int status,
                              const char *reason, const char *message, const char *now);

typedef struct vk_operator_opts {
    const char *host_kubeconfig; /* kubeconfig of the host cluster */
    int in_cluster;              /* use the pod's service account instead */
    int local;                   /* run control planes as child processes */
    const char *data_dir;        /* tenant directories (DIR/NAME); scratch space in-cluster */
    const char *image;           /* in-cluster: the vkube image for control planes */
    const char *vkube_bin;       /* the vkube binary for children (NULL: /proc/self/exe) */
    int resync_ms;               /* full pass when idle (0: 30000) */
} vk_operator_opts_t;

/* Runs the operator on its own loops until SIGTERM/SIGINT (SIGPIPE is set to
 * ignored: it owns the process), then stops its children and returns 0; or a negative error (with a message on stderr) if
 * it cannot start. */
int vk_operator_run(const vk_operator_opts_t *opts);

#endif
