/* The garbage collector (proxy/gc.c) on a real API layer over a temporary
 * store, under the sanitizers. ConfigMaps and Secrets stand in for owners and
 * dependents (no controller touches them): Background, Foreground with a
 * blocking dependent held by a finalizer, Orphan, dependents of owners that do
 * not exist (absent uid, same name with another uid, other namespace), owners
 * that cannot be resolved (never collected), a dependent keeping its other
 * owner, and work left over by a stopped server finished by the next one.
 * Every test stops everything and checks no handle is left. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/apiserver.h"
#include "proxy/client.h"
#include "store/store.h"
#include "tests/test.h"

typedef struct env {
    uv_loop_t loop;
    vk_store_t *store;
    vk_apiserver_t *api;
    vk_client_t *cl;
    char dir[64];
} env_t;

static void set_done(void *arg)
{
    *(int *)arg = 1;
}

static void env_start(env_t *e)
{
    uv_loop_init(&e->loop);
    char db[128];
    snprintf(db, sizeof db, "%s/store.db", e->dir);
    CHECK_EQ_INT(vk_store_open(&e->loop, db, NULL, &e->store), 0);
    vk_apiserver_config_t ac = {.tenant = "t", .external_address = "127.0.0.1:1"};
    CHECK_EQ_INT(vk_apiserver_new(&e->loop, e->store, &ac, &e->api), 0);
    for (int i = 0; i < 100000 && !vk_apiserver_ready(e->api); i++) uv_run(&e->loop, UV_RUN_ONCE);
    static const char *const groups[] = {"system:masters", NULL};
    e->cl = vk_client_new(&e->loop, vk_apiserver_handle, e->api, "test", groups);
}

static void env_open(env_t *e)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/vk-gc-XXXXXX");
    CHECK(mkdtemp(e->dir) != NULL);
    env_start(e);
}

/* Stops the API server and closes the store; the directory stays. */
static void env_stop(env_t *e)
{
    int done = 0;
    vk_client_close(e->cl, set_done, &done);
    for (int i = 0; i < 100000 && !done; i++) uv_run(&e->loop, UV_RUN_ONCE);
    CHECK(done);
    vk_apiserver_free(e->api);
    vk_store_close(e->store, NULL, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
}

static void env_close(env_t *e)
{
    env_stop(e);
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

static void written(void *arg, int status, const vk_kv_t *kv)
{
    (void)kv;
    CHECK_EQ_INT(status, 0);
    *(int *)arg = 1;
}

static char *cm_path(const char *ns, const char *name)
{
    return vk_client_path("", "v1", "configmaps", ns, name, NULL);
}

/* Creates ConfigMap ns/name with ownerReferences refs (taken; may be NULL) and
 * finalizers fin (taken; may be NULL). Returns its uid (caller frees) or NULL. */
static char *make_cm(env_t *e, const char *ns, const char *name, json_t *refs, json_t *fin)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                          "metadata", "name", name, "data", "k", "v");
    if (refs) json_object_set_new(json_object_get(o, "metadata"), "ownerReferences", refs);
    if (fin) json_object_set_new(json_object_get(o, "metadata"), "finalizers", fin);
    char *p = cm_path(ns, NULL);
    json_t *got = NULL;
    int st = call(e, "POST", p, NULL, o, &got);
    free(p);
    json_decref(o);
    CHECK_EQ_INT(st, 201);
    const char *uid = json_string_value(json_object_get(json_object_get(got, "metadata"), "uid"));
    char *u = uid ? strdup(uid) : NULL;
    json_decref(got);
    return u;
}

static json_t *ref(const char *kind, const char *name, const char *uid, int block)
{
    json_t *r = json_pack("{s:s,s:s,s:s,s:s}", "apiVersion", "v1", "kind", kind, "name", name,
                          "uid", uid);
    if (block) json_object_set_new(r, "blockOwnerDeletion", json_true());
    return r;
}

/* GET of ConfigMap ns/name: the status; *obj gets the object if wanted. */
static int get_cm(env_t *e, const char *ns, const char *name, json_t **obj)
{
    char *p = cm_path(ns, name);
    int st = call(e, "GET", p, NULL, NULL, obj);
    free(p);
    return st;
}

/* Waits up to ~10 s for ConfigMap ns/name to be gone. 1 if it is. */
static int wait_gone(env_t *e, const char *ns, const char *name)
{
    for (int i = 0; i < 200; i++) {
        if (get_cm(e, ns, name, NULL) == 404) return 1;
        run_ms(e, 50);
    }
    return 0;
}

static int del_cm(env_t *e, const char *ns, const char *name, const char *policy,
                  json_t **obj)
{
    char *p = cm_path(ns, name);
    json_t *b = policy ? json_pack("{s:s,s:s,s:s}", "apiVersion", "v1", "kind",
                                   "DeleteOptions", "propagationPolicy", policy)
                       : NULL;
    int st = call(e, "DELETE", p, NULL, b, obj);
    json_decref(b);
    free(p);
    return st;
}

static int has_fin(const json_t *o, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(o, "metadata"), "finalizers"), i, v)
        if (!strcmp(json_string_value(v) ?: "", f)) return 1;
    return 0;
}

TEST(background_collects_dependents)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "owner", NULL, NULL);
    free(make_cm(&e, "default", "dep1", json_pack("[o]", ref("ConfigMap", "owner", u, 0)), NULL));
    free(make_cm(&e, "default", "dep2", json_pack("[o]", ref("ConfigMap", "owner", u, 1)), NULL));
    free(make_cm(&e, "default", "other", NULL, NULL));
    run_ms(&e, 200);
    CHECK_EQ_INT(get_cm(&e, "default", "dep1", NULL), 200); /* the owner exists: kept */
    CHECK_EQ_INT(del_cm(&e, "default", "owner", NULL, NULL), 200);
    CHECK_EQ_INT(get_cm(&e, "default", "owner", NULL), 404); /* gone at once */
    CHECK(wait_gone(&e, "default", "dep1"));
    CHECK(wait_gone(&e, "default", "dep2"));
    CHECK_EQ_INT(get_cm(&e, "default", "other", NULL), 200);
    free(u);
    env_close(&e);
}

TEST(foreground_waits_for_blocking_dependent)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "owner", NULL, NULL);
    /* dep holds a finalizer of its own: it stays (being deleted) until removed. */
    free(make_cm(&e, "default", "dep", json_pack("[o]", ref("ConfigMap", "owner", u, 1)),
                 json_pack("[s]", "example.com/hold")));
    free(make_cm(&e, "default", "loose", json_pack("[o]", ref("ConfigMap", "owner", u, 0)), NULL));
    json_t *got = NULL;
    CHECK_EQ_INT(del_cm(&e, "default", "owner", "Foreground", &got), 200);
    CHECK(json_object_get(json_object_get(got, "metadata"), "deletionTimestamp") != NULL);
    CHECK(has_fin(got, "foregroundDeletion"));
    json_decref(got);
    CHECK(wait_gone(&e, "default", "loose")); /* non-blocking dependents go too */
    json_t *dep = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref(dep);
        dep = NULL;
        get_cm(&e, "default", "dep", &dep);
        if (json_object_get(json_object_get(dep, "metadata"), "deletionTimestamp")) break;
        run_ms(&e, 50);
    }
    CHECK(json_object_get(json_object_get(dep, "metadata"), "deletionTimestamp") != NULL);
    run_ms(&e, 300);
    /* The blocking dependent still exists: so does the owner, with its finalizer. */
    got = NULL;
    CHECK_EQ_INT(get_cm(&e, "default", "owner", &got), 200);
    CHECK(has_fin(got, "foregroundDeletion"));
    json_decref(got);
    /* Release the dependent: it goes, then the owner. */
    json_t *p = json_pack("{s:{s:n}}", "metadata", "finalizers");
    char *path = cm_path("default", "dep");
    CHECK_EQ_INT(call(&e, "PATCH", path, "application/merge-patch+json", p, NULL), 200);
    free(path);
    json_decref(p);
    json_decref(dep);
    CHECK(wait_gone(&e, "default", "dep"));
    CHECK(wait_gone(&e, "default", "owner"));
    free(u);
    env_close(&e);
}

TEST(foreground_without_dependents)
{
    env_t e;
    env_open(&e);
    free(make_cm(&e, "default", "lonely", NULL, NULL));
    CHECK_EQ_INT(del_cm(&e, "default", "lonely", "Foreground", NULL), 200);
    CHECK(wait_gone(&e, "default", "lonely"));
    env_close(&e);
}

TEST(orphan_drops_references)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "owner", NULL, NULL);
    char *u2 = make_cm(&e, "default", "owner2", NULL, NULL);
    free(make_cm(&e, "default", "dep", json_pack("[o]", ref("ConfigMap", "owner", u, 1)), NULL));
    free(make_cm(&e, "default", "both", json_pack("[oo]", ref("ConfigMap", "owner", u, 0),
                                                   ref("ConfigMap", "owner2", u2, 0)),
                 NULL));
    json_t *got = NULL;
    CHECK_EQ_INT(del_cm(&e, "default", "owner", "Orphan", &got), 200);
    CHECK(has_fin(got, "orphan"));
    json_decref(got);
    CHECK(wait_gone(&e, "default", "owner"));
    run_ms(&e, 200);
    json_t *dep = NULL;
    CHECK_EQ_INT(get_cm(&e, "default", "dep", &dep), 200);
    CHECK(json_object_get(json_object_get(dep, "metadata"), "ownerReferences") == NULL);
    json_decref(dep);
    dep = NULL;
    CHECK_EQ_INT(get_cm(&e, "default", "both", &dep), 200);
    json_t *refs = json_object_get(json_object_get(dep, "metadata"), "ownerReferences");
    CHECK_EQ_INT((int)json_array_size(refs), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(refs, 0), "name")), "owner2");
    json_decref(dep);
    free(u);
    free(u2);
    env_close(&e);
}

TEST(dangling_owners)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "real", NULL, NULL);
    const char *fake = "00000000-0000-0000-0000-00000000dead";
    /* No object with that uid: collected. */
    free(make_cm(&e, "default", "d-absent", json_pack("[o]", ref("ConfigMap", "nope", fake, 0)),
                 NULL));
    /* The name exists with another uid: collected. */
    free(make_cm(&e, "default", "d-uid", json_pack("[o]", ref("ConfigMap", "real", fake, 0)),
                 NULL));
    /* The owner lives in another namespace: absent here, collected. */
    json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", "other");
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces", NULL, ns, NULL), 201);
    json_decref(ns);
    free(make_cm(&e, "other", "d-ns", json_pack("[o]", ref("ConfigMap", "real", u, 0)), NULL));
    /* A kind nobody serves: cannot be resolved, kept. */
    json_t *r = ref("Widget", "w", fake, 0);
    json_object_set_new(r, "apiVersion", json_string("example.com/v1"));
    free(make_cm(&e, "default", "d-unknown", json_pack("[o]", r), NULL));
    /* One real owner and one absent: only the absent reference goes. */
    free(make_cm(&e, "default", "d-mixed", json_pack("[oo]", ref("ConfigMap", "real", u, 0),
                                                      ref("ConfigMap", "nope", fake, 0)),
                 NULL));
    CHECK(wait_gone(&e, "default", "d-absent"));
    CHECK(wait_gone(&e, "default", "d-uid"));
    CHECK(wait_gone(&e, "other", "d-ns"));
    run_ms(&e, 300);
    CHECK_EQ_INT(get_cm(&e, "default", "d-unknown", NULL), 200);
    CHECK_EQ_INT(get_cm(&e, "default", "real", NULL), 200);
    json_t *m = NULL;
    CHECK_EQ_INT(get_cm(&e, "default", "d-mixed", &m), 200);
    json_t *refs = json_object_get(json_object_get(m, "metadata"), "ownerReferences");
    CHECK_EQ_INT((int)json_array_size(refs), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(refs, 0), "name")), "real");
    json_decref(m);
    free(u);
    env_close(&e);
}

TEST(cluster_scoped)
{
    env_t e;
    env_open(&e);
    /* A namespace owns a cluster-scoped object: collected with it. A
     * cluster-scoped dependent naming a namespaced kind: unresolvable, kept. */
    json_t *got = NULL, *ns = json_pack("{s:{s:s}}", "metadata", "name", "owner-ns");
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces", NULL, ns, &got), 201);
    json_decref(ns);
    const char *nsuid = json_string_value(json_object_get(json_object_get(got, "metadata"),
                                                          "uid"));
    json_t *pc = json_pack("{s:{s:s,s:[o]},s:i}", "metadata", "name", "pc-owned",
                           "ownerReferences", ref("Namespace", "owner-ns", nsuid, 0), "value",
                           10);
    json_t *pc2 = json_pack("{s:{s:s,s:[o]},s:i}", "metadata", "name", "pc-odd",
                            "ownerReferences",
                            ref("ConfigMap", "x", "00000000-0000-0000-0000-00000000beef", 0),
                            "value", 11);
    const char *pcs = "/apis/scheduling.k8s.io/v1/priorityclasses";
    CHECK_EQ_INT(call(&e, "POST", pcs, NULL, pc, NULL), 201);
    CHECK_EQ_INT(call(&e, "POST", pcs, NULL, pc2, NULL), 201);
    json_decref(pc);
    json_decref(pc2);
    json_decref(got);
    run_ms(&e, 300);
    CHECK_EQ_INT(call(&e, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/pc-owned", NULL,
                      NULL, NULL),
                 200);
    CHECK_EQ_INT(call(&e, "DELETE", "/api/v1/namespaces/owner-ns", NULL, NULL, NULL), 200);
    int st = 0;
    for (int i = 0; i < 200 && st != 404; i++) {
        st = call(&e, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/pc-owned", NULL, NULL,
                  NULL);
        if (st != 404) run_ms(&e, 50);
    }
    CHECK_EQ_INT(st, 404);
    CHECK_EQ_INT(call(&e, "GET", "/apis/scheduling.k8s.io/v1/priorityclasses/pc-odd", NULL,
                      NULL, NULL),
                 200);
    env_close(&e);
}

TEST(resumes_after_restart)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "owner", NULL, NULL);
    free(make_cm(&e, "default", "dep", json_pack("[o]", ref("ConfigMap", "owner", u, 1)),
                 json_pack("[s]", "example.com/hold")));
    CHECK_EQ_INT(del_cm(&e, "default", "owner", "Foreground", NULL), 200);
    run_ms(&e, 300);
    env_stop(&e); /* the owner waits for dep, which waits for its finalizer */
    /* While no server runs, the dependent goes (as if its finalizer had been
     * released and the object removed), and an object whose owner never existed
     * appears. */
    uv_loop_init(&e.loop);
    char db[128];
    snprintf(db, sizeof db, "%s/store.db", e.dir);
    CHECK_EQ_INT(vk_store_open(&e.loop, db, NULL, &e.store), 0);
    vk_kv_t *kv = NULL;
    CHECK_EQ_INT(vk_store_get(e.store, "/core/configmaps/default/dep", &kv), 0);
    json_t *dep = kv ? json_loadb((const char *)kv->val, kv->len, 0, NULL) : NULL;
    CHECK(json_object_get(json_object_get(dep, "metadata"), "deletionTimestamp") != NULL);
    json_decref(dep);
    int done = 0;
    CHECK_EQ_INT(vk_store_delete(e.store, "/core/configmaps/default/dep", kv ? kv->mod_rev : 0,
                                 written, &done),
                 0);
    vk_kv_unref(kv);
    const char *orphan = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                         "\"stray\",\"namespace\":\"default\",\"uid\":\"0000-stray\","
                         "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
                         "\"name\":\"gone\",\"uid\":\"0000-gone\"}]}}";
    int done2 = 0;
    CHECK_EQ_INT(vk_store_create(e.store, "/core/configmaps/default/stray", orphan,
                                 strlen(orphan),
                                 written, &done2),
                 0);
    for (int i = 0; i < 100000 && !(done && done2); i++) uv_run(&e.loop, UV_RUN_ONCE);
    vk_store_close(e.store, NULL, NULL);
    uv_run(&e.loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    /* The next server finishes both. */
    env_start(&e);
    CHECK(wait_gone(&e, "default", "owner"));
    CHECK(wait_gone(&e, "default", "stray"));
    free(u);
    env_close(&e);
}

TEST(orphan_dependents_option)
{
    env_t e;
    env_open(&e);
    char *u = make_cm(&e, "default", "owner", NULL, NULL);
    free(make_cm(&e, "default", "dep", json_pack("[o]", ref("ConfigMap", "owner", u, 0)), NULL));
    char *p = cm_path("default", "owner");
    /* Both the deprecated field and the policy: refused. */
    json_t *b = json_pack("{s:s,s:s,s:b,s:s}", "apiVersion", "v1", "kind", "DeleteOptions",
                          "orphanDependents", 1, "propagationPolicy", "Background");
    CHECK_EQ_INT(call(&e, "DELETE", p, NULL, b, NULL), 422);
    json_decref(b);
    CHECK_EQ_INT(get_cm(&e, "default", "owner", NULL), 200);
    /* orphanDependents: true is Orphan. */
    b = json_pack("{s:s,s:s,s:b}", "apiVersion", "v1", "kind", "DeleteOptions",
                  "orphanDependents", 1);
    CHECK_EQ_INT(call(&e, "DELETE", p, NULL, b, NULL), 200);
    json_decref(b);
    CHECK(wait_gone(&e, "default", "owner"));
    run_ms(&e, 200);
    json_t *dep = NULL;
    CHECK_EQ_INT(get_cm(&e, "default", "dep", &dep), 200);
    CHECK(json_object_get(json_object_get(dep, "metadata"), "ownerReferences") == NULL);
    json_decref(dep);
    free(p);
    free(u);
    env_close(&e);
}

TEST(bound_pod_keeps_grace_period)
{
    env_t e;
    env_open(&e);
    json_t *pod = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[{s:s,s:s}]}}", "apiVersion", "v1",
                            "kind", "Pod", "metadata", "name", "bound", "spec", "nodeName",
                            "node-1", "containers", "name", "c", "image", "nginx");
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/default/pods", NULL, pod, NULL), 201);
    json_decref(pod);
    const char *path = "/api/v1/namespaces/default/pods/bound";
    json_t *b = json_pack("{s:s,s:s,s:s}", "apiVersion", "v1", "kind", "DeleteOptions",
                          "propagationPolicy", "Foreground");
    CHECK_EQ_INT(call(&e, "DELETE", path, NULL, b, NULL), 200);
    json_decref(b);
    /* The collector drops its finalizer; the pod stays in its grace period. */
    json_t *got = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref(got);
        got = NULL;
        CHECK_EQ_INT(call(&e, "GET", path, NULL, NULL, &got), 200);
        if (!has_fin(got, "foregroundDeletion")) break;
        run_ms(&e, 50);
    }
    CHECK(!has_fin(got, "foregroundDeletion"));
    CHECK(json_object_get(json_object_get(got, "metadata"), "deletionTimestamp") != NULL);
    json_decref(got);
    b = json_pack("{s:s,s:s,s:i}", "apiVersion", "v1", "kind", "DeleteOptions",
                  "gracePeriodSeconds", 0);
    CHECK_EQ_INT(call(&e, "DELETE", path, NULL, b, NULL), 200);
    json_decref(b);
    CHECK_EQ_INT(call(&e, "GET", path, NULL, NULL, NULL), 404);
    env_close(&e);
}

TEST(foreground_cycle)
{
    env_t e;
    env_open(&e);
    /* a and b own each other, both blocking: a foreground delete of a must
     * still end with both gone. */
    char *ua = make_cm(&e, "default", "a", NULL, NULL);
    char *ub = make_cm(&e, "default", "b", json_pack("[o]", ref("ConfigMap", "a", ua, 1)), NULL);
    json_t *p = json_pack("{s:{s:[o]}}", "metadata", "ownerReferences",
                          ref("ConfigMap", "b", ub, 1));
    char *path = cm_path("default", "a");
    CHECK_EQ_INT(call(&e, "PATCH", path, "application/merge-patch+json", p, NULL), 200);
    json_decref(p);
    free(path);
    run_ms(&e, 200);
    CHECK_EQ_INT(get_cm(&e, "default", "a", NULL), 200);
    CHECK_EQ_INT(get_cm(&e, "default", "b", NULL), 200);
    CHECK_EQ_INT(del_cm(&e, "default", "a", "Foreground", NULL), 200);
    CHECK(wait_gone(&e, "default", "a"));
    CHECK(wait_gone(&e, "default", "b"));
    free(ua);
    free(ub);
    env_close(&e);
}

int main(void)
{
    RUN(background_collects_dependents);
    RUN(foreground_waits_for_blocking_dependent);
    RUN(foreground_without_dependents);
    RUN(orphan_drops_references);
    RUN(dangling_owners);
    RUN(cluster_scoped);
    RUN(resumes_after_restart);
    RUN(orphan_dependents_option);
    RUN(bound_pod_keeps_grace_period);
    RUN(foreground_cycle);
    TEST_EXIT();
}
