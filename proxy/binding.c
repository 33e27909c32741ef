/* binding: pods/NAME/binding (see binding.h). */
#include "proxy/binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/rest.h"
#include "proxy/status.h"

enum { MAX_RETRIES = 5 };

typedef struct bind_op {
    char *key;        /* /core/pods/NS/NAME */
    char *node;       /* target.name */
    char *uid, *rv;   /* preconditions from the Binding (NULL: none) */
    json_t *annotations; /* Binding metadata.annotations (may be NULL) */
    int tries;
} bind_op_t;

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void op_free(bind_op_t *b)
{
    free(b->key);
    free(b->node);
    free(b->uid);
    free(b->rv);
    json_decref(b->annotations);
    free(b);
}

/* The Conflict upstream answers for a failed assignment (kind pods/binding). */
static void reply_conflict(vk_rest_call_t *c, const char *why)
{
    char m[1024];
    snprintf(m, sizeof m, "Operation cannot be fulfilled on pods/binding \"%s\": %s", c->name, why);
    json_t *st = vk_status_new(409, "Conflict", m, NULL, c->name);
    json_t *d = json_object_get(st, "details");
    if (!d) json_object_set_new(st, "details", d = json_object());
    json_object_set_new(d, "name", json_string(c->name));
    json_object_set_new(d, "kind", json_string("pods/binding"));
    vk_rest_reply_status(c, st);
}

/* PodScheduled=True, as podutil.UpdatePodCondition: the transition time
 * changes only when the status does. */
static void set_scheduled(json_t *pod)
{
    json_t *st = json_object_get(pod, "status");
    if (!json_is_object(st)) json_object_set_new(pod, "status", st = json_object());
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) json_object_set_new(st, "conditions", conds = json_array());
    char now[32];
    vk_rest_now(now, sizeof now);
    size_t i;
    json_t *cd;
    json_array_foreach(conds, i, cd)
    {
        const char *t = sget(cd, "type");
        if (!t || strcmp(t, "PodScheduled")) continue;
        const char *s = sget(cd, "status");
        if (!s || strcmp(s, "True")) json_object_set_new(cd, "lastTransitionTime", json_string(now));
        json_object_set_new(cd, "status", json_string("True"));
        json_object_del(cd, "reason");
        json_object_del(cd, "message");
        return;
    }
    json_array_append_new(conds, json_pack("{s:s,s:s,s:n,s:s}", "type", "PodScheduled", "status",
                                           "True", "lastProbeTime", "lastTransitionTime", now));
}

static void attempt(vk_rest_call_t *c);

static void written(void *arg, int status, const vk_kv_t *kv)
{
    vk_rest_call_t *c = arg;
    bind_op_t *b = c->op;
    (void)kv;
    if (status == VK_ECONFLICT && ++b->tries < MAX_RETRIES) {
        attempt(c);
        return;
    }
    op_free(b);
    c->op = NULL;
    if (status) {
        vk_rest_reply_err(c, status, NULL);
        return;
    }
    json_t *ok = json_pack("{s:s,s:s,s:{},s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Success", "code", 201);
    vk_rest_reply(c, 201, ok);
}

static void attempt(vk_rest_call_t *c)
{
    bind_op_t *b = c->op;
    vk_kv_t *kv = NULL;
    int rc = vk_store_get(c->ctx->store, b->key, &kv);
    if (rc) {
        op_free(b);
        c->op = NULL;
        vk_rest_reply_err(c, rc, NULL);
        return;
    }
    json_t *pod = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    json_t *md = json_object_get(pod, "metadata");
    char why[512] = "";
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%lld", (long long)kv->mod_rev);
    const char *nn = sget(json_object_get(pod, "spec"), "nodeName");
    if (!json_is_object(md)) {
        snprintf(why, sizeof why, "stored pod is not an object");
    } else if (b->uid && (!sget(md, "uid") || strcmp(sget(md, "uid"), b->uid))) {
        snprintf(why, sizeof why, "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                 b->uid, sget(md, "uid") ? sget(md, "uid") : "");
    } else if (b->rv && strcmp(b->rv, rvs)) {
        snprintf(why, sizeof why,
                 "Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in "
                 "object meta: %s", b->rv, rvs);
    } else if (json_object_get(md, "deletionTimestamp")) {
        snprintf(why, sizeof why, "pod %s is being deleted, cannot be assigned to a host", c->name);
    } else if (nn && *nn) {
        snprintf(why, sizeof why, "pod %s is already assigned to node \"%s\"", c->name, nn);
    }
    if (why[0]) {
        json_decref(pod);
        vk_kv_unref(kv);
        op_free(b);
        c->op = NULL;
        reply_conflict(c, why);
        return;
    }
    json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec)) json_object_set_new(pod, "spec", spec = json_object());
    json_object_set_new(spec, "nodeName", json_string(b->node));
    if (json_object_size(b->annotations)) {
        json_t *an = json_object_get(md, "annotations");
        if (!json_is_object(an)) json_object_set_new(md, "annotations", an = json_object());
        json_object_update(an, b->annotations);
    }
    set_scheduled(pod);
    json_object_del(md, "resourceVersion");
    char *data = json_dumps(pod, JSON_COMPACT);
    json_decref(pod);
    int64_t rev = kv->mod_rev;
    vk_kv_unref(kv);
    rc = vk_store_update(c->ctx->store, b->key, data, strlen(data), rev, written, c);
    free(data);
    if (rc) {
        op_free(b);
        c->op = NULL;
        vk_rest_reply_err(c, rc, NULL);
    }
}

void vk_binding_create(vk_rest_call_t *c, json_t *obj)
{
    const char *kind = sget(obj, "kind");
    if (kind && *kind && strcmp(kind, "Binding")) {
        char m[256];
        snprintf(m, sizeof m, "the kind of the provided object (%s) does not match the expected "
                 "kind (Binding)", kind);
        json_decref(obj);
        vk_rest_reply_err(c, VK_EBADREQUEST, m);
        return;
    }
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = sget(md, "name");
    if (!name || strcmp(name, c->name)) {
        json_decref(obj);
        vk_rest_reply_err(c, VK_EBADREQUEST, "name in URL does not match name in Binding object");
        return;
    }
    const char *ns = sget(md, "namespace");
    if (ns && *ns && strcmp(ns, c->ns)) {
        json_decref(obj);
        vk_rest_reply_err(c, VK_EBADREQUEST, "the namespace of the provided object does not match "
                                             "the namespace sent on the request");
        return;
    }
    const json_t *target = json_object_get(obj, "target");
    const char *node = sget(target, "name");
    const char *tkind = sget(target, "kind");
    if (!node || !*node || (tkind && *tkind && strcmp(tkind, "Node"))) {
        json_decref(obj);
        char m[512];
        snprintf(m, sizeof m, "Binding \"%s\" is invalid: %s", c->name,
                 !node || !*node ? "target.name: Required value"
                                 : "target.kind: Invalid value: must be empty or 'Node'");
        json_t *st = vk_status_new(422, "Invalid", m, NULL, c->name);
        json_t *d = json_object_get(st, "details");
        if (!d) json_object_set_new(st, "details", d = json_object());
        json_object_set_new(d, "kind", json_string("Binding"));
        vk_rest_reply_status(c, st);
        return;
    }
    bind_op_t *b = vk_xcalloc(1, sizeof *b);
    b->key = vk_xasprintf("/core/pods/%s/%s", c->ns, c->name);
    b->node = vk_xstrdup(node);
    if (sget(md, "uid") && *sget(md, "uid")) b->uid = vk_xstrdup(sget(md, "uid"));
    if (sget(md, "resourceVersion") && *sget(md, "resourceVersion"))
        b->rv = vk_xstrdup(sget(md, "resourceVersion"));
    const json_t *an = json_object_get(md, "annotations");
    if (json_is_object(an)) b->annotations = json_deep_copy(an);
    json_decref(obj);
    c->op = b;
    attempt(c);
}
