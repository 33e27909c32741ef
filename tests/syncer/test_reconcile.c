/* Unit tests for syncer/reconcile: the plans that make tenant and host agree. */
#include "common/err.h"
#include "common/yaml.h"
#include "syncer/reconcile.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"
#include "tests/test.h"

#include <stdlib.h>
#include <string.h>

static vk_tenant_config_t g_acme;
static vk_translate_ctx_t g_ctx;

static json_t *Y(const char *y)
{
    json_t *v = NULL;
    char err[256];
    if (vk_yaml_parse(y, strlen(y), &v, err, sizeof err)) fprintf(stderr, "  yaml: %s\n", err);
    return v;
}

static const char *S(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* "op:name" of every action, space separated (caller frees). */
static char *summary(const json_t *plan)
{
    char *out = calloc(1, 4096);
    size_t i;
    json_t *a;
    json_array_foreach(plan, i, a)
    {
        const char *name = S(a, "name");
        snprintf(out + strlen(out), 4096 - strlen(out), "%s%s:%s", i ? " " : "", S(a, "op"),
                 name ? name : "?");
    }
    return out;
}

#define CHECK_PLAN(plan, expect)                                                                   \
    do {                                                                                           \
        char *s_ = summary(plan);                                                                  \
        CHECK_EQ_STR(s_, expect);                                                                  \
        free(s_);                                                                                  \
    } while (0)

static json_t *tenant_pod(const char *name, const char *uid)
{
    char y[1024];
    snprintf(y, sizeof y,
             "apiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default, uid: %s, "
             "labels: {app: web}}\nspec:\n  containers: [{name: app, image: 'nginx:1'}]\n"
             "  volumes: [{name: c, configMap: {name: cfg}}]\nstatus: {phase: Pending}\n",
             name, uid);
    return Y(y);
}

/* What the host would hold after creating the translated pod: defaults and
 * host-only fields added, as kube-apiserver and the scheduler do. */
static json_t *host_from(const json_t *tp, const char *node, const char *phase)
{
    json_t *hp = NULL;
    char err[256];
    vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err);
    json_t *md = json_object_get(hp, "metadata");
    json_object_set_new(md, "uid", json_string("host-uid-1"));
    json_object_set_new(md, "resourceVersion", json_string("100"));
    json_t *c0 = json_array_get(json_object_get(json_object_get(hp, "spec"), "containers"), 0);
    json_object_set_new(c0, "imagePullPolicy", json_string("IfNotPresent"));
    json_array_append_new(json_object_get(json_object_get(hp, "spec"), "tolerations"),
                          json_pack("{s:s,s:s,s:s,s:i}", "key", "node.kubernetes.io/not-ready",
                                    "operator", "Exists", "effect", "NoExecute",
                                    "tolerationSeconds", 300));
    if (node) {
        json_object_set_new(json_object_get(hp, "spec"), "nodeName", json_string(node));
        json_object_set_new(hp, "status", json_pack("{s:s,s:s,s:s,s:s}", "phase", phase, "podIP",
                                                    "10.244.1.9", "hostIP", "127.0.0.1",
                                                    "startTime", "2026-11-25T21:00:00Z"));
    }
    return hp;
}

TEST(creates_missing_host_pods)
{
    json_t *tps = json_pack("[o,o]", tenant_pod("web", "u1"), tenant_pod("db", "u2"));
    json_t *done = tenant_pod("job", "u3");
    json_object_set_new(json_object_get(done, "status"), "phase", json_string("Succeeded"));
    json_array_append_new(tps, done);
    json_t *bad = Y("metadata: {name: root, namespace: default, uid: u4}\n"
                    "spec: {hostNetwork: true, containers: [{name: a, image: x}]}\n");
    json_array_append_new(tps, bad);
    json_t *hps = json_array();
    json_t *plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "host-create:web-x-default-x-acme host-create:db-x-default-x-acme "
                     "tenant-reject:root");
    json_t *obj = json_object_get(json_array_get(plan, 0), "object");
    CHECK_EQ_STR(S(json_object_get(obj, "metadata"), "namespace"), "vkube-acme");
    CHECK(strstr(S(json_array_get(plan, 2), "reason"), "hostNetwork") != NULL);
    json_decref(plan), json_decref(tps), json_decref(hps);
}

TEST(in_sync_is_a_fixed_point)
{
    json_t *tp = tenant_pod("web", "u1");
    json_t *hp = host_from(tp, "vm-acme-1", "Running");
    json_t *tps = json_pack("[O]", tp), *hps = json_pack("[O]", hp);
    json_t *plan = vk_reconcile_pods(&g_ctx, tps, hps);
    /* Only the status flows back. */
    CHECK_PLAN(plan, "tenant-status:web");
    json_t *a = json_array_get(plan, 0);
    CHECK_EQ_STR(S(a, "nodeName"), "vm-acme-1");
    CHECK_EQ_STR(S(json_object_get(a, "status"), "phase"), "Running");
    CHECK_EQ_STR(S(a, "uid"), "u1");
    /* The tenant now has what was written: nothing more to do. */
    json_object_set(tp, "status", json_object_get(a, "status"));
    json_object_set_new(json_object_get(tp, "spec"), "nodeName", json_string("vm-acme-1"));
    json_decref(plan);
    plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "");
    json_decref(plan), json_decref(tps), json_decref(hps), json_decref(tp), json_decref(hp);
}

TEST(mutable_changes_become_guarded_patches)
{
    json_t *tp = tenant_pod("web", "u1");
    json_t *hp = host_from(tp, NULL, NULL);
    json_t *md = json_object_get(tp, "metadata");
    json_object_set_new(json_object_get(md, "labels"), "tier", json_string("front"));
    json_object_del(json_object_get(md, "labels"), "app");
    json_object_set_new(md, "annotations", json_pack("{s:s}", "note", "x"));
    json_t *spec = json_object_get(tp, "spec");
    json_object_set_new(json_array_get(json_object_get(spec, "containers"), 0), "image",
                        json_string("nginx:2"));
    json_object_set_new(spec, "activeDeadlineSeconds", json_integer(60));
    json_object_set_new(spec, "tolerations", json_pack("[{s:s,s:s}]", "key", "example.com/gpu",
                                                       "operator", "Exists"));
    json_t *tps = json_pack("[O]", tp), *hps = json_pack("[O]", hp);
    json_t *plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "host-patch:web-x-default-x-acme");
    json_t *ops = json_object_get(json_array_get(plan, 0), "patch");
    char *s = json_dumps(ops, JSON_COMPACT);
    const char *want[] = {
        "{\"op\":\"test\",\"path\":\"/metadata/annotations/vkube.io~1object-uid\",\"value\":\"u1\"}",
        "{\"op\":\"add\",\"path\":\"/metadata/labels/tier\",\"value\":\"front\"}",
        "{\"op\":\"remove\",\"path\":\"/metadata/labels/app\"}",
        "{\"op\":\"add\",\"path\":\"/metadata/annotations/note\",\"value\":\"x\"}",
        "{\"op\":\"replace\",\"path\":\"/spec/containers/0/image\",\"value\":\"nginx:2\"}",
        "{\"op\":\"add\",\"path\":\"/spec/activeDeadlineSeconds\",\"value\":60}",
        "{\"op\":\"add\",\"path\":\"/spec/tolerations/-\",\"value\":{\"key\":\"example.com/gpu\",\"operator\":\"Exists\"}}",
        NULL};
    for (const char **w = want; *w; w++)
        if (!strstr(s, *w)) {
            fprintf(stderr, "  missing %s in %s\n", *w, s);
            CHECK(strstr(s, *w) != NULL);
        }
    CHECK(strncmp(s, "[{\"op\":\"test\"", 13) == 0); /* the guard comes first */
    /* The policy toleration already on the host is not added again. */
    CHECK(strstr(s, "vkube.io/tenant") == NULL);
    free(s);
    json_decref(plan), json_decref(tps), json_decref(hps), json_decref(tp), json_decref(hp);
}

TEST(deletes_orphans_and_never_touches_foreign_pods)
{
    json_t *gone = tenant_pod("old", "u9");
    json_t *orphan = host_from(gone, NULL, NULL);
    json_t *foreign = Y("metadata: {name: admin-pod, namespace: vkube-acme, uid: f1}\nspec: {}\n");
    json_t *squatter = Y("metadata: {name: web-x-default-x-acme, namespace: vkube-acme, uid: f2}\nspec: {}\n");
    json_t *hps = json_pack("[O,O,O]", orphan, foreign, squatter);
    json_t *tps = json_pack("[o]", tenant_pod("web", "u1"));
    json_t *plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "conflict:web-x-default-x-acme host-delete:old-x-default-x-acme");
    CHECK_EQ_STR(S(json_array_get(plan, 1), "uid"), "host-uid-1");
    /* Another tenant with the same pod names owns nothing here. */
    vk_tenant_config_t globex;
    char err[256];
    vk_tenant_config_default("globex", &globex, err, sizeof err);
    vk_translate_ctx_t gctx = {&globex, NULL, NULL};
    json_t *empty = json_array();
    json_t *gplan = vk_reconcile_pods(&gctx, empty, hps);
    CHECK_PLAN(gplan, "");
    vk_tenant_config_free(&globex);
    json_decref(gplan), json_decref(empty);
    json_decref(plan), json_decref(tps), json_decref(hps);
    json_decref(gone), json_decref(orphan), json_decref(foreign), json_decref(squatter);
}

TEST(deletion_and_recreation)
{
    json_t *tp = tenant_pod("web", "u1");
    json_t *hp = host_from(tp, "vm-acme-1", "Running");
    /* Tenant deletes with a grace period: the host follows with it. */
    json_object_set_new(json_object_get(tp, "metadata"), "deletionTimestamp",
                        json_string("2026-11-25T21:05:00Z"));
    json_object_set_new(json_object_get(tp, "metadata"), "deletionGracePeriodSeconds",
                        json_integer(7));
    json_t *tps = json_pack("[O]", tp), *hps = json_pack("[O]", hp);
    json_t *plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "host-delete:web-x-default-x-acme tenant-status:web");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(plan, 0), "gracePeriodSeconds")), 7);
    json_decref(plan);
    /* Once the host pod is gone, the tenant deletion completes. */
    json_array_clear(hps);
    plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "tenant-delete:web");
    json_decref(plan);
    json_decref(tps);
    /* A pod recreated in the tenant under the same name: the old host pod goes first. */
    json_t *tp2 = tenant_pod("web", "u2");
    tps = json_pack("[O]", tp2);
    json_array_append(hps, hp);
    plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "host-delete:web-x-default-x-acme tenant-status:web");
    CHECK(strstr(S(json_array_get(plan, 0), "reason"), "recreated") != NULL);
    json_decref(plan);
    /* A host pod removed out of band after it ran: the tenant pod goes away too. */
    json_array_clear(hps);
    json_object_set_new(json_object_get(tp2, "spec"), "nodeName", json_string("vm-acme-1"));
    json_object_set_new(json_object_get(tp2, "status"), "startTime", json_string("2026-11-25T21:00:00Z"));
    plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "tenant-delete:web");
    CHECK(strstr(S(json_array_get(plan, 0), "reason"), "removed") != NULL);
    json_decref(plan);
    /* ...but a tenant pod that merely names a node is still created on the host. */
    json_object_del(json_object_get(tp2, "status"), "startTime");
    plan = vk_reconcile_pods(&g_ctx, tps, hps);
    CHECK_PLAN(plan, "host-create:web-x-default-x-acme");
    json_decref(plan);
    json_decref(tps), json_decref(hps), json_decref(tp), json_decref(tp2), json_decref(hp);
}

TEST(pod_references)
{
    json_t *tp = Y("spec:\n  serviceAccountName: builder\n  imagePullSecrets: [{name: reg}]\n"
                   "  volumes:\n  - {name: a, configMap: {name: cfg}}\n  - {name: b, secret: {secretName: s1}}\n"
                   "  - {name: c, projected: {sources: [{configMap: {name: cfg2}}, {secret: {name: s2}}, "
                   "{serviceAccountToken: {path: t}}]}}\n"
                   "  containers:\n  - name: x\n    env: [{name: A, valueFrom: {configMapKeyRef: {name: cfg, key: k}}},"
                   " {name: B, valueFrom: {secretKeyRef: {name: s3, key: k}}}]\n"
                   "    envFrom: [{configMapRef: {name: cfg3}}, {secretRef: {name: s1}}]\n");
    json_t *r = vk_reconcile_pod_refs(tp);
    char *s = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(s, "{\"configmaps\":[\"cfg\",\"cfg2\",\"cfg3\"],\"pvcs\":[],\"secrets\":[\"s1\",\"s2\",\"s3\","
                    "\"reg\"],\"serviceAccount\":\"builder\"}");
    free(s);
    json_decref(r), json_decref(tp);
}

TEST(configs_created_patched_and_deleted)
{
    json_t *cfg = Y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: default, uid: c1}\n"
                    "data: {a: '1'}\n");
    json_t *sec = Y("apiVersion: v1\nkind: Secret\nmetadata: {name: s1, namespace: default, uid: s1}\n"
                    "type: Opaque\nstringData: {password: hunter2}\n");
    json_t *wanted = json_pack("[O]", cfg), *host = json_array();
    json_t *plan = vk_reconcile_configs(&g_ctx, "ConfigMap", wanted, host);
    CHECK_PLAN(plan, "host-create:cfg-x-default-x-acme");
    /* The host copy as created: same content, nothing to do. */
    json_t *hcfg = json_deep_copy(json_object_get(json_array_get(plan, 0), "object"));
    json_object_set_new(json_object_get(hcfg, "metadata"), "uid", json_string("h1"));
    json_array_append(host, hcfg);
    json_decref(plan);
    plan = vk_reconcile_configs(&g_ctx, "ConfigMap", wanted, host);
    CHECK_PLAN(plan, "");
    json_decref(plan);
    /* Changed data is patched. */
    json_object_set_new(json_object_get(cfg, "data"), "a", json_string("2"));
    plan = vk_reconcile_configs(&g_ctx, "ConfigMap", wanted, host);
    CHECK_PLAN(plan, "host-patch:cfg-x-default-x-acme");
    char *s = json_dumps(json_object_get(json_array_get(plan, 0), "patch"), JSON_COMPACT);
    CHECK_EQ_STR(s, "[{\"op\":\"replace\",\"path\":\"/data\",\"value\":{\"a\":\"2\"}}]");
    free(s);
    json_decref(plan);
    /* No longer wanted: deleted, since it is ours. A foreign one stays. */
    json_array_append_new(host, Y("metadata: {name: admin-cm, namespace: vkube-acme}\n"));
    json_t *none = json_array();
    plan = vk_reconcile_configs(&g_ctx, "ConfigMap", none, host);
    CHECK_PLAN(plan, "host-delete:cfg-x-default-x-acme");
    json_decref(plan);
    /* Secrets: stringData equals the host's base64 data; token secrets are left alone. */
    json_t *swanted = json_pack("[O]", sec);
    json_t *hsec = NULL;
    char err[256];
    vk_translate_config_to_host(&g_ctx, sec, &hsec, err, sizeof err);
    json_object_del(hsec, "stringData");
    json_object_set_new(hsec, "data", json_pack("{s:s}", "password", "aHVudGVyMg=="));
    json_t *tok = vk_translate_token_secret(&g_ctx, "default", "p", "u", "default", "jwt", 0, 3600,
                                            "ca");
    json_t *shost = json_pack("[O,O]", hsec, tok);
    plan = vk_reconcile_configs(&g_ctx, "Secret", swanted, shost);
    CHECK_PLAN(plan, "");
    json_decref(plan);
    /* A type change cannot be patched: recreate. */
    json_object_set_new(sec, "type", json_string("kubernetes.io/dockerconfigjson"));
    plan = vk_reconcile_configs(&g_ctx, "Secret", swanted, shost);
    CHECK_PLAN(plan, "host-delete:s1-x-default-x-acme");
    json_decref(plan);
    json_decref(swanted), json_decref(shost), json_decref(hsec), json_decref(tok);
    json_decref(none), json_decref(wanted), json_decref(host), json_decref(hcfg);
    json_decref(cfg), json_decref(sec);
}

TEST(services_created_patched_ip_back_and_orphans_deleted)
{
    json_t *svc = Y("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, uid: sv1}\n"
                    "spec: {selector: {app: web}, ports: [{port: 80}]}\n");
    json_t *tsvcs = json_pack("[O]", svc), *host = json_array();
    json_t *plan = vk_reconcile_services(&g_ctx, tsvcs, host);
    CHECK_PLAN(plan, "host-create:web-x-default-x-acme");
    /* The host as it stores it: defaults and an allocated ClusterIP. */
    json_t *h = json_deep_copy(json_object_get(json_array_get(plan, 0), "object"));
    json_t *hs = json_object_get(h, "spec");
    json_object_set_new(hs, "clusterIP", json_string("10.0.0.42"));
    json_object_set_new(hs, "clusterIPs", json_pack("[s]", "10.0.0.42"));
    json_object_set_new(hs, "ports", json_pack("[{s:i,s:i,s:s}]", "port", 80, "targetPort", 80,
                                               "protocol", "TCP"));
    json_object_set_new(json_object_get(h, "metadata"), "uid", json_string("hsv1"));
    json_array_append(host, h);
    json_decref(plan);
    plan = vk_reconcile_services(&g_ctx, tsvcs, host);
    CHECK_PLAN(plan, "tenant-service-ip:web");
    CHECK_EQ_STR(S(json_array_get(plan, 0), "clusterIP"), "10.0.0.42");
    json_decref(plan);
    json_object_set_new(json_object_get(svc, "spec"), "clusterIP", json_string("10.0.0.42"));
    plan = vk_reconcile_services(&g_ctx, tsvcs, host);
    CHECK_PLAN(plan, "");
    json_decref(plan);
    /* A new port and another selector: one guarded patch. */
    json_object_set_new(json_object_get(svc, "spec"), "ports",
                        json_pack("[{s:i},{s:s,s:i,s:i}]", "port", 80, "name", "m", "port", 9090,
                                  "targetPort", 9091));
    json_object_set_new(json_object_get(svc, "spec"), "selector", json_pack("{s:s}", "app", "web2"));
    plan = vk_reconcile_services(&g_ctx, tsvcs, host);
    CHECK_PLAN(plan, "host-patch:web-x-default-x-acme");
    char *s = json_dumps(json_object_get(json_array_get(plan, 0), "patch"), JSON_COMPACT);
    CHECK(strstr(s, "\"path\":\"/spec/selector\"") && strstr(s, "\"app\":\"web2\"") &&
          strstr(s, "\"vkube.io/managed-by\":\"acme\""));
    CHECK(strstr(s, "\"path\":\"/spec/ports\"") && strstr(s, "9091"));
    free(s);
    json_decref(plan);
    /* The tenant Service is gone: our host Service goes too. */
    json_t *none = json_array();
    plan = vk_reconcile_services(&g_ctx, none, host);
    CHECK_PLAN(plan, "host-delete:web-x-default-x-acme");
    json_decref(plan), json_decref(none), json_decref(h), json_decref(host), json_decref(tsvcs);
    json_decref(svc);
}

TEST(pvcs_created_status_back_and_deleted_with_the_claim)
{
    json_t *tp = Y("spec:\n  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n"
                   "  containers: [{name: x, image: y}]\n");
    json_t *r = vk_reconcile_pod_refs(tp);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(r, "pvcs"), 0)), "data");
    json_decref(r), json_decref(tp);

    json_t *pvc = Y("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default, uid: u1}\n"
                    "spec: {accessModes: [ReadWriteOnce], storageClassName: manual, volumeName: tenant-pv,"
                    " selector: {matchLabels: {a: b}}, resources: {requests: {storage: 1Gi}}}\n");
    json_t *other = Y("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: idle, namespace: default, uid: u2}\n"
                      "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n");
    json_t *tpvcs = json_pack("[O,O]", pvc, other);
    json_t *wanted = json_pack("{s:{s:b}}", "default", "data", 1);
    json_t *none = json_array();
    /* Only the claim a pod uses is created; translated, tenant-only fields dropped. */
    json_t *plan = vk_reconcile_pvcs(&g_ctx, tpvcs, wanted, none);
    CHECK_PLAN(plan, "host-create:data-x-default-x-acme");
    json_t *h = json_deep_copy(json_object_get(json_array_get(plan, 0), "object"));
    json_decref(plan);
    CHECK(vk_translate_is_ours(&g_ctx, h));
    json_t *hs = json_object_get(h, "spec");
    CHECK_EQ_STR(S(hs, "storageClassName"), "manual");
    CHECK(json_object_get(hs, "volumeName") == NULL && json_object_get(hs, "selector") == NULL);
    CHECK_EQ_STR(S(json_object_get(json_object_get(hs, "resources"), "requests"), "storage"), "1Gi");
    /* Pending on the host, nothing shown yet: the tenant gets phase Pending. */
    json_object_set_new(h, "status", json_pack("{s:s}", "phase", "Pending"));
    json_t *hosts = json_pack("[O]", h);
    plan = vk_reconcile_pvcs(&g_ctx, tpvcs, wanted, hosts);
    CHECK_PLAN(plan, "tenant-pvc-status:data");
    CHECK_EQ_STR(S(json_object_get(json_array_get(plan, 0), "status"), "phase"), "Pending");
    CHECK(json_object_get(json_array_get(plan, 0), "volumeName") == NULL);
    json_decref(plan);
    /* Bound on the host: phase, capacity and the host volume go to the tenant. */
    json_object_set_new(hs, "volumeName", json_string("host-pv"));
    json_object_set_new(h, "status", json_pack("{s:s,s:{s:s},s:[s]}", "phase", "Bound", "capacity", "storage",
                                               "1Gi", "accessModes", "ReadWriteOnce"));
    json_object_del(json_object_get(pvc, "spec"), "volumeName");
    plan = vk_reconcile_pvcs(&g_ctx, tpvcs, wanted, hosts);
    CHECK_PLAN(plan, "tenant-pvc-status:data");
    json_t *a = json_array_get(plan, 0);
    CHECK_EQ_STR(S(a, "volumeName"), "host-pv");
    CHECK_EQ_STR(S(a, "uid"), "u1");
    CHECK_EQ_STR(S(json_object_get(json_object_get(a, "status"), "capacity"), "storage"), "1Gi");
    json_decref(plan);
    /* Shown: a fixed point, also when no pod uses the claim any more. */
    json_object_set(pvc, "status", json_object_get(h, "status"));
    json_object_set_new(json_object_get(pvc, "spec"), "volumeName", json_string("host-pv"));
    json_t *nobody = json_object();
    plan = vk_reconcile_pvcs(&g_ctx, tpvcs, nobody, hosts);
    CHECK_PLAN(plan, "");
    json_decref(plan);
    /* The tenant claim deleted: the host claim goes (uid-guarded). */
    json_t *only_other = json_pack("[O]", other);
    plan = vk_reconcile_pvcs(&g_ctx, only_other, nobody, hosts);
    CHECK_PLAN(plan, "host-delete:data-x-default-x-acme");
    json_decref(plan);
    /* A foreign host claim of that name is a conflict, never touched. */
    json_t *foreign = Y("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data-x-default-x-acme, namespace: vkube-acme}\n");
    json_t *fl = json_pack("[O]", foreign);
    plan = vk_reconcile_pvcs(&g_ctx, tpvcs, wanted, fl);
    CHECK_PLAN(plan, "conflict:data-x-default-x-acme");
    json_decref(plan);
    plan = vk_reconcile_pvcs(&g_ctx, only_other, nobody, fl);
    CHECK_PLAN(plan, "");
    json_decref(plan);
    json_decref(fl), json_decref(foreign), json_decref(only_other), json_decref(nobody);
    json_decref(hosts), json_decref(h), json_decref(none), json_decref(wanted), json_decref(tpvcs);
    json_decref(pvc), json_decref(other);
}

int main(void)
{
    const char *acme = "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
                       "spec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: acme}\n"
                       "    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, "
                       "effect: NoSchedule}]\n";
    char err[512];
    if (vk_tenant_config_parse(acme, strlen(acme), &g_acme, err, sizeof err)) {
        printf("not ok test_reconcile:setup - %s\n", err);
        return 1;
    }
    g_ctx = (vk_translate_ctx_t){&g_acme, "10.96.0.99", "6443"};
    RUN(creates_missing_host_pods);
    RUN(in_sync_is_a_fixed_point);
    RUN(mutable_changes_become_guarded_patches);
    RUN(deletes_orphans_and_never_touches_foreign_pods);
    RUN(deletion_and_recreation);
    RUN(pod_references);
    RUN(configs_created_patched_and_deleted);
    RUN(services_created_patched_ip_back_and_orphans_deleted);
    RUN(pvcs_created_status_back_and_deleted_with_the_claim);
    vk_tenant_config_free(&g_acme);
    TEST_EXIT();
}
