/* defaults: the defaulting kube-apiserver applies to built-in kinds before
 * validation (SetDefaults_* of core/v1, apps/v1, batch/v1, rbac, ...), plus the
 * few values its registry strategies and default admission plugins fill in
 * (Namespace finalizers, Job selectors, a Pod's service account, priority and
 * not-ready/unreachable tolerations, allocated Service fields kept on update).
 * Pure functions over jansson objects: no I/O, no allocation kept.
 *
 * Called by the REST layer (proxy/apiserver.c) on every create and update, after
 * decoding the body and before proxy/validate.h:
 *     create: vk_defaults_apply(g, v, kind, obj);
 *             (set metadata.uid first: Job selectors are derived from it)
 *             if kind is Pod: vk_defaults_pod_admission(obj);
 *     update: vk_defaults_apply(g, v, kind, obj);
 *             vk_defaults_keep_allocated(g, kind, obj, old);
 * Kinds it does not know are left unchanged. */
#ifndef VK_DEFAULTS_H
#define VK_DEFAULTS_H

#include <jansson.h>

/* Fills unset fields of obj (borrowed, modified in place) with the defaults of
 * group/version/kind ("" is the core group). Pod templates inside workloads get
 * the Pod defaults. Never fails: wrong-typed fields are left for validation. */
void vk_defaults_apply(const char *group, const char *version, const char *kind, json_t *obj);

/* What the ServiceAccount, Priority and DefaultTolerationSeconds admission
 * plugins add to a Pod on create: serviceAccountName/serviceAccount "default",
 * priority 0, preemptionPolicy PreemptLowerPriority, and the 300s
 * not-ready/unreachable NoExecute tolerations. pod is borrowed, modified. */
void vk_defaults_pod_admission(json_t *pod);

/* What the ServiceAccount admission plugin mounts on create: a projected
 * volume "kube-api-access-<suffix>" (token for 3607 s, kube-root-ca.crt's
 * ca.crt, the namespace) mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container and init
 * container. Nothing is added when automount is 0 (the pod's or its service
 * account's automountServiceAccountToken is false; the caller decides, the
 * pod's own field is also honoured here) or when a container already mounts
 * that path. suffix is 5 random characters of [bcdfghjklmnpqrstvwxz2456789]
 * chosen by the caller (this module has no randomness). pod is modified. */
void vk_defaults_pod_token_volume(json_t *pod, const char *suffix, int automount);

/* On update, carries over values the registry allocated and a client may omit
 * in a PUT (Service clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy, nodePorts,
 * healthCheckNodePort), as kube-apiserver's service registry does.
 * obj is modified, old is borrowed and unchanged. */
void vk_defaults_keep_allocated(const char *group, const char *kind, json_t *obj,
                                const json_t *old);

#endif
