/* quota: ResourceQuota admission of the tenant API server (upstream's
 * ResourceQuota admission plugin) and the quota arithmetic it shares with the
 * quota controller (controllers/quota.c): resource.Quantity parsing, sums and
 * upstream's canonical formatting, the usage one object charges, and the
 * "exceeded quota" / "must specify" messages.
 *
 * Creates are checked against every ResourceQuota of the namespace (its
 * status.hard and status.used, as upstream) and against the tenant-wide quota:
 * the Tenant manifest's spec.quota materialised by vk_quota_tenant_install as
 * ResourceQuota kube-system/vkube-tenant-quota, whose usage counts every
 * namespace and which only the platform (the manifest) may change (it never
 * asks pods for requests/limits: on the host the namespace's LimitRange
 * defaults them and the host quota counts those). An
 * admitted create charges the quotas at once (an in-memory overlay plus a
 * status.used write), so a burst of creates cannot overrun a quota before the
 * controller recounts.
 *
 * Called by proxy/rest.c (create, update, delete) and proxy/apiserver.c
 * (install, free) on the tenant's loop thread; the pure functions also by
 * controllers/quota.c and the unit tests. */
#ifndef VK_QUOTA_H
#define VK_QUOTA_H

#include <jansson.h>
#include <stddef.h>

#include "proxy/rest.h"
#include "store/store.h"

#define VK_QUOTA_TENANT_NS "kube-system"
#define VK_QUOTA_TENANT_NAME "vkube-tenant-quota"
/* The user the quota controller writes as (the only one allowed to write the
 * tenant quota's status). */
#define VK_QUOTA_CONTROLLER_USER "system:serviceaccount:kube-system:resourcequota-controller"

/* ---- Quantities (strings as in the API) ---- */
/* Upstream's canonical form of a quantity ("1.5" -> "1500m", "2048Mi" ->
 * "2Gi", "1000" -> "1k"). 0, or -1 if in is not a quantity. */
int vk_quota_qty_canonical(const char *in, char *out, size_t n);
/* Compares two quantities: <0, 0, >0 (an unparsable one counts as 0). */
int vk_quota_qty_cmp(const char *a, const char *b);
/* a + b in a's format (b's when a is zero), canonical. Caller frees. */
char *vk_quota_qty_add(const char *a, const char *b);
/* 1 if the quantity is zero (or unparsable). */
int vk_quota_qty_is_zero(const char *a);

/* ---- Resource lists (JSON objects name -> quantity string) ---- */
/* sum[k] += add[k] for every k of add. */
void vk_quota_list_add(json_t *sum, const json_t *add);
/* The usage an object of group/plural charges: object counts
 * ("count/<plural>[.<group>]" and the legacy names "pods", "services",
 * "configmaps", "secrets", "persistentvolumeclaims", ...), and for pods the
 * compute resources (requests.cpu/memory, limits.cpu/memory, cpu, memory,
 * ephemeral storage, extended "requests.*"; terminal pods charge only
 * count/pods), for services loadbalancers/nodeports, for claims storage. New
 * reference. */
json_t *vk_quota_object_usage(const char *group, const char *plural, const json_t *obj);
/* 1 if the quota resource name rname is charged by objects of group/plural. */
int vk_quota_covers(const char *group, const char *plural, const char *rname);
/* 1 if obj (of group/plural) is in the scopes of quota (spec.scopes and
 * spec.scopeSelector: Terminating, NotTerminating, BestEffort, NotBestEffort,
 * PriorityClass, CrossNamespacePodAffinity); a quota without scopes matches
 * everything, a scoped one only pods. */
int vk_quota_scopes_match(const json_t *quota, const char *group, const char *plural,
                          const json_t *obj);
/* The "exceeded quota: NAME, requested: ..., used: ..., limited: ..." text if
 * used + requested goes over hard for some resource of requested (all
 * borrowed), else NULL. Caller frees. */
char *vk_quota_exceeded(const char *qname, const json_t *hard, const json_t *used,
                        const json_t *requested);
/* For a pod and the hard resource names of a quota: upstream's "must specify
 * limits.cpu for: c1,c2; requests.memory for: c1" when containers lack a
 * request/limit the quota tracks, else NULL. Caller frees. */
char *vk_quota_pod_missing(const json_t *pod, const json_t *hard);

/* ---- Admission (proxy/rest.c) ---- */
/* Checks a create (old NULL) or update of obj by call c against the quotas.
 * Returns 0 to go on, or -1 after answering the request (403 Forbidden with
 * upstream's message). Charges admitted creates unless dryRun. */
int vk_quota_admit(vk_rest_call_t *c, const json_t *obj, const json_t *old);
/* Delete of c's object: -1 (answered 403) for the tenant quota, else 0. */
int vk_quota_admit_delete(vk_rest_call_t *c);
/* Frees the admission state of ctx (c->ctx->quota); writes in flight finish
 * without touching it. */
void vk_quota_ctx_free(vk_rest_ctx_t *ctx);

/* Makes ResourceQuota kube-system/vkube-tenant-quota hold spec.hard = hard (the
 * Tenant manifest's spec.quota, borrowed; NULL or empty removes it). Writes
 * the store directly (asynchronously). 0 or a store error. */
int vk_quota_tenant_install(vk_store_t *store, const json_t *hard);

#endif
