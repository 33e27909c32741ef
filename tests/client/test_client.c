/* Tests of proxy/client: a real API layer over a store in a temporary
 * directory, requests as local requests (no network): create, get, update with
 * a stale resourceVersion (409), patch, delete, and an informer that sees
 * changes made by other requests; an informer listing in pages with a
 * transform that keeps only some fields. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
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

static void env_open(env_t *e)
{
    memset(e, 0, sizeof *e);
    strcpy(e->dir, "/tmp/vk-client-XXXXXX");
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

/* Runs the loop until r is done (the store's writes complete on the loop). */
static void wait_res(env_t *e, res_t *r)
{
    for (int i = 0; i < 100000 && !r->done; i++) uv_run(&e->loop, UV_RUN_ONCE);
}

static void run_for(env_t *e, int turns)
{
    for (int i = 0; i < turns; i++) uv_run(&e->loop, UV_RUN_NOWAIT);
}

static json_t *cm(const char *name, const char *v)
{
    return json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "data", "k", v);
}

TEST(create_get_update_conflict_delete)
{
    env_t e;
    env_open(&e);
    char *coll = vk_client_path("", "v1", "configmaps", "default", NULL, NULL);
    char *one = vk_client_path("", "v1", "configmaps", "default", "a", NULL);
    CHECK_EQ_STR(one, "/api/v1/namespaces/default/configmaps/a");
    res_t r = {0};
    json_t *o = cm("a", "1");
    vk_client_create(e.cl, coll, o, on_res, &r);
    CHECK(!r.done); /* never called back inside the call */
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 201);
    const char *rv1 = json_string_value(json_object_get(json_object_get(r.obj, "metadata"),
                                                        "resourceVersion"));
    CHECK(rv1 && *rv1);
    char *rv1c = strdup(rv1 ? rv1 : "");
    /* Creating it again: 409 AlreadyExists through the real path. */
    r.done = 0;
    vk_client_create(e.cl, coll, o, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 409);
    CHECK_EQ_STR(json_string_value(json_object_get(r.obj, "reason")), "AlreadyExists");
    /* Validation runs: a bad name is 422. */
    r.done = 0;
    json_t *bad = cm("Bad_Name", "x");
    vk_client_create(e.cl, coll, bad, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 422);
    json_decref(bad);
    /* Update with the current resourceVersion works, with the old one conflicts. */
    json_t *u = cm("a", "2");
    json_object_set_new(json_object_get(u, "metadata"), "resourceVersion", json_string(rv1c));
    r.done = 0;
    vk_client_update(e.cl, one, u, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    r.done = 0;
    vk_client_update(e.cl, one, u, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 409);
    CHECK_EQ_STR(json_string_value(json_object_get(r.obj, "reason")), "Conflict");
    /* Merge patch, then get. */
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "3");
    r.done = 0;
    vk_client_patch(e.cl, one, "merge", p, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    r.done = 0;
    vk_client_get(e.cl, one, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(r.obj, "data"), "k")), "3");
    /* Delete, then get is 404. */
    r.done = 0;
    vk_client_delete(e.cl, one, "Background", on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    r.done = 0;
    vk_client_get(e.cl, one, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 404);
    json_decref(r.obj);
    json_decref(p);
    json_decref(u);
    json_decref(o);
    free(rv1c);
    free(coll);
    free(one);
    env_close(&e);
}

typedef struct seen {
    int added, modified, deleted, synced;
    char last[64];
} seen_t;

static void on_change(void *arg, int type, json_t *obj)
{
    seen_t *s = arg;
    if (type == VK_CLIENT_ADDED) s->added++;
    if (type == VK_CLIENT_MODIFIED) s->modified++;
    if (type == VK_CLIENT_DELETED) s->deleted++;
    const char *v = json_string_value(json_object_get(json_object_get(obj, "data"), "k"));
    snprintf(s->last, sizeof s->last, "%s", v ? v : "");
}

static void on_synced(void *arg)
{
    ((seen_t *)arg)->synced = 1;
}

TEST(informer_sees_changes)
{
    env_t e;
    env_open(&e);
    char *coll = vk_client_path("", "v1", "configmaps", "default", NULL, NULL);
    char *one = vk_client_path("", "v1", "configmaps", "default", "w", NULL);
    res_t r = {0};
    json_t *o = cm("pre", "0");
    vk_client_create(e.cl, coll, o, on_res, &r);
    wait_res(&e, &r);
    json_decref(o);
    /* The stored object has managedFields (the cache drops them, below). */
    CHECK(json_object_get(json_object_get(r.obj, "metadata"), "managedFields") != NULL);
    seen_t s = {0};
    vk_client_informer_t *inf = vk_client_informer_new(e.cl, coll, on_change, on_synced, &s);
    for (int i = 0; i < 1000 && !s.synced; i++) uv_run(&e.loop, UV_RUN_ONCE);
    CHECK(s.synced);
    /* "pre" and whatever the API server made itself (kube-root-ca.crt). */
    int base = (int)json_object_size(vk_client_informer_items(inf));
    CHECK(base >= 1);
    CHECK_EQ_INT(s.added, base);
    CHECK(vk_client_informer_get(inf, "default", "pre") != NULL);
    /* Without a transform the cache still drops managedFields. */
    json_t *pre = vk_client_informer_get(inf, "default", "pre");
    CHECK(json_object_get(json_object_get(pre, "metadata"), "managedFields") == NULL);
    CHECK(json_object_get(json_object_get(pre, "metadata"), "uid") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(pre, "data"), "k")), "0");
    o = cm("w", "1");
    r.done = 0;
    vk_client_create(e.cl, coll, o, on_res, &r);
    wait_res(&e, &r);
    json_t *p = json_pack("{s:{s:s}}", "data", "k", "2");
    r.done = 0;
    vk_client_patch(e.cl, one, "strategic", p, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    r.done = 0;
    vk_client_delete(e.cl, one, NULL, on_res, &r);
    wait_res(&e, &r);
    for (int i = 0; i < 1000 && s.deleted < 1; i++) uv_run(&e.loop, UV_RUN_ONCE);
    run_for(&e, 10);
    CHECK_EQ_INT(s.added, base + 1);
    CHECK_EQ_INT(s.modified, 1);
    CHECK_EQ_INT(s.deleted, 1);
    CHECK_EQ_STR(s.last, "2");
    CHECK(vk_client_informer_get(inf, "default", "w") == NULL);
    CHECK_EQ_INT((int)json_object_size(vk_client_informer_items(inf)), base);
    json_decref(r.obj);
    json_decref(p);
    json_decref(o);
    free(coll);
    free(one);
    env_close(&e);
}

static json_t *cm2(const char *name, const char *k, const char *other)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:s}}", "apiVersion", "v1", "kind",
                     "ConfigMap", "metadata", "name", name, "labels", "app", "x", "data", "k", k,
                     "other", other);
}

static int count_fields(json_t *o)
{
    return (int)json_object_size(o);
}

TEST(informer_pages_and_keeps_fields)
{
    env_t e;
    env_open(&e);
    char *coll = vk_client_path("", "v1", "configmaps", "default", NULL, NULL);
    res_t r = {0};
    for (int i = 0; i < 7; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        json_t *o = cm2(name, "v", "dropped");
        r.done = 0;
        vk_client_create(e.cl, coll, o, on_res, &r);
        wait_res(&e, &r);
        CHECK_EQ_INT(r.status, 201);
        json_decref(o);
    }
    seen_t s = {0};
    vk_client_informer_t *inf = vk_client_informer_new(e.cl, coll, on_change, on_synced, &s);
    vk_client_informer_set_page_size(inf, 2);
    vk_client_informer_keep(inf, (const char *const[]){"metadata", "data.k", "spec.absent", NULL});
    CHECK_EQ_INT(vk_client_informer_pages(inf), 0); /* the list starts on a later turn */
    for (int i = 0; i < 1000 && !s.synced; i++) uv_run(&e.loop, UV_RUN_ONCE);
    CHECK(s.synced);
    int n = (int)json_object_size(vk_client_informer_items(inf));
    CHECK(n >= 7); /* and kube-root-ca.crt */
    CHECK_EQ_INT(s.added, n);
    CHECK_EQ_INT(vk_client_informer_pages(inf), (n + 1) / 2);
    json_t *p0 = vk_client_informer_get(inf, "default", "p0");
    CHECK(p0 != NULL);
    /* apiVersion, kind, metadata, data: nothing else (no empty spec). */
    CHECK_EQ_INT(count_fields(p0), 4);
    CHECK_EQ_STR(json_string_value(json_object_get(p0, "kind")), "ConfigMap");
    json_t *md = json_object_get(p0, "metadata");
    CHECK(json_object_get(md, "managedFields") == NULL);
    CHECK(json_object_get(md, "resourceVersion") != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(md, "labels"), "app")), "x");
    CHECK_EQ_INT(count_fields(json_object_get(p0, "data")), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(p0, "data"), "k")), "v");
    /* A change through the watch arrives transformed too. */
    char *one = vk_client_path("", "v1", "configmaps", "default", "p3", NULL);
    json_t *patch = json_pack("{s:{s:s,s:s}}", "data", "k", "w", "other", "still dropped");
    r.done = 0;
    vk_client_patch(e.cl, one, "merge", patch, on_res, &r);
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    for (int i = 0; i < 1000 && s.modified < 1; i++) uv_run(&e.loop, UV_RUN_ONCE);
    CHECK_EQ_INT(s.modified, 1);
    CHECK_EQ_STR(s.last, "w");
    json_t *p3 = vk_client_informer_get(inf, "default", "p3");
    CHECK_EQ_INT(count_fields(json_object_get(p3, "data")), 1);
    CHECK(json_object_get(json_object_get(p3, "metadata"), "managedFields") == NULL);
    /* vk_client_keep_fields on its own. */
    json_t *full = cm2("x", "1", "2");
    json_object_set_new(json_object_get(full, "metadata"), "managedFields", json_array());
    json_t *kept = vk_client_keep_fields(full, (const char *const[]){"metadata", NULL});
    CHECK(json_object_get(json_object_get(full, "metadata"), "managedFields") != NULL);
    CHECK(json_object_get(json_object_get(kept, "metadata"), "managedFields") == NULL);
    CHECK(json_object_get(kept, "data") == NULL);
    json_decref(kept);
    json_decref(full);
    /* Paths through arrays stay aligned per element. */
    json_t *pod = json_pack("{s:s,s:{s:[{s:s,s:s,s:[{s:i}]},{s:s,s:s}]}}", "kind", "Pod", "spec",
                            "containers", "name", "a", "image", "i1", "ports", "containerPort", 80,
                            "name", "b", "image", "i2");
    kept = vk_client_keep_fields(pod, (const char *const[]){"spec.containers.name",
                                                           "spec.containers.ports", "status.x",
                                                           NULL});
    json_t *cs = json_object_get(json_object_get(kept, "spec"), "containers");
    CHECK_EQ_INT((int)json_array_size(cs), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cs, 1), "name")), "b");
    CHECK(json_object_get(json_array_get(cs, 1), "image") == NULL);
    CHECK(json_object_get(json_array_get(cs, 1), "ports") == NULL);
    CHECK_EQ_INT((int)json_integer_value(json_object_get(
                     json_array_get(json_object_get(json_array_get(cs, 0), "ports"), 0),
                     "containerPort")),
                 80);
    CHECK(json_object_get(kept, "status") == NULL);
    json_decref(kept);
    json_decref(pod);
    json_decref(patch);
    json_decref(r.obj);
    free(one);
    free(coll);
    env_close(&e);
}

/* vk_client_list: pages of 2 followed through their continue tokens. */
TEST(list_in_pages)
{
    env_t e;
    env_open(&e);
    char *coll = vk_client_path("", "v1", "configmaps", "default", NULL, NULL);
    res_t r = {0};
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        json_t *o = cm(name, "v");
        r.done = 0;
        vk_client_create(e.cl, coll, o, on_res, &r);
        wait_res(&e, &r);
        CHECK_EQ_INT(r.status, 201);
        json_decref(o);
    }
    r.done = 0;
    vk_client_list(e.cl, coll, 0, NULL, on_res, &r); /* no limit: all at once */
    wait_res(&e, &r);
    CHECK_EQ_INT(r.status, 200);
    size_t all = json_array_size(json_object_get(r.obj, "items"));
    CHECK(all >= 5);
    size_t seen = 0;
    int pages = 0;
    char *cont = NULL;
    do {
        r.done = 0;
        vk_client_list(e.cl, coll, 2, cont, on_res, &r);
        wait_res(&e, &r);
        CHECK_EQ_INT(r.status, 200);
        size_t n = json_array_size(json_object_get(r.obj, "items"));
        CHECK(n >= 1 && n <= 2);
        seen += n;
        pages++;
        free(cont);
        const char *c = json_string_value(json_object_get(json_object_get(r.obj, "metadata"), "continue"));
        cont = c && *c ? strdup(c) : NULL;
    } while (cont && r.status == 200 && pages < 10);
    CHECK_EQ_INT(seen, all);
    CHECK_EQ_INT(pages, (int)((all + 1) / 2));
    free(cont);
    json_decref(r.obj);
    free(coll);
    env_close(&e);
}

int main(void)
{
    RUN(create_get_update_conflict_delete);
    RUN(informer_sees_changes);
    RUN(informer_pages_and_keeps_fields);
    RUN(list_in_pages);
    TEST_EXIT();
}
