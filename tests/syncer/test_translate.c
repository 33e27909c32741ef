/* Unit tests for syncer/translate: tenant <-> host translation. */
#include "common/err.h"
#include "common/yaml.h"
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

/* The value at a path of keys and [index] steps, e.g. at(o, "spec.volumes[0].name");
 * keys containing dots are looked up with json_object_get directly. */
static json_t *at(json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && o; tok = strtok(NULL, ".")) {
        char *br = strchr(tok, '[');
        if (br) *br = 0;
        if (*tok) o = json_object_get(o, tok);
        while (br && o) {
            o = json_array_get(o, strtoul(br + 1, NULL, 10));
            br = strchr(br + 1, '[');
        }
    }
    return o;
}

static const char *S(json_t *o, const char *path)
{
    return json_string_value(at(o, path));
}

/* The element of array arr whose "name" is name. */
static json_t *named(json_t *arr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (json_string_value(json_object_get(e, "name")) &&
                                      strcmp(json_string_value(json_object_get(e, "name")), name) == 0) return e;
    return NULL;
}

TEST(host_names)
{
    char *n = vk_translate_host_name("web", "default", "acme");
    CHECK_EQ_STR(n, "web-x-default-x-acme");
    free(n);
    /* Expected value computed independently (Python hashlib). */
    n = vk_translate_host_name("a-very-long-pod-name-that-goes-on-and-on", "production-namespace",
                               "acme");
    CHECK_EQ_STR(n, "a-very-long-pod-name-that-goes-on-and-on-x-productio-d2f2495c6c");
    CHECK_EQ_INT(strlen(n), 63);
    free(n);
    char *a = vk_translate_host_name("x", "a-b", "c"), *b = vk_translate_host_name("x-a", "b", "c");
    CHECK(strcmp(a, "x-x-a-b-x-c") == 0 && strcmp(b, "x-a-x-b-x-c") == 0);
    free(a), free(b);
    /* Exactly 63 stays as is; 64 is hashed. */
    char name[64];
    memset(name, 'p', sizeof name);
    name[63 - strlen("-x-ns-x-t")] = 0;
    n = vk_translate_host_name(name, "ns", "t");
    CHECK_EQ_INT(strlen(n), 63);
    CHECK(strstr(n, "-x-ns-x-t") != NULL);
    free(n);
    name[strlen(name) + 1] = 0;
    name[strlen(name)] = 'p';
    n = vk_translate_host_name(name, "ns", "t");
    CHECK_EQ_INT(strlen(n), 63);
    CHECK(strstr(n, "-x-ns-x-t") == NULL);
    free(n);
    n = vk_translate_token_secret_name("default", "web", "acme");
    CHECK_EQ_STR(n, "vkube-token-web-x-default-x-acme");
    free(n);
}

TEST(label_keys_move_out_of_vkube_io)
{
    const char *cases[][2] = {{"app", "app"},
                              {"example.com/x", "example.com/x"},
                              {"vkube.io/managed-by", "t.vkube.io/managed-by"},
                              {"sub.vkube.io/a", "t.sub.vkube.io/a"},
                              {"t.vkube.io/a", "t.t.vkube.io/a"},
                              {"notvkube.io/a", "notvkube.io/a"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *h = vk_translate_key_to_host(cases[i][0]);
        CHECK_EQ_STR(h, cases[i][1]);
        char *back = vk_translate_key_to_tenant(h);
        CHECK_EQ_STR(back, cases[i][0]);
        free(h), free(back);
    }
}

static const char *POD =
    "apiVersion: v1\nkind: Pod\n"
    "metadata:\n"
    "  name: web\n  namespace: default\n  uid: 1111-2222\n  resourceVersion: '42'\n"
    "  labels: {app: web, vkube.io/managed-by: globex, vkube.io/namespace: kube-system}\n"
    "  annotations: {note: hi, vkube.io/object-name: evil}\n"
    "  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-rs, uid: x}]\n"
    "spec:\n"
    "  nodeName: plain-1\n"
    "  nodeSelector: {vkube.io/node-pool: globex, disktype: ssd}\n"
    "  tolerations:\n"
    "  - {key: vkube.io/tenant, operator: Equal, value: globex, effect: NoSchedule}\n"
    "  - {operator: Exists}\n"
    "  - {key: example.com/gpu, operator: Exists, effect: NoSchedule}\n"
    "  runtimeClassName: runc-unsafe\n"
    "  priorityClassName: system-node-critical\n"
    "  serviceAccountName: builder\n"
    "  imagePullSecrets: [{name: regcred}]\n"
    "  volumes:\n"
    "  - {name: cfg, configMap: {name: app-config}}\n"
    "  - {name: sec, secret: {secretName: app-secret}}\n"
    "  - {name: data, persistentVolumeClaim: {claimName: data-pvc}}\n"
    "  - {name: scratch, emptyDir: {}}\n"
    "  - name: kube-api-access-abcde\n"
    "    projected:\n"
    "      sources:\n"
    "      - serviceAccountToken: {expirationSeconds: 3607, path: token}\n"
    "      - configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]}\n"
    "      - downwardAPI: {items: [{path: namespace, fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}]}\n"
    "  initContainers:\n"
    "  - name: init\n    image: busybox\n    envFrom: [{configMapRef: {name: init-env}}]\n"
    "  containers:\n"
    "  - name: app\n    image: nginx\n"
    "    env:\n"
    "    - {name: A, value: '1'}\n"
    "    - {name: B, valueFrom: {configMapKeyRef: {name: app-config, key: b}}}\n"
    "    - {name: C, valueFrom: {secretKeyRef: {name: app-secret, key: c}}}\n"
    "    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}\n"
    "    - {name: APP, valueFrom: {fieldRef: {fieldPath: \"metadata.labels['vkube.io/x']\"}}}\n"
    "    envFrom: [{secretRef: {name: app-secret}}, {configMapRef: {name: app-config}}]\n"
    "    volumeMounts: [{name: kube-api-access-abcde, mountPath: "
    "/var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}]\n"
    "  affinity:\n"
    "    podAntiAffinity:\n"
    "      requiredDuringSchedulingIgnoredDuringExecution:\n"
    "      - {topologyKey: kubernetes.io/hostname, namespaces: [other], labelSelector: {matchLabels: {app: web}}}\n"
    "status: {phase: Pending}\n";

TEST(pod_to_host)
{
    json_t *tp = Y(POD);
    json_t *hp = NULL;
    char err[256] = "";
    int rc = vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (!hp) return;
    /* Identity and marks. */
    CHECK_EQ_STR(S(hp, "metadata.name"), "web-x-default-x-acme");
    CHECK_EQ_STR(S(hp, "metadata.namespace"), "vkube-acme");
    json_t *labels = at(hp, "metadata.labels");
    CHECK_EQ_STR(S(labels, "app"), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/managed-by")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/namespace")), "default");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "t.vkube.io/managed-by")), "globex");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "t.vkube.io/namespace")), "kube-system");
    json_t *ann = at(hp, "metadata.annotations");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "vkube.io/object-name")), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "vkube.io/object-namespace")), "default");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "vkube.io/object-uid")), "1111-2222");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "vkube.io/object-kind")), "Pod");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "t.vkube.io/object-name")), "evil");
    CHECK_EQ_STR(json_string_value(json_object_get(ann, "note")), "hi");
    CHECK(at(hp, "metadata.uid") == NULL && at(hp, "metadata.resourceVersion") == NULL);
    CHECK(at(hp, "metadata.ownerReferences") == NULL);
    CHECK(at(hp, "status") == NULL);
    /* Isolation policy, whatever the tenant wrote. */
    json_t *spec = at(hp, "spec");
    CHECK(json_object_get(spec, "nodeName") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(spec, "nodeSelector"), "vkube.io/node-pool")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(spec, "nodeSelector"), "disktype")), "ssd");
    json_t *tols = json_object_get(spec, "tolerations");
    CHECK_EQ_INT(json_array_size(tols), 2);
    CHECK_EQ_STR(S(tols, "[0].key"), "example.com/gpu");
    CHECK_EQ_STR(S(tols, "[1].key"), "vkube.io/tenant");
    CHECK_EQ_STR(S(tols, "[1].value"), "acme");
    CHECK_EQ_STR(S(spec, "runtimeClassName"), "kata-clh");
    CHECK(json_object_get(spec, "priorityClassName") == NULL);
    /* Identity: one host workload account, the tenant token instead of a host one. */
    CHECK_EQ_STR(S(spec, "serviceAccountName"), "vkube-workload");
    CHECK(json_is_false(json_object_get(spec, "automountServiceAccountToken")));
    CHECK(json_is_false(json_object_get(spec, "enableServiceLinks")));
    CHECK_EQ_STR(S(spec, "hostname"), "web");
    json_t *vols = json_object_get(spec, "volumes");
    CHECK_EQ_STR(S(named(vols, "cfg"), "configMap.name"), "app-config-x-default-x-acme");
    CHECK_EQ_STR(S(named(vols, "sec"), "secret.secretName"), "app-secret-x-default-x-acme");
    CHECK_EQ_STR(S(named(vols, "data"), "persistentVolumeClaim.claimName"), "data-pvc-x-default-x-acme");
    CHECK(at(named(vols, "scratch"), "emptyDir") != NULL);
    json_t *proj = named(vols, "kube-api-access-abcde");
    CHECK(at(proj, "projected.sources[0].serviceAccountToken") == NULL);
    CHECK_EQ_STR(S(proj, "projected.sources[0].secret.name"), "vkube-token-web-x-default-x-acme");
    CHECK_EQ_STR(S(proj, "projected.sources[0].secret.items[0].key"), "token");
    CHECK_EQ_STR(S(proj, "projected.sources[1].configMap.name"), "kube-root-ca.crt-x-default-x-acme");
    CHECK_EQ_STR(S(proj, "projected.sources[2].downwardAPI.items[0].fieldRef.fieldPath"),
                 "metadata.annotations['vkube.io/object-namespace']");
    CHECK(named(vols, "vkube-tenant-token") == NULL); /* the tenant's own projection is reused */
    CHECK_EQ_INT(json_array_size(vols), 5);
    json_t *app = at(spec, "containers[0]");
    json_t *env = json_object_get(app, "env");
    CHECK_EQ_STR(S(named(env, "A"), "value"), "1");
    CHECK_EQ_STR(S(named(env, "B"), "valueFrom.configMapKeyRef.name"), "app-config-x-default-x-acme");
    CHECK_EQ_STR(S(named(env, "C"), "valueFrom.secretKeyRef.name"), "app-secret-x-default-x-acme");
    CHECK_EQ_STR(S(named(env, "POD"), "valueFrom.fieldRef.fieldPath"),
                 "metadata.annotations['vkube.io/object-name']");
    CHECK_EQ_STR(S(named(env, "APP"), "valueFrom.fieldRef.fieldPath"), "metadata.labels['t.vkube.io/x']");
    CHECK_EQ_STR(S(named(env, "KUBERNETES_SERVICE_HOST"), "value"), "10.96.0.99");
    CHECK_EQ_STR(S(named(env, "KUBERNETES_SERVICE_PORT"), "value"), "6443");
    CHECK_EQ_STR(S(app, "envFrom[0].secretRef.name"), "app-secret-x-default-x-acme");
    CHECK_EQ_STR(S(app, "envFrom[1].configMapRef.name"), "app-config-x-default-x-acme");
    CHECK_EQ_STR(S(spec, "initContainers[0].envFrom[0].configMapRef.name"), "init-env-x-default-x-acme");
    CHECK_EQ_STR(S(named(at(spec, "initContainers[0].env"), "KUBERNETES_SERVICE_HOST"), "value"), "10.96.0.99");
    CHECK_EQ_STR(S(spec, "imagePullSecrets[0].name"), "regcred-x-default-x-acme");
    json_t *term = at(spec, "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]");
    CHECK(json_object_get(term, "namespaces") == NULL);
    json_t *ml = at(term, "labelSelector.matchLabels");
    CHECK_EQ_STR(json_string_value(json_object_get(ml, "app")), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(ml, "vkube.io/managed-by")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(ml, "vkube.io/namespace")), "default");
    /* The input is untouched. */
    CHECK_EQ_STR(S(tp, "spec.nodeName"), "plain-1");
    CHECK(vk_translate_is_ours(&g_ctx, hp));
    json_decref(tp), json_decref(hp);
}

TEST(pod_token_volume_added_or_not)
{
    json_t *tp = Y("metadata: {name: p, namespace: team}\nspec:\n  containers:\n"
                   "  - {name: a, image: x, env: [{name: KUBERNETES_SERVICE_HOST, value: mine}]}\n"
                   "  - {name: b, image: y, volumeMounts: [{name: own, mountPath: "
                   "/var/run/secrets/kubernetes.io/serviceaccount}]}\n");
    json_t *hp = NULL;
    char err[256];
    CHECK_EQ_INT(vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err), 0);
    if (!hp) return;
    json_t *vol = named(at(hp, "spec.volumes"), "vkube-tenant-token");
    CHECK_EQ_STR(S(vol, "secret.secretName"), "vkube-token-p-x-team-x-acme");
    json_t *mounts = at(hp, "spec.containers[0].volumeMounts");
    CHECK_EQ_STR(S(named(mounts, "vkube-tenant-token"), "mountPath"),
                 "/var/run/secrets/kubernetes.io/serviceaccount");
    CHECK(named(at(hp, "spec.containers[1].volumeMounts"), "vkube-tenant-token") == NULL);
    /* The tenant's own KUBERNETES_SERVICE_HOST is kept; the port is added. */
    json_t *env = at(hp, "spec.containers[0].env");
    CHECK_EQ_STR(S(named(env, "KUBERNETES_SERVICE_HOST"), "value"), "mine");
    CHECK_EQ_STR(S(named(env, "KUBERNETES_SERVICE_PORT"), "value"), "6443");
    CHECK_EQ_INT(json_array_size(env), 2);
    json_decref(hp);
    json_object_set_new(at(tp, "spec"), "automountServiceAccountToken", json_false());
    CHECK_EQ_INT(vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err), 0);
    CHECK(named(at(hp, "spec.volumes"), "vkube-tenant-token") == NULL);
    CHECK(at(hp, "spec.containers[0].volumeMounts") == NULL);
    json_decref(hp);
    json_decref(tp);
}

static void check_refused(const char *y, int code, const char *needle)
{
    json_t *tp = Y(y), *hp = (json_t *)1;
    char err[256] = "";
    CHECK_EQ_INT(vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err), code);
    CHECK(hp == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error was: %s\n", err);
        CHECK(strstr(err, needle) != NULL);
    }
    json_decref(tp);
}

TEST(unsafe_pods_never_reach_the_host)
{
    const char *m = "metadata: {name: p, namespace: ns1}\n";
    char y[512];
    snprintf(y, sizeof y, "%sspec: {hostNetwork: true, containers: [{name: a}]}", m);
    check_refused(y, VK_EFORBIDDEN, "hostNetwork");
    snprintf(y, sizeof y, "%sspec: {hostPID: true, containers: [{name: a}]}", m);
    check_refused(y, VK_EFORBIDDEN, "hostPID");
    snprintf(y, sizeof y, "%sspec: {containers: [{name: a, securityContext: {privileged: true}}]}", m);
    check_refused(y, VK_EFORBIDDEN, "privileged");
    snprintf(y, sizeof y, "%sspec: {initContainers: [{name: a, ports: [{containerPort: 80, hostPort: 80}]}]}", m);
    check_refused(y, VK_EFORBIDDEN, "hostPort");
    snprintf(y, sizeof y, "%sspec: {volumes: [{name: root, hostPath: {path: /}}], containers: [{name: a}]}", m);
    check_refused(y, VK_EFORBIDDEN, "hostPath");
    snprintf(y, sizeof y, "%sspec: {volumes: [{name: v, nfs: {server: x, path: /}}], containers: [{name: a}]}", m);
    check_refused(y, VK_EINVALID, "nfs volumes are not supported");
    check_refused("metadata: {name: p}\nspec: {containers: [{name: a}]}", VK_EINVALID, "metadata.namespace");
    check_refused("metadata: {name: p, namespace: ns1}\n", VK_EINVALID, "spec is required");
}

TEST(config_objects_and_services)
{
    json_t *cm = Y("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: default, "
                   "uid: u1, labels: {a: b}}\ndata: {k: v}\n");
    json_t *h = NULL;
    char err[256];
    CHECK_EQ_INT(vk_translate_config_to_host(&g_ctx, cm, &h, err, sizeof err), 0);
    CHECK_EQ_STR(S(h, "metadata.name"), "app-config-x-default-x-acme");
    CHECK_EQ_STR(S(h, "data.k"), "v");
    CHECK_EQ_STR(json_string_value(json_object_get(at(h, "metadata.annotations"), "vkube.io/object-kind")), "ConfigMap");
    CHECK(vk_translate_is_ours(&g_ctx, h));
    json_decref(h), json_decref(cm);
    json_t *sec = Y("apiVersion: v1\nkind: Secret\nmetadata: {name: t, namespace: default, annotations: "
                    "{kubernetes.io/service-account.name: default}}\ntype: kubernetes.io/service-account-token\n"
                    "data: {token: eHl6}\n");
    CHECK_EQ_INT(vk_translate_config_to_host(&g_ctx, sec, &h, err, sizeof err), 0);
    CHECK_EQ_STR(S(h, "type"), "Opaque");
    CHECK(json_object_get(at(h, "metadata.annotations"), "kubernetes.io/service-account.name") == NULL);
    CHECK_EQ_STR(S(h, "data.token"), "eHl6");
    json_decref(h), json_decref(sec);
    json_t *pod = Y("kind: Pod\nmetadata: {name: x, namespace: y}\n");
    CHECK_EQ_INT(vk_translate_config_to_host(&g_ctx, pod, &h, err, sizeof err), VK_EINVALID);
    json_decref(pod);

    json_t *svc = Y("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
                    "spec: {type: NodePort, clusterIP: 10.0.0.5, externalIPs: [1.2.3.4], "
                    "selector: {app: web, vkube.io/x: z}, ports: [{port: 80, targetPort: 8080, nodePort: 30080}]}\n");
    CHECK_EQ_INT(vk_translate_service_to_host(&g_ctx, svc, &h, err, sizeof err), 0);
    json_t *sel = at(h, "spec.selector");
    CHECK_EQ_STR(json_string_value(json_object_get(sel, "app")), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(sel, "t.vkube.io/x")), "z");
    CHECK_EQ_STR(json_string_value(json_object_get(sel, "vkube.io/managed-by")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(sel, "vkube.io/namespace")), "default");
    CHECK_EQ_INT(json_object_size(sel), 4);
    CHECK_EQ_STR(S(h, "spec.type"), "ClusterIP");
    CHECK(at(h, "spec.clusterIP") == NULL && at(h, "spec.externalIPs") == NULL);
    CHECK(at(h, "spec.ports[0].nodePort") == NULL);
    CHECK_EQ_INT(json_integer_value(at(h, "spec.ports[0].targetPort")), 8080);
    json_decref(h), json_decref(svc);
    svc = Y("kind: Service\nmetadata: {name: db, namespace: default}\nspec: {clusterIP: None, ports: [{port: 5432}]}\n");
    CHECK_EQ_INT(vk_translate_service_to_host(&g_ctx, svc, &h, err, sizeof err), 0);
    CHECK_EQ_STR(S(h, "spec.clusterIP"), "None");
    CHECK(at(h, "spec.selector") == NULL);
    json_decref(h), json_decref(svc);

    json_t *ts = vk_translate_token_secret(&g_ctx, "default", "web", "uid-1", "builder", "jwt", 100,
                                           3700, "CA");
    CHECK_EQ_STR(S(ts, "metadata.name"), "vkube-token-web-x-default-x-acme");
    json_t *tl = at(ts, "metadata.labels"), *ta = at(ts, "metadata.annotations");
    CHECK_EQ_STR(json_string_value(json_object_get(tl, "vkube.io/token-for")), "builder");
    CHECK_EQ_STR(json_string_value(json_object_get(ta, "vkube.io/token-pod")), "web");
    CHECK_EQ_STR(json_string_value(json_object_get(ta, "vkube.io/token-pod-uid")), "uid-1");
    CHECK_EQ_STR(json_string_value(json_object_get(ta, "vkube.io/token-iat")), "100");
    CHECK_EQ_STR(json_string_value(json_object_get(ta, "vkube.io/token-exp")), "3700");
    CHECK_EQ_STR(S(ts, "stringData.token"), "jwt");
    CHECK_EQ_STR(S(ts, "stringData.namespace"), "default");
    CHECK_EQ_STR(S(ts, "type"), "Opaque");
    CHECK(vk_translate_is_ours(&g_ctx, ts));
    json_decref(ts);
}

TEST(status_node_and_event_back_to_tenant)
{
    json_t *hp = Y("metadata: {name: web-x-default-x-acme, namespace: vkube-acme}\n"
                   "spec: {nodeName: vm-acme-1}\n"
                   "status:\n  phase: Running\n  podIP: 10.244.1.5\n  podIPs: [{ip: 10.244.1.5}]\n"
                   "  hostIP: 127.0.0.1\n  startTime: '2026-11-25T20:00:00Z'\n"
                   "  nominatedNodeName: other\n"
                   "  conditions: [{type: Ready, status: 'True'}]\n"
                   "  containerStatuses: [{name: app, ready: true, restartCount: 0, "
                   "state: {running: {startedAt: '2026-11-25T20:00:01Z'}}}]\n");
    const char *node = NULL;
    json_t *st = vk_translate_pod_status_to_tenant(hp, &node);
    CHECK_EQ_STR(node, "vm-acme-1");
    CHECK_EQ_STR(S(st, "phase"), "Running");
    CHECK_EQ_STR(S(st, "podIP"), "10.244.1.5");
    CHECK_EQ_STR(S(st, "podIPs[0].ip"), "10.244.1.5");
    CHECK_EQ_STR(S(st, "startTime"), "2026-11-25T20:00:00Z");
    CHECK_EQ_STR(S(st, "conditions[0].type"), "Ready");
    CHECK(json_is_true(at(st, "containerStatuses[0].ready")));
    CHECK(json_object_get(st, "nominatedNodeName") == NULL);
    json_decref(st);
    json_decref(hp);
    hp = Y("metadata: {name: p}\nstatus: {phase: Pending}\n");
    st = vk_translate_pod_status_to_tenant(hp, &node);
    CHECK(node == NULL);
    CHECK_EQ_STR(S(st, "phase"), "Pending");
    json_decref(st), json_decref(hp);

    json_t *hn = Y("metadata:\n  name: vm-acme-1\n  annotations: {node.alpha.kubernetes.io/ttl: '0', secret: s3cr3t}\n"
                   "  labels: {kubernetes.io/hostname: vm-acme-1, kubernetes.io/os: linux, "
                   "vkube.io/hypervisor: cloud-hypervisor, vkube.io/node-pool: acme, "
                   "node-role.kubernetes.io/control-plane: '', internal.example.com/rack: r7}\n"
                   "spec: {podCIDR: 10.244.1.0/24, taints: [{key: vkube.io/tenant, value: acme, effect: NoSchedule}]}\n"
                   "status:\n  capacity: {cpu: '16', memory: 64Gi, pods: '110'}\n"
                   "  allocatable: {cpu: '16'}\n  conditions: [{type: Ready, status: 'True'}]\n"
                   "  addresses: [{type: InternalIP, address: 192.168.7.7}]\n"
                   "  nodeInfo: {kubeletVersion: v1.36.3, machineID: m, systemUUID: s, bootID: b}\n"
                   "  images: [{names: [secret/image]}]\n");
    json_t *tn = vk_translate_node_to_tenant(&g_ctx, hn);
    CHECK_EQ_STR(S(tn, "metadata.name"), "vm-acme-1");
    json_t *labels = at(tn, "metadata.labels");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/hypervisor")), "cloud-hypervisor");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "vkube.io/node-pool")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(labels, "kubernetes.io/os")), "linux");
    CHECK(json_object_get(labels, "internal.example.com/rack") == NULL);
    CHECK(json_object_get(labels, "node-role.kubernetes.io/control-plane") == NULL);
    CHECK(at(tn, "metadata.annotations") == NULL);
    CHECK(at(tn, "spec.taints") == NULL && at(tn, "spec.podCIDR") == NULL);
    CHECK_EQ_STR(S(tn, "status.capacity.cpu"), "16");
    CHECK_EQ_STR(S(tn, "status.conditions[0].type"), "Ready");
    CHECK_EQ_STR(S(tn, "status.addresses[0].address"), "10.96.0.99");
    CHECK_EQ_INT(json_integer_value(at(tn, "status.daemonEndpoints.kubeletEndpoint.Port")), 6443);
    CHECK_EQ_STR(S(tn, "status.nodeInfo.kubeletVersion"), "v1.36.3");
    CHECK(at(tn, "status.nodeInfo.machineID") == NULL && at(tn, "status.images") == NULL);
    char *dump = json_dumps(tn, 0);
    CHECK(strstr(dump, "s3cr3t") == NULL && strstr(dump, "192.168.7.7") == NULL);
    free(dump);
    json_decref(tn), json_decref(hn);

    json_t *he = Y("metadata: {name: web-x-default-x-acme.17a2b3c4d5e6f708, namespace: vkube-acme, uid: hu}\n"
                   "involvedObject: {kind: Pod, namespace: vkube-acme, name: web-x-default-x-acme, "
                   "uid: host-uid, apiVersion: v1, resourceVersion: '99', fieldPath: 'spec.containers{app}'}\n"
                   "reason: Scheduled\nmessage: Successfully assigned vkube-acme/web-x-default-x-acme to vm-acme-1\n"
                   "type: Normal\ncount: 1\nsource: {component: default-scheduler}\n"
                   "firstTimestamp: '2026-11-25T20:00:00Z'\n");
    json_t *te = vk_translate_event_to_tenant(&g_ctx, he, "default", "web", "tenant-uid");
    CHECK_EQ_STR(S(te, "metadata.name"), "web.17a2b3c4d5e6f708");
    CHECK_EQ_STR(S(te, "metadata.namespace"), "default");
    CHECK(at(te, "metadata.uid") == NULL);
    CHECK_EQ_STR(S(te, "involvedObject.name"), "web");
    CHECK_EQ_STR(S(te, "involvedObject.namespace"), "default");
    CHECK_EQ_STR(S(te, "involvedObject.uid"), "tenant-uid");
    CHECK_EQ_STR(S(te, "involvedObject.fieldPath"), "spec.containers{app}");
    CHECK(at(te, "involvedObject.resourceVersion") == NULL);
    CHECK_EQ_STR(S(te, "message"), "Successfully assigned default/web to vm-acme-1");
    CHECK_EQ_STR(S(te, "reason"), "Scheduled");
    CHECK_EQ_STR(S(te, "source.component"), "default-scheduler");
    json_decref(te), json_decref(he);
}

TEST(only_marked_objects_are_ours)
{
    json_t *tp = Y("metadata: {name: web, namespace: default, uid: u}\nspec: {containers: [{name: a}]}\n");
    json_t *hp = NULL;
    char err[256];
    CHECK_EQ_INT(vk_translate_pod_to_host(&g_ctx, tp, &hp, err, sizeof err), 0);
    if (!hp) return;
    CHECK(vk_translate_is_ours(&g_ctx, hp));
    const char *ns, *name, *uid, *kind;
    CHECK_EQ_INT(vk_translate_tenant_ref(&g_ctx, hp, &ns, &name, &uid, &kind), 0);
    CHECK_EQ_STR(ns, "default");
    CHECK_EQ_STR(name, "web");
    CHECK_EQ_STR(uid, "u");
    CHECK_EQ_STR(kind, "Pod");
    /* Another tenant's context does not own it. */
    vk_tenant_config_t globex;
    vk_tenant_config_default("globex", &globex, err, sizeof err);
    vk_translate_ctx_t gctx = {&globex, NULL, NULL};
    CHECK(!vk_translate_is_ours(&gctx, hp));
    CHECK_EQ_INT(vk_translate_tenant_ref(&gctx, hp, &ns, NULL, NULL, NULL), VK_ENOTFOUND);
    vk_tenant_config_free(&globex);
    json_t *md = json_object_get(hp, "metadata");
    /* Every mark matters. */
    json_t *c = json_deep_copy(hp);
    json_object_set_new(json_object_get(c, "metadata"), "namespace", json_string("kube-system"));
    CHECK(!vk_translate_is_ours(&g_ctx, c));
    json_decref(c);
    c = json_deep_copy(hp);
    json_object_del(json_object_get(json_object_get(c, "metadata"), "annotations"), "vkube.io/object-name");
    CHECK(!vk_translate_is_ours(&g_ctx, c));
    json_decref(c);
    c = json_deep_copy(hp);
    json_object_set_new(json_object_get(json_object_get(c, "metadata"), "labels"), "vkube.io/managed-by", json_string("globex"));
    CHECK(!vk_translate_is_ours(&g_ctx, c));
    json_decref(c);
    c = json_deep_copy(hp);
    json_object_set_new(json_object_get(c, "metadata"), "name", json_string("somebody-elses-pod"));
    CHECK(!vk_translate_is_ours(&g_ctx, c));
    json_decref(c);
    c = json_deep_copy(hp);
    json_object_del(json_object_get(c, "metadata"), "labels");
    CHECK(!vk_translate_is_ours(&g_ctx, c));
    json_decref(c);
    (void)md;
    json_decref(hp), json_decref(tp);
}

int main(void)
{
    const char *acme = "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
                       "spec:\n  isolation:\n    nodeSelector: {vkube.io/node-pool: acme}\n"
                       "    tolerations: [{key: vkube.io/tenant, operator: Equal, value: acme, "
                       "effect: NoSchedule}]\n    runtimeClassName: kata-clh\n";
    char err[512];
    if (vk_tenant_config_parse(acme, strlen(acme), &g_acme, err, sizeof err)) {
        printf("not ok test_translate:setup - %s\n", err);
        return 1;
    }
    g_ctx = (vk_translate_ctx_t){&g_acme, "10.96.0.99", "6443"};
    RUN(host_names);
    RUN(label_keys_move_out_of_vkube_io);
    RUN(pod_to_host);
    RUN(pod_token_volume_added_or_not);
    RUN(unsafe_pods_never_reach_the_host);
    RUN(config_objects_and_services);
    RUN(status_node_and_event_back_to_tenant);
    RUN(only_marked_objects_are_ours);
    vk_tenant_config_free(&g_acme);
    TEST_EXIT();
}
