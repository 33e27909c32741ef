/* discovery: building discovery documents from the resource table. */
#include "discovery.h"

#include <stdio.h>
#include <string.h>

static json_t *split(const char *csv)
{
    json_t *a = json_array();
    const char *p = csv;
    while (p && *p) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n;
        if (*p == ',') p++;
    }
    return a;
}

static json_t *verbs(unsigned v)
{
    json_t *a = json_array();
    for (int i = 0; i < VK_VERB_COUNT; i++)
        if (v & (1u << i)) json_array_append_new(a, json_string(vk_resources_verb_name(1u << i)));
    return a;
}

json_t *vk_discovery_api_versions(const char *server_address)
{
    return json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                     "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                     server_address ? server_address : "");
}

/* Distinct groups (excluding core) in table order; each versions list in order. */
static json_t *group_object(const vk_resources_t *t, const char *group)
{
    json_t *versions = json_array();
    const char *pref = NULL;
    size_t n = vk_resources_count(t);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (strcmp(r->group, group)) continue;
        int seen = 0;
        size_t k;
        json_t *v;
        json_array_foreach(versions, k, v)
        {
            if (!strcmp(json_string_value(json_object_get(v, "version")), r->version)) seen = 1;
        }
        if (seen) continue;
        char gv[256];
        snprintf(gv, sizeof gv, "%s/%s", group, r->version);
        json_array_append_new(versions, json_pack("{s:s,s:s}", "groupVersion", gv, "version",
                                                  r->version));
        if (!pref) pref = r->version;
    }
    if (!pref) {
        json_decref(versions);
        return NULL;
    }
    char gv[256];
    snprintf(gv, sizeof gv, "%s/%s", group, pref);
    return json_pack("{s:s,s:o,s:{s:s,s:s}}", "name", group, "versions", versions,
                     "preferredVersion", "groupVersion", gv, "version", pref);
}

static int group_listed(json_t *groups, const char *g)
{
    size_t i;
    json_t *v;
    json_array_foreach(groups, i, v) if (!strcmp(json_string_value(json_object_get(v, "name")), g))
        return 1;
    return 0;
}

json_t *vk_discovery_group_list(const vk_resources_t *t)
{
    json_t *groups = json_array();
    size_t n = vk_resources_count(t);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (!r->group[0] || group_listed(groups, r->group)) continue;
        json_array_append_new(groups, group_object(t, r->group));
    }
    return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                     groups);
}

json_t *vk_discovery_group(const vk_resources_t *t, const char *group)
{
    if (!group[0]) return NULL;
    json_t *g = group_object(t, group);
    if (!g) return NULL;
    json_object_set_new(g, "kind", json_string("APIGroup"));
    json_object_set_new(g, "apiVersion", json_string("v1"));
    return g;
}

/* A subresource as discovery lists it. group/version NULL: the resource's own
 * (legacy lists omit them; aggregated discovery says "" as kube-apiserver does). */
typedef struct subresource {
    const char *name, *group, *version, *kind; /* kind NULL: the resource's */
    unsigned verbs;
} subresource_t;

#define SUB_VERBS (VK_VERB_GET | VK_VERB_PATCH | VK_VERB_UPDATE)

/* The pod subresources that are served (proxy/binding.c, the relay in
 * syncer/relay.c, log); alphabetical like every list below. */
static const subresource_t pod_subs[] = {
    {"attach", NULL, NULL, "PodAttachOptions", VK_VERB_CREATE | VK_VERB_GET},
    {"binding", NULL, NULL, "Binding", VK_VERB_CREATE},
    {"exec", NULL, NULL, "PodExecOptions", VK_VERB_CREATE | VK_VERB_GET},
};

/* Fills out (room for 8) with r's subresources in name order; returns how many. */
static size_t subresources_of(const vk_resource_t *r, subresource_t *out)
{
    size_t n = 0;
    int pods = !r->group[0] && !strcmp(r->plural, "pods");
    if (pods)
        for (size_t i = 0; i < sizeof pod_subs / sizeof pod_subs[0]; i++) out[n++] = pod_subs[i];
    if (r->flags & VK_RES_LOG) out[n++] = (subresource_t){"log", NULL, NULL, "Pod", VK_VERB_GET};
    if (pods)
        out[n++] = (subresource_t){"portforward", NULL, NULL, "PodPortForwardOptions",
                                   VK_VERB_CREATE | VK_VERB_GET};
    if (r->flags & VK_RES_SCALE)
        out[n++] = (subresource_t){"scale", "autoscaling", "v1", "Scale", SUB_VERBS};
    if (r->flags & VK_RES_STATUS) out[n++] = (subresource_t){"status", NULL, NULL, NULL, SUB_VERBS};
    if (!r->group[0] && !strcmp(r->plural, "serviceaccounts")) /* proxy/satoken.c */
        out[n++] = (subresource_t){"token", "authentication.k8s.io", "v1", "TokenRequest",
                                   VK_VERB_CREATE};
    return n;
}

static void add_legacy_sub(json_t *list, const vk_resource_t *r, const subresource_t *sub)
{
    char name[256];
    snprintf(name, sizeof name, "%s/%s", r->plural, sub->name);
    json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "",
                          "namespaced", (r->flags & VK_RES_NAMESPACED) != 0, "kind",
                          sub->kind ? sub->kind : r->kind, "verbs", verbs(sub->verbs));
    if (sub->group) {
        json_object_set_new(e, "group", json_string(sub->group));
        json_object_set_new(e, "version", json_string(sub->version));
    }
    json_array_append_new(list, e);
}

json_t *vk_discovery_resource_list(const vk_resources_t *t, const char *group,
                                   const char *version)
{
    json_t *list = json_array();
    size_t n = vk_resources_count(t);
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (strcmp(r->group, group) || strcmp(r->version, version)) continue;
        any = 1;
        json_t *e = json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->plural, "singularName",
                              r->singular, "namespaced", (r->flags & VK_RES_NAMESPACED) != 0,
                              "kind", r->kind, "verbs", verbs(r->verbs));
        if (r->short_names[0]) json_object_set_new(e, "shortNames", split(r->short_names));
        if (r->categories[0]) json_object_set_new(e, "categories", split(r->categories));
        json_array_append_new(list, e);
        subresource_t subs[8];
        size_t ns = subresources_of(r, subs);
        for (size_t j = 0; j < ns; j++) add_legacy_sub(list, r, &subs[j]);
    }
    if (!any) {
        json_decref(list);
        return NULL;
    }
    char gv[256];
    if (group[0]) snprintf(gv, sizeof gv, "%s/%s", group, version);
    else snprintf(gv, sizeof gv, "%s", version);
    return json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", list);
}

static json_t *agg_sub(const vk_resource_t *r, const subresource_t *sub)
{
    return json_pack("{s:s,s:{s:s,s:s,s:s},s:o}", "subresource", sub->name, "responseKind",
                     "group", sub->group ? sub->group : "", "version",
                     sub->version ? sub->version : "", "kind", sub->kind ? sub->kind : r->kind,
                     "verbs", verbs(sub->verbs));
}

static json_t *agg_resource(const vk_resource_t *r)
{
    json_t *e = json_pack("{s:s,s:{s:s,s:s,s:s},s:s,s:s,s:o}", "resource", r->plural,
                          "responseKind", "group", r->group, "version", r->version, "kind",
                          r->kind, "scope",
                          (r->flags & VK_RES_NAMESPACED) ? "Namespaced" : "Cluster",
                          "singularResource", r->singular, "verbs", verbs(r->verbs));
    if (r->short_names[0]) json_object_set_new(e, "shortNames", split(r->short_names));
    if (r->categories[0]) json_object_set_new(e, "categories", split(r->categories));
    json_t *subs = json_array();
    subresource_t sub[8];
    size_t ns = subresources_of(r, sub);
    for (size_t j = 0; j < ns; j++) json_array_append_new(subs, agg_sub(r, &sub[j]));
    if (json_array_size(subs)) json_object_set_new(e, "subresources", subs);
    else json_decref(subs);
    return e;
}

json_t *vk_discovery_aggregated(const vk_resources_t *t, int core, const char *api_version)
{
    json_t *items = json_array();
    size_t n = vk_resources_count(t);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        if (core != !r->group[0]) continue;
        /* Find or add the group item, then the version within it. */
        json_t *item = NULL, *it;
        size_t k;
        json_array_foreach(items, k, it)
        {
            const char *nm = json_string_value(json_object_get(json_object_get(it, "metadata"),
                                                               "name"));
            if (!strcmp(nm ? nm : "", r->group)) item = it;
        }
        if (!item) {
            json_t *md = r->group[0] ? json_pack("{s:s,s:n}", "name", r->group,
                                                 "creationTimestamp")
                                     : json_pack("{s:n}", "creationTimestamp");
            item = json_pack("{s:o,s:[]}", "metadata", md, "versions");
            json_array_append_new(items, item);
        }
        json_t *vers = json_object_get(item, "versions"), *ver = NULL, *v;
        json_array_foreach(vers, k, v) if (!strcmp(json_string_value(json_object_get(v, "version")),
                                                   r->version)) ver = v;
        if (!ver) {
            ver = json_pack("{s:s,s:[],s:s}", "version", r->version, "resources", "freshness",
                            "Current");
            json_array_append_new(vers, ver);
        }
        json_array_append_new(json_object_get(ver, "resources"), agg_resource(r));
    }
    return json_pack("{s:s,s:s,s:{},s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                     api_version, "metadata", "items", items);
}
