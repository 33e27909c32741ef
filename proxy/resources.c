/* resources: the built-in resource table and lookups over it plus run-time rows.
 * Values (short names, categories, verbs, scope) follow what kube-apiserver 1.33
 * reports in discovery for the same resources. Groups appear in the order
 * kube-apiserver lists them in /apis; discovery keeps this order. */
#include "resources.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

#define NS VK_RES_NAMESPACED
#define ST VK_RES_STATUS
#define SC VK_RES_SCALE
#define ALL VK_VERBS_ALL
#define NODC VK_VERBS_NO_DELCOL
#define CREATE VK_VERB_CREATE

/* group, version, kind, plural, singular, short names, categories, flags, verbs */
static const vk_resource_t builtin[] = {
    {"", "v1", "ConfigMap", "configmaps", "configmap", "cm", "", NS, ALL},
    {"", "v1", "Endpoints", "endpoints", "endpoints", "ep", "", NS, ALL},
    {"", "v1", "Event", "events", "event", "ev", "", NS, ALL},
    {"", "v1", "LimitRange", "limitranges", "limitrange", "limits", "", NS, ALL},
    {"", "v1", "Namespace", "namespaces", "namespace", "ns", "", ST, NODC},
    {"", "v1", "Node", "nodes", "node", "no", "", ST, ALL},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim", "pvc",
     "", NS | ST, ALL},
    {"", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", "pv", "", ST, ALL},
    {"", "v1", "Pod", "pods", "pod", "po", "all", NS | ST | VK_RES_LOG | VK_RES_BINDING, ALL},
    {"", "v1", "PodTemplate", "podtemplates", "podtemplate", "", "", NS, ALL},
    {"", "v1", "ResourceQuota", "resourcequotas", "resourcequota", "quota", "", NS | ST, ALL},
    {"", "v1", "Secret", "secrets", "secret", "", "", NS, ALL},
    {"", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", "sa", "", NS, ALL},
    {"", "v1", "Service", "services", "service", "svc", "all", NS | ST, ALL},

    {"apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", "", "", NS,
     ALL},
    {"apps", "v1", "DaemonSet", "daemonsets", "daemonset", "ds", "all", NS | ST, ALL},
    {"apps", "v1", "Deployment", "deployments", "deployment", "deploy", "all", NS | ST | SC, ALL},
    {"apps", "v1", "ReplicaSet", "replicasets", "replicaset", "rs", "all", NS | ST | SC, ALL},
    {"apps", "v1", "StatefulSet", "statefulsets", "statefulset", "sts", "all", NS | ST | SC, ALL},

    {"events.k8s.io", "v1", "Event", "events", "event", "ev", "", NS, ALL},

    {"authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview",
     "", "", VK_RES_REVIEW, CREATE},
    {"authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", "", "",
     VK_RES_REVIEW, CREATE},

    {"authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
     "localsubjectaccessreview", "", "", NS | VK_RES_REVIEW, CREATE},
    {"authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
     "selfsubjectaccessreview", "", "", VK_RES_REVIEW, CREATE},
    {"authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
     "selfsubjectrulesreview", "", "", VK_RES_REVIEW, CREATE},
    {"authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
     "subjectaccessreview", "", "", VK_RES_REVIEW, CREATE},

    {"batch", "v1", "CronJob", "cronjobs", "cronjob", "cj", "all", NS | ST, ALL},
    {"batch", "v1", "Job", "jobs", "job", "", "all", NS | ST, ALL},

    {"networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", "", "", 0, ALL},
    {"networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", "ing", "", NS | ST, ALL},
    {"networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", "netpol", "",
     NS, ALL},

    {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", "pdb",
     "", NS | ST, ALL},

    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
     "clusterrolebinding", "", "", 0, ALL},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", "", "", 0,
     ALL},
    {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", "", "", NS,
     ALL},
    {"rbac.authorization.k8s.io", "v1", "Role", "roles", "role", "", "", NS, ALL},

    {"storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", "sc", "", 0, ALL},

    {"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
     "customresourcedefinition", "crd,crds", "api-extensions", ST, ALL},

    {"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", "pc", "", 0,
     ALL},

    {"coordination.k8s.io", "v1", "Lease", "leases", "lease", "", "", NS, ALL},

    {"node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", "runtimeclass", "", "", 0, ALL},

    {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", "", "", NS,
     ALL},
};

struct vk_resources {
    vk_resource_t *extra; /* run-time rows; strings owned (one allocation each) */
    size_t nextra, cap;
};

vk_resources_t *vk_resources_new(void)
{
    return vk_xcalloc(1, sizeof(vk_resources_t));
}

static void free_row(vk_resource_t *r)
{
    free((char *)r->group);
    free((char *)r->version);
    free((char *)r->kind);
    free((char *)r->plural);
    free((char *)r->singular);
    free((char *)r->short_names);
    free((char *)r->categories);
}

void vk_resources_free(vk_resources_t *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->nextra; i++) free_row(&t->extra[i]);
    free(t->extra);
    free(t);
}

size_t vk_resources_count(const vk_resources_t *t)
{
    return sizeof builtin / sizeof builtin[0] + t->nextra;
}

const vk_resource_t *vk_resources_at(const vk_resources_t *t, size_t i)
{
    size_t nb = sizeof builtin / sizeof builtin[0];
    if (i < nb) return &builtin[i];
    i -= nb;
    return i < t->nextra ? &t->extra[i] : NULL;
}

const vk_resource_t *vk_resources_find(const vk_resources_t *t, const char *group,
                                       const char *version, const char *plural)
{
    size_t n = vk_resources_count(t);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (!strcmp(r->plural, plural) && !strcmp(r->group, group) && !strcmp(r->version, version))
            return r;
    }
    return NULL;
}

const vk_resource_t *vk_resources_find_kind(const vk_resources_t *t, const char *group,
                                            const char *kind)
{
    size_t n = vk_resources_count(t);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (!strcmp(r->kind, kind) && !strcmp(r->group, group)) return r;
    }
    return NULL;
}

static char *dup_or_empty(const char *s)
{
    return vk_xstrdup(s ? s : "");
}

int vk_resources_add(vk_resources_t *t, const vk_resource_t *row)
{
    if (vk_resources_find(t, row->group, row->version, row->plural)) return VK_EEXIST;
    if (t->nextra == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 8;
        t->extra = vk_xrealloc(t->extra, t->cap * sizeof *t->extra);
    }
    vk_resource_t *r = &t->extra[t->nextra++];
    r->group = dup_or_empty(row->group);
    r->version = dup_or_empty(row->version);
    r->kind = dup_or_empty(row->kind);
    r->plural = dup_or_empty(row->plural);
    r->singular = dup_or_empty(row->singular);
    r->short_names = dup_or_empty(row->short_names);
    r->categories = dup_or_empty(row->categories);
    r->flags = row->flags | VK_RES_CUSTOM;
    r->verbs = row->verbs;
    return 0;
}

int vk_resources_remove(vk_resources_t *t, const char *group, const char *version,
                        const char *plural)
{
    for (size_t i = 0; i < t->nextra; i++) {
        vk_resource_t *r = &t->extra[i];
        if (strcmp(r->plural, plural) || strcmp(r->group, group) || strcmp(r->version, version))
            continue;
        free_row(r);
        memmove(r, r + 1, (t->nextra - i - 1) * sizeof *r);
        t->nextra--;
        return 0;
    }
    return VK_ENOTFOUND;
}

char *vk_resources_qualified(const vk_resource_t *r, char *buf, size_t n)
{
    if (r->group[0])
        snprintf(buf, n, "%s.%s", r->plural, r->group);
    else
        snprintf(buf, n, "%s", r->plural);
    return buf;
}

char *vk_resources_api_version(const vk_resource_t *r, char *buf, size_t n)
{
    if (r->group[0])
        snprintf(buf, n, "%s/%s", r->group, r->version);
    else
        snprintf(buf, n, "%s", r->version);
    return buf;
}

char *vk_resources_key(const vk_resource_t *r, const char *ns, const char *name)
{
    const char *g = r->group[0] ? r->group : "core";
    int namespaced = (r->flags & VK_RES_NAMESPACED) != 0;
    if (!name) {
        if (namespaced && ns && ns[0]) return vk_xasprintf("/%s/%s/%s/", g, r->plural, ns);
        return vk_xasprintf("/%s/%s/", g, r->plural);
    }
    if (namespaced) return vk_xasprintf("/%s/%s/%s/%s", g, r->plural, ns ? ns : "", name);
    return vk_xasprintf("/%s/%s/%s", g, r->plural, name);
}

static const char *const verb_names[VK_VERB_COUNT] = {
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
};

const char *vk_resources_verb_name(unsigned verb_bit)
{
    for (int i = 0; i < VK_VERB_COUNT; i++)
        if (verb_bit == (1u << i)) return verb_names[i];
    return NULL;
}
