/* Tests of proxy/client's compact caches: vk_client_cache_t on its own (keys,
 * replacement in place, deletion, insertion order, growth, byte accounting),
 * and a compact informer against a plain one over the same objects through a
 * real API layer (same events, same objects read back, namespace iteration,
 * pre-tests on the text, a shared informer with two subscribers, far fewer
 * bytes). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxy/apiserver.h"
#include "proxy/client.h"
#include "store/store.h"
#include "tests/test.h"

/* vk_client_cache_put of a copy of json. */
static int put(vk_client_cache_t *cc, const char *key, const char *json)
{
    return vk_client_cache_put(cc, key, strdup(json), strlen(json));
}

/* Keys of cc in walk order, joined with ",". */
static void walk(const vk_client_cache_t *cc, char *out, size_t n)
{
    out[0] = 0;
    for (const void *e = vk_client_cache_first(cc); e; e = vk_client_cache_next(e)) {
        const char *k = vk_client_cache_entry(e, NULL, NULL);
        if (out[0]) strncat(out, ",", n - strlen(out) - 1);
        strncat(out, k, n - strlen(out) - 1);
    }
}

TEST(cache_put_replace_del_order)
{
    vk_client_cache_t *cc = vk_client_cache_new();
    size_t empty = vk_client_cache_bytes(cc);
    CHECK(empty > 0);
    CHECK_EQ_INT(vk_client_cache_size(cc), 0);
    CHECK(vk_client_cache_first(cc) == NULL);
    unsigned long g0 = vk_client_cache_gen(cc);
    CHECK_EQ_INT(put(cc, "a/x", "{\"v\":1}"), 1);
    CHECK_EQ_INT(put(cc, "b/y", "{\"v\":2}"), 1);
    CHECK_EQ_INT(put(cc, "a/z", "{\"v\":3}"), 1);
    CHECK(vk_client_cache_gen(cc) == g0 + 3);
    CHECK_EQ_INT(vk_client_cache_size(cc), 3);
    size_t three = vk_client_cache_bytes(cc);
    CHECK(three > empty + 3 * 7);
    /* Replacing keeps the place and the count; a longer text costs more. */
    CHECK_EQ_INT(put(cc, "a/x", "{\"v\":\"a much longer value, 40 bytes\"}"), 0);
    CHECK_EQ_INT(vk_client_cache_size(cc), 3);
    CHECK(vk_client_cache_bytes(cc) > three);
    char order[256];
    walk(cc, order, sizeof order);
    CHECK_EQ_STR(order, "a/x,b/y,a/z");
    size_t len = 0;
    const char *t = vk_client_cache_text(cc, "a/x", &len);
    CHECK_EQ_STR(t, "{\"v\":\"a much longer value, 40 bytes\"}");
    CHECK_EQ_INT(len, t ? strlen(t) : 0);
    CHECK(vk_client_cache_text(cc, "a/q", &len) == NULL);
    CHECK(vk_client_cache_text(cc, "a", &len) == NULL);
    /* Deleting the middle, the head and the tail. */
    CHECK_EQ_INT(vk_client_cache_del(cc, "b/y"), 1);
    CHECK_EQ_INT(vk_client_cache_del(cc, "b/y"), 0);
    walk(cc, order, sizeof order);
    CHECK_EQ_STR(order, "a/x,a/z");
    CHECK_EQ_INT(vk_client_cache_del(cc, "a/x"), 1);
    CHECK_EQ_INT(put(cc, "c/w", "{}"), 1);
    walk(cc, order, sizeof order);
    CHECK_EQ_STR(order, "a/z,c/w");
    CHECK_EQ_INT(vk_client_cache_del(cc, "c/w"), 1);
    CHECK_EQ_INT(vk_client_cache_del(cc, "a/z"), 1);
    CHECK_EQ_INT(vk_client_cache_size(cc), 0);
    CHECK(vk_client_cache_first(cc) == NULL);
    /* Every byte counted in was counted out. */
    CHECK_EQ_INT(vk_client_cache_bytes(cc), empty);
    /* Deleting from an empty cache, then refilling it. */
    CHECK_EQ_INT(vk_client_cache_del(cc, "a/z"), 0);
    CHECK_EQ_INT(put(cc, "a/z", "{}"), 1);
    walk(cc, order, sizeof order);
    CHECK_EQ_STR(order, "a/z");
    vk_client_cache_free(cc);
    vk_client_cache_free(NULL);
}

TEST(cache_many_keys)
{
    vk_client_cache_t *cc = vk_client_cache_new();
    enum { N = 5000 };
    char key[32], val[64];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "ns%d/p-%d", i % 7, i);
        snprintf(val, sizeof val, "{\"i\":%d}", i);
        CHECK_EQ_INT(put(cc, key, val), 1);
    }
    CHECK_EQ_INT(vk_client_cache_size(cc), N);
    /* Every key is found after the table grew, with its own text. */
    int found = 0;
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "ns%d/p-%d", i % 7, i);
        snprintf(val, sizeof val, "{\"i\":%d}", i);
        const char *t = vk_client_cache_text(cc, key, NULL);
        if (t && !strcmp(t, val)) found++;
    }
    CHECK_EQ_INT(found, N);
    /* Delete the odd ones; the walk gives the even ones in order. */
    for (int i = 1; i < N; i += 2) {
        snprintf(key, sizeof key, "ns%d/p-%d", i % 7, i);
        CHECK_EQ_INT(vk_client_cache_del(cc, key), 1);
    }
    CHECK_EQ_INT(vk_client_cache_size(cc), N / 2);
    int next = 0, in_order = 1, count = 0;
    for (const void *e = vk_client_cache_first(cc); e; e = vk_client_cache_next(e)) {
        const char *text;
        size_t len;
        vk_client_cache_entry(e, &text, &len);
        json_t *o = json_loadb(text, len, 0, NULL);
        int i = (int)json_integer_value(json_object_get(o, "i"));
        if (i != next) in_order = 0;
        next += 2;
        count++;
        json_decref(o);
    }
    CHECK(in_order);
    CHECK_EQ_INT(count, N / 2);
    vk_client_cache_free(cc);
}

/* pack then unpack gives text back; returns the packed length. */
static size_t round_trip(const char *text)
{
    size_t len = strlen(text);
    char *p = strdup(text);
    vk_client_text_pack(p, &len);
    CHECK(len <= strlen(text));
    CHECK(p[len] == 0);
    char small[8];
    size_t n = vk_client_text_unpack(p, len, small, sizeof small);
    CHECK_EQ_INT(n, strlen(text));
    char *out = malloc(n + 1);
    CHECK_EQ_INT(vk_client_text_unpack(p, len, out, n + 1), n);
    CHECK_EQ_STR(out, text);
    free(out);
    free(p);
    return len;
}

TEST(codec_round_trips)
{
    const char *running =
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-7d4b9c8f6d-x2k4p\","
        "\"namespace\":\"default\",\"uid\":\"0b6f2c1e-8a39-4d2b-9d4e-6c1f0a7b3e21\","
        "\"resourceVersion\":\"123456\",\"creationTimestamp\":\"2026-11-26T03:29:41Z\",\"labels\":"
        "{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c8f6d\"},\"ownerReferences\":[{\"apiVersion\":"
        "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"web-7d4b9c8f6d\",\"uid\":"
        "\"5e1c7a2b-3f4d-4e6a-8b9c-0d1e2f3a4b5c\",\"controller\":true,\"blockOwnerDeletion\":true}]},"
        "\"spec\":{\"nodeName\":\"vm-node-1\",\"containers\":[{\"name\":\"c\",\"resources\":{}}]},"
        "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Initialized\",\"status\":"
        "\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-26T03:29:41Z\"},{\"type\":"
        "\"Ready\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":"
        "\"2026-11-26T03:29:45Z\"},{\"type\":\"PodScheduled\",\"status\":\"False\",\"lastProbeTime\":"
        "null,\"lastTransitionTime\":\"2026-11-26T03:29:41Z\"}],\"podIP\":\"10.244.1.17\",\"podIPs\":"
        "[{\"ip\":\"10.244.1.17\"}]}}";
    size_t packed = round_trip(running);
    CHECK(packed * 100 < strlen(running) * 45); /* the point of it */
    round_trip("");
    round_trip("{}");
    round_trip("RunningPendingRunning");                 /* tokens back to back */
    round_trip("\"spec\":{\"spec\":\"spec\":{");           /* a token's prefix left over */
    round_trip("{\"a\":\"\\u0001\\n\\\"Pending\\\"\"}");   /* escapes stay as they are */
    round_trip("\xc3\xa9t\xc3\xa9 \xe2\x82\xac");                /* UTF-8 bytes >= 0x80 */
    /* Every fragment glued to every other, and cut anywhere. */
    const char *frag[] = {"\"cpu\":\"", "\"spec\":{", "Pending", "\",\"name\":\"", "x", ",", "\"", "{"};
    int nf = (int)(sizeof frag / sizeof *frag);
    char buf[256];
    for (int a = 0; a < nf; a++)
        for (int b = 0; b < nf; b++)
            for (int c = 0; c < nf; c++) {
                snprintf(buf, sizeof buf, "%s%s%s", frag[a], frag[b], frag[c]);
                for (size_t cut = 0; cut <= strlen(buf); cut++) {
                    char t[256];
                    memcpy(t, buf + cut, strlen(buf) - cut + 1);
                    round_trip(t);
                }
            }
}

/* ---- informers over a real API layer ---- */

typedef struct env {
    uv_loop_t loop;
    vk_store_t *store;
    vk_apiserver_t *api;
    vk_client_t *cl;
    char dir[64];
} env_t;

static void env_open(env_t *e)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/vk-cache-XXXXXX");
    CHECK(mkdtemp(e->dir) != NULL);
    uv_loop_init(&e->loop);
    char db[128];
    snprintf(db, sizeof db, "%s/store.db", e->dir);
    CHECK_EQ_INT(vk_store_open(&e->loop, db, NULL, &e->store), 0);
    vk_apiserver_config_t ac = {.tenant = "t", .external_address = "127.0.0.1:1"};
    CHECK_EQ_INT(vk_apiserver_new(&e->loop, e->store, &ac, &e->api), 0);
    for (int i = 0; i < 100000 && !vk_apiserver_ready(e->api); i++) uv_run(&e->loop, UV_RUN_ONCE);
    CHECK(vk_apiserver_ready(e->api));
    static const char *const groups[] = {"system:masters", NULL};
    e->cl = vk_client_new(&e->loop, vk_apiserver_handle, e->api, "system:kube-controller-manager",
                          groups);
}

static void set_done(void *arg)
{
    *(int *)arg = 1;
}

static void stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop for about ms milliseconds (it may block in between: every
 * wait below is bounded by this, not by a count of turns). */
static void run_ms(env_t *e, int ms)
{
    uv_timer_t t;
    uv_timer_init(&e->loop, &t);
    uv_timer_start(&t, stop_loop, (uint64_t)ms, 0);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&e->loop, UV_RUN_NOWAIT);
}

/* Runs the loop until cond holds, at most ~10 s. */
#define WAIT_FOR(e, cond)                                                                          \
    for (int w_ = 0; w_ < 500 && !(cond); w_++) run_ms((e), 20)

static void env_close(env_t *e)
{
    int done = 0;
    vk_client_close(e->cl, set_done, &done);
    for (int i = 0; i < 100000 && !done; i++) uv_run(&e->loop, UV_RUN_ONCE);
    CHECK(done);
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
} res_t;

static void on_res(void *arg, int status, json_t *obj)
{
    res_t *r = arg;
    r->done = 1;
    r->status = status;
}

/* Runs one request to the end; returns its status. */
static int call(env_t *e, const char *method, const char *path, json_t *body)
{
    res_t r = {0};
    vk_client_request(e->cl, method, path, NULL,
                      !strcmp(method, "PATCH") ? "application/merge-patch+json" : NULL, body,
                      on_res, &r);
    for (int i = 0; i < 100000 && !r.done; i++) uv_run(&e->loop, UV_RUN_ONCE);
    json_decref(body);
    return r.status;
}

typedef struct seen {
    int added, modified, deleted, synced;
    char last[64]; /* "TYPE ns/name" of the last change */
} seen_t;

static void on_change(void *arg, int type, json_t *obj)
{
    seen_t *s = arg;
    if (type == VK_CLIENT_ADDED) s->added++;
    if (type == VK_CLIENT_MODIFIED) s->modified++;
    if (type == VK_CLIENT_DELETED) s->deleted++;
    json_t *md = json_object_get(obj, "metadata");
    snprintf(s->last, sizeof s->last, "%d %s/%s", type,
             json_string_value(json_object_get(md, "namespace")) ?: "",
             json_string_value(json_object_get(md, "name")) ?: "");
}

static void on_synced(void *arg)
{
    ((seen_t *)arg)->synced++;
}

static json_t *pod(const char *name, const char *app)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[{s:s,s:s,s:[{s:i,s:s}]}]}}", "apiVersion",
                     "v1", "kind", "Pod", "metadata", "name", name, "labels", "app", app, "spec",
                     "containers", "name", "c", "image", "img:1", "ports", "containerPort", 8080,
                     "name", "http");
}

static void make_ns(env_t *e, const char *ns)
{
    CHECK_EQ_INT(call(e, "POST", "/api/v1/namespaces",
                      json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                                "metadata", "name", ns)),
                 201);
}

/* The objects of inf in namespace ns (NULL: all), in iteration order, as one
 * JSON array (new reference). */
static json_t *all_of(const vk_client_informer_t *inf, const char *ns)
{
    json_t *out = json_array();
    vk_client_iter_t it;
    json_t *o;
    vk_client_informer_foreach(inf, ns, it, o) json_array_append(out, o);
    return out;
}

static int names_are(json_t *arr, const char *csv)
{
    char buf[512] = "";
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        if (i) strncat(buf, ",", sizeof buf - strlen(buf) - 1);
        const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        strncat(buf, n ? n : "?", sizeof buf - strlen(buf) - 1);
    }
    if (strcmp(buf, csv)) fprintf(stderr, "  names: %s, expected %s\n", buf, csv);
    return !strcmp(buf, csv);
}

static const char *const FIELDS[] = {"metadata", "spec.containers.name", "spec.containers.ports",
                                     "status.phase", NULL};

TEST(compact_informer_matches_plain)
{
    env_t e;
    env_open(&e);
    make_ns(&e, "a");
    make_ns(&e, "b");
    /* Before the informers: listed (in pages of 2 for the compact one). */
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/a/pods", pod("p1", "x")), 201);
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/b/pods", pod("q1", "x")), 201);
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/a/pods", pod("p2", "y")), 201);
    seen_t sp = {0}, sc = {0}, s2 = {0};
    vk_client_informer_t *plain = vk_client_informer_new(e.cl, "/api/v1/pods", on_change, on_synced, &sp);
    vk_client_informer_keep(plain, FIELDS);
    vk_client_informer_t *compact = vk_client_informer_new(e.cl, "/api/v1/pods", on_change, on_synced, &sc);
    vk_client_informer_keep(compact, FIELDS);
    vk_client_informer_set_compact(compact);
    vk_client_informer_set_page_size(compact, 2);
    /* A second subscriber of the compact one. */
    vk_client_informer_add_handler(compact, on_change, on_synced, &s2);
    WAIT_FOR(&e, sp.synced && sc.synced);
    CHECK_EQ_INT(sp.synced, 1);
    CHECK_EQ_INT(sc.synced, 1);
    CHECK_EQ_INT(s2.synced, 1);
    CHECK_EQ_INT(sc.added, 3);
    CHECK_EQ_INT(s2.added, 3);
    CHECK_EQ_INT(vk_client_informer_pages(compact), 2);
    CHECK_EQ_INT(vk_client_informer_size(compact), 3);
    CHECK_EQ_INT(vk_client_informer_size(plain), 3);
    /* Changes after the list: create, update, delete, in both namespaces. */
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/b/pods", pod("q2", "y")), 201);
    CHECK_EQ_INT(call(&e, "PATCH", "/api/v1/namespaces/a/pods/p1",
                      json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "z")),
                 200);
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/a/pods", pod("p3", "x")), 201);
    CHECK_EQ_INT(call(&e, "DELETE", "/api/v1/namespaces/a/pods/p2",
                      json_pack("{s:i}", "gracePeriodSeconds", 0)),
                 200);
    WAIT_FOR(&e, sc.deleted >= 1 && sp.deleted >= 1);
    run_ms(&e, 100);
    /* The same events as the plain informer, to both subscribers. */
    CHECK_EQ_INT(sc.added, sp.added);
    CHECK_EQ_INT(sc.modified, sp.modified);
    CHECK_EQ_INT(sc.deleted, sp.deleted);
    CHECK_EQ_INT(sc.added, 5);
    CHECK(sc.modified >= 1);
    CHECK_EQ_INT(sc.deleted, 1);
    CHECK_EQ_STR(sc.last, sp.last);
    CHECK_EQ_INT(s2.added, sc.added);
    CHECK_EQ_INT(s2.modified, sc.modified);
    CHECK_EQ_INT(s2.deleted, sc.deleted);
    /* The same objects, in the same order, per namespace and in all. */
    const char *nss[] = {"a", "b", "c", NULL};
    for (int i = 0; i < 4; i++) {
        json_t *x = all_of(plain, nss[i]), *y = all_of(compact, nss[i]);
        CHECK(json_equal(x, y));
        json_decref(x);
        json_decref(y);
    }
    json_t *a = all_of(compact, "a");
    CHECK(names_are(a, "p1,p3"));
    json_decref(a);
    json_t *every = all_of(compact, NULL);
    CHECK(names_are(every, "p1,q1,q2,p3"));
    /* Kept fields only, decoded. */
    json_t *p1 = json_array_get(every, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(p1, "metadata"),
                                                                   "labels"),
                                                   "app")),
                 "z");
    CHECK(json_object_get(json_object_get(p1, "metadata"), "managedFields") == NULL);
    json_t *c0 = json_array_get(json_object_get(json_object_get(p1, "spec"), "containers"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(c0, "name")), "c");
    CHECK(json_object_get(c0, "image") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(p1, "kind")), "Pod");
    json_decref(every);
    /* lookup: a new reference, equal to the plain cache's object. */
    json_t *l1 = vk_client_informer_lookup(compact, "b", "q2");
    json_t *l2 = vk_client_informer_lookup(plain, "b", "q2");
    CHECK(l1 && l2 && json_equal(l1, l2));
    CHECK(l2 == vk_client_informer_get(plain, "b", "q2"));
    json_decref(l1);
    json_decref(l2);
    CHECK(vk_client_informer_lookup(compact, "a", "p2") == NULL);
    CHECK(vk_client_informer_lookup(compact, "b", "p1") == NULL);
    /* A loop left with break keeps its object. */
    vk_client_iter_t it;
    json_t *o, *kept = NULL;
    vk_client_informer_foreach(compact, "b", it, o) {
        kept = o;
        break;
    }
    CHECK(kept != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(kept, "metadata"), "name")), "q1");
    json_decref(kept);
    /* A pre-test skips compact objects before decoding them; a plain
     * informer's objects all come (the caller checks each anyway). */
    json_t *q1 = vk_client_informer_lookup(compact, "b", "q1");
    char *uid = strdup(json_string_value(json_object_get(json_object_get(q1, "metadata"), "uid")) ?: "?");
    json_t *f1 = json_array(), *f2 = json_array();
    vk_client_informer_foreach_where(compact, NULL, vk_client_text_has, uid, it, o)
        json_array_append(f1, o);
    vk_client_informer_foreach_where(plain, NULL, vk_client_text_has, uid, it, o)
        json_array_append(f2, o);
    CHECK(names_are(f1, "q1"));
    CHECK(names_are(f2, "p1,q1,q2,p3"));
    json_decref(f1);
    json_array_clear(f2);
    vk_client_informer_foreach_where(compact, "a", vk_client_text_has, uid, it, o)
        json_array_append(f2, o);
    CHECK_EQ_INT(json_array_size(f2), 0);
    json_decref(f2);
    json_decref(q1);
    free(uid);
    /* Bytes: counted for the compact cache only, and small. */
    CHECK_EQ_INT(vk_client_informer_bytes(plain), 0);
    size_t bytes = vk_client_informer_bytes(compact);
    CHECK(bytes > 4 * 200 && bytes < 4 * 1500);
    env_close(&e);
}

/* A relist of a compact informer reports only what changed while it was not
 * watching: nothing for unchanged objects, DELETED for objects gone (from
 * their cached text), ADDED and MODIFIED for the others. */
TEST(compact_informer_relists)
{
    env_t e;
    env_open(&e);
    make_ns(&e, "a");
    const char *names[] = {"r1", "r2", "r3"};
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/a/pods", pod(names[i], "x")), 201);
    seen_t sc = {0}, sp = {0};
    vk_client_informer_t *compact = vk_client_informer_new(e.cl, "/api/v1/namespaces/a/pods",
                                                           on_change, on_synced, &sc);
    vk_client_informer_keep(compact, FIELDS);
    vk_client_informer_set_compact(compact);
    vk_client_informer_t *plain = vk_client_informer_new(e.cl, "/api/v1/namespaces/a/pods",
                                                         on_change, on_synced, &sp);
    vk_client_informer_keep(plain, FIELDS);
    WAIT_FOR(&e, sc.synced && sp.synced);
    CHECK_EQ_INT(sc.added, 3);
    /* Nothing changed: a relist reports nothing. */
    int pages = vk_client_informer_pages(compact);
    vk_client_informer_relist(compact, 0);
    WAIT_FOR(&e, vk_client_informer_relists(compact) >= 1 &&
                     vk_client_informer_pages(compact) > pages);
    run_ms(&e, 100);
    CHECK_EQ_INT(vk_client_informer_relists(compact), 1);
    CHECK_EQ_INT(sc.added, 3);
    CHECK_EQ_INT(sc.modified, 0);
    CHECK_EQ_INT(sc.deleted, 0);
    /* Not watching for 500 ms, while one pod goes, one changes, one comes
     * (each request waited for: done well within that time). */
    vk_client_informer_relist(compact, 500);
    CHECK_EQ_INT(call(&e, "DELETE", "/api/v1/namespaces/a/pods/r2",
                      json_pack("{s:i}", "gracePeriodSeconds", 0)),
                 200);
    CHECK_EQ_INT(call(&e, "PATCH", "/api/v1/namespaces/a/pods/r3",
                      json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "changed")),
                 200);
    CHECK_EQ_INT(call(&e, "POST", "/api/v1/namespaces/a/pods", pod("r4", "x")), 201);
    WAIT_FOR(&e, vk_client_informer_relists(compact) >= 2);
    WAIT_FOR(&e, sc.deleted >= 1 && sc.added >= 4 && sp.added >= 4);
    run_ms(&e, 100);
    CHECK_EQ_INT(sc.deleted, 1);
    CHECK_EQ_INT(sc.added, 4);
    CHECK_EQ_INT(sc.modified, 1);
    /* The same cache as the informer that watched all along. */
    json_t *x = all_of(plain, NULL), *y = all_of(compact, NULL);
    CHECK(json_equal(x, y));
    CHECK(names_are(y, "r1,r3,r4"));
    json_decref(x);
    json_decref(y);
    env_close(&e);
}

int main(void)
{
    RUN(cache_put_replace_del_order);
    RUN(cache_many_keys);
    RUN(codec_round_trips);
    RUN(compact_informer_matches_plain);
    RUN(compact_informer_relists);
    TEST_EXIT();
}
