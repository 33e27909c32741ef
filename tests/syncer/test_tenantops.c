/* Tests of syncer/tenantops over a real API layer on a temporary store (no
 * host): list from the informers, status + binding (store CAS) with a uid
 * check, Service ClusterIP, node apply with status, event apply, tokens from
 * tokens.csv (issued once), delete with a uid precondition. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/tenantdir.h"
#include "proxy/apiserver.h"
#include "proxy/client.h"
#include "store/store.h"
#include "proxy/satoken.h"
#include "syncer/tenantops.h"
#include "tests/test.h"

static uv_loop_t loop;
static vk_store_t *store;
static vk_apiserver_t *api;
static vk_client_t *cl;
static vk_tenantops_t *ops;
static vk_tenantdir_t td;
static int ready;
static char dir[64];

static void set_flag(void *arg)
{
    *(int *)arg = 1;
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

static void spin(int *flag)
{
    for (int i = 0; i < 200000 && !*flag; i++) uv_run(&loop, UV_RUN_ONCE);
}

/* Runs the loop a little (writes started by the ops complete). */
static void settle(void)
{
    for (int i = 0; i < 200; i++) uv_run(&loop, UV_RUN_NOWAIT);
    usleep(20000);
    for (int i = 0; i < 200; i++) uv_run(&loop, UV_RUN_NOWAIT);
}

static json_t *get(const char *path, int *status)
{
    res_t r = {0};
    vk_client_get(cl, path, on_res, &r);
    spin(&r.done);
    *status = r.status;
    return r.obj;
}

static json_t *create(const char *coll, const char *yaml_json)
{
    json_t *o = json_loads(yaml_json, 0, NULL);
    res_t r = {0};
    vk_client_create(cl, coll, o, on_res, &r);
    spin(&r.done);
    json_decref(o);
    CHECK_EQ_INT(r.status, 201);
    return r.obj;
}

static size_t list_len(const char *kind)
{
    json_t *a = vk_tenantops_ops()->list(ops, kind);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

TEST(tenantops_end_to_end)
{
    const vk_syncer_tenant_ops_t *o = vk_tenantops_ops();
    CHECK_EQ_INT((int)list_len("Pod"), 0);
    json_t *pod = create("/api/v1/namespaces/default/pods",
                         "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p1\"},"
                         "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
    const char *uid = json_string_value(json_object_get(json_object_get(pod, "metadata"), "uid"));
    json_t *svc = create("/api/v1/namespaces/default/services",
                         "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s1\"},"
                         "\"spec\":{\"ports\":[{\"port\":80}]}}");
    const char *suid = json_string_value(json_object_get(json_object_get(svc, "metadata"), "uid"));
    for (int i = 0; i < 100 && list_len("Pod") != 1; i++) settle();
    CHECK_EQ_INT((int)list_len("Pod"), 1);
    CHECK_EQ_INT((int)list_len("Service"), 1);
    CHECK(o->list(ops, "Nope") == NULL);

    /* status + binding; a wrong uid is refused */
    json_t *st = json_pack("{s:s,s:s}", "phase", "Running", "podIP", "10.1.2.3");
    CHECK_EQ_INT(o->write_status(ops, "default", "p1", "not-the-uid", st, "vm-1"), VK_ENOTFOUND);
    CHECK_EQ_INT(o->write_status(ops, "default", "p1", uid, st, "vm-1"), 0);
    json_decref(st);
    int status;
    json_t *p = NULL;
    for (int i = 0; i < 100; i++) {
        settle();
        json_decref(p);
        p = get("/api/v1/namespaces/default/pods/p1", &status);
        const char *ph = json_string_value(json_object_get(json_object_get(p, "status"), "phase"));
        if (ph && !strcmp(ph, "Running")) break;
    }
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(p, "status"), "phase")), "Running");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(p, "status"), "podIP")), "10.1.2.3");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(p, "spec"), "nodeName")), "vm-1");
    json_decref(p);

    /* Service ClusterIP */
    json_t *ips = json_pack("[s]", "10.0.0.9");
    CHECK_EQ_INT(o->write_service_ip(ops, "default", "s1", "bad-uid", "10.0.0.9", ips), VK_ENOTFOUND);
    CHECK_EQ_INT(o->write_service_ip(ops, "default", "s1", suid, "10.0.0.9", ips), 0);
    json_decref(ips);
    json_t *s = NULL;
    for (int i = 0; i < 100; i++) {
        settle();
        json_decref(s);
        s = get("/api/v1/namespaces/default/services/s1", &status);
        if (json_string_value(json_object_get(json_object_get(s, "spec"), "clusterIP"))) break;
    }
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(s, "spec"), "clusterIP")), "10.0.0.9");
    json_decref(s);

    /* Node with status, then deleted */
    json_t *node = json_loads("{\"metadata\":{\"name\":\"vm-1\",\"labels\":{\"vkube.io/node-pool\":\"acme\"}},"
                              "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
                              0, NULL);
    CHECK_EQ_INT(o->put_node(ops, node), 0);
    json_decref(node);
    json_t *n = NULL;
    for (int i = 0; i < 100; i++) {
        settle();
        json_decref(n);
        n = get("/api/v1/nodes/vm-1", &status);
        if (json_array_size(json_object_get(json_object_get(n, "status"), "conditions"))) break;
    }
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(n, "metadata"), "labels"),
                                                   "vkube.io/node-pool")), "acme");
    CHECK_EQ_INT((int)json_array_size(json_object_get(json_object_get(n, "status"), "conditions")), 1);
    json_decref(n);
    CHECK_EQ_INT(o->delete_node(ops, "vm-1"), 0);
    settle();
    json_decref(get("/api/v1/nodes/vm-1", &status));
    CHECK_EQ_INT(status, 404);

    /* Event */
    json_t *ev = json_loads("{\"metadata\":{\"name\":\"p1.1\",\"namespace\":\"default\"},"
                            "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p1\",\"namespace\":\"default\"},"
                            "\"reason\":\"Scheduled\",\"message\":\"Successfully assigned\",\"type\":\"Normal\"}",
                            0, NULL);
    CHECK_EQ_INT(o->record_event(ops, ev), 0);
    json_decref(ev);
    json_t *e = NULL;
    for (int i = 0; i < 100; i++) {
        settle();
        json_decref(e);
        e = get("/api/v1/namespaces/default/events/p1.1", &status);
        if (status == 200) break;
    }
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(e, "reason")), "Scheduled");
    json_decref(e);

    /* pods/binding: the pod is bound already, a second binding is a 409 */
    json_t *bind = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Binding",
                             "metadata", "name", "p1", "target", "kind", "Node", "name", "vm-2");
    res_t br = {0};
    vk_client_request(cl, "POST", "/api/v1/namespaces/default/pods/p1/binding", NULL, NULL, bind,
                      on_res, &br);
    spin(&br.done);
    CHECK_EQ_INT(br.status, 409);
    CHECK(strstr(json_string_value(json_object_get(br.obj, "message")), "already assigned to node \"vm-1\""));
    json_decref(br.obj);
    json_decref(bind);

    /* Tokens: a JWT of the pod's service account bound to the pod, that the
     * API server accepts (TokenReview); none for a missing service account. */
    char *t1 = NULL;
    int64_t iat = 0, exp = 0;
    CHECK_EQ_INT(o->token(ops, "default", "nobody", "p1", uid, 600, &t1, &iat, &exp), VK_ENOTFOUND);
    CHECK_EQ_INT(o->token(ops, "default", "default", "p1", uid, 600, &t1, &iat, &exp), 0);
    CHECK(t1 && strncmp(t1, "eyJ", 3) == 0 && strchr(t1, '.'));
    CHECK_EQ_INT((int)(exp - iat), 600);
    json_t *tr = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
                           "TokenReview", "spec", "token", t1 ? t1 : "");
    res_t rr = {0};
    vk_client_create(cl, "/apis/authentication.k8s.io/v1/tokenreviews", tr, on_res, &rr);
    spin(&rr.done);
    json_t *rst = json_object_get(rr.obj, "status");
    CHECK(json_is_true(json_object_get(rst, "authenticated")));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(rst, "user"), "username")),
                 "system:serviceaccount:default:default");
    vk_satoken_t *v = NULL;
    CHECK_EQ_INT(vk_satoken_new(td.sa_key, NULL, &v), 0);
    vk_pool_t *pool = vk_pool_new();
    vk_satoken_claims_t cls = {0};
    char verr[256];
    CHECK_EQ_INT(vk_satoken_verify(v, t1, NULL, iat + 1, pool, &cls, verr, sizeof verr), 0);
    CHECK_EQ_STR(cls.pod_name, "p1");
    CHECK_EQ_STR(cls.pod_uid, uid);
    CHECK_EQ_STR(cls.sa_name, "default");
    CHECK_EQ_INT((int)(cls.exp - cls.iat), 600);
    /* Expired once its lifetime (and the 60 s leeway) is over. */
    CHECK_EQ_INT(vk_satoken_verify(v, t1, NULL, exp + 61, pool, &cls, verr, sizeof verr), VK_EUNAUTHORIZED);
    vk_pool_free(pool);
    vk_satoken_free(v);
    json_decref(rr.obj);
    json_decref(tr);

    /* Delete: wrong uid refused by the precondition, right uid deletes */
    CHECK_EQ_INT(o->delete_pod(ops, "default", "p1", "bad-uid"), 0);
    settle();
    json_decref(get("/api/v1/namespaces/default/pods/p1", &status));
    CHECK_EQ_INT(status, 200);
    CHECK_EQ_INT(o->delete_pod(ops, "default", "p1", uid), 0);
    for (int i = 0; i < 100 && status != 404; i++) {
        settle();
        json_decref(get("/api/v1/namespaces/default/pods/p1", &status));
    }
    CHECK_EQ_INT(status, 404);
    /* The token bound to the deleted pod is refused from now on. */
    tr = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "authentication.k8s.io/v1", "kind",
                   "TokenReview", "spec", "token", t1 ? t1 : "");
    rr = (res_t){0};
    vk_client_create(cl, "/apis/authentication.k8s.io/v1/tokenreviews", tr, on_res, &rr);
    spin(&rr.done);
    CHECK(!json_is_true(json_object_get(json_object_get(rr.obj, "status"), "authenticated")));
    json_decref(rr.obj);
    json_decref(tr);
    free(t1);
    json_decref(pod), json_decref(svc);
}

int main(void)
{
    strcpy(dir, "/tmp/vk-tops-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    vk_tenantdir_paths(dir, "t", &td);
    char err[512];
    CHECK_EQ_INT(vk_tenantdir_create(&td, NULL, NULL, err, sizeof err), 0);
    uv_loop_init(&loop);
    CHECK_EQ_INT(vk_store_open(&loop, td.store_db, NULL, &store), 0);
    vk_apiserver_config_t ac = {.tenant = "t", .external_address = "127.0.0.1:1",
                                .sa_key_file = td.sa_key};
    CHECK_EQ_INT(vk_apiserver_new(&loop, store, &ac, &api), 0);
    for (int i = 0; i < 100000 && !vk_apiserver_ready(api); i++) uv_run(&loop, UV_RUN_ONCE);
    static const char *const groups[] = {"system:masters", NULL};
    cl = vk_client_new(&loop, vk_apiserver_handle, api, "test", groups);
    ops = vk_tenantops_new(&loop, vk_apiserver_handle, api, store, &td, set_flag, &ready);
    spin(&ready);
    CHECK(ready);
    RUN(tenantops_end_to_end);
    int closed = 0, cdone = 0;
    vk_tenantops_close(ops, set_flag, &closed);
    vk_client_close(cl, set_flag, &cdone);
    spin(&closed);
    spin(&cdone);
    vk_apiserver_free(api);
    vk_store_close(store, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    vk_tenantdir_free(&td);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    TEST_EXIT();
}
