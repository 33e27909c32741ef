/* reconcile: the syncer's decisions, as pure functions. Given the tenant's
 * objects and the host objects of the tenant's host namespace, it returns the
 * plan that makes both sides agree: host objects to create, patch or delete,
 * tenant pod statuses to write and tenant pods to delete. Only host objects
 * carrying this tenant's marks (vk_translate_is_ours) are ever patched or
 * deleted; a host object with a wanted name that is not ours is reported as a
 * conflict and left alone.
 *
 * Used by the syncer loop on start, after a watch restarts, and per event
 * (with one-element lists). A plan is a JSON array of actions:
 *   {"op":"host-create",  "kind", "name", "object"}
 *   {"op":"host-patch",   "kind", "name", "patch"}   RFC 6902 JSON patch, with
 *                                                    "test" ops guarding it
 *   {"op":"host-delete",  "kind", "name", "uid", "gracePeriodSeconds"?, "reason"}
 *   {"op":"tenant-status","namespace", "name", "uid", "status", "nodeName"?}
 *   {"op":"tenant-delete","namespace", "name", "uid", "reason"}
 *   {"op":"conflict",     "kind", "name", "reason"}
 * "name" is the host name; the syncer executes actions in order. */
#ifndef VK_RECONCILE_H
#define VK_RECONCILE_H

#include <jansson.h>

#include "syncer/translate.h"

/* Pods. tenant_pods: the tenant's pods (array, borrowed); host_pods: the host
 * pods of the host namespace (array, borrowed; others' are ignored). Returns
 * a new plan array. Tenant pods that cannot be translated (unsafe, invalid)
 * yield {"op":"tenant-reject","namespace","name","uid","reason"}. */
json_t *vk_reconcile_pods(const vk_translate_ctx_t *ctx, const json_t *tenant_pods,
                          const json_t *host_pods);

/* The ConfigMaps and Secrets a tenant pod needs on the host: a new object
 * {"configmaps": [names], "secrets": [names], "pvcs": [names], "serviceAccount": name} (tenant
 * names; the service account's token secret is made by the syncer). */
json_t *vk_reconcile_pod_refs(const json_t *tenant_pod);

/* ConfigMaps or Secrets (kind "ConfigMap"/"Secret"): wanted is the array of
 * tenant objects that must exist on the host (those referenced by pods),
 * host_objs the host objects of that kind in the host namespace. Plan:
 * create the missing, patch those whose content differs (data, binaryData,
 * type, labels, annotations), delete our own that are no longer wanted. */
json_t *vk_reconcile_configs(const vk_translate_ctx_t *ctx, const char *kind,
                             const json_t *wanted, const json_t *host_objs);

/* Services: every tenant Service gets a host Service (selector translated,
 * ClusterIP chosen by the host); ports and selector changes are patched; our
 * host Services without a tenant Service are deleted. When the host has
 * assigned a ClusterIP the tenant does not show yet:
 *   {"op":"tenant-service-ip","namespace","name","uid","clusterIP","clusterIPs"} */
json_t *vk_reconcile_services(const vk_translate_ctx_t *ctx, const json_t *tenant_svcs,
                              const json_t *host_svcs);

/* PersistentVolumeClaims. tenant_pvcs: every tenant claim (array);
 * wanted: {namespace: {claim name: true}} of the claims live pods use;
 * host_pvcs: the host claims of the host namespace. A used claim missing on
 * the host is created; a synced claim stays while the tenant claim exists
 * (it outlives its pods, as a claim does), its host status is shown in the
 * tenant:
 *   {"op":"tenant-pvc-status","namespace","name","uid","status","volumeName"?}
 * and our host claims whose tenant claim is gone are deleted. */
json_t *vk_reconcile_pvcs(const vk_translate_ctx_t *ctx, const json_t *tenant_pvcs,
                          const json_t *wanted, const json_t *host_pvcs);

#endif
