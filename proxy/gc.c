/* gc: the garbage collector (see gc.h). Upstream's collector keeps a graph of
 * every object fed by informers and verifies absent owners with a live GET;
 * here the store is in the same process, so the index holds only the edges
 * (owner uid -> dependent keys) and every decision reads the store at that
 * moment (what a live GET would answer). Work is a queue of store keys; each
 * key is looked at alone and its state decides what to do:
 *   deleting with "orphan"             -> drop the references of its dependents,
 *                                         then the finalizer
 *   deleting with "foregroundDeletion" -> remove the finalizer once no blocking
 *                                         dependent is left
 *   not deleting, with owners          -> classify owners (solid / dangling /
 *                                         waiting for dependents) and delete it
 *                                         or drop the references, as upstream. */
#include "gc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/client.h"

#define BATCH 256       /* keys looked at per loop turn */
#define RETRY_MS 1000   /* pause before a failed key is looked at again */
#define LIST_PAGE 500

struct vk_gc {
    uv_loop_t *loop;
    vk_store_t *store;
    const vk_resources_t *resources;
    vk_client_t *client;
    vk_store_watch_t *watch;
    json_t *deps;      /* owner uid -> {dependent key: true} */
    json_t *queue;     /* keys to look at -> true */
    json_t *retry;     /* keys looked at again after RETRY_MS -> true */
    json_t *busy;      /* key -> requests in flight for it */
    json_t *again;     /* keys queued while busy -> true */
    json_t *conflicts; /* key -> conflicts in a row (409: looked at again at once) */
    uv_timer_t run_timer;   /* runs the queue on the next turn */
    uv_timer_t retry_timer; /* retries and relists */
    int run_armed, retry_armed;
    int relist;        /* the watch ended: list again at the next retry tick */
    int stopping;
    int closing;       /* handles and client still to release */
    void (*done_cb)(void *arg);
    void *done_arg;
    vk_gc_stats_t stats;
};

/* ------------------------------------------------------------- JSON helpers */

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static int has_finalizer(const json_t *o, const char *f)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(meta(o), "finalizers"), i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), f)) return 1;
    }
    return 0;
}

static int deleting(const json_t *o)
{
    return o && json_object_get(meta(o), "deletionTimestamp") != NULL;
}

static int deleting_with(const json_t *o, const char *f)
{
    return deleting(o) && has_finalizer(o, f);
}

static json_t *refs_of(const json_t *o)
{
    json_t *r = json_object_get(meta(o), "ownerReferences");
    return json_is_array(r) ? r : NULL;
}

/* The reference in refs naming uid, or NULL. */
static json_t *ref_to(const json_t *refs, const char *uid)
{
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        const char *u = str_at(r, "uid");
        if (u && !strcmp(u, uid)) return r;
    }
    return NULL;
}

/* A value worth parsing: it may carry references or finalizers. */
static int relevant(const vk_kv_t *kv)
{
    const char *v = (const char *)kv->val;
    return kv->len && (strstr(v, "\"ownerReferences\"") || strstr(v, "\"finalizers\""));
}

static json_t *parse(const vk_kv_t *kv)
{
    json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    if (o && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* ---------------------------------------------------------- keys and rows */

/* Splits a store key "/<group|core>/<plural>/[<ns>/]<name>" and finds its row.
 * ns/name point into buf (size n). NULL if the key is not a served resource. */
static const vk_resource_t *row_of_key(const vk_gc_t *gc, const char *key, char *buf, size_t n,
                                       const char **ns, const char **name)
{
    if (strlen(key) >= n || key[0] != '/') return NULL;
    strcpy(buf, key + 1);
    char *parts[4];
    int k = 0;
    for (char *p = buf, *s; k < 4 && p; p = s) {
        s = strchr(p, '/');
        if (s) *s++ = 0;
        parts[k++] = p;
        if (!s) break;
    }
    if (k < 3) return NULL;
    const char *group = strcmp(parts[0], "core") ? parts[0] : "";
    size_t count = vk_resources_count(gc->resources);
    for (size_t i = 0; i < count; i++) {
        const vk_resource_t *r = vk_resources_at(gc->resources, i);
        if (strcmp(r->group, group) || strcmp(r->plural, parts[1]) ||
            (r->flags & VK_RES_REVIEW))
            continue;
        int namespaced = (r->flags & VK_RES_NAMESPACED) != 0;
        if (namespaced != (k == 4)) return NULL;
        *ns = namespaced ? parts[2] : NULL;
        *name = parts[k - 1];
        return r;
    }
    return NULL;
}

/* The API path of the object at key, or NULL. Caller frees with free(). */
static char *path_of_key(const vk_gc_t *gc, const char *key)
{
    char buf[1024];
    const char *ns, *name;
    const vk_resource_t *r = row_of_key(gc, key, buf, sizeof buf, &ns, &name);
    if (!r) return NULL;
    return vk_client_path(r->group, r->version, r->plural, ns, name, NULL);
}

/* The namespace part of a namespaced key, copied into out (size n); "" for
 * cluster-scoped keys. */
static const char *ns_of_key(const vk_gc_t *gc, const char *key, char *out, size_t n)
{
    char buf[1024];
    const char *ns = NULL, *name;
    out[0] = 0;
    if (row_of_key(gc, key, buf, sizeof buf, &ns, &name) && ns) snprintf(out, n, "%s", ns);
    return out;
}

/* The store key an ownerReference resolves to for a dependent in dep_ns ("" if
 * the dependent is cluster-scoped), or NULL when it cannot be resolved: kind
 * not served, malformed, or a namespaced owner of a cluster-scoped dependent.
 * Caller frees with free(). */
static char *owner_key(const vk_gc_t *gc, const json_t *ref, const char *dep_ns)
{
    const char *av = str_at(ref, "apiVersion"), *kind = str_at(ref, "kind");
    const char *name = str_at(ref, "name");
    if (!av || !kind || !name || !*name) return NULL;
    char group[256] = "";
    const char *slash = strchr(av, '/');
    if (slash) snprintf(group, sizeof group, "%.*s", (int)(slash - av), av);
    const vk_resource_t *r = vk_resources_find_kind(gc->resources, group, kind);
    if (!r || (r->flags & VK_RES_REVIEW)) return NULL;
    if (r->flags & VK_RES_NAMESPACED) {
        if (!dep_ns || !*dep_ns) return NULL;
        return vk_resources_key(r, dep_ns, name);
    }
    return vk_resources_key(r, NULL, name);
}

/* --------------------------------------------------------------- the queue */

static void run_cb(uv_timer_t *t);

static void enqueue(vk_gc_t *gc, const char *key)
{
    if (gc->stopping) return;
    json_object_set_new(gc->queue, key, json_true());
    if (!gc->run_armed) {
        gc->run_armed = 1;
        uv_timer_start(&gc->run_timer, run_cb, 0, 0);
    }
}

static void retry_cb(uv_timer_t *t);

static void arm_retry(vk_gc_t *gc)
{
    if (!gc->retry_armed && !gc->stopping) {
        gc->retry_armed = 1;
        uv_timer_start(&gc->retry_timer, retry_cb, RETRY_MS, 0);
    }
}

static void retry_later(vk_gc_t *gc, const char *key)
{
    if (gc->stopping) return;
    json_object_set_new(gc->retry, key, json_true());
    arm_retry(gc);
}

/* Every dependent recorded for owner uid. */
static void enqueue_dependents(vk_gc_t *gc, const char *uid)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(gc->deps, uid), k, v) enqueue(gc, k);
}

/* ------------------------------------------------------------- the index */

/* Records what changed at key: old and new are the object before and after (NULL
 * when absent or carrying neither references nor finalizers); gone: the object
 * was deleted (old is then its last value). Queues the keys to look at. */
static void observe(vk_gc_t *gc, const char *key, const json_t *old, const json_t *new, int gone)
{
    json_t *orefs = old ? refs_of(old) : NULL, *nrefs = new ? refs_of(new) : NULL;
    char nsbuf[256];
    const char *ns = (orefs || nrefs) ? ns_of_key(gc, key, nsbuf, sizeof nsbuf) : "";
    size_t i;
    json_t *r;
    /* Edges that went away; owners waiting for this dependent look again. */
    json_array_foreach(orefs, i, r)
    {
        const char *u = str_at(r, "uid");
        if (!u) continue;
        json_t *nr = ref_to(nrefs, u);
        if (!nr) {
            json_t *set = json_object_get(gc->deps, u);
            json_object_del(set, key);
            if (set && !json_object_size(set)) json_object_del(gc->deps, u);
        }
        if (!nr || !json_equal(nr, r)) {
            char *ok = owner_key(gc, r, ns);
            if (ok) enqueue(gc, ok);
            free(ok);
        }
    }
    json_array_foreach(nrefs, i, r)
    {
        const char *u = str_at(r, "uid");
        if (!u) continue;
        json_t *set = json_object_get(gc->deps, u);
        if (!set) json_object_set_new(gc->deps, u, set = json_object());
        json_object_set_new(set, key, json_true());
    }
    if (gone) {
        const char *uid = old ? str_at(meta(old), "uid") : NULL;
        if (uid) enqueue_dependents(gc, uid);
        return;
    }
    /* A dependent with new or changed references: are its owners there? */
    if (nrefs && json_array_size(nrefs) && !json_equal(orefs, nrefs)) enqueue(gc, key);
    if (deleting_with(new, "foregroundDeletion") && !deleting_with(old, "foregroundDeletion")) {
        const char *uid = str_at(meta(new), "uid");
        if (uid) enqueue_dependents(gc, uid);
        enqueue(gc, key);
    }
    if (deleting_with(new, "orphan") && !deleting_with(old, "orphan")) enqueue(gc, key);
}

static int on_event(void *arg, const vk_event_t *ev)
{
    vk_gc_t *gc = arg;
    gc->stats.events++;
    json_t *old = NULL, *new = NULL;
    int gone = ev->type == VK_EVENT_DELETED;
    if (gone) {
        old = parse(ev->kv); /* the uid is needed to find dependents */
    } else {
        if (ev->prev && relevant(ev->prev)) old = parse(ev->prev);
        if (relevant(ev->kv)) new = parse(ev->kv);
    }
    if (old || new) observe(gc, ev->kv->key, old, new, gone);
    json_decref(old);
    json_decref(new);
    return 0;
}

static void on_watch_end(void *arg, int reason)
{
    vk_gc_t *gc = arg;
    gc->watch = NULL;
    if (gc->stopping) return;
    vk_log_warn("gc: watch ended (%s): listing again", vk_err_name(reason));
    gc->relist = 1;
    arm_retry(gc);
}

/* Reads every object, rebuilds the index, queues what needs looking at, and
 * watches from the list's revision. */
static int list_and_watch(vk_gc_t *gc)
{
    json_object_clear(gc->deps);
    int64_t rev = 0;
    char *after = NULL;
    for (;;) {
        vk_store_list_t l;
        int rc = vk_store_list(gc->store, "/", after, LIST_PAGE, rev, &l);
        if (rc) {
            free(after);
            return rc;
        }
        rev = l.rev;
        for (size_t i = 0; i < l.count; i++) {
            if (!relevant(l.items[i])) continue;
            json_t *o = parse(l.items[i]);
            if (o) observe(gc, l.items[i]->key, NULL, o, 0);
            json_decref(o);
        }
        free(after);
        after = l.count ? vk_xstrdup(l.items[l.count - 1]->key) : NULL;
        int more = l.more && l.count;
        vk_store_list_free(&l);
        if (!more) break;
    }
    free(after);
    return vk_store_watch(gc->store, "/", rev, on_event, on_watch_end, gc, &gc->watch);
}

/* -------------------------------------------------------------- requests */

typedef struct orphan orphan_t;

typedef struct req {
    vk_gc_t *gc;
    char *key;          /* the key marked busy */
    int kind;           /* what the request does (for statistics) */
    orphan_t *orphan;   /* the orphaning this patch belongs to, or NULL */
} req_t;

enum { REQ_DELETE, REQ_UNREF, REQ_FINALIZE };

/* An owner being orphaned: its dependents are patched, then its finalizer goes. */
struct orphan {
    char *key;          /* the owner */
    char *uid;
    size_t pending;
    int failed;
};

static void busy_add(vk_gc_t *gc, const char *key)
{
    json_t *b = json_object_get(gc->busy, key);
    json_object_set_new(gc->busy, key, json_integer(b ? json_integer_value(b) + 1 : 1));
}

static void busy_done(vk_gc_t *gc, const char *key)
{
    json_t *b = json_object_get(gc->busy, key);
    if (b && json_integer_value(b) > 1) {
        json_object_set_new(gc->busy, key, json_integer(json_integer_value(b) - 1));
        return;
    }
    json_object_del(gc->busy, key);
    if (json_object_get(gc->again, key)) {
        json_object_del(gc->again, key);
        enqueue(gc, key);
    }
}

static void finalize_orphan(vk_gc_t *gc, orphan_t *o);

static void orphan_free(orphan_t *o)
{
    free(o->key);
    free(o->uid);
    free(o);
}

static void on_reply(void *arg, int status, json_t *obj)
{
    req_t *q = arg;
    vk_gc_t *gc = q->gc;
    (void)obj;
    if (status == 0 || gc->stopping) {
        /* The client is closing: forget the work. */
        if (q->orphan && --q->orphan->pending == 0) orphan_free(q->orphan);
        free(q->key);
        free(q);
        return;
    }
    int ok = (status >= 200 && status < 300) || status == 404;
    if (status >= 200 && status < 300) {
        if (q->kind == REQ_DELETE) gc->stats.deletes++;
        else if (q->kind == REQ_UNREF) gc->stats.orphaned++;
        else gc->stats.finalized++;
    }
    if (!ok) {
        gc->stats.failures++;
        vk_log_debug("gc: %s: request answered %d: looking again later", q->key, status);
    }
    orphan_t *o = q->orphan;
    const char *again = o ? o->key : q->key;
    /* A conflict means the object changed under us: look again at once, unless
     * that keeps happening. Anything else waits RETRY_MS. */
    json_t *cn = json_object_get(gc->conflicts, again);
    int conflicts = cn ? (int)json_integer_value(cn) : 0;
    if (ok) json_object_del(gc->conflicts, again);
    else if (status == 409 && conflicts < 5)
        json_object_set_new(gc->conflicts, again, json_integer(conflicts + 1));
    busy_done(gc, q->key);
    if (!ok && status == 409 && conflicts < 5) {
        if (json_object_get(gc->busy, again)) json_object_set_new(gc->again, again, json_true());
        else enqueue(gc, again);
    } else if (!ok) {
        json_object_del(gc->conflicts, again);
        retry_later(gc, again);
    }
    free(q->key);
    free(q);
    if (o) {
        if (!ok) o->failed = 1;
        if (--o->pending == 0) {
            busy_done(gc, o->key);
            if (!o->failed) finalize_orphan(gc, o);
            orphan_free(o);
        }
    }
}

static void request(vk_gc_t *gc, const char *key, int kind, const char *method, const char *path,
                 const char *ctype, json_t *body, orphan_t *o)
{
    req_t *q = vk_xcalloc(1, sizeof *q);
    q->gc = gc;
    q->key = vk_xstrdup(key);
    q->kind = kind;
    q->orphan = o;
    if (o) o->pending++;
    busy_add(gc, key);
    vk_client_request(gc->client, method, path, NULL, ctype, body, on_reply, q);
}

/* Merge-patches metadata.field of the object at key to value (NULL: removes
 * it), conditional on resourceVersion rv. */
static void patch_meta(vk_gc_t *gc, const char *key, int64_t rv, const char *field,
                       json_t *value, int kind, orphan_t *o)
{
    char *path = path_of_key(gc, key);
    if (!path) {
        json_decref(value);
        return;
    }
    char rvs[32];
    snprintf(rvs, sizeof rvs, "%lld", (long long)rv);
    json_t *p = json_pack("{s:{s:s,s:o}}", "metadata", "resourceVersion", rvs, field,
                          value ? value : json_null());
    request(gc, key, kind, "PATCH", path, "application/merge-patch+json", p, o);
    json_decref(p);
    free(path);
}

/* Deletes the object at key (uid as precondition) with propagation policy. */
static void delete_obj(vk_gc_t *gc, const char *key, const char *uid, const char *policy)
{
    char *path = path_of_key(gc, key);
    if (!path) return;
    json_t *b = json_pack("{s:s,s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
                          "propagationPolicy", policy, "preconditions", "uid", uid);
    vk_log_debug("gc: deleting %s (%s)", key, policy);
    request(gc, key, REQ_DELETE, "DELETE", path, NULL, b, NULL);
    json_decref(b);
    free(path);
}

/* The finalizers of o without f, as a new array (NULL if none remain). */
static json_t *finalizers_without(const json_t *o, const char *f)
{
    json_t *out = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(meta(o), "finalizers"), i, v)
    {
        if (!json_is_string(v) || strcmp(json_string_value(v), f))
            json_array_append(out, v);
    }
    if (!json_array_size(out)) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ------------------------------------------------------------ decisions */

/* Current object at key, or NULL (absent or not JSON); *rev its mod_rev. */
static json_t *load(vk_gc_t *gc, const char *key, int64_t *rev)
{
    vk_kv_t *kv;
    if (vk_store_get(gc->store, key, &kv)) return NULL;
    json_t *o = parse(kv);
    *rev = kv->mod_rev;
    vk_kv_unref(kv);
    return o;
}

static void finalize_orphan(vk_gc_t *gc, orphan_t *o)
{
    int64_t rev = 0;
    json_t *cur = load(gc, o->key, &rev);
    const char *uid = cur ? str_at(meta(cur), "uid") : NULL;
    if (cur && uid && !strcmp(uid, o->uid) && deleting_with(cur, "orphan"))
        patch_meta(gc, o->key, rev, "finalizers", finalizers_without(cur, "orphan"),
                   REQ_FINALIZE, NULL);
    json_decref(cur);
}

/* An owner being deleted with the orphan finalizer: every dependent loses its
 * reference to it, then the finalizer goes (finalize_orphan). */
static void do_orphan(vk_gc_t *gc, const char *key, const json_t *owner)
{
    const char *uid = str_at(meta(owner), "uid");
    if (!uid) return;
    orphan_t *o = vk_xcalloc(1, sizeof *o);
    o->key = vk_xstrdup(key);
    o->uid = vk_xstrdup(uid);
    o->pending = 1; /* held until every patch is sent */
    busy_add(gc, key);
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(gc->deps, uid), k, v)
    {
        int64_t rev = 0;
        json_t *dep = load(gc, k, &rev);
        json_t *refs = refs_of(dep);
        if (refs && ref_to(refs, uid)) {
            json_t *keep = json_array(), *r;
            size_t i;
            json_array_foreach(refs, i, r)
            {
                const char *u = str_at(r, "uid");
                if (!u || strcmp(u, uid)) json_array_append(keep, r);
            }
            if (!json_array_size(keep)) {
                json_decref(keep);
                keep = NULL;
            }
            patch_meta(gc, k, rev, "ownerReferences", keep, REQ_UNREF, o);
        }
        json_decref(dep);
    }
    if (--o->pending == 0) {
        busy_done(gc, key);
        if (!o->failed) finalize_orphan(gc, o);
        orphan_free(o);
    }
}

/* An owner being deleted in the foreground: the finalizer goes once no dependent
 * blocks (a reference with blockOwnerDeletion=true); blocking dependents not yet
 * being deleted are looked at (they are collected, their owner is waiting). */
static void do_foreground(vk_gc_t *gc, const char *key, const json_t *owner, int64_t rev)
{
    const char *uid = str_at(meta(owner), "uid");
    if (!uid) return;
    int blocked = 0;
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(gc->deps, uid), k, v)
    {
        int64_t drev = 0;
        json_t *dep = load(gc, k, &drev);
        json_t *r = dep ? ref_to(refs_of(dep), uid) : NULL;
        if (r && json_is_true(json_object_get(r, "blockOwnerDeletion"))) {
            blocked++;
            if (!deleting(dep)) enqueue(gc, k);
        }
        json_decref(dep);
    }
    if (blocked) {
        vk_log_debug("gc: %s waits for %d blocking dependents", key, blocked);
        return;
    }
    patch_meta(gc, key, rev, "finalizers", finalizers_without(owner, "foregroundDeletion"),
               REQ_FINALIZE, NULL);
}

enum { SOLID, DANGLING, WAITING };

/* What an owner reference of a dependent in dep_ns is now. An owner that cannot
 * be resolved or read counts as solid: nothing is deleted on a doubt. */
static int classify(vk_gc_t *gc, const json_t *ref, const char *dep_ns, int *unsure)
{
    const char *uid = str_at(ref, "uid");
    char *ok = uid ? owner_key(gc, ref, dep_ns) : NULL;
    if (!ok) return SOLID;
    vk_kv_t *kv;
    int rc = vk_store_get(gc->store, ok, &kv);
    free(ok);
    if (rc == VK_ENOTFOUND) return DANGLING;
    if (rc) {
        *unsure = 1;
        return SOLID;
    }
    json_t *o = parse(kv);
    vk_kv_unref(kv);
    int st = SOLID;
    const char *u = o ? str_at(meta(o), "uid") : NULL;
    if (!o) *unsure = 1;
    else if (!u || strcmp(u, uid)) st = DANGLING;
    else if (deleting_with(o, "foregroundDeletion")) st = WAITING;
    json_decref(o);
    return st;
}

/* 1 if a dependent of uid is being deleted in the foreground. */
static int has_waiting_dependent(vk_gc_t *gc, const char *uid)
{
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(gc->deps, uid), k, v)
    {
        int64_t rev = 0;
        json_t *dep = load(gc, k, &rev);
        int w = deleting_with(dep, "foregroundDeletion");
        json_decref(dep);
        if (w) return 1;
    }
    return 0;
}

/* Patches obj (at key, rev) so that its references to owners being deleted in
 * the foreground no longer block them. 1 if a patch was sent (the key is looked
 * at again when it lands), 0 if nothing blocked. */
static int unblock(vk_gc_t *gc, const char *key, const json_t *obj, int64_t rev)
{
    char nsbuf[256];
    const char *ns = ns_of_key(gc, key, nsbuf, sizeof nsbuf);
    json_t *refs = json_deep_copy(refs_of(obj)), *r;
    size_t i;
    int changed = 0, unsure = 0;
    json_array_foreach(refs, i, r)
    {
        if (json_is_true(json_object_get(r, "blockOwnerDeletion")) &&
            classify(gc, r, ns, &unsure) == WAITING) {
            json_object_set_new(r, "blockOwnerDeletion", json_false());
            changed = 1;
        }
    }
    if (!changed) {
        json_decref(refs);
        return 0;
    }
    vk_log_debug("gc: %s: unblocking its owners (a dependency cycle)", key);
    patch_meta(gc, key, rev, "ownerReferences", refs, REQ_UNREF, NULL);
    json_object_set_new(gc->again, key, json_true());
    return 1;
}

/* A dependent that is not being deleted: upstream's attemptToDeleteItem. */
static void do_dependent(vk_gc_t *gc, const char *key, const json_t *obj, int64_t rev)
{
    json_t *refs = refs_of(obj);
    const char *uid = str_at(meta(obj), "uid");
    if (!refs || !json_array_size(refs) || !uid) return;
    char nsbuf[256];
    const char *ns = ns_of_key(gc, key, nsbuf, sizeof nsbuf);
    size_t solid = 0, dangling = 0, waiting = 0, i;
    int unsure = 0;
    json_t *r, *keep = json_array();
    json_array_foreach(refs, i, r)
    {
        int st = classify(gc, r, ns, &unsure);
        if (st == SOLID) {
            solid++;
            json_array_append(keep, r);
        } else if (st == DANGLING) {
            dangling++;
        } else {
            waiting++;
        }
    }
    if (unsure) retry_later(gc, key);
    if (solid) {
        /* Owned by something that stays: only the references to owners that are
         * gone or being deleted in the foreground go. */
        if (dangling || waiting)
            patch_meta(gc, key, rev, "ownerReferences", json_incref(keep), REQ_UNREF, NULL);
        json_decref(keep);
        return;
    }
    json_decref(keep);
    const char *policy = "Background";
    if (waiting && json_object_size(json_object_get(gc->deps, uid))) {
        /* Its owner waits for it and it will wait for its own dependents: if one
         * of those is itself waiting (a cycle), stop blocking the owners first,
         * as upstream does, or nobody would ever go. */
        if (has_waiting_dependent(gc, uid) && unblock(gc, key, obj, rev)) return;
        policy = "Foreground";
    }
    else if (has_finalizer(obj, "orphan")) policy = "Orphan";
    else if (has_finalizer(obj, "foregroundDeletion")) policy = "Foreground";
    delete_obj(gc, key, uid, policy);
}

static void process(vk_gc_t *gc, const char *key)
{
    if (json_object_get(gc->busy, key)) {
        json_object_set_new(gc->again, key, json_true());
        return;
    }
    int64_t rev = 0;
    json_t *o = load(gc, key, &rev);
    if (!o) {
        json_object_del(gc->conflicts, key);
        return;
    }
    if (deleting_with(o, "orphan")) do_orphan(gc, key, o);
    else if (deleting_with(o, "foregroundDeletion")) do_foreground(gc, key, o, rev);
    else if (!deleting(o)) do_dependent(gc, key, o, rev);
    json_decref(o);
    /* Nothing left to do for the key: forget its conflicts. */
    if (!json_object_get(gc->busy, key)) json_object_del(gc->conflicts, key);
}

static void run_cb(uv_timer_t *t)
{
    vk_gc_t *gc = t->data;
    gc->run_armed = 0;
    for (int n = 0; n < BATCH && !gc->stopping; n++) {
        void *it = json_object_iter(gc->queue);
        if (!it) return;
        char *key = vk_xstrdup(json_object_iter_key(it));
        json_object_del(gc->queue, key);
        process(gc, key);
        free(key);
    }
    if (json_object_size(gc->queue) && !gc->stopping) {
        gc->run_armed = 1;
        uv_timer_start(&gc->run_timer, run_cb, 0, 0);
    }
}

static void retry_cb(uv_timer_t *t)
{
    vk_gc_t *gc = t->data;
    gc->retry_armed = 0;
    if (gc->stopping) return;
    if (gc->relist) {
        gc->relist = 0;
        gc->stats.relists++;
        int rc = list_and_watch(gc);
        if (rc) {
            vk_log_warn("gc: listing objects: %s", vk_err_name(rc));
            gc->relist = 1;
            arm_retry(gc);
        }
    }
    json_t *r = gc->retry;
    gc->retry = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(r, k, v) enqueue(gc, k);
    json_decref(r);
}

/* ------------------------------------------------------------ lifecycle */

vk_gc_t *vk_gc_start(uv_loop_t *loop, vk_store_t *store, const vk_resources_t *resources,
                     vk_http_handler_cb handler, void *ctx)
{
    static const char *const groups[] = {"system:masters", "system:serviceaccounts", NULL};
    vk_gc_t *gc = vk_xcalloc(1, sizeof *gc);
    gc->loop = loop;
    gc->store = store;
    gc->resources = resources;
    gc->deps = json_object();
    gc->queue = json_object();
    gc->retry = json_object();
    gc->busy = json_object();
    gc->again = json_object();
    gc->conflicts = json_object();
    gc->client = vk_client_new(loop, handler, ctx,
                               "system:serviceaccount:kube-system:generic-garbage-collector",
                               groups);
    uv_timer_init(loop, &gc->run_timer);
    uv_timer_init(loop, &gc->retry_timer);
    gc->run_timer.data = gc->retry_timer.data = gc;
    int rc = list_and_watch(gc);
    if (rc) {
        vk_log_warn("gc: listing objects: %s (trying again)", vk_err_name(rc));
        gc->relist = 1;
        arm_retry(gc);
    }
    return gc;
}

static void release(vk_gc_t *gc)
{
    if (--gc->closing) return;
    void (*done)(void *) = gc->done_cb;
    void *arg = gc->done_arg;
    json_decref(gc->deps);
    json_decref(gc->queue);
    json_decref(gc->retry);
    json_decref(gc->busy);
    json_decref(gc->again);
    json_decref(gc->conflicts);
    free(gc);
    if (done) done(arg);
}

static void on_closed(uv_handle_t *h)
{
    release(h->data);
}

static void on_client_closed(void *arg)
{
    release(arg);
}

void vk_gc_stop(vk_gc_t *gc, void (*done_cb)(void *arg), void *arg)
{
    if (!gc || gc->stopping) return;
    gc->stopping = 1;
    gc->done_cb = done_cb;
    gc->done_arg = arg;
    if (gc->watch) vk_store_watch_cancel(gc->watch);
    gc->watch = NULL;
    gc->closing = 3;
    uv_close((uv_handle_t *)&gc->run_timer, on_closed);
    uv_close((uv_handle_t *)&gc->retry_timer, on_closed);
    vk_client_close(gc->client, on_client_closed, gc);
}

void vk_gc_get_stats(const vk_gc_t *gc, vk_gc_stats_t *out)
{
    *out = gc->stats;
    out->owners = json_object_size(gc->deps);
    out->queued = json_object_size(gc->queue);
}
