/* Unit tests of the REST layer's pure parts: the resource table, Status
 * messages, RBAC rule matching and Forbidden messages, discovery documents. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/discovery.h"
#include "proxy/metrics.h"
#include "proxy/rbac.h"
#include "proxy/resources.h"
#include "proxy/status.h"
#include "tests/test.h"

TEST(table_lookup)
{
    vk_resources_t *t = vk_resources_new();
    const vk_resource_t *d = vk_resources_find(t, "apps", "v1", "deployments");
    CHECK(d != NULL);
    CHECK_EQ_STR(d->kind, "Deployment");
    CHECK_EQ_STR(d->short_names, "deploy");
    CHECK_EQ_STR(d->categories, "all");
    CHECK(d->flags & VK_RES_SCALE);
    CHECK(d->flags & VK_RES_NAMESPACED);
    CHECK(vk_resources_find(t, "", "v1", "deployments") == NULL);
    const vk_resource_t *ns = vk_resources_find(t, "", "v1", "namespaces");
    CHECK(ns && !(ns->flags & VK_RES_NAMESPACED));
    CHECK(!(ns->verbs & VK_VERB_DELETECOLLECTION));
    CHECK(vk_resources_find_kind(t, "rbac.authorization.k8s.io", "ClusterRole") != NULL);
    char buf[128];
    CHECK_EQ_STR(vk_resources_qualified(d, buf, sizeof buf), "deployments.apps");
    CHECK_EQ_STR(vk_resources_api_version(d, buf, sizeof buf), "apps/v1");
    char *k = vk_resources_key(d, "default", "web");
    CHECK_EQ_STR(k, "/apps/deployments/default/web");
    free(k);
    k = vk_resources_key(d, "default", NULL);
    CHECK_EQ_STR(k, "/apps/deployments/default/");
    free(k);
    k = vk_resources_key(d, NULL, NULL);
    CHECK_EQ_STR(k, "/apps/deployments/");
    free(k);
    k = vk_resources_key(ns, "ignored", "kube-system");
    CHECK_EQ_STR(k, "/core/namespaces/kube-system");
    free(k);
    vk_resources_free(t);
}

TEST(table_every_issue_resource)
{
    static const char *const want[][3] = {
        {"", "v1", "namespaces"}, {"", "v1", "pods"}, {"", "v1", "services"},
        {"", "v1", "endpoints"}, {"", "v1", "configmaps"}, {"", "v1", "secrets"},
        {"", "v1", "serviceaccounts"}, {"", "v1", "events"}, {"", "v1", "nodes"},
        {"", "v1", "persistentvolumeclaims"}, {"", "v1", "persistentvolumes"},
        {"", "v1", "resourcequotas"}, {"", "v1", "limitranges"}, {"", "v1", "podtemplates"},
        {"apps", "v1", "deployments"}, {"apps", "v1", "replicasets"},
        {"apps", "v1", "statefulsets"}, {"apps", "v1", "daemonsets"}, {"batch", "v1", "jobs"},
        {"batch", "v1", "cronjobs"}, {"networking.k8s.io", "v1", "networkpolicies"},
        {"networking.k8s.io", "v1", "ingresses"}, {"networking.k8s.io", "v1", "ingressclasses"},
        {"rbac.authorization.k8s.io", "v1", "roles"},
        {"rbac.authorization.k8s.io", "v1", "rolebindings"},
        {"rbac.authorization.k8s.io", "v1", "clusterroles"},
        {"rbac.authorization.k8s.io", "v1", "clusterrolebindings"},
        {"coordination.k8s.io", "v1", "leases"}, {"discovery.k8s.io", "v1", "endpointslices"},
        {"events.k8s.io", "v1", "events"}, {"policy", "v1", "poddisruptionbudgets"},
        {"storage.k8s.io", "v1", "storageclasses"}, {"scheduling.k8s.io", "v1", "priorityclasses"},
        {"node.k8s.io", "v1", "runtimeclasses"},
        {"authentication.k8s.io", "v1", "selfsubjectreviews"},
        {"authentication.k8s.io", "v1", "tokenreviews"},
        {"authorization.k8s.io", "v1", "selfsubjectaccessreviews"},
        {"authorization.k8s.io", "v1", "selfsubjectrulesreviews"},
        {"apiextensions.k8s.io", "v1", "customresourcedefinitions"},
    };
    vk_resources_t *t = vk_resources_new();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const vk_resource_t *r = vk_resources_find(t, want[i][0], want[i][1], want[i][2]);
        if (!r) fprintf(stderr, "  missing %s/%s %s\n", want[i][0], want[i][1], want[i][2]);
        CHECK(r != NULL);
    }
    vk_resources_free(t);
}

TEST(table_runtime_rows)
{
    vk_resources_t *t = vk_resources_new();
    size_t n = vk_resources_count(t);
    vk_resource_t row = {"example.com", "v1", "Widget", "widgets", "widget", "wd", "all",
                         VK_RES_NAMESPACED, VK_VERBS_ALL};
    CHECK_EQ_INT(vk_resources_add(t, &row), 0);
    CHECK_EQ_INT(vk_resources_add(t, &row), VK_EEXIST);
    CHECK_EQ_INT(vk_resources_count(t), n + 1);
    const vk_resource_t *r = vk_resources_find(t, "example.com", "v1", "widgets");
    CHECK(r && (r->flags & VK_RES_CUSTOM));
    CHECK_EQ_INT(vk_resources_remove(t, "", "v1", "pods"), VK_ENOTFOUND);
    CHECK_EQ_INT(vk_resources_remove(t, "example.com", "v1", "widgets"), 0);
    CHECK(vk_resources_find(t, "example.com", "v1", "widgets") == NULL);
    vk_resources_free(t);
}

TEST(status_messages)
{
    vk_resources_t *t = vk_resources_new();
    const vk_resource_t *cm = vk_resources_find(t, "", "v1", "configmaps");
    const vk_resource_t *d = vk_resources_find(t, "apps", "v1", "deployments");
    json_t *s = vk_status_for_err(VK_ENOTFOUND, cm, "x", NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(s, "message")), "configmaps \"x\" not found");
    CHECK_EQ_STR(json_string_value(json_object_get(s, "reason")), "NotFound");
    CHECK_EQ_INT(json_integer_value(json_object_get(s, "code")), 404);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s, "details"), "kind")),
                 "configmaps");
    json_decref(s);
    s = vk_status_for_err(VK_ENOTFOUND, d, "x", NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(s, "message")),
                 "deployments.apps \"x\" not found");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s, "details"), "group")),
                 "apps");
    json_decref(s);
    s = vk_status_for_err(VK_ECONFLICT, cm, "x", NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(s, "message")),
                 "Operation cannot be fulfilled on configmaps \"x\": the object has been "
                 "modified; please apply your changes to the latest version and try again");
    CHECK_EQ_INT(vk_status_code(s), 409);
    json_decref(s);
    s = vk_status_for_err(VK_EEXIST, d, "y", NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(s, "message")),
                 "deployments.apps \"y\" already exists");
    CHECK_EQ_STR(json_string_value(json_object_get(s, "reason")), "AlreadyExists");
    json_decref(s);
    vk_resources_free(t);
}

TEST(rbac_rules)
{
    json_t *rule = json_loads("{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/log\"],"
                              "\"verbs\":[\"get\",\"list\"]}",
                              0, NULL);
    vk_rbac_attrs_t a = {.user = "bob", .verb = "list", .api_group = "", .resource = "pods",
                         .namespace_ = "default"};
    CHECK(vk_rbac_rule_allows(rule, &a));
    a.verb = "delete";
    CHECK(!vk_rbac_rule_allows(rule, &a));
    a.verb = "get";
    a.subresource = "log";
    CHECK(vk_rbac_rule_allows(rule, &a));
    a.subresource = "status";
    CHECK(!vk_rbac_rule_allows(rule, &a));
    a.subresource = NULL;
    a.api_group = "apps";
    CHECK(!vk_rbac_rule_allows(rule, &a));
    json_decref(rule);
    rule = json_loads("{\"apiGroups\":[\"*\"],\"resources\":[\"configmaps\"],\"resourceNames\":"
                      "[\"one\"],\"verbs\":[\"*\"]}",
                      0, NULL);
    vk_rbac_attrs_t b = {.user = "bob", .verb = "get", .api_group = "", .resource = "configmaps",
                         .name = "one"};
    CHECK(vk_rbac_rule_allows(rule, &b));
    b.name = "two";
    CHECK(!vk_rbac_rule_allows(rule, &b));
    b.name = NULL;
    b.verb = "list";
    CHECK(!vk_rbac_rule_allows(rule, &b));
    json_decref(rule);
    rule = json_loads("{\"nonResourceURLs\":[\"/apis/*\",\"/version\"],\"verbs\":[\"get\"]}", 0,
                      NULL);
    vk_rbac_attrs_t c = {.user = "bob", .verb = "get", .path = "/apis/apps/v1"};
    CHECK(vk_rbac_rule_allows(rule, &c));
    c.path = "/metrics";
    CHECK(!vk_rbac_rule_allows(rule, &c));
    json_decref(rule);
}

TEST(rbac_forbidden_message)
{
    char buf[512];
    vk_rbac_attrs_t a = {.user = "bob", .verb = "list", .api_group = "", .resource = "pods",
                         .namespace_ = "default"};
    CHECK_EQ_STR(vk_rbac_forbidden_message(&a, buf, sizeof buf),
                 "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" "
                 "in the namespace \"default\"");
    vk_rbac_attrs_t b = {.user = "bob", .verb = "get", .api_group = "apps",
                         .resource = "deployments", .subresource = "scale", .name = "web"};
    CHECK_EQ_STR(vk_rbac_forbidden_message(&b, buf, sizeof buf),
                 "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource "
                 "\"deployments/scale\" in API group \"apps\" at the cluster scope");
    vk_rbac_attrs_t c = {.user = "bob", .verb = "get", .path = "/metrics"};
    CHECK_EQ_STR(vk_rbac_forbidden_message(&c, buf, sizeof buf),
                 "forbidden: User \"bob\" cannot get path \"/metrics\"");
}

static json_t *find_named(json_t *arr, const char *key, const char *val)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *s = json_string_value(json_object_get(v, key));
        if (s && !strcmp(s, val)) return v;
    }
    return NULL;
}

TEST(discovery_docs)
{
    vk_resources_t *t = vk_resources_new();
    json_t *l = vk_discovery_resource_list(t, "apps", "v1");
    CHECK_EQ_STR(json_string_value(json_object_get(l, "groupVersion")), "apps/v1");
    json_t *res = json_object_get(l, "resources");
    json_t *d = find_named(res, "name", "deployments");
    CHECK(d != NULL);
    CHECK(json_is_true(json_object_get(d, "namespaced")));
    CHECK_EQ_INT(json_array_size(json_object_get(d, "verbs")), 8);
    json_t *sc = find_named(res, "name", "deployments/scale");
    CHECK(sc != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(sc, "group")), "autoscaling");
    CHECK_EQ_STR(json_string_value(json_object_get(sc, "kind")), "Scale");
    json_decref(l);
    CHECK(vk_discovery_resource_list(t, "apps", "v9") == NULL);
    json_t *core = vk_discovery_resource_list(t, "", "v1");
    CHECK(find_named(json_object_get(core, "resources"), "name", "pods/log") != NULL);
    json_t *pods = find_named(json_object_get(core, "resources"), "name", "pods");
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(pods, "categories"), 0)),
                 "all");
    json_decref(core);
    json_t *g = vk_discovery_group_list(t);
    json_t *groups = json_object_get(g, "groups");
    CHECK(find_named(groups, "name", "apps") != NULL);
    CHECK(find_named(groups, "name", "") == NULL);
    json_decref(g);
    json_t *agg = vk_discovery_aggregated(t, 0, "apidiscovery.k8s.io/v2");
    CHECK_EQ_STR(json_string_value(json_object_get(agg, "kind")), "APIGroupDiscoveryList");
    json_t *items = json_object_get(agg, "items");
    int found = 0;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *n = json_string_value(json_object_get(json_object_get(it, "metadata"),
                                                          "name"));
        if (!n || strcmp(n, "apps")) continue;
        json_t *v = json_array_get(json_object_get(it, "versions"), 0);
        json_t *dep = find_named(json_object_get(v, "resources"), "resource", "deployments");
        CHECK_EQ_STR(json_string_value(json_object_get(dep, "scope")), "Namespaced");
        CHECK(find_named(json_object_get(dep, "subresources"), "subresource", "scale") != NULL);
        found = 1;
    }
    CHECK(found);
    json_decref(agg);
    vk_resources_free(t);
}

TEST(metrics_render)
{
    vk_metrics_t *m = vk_metrics_new();
    vk_metrics_observe(m, "GET", "", "pods", "", 200, 0.003);
    vk_metrics_observe(m, "GET", "", "pods", "", 200, 0.2);
    vk_metrics_observe(m, "POST", "apps", "deployments", "", 201, 0.01);
    char *s = vk_metrics_render(m, NULL);
    CHECK(strstr(s, "apiserver_request_total{code=\"200\",group=\"\",resource=\"pods\","
                    "subresource=\"\",verb=\"GET\"} 2\n") != NULL);
    CHECK(strstr(s, "apiserver_request_duration_seconds_bucket{group=\"\",resource=\"pods\","
                    "subresource=\"\",verb=\"GET\",le=\"0.005\"} 1\n") != NULL);
    CHECK(strstr(s, "apiserver_request_duration_seconds_count{group=\"apps\","
                    "resource=\"deployments\",subresource=\"\",verb=\"POST\"} 1\n") != NULL);
    free(s);
    vk_metrics_free(m);
}

int main(void)
{
    RUN(table_lookup);
    RUN(table_every_issue_resource);
    RUN(table_runtime_rows);
    RUN(status_messages);
    RUN(rbac_rules);
    RUN(rbac_forbidden_message);
    RUN(discovery_docs);
    RUN(metrics_render);
    TEST_EXIT();
}
