/* controllers: ReplicaSet, Deployment and Job controllers on informers of the
 * tenant's own API (proxy/client); see controllers.h.
 *
 * One work queue of keys "rs/NS/NAME", "deploy/NS/NAME", "job/NS/NAME"
 * (deduplicated) drained on a later loop turn. Writes that create pods with
 * generateName are guarded by expectations (upstream's ControllerExpectations):
 * an owner is not synced again until the informer has seen the pods it created
 * or deleted, so a stale cache never makes extra pods. Every other write is an
 * update with the cached resourceVersion (a stale cache gets 409 and a requeue)
 * or a create by name (409 AlreadyExists). A resync every 2 s requeues every
 * owner (minReadySeconds, TTLs, lost events), but a ReplicaSet whose object
 * and namespace's pods did not change since a sync that time cannot alter.
 *
 * Pods come from one compact informer shared with the endpoints and quota
 * controllers (proxy/client.h: objects kept as packed text, decoded on each
 * read): iterations pre-test the text (an owner's uid) before decoding, and
 * a key whose sync took long is paced (PACE_*). */
#include "controllers/controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "proxy/client.h"
#include "proxy/selector.h"

#define EXPECT_TIMEOUT_S 30
#define BURST 500
/* Pacing: a sync that took long (an owner of many pods, each decoded from the
 * compact pod cache) is not run again for PACE_FACTOR times as long, at most
 * PACE_MAX_MS; the events meanwhile wait in the queue and one sync handles
 * them all. A sync shorter than PACE_MIN_MS is never delayed. */
#define PACE_MIN_MS 2
#define PACE_FACTOR 4
#define PACE_MAX_MS 250

struct vk_controllers {
    uv_loop_t *loop;
    vk_client_t *cl;
    vk_client_informer_t *pods, *rss, *deps, *jobs, *cjobs, *stss, *pvcs, *dss, *nodes;
    vk_client_informer_t *revs; /* controllerrevisions */
    json_t *queue;  /* key -> true */
    json_t *expect; /* key -> [pending, since] */
    json_t *pace;   /* key -> earliest time (ms, uv_hrtime) of its next sync */
    json_t *ns_gen; /* namespace -> pod changes seen in it */
    json_t *rs_in;  /* ReplicaSet key -> "rv|ns_gen" its last complete sync saw (resync skip) */
    uv_timer_t tick, resync;
    int closing;
    int closed; /* handles and the client that finished closing */
    void (*done_cb)(void *arg);
    void *done_arg;
    vk_controllers_endpoints_t *endpoints; /* controllers/endpoints.c */
    vk_controllers_quota_t *quota;         /* controllers/quota.c */
};

/* ------------------------------------------------------------ helpers */

static json_t *md(json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *mds(json_t *o, const char *f)
{
    return json_string_value(json_object_get(md(o), f));
}

static json_t *at(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    return b ? json_object_get(x, b) : x;
}

static long intval(json_t *v, long dflt)
{
    return json_is_integer(v) ? (long)json_integer_value(v) : dflt;
}

static void now_rfc3339(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long parse_time(const char *s)
{
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    return (long)timegm(&tm);
}

/* The controller ownerReference, borrowed; NULL if none. */
static json_t *controller_ref(json_t *o)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(md(o), "ownerReferences"), i, r) {
        if (json_is_true(json_object_get(r, "controller"))) return r;
    }
    return NULL;
}

static int owned_by(json_t *o, json_t *owner)
{
    json_t *r = controller_ref(o);
    const char *uid = mds(owner, "uid");
    return r && uid && json_string_value(json_object_get(r, "uid")) &&
           !strcmp(json_string_value(json_object_get(r, "uid")), uid);
}

static json_t *owner_ref(json_t *owner, const char *api_version, const char *kind)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b}", "apiVersion", api_version, "kind", kind, "name",
                     mds(owner, "name"), "uid", mds(owner, "uid"), "controller", 1,
                     "blockOwnerDeletion", 1);
}

static int terminating(json_t *o)
{
    return json_object_get(md(o), "deletionTimestamp") != NULL;
}

static const char *pod_phase(json_t *p)
{
    const char *s = json_string_value(at(p, "status", "phase"));
    return s ? s : "Pending";
}

static int pod_active(json_t *p)
{
    const char *ph = pod_phase(p);
    return strcmp(ph, "Succeeded") && strcmp(ph, "Failed") && !terminating(p);
}

/* Ready condition: 1 if True; *since gets its lastTransitionTime. */
static int pod_ready(json_t *p, long *since)
{
    size_t i;
    json_t *c;
    json_array_foreach(at(p, "status", "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && !strcmp(t, "Ready")) {
            const char *st = json_string_value(json_object_get(c, "status"));
            if (since) since[0] = parse_time(json_string_value(json_object_get(c, "lastTransitionTime")));
            return st && !strcmp(st, "True");
        }
    }
    return 0;
}

static int pod_available(json_t *p, long min_ready, long now)
{
    long since = 0;
    if (!pod_ready(p, &since)) return 0;
    return min_ready <= 0 || (since && since + min_ready <= now);
}

static int selector_match(json_t *sel, json_t *labels)
{
    if (!sel) return 0;
    json_t *empty = NULL;
    if (!labels) labels = empty = json_object();
    int m = vk_selector_object_match(sel, labels, NULL);
    json_decref(empty);
    return m == 1;
}

static void enqueue(vk_controllers_t *k, const char *kind, const char *ns, const char *name)
{
    if (k->closing || !name) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s", kind, ns ? ns : "", name);
    json_object_set_new(k->queue, key, json_true());
}

/* ------------------------------------------------------------ expectations */

static void expect_add(vk_controllers_t *k, const char *key, long n)
{
    json_t *e = json_object_get(k->expect, key);
    long cur = e ? intval(json_array_get(e, 0), 0) : 0;
    json_object_set_new(k->expect, key, json_pack("[I,I]", (json_int_t)(cur + n),
                                                  (json_int_t)time(NULL)));
}

static void expect_observed(vk_controllers_t *k, const char *key)
{
    json_t *e = json_object_get(k->expect, key);
    if (!e) return;
    long cur = intval(json_array_get(e, 0), 0) - 1;
    if (cur <= 0)
        json_object_del(k->expect, key);
    else
        json_array_set_new(e, 0, json_integer(cur));
}

static int expect_satisfied(vk_controllers_t *k, const char *key)
{
    json_t *e = json_object_get(k->expect, key);
    if (!e) return 1;
    if (time(NULL) - intval(json_array_get(e, 1), 0) > EXPECT_TIMEOUT_S) {
        json_object_del(k->expect, key);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ writes */

typedef struct wctx {
    vk_controllers_t *k;
    char key[600];   /* owner to requeue */
    int expects;     /* a failed write settles one expectation */
    char what[64];
} wctx_t;

static wctx_t *wctx(vk_controllers_t *k, const char *key, int expects, const char *what)
{
    wctx_t *w = vk_xcalloc(1, sizeof *w);
    w->k = k;
    snprintf(w->key, sizeof w->key, "%s", key);
    w->expects = expects;
    snprintf(w->what, sizeof w->what, "%s", what);
    return w;
}

static void kick(vk_controllers_t *k);

static void requeue_key(vk_controllers_t *k, const char *key)
{
    if (k->closing) return;
    json_object_set_new(k->queue, key, json_true());
    kick(k);
}

static void on_write(void *arg, int status, json_t *obj)
{
    wctx_t *w = arg;
    vk_controllers_t *k = w->k;
    if (status < 200 || status >= 300) {
        if (status != 409 && status != 404)
            vk_log_warn("controllers: %s for %s: %d %s", w->what, w->key, status,
                        json_string_value(json_object_get(obj, "message")) ?: "");
        if (w->expects) expect_observed(k, w->key);
        json_object_del(k->rs_in, w->key); /* the resync tries it again */
        /* A conflict means the cache was behind: try again at once. Any other
         * failure (e.g. 403 in a terminating namespace, 422, 5xx) waits for
         * the 2 s resync, so a write the server keeps refusing never turns
         * into a hot loop. */
        if (status == 409) requeue_key(k, w->key);
    }
    free(w);
}

static void write_status(vk_controllers_t *k, const char *key, const char *group,
                         const char *resource, json_t *obj, json_t *status)
{
    json_t *o = json_deep_copy(obj);
    json_object_set(o, "status", status);
    char *path = vk_client_path(group, "v1", resource, mds(obj, "namespace"), mds(obj, "name"),
                                "status");
    vk_client_update(k->cl, path, o, on_write, wctx(k, key, 0, "status update"));
    free(path);
    json_decref(o);
}

static void update_obj(vk_controllers_t *k, const char *key, const char *group,
                       const char *resource, json_t *o, const char *what)
{
    char *path = vk_client_path(group, "v1", resource, mds(o, "namespace"), mds(o, "name"), NULL);
    vk_client_update(k->cl, path, o, on_write, wctx(k, key, 0, what));
    free(path);
}

static void scale_rs(vk_controllers_t *k, const char *key, json_t *rs, long replicas)
{
    json_t *o = json_deep_copy(rs);
    json_object_set_new(json_object_get(o, "spec"), "replicas", json_integer(replicas));
    update_obj(k, key, "apps", "replicasets", o, "scale replicaset");
    json_decref(o);
}

static void delete_pod(vk_controllers_t *k, const char *key, json_t *p)
{
    char *path = vk_client_path("", "v1", "pods", mds(p, "namespace"), mds(p, "name"), NULL);
    vk_client_delete(k->cl, path, NULL, on_write, wctx(k, key, 1, "delete pod"));
    free(path);
}

/* Creates a pod from template owned by owner. */
static void create_pod(vk_controllers_t *k, const char *key, json_t *owner, json_t *tmpl,
                       json_t *ref, json_t *extra_labels)
{
    json_t *m = json_object();
    char gen[300];
    snprintf(gen, sizeof gen, "%s-", mds(owner, "name"));
    json_object_set_new(m, "generateName", json_string(gen));
    json_object_set_new(m, "namespace", json_string(mds(owner, "namespace")));
    json_t *labels = json_deep_copy(at(tmpl, "metadata", "labels"));
    if (!labels) labels = json_object();
    if (extra_labels) json_object_update(labels, extra_labels);
    json_object_set_new(m, "labels", labels);
    json_t *ann = at(tmpl, "metadata", "annotations");
    if (ann) json_object_set(m, "annotations", ann);
    json_t *fin = at(tmpl, "metadata", "finalizers");
    if (fin) json_object_set(m, "finalizers", fin);
    json_object_set_new(m, "ownerReferences", json_pack("[O]", ref));
    json_t *pod = json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", "v1", "kind", "Pod", "metadata", m,
                            "spec", json_object_get(tmpl, "spec"));
    char *path = vk_client_path("", "v1", "pods", mds(owner, "namespace"), NULL, NULL);
    vk_client_create(k->cl, path, pod, on_write, wctx(k, key, 1, "create pod"));
    free(path);
    json_decref(pod);
}

/* ------------------------------------------------------------ ReplicaSet */

static int cmp_delete_order(const void *a, const void *b)
{
    json_t *pa = *(json_t *const *)a, *pb = *(json_t *const *)b;
    /* Unscheduled, then pending, then not ready, then newest first. */
    int sa = json_string_value(at(pa, "spec", "nodeName")) != NULL;
    int sb = json_string_value(at(pb, "spec", "nodeName")) != NULL;
    if (sa != sb) return sa - sb;
    int ra = !strcmp(pod_phase(pa), "Running"), rb = !strcmp(pod_phase(pb), "Running");
    if (ra != rb) return ra - rb;
    int ya = pod_ready(pa, NULL), yb = pod_ready(pb, NULL);
    if (ya != yb) return ya - yb;
    const char *ca = mds(pa, "creationTimestamp"), *cb = mds(pb, "creationTimestamp");
    int c = strcmp(cb ? cb : "", ca ? ca : "");
    if (c) return c;
    return strcmp(mds(pb, "name"), mds(pa, "name"));
}

static void patch_owner_refs(vk_controllers_t *k, const char *key, json_t *pod, json_t *refs)
{
    /* No references left: remove the field (null in a merge patch), as upstream shows it. */
    json_t *p = json_pack("{s:{s:O,s:s}}", "metadata", "ownerReferences",
                          json_array_size(refs) ? refs : json_null(), "resourceVersion",
                          mds(pod, "resourceVersion"));
    char *path = vk_client_path("", "v1", "pods", mds(pod, "namespace"), mds(pod, "name"), NULL);
    vk_client_patch(k->cl, path, "merge", p, on_write, wctx(k, key, 0, "adopt/release pod"));
    free(path);
    json_decref(p);
}

/* Pre-test of a ReplicaSet's pods (uid: the set's): its own, or orphans it may
 * adopt (no controller reference). */
static int rs_pod_text(void *uid, const char *text, size_t len)
{
    return vk_client_text_has(uid, text, len) || !memmem(text, len, "\"controller\":true", 17);
}

/* What a ReplicaSet's sync depends on, besides time and expectations: its
 * object and the pods of its namespace. */
static void rs_inputs(vk_controllers_t *k, json_t *rs, char *out, size_t n)
{
    snprintf(out, n, "%s|%lld", mds(rs, "resourceVersion") ?: "",
             (long long)json_integer_value(json_object_get(k->ns_gen, mds(rs, "namespace") ?: "")));
}

static void sync_rs(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_object_del(k->rs_in, key);
    json_t *rs = vk_client_informer_get(k->rss, ns, name);
    if (!rs) {
        json_object_del(k->expect, key);
        return;
    }
    if (!expect_satisfied(k, key)) return;
    json_t *spec = json_object_get(rs, "spec");
    json_t *sel = json_object_get(spec, "selector");
    long want = intval(json_object_get(spec, "replicas"), 1);
    long min_ready = intval(json_object_get(spec, "minReadySeconds"), 0);
    json_t *tlabels = at(json_object_get(spec, "template"), "metadata", "labels");
    long now = (long)time(NULL);
    json_t *active = json_array();
    vk_client_iter_t pit;
    json_t *p;
    long fully = 0, ready = 0, avail = 0, ready_not_avail = 0;
    char *uid = (char *)(mds(rs, "uid") ?: "");
    vk_client_informer_foreach_where(k->pods, ns, rs_pod_text, uid, pit, p) {
        json_t *labels = json_object_get(md(p), "labels");
        int match = selector_match(sel, labels);
        json_t *ref = controller_ref(p);
        if (ref && owned_by(p, rs)) {
            if (!match && !terminating(rs)) {
                /* Orphan it: the labels no longer match. */
                json_t *refs = json_array();
                size_t i;
                json_t *r;
                json_array_foreach(json_object_get(md(p), "ownerReferences"), i, r)
                    if (r != ref) json_array_append(refs, r);
                patch_owner_refs(k, key, p, refs);
                json_decref(refs);
                continue;
            }
        } else if (!ref && match && !terminating(rs) && !terminating(p) && pod_active(p)) {
            /* Adopt the orphan. */
            json_t *refs = json_deep_copy(json_object_get(md(p), "ownerReferences"));
            if (!json_is_array(refs)) {
                json_decref(refs);
                refs = json_array();
            }
            json_array_append_new(refs, owner_ref(rs, "apps/v1", "ReplicaSet"));
            patch_owner_refs(k, key, p, refs);
            json_decref(refs);
            /* Counted at once, as upstream's claim does: otherwise the set
             * creates a full complement and then deletes the surplus, which
             * may be the adopted pod itself. A failed patch requeues. */
        } else {
            continue;
        }
        if (!pod_active(p)) continue;
        json_array_append(active, p);
        json_t *tsel = tlabels ? json_pack("{s:O}", "matchLabels", tlabels)
                               : json_pack("{s:{}}", "matchLabels");
        if (selector_match(tsel, labels)) fully++;
        json_decref(tsel);
        int r = pod_ready(p, NULL), a = pod_available(p, min_ready, now);
        ready += r;
        avail += a;
        ready_not_avail += r && !a;
    }
    long have = (long)json_array_size(active);
    /* Unless time will change the answer (a ready pod not yet available after
     * minReadySeconds), the same inputs make the same decisions: the 2 s
     * resync may skip this set until its object or a pod of its namespace
     * changes, or a write of this sync fails. */
    if (!ready_not_avail) {
        char in[128];
        rs_inputs(k, rs, in, sizeof in);
        json_object_set_new(k->rs_in, key, json_string(in));
    }
    if (!terminating(rs)) {
        if (have < want) {
            long n = want - have;
            if (n > BURST) n = BURST;
            expect_add(k, key, n);
            json_t *ref = owner_ref(rs, "apps/v1", "ReplicaSet");
            for (long i = 0; i < n; i++)
                create_pod(k, key, rs, json_object_get(spec, "template"), ref, NULL);
            json_decref(ref);
        } else if (have > want) {
            size_t n = (size_t)json_array_size(active);
            json_t **v = vk_xmalloc(n * sizeof *v);
            for (size_t i = 0; i < n; i++) v[i] = json_array_get(active, i);
            qsort(v, n, sizeof *v, cmp_delete_order);
            long del = have - want;
            expect_add(k, key, del);
            for (long i = 0; i < del; i++) delete_pod(k, key, v[i]);
            free(v);
        }
    }
    json_t *st = json_deep_copy(json_object_get(rs, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    json_object_set_new(st, "replicas", json_integer(have));
    json_object_set_new(st, "fullyLabeledReplicas", json_integer(fully));
    json_object_set_new(st, "readyReplicas", json_integer(ready));
    json_object_set_new(st, "availableReplicas", json_integer(avail));
    json_object_set(st, "observedGeneration", json_object_get(md(rs), "generation"));
    /* Upstream omits zero counts. */
    static const char *const zero[] = {"fullyLabeledReplicas", "readyReplicas",
                                       "availableReplicas"};
    for (size_t i = 0; i < 3; i++)
        if (!json_integer_value(json_object_get(st, zero[i]))) json_object_del(st, zero[i]);
    if (!json_equal(st, json_object_get(rs, "status")))
        write_status(k, key, "apps", "replicasets", rs, st);
    json_decref(st);
    json_decref(active);
}

/* ------------------------------------------------------------ Deployment */

static long rs_revision(json_t *rs)
{
    const char *r = json_string_value(
        json_object_get(json_object_get(md(rs), "annotations"), "deployment.kubernetes.io/revision"));
    return r ? atol(r) : 0;
}

static int equal_ignore_hash(json_t *a, json_t *b)
{
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_t *lx = at(json_object_get(x, "metadata"), "labels", NULL);
    json_t *ly = at(json_object_get(y, "metadata"), "labels", NULL);
    if (lx) json_object_del(lx, "pod-template-hash");
    if (ly) json_object_del(ly, "pod-template-hash");
    if (lx && !json_object_size(lx)) json_object_del(json_object_get(x, "metadata"), "labels");
    if (ly && !json_object_size(ly)) json_object_del(json_object_get(y, "metadata"), "labels");
    int eq = json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return eq;
}

static int cmp_revision(const void *a, const void *b)
{
    long ra = rs_revision(*(json_t *const *)a), rb = rs_revision(*(json_t *const *)b);
    return ra < rb ? -1 : ra > rb;
}

static json_t *condition(json_t *old_status, const char *type, const char *status,
                         const char *reason, const char *msg, const char *now)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(old_status, "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (!t || strcmp(t, type)) continue;
        const char *s = json_string_value(json_object_get(c, "status"));
        const char *r = json_string_value(json_object_get(c, "reason"));
        const char *m = json_string_value(json_object_get(c, "message"));
        if (s && r && m && !strcmp(s, status) && !strcmp(r, reason) && !strcmp(m, msg))
            return json_incref(c);
        const char *lt = json_string_value(json_object_get(c, "lastTransitionTime"));
        return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status,
                         "lastUpdateTime", now, "lastTransitionTime",
                         s && !strcmp(s, status) && lt ? lt : now, "reason", reason, "message",
                         msg);
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "lastUpdateTime",
                     now, "lastTransitionTime", now, "reason", reason, "message", msg);
}

static void create_rs(vk_controllers_t *k, const char *key, json_t *d, const char *hash,
                      long revision, long replicas, long max_replicas)
{
    json_t *spec = json_object_get(d, "spec");
    json_t *tmpl = json_deep_copy(json_object_get(spec, "template"));
    json_t *tm = json_object_get(tmpl, "metadata");
    if (!tm) json_object_set_new(tmpl, "metadata", tm = json_object());
    json_t *labels = json_object_get(tm, "labels");
    if (!labels) json_object_set_new(tm, "labels", labels = json_object());
    json_object_set_new(labels, "pod-template-hash", json_string(hash));
    json_t *sel = json_deep_copy(json_object_get(spec, "selector"));
    if (!json_is_object(sel)) {
        json_decref(sel);
        sel = json_object();
    }
    json_t *ml = json_object_get(sel, "matchLabels");
    if (!ml) json_object_set_new(sel, "matchLabels", ml = json_object());
    json_object_set_new(ml, "pod-template-hash", json_string(hash));
    char name[300], rev[32], des[32], mx[32];
    snprintf(name, sizeof name, "%s-%s", mds(d, "name"), hash);
    snprintf(rev, sizeof rev, "%ld", revision);
    snprintf(des, sizeof des, "%ld", intval(json_object_get(spec, "replicas"), 1));
    snprintf(mx, sizeof mx, "%ld", max_replicas);
    json_t *ann = json_deep_copy(json_object_get(md(d), "annotations"));
    if (!json_is_object(ann)) {
        json_decref(ann);
        ann = json_object();
    }
    json_object_del(ann, "kubectl.kubernetes.io/last-applied-configuration");
    json_object_set_new(ann, "deployment.kubernetes.io/revision", json_string(rev));
    json_object_set_new(ann, "deployment.kubernetes.io/desired-replicas", json_string(des));
    json_object_set_new(ann, "deployment.kubernetes.io/max-replicas", json_string(mx));
    json_t *rs = json_pack(
        "{s:s,s:s,s:{s:s,s:s,s:O,s:o,s:[o]},s:{s:I,s:I,s:o,s:o}}", "apiVersion", "apps/v1", "kind",
        "ReplicaSet", "metadata", "name", name, "namespace", mds(d, "namespace"), "labels", labels,
        "annotations", ann, "ownerReferences", owner_ref(d, "apps/v1", "Deployment"), "spec",
        "replicas", (json_int_t)replicas, "minReadySeconds",
        (json_int_t)intval(json_object_get(spec, "minReadySeconds"), 0), "selector", sel,
        "template", tmpl);
    char *path = vk_client_path("apps", "v1", "replicasets", mds(d, "namespace"), NULL, NULL);
    vk_client_create(k->cl, path, rs, on_write, wctx(k, key, 0, "create replicaset"));
    free(path);
    json_decref(rs);
}

static void sync_deploy(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_t *d = vk_client_informer_get(k->deps, ns, name);
    if (!d || terminating(d)) return;
    json_t *spec = json_object_get(d, "spec");
    long desired = intval(json_object_get(spec, "replicas"), 1);
    int paused = json_is_true(json_object_get(spec, "paused"));
    const char *stype = json_string_value(at(spec, "strategy", "type"));
    int recreate = stype && !strcmp(stype, "Recreate");
    long surge = 0, unavail = 0;
    if (!recreate)
        vk_controllers_surge_unavailable(at(spec, "strategy", "rollingUpdate"), desired, &surge,
                                         &unavail);
    json_t *tmpl = json_object_get(spec, "template");
    /* Owned ReplicaSets, oldest revision first. */
    json_t *owned = json_array();
    const char *rk;
    json_t *rs;
    json_object_foreach(vk_client_informer_items(k->rss), rk, rs) {
        if (!strcmp(mds(rs, "namespace") ?: "", ns) && owned_by(rs, d)) json_array_append(owned, rs);
    }
    size_t n = json_array_size(owned);
    json_t **v = vk_xcalloc(n + 1, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_array_get(owned, i);
    qsort(v, n, sizeof *v, cmp_revision);
    json_t *newrs = NULL;
    long max_old_rev = 0, all = 0;
    for (size_t i = 0; i < n; i++) {
        all += intval(at(v[i], "spec", "replicas"), 1);
        if (!newrs && equal_ignore_hash(json_object_get(json_object_get(v[i], "spec"), "template"),
                                        tmpl))
            newrs = v[i];
    }
    for (size_t i = 0; i < n; i++)
        if (v[i] != newrs && rs_revision(v[i]) > max_old_rev) max_old_rev = rs_revision(v[i]);
    long collision = intval(at(d, "status", "collisionCount"), -1);
    char hash[16];
    vk_controllers_template_hash(tmpl, collision, hash);
    int wrote = 0;
    if (!newrs && !paused) {
        long initial = desired;
        if (recreate) {
            for (size_t i = 0; i < n; i++)
                if (intval(at(v[i], "status", "replicas"), 0) > 0) initial = 0;
        } else {
            initial = vk_controllers_new_rs_scale_up(desired, surge, all, 0);
        }
        char rsname[300];
        snprintf(rsname, sizeof rsname, "%s-%s", mds(d, "name"), hash);
        if (vk_client_informer_get(k->rss, ns, rsname)) {
            /* That name is taken by a ReplicaSet that is not this template's
             * (another owner, or another template: a hash collision). As
             * upstream: count it in status.collisionCount, which the next
             * sync hashes in; never a create that keeps failing. */
            json_t *st = json_deep_copy(json_object_get(d, "status"));
            if (!json_is_object(st)) {
                json_decref(st);
                st = json_object();
            }
            json_object_set_new(st, "collisionCount", json_integer(collision < 0 ? 1 : collision + 1));
            write_status(k, key, "apps", "deployments", d, st);
            json_decref(st);
            goto out;
        }
        create_rs(k, key, d, hash, max_old_rev + 1, initial, desired + surge);
        goto out;
    }
    if (newrs && rs_revision(newrs) <= max_old_rev && !paused) {
        /* Rolled back to an old template: it becomes the newest revision. */
        json_t *o = json_deep_copy(newrs);
        json_t *ann = json_object_get(md(o), "annotations");
        if (!ann) json_object_set_new(md(o), "annotations", ann = json_object());
        char rev[32];
        snprintf(rev, sizeof rev, "%ld", max_old_rev + 1);
        json_object_set_new(ann, "deployment.kubernetes.io/revision", json_string(rev));
        update_obj(k, key, "apps", "replicasets", o, "revision of replicaset");
        json_decref(o);
        goto out;
    }
    if (!paused && newrs) {
        long newr = intval(at(newrs, "spec", "replicas"), 1);
        if (recreate) {
            int old_running = 0;
            for (size_t i = 0; i < n; i++) {
                if (v[i] == newrs) continue;
                if (intval(at(v[i], "spec", "replicas"), 1) > 0) {
                    scale_rs(k, key, v[i], 0);
                    wrote = 1;
                }
                if (intval(at(v[i], "status", "replicas"), 0) > 0) old_running = 1;
            }
            if (!wrote && !old_running && newr != desired) {
                scale_rs(k, key, newrs, desired);
                wrote = 1;
            }
        } else {
            if (newr > desired) {
                scale_rs(k, key, newrs, desired);
                wrote = 1;
            } else {
                long up = vk_controllers_new_rs_scale_up(desired, surge, all, newr);
                if (up > 0) {
                    scale_rs(k, key, newrs, newr + up);
                    wrote = 1;
                }
            }
            if (!wrote) {
                long min_avail = desired - unavail;
                long new_unavail = newr - intval(at(newrs, "status", "availableReplicas"), 0);
                long budget = vk_controllers_max_scale_down(all, min_avail, new_unavail);
                long total_avail = 0;
                for (size_t i = 0; i < n; i++)
                    total_avail += intval(at(v[i], "status", "availableReplicas"), 0);
                long avail_down = total_avail - min_avail;
                for (size_t i = 0; i < n && budget > 0; i++) {
                    if (v[i] == newrs) continue;
                    long r = intval(at(v[i], "spec", "replicas"), 1);
                    if (r <= 0) continue;
                    /* Unhealthy replicas go first, then available ones within
                     * the availability budget. */
                    long unhealthy = r - intval(at(v[i], "status", "availableReplicas"), 0);
                    if (unhealthy < 0) unhealthy = 0;
                    long down = unhealthy < budget ? unhealthy : budget;
                    long more = r - down;
                    if (more > budget - down) more = budget - down;
                    if (more > avail_down) more = avail_down;
                    if (more < 0) more = 0;
                    down += more;
                    avail_down -= more;
                    if (down > 0) {
                        scale_rs(k, key, v[i], r - down);
                        budget -= down;
                        wrote = 1;
                    }
                }
            }
        }
    }
    /* Revision history: delete the oldest scaled-down ReplicaSets over the limit. */
    long limit = intval(json_object_get(spec, "revisionHistoryLimit"), 10);
    long idle = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] != newrs && !intval(at(v[i], "spec", "replicas"), 1) &&
            !intval(at(v[i], "status", "replicas"), 0) && !terminating(v[i]))
            idle++;
    for (size_t i = 0; i < n && idle > limit; i++) {
        if (v[i] == newrs || intval(at(v[i], "spec", "replicas"), 1) ||
            intval(at(v[i], "status", "replicas"), 0) || terminating(v[i]))
            continue;
        char *path =
            vk_client_path("apps", "v1", "replicasets", ns, mds(v[i], "name"), NULL);
        vk_client_delete(k->cl, path, NULL, on_write, wctx(k, key, 0, "delete old replicaset"));
        free(path);
        idle--;
    }
    /* The Deployment's revision annotation follows the new ReplicaSet's. */
    if (newrs) {
        char rev[32];
        snprintf(rev, sizeof rev, "%ld", rs_revision(newrs));
        const char *cur = json_string_value(json_object_get(
            json_object_get(md(d), "annotations"), "deployment.kubernetes.io/revision"));
        if (!cur || strcmp(cur, rev)) {
            json_t *o = json_deep_copy(d);
            json_t *ann = json_object_get(md(o), "annotations");
            if (!ann) json_object_set_new(md(o), "annotations", ann = json_object());
            json_object_set_new(ann, "deployment.kubernetes.io/revision", json_string(rev));
            update_obj(k, key, "apps", "deployments", o, "revision of deployment");
            json_decref(o);
            goto out; /* the status waits for the next sync (same object) */
        }
    }
    /* Status. */
    long replicas = 0, ready = 0, avail = 0, spec_sum = 0;
    for (size_t i = 0; i < n; i++) {
        replicas += intval(at(v[i], "status", "replicas"), 0);
        ready += intval(at(v[i], "status", "readyReplicas"), 0);
        avail += intval(at(v[i], "status", "availableReplicas"), 0);
        spec_sum += intval(at(v[i], "spec", "replicas"), 1);
    }
    long updated = newrs ? intval(at(newrs, "status", "replicas"), 0) : 0;
    json_t *old = json_object_get(d, "status");
    json_t *st = json_object();
    json_object_set(st, "observedGeneration", json_object_get(md(d), "generation"));
    if (replicas) json_object_set_new(st, "replicas", json_integer(replicas));
    if (updated) json_object_set_new(st, "updatedReplicas", json_integer(updated));
    if (ready) json_object_set_new(st, "readyReplicas", json_integer(ready));
    if (avail) json_object_set_new(st, "availableReplicas", json_integer(avail));
    long unav = spec_sum - avail;
    if (unav < desired - avail) unav = desired - avail;
    if (unav > 0) json_object_set_new(st, "unavailableReplicas", json_integer(unav));
    if (json_object_get(old, "collisionCount"))
        json_object_set(st, "collisionCount", json_object_get(old, "collisionCount"));
    char now[32], msg[512];
    now_rfc3339(now, sizeof now);
    json_t *conds = json_array();
    int min_ok = avail >= desired - unavail;
    json_array_append_new(conds, condition(old, "Available", min_ok ? "True" : "False",
                                           min_ok ? "MinimumReplicasAvailable"
                                                  : "MinimumReplicasUnavailable",
                                           min_ok ? "Deployment has minimum availability."
                                                  : "Deployment does not have minimum availability.",
                                           now));
    const char *nname = newrs ? mds(newrs, "name") : "";
    if (paused) {
        json_array_append_new(conds, condition(old, "Progressing", "Unknown", "DeploymentPaused",
                                               "Deployment is paused", now));
    } else if (newrs && updated == desired && replicas == updated && avail >= updated &&
               intval(at(newrs, "spec", "replicas"), 1) == desired) {
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has successfully progressed.", nname);
        json_array_append_new(conds, condition(old, "Progressing", "True",
                                               "NewReplicaSetAvailable", msg, now));
    } else {
        /* Progress (any count moved) refreshes lastUpdateTime; no progress for
         * progressDeadlineSeconds turns Progressing False, as upstream. */
        static const char *const counts[] = {"replicas", "updatedReplicas", "readyReplicas",
                                             "availableReplicas"};
        int progress = 0;
        for (size_t i = 0; i < 4; i++)
            if (intval(json_object_get(old, counts[i]), 0) !=
                intval(json_object_get(st, counts[i]), 0))
                progress = 1;
        json_t *prev = NULL;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(old, "conditions"), i, c) {
            if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", "Progressing"))
                prev = c;
        }
        long deadline = intval(json_object_get(spec, "progressDeadlineSeconds"), 600);
        long last = prev ? parse_time(json_string_value(json_object_get(prev, "lastUpdateTime")))
                         : 0;
        const char *preason = prev ? json_string_value(json_object_get(prev, "reason")) : NULL;
        int was_done = preason && (!strcmp(preason, "NewReplicaSetAvailable") ||
                                   !strcmp(preason, "DeploymentPaused") ||
                                   !strcmp(preason, "DeploymentResumed"));
        int exceeded = preason && !strcmp(preason, "ProgressDeadlineExceeded");
        if (!progress && !was_done &&
            (exceeded || (last && last + deadline < (long)time(NULL)))) {
            snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.", nname);
            json_array_append_new(conds, condition(old, "Progressing", "False",
                                                   "ProgressDeadlineExceeded", msg, now));
        } else {
            snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", nname);
            json_t *pc = condition(old, "Progressing", "True", "ReplicaSetUpdated", msg, now);
            if (progress || was_done) {
                json_t *copy = json_deep_copy(pc);
                json_decref(pc);
                pc = copy;
                json_object_set_new(pc, "lastUpdateTime", json_string(now));
            }
            json_array_append_new(conds, pc);
        }
    }
    json_object_set_new(st, "conditions", conds);
    if (!json_equal(st, old)) write_status(k, key, "apps", "deployments", d, st);
    json_decref(st);
out:
    (void)wrote;
    free(v);
    json_decref(owned);
}

/* ------------------------------------------------------------ Job */

static int has_condition(json_t *o, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(at(o, "status", "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && !strcmp(t, type) && !strcmp(s, "True")) return 1;
    }
    return 0;
}

static void sync_job(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_t *j = vk_client_informer_get(k->jobs, ns, name);
    if (!j) {
        json_object_del(k->expect, key);
        return;
    }
    if (terminating(j)) return;
    char now[32];
    now_rfc3339(now, sizeof now);
    json_t *spec = json_object_get(j, "spec");
    int finished = has_condition(j, "Complete") || has_condition(j, "Failed");
    if (finished) {
        json_t *ttl = json_object_get(spec, "ttlSecondsAfterFinished");
        const char *done = json_string_value(at(j, "status", "completionTime"));
        if (!done) {
            size_t i;
            json_t *c;
            json_array_foreach(at(j, "status", "conditions"), i, c)
                done = json_string_value(json_object_get(c, "lastTransitionTime"));
        }
        if (json_is_integer(ttl) && parse_time(done) + json_integer_value(ttl) <= time(NULL)) {
            char *path = vk_client_path("batch", "v1", "jobs", ns, name, NULL);
            vk_client_delete(k->cl, path, "Background", on_write, wctx(k, key, 0, "ttl delete"));
            free(path);
        }
        return;
    }
    if (!expect_satisfied(k, key)) return;
    long par = intval(json_object_get(spec, "parallelism"), 1);
    json_t *compj = json_object_get(spec, "completions");
    long comp = intval(compj, -1);
    long backoff = intval(json_object_get(spec, "backoffLimit"), 6);
    long active = 0, succeeded = 0, failed = 0, ready = 0;
    json_t *act = json_array();
    vk_client_iter_t pit;
    json_t *p;
    vk_client_informer_foreach_where(k->pods, ns, vk_client_text_has, (char *)(mds(j, "uid") ?: ""),
                                     pit, p) {
        if (!owned_by(p, j)) continue;
        const char *ph = pod_phase(p);
        if (!strcmp(ph, "Succeeded"))
            succeeded++;
        else if (!strcmp(ph, "Failed"))
            failed++;
        else if (!terminating(p)) {
            active++;
            json_array_append(act, p);
            if (pod_ready(p, NULL)) ready++;
        }
    }
    json_t *old = json_object_get(j, "status");
    json_t *st = json_deep_copy(old);
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    if (!json_object_get(st, "startTime")) json_object_set_new(st, "startTime", json_string(now));
    json_t *conds = json_deep_copy(json_object_get(st, "conditions"));
    if (!json_is_array(conds)) {
        json_decref(conds);
        conds = json_array();
    }
    int complete = comp >= 0 ? succeeded >= comp : (succeeded > 0 && active == 0);
    int failing = failed > backoff;
    size_t i;
    if (failing) {
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "FailureTarget",
                                               "status", "True", "lastProbeTime", now,
                                               "lastTransitionTime", now, "reason",
                                               "BackoffLimitExceeded", "message",
                                               "Job has reached the specified backoff limit"));
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Failed",
                                               "status", "True", "lastProbeTime", now,
                                               "lastTransitionTime", now, "reason",
                                               "BackoffLimitExceeded", "message",
                                               "Job has reached the specified backoff limit"));
        for (i = 0; i < json_array_size(act); i++) delete_pod(k, key, json_array_get(act, i));
        if (json_array_size(act)) expect_add(k, key, (long)json_array_size(act));
        active = 0;
    } else if (complete) {
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type",
                                               "SuccessCriteriaMet", "status", "True",
                                               "lastProbeTime", now, "lastTransitionTime", now,
                                               "reason", "CompletionsReached", "message",
                                               "Reached expected number of succeeded pods"));
        json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Complete",
                                               "status", "True", "lastProbeTime", now,
                                               "lastTransitionTime", now, "reason",
                                               "CompletionsReached", "message",
                                               "Reached expected number of succeeded pods"));
        json_object_set_new(st, "completionTime", json_string(now));
        for (i = 0; i < json_array_size(act); i++) delete_pod(k, key, json_array_get(act, i));
        if (json_array_size(act)) expect_add(k, key, (long)json_array_size(act));
        active = 0;
    } else if (!json_is_true(json_object_get(spec, "suspend"))) {
        long want = par;
        if (comp >= 0 && comp - succeeded < want) want = comp - succeeded;
        if (active < want) {
            long nnew = want - active;
            if (nnew > BURST) nnew = BURST;
            expect_add(k, key, nnew);
            json_t *ref = owner_ref(j, "batch/v1", "Job");
            json_t *extra = json_pack("{s:s,s:s,s:s,s:s}", "batch.kubernetes.io/job-name", name,
                                      "job-name", name, "batch.kubernetes.io/controller-uid",
                                      mds(j, "uid"), "controller-uid", mds(j, "uid"));
            for (long x = 0; x < nnew; x++)
                create_pod(k, key, j, json_object_get(spec, "template"), ref, extra);
            json_decref(extra);
            json_decref(ref);
        }
    }
    json_object_set_new(st, "conditions", conds);
    if (!json_array_size(conds)) json_object_del(st, "conditions");
    json_object_set_new(st, "active", json_integer(active));
    json_object_set_new(st, "succeeded", json_integer(succeeded));
    json_object_set_new(st, "failed", json_integer(failed));
    json_object_set_new(st, "ready", json_integer(ready));
    static const char *const zero[] = {"active", "succeeded", "failed"};
    for (i = 0; i < 3; i++)
        if (!json_integer_value(json_object_get(st, zero[i]))) json_object_del(st, zero[i]);
    if (!json_equal(st, old)) write_status(k, key, "batch", "jobs", j, st);
    json_decref(st);
    json_decref(act);
}

/* ------------------------------------------------------------ CronJob */

static void fmt_time(long long t, char *buf, size_t n)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmp_job_start(const void *a, const void *b)
{
    const char *x = mds(*(json_t *const *)a, "creationTimestamp");
    const char *y = mds(*(json_t *const *)b, "creationTimestamp");
    int c = strcmp(x ? x : "", y ? y : "");
    return c ? c : strcmp(mds(*(json_t *const *)a, "name"), mds(*(json_t *const *)b, "name"));
}

/* Deletes the oldest of the finished jobs in arr beyond limit. */
static void prune_jobs(vk_controllers_t *k, const char *key, json_t *arr, long limit)
{
    size_t n = json_array_size(arr);
    if ((long)n <= limit) return;
    json_t **v = vk_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_array_get(arr, i);
    qsort(v, n, sizeof *v, cmp_job_start);
    for (size_t i = 0; i + (size_t)limit < n; i++) {
        if (terminating(v[i])) continue;
        char *path = vk_client_path("batch", "v1", "jobs", mds(v[i], "namespace"),
                                    mds(v[i], "name"), NULL);
        vk_client_delete(k->cl, path, "Background", on_write, wctx(k, key, 0, "prune job"));
        free(path);
    }
    free(v);
}

static void sync_cronjob(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_t *cj = vk_client_informer_get(k->cjobs, ns, name);
    if (!cj || terminating(cj)) return;
    json_t *spec = json_object_get(cj, "spec");
    vk_controllers_cron_t cron;
    const char *sched = json_string_value(json_object_get(spec, "schedule"));
    if (!sched || vk_controllers_cron_parse(sched, &cron)) {
        vk_log_warn("controllers: cronjob %s/%s: unparseable schedule \"%s\"", ns, name,
                    sched ? sched : "");
        return;
    }
    json_t *active = json_array(), *ok_jobs = json_array(), *failed_jobs = json_array();
    const char *jk;
    json_t *j;
    const char *last_success = NULL;
    json_object_foreach(vk_client_informer_items(k->jobs), jk, j) {
        if (strcmp(mds(j, "namespace") ?: "", ns) || !owned_by(j, cj)) continue;
        if (has_condition(j, "Complete")) {
            json_array_append(ok_jobs, j);
            const char *ct = json_string_value(at(j, "status", "completionTime"));
            if (ct && (!last_success || strcmp(ct, last_success) > 0)) last_success = ct;
        } else if (has_condition(j, "Failed")) {
            json_array_append(failed_jobs, j);
        } else if (!terminating(j)) {
            json_array_append(active, j);
        }
    }
    prune_jobs(k, key, ok_jobs, intval(json_object_get(spec, "successfulJobsHistoryLimit"), 3));
    prune_jobs(k, key, failed_jobs, intval(json_object_get(spec, "failedJobsHistoryLimit"), 1));
    long long now = (long long)time(NULL);
    const char *lst = json_string_value(at(cj, "status", "lastScheduleTime"));
    long long last = lst ? parse_time(lst) : parse_time(mds(cj, "creationTimestamp"));
    /* The most recent scheduled time not after now (missed ones are skipped, as
     * upstream does once it starts a job). */
    long long due = -1;
    for (long long t = vk_controllers_cron_next(&cron, last); t > 0 && t <= now;
         t = vk_controllers_cron_next(&cron, t))
        due = t;
    json_t *st = json_deep_copy(json_object_get(cj, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    const char *policy = json_string_value(json_object_get(spec, "concurrencyPolicy"));
    long deadline = intval(json_object_get(spec, "startingDeadlineSeconds"), -1);
    int fire = due > 0 && !json_is_true(json_object_get(spec, "suspend")) &&
               (deadline < 0 || now - due <= deadline);
    if (fire && policy && !strcmp(policy, "Forbid") && json_array_size(active)) fire = 0;
    if (fire) {
        if (policy && !strcmp(policy, "Replace")) {
            size_t i;
            json_array_foreach(active, i, j) {
                char *path = vk_client_path("batch", "v1", "jobs", ns, mds(j, "name"), NULL);
                vk_client_delete(k->cl, path, "Background", on_write,
                                 wctx(k, key, 0, "replace job"));
                free(path);
            }
            json_array_clear(active);
        }
        json_t *jt = json_object_get(spec, "jobTemplate");
        char jname[340], ts[32];
        snprintf(jname, sizeof jname, "%s-%lld", name, due / 60);
        fmt_time(due, ts, sizeof ts);
        json_t *m = json_object();
        json_object_set_new(m, "name", json_string(jname));
        json_object_set_new(m, "namespace", json_string(ns));
        json_t *labels = at(jt, "metadata", "labels");
        if (labels) json_object_set(m, "labels", labels);
        json_t *ann = json_deep_copy(at(jt, "metadata", "annotations"));
        if (!ann) ann = json_object();
        json_object_set_new(ann, "batch.kubernetes.io/cronjob-scheduled-timestamp",
                            json_string(ts));
        json_object_set_new(m, "annotations", ann);
        json_object_set_new(m, "ownerReferences",
                            json_pack("[o]", owner_ref(cj, "batch/v1", "CronJob")));
        json_t *job = json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", "batch/v1", "kind", "Job",
                                "metadata", m, "spec", json_object_get(jt, "spec"));
        char *path = vk_client_path("batch", "v1", "jobs", ns, NULL, NULL);
        vk_client_create(k->cl, path, job, on_write, wctx(k, key, 0, "create job"));
        free(path);
        json_decref(job);
        json_object_set_new(st, "lastScheduleTime", json_string(ts));
        json_array_append_new(active, json_pack("{s:{s:s}}", "metadata", "name", jname));
    } else if (due > 0) {
        /* Skipped (Forbid, deadline, suspended): remember it was due. */
        char ts[32];
        fmt_time(due, ts, sizeof ts);
        if (json_is_true(json_object_get(spec, "suspend")) || (deadline >= 0 && now - due > deadline))
            json_object_set_new(st, "lastScheduleTime", json_string(ts));
    }
    json_t *refs = json_array();
    size_t i;
    json_array_foreach(active, i, j)
        json_array_append_new(refs, json_pack("{s:s,s:s,s:s,s:s}", "kind", "Job", "namespace", ns,
                                              "name", mds(j, "name"), "apiVersion", "batch/v1"));
    if (json_array_size(refs))
        json_object_set_new(st, "active", refs);
    else {
        json_object_del(st, "active");
        json_decref(refs);
    }
    if (last_success) json_object_set_new(st, "lastSuccessfulTime", json_string(last_success));
    if (!json_equal(st, json_object_get(cj, "status")))
        write_status(k, key, "batch", "cronjobs", cj, st);
    json_decref(st);
    json_decref(active);
    json_decref(ok_jobs);
    json_decref(failed_jobs);
}

/* ------------------------------------------------------------ ControllerRevisions */

/* What upstream stores as a StatefulSet's or DaemonSet's revision: the patch
 * {"spec":{"template":<template>,"$patch":"replace"}} that `kubectl rollout
 * undo` applies back (the template as Go encodes it: a zero creationTimestamp
 * is omitted). New reference. */
static json_t *revision_data(json_t *tmpl)
{
    json_t *t = json_is_object(tmpl) ? json_deep_copy(tmpl) : json_object();
    json_t *m = json_object_get(t, "metadata");
    if (json_is_null(json_object_get(m, "creationTimestamp"))) json_object_del(m, "creationTimestamp");
    json_object_set_new(t, "$patch", json_string("replace"));
    return json_pack("{s:{s:o}}", "spec", "template", t);
}

/* The template a revision holds, borrowed; NULL if it holds none. */
static json_t *revision_template(json_t *cr)
{
    return at(at(cr, "data", "spec"), "template", NULL);
}

static long cr_revision(json_t *cr)
{
    return intval(json_object_get(cr, "revision"), 0);
}

static int cmp_cr_revision(const void *a, const void *b)
{
    long x = cr_revision(*(json_t *const *)a), y = cr_revision(*(json_t *const *)b);
    if (x != y) return x < y ? -1 : 1;
    return strcmp(mds(*(json_t *const *)a, "name") ?: "", mds(*(json_t *const *)b, "name") ?: "");
}

/* The revisions owner controls, oldest first (borrowed items). New reference. */
static json_t *owned_revisions(vk_controllers_t *k, json_t *owner)
{
    json_t *arr = json_array();
    const char *ck, *ns = mds(owner, "namespace") ?: "";
    json_t *cr;
    json_object_foreach(vk_client_informer_items(k->revs), ck, cr) {
        if (!strcmp(mds(cr, "namespace") ?: "", ns) && owned_by(cr, owner) && !terminating(cr))
            json_array_append(arr, cr);
    }
    size_t n = json_array_size(arr);
    if (n > 1) {
        json_t **v = vk_xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
        qsort(v, n, sizeof *v, cmp_cr_revision);
        json_array_clear(arr);
        for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
        free(v);
    }
    return arr;
}

/* The revision named name among revs, borrowed; NULL if none. */
static json_t *find_revision(json_t *revs, const char *name)
{
    size_t i;
    json_t *cr;
    json_array_foreach(revs, i, cr) {
        if (name && !strcmp(mds(cr, "name") ?: "", name)) return cr;
    }
    return NULL;
}

/* Makes sure a revision with data exists and is the newest: an equal older
 * one gets the next revision number (a rollback, as upstream), otherwise
 * "<owner>-<hash>" is created with labels (template labels plus
 * hash_label=hash) and the owner's annotations. name_out gets its name.
 * Returns 0, or -1 if that name is taken by a revision with other data (a
 * hash collision: the caller bumps status.collisionCount). */
static int ensure_revision(vk_controllers_t *k, const char *key, json_t *owner, const char *kind,
                           json_t *revs, json_t *data, const char *hash_label, const char *hash,
                           char *name_out, size_t name_len)
{
    long max = 0;
    json_t *equal = NULL;
    size_t i;
    json_t *cr;
    json_array_foreach(revs, i, cr) {
        if (cr_revision(cr) > max) max = cr_revision(cr);
        if (json_equal(json_object_get(cr, "data"), data)) equal = cr;
    }
    if (equal) {
        snprintf(name_out, name_len, "%s", mds(equal, "name"));
        if (cr_revision(equal) < max) {
            json_t *o = json_deep_copy(equal);
            json_object_set_new(o, "revision", json_integer(max + 1));
            update_obj(k, key, "apps", "controllerrevisions", o, "bump controllerrevision");
            json_decref(o);
        }
        return 0;
    }
    /* Upstream cuts the owner's name so that the whole name fits 253. */
    snprintf(name_out, name_len, "%.223s-%s", mds(owner, "name"), hash);
    const char *ck;
    json_object_foreach(vk_client_informer_items(k->revs), ck, cr) {
        if (!strcmp(mds(cr, "namespace") ?: "", mds(owner, "namespace") ?: "") &&
            !strcmp(mds(cr, "name") ?: "", name_out))
            return json_equal(json_object_get(cr, "data"), data) ? 0 : -1;
    }
    json_t *labels = json_deep_copy(at(at(owner, "spec", "template"), "metadata", "labels"));
    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    json_object_set_new(labels, hash_label, json_string(hash));
    json_t *m = json_pack("{s:s,s:s,s:o,s:[o]}", "name", name_out, "namespace",
                          mds(owner, "namespace"), "labels", labels, "ownerReferences",
                          owner_ref(owner, "apps/v1", kind));
    json_t *ann = json_object_get(md(owner), "annotations");
    if (json_object_size(ann)) json_object_set(m, "annotations", ann);
    json_t *o = json_pack("{s:s,s:s,s:o,s:O,s:I}", "apiVersion", "apps/v1", "kind",
                          "ControllerRevision", "metadata", m, "data", data, "revision",
                          (json_int_t)(max + 1));
    char *path = vk_client_path("apps", "v1", "controllerrevisions", mds(owner, "namespace"), NULL,
                                NULL);
    vk_client_create(k->cl, path, o, on_write, wctx(k, key, 0, "create controllerrevision"));
    free(path);
    json_decref(o);
    return 0;
}

/* Deletes the oldest revisions beyond limit that no live pod uses and that
 * are not named in keep (live: name -> true). */
static void truncate_history(vk_controllers_t *k, const char *key, json_t *revs, json_t *live,
                             long limit)
{
    size_t n = 0, i;
    json_t *cr;
    json_array_foreach(revs, i, cr) {
        if (!json_object_get(live, mds(cr, "name"))) n++;
    }
    json_array_foreach(revs, i, cr) {
        if ((long)n <= limit) break;
        if (json_object_get(live, mds(cr, "name"))) continue;
        char *path = vk_client_path("apps", "v1", "controllerrevisions", mds(cr, "namespace"),
                                    mds(cr, "name"), NULL);
        vk_client_delete(k->cl, path, NULL, on_write, wctx(k, key, 0, "delete controllerrevision"));
        free(path);
        n--;
    }
}

/* ------------------------------------------------------------ StatefulSet */

/* Ordinal of a pod named "<set>-<N>", or -1. */
static long sts_ordinal(const char *set, const char *pod)
{
    size_t n = strlen(set);
    if (strncmp(pod, set, n) || pod[n] != '-' || !pod[n + 1]) return -1;
    char *end;
    long v = strtol(pod + n + 1, &end, 10);
    return *end || v < 0 ? -1 : v;
}

static void sts_create_pod(vk_controllers_t *k, const char *key, json_t *set, long ord,
                           json_t *tmpl, const char *revision)
{
    json_t *spec = json_object_get(set, "spec");
    const char *name = mds(set, "name"), *ns = mds(set, "namespace");
    char pod[340], idx[32];
    snprintf(pod, sizeof pod, "%s-%ld", name, ord);
    snprintf(idx, sizeof idx, "%ld", ord);
    json_t *labels = json_deep_copy(at(tmpl, "metadata", "labels"));
    if (!labels) labels = json_object();
    json_object_set_new(labels, "statefulset.kubernetes.io/pod-name", json_string(pod));
    json_object_set_new(labels, "apps.kubernetes.io/pod-index", json_string(idx));
    json_object_set_new(labels, "controller-revision-hash", json_string(revision));
    json_t *m = json_pack("{s:s,s:s,s:o,s:[o]}", "name", pod, "namespace", ns, "labels", labels,
                          "ownerReferences", owner_ref(set, "apps/v1", "StatefulSet"));
    json_t *ann = at(tmpl, "metadata", "annotations");
    if (ann) json_object_set(m, "annotations", ann);
    json_t *ps = json_deep_copy(json_object_get(tmpl, "spec"));
    json_object_set_new(ps, "hostname", json_string(pod));
    const char *svc = json_string_value(json_object_get(spec, "serviceName"));
    if (svc && *svc) json_object_set_new(ps, "subdomain", json_string(svc));
    /* Each volumeClaimTemplate becomes the pod's volume of that name. */
    json_t *vols = json_object_get(ps, "volumes");
    if (!json_is_array(vols)) json_object_set_new(ps, "volumes", vols = json_array());
    size_t i;
    json_t *vct;
    json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), i, vct) {
        const char *vn = mds(vct, "name");
        if (!vn) continue;
        char claim[700];
        snprintf(claim, sizeof claim, "%s-%s", vn, pod);
        size_t j;
        json_t *v;
        json_array_foreach(vols, j, v) {
            if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", vn)) {
                json_array_remove(vols, j);
                break;
            }
        }
        json_array_append_new(vols, json_pack("{s:s,s:{s:s}}", "name", vn,
                                              "persistentVolumeClaim", "claimName", claim));
    }
    if (!json_array_size(vols)) json_object_del(ps, "volumes");
    json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", m,
                          "spec", ps);
    char *path = vk_client_path("", "v1", "pods", ns, NULL, NULL);
    vk_client_create(k->cl, path, o, on_write, wctx(k, key, 1, "create pod"));
    free(path);
    json_decref(o);
}

/* Creates the pod's missing claims (they outlive the pods, as upstream's Retain). */
static void sts_claims(vk_controllers_t *k, const char *key, json_t *set, long ord)
{
    const char *name = mds(set, "name"), *ns = mds(set, "namespace");
    size_t i;
    json_t *vct;
    json_array_foreach(at(set, "spec", "volumeClaimTemplates"), i, vct) {
        const char *vn = mds(vct, "name");
        if (!vn) continue;
        char claim[700];
        snprintf(claim, sizeof claim, "%s-%s-%ld", vn, name, ord);
        if (vk_client_informer_get(k->pvcs, ns, claim)) continue;
        json_t *labels = json_deep_copy(at(at(set, "spec", "selector"), "matchLabels", NULL));
        if (!labels) labels = json_object();
        json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:O}", "apiVersion", "v1", "kind",
                              "PersistentVolumeClaim", "metadata", "name", claim, "namespace", ns,
                              "labels", labels, "spec", json_object_get(vct, "spec"));
        char *path = vk_client_path("", "v1", "persistentvolumeclaims", ns, NULL, NULL);
        vk_client_create(k->cl, path, o, on_write, wctx(k, key, 0, "create claim"));
        free(path);
        json_decref(o);
    }
}

static void sync_sts(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_t *set = vk_client_informer_get(k->stss, ns, name);
    if (!set) {
        json_object_del(k->expect, key);
        return;
    }
    if (terminating(set) || !expect_satisfied(k, key)) return;
    json_t *spec = json_object_get(set, "spec");
    long want = intval(json_object_get(spec, "replicas"), 1);
    const char *pmp = json_string_value(json_object_get(spec, "podManagementPolicy"));
    int parallel = pmp && !strcmp(pmp, "Parallel");
    const char *ut = json_string_value(at(spec, "updateStrategy", "type"));
    int on_delete = ut && !strcmp(ut, "OnDelete");
    long partition = intval(at(at(spec, "updateStrategy", "rollingUpdate"), "partition", NULL), 0);
    /* The update revision: upstream hashes (FNV-1, not 1a) the revision's
     * bytes, the patch as Go's encoding/json writes a map (sorted keys, HTML
     * characters escaped), then the collision count in decimal. */
    json_t *revs = owned_revisions(k, set);
    json_t *data = revision_data(json_object_get(spec, "template"));
    long collision = intval(at(set, "status", "collisionCount"), 0);
    char *raw = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)raw; *c; c++) {
        char esc[8];
        const char *b = (const char *)c;
        size_t bn = 1;
        if (*c == '<' || *c == '>' || *c == '&') {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            b = esc;
            bn = 6;
        } else if (c[0] == 0xe2 && c[1] == 0x80 && (c[2] == 0xa8 || c[2] == 0xa9)) {
            snprintf(esc, sizeof esc, "\\u%04x", c[2] == 0xa8 ? 0x2028 : 0x2029);
            b = esc;
            bn = 6;
            c += 2;
        }
        for (size_t i = 0; i < bn; i++) h = (h * 16777619u) ^ (unsigned char)b[i];
    }
    char dec[24], hash[16], rev[300];
    snprintf(dec, sizeof dec, "%ld", collision);
    for (const char *c = dec; *c; c++) h = (h * 16777619u) ^ (unsigned char)*c;
    snprintf(dec, sizeof dec, "%u", h);
    vk_controllers_safe_encode(dec, hash);
    free(raw);
    if (ensure_revision(k, key, set, "StatefulSet", revs, data, "controller.kubernetes.io/hash",
                        hash, rev, sizeof rev) < 0) {
        json_t *st = json_deep_copy(json_object_get(set, "status"));
        if (!json_is_object(st)) {
            json_decref(st);
            st = json_object();
        }
        json_object_set_new(st, "collisionCount", json_integer(collision + 1));
        write_status(k, key, "apps", "statefulsets", set, st);
        json_decref(st);
        json_decref(revs);
        json_decref(data);
        return;
    }
    json_decref(data);
    /* The current revision: the one in status while it exists, else the update one. */
    const char *cur_rev = json_string_value(at(set, "status", "currentRevision"));
    json_t *cur_cr = find_revision(revs, cur_rev);
    if (!cur_cr || !revision_template(cur_cr)) cur_rev = rev;
    json_t *cur_tmpl = strcmp(cur_rev, rev) ? revision_template(cur_cr) : NULL;
    /* Pods by ordinal. */
    long cap = want + 64;
    json_t **pods = vk_xcalloc((size_t)cap, sizeof *pods);
    long maxord = -1, count = 0, ready = 0, updated = 0, current = 0;
    json_t *extra = json_array(); /* owned pods with ordinals >= cap */
    vk_client_iter_t pit;
    json_t *p;
    json_t *live = json_pack("{s:b,s:b}", rev, 1, cur_rev, 1);
    vk_client_informer_foreach_where(k->pods, ns, vk_client_text_has,
                                     (char *)(mds(set, "uid") ?: ""), pit, p) {
        if (!owned_by(p, set)) continue;
        long o = sts_ordinal(name, mds(p, "name"));
        if (o < 0) continue;
        count++;
        if (o < cap) {
            json_decref(pods[o]); /* references: the iteration releases p */
            pods[o] = json_incref(p);
        } else
            json_array_append(extra, p);
        if (o > maxord) maxord = o;
        if (pod_ready(p, NULL) && pod_active(p)) ready++;
        const char *pr = json_string_value(json_object_get(json_object_get(md(p), "labels"),
                                                           "controller-revision-hash"));
        if (pr) json_object_set_new(live, pr, json_true());
        if (pr && !strcmp(pr, rev)) updated++;
        else if (pr && !strcmp(pr, cur_rev)) current++;
    }
    int acted = 0;
    /* Failed or succeeded pods are replaced. */
    for (long o = 0; o < want && o < cap && !acted; o++) {
        if (pods[o] && !terminating(pods[o]) && !pod_active(pods[o])) {
            expect_add(k, key, 1);
            delete_pod(k, key, pods[o]);
            acted = !parallel;
        }
    }
    /* Scale up: in order, each waits for the previous ones to be Running and Ready. */
    for (long o = 0; o < want && o < cap && !acted; o++) {
        if (pods[o]) {
            if (!parallel && (!pod_ready(pods[o], NULL) || terminating(pods[o]))) acted = 1;
            continue;
        }
        sts_claims(k, key, set, o);
        expect_add(k, key, 1);
        /* As upstream: below the partition, or (rolling, no partition) below
         * the count of current pods, a pod is made at the current revision. */
        int at_current = cur_tmpl && ((partition > 0 && o < partition) ||
                                      (!on_delete && partition <= 0 && o < current));
        if (at_current)
            sts_create_pod(k, key, set, o, cur_tmpl, cur_rev);
        else
            sts_create_pod(k, key, set, o, json_object_get(spec, "template"), rev);
        if (!parallel) acted = 1;
    }
    /* Scale down: highest ordinal first (one at a time unless Parallel). */
    if (!acted) {
        size_t i;
        json_array_foreach(extra, i, p) {
            if (!terminating(p)) {
                expect_add(k, key, 1);
                delete_pod(k, key, p);
                acted = !parallel;
            }
        }
        for (long o = (maxord < cap ? maxord : cap - 1); o >= want && !acted; o--) {
            if (!pods[o] || terminating(pods[o])) {
                if (pods[o] && !parallel) acted = 1;
                continue;
            }
            expect_add(k, key, 1);
            delete_pod(k, key, pods[o]);
            if (!parallel) acted = 1;
        }
    }
    /* Rolling update: highest ordinal first down to the partition, one pod at a
     * time once every pod is ready. */
    if (!acted && !on_delete && ready == want && count == want) {
        for (long o = want - 1; o >= partition && o >= 0 && o < cap; o--) {
            const char *pr = pods[o] ? json_string_value(json_object_get(
                                           json_object_get(md(pods[o]), "labels"),
                                           "controller-revision-hash"))
                                     : NULL;
            if (pods[o] && (!pr || strcmp(pr, rev))) {
                expect_add(k, key, 1);
                delete_pod(k, key, pods[o]);
                break;
            }
        }
    }
    json_t *st = json_deep_copy(json_object_get(set, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    json_object_set(st, "observedGeneration", json_object_get(md(set), "generation"));
    json_object_set_new(st, "replicas", json_integer(count));
    json_object_set_new(st, "readyReplicas", json_integer(ready));
    json_object_set_new(st, "availableReplicas", json_integer(ready));
    json_object_set_new(st, "updatedReplicas", json_integer(updated));
    json_object_set_new(st, "updateRevision", json_string(rev));
    if (!strcmp(cur_rev, rev) || (updated == want && count == want && ready == want)) {
        json_object_set_new(st, "currentRevision", json_string(rev));
        json_object_set_new(st, "currentReplicas", json_integer(updated));
    } else {
        json_object_set_new(st, "currentReplicas", json_integer(current));
    }
    if (!json_object_get(st, "collisionCount")) json_object_set_new(st, "collisionCount", json_integer(0));
    static const char *const zero[] = {"readyReplicas", "availableReplicas", "updatedReplicas",
                                       "currentReplicas"};
    for (size_t i = 0; i < 4; i++)
        if (!json_integer_value(json_object_get(st, zero[i]))) json_object_del(st, zero[i]);
    if (!json_equal(st, json_object_get(set, "status")))
        write_status(k, key, "apps", "statefulsets", set, st);
    json_decref(st);
    truncate_history(k, key, revs, live,
                     intval(json_object_get(spec, "revisionHistoryLimit"), 10));
    json_decref(live);
    json_decref(revs);
    json_decref(extra);
    for (long o = 0; o < cap; o++) json_decref(pods[o]);
    free(pods);
}

/* ------------------------------------------------------------ DaemonSet */

/* The node a daemon pod is for: spec.nodeName, else the metadata.name term of
 * its required node affinity (as upstream's daemon pods carry). Borrowed. */
static const char *ds_pod_node(json_t *p)
{
    const char *n = json_string_value(at(p, "spec", "nodeName"));
    if (n && *n) return n;
    json_t *terms = at(at(at(at(p, "spec", "affinity"), "nodeAffinity", NULL),
                          "requiredDuringSchedulingIgnoredDuringExecution", NULL),
                       "nodeSelectorTerms", NULL);
    size_t i, j;
    json_t *t, *f;
    json_array_foreach(terms, i, t) {
        json_array_foreach(json_object_get(t, "matchFields"), j, f) {
            const char *key = json_string_value(json_object_get(f, "key"));
            if (key && !strcmp(key, "metadata.name"))
                return json_string_value(json_array_get(json_object_get(f, "values"), 0));
        }
    }
    return NULL;
}

static int ds_node_fits(json_t *ds, json_t *node)
{
    json_t *sel = at(at(ds, "spec", "template"), "spec", NULL);
    sel = json_object_get(sel, "nodeSelector");
    const char *k;
    json_t *v;
    json_t *labels = json_object_get(md(node), "labels");
    json_object_foreach(sel, k, v) {
        json_t *have = json_object_get(labels, k);
        if (!have || !json_equal(have, v)) return 0;
    }
    return !terminating(node);
}

static void ds_create_pod(vk_controllers_t *k, const char *key, json_t *ds, const char *node,
                          const char *hash)
{
    json_t *tmpl = json_deep_copy(at(ds, "spec", "template"));
    json_t *tm = json_object_get(tmpl, "metadata");
    if (!tm) json_object_set_new(tmpl, "metadata", tm = json_object());
    json_t *ps = json_object_get(tmpl, "spec");
    json_object_set_new(ps, "affinity",
                        json_pack("{s:{s:{s:[{s:[{s:s,s:s,s:[s]}]}]}}}", "nodeAffinity",
                                  "requiredDuringSchedulingIgnoredDuringExecution",
                                  "nodeSelectorTerms", "matchFields", "key", "metadata.name",
                                  "operator", "In", "values", node));
    json_t *tol = json_object_get(ps, "tolerations");
    if (!json_is_array(tol)) json_object_set_new(ps, "tolerations", tol = json_array());
    static const char *const taints[][2] = {
        {"node.kubernetes.io/not-ready", "NoExecute"},
        {"node.kubernetes.io/unreachable", "NoExecute"},
        {"node.kubernetes.io/disk-pressure", "NoSchedule"},
        {"node.kubernetes.io/memory-pressure", "NoSchedule"},
        {"node.kubernetes.io/pid-pressure", "NoSchedule"},
        {"node.kubernetes.io/unschedulable", "NoSchedule"}};
    for (size_t i = 0; i < sizeof taints / sizeof taints[0]; i++)
        json_array_append_new(tol, json_pack("{s:s,s:s,s:s}", "key", taints[i][0], "operator",
                                             "Exists", "effect", taints[i][1]));
    char gen[32];
    snprintf(gen, sizeof gen, "%ld", intval(json_object_get(md(ds), "generation"), 1));
    json_t *extra = json_pack("{s:s,s:s}", "controller-revision-hash", hash,
                              "pod-template-generation", gen);
    json_t *ref = owner_ref(ds, "apps/v1", "DaemonSet");
    create_pod(k, key, ds, tmpl, ref, extra);
    json_decref(ref);
    json_decref(extra);
    json_decref(tmpl);
}

static void sync_ds(vk_controllers_t *k, const char *key, const char *ns, const char *name)
{
    json_t *ds = vk_client_informer_get(k->dss, ns, name);
    if (!ds) {
        json_object_del(k->expect, key);
        return;
    }
    if (terminating(ds) || !expect_satisfied(k, key)) return;
    /* The revision: named after the template hash (as upstream), its pods
     * labelled with the hash. A rollback reuses the older revision's hash. */
    char hash[16], crname[300];
    long collision = intval(at(ds, "status", "collisionCount"), -1);
    vk_controllers_template_hash(at(ds, "spec", "template"), collision, hash);
    json_t *revs = owned_revisions(k, ds);
    json_t *data = revision_data(at(ds, "spec", "template"));
    int rc = ensure_revision(k, key, ds, "DaemonSet", revs, data, "controller-revision-hash", hash,
                             crname, sizeof crname);
    json_decref(data);
    if (rc < 0) {
        json_t *st = json_deep_copy(json_object_get(ds, "status"));
        if (!json_is_object(st)) {
            json_decref(st);
            st = json_object();
        }
        json_object_set_new(st, "collisionCount", json_integer(collision < 0 ? 1 : collision + 1));
        write_status(k, key, "apps", "daemonsets", ds, st);
        json_decref(st);
        json_decref(revs);
        return;
    }
    const char *crh = json_string_value(
        json_object_get(json_object_get(md(find_revision(revs, crname)), "labels"),
                        "controller-revision-hash"));
    if (crh && strlen(crh) < sizeof hash) snprintf(hash, sizeof hash, "%s", crh);
    long min_ready = intval(at(ds, "spec", "minReadySeconds"), 0), now = (long)time(NULL);
    const char *ut = json_string_value(at(at(ds, "spec", "updateStrategy"), "type", NULL));
    int on_delete = ut && !strcmp(ut, "OnDelete");
    /* node name -> array of its active daemon pods */
    json_t *by_node = json_object();
    vk_client_iter_t pit;
    json_t *p;
    long misscheduled = 0;
    vk_client_informer_foreach_where(k->pods, ns, vk_client_text_has,
                                     (char *)(mds(ds, "uid") ?: ""), pit, p) {
        if (!owned_by(p, ds) || !pod_active(p)) continue;
        const char *node = ds_pod_node(p);
        if (!node) continue;
        json_t *arr = json_object_get(by_node, node);
        if (!arr) json_object_set_new(by_node, node, arr = json_array());
        json_array_append(arr, p);
    }
    long desired = 0, scheduled = 0, ready = 0, avail = 0, updated = 0, unavailable_now = 0;
    json_t *stale = json_array();
    const char *nk;
    json_t *node;
    json_object_foreach(vk_client_informer_items(k->nodes), nk, node) {
        const char *nn = mds(node, "name");
        json_t *arr = json_object_get(by_node, nn);
        if (!ds_node_fits(ds, node)) continue;
        desired++;
        if (!arr) {
            expect_add(k, key, 1);
            ds_create_pod(k, key, ds, nn, hash);
            unavailable_now++;
            continue;
        }
        scheduled++;
        json_t *first = json_array_get(arr, 0);
        /* Extra pods on one node go. */
        for (size_t i = 1; i < json_array_size(arr); i++) {
            expect_add(k, key, 1);
            delete_pod(k, key, json_array_get(arr, i));
        }
        if (pod_ready(first, NULL)) ready++;
        if (pod_available(first, min_ready, now))
            avail++;
        else
            unavailable_now++;
        const char *h = json_string_value(
            json_object_get(json_object_get(md(first), "labels"), "controller-revision-hash"));
        if (h && !strcmp(h, hash))
            updated++;
        else
            json_array_append(stale, first);
    }
    /* Pods on nodes that are gone or no longer fit. */
    json_object_foreach(by_node, nk, p) {
        json_t *nd = vk_client_informer_get(k->nodes, "", nk);
        if (nd && ds_node_fits(ds, nd)) continue;
        misscheduled++;
        size_t i;
        json_t *x;
        json_array_foreach(p, i, x) {
            expect_add(k, key, 1);
            delete_pod(k, key, x);
        }
    }
    /* Rolling update: replace old pods while fewer than maxUnavailable are down. */
    if (!on_delete) {
        long maxu = vk_controllers_int_or_percent(
            at(at(ds, "spec", "updateStrategy"), "rollingUpdate", "maxUnavailable"), desired, 0, 1);
        if (maxu < 1) maxu = 1;
        size_t i;
        json_t *x;
        json_array_foreach(stale, i, x) {
            if (unavailable_now >= maxu) break;
            expect_add(k, key, 1);
            delete_pod(k, key, x);
            unavailable_now++;
        }
    }
    json_t *st = json_pack("{s:O,s:I,s:I,s:I,s:I,s:I,s:I}", "observedGeneration",
                           json_object_get(md(ds), "generation") ?: json_null(),
                           "currentNumberScheduled", (json_int_t)scheduled,
                           "desiredNumberScheduled", (json_int_t)desired, "numberMisscheduled",
                           (json_int_t)misscheduled, "numberReady", (json_int_t)ready,
                           "updatedNumberScheduled", (json_int_t)updated, "numberAvailable",
                           (json_int_t)avail);
    if (desired - avail > 0)
        json_object_set_new(st, "numberUnavailable", json_integer(desired - avail));
    if (!avail) json_object_del(st, "numberAvailable");
    if (!updated) json_object_del(st, "updatedNumberScheduled");
    if (!json_equal(st, json_object_get(ds, "status")))
        write_status(k, key, "apps", "daemonsets", ds, st);
    json_decref(st);
    /* History: revisions whose hash a pod carries, and the current one, stay. */
    json_t *hashes = json_object(), *live = json_pack("{s:b}", crname, 1);
    json_object_foreach(by_node, nk, p) {
        size_t i;
        json_t *x;
        json_array_foreach(p, i, x) {
            const char *h = json_string_value(
                json_object_get(json_object_get(md(x), "labels"), "controller-revision-hash"));
            if (h) json_object_set_new(hashes, h, json_true());
        }
    }
    size_t i;
    json_t *cr;
    json_array_foreach(revs, i, cr) {
        const char *h = json_string_value(
            json_object_get(json_object_get(md(cr), "labels"), "controller-revision-hash"));
        if (h && json_object_get(hashes, h)) json_object_set_new(live, mds(cr, "name"), json_true());
    }
    truncate_history(k, key, revs, live,
                     intval(at(ds, "spec", "revisionHistoryLimit"), 10));
    json_decref(hashes);
    json_decref(live);
    json_decref(revs);
    json_decref(stale);
    json_decref(by_node);
}

/* ------------------------------------------------------------ plumbing */

static json_int_t now_ms(void)
{
    return (json_int_t)(uv_hrtime() / 1000000);
}

static void schedule(vk_controllers_t *k);

static void on_tick(uv_timer_t *t)
{
    vk_controllers_t *k = t->data;
    /* Nothing is decided before every cache is loaded (no duplicate pods). */
    if (!vk_client_informer_synced(k->pods) || !vk_client_informer_synced(k->rss) ||
        !vk_client_informer_synced(k->deps) || !vk_client_informer_synced(k->jobs) ||
        !vk_client_informer_synced(k->cjobs) || !vk_client_informer_synced(k->stss) ||
        !vk_client_informer_synced(k->pvcs) || !vk_client_informer_synced(k->dss) ||
        !vk_client_informer_synced(k->nodes) || !vk_client_informer_synced(k->revs))
        return;
    json_t *q = k->queue;
    k->queue = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(q, key, v) {
        if (k->closing) break;
        json_t *due = json_object_get(k->pace, key);
        if (due && json_integer_value(due) > now_ms()) {
            json_object_set_new(k->queue, key, json_true()); /* later: schedule() */
            continue;
        }
        if (due) json_object_del(k->pace, key);
        uint64_t t0 = uv_hrtime();
        char kind[16], ns[300], name[300];
        const char *s1 = strchr(key, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
        if (!s2 || (size_t)(s1 - key) >= sizeof kind) continue;
        snprintf(kind, sizeof kind, "%.*s", (int)(s1 - key), key);
        snprintf(ns, sizeof ns, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
        snprintf(name, sizeof name, "%s", s2 + 1);
        if (!strcmp(kind, "rs"))
            sync_rs(k, key, ns, name);
        else if (!strcmp(kind, "deploy"))
            sync_deploy(k, key, ns, name);
        else if (!strcmp(kind, "job"))
            sync_job(k, key, ns, name);
        else if (!strcmp(kind, "cj"))
            sync_cronjob(k, key, ns, name);
        else if (!strcmp(kind, "sts"))
            sync_sts(k, key, ns, name);
        else if (!strcmp(kind, "ds"))
            sync_ds(k, key, ns, name);
        long ms = (long)((uv_hrtime() - t0) / 1000000);
        if (ms >= PACE_MIN_MS && !k->closing)
            json_object_set_new(k->pace, key,
                                json_integer(now_ms() + (ms * PACE_FACTOR < PACE_MAX_MS
                                                             ? ms * PACE_FACTOR
                                                             : PACE_MAX_MS)));
    }
    json_decref(q);
    schedule(k);
}

/* Runs the queue at once, or when its first paced key is due. */
static void schedule(vk_controllers_t *k)
{
    if (k->closing || !json_object_size(k->queue)) return;
    json_int_t now = now_ms(), wait = -1;
    const char *key;
    json_t *v;
    json_object_foreach(k->queue, key, v) {
        json_t *due = json_object_get(k->pace, key);
        json_int_t d = due && json_integer_value(due) > now ? json_integer_value(due) - now : 0;
        if (wait < 0 || d < wait) wait = d;
        if (!wait) break;
    }
    uv_timer_start(&k->tick, on_tick, (uint64_t)wait, 0);
}

static void kick(vk_controllers_t *k)
{
    schedule(k);
}

static void enqueue_owner(vk_controllers_t *k, json_t *obj)
{
    json_t *ref = controller_ref(obj);
    if (!ref) return;
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *name = json_string_value(json_object_get(ref, "name"));
    if (!kind || !name) return;
    if (!strcmp(kind, "ReplicaSet"))
        enqueue(k, "rs", mds(obj, "namespace"), name);
    else if (!strcmp(kind, "Deployment"))
        enqueue(k, "deploy", mds(obj, "namespace"), name);
    else if (!strcmp(kind, "Job"))
        enqueue(k, "job", mds(obj, "namespace"), name);
    else if (!strcmp(kind, "CronJob"))
        enqueue(k, "cj", mds(obj, "namespace"), name);
    else if (!strcmp(kind, "StatefulSet"))
        enqueue(k, "sts", mds(obj, "namespace"), name);
    else if (!strcmp(kind, "DaemonSet"))
        enqueue(k, "ds", mds(obj, "namespace"), name);
}

static void on_pod(void *arg, int type, json_t *p)
{
    vk_controllers_t *k = arg;
    const char *pns = mds(p, "namespace") ?: "";
    json_object_set_new(k->ns_gen, pns,
                        json_integer(json_integer_value(json_object_get(k->ns_gen, pns)) + 1));
    json_t *ref = controller_ref(p);
    if (ref && (type == VK_CLIENT_ADDED || type == VK_CLIENT_DELETED)) {
        const char *kind = json_string_value(json_object_get(ref, "kind"));
        char key[600];
        snprintf(key, sizeof key, "%s/%s/%s",
                 !kind                            ? "rs"
                 : !strcmp(kind, "Job")           ? "job"
                 : !strcmp(kind, "StatefulSet")   ? "sts"
                 : !strcmp(kind, "DaemonSet")     ? "ds"
                                                  : "rs",
                 mds(p, "namespace") ?: "",
                 json_string_value(json_object_get(ref, "name")) ?: "");
        expect_observed(k, key);
    }
    if (ref) {
        enqueue_owner(k, p);
    } else if (type != VK_CLIENT_DELETED) {
        /* An orphan: ReplicaSets whose selector matches may adopt it. */
        const char *rk;
        json_t *rs;
        json_object_foreach(vk_client_informer_items(k->rss), rk, rs) {
            if (!strcmp(mds(rs, "namespace") ?: "", mds(p, "namespace") ?: "") &&
                selector_match(at(rs, "spec", "selector"), json_object_get(md(p), "labels")))
                enqueue(k, "rs", mds(rs, "namespace"), mds(rs, "name"));
        }
    }
    kick(k);
}

static void on_rs(void *arg, int type, json_t *rs)
{
    vk_controllers_t *k = arg;
    enqueue(k, "rs", mds(rs, "namespace"), mds(rs, "name"));
    enqueue_owner(k, rs);
    kick(k);
}

static void on_deploy(void *arg, int type, json_t *d)
{
    vk_controllers_t *k = arg;
    enqueue(k, "deploy", mds(d, "namespace"), mds(d, "name"));
    kick(k);
}

static void on_job(void *arg, int type, json_t *j)
{
    vk_controllers_t *k = arg;
    enqueue(k, "job", mds(j, "namespace"), mds(j, "name"));
    enqueue_owner(k, j);
    kick(k);
}

static void on_sts(void *arg, int type, json_t *o)
{
    vk_controllers_t *k = arg;
    enqueue(k, "sts", mds(o, "namespace"), mds(o, "name"));
    kick(k);
}

static void on_pvc(void *arg, int type, json_t *o)
{
}

static void on_ds(void *arg, int type, json_t *o)
{
    vk_controllers_t *k = arg;
    enqueue(k, "ds", mds(o, "namespace"), mds(o, "name"));
    kick(k);
}

/* A node came, went or changed: every DaemonSet looks again. */
static void on_node(void *arg, int type, json_t *o)
{
    vk_controllers_t *k = arg;
    const char *key;
    json_t *ds;
    json_object_foreach(vk_client_informer_items(k->dss), key, ds)
        enqueue(k, "ds", mds(ds, "namespace"), mds(ds, "name"));
    kick(k);
}

/* A revision changed: its StatefulSet or DaemonSet looks again. */
static void on_rev(void *arg, int type, json_t *o)
{
    vk_controllers_t *k = arg;
    enqueue_owner(k, o);
    kick(k);
}

static void on_cronjob(void *arg, int type, json_t *cj)
{
    vk_controllers_t *k = arg;
    enqueue(k, "cj", mds(cj, "namespace"), mds(cj, "name"));
    kick(k);
}

static void on_synced(void *arg)
{
    kick(arg);
}

static void on_resync(uv_timer_t *t)
{
    vk_controllers_t *k = t->data;
    /* Pacing entries that are past (keys not synced since). */
    json_int_t now = now_ms();
    void *tmp;
    const char *pk;
    json_t *pv;
    json_object_foreach_safe(k->pace, tmp, pk, pv) {
        if (json_integer_value(pv) <= now) json_object_del(k->pace, pk);
    }
    struct {
        vk_client_informer_t *inf;
        const char *kind;
    } all[] = {{k->rss, "rs"}, {k->deps, "deploy"}, {k->jobs, "job"}, {k->cjobs, "cj"},
                 {k->stss, "sts"}, {k->dss, "ds"}};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (!vk_client_informer_synced(all[i].inf)) continue;
        const char *key;
        json_t *o;
        json_object_foreach(vk_client_informer_items(all[i].inf), key, o) {
            if (all[i].inf == k->rss) {
                /* Skipped when nothing it depends on changed (sync_rs). */
                char rk[600], in[128];
                snprintf(rk, sizeof rk, "rs/%s/%s", mds(o, "namespace") ?: "", mds(o, "name") ?: "");
                const char *was = json_string_value(json_object_get(k->rs_in, rk));
                rs_inputs(k, o, in, sizeof in);
                if (was && !strcmp(was, in)) continue;
            }
            enqueue(k, all[i].kind, mds(o, "namespace"), mds(o, "name"));
        }
    }
    kick(k);
}

vk_controllers_t *vk_controllers_start(uv_loop_t *loop, vk_http_handler_cb handler, void *ctx)
{
    vk_controllers_t *k = vk_xcalloc(1, sizeof *k);
    k->loop = loop;
    static const char *const groups[] = {"system:masters", NULL};
    k->cl = vk_client_new(loop, handler, ctx, "system:kube-controller-manager", groups);
    k->queue = json_object();
    k->expect = json_object();
    k->pace = json_object();
    k->ns_gen = json_object();
    k->rs_in = json_object();
    uv_timer_init(loop, &k->tick);
    uv_timer_init(loop, &k->resync);
    k->tick.data = k->resync.data = k;
    char *p = vk_client_path("", "v1", "pods", NULL, NULL, NULL);
    k->pods = vk_client_informer_new(k->cl, p, on_pod, on_synced, k);
    /* One pod cache for these controllers, the endpoints and the quota
     * controllers, of what they read (VK_CONTROLLERS_ENDPOINTS_POD_FIELDS,
     * VK_CONTROLLERS_QUOTA_POD_FIELDS and the metadata these read: no
     * annotations, often the largest part), as compact text: 10,000 kept pods
     * ~5 MB instead of ~70 MB of jansson. */
    vk_client_informer_keep(k->pods, (const char *const[]){
        "metadata.name", "metadata.namespace", "metadata.uid", "metadata.resourceVersion",
        "metadata.creationTimestamp", "metadata.deletionTimestamp",
        "metadata.deletionGracePeriodSeconds", "metadata.labels", "metadata.ownerReferences",
        "spec.nodeName", "spec.affinity", "spec.hostname", "spec.subdomain",
        "spec.containers.name", "spec.containers.ports", "spec.containers.resources",
        "spec.initContainers.resources", "spec.initContainers.restartPolicy", "spec.overhead",
        "spec.activeDeadlineSeconds", "spec.priorityClassName", "status.phase",
        "status.conditions", "status.podIP", "status.podIPs", NULL});
    vk_client_informer_set_compact(k->pods);
    free(p);
    p = vk_client_path("apps", "v1", "replicasets", NULL, NULL, NULL);
    k->rss = vk_client_informer_new(k->cl, p, on_rs, on_synced, k);
    free(p);
    p = vk_client_path("apps", "v1", "deployments", NULL, NULL, NULL);
    k->deps = vk_client_informer_new(k->cl, p, on_deploy, on_synced, k);
    free(p);
    p = vk_client_path("batch", "v1", "jobs", NULL, NULL, NULL);
    k->jobs = vk_client_informer_new(k->cl, p, on_job, on_synced, k);
    free(p);
    p = vk_client_path("batch", "v1", "cronjobs", NULL, NULL, NULL);
    k->cjobs = vk_client_informer_new(k->cl, p, on_cronjob, on_synced, k);
    free(p);
    p = vk_client_path("apps", "v1", "statefulsets", NULL, NULL, NULL);
    k->stss = vk_client_informer_new(k->cl, p, on_sts, on_synced, k);
    free(p);
    p = vk_client_path("", "v1", "persistentvolumeclaims", NULL, NULL, NULL);
    k->pvcs = vk_client_informer_new(k->cl, p, on_pvc, on_synced, k);
    free(p);
    p = vk_client_path("apps", "v1", "daemonsets", NULL, NULL, NULL);
    k->dss = vk_client_informer_new(k->cl, p, on_ds, on_synced, k);
    free(p);
    p = vk_client_path("", "v1", "nodes", NULL, NULL, NULL);
    k->nodes = vk_client_informer_new(k->cl, p, on_node, on_synced, k);
    free(p);
    p = vk_client_path("apps", "v1", "controllerrevisions", NULL, NULL, NULL);
    k->revs = vk_client_informer_new(k->cl, p, on_rev, on_synced, k);
    free(p);
    uv_timer_start(&k->resync, on_resync, 2000, 2000);
    k->endpoints = vk_controllers_endpoints_start(loop, handler, ctx, k->pods);
    k->quota = vk_controllers_quota_start(loop, handler, ctx, k->pods);
    return k;
}

static void on_closed(uv_handle_t *h)
{
    vk_controllers_t *k = h->data;
    if (++k->closed == 5) { /* tick, resync, client, endpoints, quota */
        void (*done)(void *) = k->done_cb;
        void *arg = k->done_arg;
        json_decref(k->queue);
        json_decref(k->expect);
        json_decref(k->pace);
        json_decref(k->ns_gen);
        json_decref(k->rs_in);
        free(k);
        if (done) done(arg);
    }
}

static void on_client_closed(void *arg)
{
    vk_controllers_t *k = arg;
    on_closed((uv_handle_t *)&k->tick);
}

void vk_controllers_stop(vk_controllers_t *k, void (*done_cb)(void *arg), void *arg)
{
    k->closing = 1;
    k->done_cb = done_cb;
    k->done_arg = arg;
    vk_client_close(k->cl, on_client_closed, k);
    vk_controllers_endpoints_stop(k->endpoints, on_client_closed, k);
    vk_controllers_quota_stop(k->quota, on_client_closed, k);
    uv_close((uv_handle_t *)&k->tick, on_closed);
    uv_close((uv_handle_t *)&k->resync, on_closed);
}
