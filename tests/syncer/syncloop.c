/* syncloop: e2e helper for e2e/suites/40-syncer-host.sh. Runs the whole
 * syncer loop (syncer/syncer.h) for one tenant against the REAL host
 * kube-apiserver, with an in-memory tenant side: pods referencing a ConfigMap,
 * a Secret and two service accounts; an orphan of ours and a foreign pod
 * already in the host namespace (restart reconciliation). Checks statuses
 * flow back, nodes and events appear in the tenant, referenced objects and
 * token Secrets are synced (and only those), a label change propagates, a
 * tenant delete removes the host pod, a host pod deleted out of band removes
 * the tenant pod, unused nodes go away. One ok / not ok line per check.
 *   syncloop --kubeconfig FILE --tenant FILE [--prefix P] */
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/yaml.h"
#include "syncer/syncer.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static int failures;
static char prefix[64] = "";

static void result(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(int ok, const char *name, const char *fmt, ...)
{
    char why[512] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (ok) printf("ok %s%s\n", prefix, name);
    else printf("not ok %s%s - %s\n", prefix, name, why), failures++;
    fflush(stdout);
}

/* ---- the in-memory tenant ---- */

typedef struct {
    json_t *pods, *cms, *secrets, *svcs; /* arrays */
    json_t *nodes;                /* name -> node */
    json_t *events;               /* array */
    json_t *deleted;              /* names of pods the syncer deleted */
    int status_writes, node_deletes;
} tenant_t;

static json_t *t_list(void *ctx, const char *kind)
{
    tenant_t *t = ctx;
    json_t *a = !strcmp(kind, "Pod")         ? t->pods
                : !strcmp(kind, "ConfigMap") ? t->cms
                : !strcmp(kind, "Service")   ? t->svcs
                                             : t->secrets;
    return json_deep_copy(a);
}

static json_t *find_pod(tenant_t *t, const char *ns, const char *name, const char *uid, size_t *idx)
{
    size_t i;
    json_t *p;
    json_array_foreach(t->pods, i, p)
    {
        json_t *md = json_object_get(p, "metadata");
        if (!strcmp(json_string_value(json_object_get(md, "namespace")), ns) &&
            !strcmp(json_string_value(json_object_get(md, "name")), name) &&
            (!uid || !strcmp(json_string_value(json_object_get(md, "uid")), uid))) {
            if (idx) *idx = i;
            return p;
        }
    }
    return NULL;
}

static int t_write_status(void *ctx, const char *ns, const char *name, const char *uid,
                          const json_t *status, const char *node)
{
    tenant_t *t = ctx;
    json_t *p = find_pod(t, ns, name, uid, NULL);
    if (!p) return -ENOENT;
    json_object_set_new(p, "status", json_deep_copy(status));
    if (node) json_object_set_new(json_object_get(p, "spec"), "nodeName", json_string(node));
    t->status_writes++;
    return 0;
}

static int t_delete_pod(void *ctx, const char *ns, const char *name, const char *uid)
{
    tenant_t *t = ctx;
    size_t idx;
    if (!find_pod(t, ns, name, uid, &idx)) return -ENOENT;
    json_array_remove(t->pods, idx);
    json_array_append_new(t->deleted, json_string(name));
    return 0;
}

static int t_put_node(void *ctx, const json_t *node)
{
    tenant_t *t = ctx;
    json_object_set_new(t->nodes, json_string_value(json_object_get(json_object_get(node, "metadata"), "name")),
                        json_deep_copy(node));
    return 0;
}

static int t_delete_node(void *ctx, const char *name)
{
    tenant_t *t = ctx;
    json_object_del(t->nodes, name);
    t->node_deletes++;
    return 0;
}

static int t_record_event(void *ctx, const json_t *ev)
{
    tenant_t *t = ctx;
    json_array_append_new(t->events, json_deep_copy(ev));
    return 0;
}

static int t_token(void *ctx, const char *ns, const char *sa, const char *pod, const char *pod_uid,
                   int64_t ttl_s, char **token, int64_t *iat, int64_t *exp)
{
    *token = NULL;
    char buf[400];
    snprintf(buf, sizeof buf, "token-for-%s-%s-%s-%s", ns, sa, pod, pod_uid);
    *token = strdup(buf);
    *iat = (int64_t)time(NULL);
    *exp = *iat + ttl_s;
    return 0;
}

static int t_write_service_ip(void *ctx, const char *ns, const char *name, const char *uid,
                              const char *ip, const json_t *ips)
{
    tenant_t *t = ctx;
    size_t i;
    json_t *sv;
    json_array_foreach(t->svcs, i, sv)
    {
        json_t *md = json_object_get(sv, "metadata");
        if (strcmp(json_string_value(json_object_get(md, "name")), name) ||
            strcmp(json_string_value(json_object_get(md, "uid")), uid))
            continue;
        json_object_set_new(json_object_get(sv, "spec"), "clusterIP", json_string(ip));
        json_object_set(json_object_get(sv, "spec"), "clusterIPs", (json_t *)ips);
        return 0;
    }
    return -ENOENT;
}

static const vk_syncer_tenant_ops_t OPS = {t_list,         t_write_status, t_delete_pod,
                                           t_put_node,     t_delete_node,  t_record_event,
                                           t_token,        t_write_service_ip, NULL};

/* ---- host helpers ---- */

typedef struct {
    int done, status;
    json_t *json;
} sync_t;

static void sync_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    sync_t *s = data;
    s->done = 1;
    s->status = err ? err : resp->status;
    s->json = resp && resp->json ? json_incref(resp->json) : NULL;
}

static int call(uv_loop_t *loop, vk_httpc_t *c, const char *method, const char *path,
                const json_t *body, json_t **out)
{
    sync_t s = {0};
    vk_httpc_call_t call = {.method = method, .path = path, .body_json = body,
                            .timeout_ms = 30000, .done_cb = sync_done, .data = &s};
    if (vk_httpc_send(c, &call, NULL)) return -1;
    while (!s.done) uv_run(loop, UV_RUN_ONCE);
    if (out) *out = s.json;
    else json_decref(s.json);
    return s.status;
}

static void wake(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop until cond(arg) or ms pass; returns cond's last value. */
static int run_until(uv_loop_t *loop, int (*cond)(void *), void *arg, int ms)
{
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(loop, &t);
    t.data = &fired;
    uv_timer_start(&t, wake, (uint64_t)ms, 0);
    int ok;
    while (!(ok = cond(arg)) && !fired) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static tenant_t T;
static uv_loop_t *L;
static vk_httpc_t *C;
static const char *HNS;
static const char *TENANT;

static int both_running(void *arg)
{
    int n = 0;
    size_t i;
    json_t *p;
    json_array_foreach(T.pods, i, p)
    {
        const char *ph = json_string_value(json_object_get(json_object_get(p, "status"), "phase"));
        const char *node = json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        if (ph && !strcmp(ph, "Running") && node) n++;
    }
    return n == 2;
}

static int host_status(const char *kind, const char *tname)
{
    char path[400];
    char *hn = vk_translate_host_name(tname, "default", TENANT);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", HNS, kind, hn);
    free(hn);
    return call(L, C, "GET", path, NULL, NULL);
}

static int web_label_on_host(void *arg)
{
    char path[400];
    char *hn = vk_translate_host_name("web", "default", TENANT);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", HNS, hn);
    free(hn);
    json_t *p = NULL;
    call(L, C, "GET", path, NULL, &p);
    const char *v = json_string_value(json_object_get(json_object_get(json_object_get(p, "metadata"), "labels"), "tier"));
    int ok = v && !strcmp(v, "front");
    json_decref(p);
    return ok;
}

static int deleted_count(void *arg)
{
    return (int)json_array_size(T.deleted) >= *(int *)arg;
}

static int web_host_gone(void *arg)
{
    return host_status("pods", "web") == 404;
}

static int nodes_empty(void *arg)
{
    return json_object_size(T.nodes) == 0 && T.node_deletes > 0;
}

static const char *nz(const char *s)
{
    return s ? s : "";
}

static int svc_ip_shown(void *arg)
{
    const char *ip = json_string_value(json_object_get(json_object_get(json_array_get(T.svcs, 0), "spec"), "clusterIP"));
    return ip && *ip;
}

static int web_svc_gone(void *arg)
{
    return host_status("services", "web") == 404;
}

static const char *PODS_Y =
    "- apiVersion: v1\n  kind: Pod\n"
    "  metadata: {name: web, namespace: default, uid: uid-web, labels: {app: web}}\n"
    "  spec:\n    nodeName: plain-1\n"
    "    volumes: [{name: cfg, configMap: {name: app-config}}]\n"
    "    containers: [{name: app, image: nginx, env: [{name: P, valueFrom: {secretKeyRef: {name: app-secret, key: p}}}]}]\n"
    "  status: {phase: Pending}\n"
    "- apiVersion: v1\n  kind: Pod\n"
    "  metadata: {name: api, namespace: default, uid: uid-api}\n"
    "  spec: {serviceAccountName: builder, containers: [{name: app, image: api}]}\n"
    "  status: {phase: Pending}\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *kcpath = NULL, *tpath = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kubeconfig")) kcpath = argv[i + 1];
        else if (!strcmp(argv[i], "--tenant")) tpath = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix")) snprintf(prefix, sizeof prefix, "%s", argv[i + 1]);
    }
    if (!kcpath || !tpath) return 2;
    char err[1024];
    vk_kubeconfig_t kc;
    vk_tenant_config_t tenant;
    FILE *f = fopen(tpath, "r");
    char tbuf[8192] = "";
    size_t tl = f ? fread(tbuf, 1, sizeof tbuf - 1, f) : 0;
    if (f) fclose(f);
    if (vk_kubeconfig_load(kcpath, &kc, err, sizeof err) ||
        vk_tenant_config_parse(tbuf, tl, &tenant, err, sizeof err)) {
        result(0, "syncloop-setup", "%s", err);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    L = &loop;
    if (vk_httpc_new(&loop, &kc, NULL, &C, err, sizeof err)) {
        result(0, "syncloop-setup", "%s", err);
        return 1;
    }
    vk_kubeconfig_free(&kc);
    HNS = tenant.host_namespace;
    TENANT = tenant.name;
    vk_translate_ctx_t tc = {&tenant, "127.0.0.1", "6443"};
    char path[400];

    /* Host namespace and workload account (the operator's job). */
    json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", HNS);
    int st1 = call(L, C, "POST", "/api/v1/namespaces", o, NULL);
    json_decref(o);
    o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata", "name",
                  VK_TRANSLATE_WORKLOAD_SA);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", HNS);
    int st2 = call(L, C, "POST", path, o, NULL);
    json_decref(o);
    /* Left from "before a restart": an orphan of ours and a foreign pod. */
    json_t *ghost = NULL, *hghost = NULL;
    const char *ghost_y = "metadata: {name: ghost, namespace: default, uid: uid-ghost}\n"
                          "spec: {containers: [{name: a, image: x}]}\n";
    vk_yaml_parse(ghost_y, strlen(ghost_y), &ghost, err, sizeof err);
    vk_translate_pod_to_host(&tc, ghost, &hghost, err, sizeof err);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", HNS);
    int st3 = call(L, C, "POST", path, hghost, NULL);
    json_t *foreign = json_pack("{s:s,s:s,s:{s:s},s:{s:O,s:O,s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind",
                                "Pod", "metadata", "name", "admin-pod", "spec", "nodeSelector",
                                tenant.node_selector, "tolerations", tenant.tolerations,
                                "containers", "name", "c", "image", "busybox");
    int st4 = call(L, C, "POST", path, foreign, NULL);
    json_decref(foreign), json_decref(ghost), json_decref(hghost);
    result((st1 == 201 || st1 == 409) && (st2 == 201 || st2 == 409) && st3 == 201 && st4 == 201,
           "syncloop-host-setup", "namespace %d sa %d orphan %d foreign %d", st1, st2, st3, st4);

    /* The tenant. */
    T.pods = NULL;
    vk_yaml_parse(PODS_Y, strlen(PODS_Y), &T.pods, err, sizeof err);
    const char *cms_y =
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: app-config, namespace: default, uid: c1}, data: {a: '1'}}\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: unused-cm, namespace: default, uid: c2}, data: {b: '2'}}\n";
    const char *secs_y =
        "- {apiVersion: v1, kind: Secret, metadata: {name: app-secret, namespace: default, uid: s1}, data: {p: aHVudGVyMg==}}\n";
    vk_yaml_parse(cms_y, strlen(cms_y), &T.cms, err, sizeof err);
    vk_yaml_parse(secs_y, strlen(secs_y), &T.secrets, err, sizeof err);
    const char *svcs_y = "- {apiVersion: v1, kind: Service, metadata: {name: web, namespace: default, uid: sv1}, "
                         "spec: {selector: {app: web}, ports: [{port: 80}]}}\n";
    vk_yaml_parse(svcs_y, strlen(svcs_y), &T.svcs, err, sizeof err);
    T.nodes = json_object();
    T.events = json_array();
    T.deleted = json_array();
    result(json_array_size(T.pods) == 2 && json_array_size(T.cms) == 2 && json_array_size(T.secrets) == 1,
           "syncloop-tenant-setup", "yaml: %s", err);

    vk_syncer_config_t cfg = {.translate = tc, .tenant_ca_pem = "tenant-ca", .ops = &OPS, .tenant_ctx = &T};
    vk_syncer_t *s = NULL;
    int rc = vk_syncer_start(C, &cfg, &s);
    result(rc == 0, "syncloop-start", "rc %d", rc);
    if (rc) return 1;

    int up = run_until(L, both_running, NULL, 60000);
    result(up, "syncloop-tenant-pods-running", "status writes %d", T.status_writes);
    size_t i;
    json_t *p;
    int on_pool = up;
    json_array_foreach(T.pods, i, p)
    {
        const char *node = json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName"));
        json_t *tn = node ? json_object_get(T.nodes, node) : NULL;
        const char *pool = json_string_value(json_object_get(json_object_get(json_object_get(tn, "metadata"), "labels"), "vkube.io/node-pool"));
        const char *want = json_string_value(json_object_get(tenant.node_selector, "vkube.io/node-pool"));
        if (!tn || !pool || !want || strcmp(pool, want)) on_pool = 0;
    }
    result(on_pool, "syncloop-tenant-nodes-on-pool", "tenant nodes: %zu", json_object_size(T.nodes));
    int scheduled = 0;
    json_array_foreach(T.events, i, p)
    {
        const char *reason = json_string_value(json_object_get(p, "reason"));
        const char *ion = json_string_value(json_object_get(json_object_get(p, "involvedObject"), "name"));
        if (reason && !strcmp(reason, "Scheduled") && ion && (!strcmp(ion, "web") || !strcmp(ion, "api"))) scheduled++;
    }
    result(scheduled >= 1, "syncloop-tenant-events", "%zu events, %d Scheduled for web/api",
           json_array_size(T.events), scheduled);
    result(host_status("configmaps", "app-config") == 200 && host_status("configmaps", "unused-cm") == 404 &&
               host_status("secrets", "app-secret") == 200 &&
               host_status("secrets", "vkube-token-web") == 200 &&
               host_status("secrets", "vkube-token-api") == 200,
           "syncloop-referenced-objects-synced", "configmap/secret/token secrets on the host not as expected");
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/admin-pod", HNS);
    result(host_status("pods", "ghost") == 404 && call(L, C, "GET", path, NULL, NULL) == 200,
           "syncloop-restart-orphan-deleted-foreign-kept", "orphan %d", host_status("pods", "ghost"));

    /* The Service: a host Service selecting this tenant's pods; its ClusterIP shown in the tenant. */
    int ip_ok = run_until(L, svc_ip_shown, NULL, 30000);
    json_t *hsvc = NULL;
    char *hsn = vk_translate_host_name("web", "default", TENANT);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/services/%s", HNS, hsn);
    free(hsn);
    call(L, C, "GET", path, NULL, &hsvc);
    json_t *hspec = json_object_get(hsvc, "spec");
    const char *hip = json_string_value(json_object_get(hspec, "clusterIP"));
    const char *tip = json_string_value(json_object_get(json_object_get(json_array_get(T.svcs, 0), "spec"), "clusterIP"));
    json_t *hsel = json_object_get(hspec, "selector");
    result(ip_ok && hip && tip && !strcmp(hip, tip) &&
               !strcmp(nz(json_string_value(json_object_get(hsel, "app"))), "web") &&
               !strcmp(nz(json_string_value(json_object_get(hsel, "vkube.io/managed-by"))), TENANT),
           "syncloop-service-synced", "host IP %s tenant IP %s", hip ? hip : "-", tip ? tip : "-");
    json_decref(hsvc);
    json_array_clear(T.svcs);
    vk_syncer_notify(s);
    result(run_until(L, web_svc_gone, NULL, 30000), "syncloop-service-delete-propagates", "host Service still there");

    /* A label change propagates. */
    json_t *web = find_pod(&T, "default", "web", NULL, NULL);
    json_object_set_new(json_object_get(json_object_get(web, "metadata"), "labels"), "tier", json_string("front"));
    vk_syncer_notify(s);
    result(run_until(L, web_label_on_host, NULL, 30000), "syncloop-update-propagates", "label not on host pod");

    /* Tenant delete: the host pod goes, then the tenant pod. */
    web = find_pod(&T, "default", "web", NULL, NULL);
    json_object_set_new(json_object_get(web, "metadata"), "deletionTimestamp", json_string("2026-11-25T21:00:00Z"));
    json_object_set_new(json_object_get(web, "metadata"), "deletionGracePeriodSeconds", json_integer(0));
    vk_syncer_notify(s);
    int one = 1;
    result(run_until(L, web_host_gone, NULL, 30000) && run_until(L, deleted_count, &one, 30000),
           "syncloop-tenant-delete-propagates", "host %d, tenant deletes %zu", host_status("pods", "web"),
           json_array_size(T.deleted));

    /* Host pod deleted out of band: the tenant pod is deleted too. */
    char *hn = vk_translate_host_name("api", "default", TENANT);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", HNS, hn);
    free(hn);
    json_t *opts = json_pack("{s:s,s:s,s:i}", "apiVersion", "v1", "kind", "DeleteOptions", "gracePeriodSeconds", 0);
    call(L, C, "DELETE", path, opts, NULL);
    json_decref(opts);
    int two = 2;
    result(run_until(L, deleted_count, &two, 30000), "syncloop-host-delete-reflected",
           "tenant deletes %zu", json_array_size(T.deleted));
    result(run_until(L, nodes_empty, NULL, 30000), "syncloop-unused-nodes-removed", "%zu nodes left",
           json_object_size(T.nodes));

    vk_syncer_stats_t stats;
    vk_syncer_get_stats(s, &stats);
    fprintf(stderr, "syncloop stats: passes %llu host actions %llu (failed %llu) tenant actions %llu events %llu\n",
            (unsigned long long)stats.passes, (unsigned long long)stats.host_actions,
            (unsigned long long)stats.host_failures, (unsigned long long)stats.tenant_actions,
            (unsigned long long)stats.events);
    result(stats.conflicts == 0, "syncloop-no-conflicts", "%llu conflicts", (unsigned long long)stats.conflicts);
    vk_syncer_stop(s);
    call(L, C, "DELETE", path, NULL, NULL);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/admin-pod", HNS);
    call(L, C, "DELETE", path, NULL, NULL);
    vk_httpc_close(C, NULL, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    result(uv_loop_close(L) == 0, "syncloop-loop-closed", "handles left");
    json_decref(T.pods), json_decref(T.cms), json_decref(T.secrets), json_decref(T.nodes);
    json_decref(T.svcs);
    json_decref(T.events), json_decref(T.deleted);
    vk_tenant_config_free(&tenant);
    return failures ? 1 : 0;
}
