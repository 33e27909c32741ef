/* proxy/crdserve over a real store: a stored CRD gets its status written and
 * its rows served; custom writes are pruned, defaulted, validated; tables and
 * scale use the CRD; deleting the CRD deletes its objects and rows; a
 * restarted server loads the CRDs it finds. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/crdserve.h"
#include "proxy/resources.h"
#include "tests/store/util.h"
#include "tests/test.h"

#define CRD_KEY "/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com"

static const char *crd_json =
    "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
    "\"metadata\":{\"name\":\"widgets.example.com\"},"
    "\"spec\":{\"group\":\"example.com\",\"scope\":\"Namespaced\","
    "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\","
    "\"listKind\":\"WidgetList\",\"shortNames\":[\"wd\"]},"
    "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
    "\"subresources\":{\"status\":{},\"scale\":{\"specReplicasPath\":\".spec.replicas\","
    "\"statusReplicasPath\":\".status.replicas\"}},"
    "\"additionalPrinterColumns\":[{\"name\":\"Size\",\"type\":\"integer\","
    "\"jsonPath\":\".spec.size\"}],"
    "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
    "\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"size\":{\"type\":\"integer\",\"minimum\":1,\"default\":3},"
    "\"replicas\":{\"type\":\"integer\"}}},"
    "\"status\":{\"type\":\"object\",\"properties\":{\"replicas\":{\"type\":\"integer\"}}}}}}}]}}";

static int run_cond(env_t *e, int (*cond)(void *), void *arg)
{
    for (int i = 0; i < 200; i++) {
        if (cond(arg)) return 1;
        run_for(&e->loop, 10);
    }
    return cond(arg);
}

typedef struct ctx {
    env_t *e;
    vk_resources_t *t;
    vk_crdserve_t *s;
} ctx_t;

static int served(void *arg)
{
    ctx_t *c = arg;
    return vk_resources_find(c->t, "example.com", "v1", "widgets") != NULL;
}

static int not_served(void *arg)
{
    return !served(arg);
}

static int crd_gone(void *arg)
{
    ctx_t *c = arg;
    vk_kv_t *kv;
    if (vk_store_get(c->e->s, CRD_KEY, &kv) == VK_ENOTFOUND) return 1;
    vk_kv_unref(kv);
    return 0;
}

static int status_written(void *arg)
{
    ctx_t *c = arg;
    vk_kv_t *kv;
    if (vk_store_get(c->e->s, CRD_KEY, &kv)) return 0;
    int ok = strstr((const char *)kv->val, "\"Established\"") != NULL;
    vk_kv_unref(kv);
    return ok;
}

/* Stores the CRD the way the REST layer would after vk_crdserve_admit_crd. */
static int create_crd(ctx_t *c, const vk_resource_t *crd_row)
{
    json_t *crd = json_loads(crd_json, 0, NULL);
    json_t *w = NULL, *st = NULL;
    int rc = vk_crdserve_admit_crd(c->s, crd_row, crd, NULL, &w, &st);
    json_decref(w);
    json_decref(st);
    if (rc) {
        json_decref(crd);
        return rc;
    }
    char *data = json_dumps(crd, JSON_COMPACT);
    json_decref(crd);
    rc = put_new(c->e, CRD_KEY, data, NULL);
    free(data);
    return rc;
}

TEST(lifecycle)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    ctx_t c = {&e, vk_resources_new(), NULL};
    CHECK_EQ_INT(vk_crdserve_new(e.s, c.t, &c.s), 0);
    const vk_resource_t *crd_row = vk_resources_find(c.t, "apiextensions.k8s.io", "v1",
                                                     "customresourcedefinitions");
    CHECK(crd_row != NULL);
    unsigned gen0 = vk_crdserve_generation(c.s);

    /* An invalid CRD is refused with causes. */
    json_t *bad = json_loads(crd_json, 0, NULL);
    json_object_set_new(json_object_get(bad, "spec"), "scope", json_string("Galaxy"));
    json_t *w = NULL, *st = NULL;
    CHECK_EQ_INT(vk_crdserve_admit_crd(c.s, crd_row, bad, NULL, &w, &st), -1);
    CHECK(st && json_integer_value(json_object_get(st, "code")) == 422);
    CHECK(json_array_size(json_object_get(json_object_get(st, "details"), "causes")) > 0);
    json_decref(st);
    json_decref(bad);

    CHECK_EQ_INT(create_crd(&c, crd_row), 0);
    CHECK(run_cond(&e, served, &c));
    CHECK(run_cond(&e, status_written, &c));
    CHECK(vk_crdserve_generation(c.s) != gen0);
    const vk_resource_t *row = vk_resources_find(c.t, "example.com", "v1", "widgets");
    CHECK(row && (row->flags & VK_RES_CUSTOM) && (row->flags & VK_RES_STATUS) &&
          (row->flags & VK_RES_SCALE) && !strcmp(row->short_names, "wd"));
    if (!row) goto out;
    CHECK(vk_crdserve_find(c.s, row) != NULL);
    vk_kv_t *kv;
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    CHECK(strstr((const char *)kv->val, "customresourcecleanup.apiextensions.k8s.io") != NULL);
    vk_kv_unref(kv);

    /* Writes: unknown fields pruned (warned), defaults, validation, strict. */
    json_t *obj = json_loads("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                             "\"metadata\":{\"name\":\"a\",\"namespace\":\"default\"},"
                             "\"spec\":{\"bogus\":1},\"status\":{\"replicas\":5}}",
                             0, NULL);
    CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, NULL, obj, NULL, &w, &st), 0);
    CHECK(json_array_size(w) == 1 &&
          !strcmp(json_string_value(json_array_get(w, 0)), "unknown field \"spec.bogus\""));
    json_decref(w);
    CHECK(json_object_get(json_object_get(obj, "spec"), "bogus") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(obj, "spec"), "size")), 3);
    CHECK(json_object_get(obj, "status") == NULL); /* status subresource: none on create */

    json_t *o2 = json_deep_copy(obj);
    json_object_set_new(json_object_get(o2, "spec"), "size", json_integer(0));
    CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, NULL, o2, NULL, &w, &st), -1);
    CHECK(st && json_integer_value(json_object_get(st, "code")) == 422);
    json_t *cause = json_array_get(json_object_get(json_object_get(st, "details"), "causes"), 0);
    CHECK(cause && !strcmp(json_string_value(json_object_get(cause, "field")), "spec.size"));
    json_decref(st);
    json_decref(w);
    json_decref(o2);

    o2 = json_deep_copy(obj);
    json_object_set_new(json_object_get(o2, "spec"), "extra", json_true());
    CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, "Strict", o2, NULL, &w, &st), -1);
    CHECK(st && json_integer_value(json_object_get(st, "code")) == 400);
    CHECK(st && strstr(json_string_value(json_object_get(st, "message")),
                       "unknown field \"spec.extra\""));
    json_decref(st);
    json_decref(w);
    json_decref(o2);

    /* Table columns from the printer columns. */
    json_t *t = vk_crdserve_table_new(c.s, row);
    vk_crdserve_table_add(c.s, t, row, obj, 1);
    json_t *cols = json_object_get(t, "columnDefinitions");
    CHECK(json_array_size(cols) >= 2 &&
          !strcmp(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "Size"));
    json_t *cells = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
    CHECK(json_integer_value(json_array_get(cells, 1)) == 3);
    json_decref(t);

    /* Scale. */
    json_object_set_new(json_object_get(obj, "spec"), "replicas", json_integer(2));
    json_t *sc = vk_crdserve_scale_get(c.s, row, obj);
    CHECK(sc && json_integer_value(json_object_get(json_object_get(sc, "spec"), "replicas")) == 2);
    json_object_set_new(json_object_get(sc, "spec"), "replicas", json_integer(7));
    CHECK_EQ_INT(vk_crdserve_scale_set(c.s, row, obj, sc, &st), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")), 7);
    json_object_set_new(json_object_get(sc, "spec"), "replicas", json_integer(-1));
    CHECK_EQ_INT(vk_crdserve_scale_set(c.s, row, obj, sc, &st), -1);
    CHECK(st && json_integer_value(json_object_get(st, "code")) == 422);
    json_decref(st);
    json_decref(sc);

    /* Built-in rows fall through. */
    const vk_resource_t *cm = vk_resources_find(c.t, "", "v1", "configmaps");
    CHECK(vk_crdserve_find(c.s, cm) == NULL);
    CHECK(vk_crdserve_scale_get(c.s, cm, obj) == NULL);

    /* Store the object, then delete the CRD (finalizer: Terminating). */
    char *data = json_dumps(obj, JSON_COMPACT);
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/default/a", data, NULL), 0);
    free(data);
    json_decref(obj);
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    json_t *crd = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    int64_t rev = kv->mod_rev;
    vk_kv_unref(kv);
    json_object_set_new(json_object_get(crd, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    data = json_dumps(crd, JSON_COMPACT);
    json_decref(crd);
    CHECK_EQ_INT(put(&e, CRD_KEY, data, rev, NULL), 0);
    free(data);
    CHECK(run_cond(&e, crd_gone, &c));
    CHECK(run_cond(&e, not_served, &c));
    CHECK_EQ_INT(vk_store_get(e.s, "/example.com/widgets/default/a", &kv), VK_ENOTFOUND);

    /* A new server finds stored CRDs. */
    CHECK_EQ_INT(create_crd(&c, crd_row), 0);
    CHECK(run_cond(&e, status_written, &c));
    vk_crdserve_free(c.s);
    vk_resources_free(c.t);
    c.t = vk_resources_new();
    CHECK_EQ_INT(vk_crdserve_new(e.s, c.t, &c.s), 0);
    CHECK(served(&c));
out:
    vk_crdserve_free(c.s);
    CHECK(env_close_store(&e));
    vk_resources_free(c.t);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}


/* Events of the whole store, summed up: "<ev> <key-tail> <marks>" per event. */
typedef struct seen {
    char log[64][160];
    int n;
} seen_t;

static int record(void *arg, const vk_event_t *ev)
{
    seen_t *sn = arg;
    if (sn->n >= 64) return 0;
    const char *k = strrchr(ev->kv->key, '/');
    char val[4096];
    size_t n = ev->kv->len < sizeof val - 1 ? ev->kv->len : sizeof val - 1;
    memcpy(val, ev->kv->val, n);
    val[n] = 0;
    snprintf(sn->log[sn->n++], sizeof sn->log[0], "%s %s%s%s%s",
             ev->type == VK_EVENT_DELETED ? "DELETED" : "PUT", k ? k + 1 : "",
             strstr(val, "InstanceDeletionInProgress") ? " in-progress" : "",
             strstr(val, "InstanceDeletionCompleted") ? " completed" : "",
             strstr(val, "customresourcecleanup") ? " cleanup-finalizer" : "");
    return 0;
}

static void record_end(void *arg, int reason)
{
    (void)arg;
    (void)reason;
}

static int find_line(const seen_t *sn, const char *line)
{
    for (int i = 0; i < sn->n; i++)
        if (!strcmp(sn->log[i], line)) return i;
    return -1;
}

static int completed(void *arg)
{
    ctx_t *c = arg;
    vk_kv_t *kv;
    if (vk_store_get(c->e->s, CRD_KEY, &kv)) return 0;
    int ok = strstr((const char *)kv->val, "InstanceDeletionCompleted") != NULL;
    vk_kv_unref(kv);
    return ok;
}

/* Deleting a CRD that another finalizer holds, as upstream: Terminating=True
 * (InstanceDeletionInProgress) is written first, then its objects go, then
 * Terminating=False (InstanceDeletionCompleted) without the cleanup finalizer;
 * the resource stays served while the CRD exists. A server started while a
 * CRD is Terminating refuses creates with 403 and finishes the cleanup. */
TEST(termination)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    ctx_t c = {&e, vk_resources_new(), NULL};
    CHECK_EQ_INT(vk_crdserve_new(e.s, c.t, &c.s), 0);
    const vk_resource_t *crd_row = vk_resources_find(c.t, "apiextensions.k8s.io", "v1",
                                                     "customresourcedefinitions");
    CHECK_EQ_INT(create_crd(&c, crd_row), 0);
    CHECK(run_cond(&e, served, &c));
    CHECK(run_cond(&e, status_written, &c));
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/default/a", "{\"metadata\":{\"name\":\"a\"}}",
                         NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/other/b", "{\"metadata\":{\"name\":\"b\"}}",
                         NULL), 0);
    seen_t *sn = vk_xcalloc(1, sizeof *sn);
    vk_store_watch_t *sw = NULL;
    CHECK_EQ_INT(vk_store_watch(e.s, "/", vk_store_revision(e.s), record, record_end, sn, &sw),
                 0);

    vk_kv_t *kv;
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    json_t *crd = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    int64_t rev = kv->mod_rev;
    vk_kv_unref(kv);
    json_t *md = json_object_get(crd, "metadata");
    json_object_set_new(md, "deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
    json_array_append_new(json_object_get(md, "finalizers"), json_string("example.com/hold"));
    char *data = json_dumps(crd, JSON_COMPACT);
    json_decref(crd);
    CHECK_EQ_INT(put(&e, CRD_KEY, data, rev, NULL), 0);
    free(data);
    CHECK(run_cond(&e, completed, &c));
    run_for(&e.loop, 50);
    if (sn->n != 5)
        for (int i = 0; i < sn->n; i++) fprintf(stderr, "  event %d: %s\n", i, sn->log[i]);
    /* The user's delete, Terminating=True, both objects, then done. */
    int marked = find_line(sn, "PUT widgets.example.com cleanup-finalizer");
    int progress = find_line(sn, "PUT widgets.example.com in-progress cleanup-finalizer");
    int del_a = find_line(sn, "DELETED a"), del_b = find_line(sn, "DELETED b");
    int done = find_line(sn, "PUT widgets.example.com completed");
    CHECK(marked == 0);
    CHECK(progress > marked);
    CHECK(del_a > progress && del_b > progress);
    CHECK(done > del_a && done > del_b);
    CHECK_EQ_INT(sn->n, 5);
    CHECK_EQ_INT(vk_store_get(e.s, "/example.com/widgets/default/a", &kv), VK_ENOTFOUND);
    CHECK(served(&c)); /* the CRD still exists (example.com/hold) */
    const vk_resource_t *row = vk_resources_find(c.t, "example.com", "v1", "widgets");
    json_t *obj = json_loads("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                             "\"metadata\":{\"name\":\"n\",\"namespace\":\"default\"}}", 0, NULL);
    json_t *w = NULL, *st = NULL;
    /* Cleanup done: creates work again (upstream checks Terminating=True). */
    CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, NULL, obj, NULL, &w, &st), 0);
    json_decref(w);
    json_decref(st);
    vk_store_watch_cancel(sw);
    free(sn);

    /* A CRD stored as Terminating=True (a server stopped mid-cleanup). */
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    crd = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    rev = kv->mod_rev;
    vk_kv_unref(kv);
    json_t *conds = json_object_get(json_object_get(crd, "status"), "conditions");
    size_t i;
    json_t *v;
    json_array_foreach(conds, i, v) if (!strcmp(json_string_value(json_object_get(v, "type")),
                                               "Terminating"))
    {
        json_object_set_new(v, "status", json_string("True"));
        json_object_set_new(v, "reason", json_string("InstanceDeletionInProgress"));
    }
    json_array_append_new(json_object_get(json_object_get(crd, "metadata"), "finalizers"),
                          json_string("customresourcecleanup.apiextensions.k8s.io"));
    data = json_dumps(crd, JSON_COMPACT);
    json_decref(crd);
    vk_crdserve_free(c.s);
    vk_resources_free(c.t);
    c.t = vk_resources_new();
    c.s = NULL;
    CHECK_EQ_INT(put(&e, CRD_KEY, data, rev, NULL), 0);
    free(data);
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/default/c", "{\"metadata\":{\"name\":\"c\"}}",
                         NULL), 0);
    CHECK_EQ_INT(vk_crdserve_new(e.s, c.t, &c.s), 0);
    CHECK(served(&c)); /* established before: served while it terminates */
    row = vk_resources_find(c.t, "example.com", "v1", "widgets");
    CHECK(row != NULL);
    if (row) {
        CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, NULL, obj, NULL, &w, &st), -1);
        CHECK(st && json_integer_value(json_object_get(st, "code")) == 403);
        CHECK(st && !strcmp(json_string_value(json_object_get(st, "message")),
                            "widgets.example.com \"n\" is forbidden: create not allowed while "
                            "custom resource definition is terminating"));
        json_decref(w);
        json_decref(st);
    }
    CHECK(run_cond(&e, completed, &c));
    run_for(&e.loop, 50);
    CHECK_EQ_INT(vk_store_get(e.s, "/example.com/widgets/default/c", &kv), VK_ENOTFOUND);
    /* The other finalizer goes: so do the CRD and its rows. */
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    rev = kv->mod_rev;
    vk_kv_unref(kv);
    CHECK_EQ_INT(del(&e, CRD_KEY, rev, NULL), 0);
    CHECK(run_cond(&e, not_served, &c));
    json_decref(obj);
    vk_crdserve_free(c.s);
    CHECK(env_close_store(&e));
    vk_resources_free(c.t);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

static int held_marked(void *arg)
{
    ctx_t *c = arg;
    vk_kv_t *kv;
    if (vk_store_get(c->e->s, "/example.com/widgets/default/h", &kv)) return 0;
    int ok = strstr((const char *)kv->val, "deletionTimestamp") != NULL;
    vk_kv_unref(kv);
    return ok;
}

/* An object with a finalizer of its own holds the cleanup, as upstream: it
 * gets a deletionTimestamp, the CRD stays Terminating=True (creates 403)
 * until the object is gone, then the CRD goes. */
TEST(held_objects)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    ctx_t c = {&e, vk_resources_new(), NULL};
    CHECK_EQ_INT(vk_crdserve_new(e.s, c.t, &c.s), 0);
    const vk_resource_t *crd_row = vk_resources_find(c.t, "apiextensions.k8s.io", "v1",
                                                     "customresourcedefinitions");
    CHECK_EQ_INT(create_crd(&c, crd_row), 0);
    CHECK(run_cond(&e, served, &c));
    CHECK(run_cond(&e, status_written, &c));
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/default/h",
                         "{\"metadata\":{\"name\":\"h\",\"finalizers\":[\"example.com/keep\"]}}",
                         NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/example.com/widgets/default/a", "{\"metadata\":{\"name\":\"a\"}}",
                         NULL), 0);
    vk_kv_t *kv;
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    json_t *crd = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    int64_t rev = kv->mod_rev;
    vk_kv_unref(kv);
    json_object_set_new(json_object_get(crd, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    char *data = json_dumps(crd, JSON_COMPACT);
    json_decref(crd);
    CHECK_EQ_INT(put(&e, CRD_KEY, data, rev, NULL), 0);
    free(data);
    CHECK(run_cond(&e, held_marked, &c));
    run_for(&e.loop, 100);
    CHECK_EQ_INT(vk_store_get(e.s, "/example.com/widgets/default/a", &kv), VK_ENOTFOUND);
    CHECK_EQ_INT(vk_store_get(e.s, CRD_KEY, &kv), 0);
    CHECK(strstr((const char *)kv->val, "InstanceDeletionInProgress") != NULL);
    vk_kv_unref(kv);
    const vk_resource_t *row = vk_resources_find(c.t, "example.com", "v1", "widgets");
    CHECK(row != NULL);
    if (row) {
        json_t *obj = json_loads("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\","
                                 "\"metadata\":{\"name\":\"n\",\"namespace\":\"default\"}}", 0,
                                 NULL);
        json_t *w = NULL, *st = NULL;
        CHECK_EQ_INT(vk_crdserve_write(c.s, row, NULL, NULL, obj, NULL, &w, &st), -1);
        CHECK(st && json_integer_value(json_object_get(st, "code")) == 403);
        json_decref(w);
        json_decref(st);
        json_decref(obj);
    }
    /* Its controller lets go of the object: the cleanup ends, the CRD goes. */
    CHECK_EQ_INT(del(&e, "/example.com/widgets/default/h", 0, NULL), 0);
    CHECK(run_cond(&e, crd_gone, &c));
    CHECK(run_cond(&e, not_served, &c));
    vk_crdserve_free(c.s);
    CHECK(env_close_store(&e));
    vk_resources_free(c.t);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

int main(void)
{
    RUN(lifecycle);
    RUN(termination);
    RUN(held_objects);
    TEST_EXIT();
}
