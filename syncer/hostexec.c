/* hostexec: execution of host actions over httpc, a few at a time (see hostexec.h). */
#include "hostexec.h"

#include "common/err.h"
#include "common/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Host requests in flight at once: a pass with hundreds of creates is not
 * one round trip per pod. */
enum { MAX_INFLIGHT = 8 };

typedef struct rq {
    struct vk_hostexec *x;
    const json_t *action; /* borrowed from the plan */
    vk_httpc_req_t *req;
    int slot;
} rq_t;

struct vk_hostexec {
    vk_httpc_t *c;
    char *ns;
    json_t *plan;
    size_t next;
    int failures;
    uint64_t timeout_ms;
    vk_hostexec_each_cb each;
    vk_hostexec_done_cb done;
    void *data;
    struct rq *rq[MAX_INFLIGHT]; /* requests in flight (NULL: free slot) */
    int inflight;
    int cancelled;
    uv_timer_t kick;      /* defers the first step out of vk_hostexec_run */
};

const char *vk_hostexec_resource(const char *kind)
{
    static const char *const map[][2] = {{"Pod", "pods"},
                                         {"ConfigMap", "configmaps"},
                                         {"Secret", "secrets"},
                                         {"Service", "services"},
                                         {"ServiceAccount", "serviceaccounts"},
                                         {"PersistentVolumeClaim", "persistentvolumeclaims"}};
    for (size_t i = 0; kind && i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i][0], kind) == 0) return map[i][1];
    return NULL;
}

static void kick_closed(uv_handle_t *h)
{
    free(h->data);
}

static void finish(vk_hostexec_t *x)
{
    json_decref(x->plan);
    free(x->ns);
    x->plan = NULL;
    x->done(x->data, x->failures);
    uv_close((uv_handle_t *)&x->kick, kick_closed);
}

static void step(vk_hostexec_t *x);

static int expected(const char *op, int status)
{
    if (status >= 200 && status < 300) return 1;
    if (!strcmp(op, "host-delete") && status == 404) return 1;
    if (!strcmp(op, "host-create") && status == 409) return 1;
    return 0;
}

static void on_resp(int err, const vk_httpc_resp_t *resp, void *data)
{
    rq_t *r = data;
    vk_hostexec_t *x = r->x;
    x->rq[r->slot] = NULL;
    x->inflight--;
    const json_t *a = r->action;
    free(r);
    const char *op = json_string_value(json_object_get(a, "op"));
    int status = err ? err : resp->status;
    if (err || !expected(op, status)) x->failures++;
    if (x->cancelled) return; /* cancel runs done_cb */
    x->each(x->data, a, status, resp ? resp->json : NULL);
    if (x->cancelled) return; /* cancel ran done_cb already */
    step(x);
}

/* 1 if an action on the same object is in flight (a delete must reach the
 * server before the create of the same name that follows it). */
static int busy(const vk_hostexec_t *x, const char *kind, const char *name)
{
    for (int i = 0; i < MAX_INFLIGHT; i++) {
        const json_t *b = x->rq[i] ? x->rq[i]->action : NULL;
        if (!b) continue;
        const char *bk = json_string_value(json_object_get(b, "kind"));
        const char *bn = json_string_value(json_object_get(b, "name"));
        if (bk && bn && !strcmp(bk, kind) && !strcmp(bn, name)) return 1;
    }
    return 0;
}

static void step(vk_hostexec_t *x)
{
    while (x->next < json_array_size(x->plan) && x->inflight < MAX_INFLIGHT) {
        const json_t *a = json_array_get(x->plan, x->next);
        const char *op = json_string_value(json_object_get(a, "op"));
        const char *kind = json_string_value(json_object_get(a, "kind"));
        const char *name = json_string_value(json_object_get(a, "name"));
        if (!op || strncmp(op, "host-", 5) != 0) {
            x->next++;
            x->each(x->data, a, 0, NULL);
            if (x->cancelled) return;
            continue;
        }
        const char *res = vk_hostexec_resource(kind);
        if (!res || !name) {
            x->next++;
            x->failures++;
            x->each(x->data, a, VK_EINVALID, NULL);
            if (x->cancelled) return;
            continue;
        }
        if (busy(x, kind, name)) break; /* in order: after that one's answer */
        x->next++;
        char path[600];
        rq_t *r = vk_xcalloc(1, sizeof *r);
        r->x = x;
        r->action = a;
        vk_httpc_call_t call = {.timeout_ms = x->timeout_ms, .done_cb = on_resp, .data = r};
        json_t *body = NULL;
        if (!strcmp(op, "host-create")) {
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s", x->ns, res);
            call.method = "POST";
            call.body_json = json_object_get(a, "object");
        } else if (!strcmp(op, "host-patch")) {
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", x->ns, res, name);
            call.method = "PATCH";
            call.body_json = json_object_get(a, "patch");
            call.content_type = "application/json-patch+json";
        } else if (!strcmp(op, "host-delete")) {
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/%s/%s", x->ns, res, name);
            call.method = "DELETE";
            body = json_pack("{s:s,s:s}", "apiVersion", "v1", "kind", "DeleteOptions");
            const char *uid = json_string_value(json_object_get(a, "uid"));
            if (uid) json_object_set_new(body, "preconditions", json_pack("{s:s}", "uid", uid));
            json_t *g = json_object_get(a, "gracePeriodSeconds");
            if (json_is_integer(g)) json_object_set(body, "gracePeriodSeconds", g);
            call.body_json = body;
        } else {
            free(r);
            x->failures++;
            x->each(x->data, a, VK_EINVALID, NULL);
            if (x->cancelled) return;
            continue;
        }
        call.path = path;
        int slot = 0;
        while (x->rq[slot]) slot++;
        r->slot = slot;
        x->rq[slot] = r;
        x->inflight++;
        int rc = vk_httpc_send(x->c, &call, &r->req);
        json_decref(body);
        if (rc == 0) continue;
        /* Not sent: the callback never runs. */
        x->rq[slot] = NULL;
        x->inflight--;
        free(r);
        x->failures++;
        x->each(x->data, a, rc, NULL);
        if (x->cancelled) return;
    }
    if (x->next >= json_array_size(x->plan) && x->inflight == 0) finish(x);
}

static void on_kick(uv_timer_t *t)
{
    step(t->data);
}

int vk_hostexec_run(vk_httpc_t *c, const char *ns, json_t *plan, uint64_t timeout_ms,
                    vk_hostexec_each_cb each, vk_hostexec_done_cb done, void *data,
                    vk_hostexec_t **out)
{
    if (out) *out = NULL;
    if (!c || !ns || !json_is_array(plan) || !each || !done) return VK_EINVALID;
    vk_hostexec_t *x = vk_xcalloc(1, sizeof *x);
    x->c = c;
    x->ns = vk_xstrdup(ns);
    x->plan = json_incref(plan);
    x->timeout_ms = timeout_ms ? timeout_ms : 30000;
    x->each = each;
    x->done = done;
    x->data = data;
    uv_timer_init(vk_httpc_loop(c), &x->kick);
    x->kick.data = x;
    uv_timer_start(&x->kick, on_kick, 0, 0);
    if (out) *out = x;
    return 0;
}

void vk_hostexec_cancel(vk_hostexec_t *x)
{
    if (!x || x->cancelled || !x->plan) return;
    x->cancelled = 1;
    uv_timer_stop(&x->kick);
    if (!x->inflight) x->failures++;
    for (int i = 0; i < MAX_INFLIGHT; i++) {
        rq_t *r = x->rq[i];
        if (r) vk_httpc_cancel(r->req); /* on_resp runs (counting the failure), sees cancelled */
    }
    finish(x);
}
