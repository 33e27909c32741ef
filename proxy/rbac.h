/* rbac: authorization of a request against the RBAC objects stored in the
 * tenant (ClusterRoleBindings -> ClusterRoles everywhere; RoleBindings in the
 * request's namespace -> Roles or ClusterRoles), as kube-apiserver's RBAC
 * authorizer does. Membership in system:masters is checked by the caller.
 *
 * Called by proxy/apiserver.c for each request and by the access reviews
 * (selfsubjectaccessreviews, selfsubjectrulesreviews) on the loop thread. Reads
 * the store synchronously. */
#ifndef VK_RBAC_H
#define VK_RBAC_H

#include <jansson.h>
#include <stddef.h>

#include "store/store.h"

typedef struct vk_rbac_attrs {
    const char *user;              /* user name */
    const char *const *groups;     /* NULL-terminated, may be NULL */
    const char *verb;              /* "get", "list", "create"... */
    /* A resource request when resource != NULL: */
    const char *api_group;         /* "" for core */
    const char *resource;          /* "pods" */
    const char *subresource;       /* "status", or NULL/"" */
    const char *namespace_;        /* NULL/"" for cluster scope */
    const char *name;              /* NULL/"" when not about one object */
    /* A non-resource request otherwise: */
    const char *path;              /* "/metrics" */
} vk_rbac_attrs_t;

/* 1 if some stored rule allows the request, else 0. */
int vk_rbac_allowed(vk_store_t *store, const vk_rbac_attrs_t *a);
/* upstream's Forbidden message ("pods \"x\" is forbidden: User \"bob\" cannot get
 * resource \"pods\" in API group \"\" in the namespace \"default\""). Writes into
 * buf (size n) and returns it. */
char *vk_rbac_forbidden_message(const vk_rbac_attrs_t *a, char *buf, size_t n);
/* The rules that apply to user/groups in namespace ns (cluster-wide rules plus
 * those bound in ns): sets "resourceRules" and "nonResourceRules" arrays on
 * status (a SelfSubjectRulesReview status object). */
void vk_rbac_rules(vk_store_t *store, const char *user, const char *const *groups,
                   const char *ns, json_t *status);

/* 1 if the rule (a PolicyRule JSON object) allows the attributes. Exposed for tests. */
int vk_rbac_rule_allows(const json_t *rule, const vk_rbac_attrs_t *a);

#endif
