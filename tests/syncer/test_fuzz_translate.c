/* Fuzz smoke test for syncer/translate and syncer/reconcile: tenant objects
 * come from tenants (untrusted). Seeded, deterministic mutations of valid
 * pods, services, config objects, host nodes and events (values replaced by
 * other JSON types, keys deleted, arrays emptied or filled with junk) must
 * never crash, leak or produce a host object without the tenant's marks. */
#include "common/yaml.h"
#include "syncer/reconcile.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"
#include "tests/test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static json_t *junk(int depth)
{
    switch (rnd() % 9) {
    case 0: return json_null();
    case 1: return json_true();
    case 2: return json_integer((json_int_t)(rnd() % 100000) - 50000);
    case 3: return json_real(1.5);
    case 4: return json_string("");
    case 5: return json_string("x/../y-Z_\\u00e9.vkube.io/name");
    case 6: return depth > 2 ? json_array() : json_pack("[o,o]", junk(depth + 1), junk(depth + 1));
    case 7: return depth > 2 ? json_object() : json_pack("{s:o}", "name", junk(depth + 1));
    default: return json_object();
    }
}

/* Collects pointers to every container (object/array) node in v. */
static void collect(json_t *v, json_t **out, int *n, int max)
{
    if (*n >= max) return;
    if (json_is_object(v) || json_is_array(v)) out[(*n)++] = v;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) collect(c, out, n, max);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) collect(c, out, n, max);
    }
}

static void mutate(json_t *root)
{
    json_t *nodes[512];
    int n = 0;
    collect(root, nodes, &n, 512);
    int muts = 1 + (int)(rnd() % 4);
    for (int m = 0; m < muts && n > 0; m++) {
        json_t *c = nodes[rnd() % (uint64_t)n];
        if (json_is_object(c) && json_object_size(c)) {
            size_t pick = rnd() % json_object_size(c), i = 0;
            const char *k;
            json_t *v;
            const char *key = NULL;
            json_object_foreach(c, k, v) if (i++ == pick) key = k;
            if (!key) continue;
            char *kk = strdup(key);
            if (rnd() % 3 == 0) json_object_del(c, kk);
            else json_object_set_new(c, kk, junk(0));
            free(kk);
        } else if (json_is_array(c) && json_array_size(c)) {
            size_t i = rnd() % json_array_size(c);
            if (rnd() % 2) json_array_set_new(c, i, junk(0));
            else json_array_append_new(c, junk(0));
        }
        n = 0; /* the tree changed: recollect */
        collect(root, nodes, &n, 512);
    }
}

static const char *SEEDS[] = {
    "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: default, uid: u1, labels: {app: web, "
    "vkube.io/x: y1}, annotations: {a: b}}\nspec:\n  nodeName: plain-1\n  nodeSelector: {disk: ssd}\n"
    "  tolerations: [{key: vkube.io/tenant, operator: Equal, value: other}, {operator: Exists}]\n"
    "  serviceAccountName: sa\n  imagePullSecrets: [{name: reg}]\n"
    "  volumes:\n  - {name: c, configMap: {name: cfg}}\n  - {name: s, secret: {secretName: sec}}\n"
    "  - {name: p, persistentVolumeClaim: {claimName: data}}\n"
    "  - {name: pr, projected: {sources: [{serviceAccountToken: {path: token}}, {configMap: {name: ca}}, "
    "{downwardAPI: {items: [{path: ns, fieldRef: {fieldPath: metadata.namespace}}]}}]}}\n"
    "  containers:\n  - name: app\n    image: nginx\n    env: [{name: A, valueFrom: {fieldRef: {fieldPath: "
    "\"metadata.labels['vkube.io/x']\"}}}, {name: B, valueFrom: {configMapKeyRef: {name: cfg, key: k}}}]\n"
    "    envFrom: [{secretRef: {name: sec}}]\n    volumeMounts: [{name: pr, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]\n"
    "  affinity: {podAffinity: {requiredDuringSchedulingIgnoredDuringExecution: [{topologyKey: k, "
    "labelSelector: {matchLabels: {app: web}, matchExpressions: [{key: vkube.io/x, operator: Exists}]}}]}}\n"
    "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, labelSelector: {matchLabels: {app: web}}}]\n"
    "status: {phase: Running, podIP: 10.0.0.1, startTime: '2026-01-01T00:00:00Z'}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default, uid: s1}\n"
    "spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, nodePort: 30000}], externalIPs: [1.1.1.1]}\n",
    "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default, annotations: "
    "{kubernetes.io/service-account.name: x}}\ntype: kubernetes.io/service-account-token\ndata: {a: YQ==}\n"
    "stringData: {b: c}\n",
};

TEST(mutated_objects_never_crash)
{
    const char *tm = "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
                     "spec: {isolation: {nodeSelector: {vkube.io/node-pool: acme}, tolerations: "
                     "[{key: vkube.io/tenant, operator: Equal, value: acme, effect: NoSchedule}], "
                     "runtimeClassName: kata-clh}}\n";
    vk_tenant_config_t t;
    char err[512];
    CHECK_EQ_INT(vk_tenant_config_parse(tm, strlen(tm), &t, err, sizeof err), 0);
    vk_translate_ctx_t ctx = {&t, "10.96.0.1", "443"};
    json_t *seeds[3];
    for (int i = 0; i < 3; i++) {
        seeds[i] = NULL;
        CHECK_EQ_INT(vk_yaml_parse(SEEDS[i], strlen(SEEDS[i]), &seeds[i], err, sizeof err), 0);
    }
    const char *iters_s = getenv("VKUBE_FUZZ_ITERS");
    long iters = iters_s ? atol(iters_s) : 20000;
    int translated = 0, refused = 0, unmarked = 0;
    for (long it = 0; it < iters; it++) {
        int k = (int)(rnd() % 3);
        if (!seeds[k]) continue;
        json_t *o = json_deep_copy(seeds[k]);
        mutate(o);
        json_t *h = NULL;
        int rc;
        if (k == 0) {
            rc = vk_translate_pod_to_host(&ctx, o, &h, err, sizeof err);
            json_t *st = vk_translate_pod_status_to_tenant(o, NULL);
            json_t *node = vk_translate_node_to_tenant(&ctx, o);
            json_t *ev = vk_translate_event_to_tenant(&ctx, o, "default", "web", NULL);
            json_t *refs = vk_reconcile_pod_refs(o);
            json_t *arr = json_pack("[O]", o);
            json_t *harr = h ? json_pack("[O]", h) : json_incref(arr);
            json_t *plan = vk_reconcile_pods(&ctx, arr, harr);
            json_decref(harr);
            json_decref(st), json_decref(node), json_decref(ev), json_decref(refs), json_decref(plan);
            json_decref(arr);
        } else if (k == 1) {
            rc = vk_translate_service_to_host(&ctx, o, &h, err, sizeof err);
            json_t *arr = json_pack("[O]", o);
            json_t *plan = vk_reconcile_services(&ctx, arr, arr);
            json_decref(plan), json_decref(arr);
        } else {
            rc = vk_translate_config_to_host(&ctx, o, &h, err, sizeof err);
            json_t *arr = json_pack("[O]", o);
            json_t *plan = vk_reconcile_configs(&ctx, "Secret", arr, arr);
            json_decref(plan), json_decref(arr);
        }
        if (rc == 0) {
            translated++;
            if (!h || !vk_translate_is_ours(&ctx, h)) unmarked++;
        } else {
            refused++;
            CHECK(h == NULL);
        }
        json_decref(h);
        json_decref(o);
    }
    fprintf(stderr, "  fuzz: %ld objects, %d translated, %d refused\n", iters, translated, refused);
    CHECK_EQ_INT(unmarked, 0);
    CHECK(translated > 0 && refused > 0);
    for (int i = 0; i < 3; i++) json_decref(seeds[i]);
    vk_tenant_config_free(&t);
}

int main(void)
{
    RUN(mutated_objects_never_crash);
    TEST_EXIT();
}
