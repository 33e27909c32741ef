/* tenantops: the syncer's tenant side over the in-process API client. See
 * tenantops.h. */
#include "syncer/tenantops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/client.h"
#include "proxy/satoken.h"

enum { K_PODS, K_CMS, K_SECRETS, K_SVCS, K_PVCS, K_COUNT };
static const char *const KIND_NAMES[K_COUNT] = {"Pod", "ConfigMap", "Secret", "Service",
                                                "PersistentVolumeClaim"};
static const char *const PLURALS[K_COUNT] = {"pods", "configmaps", "secrets", "services",
                                             "persistentvolumeclaims"};

struct vk_tenantops {
    uv_loop_t *loop;
    vk_client_t *client;
    vk_client_informer_t *inf[K_COUNT];
    vk_store_t *store;           /* borrowed */
    const vk_tenantdir_t *dir;   /* borrowed */
    vk_syncer_t *syncer;         /* borrowed; may be NULL */
    vk_satoken_t *signer;        /* owned; NULL when the tenant has no sa.key */
    void (*on_ready)(void *arg);
    void *ready_arg;
    int ready, closing;
    int store_pending;           /* store writes in flight */
    int client_closed;
    void (*done_cb)(void *arg);
    void *done_arg;
};

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *meta(const json_t *o, const char *k)
{
    return sget(json_object_get(o, "metadata"), k);
}

/* ---------------------------------------------------------------- informers */

static void on_change(void *arg, int type, json_t *obj)
{
    vk_tenantops_t *o = arg;
    if (o->syncer && !o->closing) vk_syncer_notify(o->syncer);
}

static void on_synced(void *arg)
{
    vk_tenantops_t *o = arg;
    if (o->ready || o->closing) return;
    for (int i = 0; i < K_COUNT; i++)
        if (!vk_client_informer_synced(o->inf[i])) return;
    o->ready = 1;
    if (o->on_ready) o->on_ready(o->ready_arg);
}

vk_tenantops_t *vk_tenantops_new(uv_loop_t *loop, vk_http_handler_cb handler, void *api_ctx,
                                 vk_store_t *store, const vk_tenantdir_t *t,
                                 void (*on_ready)(void *arg), void *arg)
{
    vk_tenantops_t *o = vk_xcalloc(1, sizeof *o);
    o->loop = loop;
    o->store = store;
    o->dir = t;
    o->on_ready = on_ready;
    if (t && t->sa_key && vk_satoken_new(t->sa_key, NULL, &o->signer))
        vk_log_warn("syncer: cannot load the service-account key %s: pods get no token", t->sa_key);
    o->ready_arg = arg;
    static const char *const groups[] = {"system:masters", NULL};
    o->client = vk_client_new(loop, handler, api_ctx, "system:vkube-syncer", groups);
    for (int i = 0; i < K_COUNT; i++) {
        char *path = vk_client_path("", "v1", PLURALS[i], NULL, NULL, NULL);
        o->inf[i] = vk_client_informer_new(o->client, path, on_change, on_synced, o);
        free(path);
    }
    return o;
}

void vk_tenantops_set_syncer(vk_tenantops_t *o, vk_syncer_t *s)
{
    o->syncer = s;
}

static void maybe_free(vk_tenantops_t *o)
{
    if (!o->closing || !o->client_closed || o->store_pending) return;
    void (*cb)(void *) = o->done_cb;
    void *arg = o->done_arg;
    vk_satoken_free(o->signer);
    free(o);
    if (cb) cb(arg);
}

static void on_client_closed(void *arg)
{
    vk_tenantops_t *o = arg;
    o->client_closed = 1;
    maybe_free(o);
}

void vk_tenantops_close(vk_tenantops_t *o, void (*done_cb)(void *arg), void *arg)
{
    o->closing = 1;
    o->syncer = NULL;
    o->done_cb = done_cb;
    o->done_arg = arg;
    vk_client_close(o->client, on_client_closed, o);
}

/* ---------------------------------------------------------------- requests */

typedef struct req {
    vk_tenantops_t *o;
    char what[160];
} req_t;

static void log_result(void *arg, int status, json_t *obj)
{
    req_t *r = arg;
    if (status >= 300 && status != 404 && status != 409)
        vk_log_warn("syncer: tenant %s: HTTP %d %s", r->what, status,
                    json_string_value(json_object_get(obj, "message"))
                        ? json_string_value(json_object_get(obj, "message"))
                        : "");
    free(r);
}

static req_t *req_new(vk_tenantops_t *o, const char *fmt, const char *a, const char *b)
{
    req_t *r = vk_xcalloc(1, sizeof *r);
    r->o = o;
    snprintf(r->what, sizeof r->what, fmt, a, b ? b : "");
    return r;
}

/* Server-side apply of obj (borrowed) at path. */
static void apply(vk_tenantops_t *o, const char *path, json_t *obj, vk_client_cb cb, void *arg)
{
    vk_client_request(o->client, "PATCH", path, "fieldManager=vkube-syncer&force=true",
                      "application/apply-patch+yaml", obj, cb, arg);
}

/* ---------------------------------------------------------------- store CAS */

/* Changes an object in the store if it still has uid: mutate(obj, arg) edits
 * the stored JSON. then(o, status, then_arg) runs when the write is done
 * (status 0, or a negative error); may be NULL. */
typedef void (*mutate_fn)(json_t *obj, const void *arg);
typedef void (*then_fn)(vk_tenantops_t *o, int status, void *then_arg);

typedef struct cas {
    vk_tenantops_t *o;
    then_fn then;
    void *then_arg;
} cas_t;

static void cas_done(void *arg, int status, const vk_kv_t *kv)
{
    cas_t *c = arg;
    vk_tenantops_t *o = c->o;
    o->store_pending--;
    if (c->then) c->then(o, status, c->then_arg);
    free(c);
    maybe_free(o);
}

static int store_mutate(vk_tenantops_t *o, const char *key, const char *uid, mutate_fn mutate,
                        const void *arg, then_fn then, void *then_arg)
{
    vk_kv_t *kv = NULL;
    int rc = vk_store_get(o->store, key, &kv);
    if (rc) return rc;
    json_t *obj = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    const char *have = obj ? meta(obj, "uid") : NULL;
    if (!have || strcmp(have, uid)) {
        json_decref(obj);
        vk_kv_unref(kv);
        return VK_ENOTFOUND;
    }
    mutate(obj, arg);
    json_object_del(json_object_get(obj, "metadata"), "resourceVersion");
    char *data = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    cas_t *c = vk_xcalloc(1, sizeof *c);
    c->o = o;
    c->then = then;
    c->then_arg = then_arg;
    rc = vk_store_update(o->store, key, data, strlen(data), kv->mod_rev, cas_done, c);
    free(data);
    vk_kv_unref(kv);
    if (rc) {
        free(c);
        return rc;
    }
    o->store_pending++;
    return 0;
}

/* ---------------------------------------------------------------- the ops */

static json_t *op_list(void *ctx, const char *kind)
{
    vk_tenantops_t *o = ctx;
    for (int i = 0; i < K_COUNT; i++) {
        if (strcmp(kind, KIND_NAMES[i])) continue;
        if (!vk_client_informer_synced(o->inf[i])) return NULL;
        json_t *out = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(vk_client_informer_items(o->inf[i]), k, v)
        {
            json_t *c = json_deep_copy(v);
            if (!json_object_get(c, "kind")) json_object_set_new(c, "kind", json_string(kind));
            if (!json_object_get(c, "apiVersion")) json_object_set_new(c, "apiVersion", json_string("v1"));
            json_array_append_new(out, c);
        }
        return out;
    }
    return NULL;
}

/* The cached tenant pod ns/name if it has uid (borrowed), else NULL. */
static json_t *cached_pod(vk_tenantops_t *o, const char *ns, const char *name, const char *uid)
{
    json_t *p = vk_client_informer_get(o->inf[K_PODS], ns, name);
    const char *have = p ? meta(p, "uid") : NULL;
    return have && uid && !strcmp(have, uid) ? p : NULL;
}

typedef struct status_put {
    vk_tenantops_t *o;
    char *path;
    json_t *body;
} status_put_t;

static void put_status_now(vk_tenantops_t *o, status_put_t *sp)
{
    vk_client_update(o->client, sp->path, sp->body,
                     log_result, req_new(o, "status of pod %s%s", sp->path, NULL));
    free(sp->path);
    json_decref(sp->body);
    free(sp);
}

static void after_bind(void *arg, int status, json_t *obj)
{
    status_put_t *sp = arg;
    vk_tenantops_t *o = sp->o;
    /* 409: bound meanwhile (or the uid changed); the status write checks again. */
    if (status >= 300 && status != 409)
        vk_log_warn("syncer: binding for %s: HTTP %d %s", sp->path, status,
                    sget(obj, "message") ? sget(obj, "message") : "");
    if (o->closing || status == 0) {
        free(sp->path);
        json_decref(sp->body);
        free(sp);
        return;
    }
    put_status_now(o, sp);
}

static int op_write_status(void *ctx, const char *ns, const char *name, const char *uid,
                           const json_t *status, const char *node_name)
{
    vk_tenantops_t *o = ctx;
    json_t *p = cached_pod(o, ns, name, uid);
    if (!p) return VK_ENOTFOUND;
    status_put_t *sp = vk_xcalloc(1, sizeof *sp);
    sp->o = o;
    sp->path = vk_client_path("", "v1", "pods", ns, name, "status");
    sp->body = json_deep_copy(p);
    json_object_set_new(sp->body, "status", json_deep_copy(status));
    /* Unconditional (no resourceVersion): the uid was checked on the cache and
     * the syncer rewrites a status that a racing write lost. */
    json_object_del(json_object_get(sp->body, "metadata"), "resourceVersion");
    const char *cur = sget(json_object_get(p, "spec"), "nodeName");
    if (node_name && (!cur || !*cur)) {
        /* spec.nodeName is immutable through updates: POST pods/NAME/binding
         * (with the uid as precondition), as a scheduler does, then the status. */
        char *bpath = vk_client_path("", "v1", "pods", ns, name, "binding");
        json_t *b = json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "apiVersion", "v1",
                              "kind", "Binding", "metadata", "name", name, "namespace", ns, "uid",
                              uid, "target", "apiVersion", "v1", "kind", "Node", "name", node_name);
        vk_client_request(o->client, "POST", bpath, NULL, NULL, b, after_bind, sp);
        json_decref(b);
        free(bpath);
        return 0;
    }
    put_status_now(o, sp);
    return 0;
}

static int op_delete_pod(void *ctx, const char *ns, const char *name, const char *uid)
{
    vk_tenantops_t *o = ctx;
    char *path = vk_client_path("", "v1", "pods", ns, name, NULL);
    json_t *opts = json_pack("{s:s,s:s,s:i,s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                             "gracePeriodSeconds", 0, "preconditions", "uid", uid);
    vk_client_request(o->client, "DELETE", path, NULL, NULL, opts, log_result,
                      req_new(o, "delete pod %s/%s", ns, name));
    json_decref(opts);
    free(path);
    return 0;
}

typedef struct node_put {
    vk_tenantops_t *o;
    char *name;
    json_t *status;
} node_put_t;

static void node_applied(void *arg, int status, json_t *obj)
{
    node_put_t *np = arg;
    if (status >= 200 && status < 300 && np->status && !np->o->closing) {
        char *path = vk_client_path("", "v1", "nodes", NULL, np->name, "status");
        json_t *patch = json_pack("{s:O}", "status", np->status);
        vk_client_patch(np->o->client, path, "merge", patch, log_result,
                        req_new(np->o, "status of node %s%s", np->name, NULL));
        json_decref(patch);
        free(path);
    } else if (status >= 300) {
        vk_log_warn("syncer: tenant node %s: HTTP %d", np->name, status);
    }
    free(np->name);
    json_decref(np->status);
    free(np);
}

static int op_put_node(void *ctx, const json_t *node)
{
    vk_tenantops_t *o = ctx;
    const char *name = meta(node, "name");
    if (!name) return VK_EINVALID;
    json_t *body = json_deep_copy(node);
    json_object_set_new(body, "apiVersion", json_string("v1"));
    json_object_set_new(body, "kind", json_string("Node"));
    json_t *md = json_object_get(body, "metadata");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "uid");
    json_object_del(md, "creationTimestamp");
    json_object_del(md, "managedFields");
    node_put_t *np = vk_xcalloc(1, sizeof *np);
    np->o = o;
    np->name = vk_xstrdup(name);
    np->status = json_incref(json_object_get(body, "status"));
    json_object_del(body, "status");
    char *path = vk_client_path("", "v1", "nodes", NULL, name, NULL);
    apply(o, path, body, node_applied, np);
    free(path);
    json_decref(body);
    return 0;
}

static int op_delete_node(void *ctx, const char *name)
{
    vk_tenantops_t *o = ctx;
    char *path = vk_client_path("", "v1", "nodes", NULL, name, NULL);
    vk_client_delete(o->client, path, NULL, log_result, req_new(o, "delete node %s%s", name, NULL));
    free(path);
    return 0;
}

/* Applies a namespaced object (borrowed) of group/version/plural by name. */
static int apply_named(vk_tenantops_t *o, const char *group, const char *version,
                       const char *plural, const char *api_version, const char *kind,
                       const json_t *obj)
{
    const char *ns = meta(obj, "namespace"), *name = meta(obj, "name");
    if (!ns || !name) return VK_EINVALID;
    json_t *body = json_deep_copy(obj);
    json_object_set_new(body, "apiVersion", json_string(api_version));
    json_object_set_new(body, "kind", json_string(kind));
    json_t *md = json_object_get(body, "metadata");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "uid");
    json_object_del(md, "managedFields");
    char *path = vk_client_path(group, version, plural, ns, name, NULL);
    apply(o, path, body, log_result, req_new(o, "apply %s %s", plural, name));
    free(path);
    json_decref(body);
    return 0;
}

static int op_record_event(void *ctx, const json_t *ev)
{
    return apply_named(ctx, "", "v1", "events", "v1", "Event", ev);
}

typedef struct svc_ip {
    const char *ip;
    const json_t *ips;
} svc_ip_t;

static void set_cluster_ip(json_t *obj, const void *arg)
{
    const svc_ip_t *a = arg;
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) return;
    json_object_set_new(spec, "clusterIP", json_string(a->ip));
    if (a->ips) json_object_set_new(spec, "clusterIPs", json_deep_copy(a->ips));
}

static int op_write_service_ip(void *ctx, const char *ns, const char *name, const char *uid,
                               const char *cluster_ip, const json_t *cluster_ips)
{
    vk_tenantops_t *o = ctx;
    /* spec.clusterIP is immutable once set: the store write is the allocation. */
    char key[600];
    snprintf(key, sizeof key, "/core/services/%s/%s", ns, name);
    svc_ip_t a = {cluster_ip, cluster_ips};
    return store_mutate(o, key, uid, set_cluster_ip, &a, NULL, NULL);
}

/* A JWT of ns/sa bound to pod ns/pod (pod_uid), signed with the tenant's
 * service-account key, as the kubelet's projected token: audience the API
 * server (the issuer), the ServiceAccount's uid from the store. */
static int op_token(void *ctx, const char *ns, const char *sa, const char *pod, const char *pod_uid,
                    int64_t ttl_s, char **token, int64_t *iat, int64_t *exp)
{
    vk_tenantops_t *o = ctx;
    *token = NULL;
    if (!o->signer) return VK_ENOTIMPL;
    char key[600];
    snprintf(key, sizeof key, "/core/serviceaccounts/%s/%s", ns, sa);
    vk_kv_t *kv = NULL;
    int rc = vk_store_get(o->store, key, &kv);
    if (rc) return rc;
    json_t *obj = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    vk_kv_unref(kv);
    const char *sa_uid = obj ? meta(obj, "uid") : NULL;
    if (!sa_uid) {
        json_decref(obj);
        return VK_ENOTFOUND;
    }
    *iat = (int64_t)time(NULL);
    *exp = *iat + (ttl_s > 0 ? ttl_s : 3600);
    vk_satoken_claims_t c = {.namespace_ = ns, .sa_name = sa, .sa_uid = sa_uid, .pod_name = pod,
                             .pod_uid = pod_uid, .iat = *iat, .exp = *exp};
    rc = vk_satoken_issue(o->signer, &c, token);
    json_decref(obj);
    return rc;
}

typedef struct pvc_put {
    vk_tenantops_t *o;
    char *ns, *name, *volume;
} pvc_put_t;

static void pvc_status_done(void *arg, int status, json_t *obj)
{
    pvc_put_t *pp = arg;
    if (status >= 300 && status != 404 && status != 409)
        vk_log_warn("syncer: tenant status of claim %s/%s: HTTP %d %s", pp->ns, pp->name, status,
                    sget(obj, "message") ? sget(obj, "message") : "");
    if (pp->volume && status >= 200 && status < 300 && !pp->o->closing) {
        /* spec.volumeName, as the tenant's binder would set it (an unbound
         * claim's volumeName may be set once). */
        char *path = vk_client_path("", "v1", "persistentvolumeclaims", pp->ns, pp->name, NULL);
        json_t *patch = json_pack("{s:{s:s}}", "spec", "volumeName", pp->volume);
        vk_client_patch(pp->o->client, path, "merge", patch, log_result,
                        req_new(pp->o, "volumeName of claim %s/%s", pp->ns, pp->name));
        json_decref(patch);
        free(path);
    }
    free(pp->ns), free(pp->name), free(pp->volume);
    free(pp);
}

static int op_write_pvc_status(void *ctx, const char *ns, const char *name, const char *uid,
                               const json_t *status, const char *volume_name)
{
    vk_tenantops_t *o = ctx;
    json_t *c = vk_client_informer_get(o->inf[K_PVCS], ns, name);
    const char *have = c ? meta(c, "uid") : NULL;
    if (!have || !uid || strcmp(have, uid)) return VK_ENOTFOUND;
    json_t *body = json_deep_copy(c);
    json_object_set_new(body, "status", json_deep_copy(status));
    json_object_del(json_object_get(body, "metadata"), "resourceVersion");
    const char *cur = sget(json_object_get(c, "spec"), "volumeName");
    pvc_put_t *pp = vk_xcalloc(1, sizeof *pp);
    pp->o = o;
    pp->ns = vk_xstrdup(ns);
    pp->name = vk_xstrdup(name);
    if (volume_name && (!cur || !*cur)) pp->volume = vk_xstrdup(volume_name);
    char *path = vk_client_path("", "v1", "persistentvolumeclaims", ns, name, "status");
    vk_client_update(o->client, path, body, pvc_status_done, pp);
    free(path);
    json_decref(body);
    return 0;
}

static const vk_syncer_tenant_ops_t OPS = {
    .list = op_list,
    .write_status = op_write_status,
    .delete_pod = op_delete_pod,
    .put_node = op_put_node,
    .delete_node = op_delete_node,
    .record_event = op_record_event,
    .token = op_token,
    .write_service_ip = op_write_service_ip,
    .write_pvc_status = op_write_pvc_status,
};

const vk_syncer_tenant_ops_t *vk_tenantops_ops(void)
{
    return &OPS;
}
