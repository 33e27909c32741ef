/* Unit tests for syncer/tenant: Tenant manifest parsing and validation. */
#include "common/err.h"
#include "syncer/tenant.h"
#include "tests/test.h"

#include <string.h>

static const char *ACME = "apiVersion: vkube.io/v1alpha1\n"
                          "kind: Tenant\n"
                          "metadata: {name: acme}\n"
                          "spec:\n"
                          "  hostNamespace: vkube-acme\n"
                          "  isolation:\n"
                          "    nodeSelector: {vkube.io/node-pool: acme}\n"
                          "    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, "
                          "effect: NoSchedule}]\n"
                          "    runtimeClassName: kata-clh        # optional\n"
                          "  podSecurity: baseline\n"
                          "  quota: {pods: \"50\", requests.cpu: \"8\", requests.memory: 16Gi}\n";

TEST(design_example_parses)
{
    vk_tenant_config_t t;
    char err[1024] = "";
    int rc = vk_tenant_config_parse(ACME, strlen(ACME), &t, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (rc) return;
    CHECK_EQ_STR(t.name, "acme");
    CHECK_EQ_STR(t.host_namespace, "vkube-acme");
    CHECK_EQ_STR(json_string_value(json_object_get(t.node_selector, "vkube.io/node-pool")), "acme");
    CHECK_EQ_INT(json_array_size(t.tolerations), 1);
    json_t *tol = json_array_get(t.tolerations, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(tol, "key")), "vkube.io/tenant");
    CHECK_EQ_STR(json_string_value(json_object_get(tol, "operator")), "Equal");
    CHECK_EQ_STR(json_string_value(json_object_get(tol, "value")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(tol, "effect")), "NoSchedule");
    CHECK_EQ_STR(t.runtime_class, "kata-clh");
    CHECK_EQ_STR(t.pod_security, "baseline");
    CHECK_EQ_STR(json_string_value(json_object_get(t.quota, "pods")), "50");
    CHECK_EQ_STR(json_string_value(json_object_get(t.quota, "requests.memory")), "16Gi");
    vk_tenant_config_free(&t);
}

TEST(defaults_apply)
{
    const char *y = "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: shared-1}\n"
                    "spec: {quota: {pods: 10}}\n";
    vk_tenant_config_t t;
    char err[512];
    CHECK_EQ_INT(vk_tenant_config_parse(y, strlen(y), &t, err, sizeof err), 0);
    CHECK_EQ_STR(t.host_namespace, "vkube-shared-1");
    CHECK_EQ_STR(t.pod_security, "baseline");
    CHECK(t.runtime_class == NULL);
    CHECK_EQ_INT(json_object_size(t.node_selector), 0);
    CHECK_EQ_INT(json_array_size(t.tolerations), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(t.quota, "pods")), "10"); /* number -> string */
    vk_tenant_config_free(&t);
    CHECK_EQ_INT(vk_tenant_config_default("globex", &t, err, sizeof err), 0);
    CHECK_EQ_STR(t.host_namespace, "vkube-globex");
    vk_tenant_config_free(&t);
    CHECK_EQ_INT(vk_tenant_config_default("Bad_Name", &t, err, sizeof err), VK_EINVALID);
}

static void check_invalid(const char *y, const char *const *needles)
{
    vk_tenant_config_t t;
    char err[2048] = "";
    CHECK_EQ_INT(vk_tenant_config_parse(y, strlen(y), &t, err, sizeof err), VK_EINVALID);
    CHECK(t.name == NULL && t.node_selector == NULL);
    for (const char *const *n = needles; *n; n++)
        if (!strstr(err, *n)) {
            fprintf(stderr, "  missing \"%s\" in: %s\n", *n, err);
            CHECK(strstr(err, *n) != NULL);
        }
}

TEST(validation_reports_every_problem)
{
    const char *y = "apiVersion: vkube.io/v1\nkind: Tenant\nmetadata: {name: acme}\n"
                    "spec:\n  hostNamespace: Bad_NS\n  podSecurity: privileged\n"
                    "  isolaton: {}\n"
                    "  isolation:\n    nodeSelector: {\"bad key!\": x, pool: \"-no-\"}\n"
                    "    tolerations: [{key: a, operator: Exists, value: b}, {operator: Equal},"
                    " {key: c, effect: Sometimes}]\n    runtimeClassName: Kata_CLH\n"
                    "  quota: {pods: lots, requests.cpu: \"-1\"}\n";
    const char *needles[] = {"Tenant \"acme\" is invalid",
                             "apiVersion: Unsupported value: \"vkube.io/v1\"",
                             "spec.hostNamespace: Invalid value: \"Bad_NS\"",
                             "spec.podSecurity: Unsupported value: \"privileged\"",
                             "spec.isolaton: unknown field",
                             "spec.isolation.nodeSelector: Invalid value: \"bad key!\"",
                             "spec.isolation.nodeSelector.pool: Invalid value",
                             "spec.isolation.tolerations[0].operator: Invalid value: \"Exists\"",
                             "spec.isolation.tolerations[1].operator: Invalid value: \"Equal\"",
                             "spec.isolation.tolerations[2].effect: Unsupported value: \"Sometimes\"",
                             "spec.isolation.runtimeClassName: Invalid value: \"Kata_CLH\"",
                             "spec.quota.pods: Invalid value: \"lots\"",
                             "spec.quota.requests.cpu: Invalid value: \"-1\"",
                             NULL};
    check_invalid(y, needles);
    const char *n2[] = {"kind: Unsupported value: \"Pod\"", "metadata.name: Required value", NULL};
    check_invalid("apiVersion: vkube.io/v1alpha1\nkind: Pod\n", n2);
    const char *n3[] = {"Tenant manifest: yaml: line", NULL};
    check_invalid("spec: [\n", n3);
    const char *n4[] = {"default host namespace is longer than 63", NULL};
    check_invalid("apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata:\n  name: "
                  "a23456789012345678901234567890123456789012345678901234567890\n", n4);
    const char *n5[] = {"spec: Invalid value: must be an object", NULL};
    check_invalid("apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: a}\nspec: 3\n", n5);
}

TEST(name_checks)
{
    CHECK(vk_tenant_is_dns_label("a-b1"));
    CHECK(!vk_tenant_is_dns_label("-a"));
    CHECK(!vk_tenant_is_dns_label("A"));
    CHECK(vk_tenant_is_dns_subdomain("a.b-c.d"));
    CHECK(!vk_tenant_is_dns_subdomain("a..b"));
    CHECK(vk_tenant_is_label_value(""));
    CHECK(vk_tenant_is_label_value("Ab_c.d-9"));
    CHECK(!vk_tenant_is_label_value("a b"));
    CHECK(vk_tenant_is_qualified_name("vkube.io/node-pool"));
    CHECK(vk_tenant_is_qualified_name("app"));
    CHECK(!vk_tenant_is_qualified_name("a/b/c"));
    CHECK(!vk_tenant_is_qualified_name("/x"));
    CHECK(!vk_tenant_is_qualified_name("Bad_Prefix/x"));
}

int main(void)
{
    RUN(design_example_parses);
    RUN(defaults_apply);
    RUN(validation_reports_every_problem);
    RUN(name_checks);
    TEST_EXIT();
}
