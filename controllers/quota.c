/* quota: the ResourceQuota controller of the tenant (upstream's
 * resourcequota controller): keeps status.hard (spec.hard, canonical) and
 * status.used of every ResourceQuota. See controllers.h.
 *
 * An informer on resourcequotas; each quota is recounted when it changes and
 * every 2 s (objects it counts come and go): pods from the controllers' shared
 * pod informer (compact cache, no LIST), every other collection its hard
 * resources need (services, claims, configmaps, secrets,
 * count/<resource>.<group> at version v1) by a LIST in pages of LIST_PAGE, in
 * its namespace, or in every namespace for the tenant quota (proxy/quota.h),
 * then the sum of vk_quota_object_usage over the items, written through
 * /status when it differs. A recount in flight is not started twice. The 2 s
 * resync skips a quota that counts only pods while neither it nor the pods it
 * counts changed (unless a counted pod is being deleted: its charge ends with
 * its grace period, by time alone). */
#include "controllers/controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "proxy/client.h"
#include "proxy/quota.h"

#define RESYNC_MS 2000
#define LIST_PAGE 500

struct vk_controllers_quota {
    vk_client_t *cl;
    vk_client_informer_t *quotas;
    vk_client_informer_t *pods; /* the shared pod informer (borrowed), or NULL: pods are listed */
    json_t *busy; /* quota key -> true while its recount runs */
    json_t *ns_gen;      /* namespace -> pod changes seen (shared informer) */
    json_int_t all_gen;  /* pod changes seen in every namespace */
    json_t *clean;       /* quota key -> inputs ("rv|gen") of its last recount, when one with
                            the same inputs gives the same answer (the resync skips it) */
    uv_timer_t resync;
    int closing, closed;
    void (*done_cb)(void *arg);
    void *done_arg;
};

typedef struct vk_controllers_quota qc_t;

static const char *mds(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

/* One recount: the quota, the lists still to come and the sum so far. */
typedef struct recount {
    qc_t *q;
    char key[600]; /* "ns/name" */
    json_t *quota; /* copy of the quota being counted */
    json_t *used;  /* hard name -> quantity */
    int pending;   /* lists not answered yet */
    int failed;
    char *inputs;  /* recorded in q->clean when it ends well (a pods-only recount), or NULL */
} recount_t;

typedef struct listarg {
    recount_t *r;
    char group[128], plural[128];
    char *path;    /* the collection (owned) */
} listarg_t;

static void finish(recount_t *r);

typedef struct wctx {
    qc_t *q;
    char key[600];
} wctx_t;

static void on_status_written(void *arg, int status, json_t *obj)
{
    wctx_t *w = arg;
    qc_t *q = w->q;
    if (status >= 300 && !q->closing) {
        json_object_del(q->clean, w->key); /* the resync counts it again */
        if (status != 409 && status != 404)
            vk_log_warn("quota controller: status update: %d %s", status,
                        json_string_value(json_object_get(obj, "message")) ?: "");
    }
    free(w);
}

/* Adds what one object of group/plural charges to the quota being counted. */
static void count_item(recount_t *r, const char *group, const char *plural, const json_t *it)
{
    if (!vk_quota_scopes_match(r->quota, group, plural, it)) return;
    json_t *hard = json_object_get(json_object_get(r->quota, "spec"), "hard");
    json_t *u = vk_quota_object_usage(group, plural, it);
    json_t *m = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(u, k, v)
        if (json_object_get(hard, k) && vk_quota_covers(group, plural, k)) json_object_set(m, k, v);
    vk_quota_list_add(r->used, m);
    json_decref(m);
    json_decref(u);
}

static void on_list(void *arg, int status, json_t *obj)
{
    listarg_t *la = arg;
    recount_t *r = la->r;
    if (status == 200) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(obj, "items"), i, it) count_item(r, la->group, la->plural, it);
        const char *cont = json_string_value(json_object_get(json_object_get(obj, "metadata"), "continue"));
        if (cont && *cont && !r->q->closing) {
            vk_client_list(r->q->cl, la->path, LIST_PAGE, cont, on_list, la); /* the next page */
            return;
        }
    } else if (status != 404) {
        /* 0: the client closed; 410: compacted under a later page; anything
         * else: try again on the next resync. */
        r->failed = 1;
    }
    free(la->path);
    free(la);
    if (--r->pending == 0) finish(r);
}

/* Counts the pods of namespace ns (NULL: all) from the shared cache. 1 if one
 * of them is being deleted (its charge then ends with time alone). */
static int count_cached_pods(recount_t *r, const char *ns)
{
    int deleting = 0;
    vk_client_iter_t it;
    json_t *p;
    vk_client_informer_foreach(r->q->pods, ns, it, p) {
        if (json_object_get(json_object_get(p, "metadata"), "deletionTimestamp")) deleting = 1;
        count_item(r, "", "pods", p);
    }
    return deleting;
}

/* What a recount of quota depends on, besides time: the quota (its
 * resourceVersion: spec, admission charges) and the pods it counts. */
static void inputs_of(qc_t *q, const json_t *quota, int tenant, char *out, size_t n)
{
    json_int_t gen = tenant ? q->all_gen
                            : json_integer_value(json_object_get(q->ns_gen, mds(quota, "namespace")));
    snprintf(out, n, "%s|%lld", mds(quota, "resourceVersion") ?: "", (long long)gen);
}

/* status.hard for a quota: its spec.hard in canonical form. New reference. */
static json_t *canonical_hard(const json_t *quota)
{
    json_t *spec_hard = json_object_get(json_object_get(quota, "spec"), "hard");
    json_t *hard = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(spec_hard, k, v) {
        char c[80];
        const char *t = json_string_value(v);
        char b[64];
        if (json_is_integer(v)) {
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
            t = b;
        }
        if (t && !vk_quota_qty_canonical(t, c, sizeof c)) json_object_set_new(hard, k, json_string(c));
    }
    return hard;
}

static void finish(recount_t *r)
{
    qc_t *q = r->q;
    if (!r->failed && !q->closing) {
        json_t *hard = canonical_hard(r->quota);
        json_t *st = json_pack("{s:o,s:O}", "hard", hard, "used", r->used);
        /* Compare with what is cached now (an admission charge may be newer). */
        char ns[300];
        const char *slash = strchr(r->key, '/');
        snprintf(ns, sizeof ns, "%.*s", (int)(slash - r->key), r->key);
        json_t *cur = vk_client_informer_get(q->quotas, ns, slash + 1);
        if (r->inputs) json_object_set_new(q->clean, r->key, json_string(r->inputs));
        if (cur && !json_equal(json_object_get(cur, "status"), st)) {
            json_t *o = json_deep_copy(cur);
            json_object_set(o, "status", st);
            char *path = vk_client_path("", "v1", "resourcequotas", ns, slash + 1, "status");
            wctx_t *w = vk_xcalloc(1, sizeof *w);
            w->q = q;
            snprintf(w->key, sizeof w->key, "%s", r->key);
            vk_client_update(q->cl, path, o, on_status_written, w);
            free(path);
            json_decref(o);
        }
        json_decref(st);
    }
    if (!q->closing) json_object_del(q->busy, r->key);
    json_decref(r->quota);
    json_decref(r->used);
    free(r->inputs);
    free(r);
}

/* The collection that charges quota resource name, or 0 if none is known. */
static int collection_of(const char *name, char *group, size_t gn, char *plural, size_t pn)
{
    static const char *const podres[] = {"pods", "cpu", "memory", "ephemeral-storage", "limits.cpu",
                                         "limits.memory", "limits.ephemeral-storage", NULL};
    group[0] = 0;
    for (int i = 0; podres[i]; i++)
        if (!strcmp(name, podres[i])) return snprintf(plural, pn, "pods"), 1;
    if (!strcmp(name, "requests.storage") || strstr(name, ".storageclass.storage.k8s.io/"))
        return snprintf(plural, pn, "persistentvolumeclaims"), 1;
    if (!strncmp(name, "requests.", 9) || !strncmp(name, "hugepages-", 10))
        return snprintf(plural, pn, "pods"), 1;
    if (!strncmp(name, "services", 8) && (!name[8] || name[8] == '.'))
        return snprintf(plural, pn, "services"), 1;
    static const char *const counted[] = {"configmaps", "secrets", "persistentvolumeclaims",
                                          "replicationcontrollers", "resourcequotas", NULL};
    for (int i = 0; counted[i]; i++)
        if (!strcmp(name, counted[i])) return snprintf(plural, pn, "%s", name), 1;
    if (!strncmp(name, "count/", 6)) {
        const char *r = name + 6, *dot = strchr(r, '.');
        if (!*r) return 0;
        if (dot) {
            snprintf(plural, pn, "%.*s", (int)(dot - r), r);
            snprintf(group, gn, "%s", dot + 1);
        } else {
            snprintf(plural, pn, "%s", r);
        }
        return 1;
    }
    return 0;
}

/* resync: called by the periodic resync (skips a quota whose inputs are those
 * of its last clean recount). */
static void recount(qc_t *q, const json_t *quota, int resync)
{
    const char *ns = mds(quota, "namespace"), *name = mds(quota, "name");
    if (!ns || !name) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    if (json_object_get(q->busy, key)) return;
    json_t *hard = json_object_get(json_object_get(quota, "spec"), "hard");
    int tenant = !strcmp(ns, VK_QUOTA_TENANT_NS) && !strcmp(name, VK_QUOTA_TENANT_NAME);
    char in[128];
    inputs_of(q, quota, tenant, in, sizeof in);
    const char *was = json_string_value(json_object_get(q->clean, key));
    if (resync && was && !strcmp(was, in)) return;
    json_object_del(q->clean, key);
    /* Pods come from the shared cache, which must be loaded. */
    if (q->pods && !vk_client_informer_synced(q->pods)) return;
    recount_t *r = vk_xcalloc(1, sizeof *r);
    r->q = q;
    snprintf(r->key, sizeof r->key, "%s", key);
    r->quota = json_deep_copy(quota);
    r->used = json_object();
    json_t *colls = json_object(); /* "group/plural" -> true */
    const char *k;
    json_t *v;
    json_object_foreach(hard, k, v) {
        json_object_set_new(r->used, k, json_string("0"));
        char g[128], p[128], ck[300];
        if (!collection_of(k, g, sizeof g, p, sizeof p)) continue;
        snprintf(ck, sizeof ck, "%s/%s", g, p);
        json_object_set_new(colls, ck, json_true());
    }
    json_object_set_new(q->busy, key, json_true());
    r->pending = 1; /* held until every list is sent */
    int pods_only = 1, deleting = 0;
    json_object_foreach(colls, k, v) {
        if (q->pods && !strcmp(k, "/pods")) {
            deleting = count_cached_pods(r, tenant ? NULL : ns);
            continue;
        }
        pods_only = 0;
        listarg_t *la = vk_xcalloc(1, sizeof *la);
        la->r = r;
        const char *slash = strchr(k, '/');
        snprintf(la->group, sizeof la->group, "%.*s", (int)(slash - k), k);
        snprintf(la->plural, sizeof la->plural, "%s", slash + 1);
        la->path = vk_client_path(la->group, "v1", la->plural, tenant ? NULL : ns, NULL, NULL);
        r->pending++;
        vk_client_list(q->cl, la->path, LIST_PAGE, NULL, on_list, la);
    }
    json_decref(colls);
    /* Only pods, none going away: the same inputs give the same answer. */
    if (q->pods && pods_only && !deleting) r->inputs = vk_xstrdup(in);
    if (--r->pending == 0) finish(r);
}

/* A pod changed (the shared informer): the quotas of its namespace and the
 * tenant quota have new inputs. */
static void on_pod(void *arg, int type, json_t *p)
{
    qc_t *q = arg;
    const char *ns = mds(p, "namespace") ?: "";
    json_object_set_new(q->ns_gen, ns, json_integer(json_integer_value(json_object_get(q->ns_gen, ns)) + 1));
    q->all_gen++;
}

static void resync_all(qc_t *q);

static void on_pods_synced(void *arg)
{
    resync_all(arg);
}

static void on_quota(void *arg, int type, json_t *o)
{
    qc_t *q = arg;
    if (q->closing || type == VK_CLIENT_DELETED || !vk_client_informer_synced(q->quotas)) return;
    /* A status write (ours, or an admission charge) needs no recount: only a
     * new quota or a changed spec.hard does; the resync catches the rest.
     * Recounting on every charge would list the namespace on every create. */
    if (type == VK_CLIENT_MODIFIED) {
        json_t *hard = canonical_hard(o);
        int same = json_equal(hard, json_object_get(json_object_get(o, "status"), "hard"));
        json_decref(hard);
        if (same) return;
    }
    recount(q, o, 0);
}

static void recount_all(qc_t *q, int resync)
{
    if (q->closing || !vk_client_informer_synced(q->quotas)) return;
    const char *k;
    json_t *o;
    json_object_foreach(vk_client_informer_items(q->quotas), k, o) recount(q, o, resync);
}

static void resync_all(qc_t *q)
{
    recount_all(q, 0);
}

static void on_synced(void *arg)
{
    recount_all(arg, 0);
}

static void on_resync(uv_timer_t *t)
{
    recount_all(t->data, 1);
}

vk_controllers_quota_t *vk_controllers_quota_start(uv_loop_t *loop, vk_http_handler_cb handler,
                                                   void *ctx, vk_client_informer_t *pods)
{
    qc_t *q = vk_xcalloc(1, sizeof *q);
    static const char *const groups[] = {"system:masters", NULL};
    q->cl = vk_client_new(loop, handler, ctx, VK_QUOTA_CONTROLLER_USER, groups);
    q->busy = json_object();
    q->ns_gen = json_object();
    q->clean = json_object();
    q->pods = pods;
    if (pods) vk_client_informer_add_handler(pods, on_pod, on_pods_synced, q);
    uv_timer_init(loop, &q->resync);
    q->resync.data = q;
    char *p = vk_client_path("", "v1", "resourcequotas", NULL, NULL, NULL);
    q->quotas = vk_client_informer_new(q->cl, p, on_quota, on_synced, q);
    free(p);
    uv_timer_start(&q->resync, on_resync, RESYNC_MS, RESYNC_MS);
    return q;
}

static void on_closed(uv_handle_t *h)
{
    qc_t *q = h->data;
    if (++q->closed == 2) {
        void (*done)(void *) = q->done_cb;
        void *arg = q->done_arg;
        json_decref(q->busy);
        json_decref(q->ns_gen);
        json_decref(q->clean);
        free(q);
        if (done) done(arg);
    }
}

static void on_client_closed(void *arg)
{
    qc_t *q = arg;
    on_closed((uv_handle_t *)&q->resync);
}

void vk_controllers_quota_stop(vk_controllers_quota_t *q, void (*done_cb)(void *arg), void *arg)
{
    q->closing = 1;
    q->done_cb = done_cb;
    q->done_arg = arg;
    vk_client_close(q->cl, on_client_closed, q);
    uv_close((uv_handle_t *)&q->resync, on_closed);
}
