/* rbac: RBAC evaluation over stored Role/ClusterRole/RoleBinding/ClusterRoleBinding. */
#include "rbac.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

static json_t *load(vk_store_t *store, const char *key)
{
    vk_kv_t *kv;
    if (vk_store_get(store, key, &kv) != 0) return NULL;
    json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    vk_kv_unref(kv);
    return o;
}

/* 1 if the string array arr contains s or "*". */
static int has(const json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *x = json_string_value(v);
        if (x && (!strcmp(x, "*") || !strcmp(x, s))) return 1;
    }
    return 0;
}

static int in_groups(const char *const *groups, const char *g)
{
    for (size_t i = 0; groups && groups[i]; i++)
        if (!strcmp(groups[i], g)) return 1;
    return 0;
}

static int subject_matches(const json_t *subj, const char *binding_ns, const char *user,
                           const char *const *groups)
{
    const char *kind = json_string_value(json_object_get(subj, "kind"));
    const char *name = json_string_value(json_object_get(subj, "name"));
    if (!kind || !name) return 0;
    if (!strcmp(kind, "User")) return !strcmp(name, user);
    if (!strcmp(kind, "Group")) return in_groups(groups, name);
    if (!strcmp(kind, "ServiceAccount")) {
        const char *ns = json_string_value(json_object_get(subj, "namespace"));
        if (!ns || !ns[0]) ns = binding_ns;
        if (!ns) return 0;
        char buf[512];
        snprintf(buf, sizeof buf, "system:serviceaccount:%s:%s", ns, name);
        return !strcmp(buf, user);
    }
    return 0;
}

static int resource_matches(const json_t *resources, const char *res, const char *sub)
{
    char full[512];
    if (sub && sub[0])
        snprintf(full, sizeof full, "%s/%s", res, sub);
    else
        snprintf(full, sizeof full, "%s", res);
    size_t i;
    json_t *v;
    json_array_foreach(resources, i, v)
    {
        const char *x = json_string_value(v);
        if (!x) continue;
        if (!strcmp(x, "*") || !strcmp(x, full)) return 1;
        /* "*" + "/sub" matches any resource's subresource. */
        if (sub && sub[0] && x[0] == '*' && x[1] == '/' && !strcmp(x + 2, sub)) return 1;
    }
    return 0;
}

static int path_matches(const json_t *urls, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(urls, i, v)
    {
        const char *x = json_string_value(v);
        if (!x) continue;
        size_t n = strlen(x);
        if (!strcmp(x, "*") || !strcmp(x, path)) return 1;
        if (n && x[n - 1] == '*' && !strncmp(x, path, n - 1)) return 1;
    }
    return 0;
}

int vk_rbac_rule_allows(const json_t *rule, const vk_rbac_attrs_t *a)
{
    if (!has(json_object_get(rule, "verbs"), a->verb)) return 0;
    if (!a->resource) return path_matches(json_object_get(rule, "nonResourceURLs"), a->path);
    if (!has(json_object_get(rule, "apiGroups"), a->api_group ? a->api_group : "")) return 0;
    if (!resource_matches(json_object_get(rule, "resources"), a->resource, a->subresource))
        return 0;
    json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0) return 1;
    if (!a->name || !a->name[0]) return 0;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        const char *x = json_string_value(v);
        if (x && !strcmp(x, a->name)) return 1;
    }
    return 0;
}

/* Calls visit(arg, rules, ns_of_binding) for each role bound to the user: every
 * ClusterRoleBinding and, if ns is set, every RoleBinding in ns. Stops when visit
 * returns non-zero and returns that value. */
typedef int (*visit_fn)(void *arg, const json_t *rules);

static int visit_binding(vk_store_t *store, const json_t *b, const char *ns, const char *user,
                         const char *const *groups, visit_fn visit, void *arg)
{
    const json_t *subjects = json_object_get(b, "subjects");
    size_t i;
    json_t *s;
    int match = 0;
    json_array_foreach(subjects, i, s) if (subject_matches(s, ns, user, groups))
    {
        match = 1;
        break;
    }
    if (!match) return 0;
    const json_t *ref = json_object_get(b, "roleRef");
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name) return 0;
    char *key;
    if (!strcmp(kind, "ClusterRole"))
        key = vk_xasprintf("/rbac.authorization.k8s.io/clusterroles/%s", name);
    else if (!strcmp(kind, "Role") && ns)
        key = vk_xasprintf("/rbac.authorization.k8s.io/roles/%s/%s", ns, name);
    else
        return 0;
    json_t *role = load(store, key);
    free(key);
    if (!role) return 0;
    int r = visit(arg, json_object_get(role, "rules"));
    json_decref(role);
    return r;
}

static int visit_prefix(vk_store_t *store, const char *prefix, const char *ns, const char *user,
                        const char *const *groups, visit_fn visit, void *arg)
{
    vk_store_list_t l;
    if (vk_store_list(store, prefix, NULL, 0, 0, &l) != 0) return 0;
    int r = 0;
    for (size_t i = 0; i < l.count && !r; i++) {
        json_t *b = json_loadb((const char *)l.items[i]->val, l.items[i]->len, 0, NULL);
        if (!b) continue;
        r = visit_binding(store, b, ns, user, groups, visit, arg);
        json_decref(b);
    }
    vk_store_list_free(&l);
    return r;
}

static int visit_all(vk_store_t *store, const char *user, const char *const *groups,
                     const char *ns, visit_fn visit, void *arg)
{
    int r = visit_prefix(store, "/rbac.authorization.k8s.io/clusterrolebindings/", NULL, user,
                         groups, visit, arg);
    if (r || !ns || !ns[0]) return r;
    char *prefix = vk_xasprintf("/rbac.authorization.k8s.io/rolebindings/%s/", ns);
    r = visit_prefix(store, prefix, ns, user, groups, visit, arg);
    free(prefix);
    return r;
}

static int allow_visit(void *arg, const json_t *rules)
{
    const vk_rbac_attrs_t *a = arg;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule) if (vk_rbac_rule_allows(rule, a)) return 1;
    return 0;
}

int vk_rbac_allowed(vk_store_t *store, const vk_rbac_attrs_t *a)
{
    const char *ns = a->resource ? a->namespace_ : NULL;
    return visit_all(store, a->user, a->groups, ns, allow_visit, (void *)a);
}

char *vk_rbac_forbidden_message(const vk_rbac_attrs_t *a, char *buf, size_t n)
{
    if (!a->resource) {
        snprintf(buf, n, "forbidden: User \"%s\" cannot %s path \"%s\"", a->user, a->verb,
                 a->path ? a->path : "");
        return buf;
    }
    char res[512], what[600], scope[300];
    if (a->api_group && a->api_group[0])
        snprintf(res, sizeof res, "%s.%s", a->resource, a->api_group);
    else
        snprintf(res, sizeof res, "%s", a->resource);
    if (a->name && a->name[0])
        snprintf(what, sizeof what, "%s \"%s\"", res, a->name);
    else
        snprintf(what, sizeof what, "%s", res);
    if (a->namespace_ && a->namespace_[0])
        snprintf(scope, sizeof scope, "in the namespace \"%s\"", a->namespace_);
    else
        snprintf(scope, sizeof scope, "at the cluster scope");
    char rname[512];
    if (a->subresource && a->subresource[0])
        snprintf(rname, sizeof rname, "%s/%s", a->resource, a->subresource);
    else
        snprintf(rname, sizeof rname, "%s", a->resource);
    snprintf(buf, n, "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s",
             what, a->user, a->verb, rname, a->api_group ? a->api_group : "", scope);
    return buf;
}

typedef struct rules_acc {
    json_t *res_rules, *nonres_rules;
} rules_acc_t;

static int rules_visit(void *arg, const json_t *rules)
{
    rules_acc_t *acc = arg;
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule)
    {
        json_t *r = json_object();
        json_t *urls = json_object_get(rule, "nonResourceURLs");
        json_object_set(r, "verbs", json_object_get(rule, "verbs"));
        if (json_array_size(urls)) {
            json_object_set(r, "nonResourceURLs", urls);
            json_array_append_new(acc->nonres_rules, r);
            continue;
        }
        static const char *const keys[] = {"apiGroups", "resources", "resourceNames"};
        for (size_t k = 0; k < 3; k++) {
            json_t *v = json_object_get(rule, keys[k]);
            if (json_array_size(v)) json_object_set(r, keys[k], v);
        }
        json_array_append_new(acc->res_rules, r);
    }
    return 0;
}

void vk_rbac_rules(vk_store_t *store, const char *user, const char *const *groups,
                   const char *ns, json_t *status)
{
    rules_acc_t acc = {json_array(), json_array()};
    visit_all(store, user, groups, ns, rules_visit, &acc);
    json_object_set_new(status, "resourceRules", acc.res_rules);
    json_object_set_new(status, "nonResourceRules", acc.nonres_rules);
}
