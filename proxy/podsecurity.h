/* podsecurity: Pod Security Standards admission (baseline and restricted
 * levels of the upstream pod-security-admission library): host namespaces,
 * privileged, capabilities, hostPath volumes, hostPorts, AppArmor, SELinux,
 * /proc mount, seccomp, sysctls, Windows hostProcess; restricted adds volume
 * types, privilege escalation, running as non-root, runAsUser=0, seccomp
 * required and capabilities drop ALL. Violations are phrased as upstream
 * phrases them and ordered by check id as upstream does. Pure functions.
 *
 * Called by the REST layer (proxy/apiserver.c) on pod create (and, for
 * warnings, on workload writes):
 *     char *v = vk_podsecurity_check_object(level, group, kind, obj);
 *     if (v && kind is Pod) { msg = vk_podsecurity_forbidden_message(level, "pods", name, v);
 *                             answer 403 Forbidden with msg; }
 *     else if (v) { add header `Warning: 299 - "<vk_podsecurity_warning(level, v)>"` }
 *     free(v);
 * The level is the tenant's (podSecurity: baseline|restricted in the Tenant
 * manifest), or a namespace's pod-security.kubernetes.io/enforce label. */
#ifndef VK_PODSECURITY_H
#define VK_PODSECURITY_H

#include <jansson.h>

typedef enum vk_podsecurity_level {
    VK_PODSECURITY_PRIVILEGED = 0, /* everything allowed */
    VK_PODSECURITY_BASELINE = 1,
    VK_PODSECURITY_RESTRICTED = 2,
} vk_podsecurity_level_t;

/* "privileged" | "baseline" | "restricted" -> *out; 0 or VK_EINVALID. */
int vk_podsecurity_parse_level(const char *s, vk_podsecurity_level_t *out);
/* "privileged", "baseline" or "restricted" (static string). */
const char *vk_podsecurity_level_name(vk_podsecurity_level_t level);

/* The enforce level a namespace asks for with the label
 * pod-security.kubernetes.io/enforce, never weaker than floor; floor when the
 * label is absent or invalid. ns is a Namespace object (borrowed; may be NULL). */
vk_podsecurity_level_t vk_podsecurity_namespace_level(const json_t *ns,
                                                      vk_podsecurity_level_t floor);

/* Checks a pod spec (borrowed) with its pod metadata (borrowed, for the
 * AppArmor annotations; may be NULL) against level. Returns NULL when allowed,
 * else the violations as upstream prints them, e.g.
 * `host namespaces (hostNetwork=true), privileged (container "a" must not set
 * securityContext.privileged=true)`. Caller frees with free(). */
char *vk_podsecurity_check(vk_podsecurity_level_t level, const json_t *pod_meta,
                           const json_t *pod_spec);

/* Finds the pod template of a Pod, PodTemplate, ReplicationController,
 * Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or CronJob and checks
 * it. NULL when allowed or when the kind has no pod template. Caller frees. */
char *vk_podsecurity_check_object(vk_podsecurity_level_t level, const char *group,
                                  const char *kind, const json_t *obj);
/* 1 if objects of this kind carry a pod spec that vk_podsecurity_check_object
 * checks (the kinds listed above), else 0. */
int vk_podsecurity_applies(const char *group, const char *kind);

/* `pods "x" is forbidden: violates PodSecurity "baseline:latest": <violations>`
 * (resource is the plural, "pods"). Caller frees with free(). */
char *vk_podsecurity_forbidden_message(vk_podsecurity_level_t level, const char *resource,
                                       const char *name, const char *violations);

/* `would violate PodSecurity "restricted:latest": <violations>` (the warning
 * text for workloads). Caller frees with free(). */
char *vk_podsecurity_warning(vk_podsecurity_level_t level, const char *violations);

#endif
