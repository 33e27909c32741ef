/* The controllers on a real API layer over a temporary store, under the
 * sanitizers: a Deployment gets a ReplicaSet and pods, status follows pods
 * marked Ready through the API, a scale-down deletes pods, minReadySeconds
 * turns pods available as time passes, a Job completes,
 * and stopping everything leaves no handle or allocation behind. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controllers/controllers.h"
#include "proxy/apiserver.h"
#include "proxy/client.h"
#include "store/store.h"
#include "tests/test.h"

typedef struct env {
    uv_loop_t loop;
    vk_store_t *store;
    vk_apiserver_t *api;
    vk_client_t *cl;
    vk_controllers_t *ctl;
    char dir[64];
} env_t;

static void env_open(env_t *e)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/vk-ctl-XXXXXX");
    CHECK(mkdtemp(e->dir) != NULL);
    uv_loop_init(&e->loop);
    char db[128];
    snprintf(db, sizeof db, "%s/store.db", e->dir);
    CHECK_EQ_INT(vk_store_open(&e->loop, db, NULL, &e->store), 0);
    vk_apiserver_config_t ac = {.tenant = "t", .external_address = "127.0.0.1:1"};
    CHECK_EQ_INT(vk_apiserver_new(&e->loop, e->store, &ac, &e->api), 0);
    for (int i = 0; i < 100000 && !vk_apiserver_ready(e->api); i++) uv_run(&e->loop, UV_RUN_ONCE);
    static const char *const groups[] = {"system:masters", NULL};
    e->cl = vk_client_new(&e->loop, vk_apiserver_handle, e->api, "test", groups);
    e->ctl = vk_controllers_start(&e->loop, vk_apiserver_handle, e->api);
}

static void set_done(void *arg)
{
    *(int *)arg = 1;
}

static void env_close(env_t *e)
{
    int done = 0, done2 = 0;
    vk_controllers_stop(e->ctl, set_done, &done);
    vk_client_close(e->cl, set_done, &done2);
    for (int i = 0; i < 100000 && !(done && done2); i++) uv_run(&e->loop, UV_RUN_ONCE);
    CHECK(done && done2);
    vk_apiserver_free(e->api);
    vk_store_close(e->store, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", e->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

typedef struct res {
    int done, status;
    json_t *obj;
} res_t;

static void on_res(void *arg, int status, json_t *obj)
{
    res_t *r = arg;
    r->done = 1;
    r->status = status;
    json_decref(r->obj);
    r->obj = json_incref(obj);
}

/* Runs one request to completion; returns the status, *obj (if not NULL) gets the body. */
static int call(env_t *e, const char *method, const char *path, const char *ctype, json_t *body,
                json_t **obj)
{
    res_t r = {0};
    vk_client_request(e->cl, method, path, NULL, ctype, body, on_res, &r);
    for (int i = 0; i < 100000 && !r.done; i++) uv_run(&e->loop, UV_RUN_ONCE);
    if (obj)
        *obj = r.obj;
    else
        json_decref(r.obj);
    return r.status;
}

/* Runs the loop for about ms milliseconds of wall time. */
static void run_ms(env_t *e, int ms)
{
    uint64_t end = uv_hrtime() + (uint64_t)ms * 1000000u;
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    while (uv_hrtime() < end) {
        uv_timer_start(&t, (uv_timer_cb)(void (*)(void))uv_timer_stop, 20, 0);
        uv_run(&e->loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* Pods in namespace default with label selector sel; *items borrowed from *list. */
static json_t *list_pods(env_t *e, const char *sel)
{
    char path[256];
    json_t *o = NULL;
    snprintf(path, sizeof path, "/api/v1/namespaces/default/pods");
    res_t r = {0};
    vk_client_request(e->cl, "GET", path, sel, NULL, NULL, on_res, &r);
    for (int i = 0; i < 100000 && !r.done; i++) uv_run(&e->loop, UV_RUN_ONCE);
    o = r.obj;
    return o;
}

static size_t count_pods(env_t *e, const char *sel)
{
    json_t *l = list_pods(e, sel);
    size_t n = json_array_size(json_object_get(l, "items"));
    json_decref(l);
    return n;
}

/* Waits up to ~5 s for the pod count. */
static size_t wait_pods(env_t *e, const char *sel, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        n = count_pods(e, sel);
        if (n == want) break;
        run_ms(e, 50);
    }
    return n;
}

/* The test plays the kubelet: every pod matching sel gets phase (and Ready
 * since ltt). */
static void mark_pods_at(env_t *e, const char *sel, const char *phase, const char *ltt)
{
    json_t *l = list_pods(e, sel);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(l, "items"), i, p) {
        const char *name = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
        char path[256];
        snprintf(path, sizeof path, "/api/v1/namespaces/default/pods/%s/status", name);
        json_t *patch = json_pack("{s:{s:s,s:[{s:s,s:s,s:s}]}}", "status", "phase", phase,
                                  "conditions", "type", "Ready", "status", "True",
                                  "lastTransitionTime", ltt);
        CHECK_EQ_INT(call(e, "PATCH", path, "application/merge-patch+json", patch, NULL), 200);
        json_decref(patch);
    }
    json_decref(l);
}

static void mark_pods(env_t *e, const char *sel, const char *phase)
{
    mark_pods_at(e, sel, phase, "2026-01-01T00:00:00Z");
}

static json_t *get(env_t *e, const char *path)
{
    json_t *o = NULL;
    call(e, "GET", path, NULL, NULL, &o);
    return o;
}

TEST(deployment_rs_pods_status)
{
    env_t e;
    env_open(&e);
    json_t *d = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
        "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":"
        "{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
        "\"image\":\"nginx\"}]}}}}",
        0, NULL);
    CHECK_EQ_INT(call(&e, "POST", "/apis/apps/v1/namespaces/default/deployments", NULL, d, NULL),
                 201);
    CHECK_EQ_INT((int)wait_pods(&e, "labelSelector=app%3Dweb", 3), 3);
    run_ms(&e, 200);
    CHECK_EQ_INT((int)count_pods(&e, "labelSelector=app%3Dweb"), 3); /* no extra pods */
    mark_pods(&e, "labelSelector=app%3Dweb", "Running");
    json_t *got = NULL;
    long avail = 0;
    for (int i = 0; i < 100 && avail != 3; i++) {
        run_ms(&e, 50);
        json_decref(got);
        got = get(&e, "/apis/apps/v1/namespaces/default/deployments/web");
        avail = (long)json_integer_value(
            json_object_get(json_object_get(got, "status"), "availableReplicas"));
    }
    CHECK_EQ_INT((int)avail, 3);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(json_object_get(got, "status"),
                                                         "updatedReplicas")),
                 3);
    json_decref(got);
    /* Scale down to 1. */
    json_t *p = json_pack("{s:{s:i}}", "spec", "replicas", 1);
    CHECK_EQ_INT(call(&e, "PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                      "application/merge-patch+json", p, NULL),
                 200);
    json_decref(p);
    CHECK_EQ_INT((int)wait_pods(&e, "labelSelector=app%3Dweb", 1), 1);
    json_decref(d);
    env_close(&e);
}

/* A ReplicaSet with minReadySeconds: its pods turn available with no event,
 * only time passing, so its periodic resync must not be skipped while a
 * ready pod waits (the resync skips sets whose inputs did not change). */
TEST(replicaset_min_ready_seconds)
{
    env_t e;
    env_open(&e);
    json_t *rs = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"mr\"},"
        "\"spec\":{\"replicas\":2,\"minReadySeconds\":5,\"selector\":{\"matchLabels\":{\"app\":"
        "\"mr\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"mr\"}},\"spec\":{"
        "\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}}}",
        0, NULL);
    CHECK_EQ_INT(call(&e, "POST", "/apis/apps/v1/namespaces/default/replicasets", NULL, rs, NULL),
                 201);
    CHECK_EQ_INT((int)wait_pods(&e, "labelSelector=app%3Dmr", 2), 2);
    char now[32];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    mark_pods_at(&e, "labelSelector=app%3Dmr", "Running", now);
    json_t *got = NULL;
    long ready = 0, avail = 0;
    for (int i = 0; i < 400 && avail != 2; i++) {
        run_ms(&e, 50);
        json_decref(got);
        got = get(&e, "/apis/apps/v1/namespaces/default/replicasets/mr");
        ready = (long)json_integer_value(json_object_get(json_object_get(got, "status"), "readyReplicas"));
        avail = (long)json_integer_value(
            json_object_get(json_object_get(got, "status"), "availableReplicas"));
    }
    CHECK_EQ_INT((int)ready, 2);
    CHECK_EQ_INT((int)avail, 2);
    json_decref(got);
    /* Settled (the resync now skips it): a pod deleted behind its back is
     * still replaced, through the pod's event. */
    json_t *l = list_pods(&e, "labelSelector=app%3Dmr");
    const char *victim = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(l, "items"), 0), "metadata"), "name"));
    char path[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/default/pods/%s", victim ?: "none");
    json_decref(l);
    run_ms(&e, 2500);
    json_t *opts = json_pack("{s:i}", "gracePeriodSeconds", 0);
    CHECK_EQ_INT(call(&e, "DELETE", path, NULL, opts, NULL), 200);
    json_decref(opts);
    int replaced = 0;
    for (int i = 0; i < 100 && !replaced; i++) {
        run_ms(&e, 50);
        json_t *now_l = list_pods(&e, "labelSelector=app%3Dmr");
        size_t k;
        json_t *p;
        int n = 0, has_victim = 0;
        json_array_foreach(json_object_get(now_l, "items"), k, p) {
            n++;
            const char *nm = json_string_value(json_object_get(json_object_get(p, "metadata"), "name"));
            if (nm && !strcmp(nm, path + strlen("/api/v1/namespaces/default/pods/"))) has_victim = 1;
        }
        replaced = n == 2 && !has_victim;
        json_decref(now_l);
    }
    CHECK(replaced);
    json_decref(rs);
    env_close(&e);
}

/* status.used.pods of quota default/q (-1 if absent). */
static long quota_pods(env_t *e)
{
    json_t *q = get(e, "/api/v1/namespaces/default/resourcequotas/q");
    json_t *v = json_object_get(json_object_get(json_object_get(q, "status"), "used"), "pods");
    long n = json_is_string(v) ? atol(json_string_value(v)) : -1;
    json_decref(q);
    return n;
}

/* The quota controller counts pods from the shared pod cache; a quota whose
 * pods did not change is not recounted by the resync, except while a counted
 * pod is being deleted: its charge ends when its grace period does, with no
 * event. */
TEST(quota_counts_cached_pods)
{
    env_t e;
    env_open(&e);
    json_t *q = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s}}}", "apiVersion", "v1", "kind",
                          "ResourceQuota", "metadata", "name", "q", "spec", "hard", "pods", "5");
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/default/resourcequotas", NULL, q, NULL), 201);
    json_decref(q);
    /* Two pods on a node (deleting one then takes its grace period). */
    for (int i = 0; i < 2; i++) {
        json_t *p = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind",
                              "Pod", "metadata", "name", i ? "qp1" : "qp0", "spec", "nodeName",
                              "n1", "containers", "name", "c", "image", "nginx");
        CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/default/pods", NULL, p, NULL), 201);
        json_decref(p);
    }
    long used = -1;
    for (int i = 0; i < 200 && used != 2; i++) {
        run_ms(&e, 50);
        used = quota_pods(&e);
    }
    CHECK_EQ_INT(used, 2);
    /* Settled over a few resyncs, then one pod deleted with a 3 s grace: it
     * stays (terminating) and is charged until its grace ends. */
    run_ms(&e, 4500);
    CHECK_EQ_INT(quota_pods(&e), 2);
    json_t *opts = json_pack("{s:i}", "gracePeriodSeconds", 3);
    CHECK_EQ_INT(call(&e, "DELETE", "/api/v1/namespaces/default/pods/qp0", NULL, opts, NULL), 200);
    json_decref(opts);
    for (int i = 0; i < 300 && used != 1; i++) {
        run_ms(&e, 50);
        used = quota_pods(&e);
    }
    CHECK_EQ_INT(used, 1);
    json_t *still = get(&e, "/api/v1/namespaces/default/pods/qp0");
    CHECK(json_object_get(json_object_get(still, "metadata"), "deletionTimestamp") != NULL);
    json_decref(still);
    env_close(&e);
}

TEST(job_completes)
{
    env_t e;
    env_open(&e);
    json_t *j = json_loads(
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\"},"
        "\"spec\":{\"completions\":2,\"parallelism\":1,\"template\":{\"spec\":{\"restartPolicy\":"
        "\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}",
        0, NULL);
    CHECK_EQ_INT(call(&e, "POST", "/apis/batch/v1/namespaces/default/jobs", NULL, j, NULL), 201);
    /* parallelism 1: one pod at a time. */
    CHECK_EQ_INT((int)wait_pods(&e, "labelSelector=job-name%3Dj", 1), 1);
    mark_pods(&e, "labelSelector=job-name%3Dj", "Succeeded");
    CHECK_EQ_INT((int)wait_pods(&e, "labelSelector=job-name%3Dj", 2), 2);
    mark_pods(&e, "labelSelector=job-name%3Dj", "Succeeded");
    json_t *got = NULL;
    int complete = 0;
    for (int i = 0; i < 100 && !complete; i++) {
        run_ms(&e, 50);
        json_decref(got);
        got = get(&e, "/apis/batch/v1/namespaces/default/jobs/j");
        size_t k;
        json_t *c;
        json_array_foreach(json_object_get(json_object_get(got, "status"), "conditions"), k, c)
            if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Complete"))
                complete = 1;
    }
    CHECK(complete);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(json_object_get(got, "status"),
                                                         "succeeded")),
                 2);
    json_decref(got);
    json_decref(j);
    env_close(&e);
}

/* Names as kube-controller-manager 1.36 gives them for the same manifests
 * (observed on the e2e host cluster, see e2e/suites/55-controllers-host.sh):
 * a Deployment's ReplicaSet (pod-template-hash), a StatefulSet's and a
 * DaemonSet's ControllerRevision. The API layer's defaulting must store the
 * templates as kube-apiserver does for these to match. */
TEST(upstream_names)
{
    env_t e;
    env_open(&e);
    static const char *const objs[][2] = {
        {"/apis/apps/v1/namespaces/default/deployments",
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"h-basic\"},"
         "\"spec\":{\"replicas\":0,\"selector\":{\"matchLabels\":{\"app\":\"h-basic\"}},\"template\":"
         "{\"metadata\":{\"labels\":{\"app\":\"h-basic\"}},\"spec\":{\"containers\":[{\"name\":"
         "\"nginx\",\"image\":\"nginx\"}]}}}}"},
        {"/apis/apps/v1/namespaces/default/statefulsets",
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"h-sts\"},"
         "\"spec\":{\"replicas\":0,\"serviceName\":\"h-sts\",\"selector\":{\"matchLabels\":{\"app\":"
         "\"h-sts\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"h-sts\"}},\"spec\":{"
         "\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}]}]}}}}"},
        {"/apis/apps/v1/namespaces/default/daemonsets",
         "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"h-ds\"},"
         "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"h-ds\"}},\"template\":{\"metadata\":{"
         "\"labels\":{\"app\":\"h-ds\"}},\"spec\":{\"nodeSelector\":{\"no-such\":\"node\"},"
         "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}}"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *o = json_loads(objs[i][1], 0, NULL);
        CHECK_EQ_INT(call(&e, "POST", objs[i][0], NULL, o, NULL), 201);
        json_decref(o);
    }
    json_t *rs = NULL, *sts = NULL, *ds = NULL;
    for (int i = 0; i < 100 && !(rs && sts && ds); i++) {
        run_ms(&e, 50);
        if (!rs) rs = get(&e, "/apis/apps/v1/namespaces/default/replicasets/h-basic-575855b5bf");
        if (!sts) sts = get(&e, "/apis/apps/v1/namespaces/default/controllerrevisions/h-sts-7bc8f7784d");
        if (!ds) ds = get(&e, "/apis/apps/v1/namespaces/default/controllerrevisions/h-ds-6c4c47bbd5");
        if (rs && strcmp(json_string_value(json_object_get(rs, "kind")) ?: "", "ReplicaSet")) {
            json_decref(rs);
            rs = NULL;
        }
        if (sts && strcmp(json_string_value(json_object_get(sts, "kind")) ?: "", "ControllerRevision")) {
            json_decref(sts);
            sts = NULL;
        }
        if (ds && strcmp(json_string_value(json_object_get(ds, "kind")) ?: "", "ControllerRevision")) {
            json_decref(ds);
            ds = NULL;
        }
    }
    CHECK(rs != NULL);
    CHECK(sts != NULL);
    CHECK(ds != NULL);
    if (sts) {
        json_t *l = json_object_get(json_object_get(sts, "metadata"), "labels");
        CHECK_EQ_STR(json_string_value(json_object_get(l, "controller.kubernetes.io/hash")) ?: "",
                     "7bc8f7784d");
        CHECK_EQ_INT((int)json_integer_value(json_object_get(sts, "revision")), 1);
        json_t *t = json_object_get(json_object_get(json_object_get(sts, "data"), "spec"), "template");
        CHECK_EQ_STR(json_string_value(json_object_get(t, "$patch")) ?: "", "replace");
    }
    if (ds) {
        json_t *l = json_object_get(json_object_get(ds, "metadata"), "labels");
        CHECK_EQ_STR(json_string_value(json_object_get(l, "controller-revision-hash")) ?: "",
                     "6c4c47bbd5");
    }
    json_decref(rs);
    json_decref(sts);
    json_decref(ds);
    env_close(&e);
}

int main(void)
{
    RUN(deployment_rs_pods_status);
    RUN(replicaset_min_ready_seconds);
    RUN(quota_counts_cached_pods);
    RUN(job_completes);
    RUN(upstream_names);
    TEST_EXIT();
}
