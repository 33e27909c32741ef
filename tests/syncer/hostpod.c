/* hostpod: e2e helper for e2e/suites/40-syncer-host.sh. Against a REAL host
 * kube-apiserver it does what the syncer does for one tenant pod, with
 * common/httpc and syncer/translate: makes the tenant's host namespace and
 * workload account, syncs a ConfigMap, a Secret and the token Secret,
 * creates the translated pod (which asks for nodeName plain-1 and tolerates
 * another tenant's taint), watches it to Running, checks it landed on a node
 * of the tenant's pool, translates status/node/events back, deletes it and
 * waits until it is gone. Prints one "ok NAME" / "not ok NAME - why" line per
 * step; exits 1 if any failed.
 *   hostpod --kubeconfig FILE --tenant FILE [--prefix P] [--api-host H --api-port N] */
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/yaml.h"
#include "syncer/hostexec.h"
#include "syncer/informer.h"
#include "syncer/reconcile.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

typedef struct {
    int done, err, status;
    json_t *json;
    char *body;
} sync_t;

static void sync_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    sync_t *s = data;
    s->done = 1;
    s->err = err;
    if (resp) {
        s->status = resp->status;
        s->json = resp->json ? json_incref(resp->json) : NULL;
        s->body = strndup(resp->body, resp->body_len < 300 ? resp->body_len : 300);
    }
}

/* One request, run to completion. Returns the status (or a negative error);
 * *out gets the JSON body (caller decrefs) when out is not NULL. */
static int call(uv_loop_t *loop, vk_httpc_t *c, const char *method, const char *path,
                const json_t *body, json_t **out, char **text)
{
    sync_t s = {0};
    vk_httpc_call_t call = {.method = method, .path = path, .body_json = body,
                            .timeout_ms = 30000, .done_cb = sync_done, .data = &s};
    int rc = vk_httpc_send(c, &call, NULL);
    if (rc) return rc;
    while (!s.done && uv_run(loop, UV_RUN_ONCE)) {
    }
    if (out) *out = s.json;
    else json_decref(s.json);
    if (text) *text = s.body;
    else free(s.body);
    return s.err ? s.err : s.status;
}

/* POST obj to path; 201 or 409 (already there) is success. */
static int create(uv_loop_t *loop, vk_httpc_t *c, const char *path, const json_t *obj,
                  const char *name)
{
    char *text = NULL;
    int st = call(loop, c, "POST", path, obj, NULL, &text);
    result(st == 201 || st == 409, name, "POST %s: %d %s", path, st, text ? text : "");
    free(text);
    return st == 201 || st == 409;
}

typedef struct {
    vk_httpc_req_t *req;
    const char *host_name;
    char node[256];
    int running, done, err, status, events;
    json_t *pod;
} watch_t;

static void watch_line(const char *line, size_t len, void *data)
{
    watch_t *w = data;
    json_t *ev = json_loadb(line, len, 0, NULL);
    if (!ev) return;
    w->events++;
    json_t *obj = json_object_get(ev, "object");
    const char *phase = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    const char *node = json_string_value(json_object_get(json_object_get(obj, "spec"), "nodeName"));
    if (phase && strcmp(phase, "Running") == 0 && node && !w->running) {
        w->running = 1;
        snprintf(w->node, sizeof w->node, "%s", node);
        w->pod = json_incref(obj);
        vk_httpc_cancel(w->req); /* enough: stop watching */
    }
    json_decref(ev);
}

static void watch_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    watch_t *w = data;
    w->done = 1;
    w->err = err;
    w->status = resp ? resp->status : 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

static void wake(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs the loop for ms (idle keep-alive connections keep it alive, so the
 * timer, not the loop running dry, ends the wait). */
static void sleep_ms(uv_loop_t *loop, int ms)
{
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(loop, &t);
    t.data = &fired;
    uv_timer_start(&t, wake, (uint64_t)ms, 0);
    while (!fired) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

typedef struct {
    int done, failures, nactions;
    char log[2048];
} exec_t;

static void exec_each(void *data, const json_t *action, int status, const json_t *resp)
{
    exec_t *e = data;
    e->nactions++;
    size_t n = strlen(e->log);
    snprintf(e->log + n, sizeof e->log - n, "%s%s:%s=%d", n ? " " : "",
             json_string_value(json_object_get(action, "op")),
             json_string_value(json_object_get(action, "name")), status);
}

static void exec_done(void *data, int failures)
{
    exec_t *e = data;
    e->done = 1;
    e->failures = failures;
}

/* Runs the host actions of plan to completion. */
static void exec_plan(uv_loop_t *loop, vk_httpc_t *c, const char *ns, json_t *plan, exec_t *e)
{
    memset(e, 0, sizeof *e);
    if (vk_hostexec_run(c, ns, plan, 30000, exec_each, exec_done, e, NULL) != 0) {
        e->failures = -1;
        return;
    }
    while (!e->done) uv_run(loop, UV_RUN_ONCE);
}

/* The host pods of ns (new array). */
static json_t *host_pods(uv_loop_t *loop, vk_httpc_t *c, const char *ns)
{
    char path[300];
    json_t *list = NULL;
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", ns);
    call(loop, c, "GET", path, NULL, &list, NULL);
    json_t *items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items ? items : json_array();
}

typedef struct {
    const char *host_name;
    int synced, added, running, deleted;
} inf_obs_t;

static void inf_event(void *data, const char *type, const json_t *obj, const json_t *old)
{
    inf_obs_t *o = data;
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!name || strcmp(name, o->host_name) != 0) return;
    const char *phase = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
    if (!strcmp(type, "ADDED")) o->added++;
    if (!strcmp(type, "DELETED")) o->deleted++;
    else if (phase && !strcmp(phase, "Running")) o->running++;
}

static void inf_synced(void *data)
{
    ((inf_obs_t *)data)->synced++;
}

static const char *TENANT_POD =
    "apiVersion: v1\nkind: Pod\n"
    "metadata: {name: web, namespace: default, uid: 0000-tenant-uid, labels: {app: web}}\n"
    "spec:\n"
    "  nodeName: plain-1\n"
    "  tolerations: [{key: vkube.io/tenant, operator: Equal, value: globex, effect: NoSchedule}]\n"
    "  volumes: [{name: cfg, configMap: {name: app-config}}]\n"
    "  containers:\n"
    "  - name: app\n    image: nginx\n"
    "    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: app-secret, key: password}}}]\n"
    "    volumeMounts: [{name: cfg, mountPath: /etc/app}]\n";

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *kcpath = NULL, *tenant_path = NULL, *api_host = "127.0.0.1", *api_port = "6443";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kubeconfig")) kcpath = argv[i + 1];
        else if (!strcmp(argv[i], "--tenant")) tenant_path = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix")) snprintf(prefix, sizeof prefix, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--api-host")) api_host = argv[i + 1];
        else if (!strcmp(argv[i], "--api-port")) api_port = argv[i + 1];
    }
    if (!kcpath || !tenant_path) {
        fprintf(stderr, "usage: hostpod --kubeconfig FILE --tenant FILE [--prefix P]\n");
        return 2;
    }
    char err[1024];
    vk_kubeconfig_t kc;
    vk_tenant_config_t tenant;
    char *ttext = read_file(tenant_path);
    int rc = vk_kubeconfig_load(kcpath, &kc, err, sizeof err);
    result(rc == 0, "kubeconfig-load", "%s", err);
    if (rc) return 1;
    rc = ttext ? vk_tenant_config_parse(ttext, strlen(ttext), &tenant, err, sizeof err) : -1;
    free(ttext);
    result(rc == 0, "tenant-manifest", "%s", err);
    if (rc) return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_httpc_t *c;
    rc = vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err);
    vk_kubeconfig_free(&kc);
    if (rc) {
        result(0, "httpc", "%s", err);
        return 1;
    }
    vk_translate_ctx_t ctx = {&tenant, api_host, api_port};
    const char *hns = tenant.host_namespace;
    char path[512];

    json_t *nsobj = json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace",
                              "metadata", "name", hns, "labels", "vkube.io/tenant", tenant.name);
    create(&loop, c, "/api/v1/namespaces", nsobj, "host-namespace");
    json_decref(nsobj);
    json_t *sa = json_pack("{s:s,s:s,s:{s:s},s:b}", "apiVersion", "v1", "kind", "ServiceAccount",
                           "metadata", "name", VK_TRANSLATE_WORKLOAD_SA,
                           "automountServiceAccountToken", 0);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", hns);
    create(&loop, c, path, sa, "workload-serviceaccount");
    json_decref(sa);

    /* What the pod references, translated and synced first. */
    const char *cm_y = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: default}\n"
                       "data: {app.conf: 'listen 80'}\n";
    const char *sec_y = "apiVersion: v1\nkind: Secret\nmetadata: {name: app-secret, namespace: default}\n"
                        "stringData: {password: hunter2}\n";
    const char *const objs[] = {cm_y, sec_y};
    const char *const kinds[] = {"configmaps", "secrets"};
    for (int i = 0; i < 2; i++) {
        json_t *t = NULL, *h = NULL;
        vk_yaml_parse(objs[i], strlen(objs[i]), &t, err, sizeof err);
        rc = vk_translate_config_to_host(&ctx, t, &h, err, sizeof err);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s", hns, kinds[i]);
        if (rc == 0) create(&loop, c, path, h, i == 0 ? "sync-configmap" : "sync-secret");
        else result(0, i == 0 ? "sync-configmap" : "sync-secret", "%s", err);
        json_decref(t), json_decref(h);
    }
    json_t *tok = vk_translate_token_secret(&ctx, "default", "web", "0000-tenant-uid", "default",
                                            "tenant-jwt", 0, 3600, "tenant-ca");
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets", hns);
    create(&loop, c, path, tok, "sync-token-secret");
    json_decref(tok);

    /* The pod. */
    json_t *tp = NULL, *hp = NULL;
    vk_yaml_parse(TENANT_POD, strlen(TENANT_POD), &tp, err, sizeof err);
    rc = vk_translate_pod_to_host(&ctx, tp, &hp, err, sizeof err);
    result(rc == 0, "translate-pod", "%s", err);
    if (rc) return 1;
    char *host_name = vk_translate_host_name("web", "default", tenant.name);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", hns, host_name);
    call(&loop, c, "DELETE", path, NULL, NULL, NULL); /* a leftover of an earlier run */
    for (int i = 0; i < 100; i++) {
        if (call(&loop, c, "GET", path, NULL, NULL, NULL) == 404) break;
        sleep_ms(&loop, 200);
    }
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", hns);
    /* An informer on the host namespace sees what happens to the pod. */
    inf_obs_t io = {.host_name = host_name};
    vk_informer_config_t icfg = {.path = path, .label_selector = "vkube.io/managed-by",
                                 .event_cb = inf_event, .synced_cb = inf_synced, .data = &io};
    vk_informer_t *inf = NULL;
    rc = vk_informer_start(c, &icfg, &inf);
    for (int i = 0; rc == 0 && i < 200 && !io.synced; i++) sleep_ms(&loop, 50);
    result(io.synced == 1, "informer-synced", "informer did not list (rc %d)", rc);
    char *text = NULL;
    int st = call(&loop, c, "POST", path, hp, NULL, &text);
    result(st == 201, "create-host-pod", "POST pods: %d %s", st, text ? text : "");
    free(text);

    /* Watch it to Running. */
    watch_t w = {.host_name = host_name};
    snprintf(path, sizeof path,
             "/api/v1/namespaces/%s/pods?watch=1&fieldSelector=metadata.name%%3D%s&timeoutSeconds=90",
             hns, host_name);
    vk_httpc_call_t wc = {.method = "GET", .path = path, .line_cb = watch_line,
                          .done_cb = watch_done, .data = &w, .timeout_ms = 120000};
    rc = vk_httpc_send(c, &wc, &w.req);
    while (rc == 0 && !w.done && uv_run(&loop, UV_RUN_ONCE)) {
    }
    result(w.running, "host-pod-running", "watch ended (err %d, status %d, %d events) before Running",
           w.err, w.status, w.events);
    result(w.running && w.err == -ECANCELED, "watch-cancel", "watch ended with %d", w.err);

    if (w.running) {
        /* On a node of the tenant's pool, never plain-1 or another tenant's. */
        json_t *node = NULL;
        snprintf(path, sizeof path, "/api/v1/nodes/%s", w.node);
        st = call(&loop, c, "GET", path, NULL, &node, NULL);
        const char *k;
        json_t *v;
        int match = st == 200;
        json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
        json_object_foreach(tenant.node_selector, k, v)
        {
            const char *have = json_string_value(json_object_get(labels, k));
            if (!have || strcmp(have, json_string_value(v)) != 0) match = 0;
        }
        result(match && strcmp(w.node, "plain-1") != 0, "pod-on-tenant-pool-node",
               "pod runs on %s whose labels do not match the tenant's node selector", w.node);
        const char *rcn = json_string_value(json_object_get(json_object_get(w.pod, "spec"), "runtimeClassName"));
        result(!tenant.runtime_class || (rcn && !strcmp(rcn, tenant.runtime_class)),
               "runtime-class-applied", "runtimeClassName %s", rcn ? rcn : "(none)");
        const char *nn = NULL;
        json_t *status = vk_translate_pod_status_to_tenant(w.pod, &nn);
        const char *phase = json_string_value(json_object_get(status, "phase"));
        const char *ip = json_string_value(json_object_get(status, "podIP"));
        result(phase && !strcmp(phase, "Running") && nn && !strcmp(nn, w.node) && ip && *ip,
               "status-back-to-tenant", "phase %s node %s ip %s", phase ? phase : "-",
               nn ? nn : "-", ip ? ip : "-");
        json_decref(status);
        json_t *tn = node ? vk_translate_node_to_tenant(&ctx, node) : NULL;
        json_t *tl = json_object_get(json_object_get(tn, "metadata"), "labels");
        result(tn && json_object_get(tl, "vkube.io/node-pool") &&
                   !json_object_get(json_object_get(tn, "metadata"), "annotations"),
               "node-to-tenant", "translated node lacks the pool label or has annotations");
        json_decref(tn);
        json_decref(node);
        json_t *got = NULL;
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", hns, host_name);
        st = call(&loop, c, "GET", path, NULL, &got, NULL);
        result(st == 200 && vk_translate_is_ours(&ctx, got), "host-pod-is-ours",
               "GET %d or marks missing", st);
        const char *mount_secret = NULL;
        size_t i;
        json_array_foreach(json_object_get(json_object_get(got, "spec"), "volumes"), i, v)
        {
            const char *sn = json_string_value(json_object_get(json_object_get(v, "secret"), "secretName"));
            if (sn && strstr(sn, "vkube-token-web")) mount_secret = sn;
        }
        const char *san = json_string_value(json_object_get(json_object_get(got, "spec"), "serviceAccountName"));
        json_t *automount = json_object_get(json_object_get(got, "spec"), "automountServiceAccountToken");
        result(mount_secret && san && !strcmp(san, VK_TRANSLATE_WORKLOAD_SA) && json_is_false(automount),
               "host-pod-tenant-identity", "token secret %s, service account %s",
               mount_secret ? mount_secret : "-", san ? san : "-");
        json_decref(got);
        /* Scheduler events about the host pod, as the tenant sees them. */
        json_t *evs = NULL;
        int found = 0;
        for (int tries = 0; tries < 50 && !found; tries++) {
            snprintf(path, sizeof path,
                     "/api/v1/namespaces/%s/events?fieldSelector=involvedObject.name%%3D%s", hns,
                     host_name);
            call(&loop, c, "GET", path, NULL, &evs, NULL);
            json_array_foreach(json_object_get(evs, "items"), i, v)
            {
                const char *reason = json_string_value(json_object_get(v, "reason"));
                if (!reason || strcmp(reason, "Scheduled")) continue;
                json_t *te = vk_translate_event_to_tenant(&ctx, v, "default", "web", "0000-tenant-uid");
                const char *msg = json_string_value(json_object_get(te, "message"));
                const char *ion = json_string_value(json_object_get(json_object_get(te, "involvedObject"), "name"));
                found = msg && strstr(msg, "default/web") && !strstr(msg, host_name) && ion &&
                        !strcmp(ion, "web");
                if (!found) fprintf(stderr, "event message: %s\n", msg ? msg : "-");
                json_decref(te);
            }
            json_decref(evs);
            evs = NULL;
            if (!found) sleep_ms(&loop, 200);
        }
        result(found, "event-to-tenant", "no translated Scheduled event");
    }

    /* Reconcile against the real host: a tenant-side change becomes a guarded
     * JSON patch the host accepts; an orphan of ours is deleted; a foreign pod
     * in the same namespace is left alone. */
    if (w.running) {
        json_t *tp2 = json_deep_copy(tp);
        json_object_set_new(json_object_get(json_object_get(tp2, "metadata"), "labels"), "tier",
                            json_string("front"));
        json_object_set_new(json_array_get(json_object_get(json_object_get(tp2, "spec"), "containers"), 0),
                            "image", json_string("nginx:2"));
        json_t *hps = host_pods(&loop, c, hns);
        json_t *tps = json_pack("[O]", tp2);
        json_t *plan = vk_reconcile_pods(&ctx, tps, hps);
        json_t *patch = NULL;
        size_t i;
        json_t *a;
        json_array_foreach(plan, i, a) if (!strcmp(json_string_value(json_object_get(a, "op")), "host-patch"))
            patch = json_pack("[O]", a);
        result(patch != NULL, "reconcile-plans-patch", "no host-patch in the plan");
        if (patch) {
            /* The uid guard: a patch for another incarnation is refused by the host. */
            json_t *wrong = json_deep_copy(patch);
            json_object_set_new(json_array_get(json_object_get(json_array_get(wrong, 0), "patch"), 0),
                                "value", json_string("some-other-uid"));
            exec_t e;
            exec_plan(&loop, c, hns, wrong, &e);
            result(e.failures == 1, "reconcile-patch-guard", "guarded patch with a wrong uid: %s", e.log);
            json_decref(wrong);
            exec_plan(&loop, c, hns, patch, &e);
            json_t *got = NULL;
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", hns, host_name);
            call(&loop, c, "GET", path, NULL, &got, NULL);
            const char *tier = json_string_value(json_object_get(json_object_get(json_object_get(got, "metadata"), "labels"), "tier"));
            const char *img = json_string_value(json_object_get(json_array_get(json_object_get(json_object_get(got, "spec"), "containers"), 0), "image"));
            result(e.failures == 0 && tier && !strcmp(tier, "front") && img && !strcmp(img, "nginx:2"),
                   "reconcile-patch-applied", "%s; tier %s image %s", e.log, tier ? tier : "-", img ? img : "-");
            json_decref(got);
        }
        json_decref(patch), json_decref(plan), json_decref(tps), json_decref(hps);
        /* An orphan (ours, no tenant pod) and a foreign pod. */
        json_t *old = json_deep_copy(tp);
        json_object_set_new(json_object_get(old, "metadata"), "name", json_string("old"));
        json_object_set_new(json_object_get(old, "metadata"), "uid", json_string("0000-old-uid"));
        json_t *hold = NULL;
        vk_translate_pod_to_host(&ctx, old, &hold, err, sizeof err);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", hns);
        st = call(&loop, c, "POST", path, hold, NULL, NULL);
        json_t *foreign = json_pack("{s:s,s:s,s:{s:s},s:{s:O,s:O,s:[{s:s,s:s}]}}", "apiVersion", "v1",
                                    "kind", "Pod", "metadata", "name", "admin-pod", "spec",
                                    "nodeSelector", tenant.node_selector, "tolerations",
                                    tenant.tolerations, "containers", "name", "c", "image", "busybox");
        int st2 = call(&loop, c, "POST", path, foreign, NULL, NULL);
        result(st == 201 && st2 == 201, "reconcile-setup-orphan-and-foreign", "POST %d %d", st, st2);
        json_decref(foreign), json_decref(hold), json_decref(old);
        hps = host_pods(&loop, c, hns);
        tps = json_pack("[O]", tp);
        plan = vk_reconcile_pods(&ctx, tps, hps);
        char *old_host = vk_translate_host_name("old", "default", tenant.name);
        int deletes = 0, bad = 0;
        json_array_foreach(plan, i, a)
        {
            const char *op = json_string_value(json_object_get(a, "op"));
            const char *n = json_string_value(json_object_get(a, "name"));
            if (!strcmp(op, "host-delete")) {
                if (!strcmp(n, old_host)) deletes++;
                else bad++;
            }
            if (!strcmp(op, "host-create") || (n && !strcmp(n, "admin-pod"))) bad++;
        }
        result(deletes == 1 && bad == 0, "reconcile-plans-orphan-delete-only",
               "deletes of the orphan %d, other host actions %d", deletes, bad);
        exec_t e;
        exec_plan(&loop, c, hns, plan, &e);
        int orphan_gone = 0;
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", hns, old_host);
        for (int t = 0; t < 300 && !orphan_gone; t++) {
            orphan_gone = call(&loop, c, "GET", path, NULL, NULL, NULL) == 404;
            if (!orphan_gone) sleep_ms(&loop, 100);
        }
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/admin-pod", hns);
        int foreign_there = call(&loop, c, "GET", path, NULL, NULL, NULL) == 200;
        result(e.failures == 0 && orphan_gone && foreign_there, "reconcile-orphan-deleted-foreign-kept",
               "%s; orphan gone %d, foreign present %d", e.log, orphan_gone, foreign_there);
        call(&loop, c, "DELETE", path, NULL, NULL, NULL);
        free(old_host);
        json_decref(plan), json_decref(tps), json_decref(hps), json_decref(tp2);
    }

    /* Delete, and wait until it is gone. */
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", hns, host_name);
    json_t *opts = json_pack("{s:s,s:s,s:i}", "apiVersion", "v1", "kind", "DeleteOptions",
                             "gracePeriodSeconds", 0);
    st = call(&loop, c, "DELETE", path, opts, NULL, NULL);
    json_decref(opts);
    result(st == 200 || st == 202, "delete-host-pod", "DELETE: %d", st);
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++) {
        gone = call(&loop, c, "GET", path, NULL, NULL, NULL) == 404;
        if (!gone) sleep_ms(&loop, 200);
    }
    result(gone, "host-pod-gone", "pod still present");
    for (int i = 0; i < 100 && !io.deleted; i++) sleep_ms(&loop, 50);
    result(io.added >= 1 && io.running >= 1 && io.deleted == 1, "informer-saw-lifecycle",
           "added %d running %d deleted %d", io.added, io.running, io.deleted);
    vk_informer_stop(inf);
    free(host_name);
    json_decref(tp), json_decref(hp), json_decref(w.pod);
    int closed = 0;
    vk_httpc_close(c, NULL, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    result(uv_loop_close(&loop) == 0, "loop-closed", "handles left open");
    vk_tenant_config_free(&tenant);
    return failures ? 1 : 0;
}
