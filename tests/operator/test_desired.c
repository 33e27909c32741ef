/* Unit tests for operator/desired.c: the host objects a Tenant spec wants,
 * REST paths, host-namespace ownership and condition bookkeeping. */
#include <openssl/evp.h>

#include "common/mem.h"
#include "operator/operator.h"
#include "tests/test.h"

static const char acme[] =
    "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
    "spec:\n  hostNamespace: vkube-acme\n  isolation:\n    nodeSelector: {vkube.io/node-pool: acme}\n"
    "    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, effect: NoSchedule}]\n"
    "  podSecurity: restricted\n  quota: {pods: \"50\", requests.cpu: \"8\", limits.memory: 16Gi}\n";

static int parse(const char *y, vk_tenant_config_t *cfg)
{
    char err[512];
    int rc = vk_tenant_config_parse(y, strlen(y), cfg, err, sizeof err);
    if (rc) fprintf(stderr, "  parse: %s\n", err);
    return rc;
}

static json_t *find_kind(json_t *objs, const char *kind)
{
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o)
        if (!strcmp(json_string_value(json_object_get(o, "kind")), kind)) return o;
    return NULL;
}

TEST(desired_objects_in_order_with_ownership)
{
    vk_tenant_config_t cfg;
    CHECK_EQ_INT(parse(acme, &cfg), 0);
    json_t *objs = vk_operator_desired(&cfg, "127.0.0.1", 24001);
    static const char *const kinds[] = {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy",
                                        "ServiceAccount", "ServiceAccount", "Role",
                                        "RoleBinding", "ClusterRoleBinding"};
    CHECK_EQ_INT(json_array_size(objs), 9);
    for (size_t i = 0; i < json_array_size(objs) && i < 9; i++) {
        json_t *o = json_array_get(objs, i);
        CHECK_EQ_STR(json_string_value(json_object_get(o, "kind")), kinds[i]);
        json_t *labels = json_object_get(json_object_get(o, "metadata"), "labels");
        CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/tenant")), "acme");
        CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/managed-by")), "vkube");
        const char *ns = json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace"));
        if (i == 0 || i == 8)
            CHECK(ns == NULL);
        else
            CHECK_EQ_STR(ns, "vkube-acme");
        char *path = vk_operator_object_path(o);
        CHECK(path != NULL);
        free(path);
    }
    json_t *wsa = json_array_get(objs, 5);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(wsa, "metadata"), "name")), "vkube-workload");
    CHECK(json_is_false(json_object_get(wsa, "automountServiceAccountToken")));
    json_t *nsobj = json_array_get(objs, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(nsobj, "metadata"), "name")), "vkube-acme");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(nsobj, "metadata"), "labels"),
                                                   "pod-security.kubernetes.io/enforce")),
                 "restricted");
    json_t *crb = find_kind(objs, "ClusterRoleBinding");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(crb, "metadata"), "name")),
                 "vkube-syncer-acme");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(crb, "roleRef"), "name")),
                 "vkube-syncer-nodes");
    json_t *subj = json_array_get(json_object_get(crb, "subjects"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(subj, "namespace")), "vkube-acme");
    json_decref(objs);
    vk_tenant_config_free(&cfg);
}

TEST(quota_and_limit_range_follow_spec)
{
    vk_tenant_config_t cfg;
    CHECK_EQ_INT(parse(acme, &cfg), 0);
    json_t *objs = vk_operator_desired(&cfg, NULL, 0);
    json_t *hard = json_object_get(json_object_get(find_kind(objs, "ResourceQuota"), "spec"), "hard");
    CHECK_EQ_INT(json_object_size(hard), 3);
    CHECK_EQ_STR(json_string_value(json_object_get(hard, "pods")), "50");
    CHECK_EQ_STR(json_string_value(json_object_get(hard, "limits.memory")), "16Gi");
    json_t *lim = json_array_get(json_object_get(json_object_get(find_kind(objs, "LimitRange"), "spec"), "limits"), 0);
    CHECK(json_object_get(lim, "defaultRequest") != NULL);
    CHECK(json_object_get(lim, "default") != NULL); /* limits.* quota needs default limits */
    json_decref(objs);
    vk_tenant_config_free(&cfg);

    /* Without limits in the quota, no default limits are imposed. */
    CHECK_EQ_INT(parse("apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: b}\n"
                       "spec: {quota: {pods: \"3\"}}\n", &cfg), 0);
    objs = vk_operator_desired(&cfg, NULL, 0);
    lim = json_array_get(json_object_get(json_object_get(find_kind(objs, "LimitRange"), "spec"), "limits"), 0);
    CHECK(json_object_get(lim, "default") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(find_kind(objs, "Namespace"), "metadata"), "name")),
                 "vkube-b");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(find_kind(objs, "Namespace"), "metadata"), "labels"),
                                                   "pod-security.kubernetes.io/enforce")), "baseline");
    json_decref(objs);
    vk_tenant_config_free(&cfg);
}

TEST(network_policy_denies_all_but_own_pods_dns_and_api)
{
    vk_tenant_config_t cfg;
    CHECK_EQ_INT(parse(acme, &cfg), 0);
    json_t *objs = vk_operator_desired(&cfg, "127.0.0.1", 24001);
    json_t *spec = json_object_get(find_kind(objs, "NetworkPolicy"), "spec");
    CHECK_EQ_INT(json_object_size(json_object_get(spec, "podSelector")), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(spec, "policyTypes")), 2);
    json_t *ingress = json_object_get(spec, "ingress");
    CHECK_EQ_INT(json_array_size(ingress), 1);
    json_t *from = json_array_get(json_object_get(json_array_get(ingress, 0), "from"), 0);
    CHECK(json_object_get(from, "podSelector") != NULL && !json_object_get(from, "namespaceSelector"));
    json_t *egress = json_object_get(spec, "egress");
    CHECK_EQ_INT(json_array_size(egress), 3);
    json_t *dns_ports = json_object_get(json_array_get(egress, 1), "ports");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(dns_ports, 0), "port")), 53);
    json_t *api = json_array_get(egress, 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_array_get(json_object_get(api, "to"), 0), "ipBlock"), "cidr")),
                 "127.0.0.1/32");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(api, "ports"), 0), "port")), 24001);
    json_decref(objs);
    objs = vk_operator_desired(&cfg, NULL, 0);
    spec = json_object_get(find_kind(objs, "NetworkPolicy"), "spec");
    CHECK_EQ_INT(json_array_size(json_object_get(spec, "egress")), 2);
    json_decref(objs);
    vk_tenant_config_free(&cfg);
}

TEST(kubeconfig_secret_round_trips)
{
    vk_tenant_config_t cfg;
    CHECK_EQ_INT(parse(acme, &cfg), 0);
    const char *kc = "apiVersion: v1\nkind: Config\nclusters: []\n";
    json_t *s = vk_operator_kubeconfig_secret(&cfg, kc);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s, "metadata"), "name")), "acme-kubeconfig");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s, "metadata"), "namespace")), "vkube-acme");
    const char *b64 = json_string_value(json_object_get(json_object_get(s, "data"), "kubeconfig"));
    CHECK(b64 != NULL);
    if (b64) {
        unsigned char out[256];
        int n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)strlen(b64));
        CHECK(n >= (int)strlen(kc));
        CHECK(!memcmp(out, kc, strlen(kc)));
    }
    char *path = vk_operator_object_path(s);
    CHECK_EQ_STR(path, "/api/v1/namespaces/vkube-acme/secrets/acme-kubeconfig");
    free(path);
    json_decref(s);
    vk_tenant_config_free(&cfg);
}

TEST(object_paths)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "networking.k8s.io/v1", "kind",
                          "NetworkPolicy", "metadata", "name", "p", "namespace", "n");
    char *p = vk_operator_object_path(o);
    CHECK_EQ_STR(p, "/apis/networking.k8s.io/v1/namespaces/n/networkpolicies/p");
    free(p);
    json_decref(o);
    o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", "x");
    p = vk_operator_object_path(o);
    CHECK_EQ_STR(p, "/api/v1/namespaces/x");
    free(p);
    json_decref(o);
    /* Unknown kinds and a namespaced kind without namespace have no path. */
    o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Pod", "metadata", "name", "x");
    CHECK(vk_operator_object_path(o) == NULL);
    json_decref(o);
    o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata", "name", "x");
    CHECK(vk_operator_object_path(o) == NULL);
    json_decref(o);
}

static json_t *tenant(const char *name, const char *ns, const char *created)
{
    json_t *t = json_pack("{s:{s:s,s:s},s:{}}", "metadata", "name", name, "creationTimestamp",
                          created, "spec");
    if (ns) json_object_set_new(json_object_get(t, "spec"), "hostNamespace", json_string(ns));
    return t;
}

TEST(namespace_owners_oldest_claim_wins)
{
    json_t *ts = json_pack("[o,o,o,o,o]", tenant("b", "shared", "2026-01-02T00:00:00Z"),
                           tenant("a", "shared", "2026-01-03T00:00:00Z"),
                           tenant("c", NULL, "2026-01-01T00:00:00Z"),
                           tenant("d", "vkube-c", "2026-01-01T00:00:00Z"), /* same time: name */
                           tenant("e", NULL, "2026-01-05T00:00:00Z"));
    json_t *own = vk_operator_namespace_owners(ts);
    CHECK_EQ_STR(json_string_value(json_object_get(own, "a")), "b");
    CHECK_EQ_STR(json_string_value(json_object_get(own, "b")), "b");
    CHECK_EQ_STR(json_string_value(json_object_get(own, "c")), "c");
    CHECK_EQ_STR(json_string_value(json_object_get(own, "d")), "c");
    CHECK_EQ_STR(json_string_value(json_object_get(own, "e")), "e");
    json_decref(own);
    json_decref(ts);
}

TEST(condition_keeps_transition_time_while_status_holds)
{
    json_t *old = json_pack("[{s:s,s:s,s:s}]", "type", "Ready", "status", "False",
                            "lastTransitionTime", "2026-01-01T00:00:00Z");
    json_t *c = vk_operator_condition(old, "Ready", 0, "Starting", "m", "2026-02-02T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "lastTransitionTime")), "2026-01-01T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "status")), "False");
    json_decref(c);
    c = vk_operator_condition(old, "Ready", 1, "Ready", NULL, "2026-02-02T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "lastTransitionTime")), "2026-02-02T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "status")), "True");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "message")), "");
    json_decref(c);
    c = vk_operator_condition(NULL, "Other", 1, "R", "m", "2026-03-03T00:00:00Z");
    CHECK_EQ_STR(json_string_value(json_object_get(c, "lastTransitionTime")), "2026-03-03T00:00:00Z");
    json_decref(c);
    json_decref(old);
}

TEST(cluster_control_plane)
{
    vk_tenant_config_t cfg;
    CHECK_EQ_INT(parse(acme, &cfg), 0);
    json_t *objs = vk_operator_control_plane(&cfg, "registry.example.com/vkube:v1");
    CHECK_EQ_INT(json_array_size(objs), 3);
    json_t *svc = find_kind(objs, "Service"), *sts = find_kind(objs, "StatefulSet");
    json_t *np = find_kind(objs, "NetworkPolicy");
    CHECK(svc && sts && np);
    char *p = vk_operator_object_path(sts);
    CHECK_EQ_STR(p, "/apis/apps/v1/namespaces/vkube-acme/statefulsets/vkube-api");
    free(p);
    p = vk_operator_object_path(svc);
    CHECK_EQ_STR(p, "/api/v1/namespaces/vkube-acme/services/vkube-api");
    free(p);
    json_t *sspec = json_object_get(sts, "spec");
    CHECK_EQ_INT(json_integer_value(json_object_get(sspec, "replicas")), 1);
    CHECK_EQ_INT(json_array_size(json_object_get(sspec, "volumeClaimTemplates")), 1);
    /* Service selector == pod labels == StatefulSet selector. */
    json_t *podlabels = json_object_get(json_object_get(json_object_get(sspec, "template"), "metadata"), "labels");
    CHECK(json_equal(podlabels, json_object_get(json_object_get(svc, "spec"), "selector")));
    CHECK(json_equal(podlabels, json_object_get(json_object_get(sspec, "selector"), "matchLabels")));
    CHECK(json_equal(podlabels, json_object_get(json_object_get(np, "spec"), "podSelector") ?
                                    json_object_get(json_object_get(json_object_get(np, "spec"), "podSelector"), "matchLabels") : NULL));
    json_t *pod = json_object_get(json_object_get(sspec, "template"), "spec");
    json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(c, "image")), "registry.example.com/vkube:v1");
    json_t *args = json_object_get(c, "args");
    CHECK_EQ_STR(json_string_value(json_array_get(args, 0)), "serve");
    CHECK_EQ_STR(json_string_value(json_array_get(args, 4)), "acme");
    CHECK_EQ_STR(json_string_value(json_array_get(args, 6)), "0.0.0.0:6443");
    CHECK_EQ_STR(json_string_value(json_object_get(pod, "serviceAccountName")), "vkube-syncer");
    /* Restricted Pod Security: non-root, no escalation, all capabilities dropped. */
    CHECK(json_is_true(json_object_get(json_object_get(pod, "securityContext"), "runAsNonRoot")));
    CHECK(json_is_false(json_object_get(json_object_get(c, "securityContext"), "allowPrivilegeEscalation")));
    json_t *seedvol = json_array_get(json_object_get(pod, "volumes"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(seedvol, "secret"), "secretName")),
                 "vkube-api-seed");
    json_decref(objs);
    vk_tenant_config_free(&cfg);
}

int main(void)
{
    RUN(desired_objects_in_order_with_ownership);
    RUN(quota_and_limit_range_follow_spec);
    RUN(network_policy_denies_all_but_own_pods_dns_and_api);
    RUN(kubeconfig_secret_round_trips);
    RUN(object_paths);
    RUN(namespace_owners_oldest_claim_wins);
    RUN(condition_keeps_transition_time_while_status_holds);
    RUN(cluster_control_plane);
    TEST_EXIT();
}
