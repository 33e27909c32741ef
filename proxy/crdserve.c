/* crdserve: the stored CRDs of one API server kept in memory and acted on
 * (status, rows, cleanup), plus the adapters the REST layer calls. */
#include "crdserve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/crd.h"
#include "proxy/openapi.h"
#include "proxy/status.h"
#include "proxy/table.h"
#include "proxy/validate.h"

#define CRD_PREFIX "/apiextensions.k8s.io/customresourcedefinitions/"
#define FINALIZER "customresourcecleanup.apiextensions.k8s.io"

struct vk_crdserve {
    vk_store_t *store;         /* borrowed */
    vk_resources_t *table;     /* borrowed */
    json_t *crds;              /* name -> the CRD as stored, with the computed status */
    json_t *sigs;              /* name -> signature of the rows it serves (absent: none) */
    json_t *terminating;       /* name -> true once its cleanup was queued */
    struct waiter *waiters;    /* CRDs waiting for objects held by finalizers */
    vk_store_watch_t *watch;
    unsigned gen;
    int inflight;              /* store writes whose callback has not run */
    int closing;
    vk_crdserve_removed_cb removed_cb;
    void *removed_arg;
};

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *meta_str(const json_t *o, const char *k)
{
    return str_at(json_object_get(o, "metadata"), k);
}

static void now_rfc3339(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A terminating CRD whose objects carry finalizers of their own: they got a
 * deletionTimestamp, and the cleanup ends once a watch on the CRD's prefix
 * sees the last one go. */
typedef struct waiter {
    struct waiter *next;
    vk_crdserve_t *s;
    char *name;
    char *prefix;
    vk_store_watch_t *w; /* NULL once cancelled or ended */
} waiter_t;

static void waiter_free(waiter_t *wt)
{
    if (wt->w) vk_store_watch_cancel(wt->w);
    free(wt->name);
    free(wt->prefix);
    free(wt);
}

/* Stops waiting for `name` (NULL: for every CRD). */
static void waiters_drop(vk_crdserve_t *s, const char *name)
{
    waiter_t **pp = &s->waiters;
    while (*pp) {
        waiter_t *wt = *pp;
        if (!name || !strcmp(wt->name, name)) {
            *pp = wt->next;
            waiter_free(wt);
        } else {
            pp = &wt->next;
        }
    }
}

static void destroy(vk_crdserve_t *s)
{
    waiters_drop(s, NULL);
    json_decref(s->crds);
    json_decref(s->sigs);
    json_decref(s->terminating);
    free(s);
}

static void write_cb(void *arg, int status, const vk_kv_t *kv)
{
    (void)kv;
    vk_crdserve_t *s = arg;
    if (status && status != VK_ECONFLICT && status != VK_ENOTFOUND && status != VK_ECLOSED)
        vk_log_warn("crdserve: store write: %s", vk_err_name(status));
    if (--s->inflight == 0 && s->closing) destroy(s);
}

/* Queues a write of obj (borrowed) at key, compare-and-swap on rev. */
static void put(vk_crdserve_t *s, const char *key, const json_t *obj, int64_t rev)
{
    json_t *c = json_deep_copy(obj);
    json_object_del(json_object_get(c, "metadata"), "resourceVersion");
    char *data = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    if (vk_store_update(s->store, key, data, strlen(data), rev, write_cb, s) == 0) s->inflight++;
    free(data);
}

static void del(vk_crdserve_t *s, const char *key, int64_t rev)
{
    if (vk_store_delete(s->store, key, rev, write_cb, s) == 0) s->inflight++;
}

/* "group|version|plural|kind|...;" for every row the CRD would serve. */
static char *rows_sig(const json_t *crd)
{
    vk_crd_rows_t *r = vk_crd_rows(crd);
    size_t cap = 256, len = 0;
    char *out = vk_xmalloc(cap);
    out[0] = 0;
    for (size_t i = 0; r && i < r->n; i++) {
        const vk_resource_t *w = &r->rows[i];
        char *one = vk_xasprintf("%s|%s|%s|%s|%s|%s|%s|%u|%u;", w->group, w->version, w->plural,
                                 w->kind, w->singular, w->short_names, w->categories, w->flags,
                                 w->verbs);
        size_t n = strlen(one);
        while (len + n + 1 > cap) out = vk_xrealloc(out, cap *= 2);
        memcpy(out + len, one, n + 1);
        len += n;
        free(one);
    }
    vk_crd_rows_free(r);
    return out;
}

/* Removes the rows the CRD `name` serves now, if any. */
static void drop_rows(vk_crdserve_t *s, const char *name)
{
    json_t *eff = json_object_get(s->crds, name);
    if (!json_object_get(s->sigs, name) || !eff) return;
    /* Watch streams on the rows end while the rows are still valid. */
    const json_t *spec = json_object_get(eff, "spec");
    const char *plural = str_at(json_object_get(json_object_get(eff, "status"), "acceptedNames"),
                                "plural");
    if (!plural || !*plural) plural = str_at(json_object_get(spec, "names"), "plural");
    const char *group = str_at(spec, "group");
    if (s->removed_cb) s->removed_cb(s->removed_arg, group ? group : "", plural ? plural : "");
    vk_crd_rows_remove(eff, s->table);
    json_object_del(s->sigs, name);
    s->gen++;
}

static int has_finalizers(const json_t *o)
{
    return json_array_size(json_object_get(json_object_get(o, "metadata"), "finalizers")) > 0;
}

/* Deletes every stored object of the CRD (all versions share one prefix);
 * objects with finalizers get a deletionTimestamp instead, as a REST delete
 * would. Returns how many of those remain. */
static size_t delete_objects(vk_crdserve_t *s, const json_t *crd)
{
    size_t held = 0;
    const json_t *spec = json_object_get(crd, "spec");
    const char *group = str_at(spec, "group");
    const char *plural = str_at(json_object_get(spec, "names"), "plural");
    if (!group || !*group || !plural || !*plural) return 0;
    vk_resource_t row = {.group = group, .plural = plural};
    char *prefix = vk_resources_key(&row, NULL, NULL);
    vk_store_list_t l;
    char now[32];
    now_rfc3339(now, sizeof now);
    if (vk_store_list(s->store, prefix, NULL, 0, 0, &l) == 0) {
        for (size_t i = 0; i < l.count; i++) {
            const vk_kv_t *kv = l.items[i];
            json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
            if (!has_finalizers(o)) {
                del(s, kv->key, kv->mod_rev);
            } else {
                held++;
                if (!meta_str(o, "deletionTimestamp")) {
                    json_t *md = json_object_get(o, "metadata");
                    json_object_set_new(md, "deletionTimestamp", json_string(now));
                    json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
                    put(s, kv->key, o, kv->mod_rev);
                }
            }
            json_decref(o);
        }
        vk_store_list_free(&l);
    }
    free(prefix);
    return held;
}

/* Sets condition `type` of status (borrowed, changed in place) as upstream's
 * SetCRDCondition: lastTransitionTime changes only with the status. */
static void set_condition(json_t *status, const char *type, const char *cstatus,
                          const char *reason, const char *message, const char *now)
{
    json_t *conds = json_object_get(status, "conditions");
    if (!json_is_array(conds)) json_object_set_new(status, "conditions", conds = json_array());
    json_t *c = NULL, *v;
    size_t i;
    json_array_foreach(conds, i, v) if (str_at(v, "type") && !strcmp(str_at(v, "type"), type)) c = v;
    if (!c) {
        c = json_object();
        json_array_append_new(conds, c);
        json_object_set_new(c, "type", json_string(type));
    }
    const char *was = str_at(c, "status");
    if (!was || strcmp(was, cstatus) || !str_at(c, "lastTransitionTime"))
        json_object_set_new(c, "lastTransitionTime", json_string(now));
    json_object_set_new(c, "status", json_string(cstatus));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(message));
}

static int condition_true(const json_t *crd, const char *type)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(crd, "status"), "conditions"), i, v)
    {
        const char *t = str_at(v, "type"), *st = str_at(v, "status");
        if (t && st && !strcmp(t, type)) return !strcmp(st, "True");
    }
    return 0;
}

/* The finalizers of obj without the cleanup one (new reference); *had says
 * whether it was there. */
static json_t *finalizers_without_cleanup(const json_t *obj, int *had)
{
    json_t *fin = json_object_get(json_object_get(obj, "metadata"), "finalizers");
    json_t *keep = json_array();
    size_t i;
    json_t *f;
    *had = 0;
    json_array_foreach(fin, i, f)
    {
        if (json_string_value(f) && !strcmp(json_string_value(f), FINALIZER)) *had = 1;
        else json_array_append(keep, f);
    }
    return keep;
}

/* The last step of a CRD's cleanup: Terminating=False and the cleanup
 * finalizer removed (the CRD deleted when no other finalizer is left), with
 * compare-and-swap on rev. obj borrowed. */
static void finish_cleanup(vk_crdserve_t *s, const char *key, const json_t *obj, int64_t rev,
                           int established)
{
    char now[32];
    now_rfc3339(now, sizeof now);
    int had;
    json_t *keep = finalizers_without_cleanup(obj, &had);
    json_t *c = json_deep_copy(obj);
    json_t *st = json_object_get(c, "status");
    if (!json_is_object(st)) json_object_set_new(c, "status", st = json_object());
    if (established)
        set_condition(st, "Terminating", "False", "InstanceDeletionCompleted",
                      "removed all instances", now);
    else
        set_condition(st, "Terminating", "False", "NeverEstablished",
                      "resource was never established", now);
    if (json_array_size(keep) == 0) {
        del(s, key, rev);
    } else {
        json_object_set(json_object_get(c, "metadata"), "finalizers", keep);
        put(s, key, c, rev);
    }
    json_decref(c);
    json_decref(keep);
}

static int waiter_event(void *arg, const vk_event_t *ev)
{
    waiter_t *wt = arg;
    if (ev->type != VK_EVENT_DELETED || !wt->w) return 0;
    size_t left = 1;
    if (vk_store_count(wt->s->store, wt->prefix, &left) || left > 0) return 0;
    vk_crdserve_t *s = wt->s;
    char *key = vk_xasprintf(CRD_PREFIX "%s", wt->name);
    vk_kv_t *kv;
    if (vk_store_get(s->store, key, &kv) == 0) {
        json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
        if (json_is_object(o)) finish_cleanup(s, key, o, kv->mod_rev, 1);
        json_decref(o);
        vk_kv_unref(kv);
    }
    free(key);
    /* Done waiting; the waiter goes with the CRD (forget) or the server. */
    vk_store_watch_cancel(wt->w);
    wt->w = NULL;
    return 0;
}

static void waiter_end(void *arg, int reason)
{
    waiter_t *wt = arg;
    wt->w = NULL;
    if (reason != VK_ECLOSED)
        vk_log_warn("crdserve: %s: watch on its objects ended: %s", wt->name, vk_err_name(reason));
}

static int waiting(const vk_crdserve_t *s, const char *name)
{
    for (const waiter_t *wt = s->waiters; wt; wt = wt->next)
        if (wt->w && !strcmp(wt->name, name)) return 1;
    return 0;
}

/* Waits (Terminating=True meanwhile) until the objects of the CRD obj
 * (borrowed) that finalizers hold are gone. */
static void wait_objects(vk_crdserve_t *s, const char *name, const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec");
    vk_resource_t row = {.group = str_at(spec, "group"),
                         .plural = str_at(json_object_get(spec, "names"), "plural")};
    waiters_drop(s, name);
    waiter_t *wt = vk_xcalloc(1, sizeof *wt);
    wt->s = s;
    wt->name = vk_xstrdup(name);
    wt->prefix = vk_resources_key(&row, NULL, NULL);
    if (vk_store_watch(s->store, wt->prefix, 0, waiter_event, waiter_end, wt, &wt->w)) {
        vk_log_warn("crdserve: %s: cannot watch its objects", name);
        wt->w = NULL;
    }
    wt->next = s->waiters;
    s->waiters = wt;
}

/* A CRD with a deletionTimestamp, as upstream's finalizer controller: first
 * condition Terminating=True (InstanceDeletionInProgress) is written; on the
 * event of that write every object of the CRD is deleted, then the cleanup
 * finalizer removed (the CRD deleted with it when no other finalizer is left).
 * Writes commit in order, so the objects go first. The rows stay (watchers see
 * the objects' DELETED events; creates answer 403) until the CRD is gone. */
static void reconcile_deleting(vk_crdserve_t *s, const char *name, const char *key,
                               const json_t *obj, int64_t rev)
{
    json_object_set_new(s->crds, name, json_deep_copy(obj));
    int established = condition_true(obj, "Established");
    /* Loaded at start while terminating: serve it until its cleanup ends. */
    if (established && !json_object_get(s->sigs, name)) {
        char *sig = rows_sig(obj);
        if (vk_crd_rows_add(obj, s->table) == 0) {
            json_object_set_new(s->sigs, name, json_string(sig));
            s->gen++;
        }
        free(sig);
    }
    int had;
    json_t *keep = finalizers_without_cleanup(obj, &had);
    if (!had) {
        json_decref(keep);
        return; /* cleaned up; other finalizers hold it */
    }
    if (json_object_get(s->terminating, name)) {
        /* Cleanup queued. Still Terminating=True and not waiting for objects:
         * the last write lost a race with another writer; again at this rev. */
        if (!waiting(s, name) && condition_true(obj, "Terminating"))
            finish_cleanup(s, key, obj, rev, established);
        json_decref(keep);
        return;
    }
    char now[32];
    now_rfc3339(now, sizeof now);
    json_t *c = json_deep_copy(obj);
    json_t *st = json_object_get(c, "status");
    if (!json_is_object(st)) json_object_set_new(c, "status", st = json_object());
    if (!condition_true(obj, "Terminating")) {
        set_condition(st, "Terminating", "True", "InstanceDeletionInProgress",
                      "CustomResource deletion is in progress", now);
        put(s, key, c, rev);
    } else {
        json_object_set_new(s->terminating, name, json_true());
        if (established && delete_objects(s, obj) > 0) {
            wait_objects(s, name, obj);
        } else {
            finish_cleanup(s, key, obj, rev, established);
        }
    }
    json_decref(c);
    json_decref(keep);
}

/* Brings the in-memory state, the table and the stored status in line with
 * the stored CRD obj (borrowed) at revision rev. */
static void reconcile(vk_crdserve_t *s, const char *name, const json_t *obj, int64_t rev)
{
    char *key = vk_xasprintf(CRD_PREFIX "%s", name);
    if (meta_str(obj, "deletionTimestamp")) {
        reconcile_deleting(s, name, key, obj, rev);
        free(key);
        return;
    }
    json_object_del(s->terminating, name);
    /* Names are checked against every other served resource. */
    vk_resources_t *scratch = vk_resources_new();
    const char *k;
    json_t *v;
    json_object_foreach(s->crds, k, v) if (strcmp(k, name) && json_object_get(s->sigs, k))
        vk_crd_rows_add(v, scratch);
    char now[32];
    now_rfc3339(now, sizeof now);
    int ok = 0;
    json_t *st = vk_crd_status(obj, scratch, now, &ok);
    vk_resources_free(scratch);
    json_t *eff = json_deep_copy(obj);
    int changed = !json_equal(st, json_object_get(obj, "status"));
    json_object_set_new(eff, "status", st);
    if (changed) put(s, key, eff, rev);
    char *sig = ok ? rows_sig(eff) : NULL;
    const char *old_sig = str_at(s->sigs, name);
    if (!old_sig || !sig || strcmp(old_sig, sig)) {
        drop_rows(s, name);
        if (sig) {
            int rc = vk_crd_rows_add(eff, s->table);
            if (rc) {
                vk_log_warn("crdserve: %s: rows not added: %s", name, vk_err_name(rc));
            } else {
                json_object_set_new(s->sigs, name, json_string(sig));
                s->gen++;
            }
        }
    }
    free(sig);
    json_object_set_new(s->crds, name, eff);
    free(key);
}

static void forget(vk_crdserve_t *s, const char *name, const json_t *last)
{
    waiters_drop(s, name);
    drop_rows(s, name);
    /* Deleted without the cleanup finalizer: its objects go all the same. */
    if (!json_object_get(s->terminating, name) && last) delete_objects(s, last);
    json_object_del(s->crds, name);
    json_object_del(s->terminating, name);
}

static int on_event(void *arg, const vk_event_t *ev)
{
    vk_crdserve_t *s = arg;
    const char *name = ev->kv->key + strlen(CRD_PREFIX);
    json_t *o = json_loadb((const char *)ev->kv->val, ev->kv->len, 0, NULL);
    if (ev->type == VK_EVENT_DELETED) forget(s, name, o);
    else if (json_is_object(o)) reconcile(s, name, o, ev->kv->mod_rev);
    json_decref(o);
    return 0;
}

static void on_watch_end(void *arg, int reason)
{
    vk_crdserve_t *s = arg;
    s->watch = NULL;
    if (reason != VK_ECLOSED) vk_log_warn("crdserve: CRD watch ended: %s", vk_err_name(reason));
}

int vk_crdserve_new(vk_store_t *store, vk_resources_t *t, vk_crdserve_t **out)
{
    vk_crdserve_t *s = vk_xcalloc(1, sizeof *s);
    s->store = store;
    s->table = t;
    s->crds = json_object();
    s->sigs = json_object();
    s->terminating = json_object();
    vk_store_list_t l;
    int rc = vk_store_list(store, CRD_PREFIX, NULL, 0, 0, &l);
    if (rc) {
        destroy(s);
        return rc;
    }
    for (size_t i = 0; i < l.count; i++) {
        json_t *o = json_loadb((const char *)l.items[i]->val, l.items[i]->len, 0, NULL);
        if (json_is_object(o))
            reconcile(s, l.items[i]->key + strlen(CRD_PREFIX), o, l.items[i]->mod_rev);
        json_decref(o);
    }
    int64_t rev = l.rev;
    vk_store_list_free(&l);
    rc = vk_store_watch(store, CRD_PREFIX, rev, on_event, on_watch_end, s, &s->watch);
    if (rc) {
        s->watch = NULL;
        vk_log_warn("crdserve: cannot watch CRDs: %s", vk_err_name(rc));
    }
    *out = s;
    return 0;
}

void vk_crdserve_on_removed(vk_crdserve_t *s, vk_crdserve_removed_cb cb, void *arg)
{
    s->removed_cb = cb;
    s->removed_arg = arg;
}

void vk_crdserve_free(vk_crdserve_t *s)
{
    if (!s) return;
    if (s->watch) vk_store_watch_cancel(s->watch);
    s->watch = NULL;
    waiters_drop(s, NULL);
    s->removed_cb = NULL;
    s->closing = 1;
    if (s->inflight == 0) destroy(s);
}

unsigned vk_crdserve_generation(const vk_crdserve_t *s)
{
    return s->gen;
}

int vk_crdserve_apply_openapi(const vk_crdserve_t *s, struct vk_openapi *o)
{
    const char *k;
    json_t *v;
    int first = 0;
    json_object_foreach(s->crds, k, v)
    {
        if (!json_object_get(s->sigs, k)) continue;
        int rc = vk_crd_openapi_apply(v, o);
        if (rc && !first) first = rc;
    }
    return first;
}

const json_t *vk_crdserve_find(const vk_crdserve_t *s, const vk_resource_t *row)
{
    if (!s || !row || !(row->flags & VK_RES_CUSTOM)) return NULL;
    const char *k;
    json_t *v;
    json_object_foreach(s->crds, k, v)
    {
        if (!json_object_get(s->sigs, k)) continue;
        const char *g = str_at(json_object_get(v, "spec"), "group");
        const char *kind =
            str_at(json_object_get(json_object_get(v, "status"), "acceptedNames"), "kind");
        if (g && kind && !strcmp(g, row->group) && !strcmp(kind, row->kind)) return v;
    }
    return NULL;
}

/* ------------------------------------------------------------------ writes */

static json_t *invalid_status(const vk_resource_t *row, const char *group, const char *kind,
                              const char *name, json_t *causes)
{
    char *msg = vk_validate_message(group, kind, name, causes);
    json_t *st = vk_status_new(422, "Invalid", msg, row, name);
    free(msg);
    json_t *d = json_object_get(st, "details");
    json_object_set_new(d, "kind", json_string(kind));
    json_object_set(d, "causes", causes);
    return st;
}

static json_t *gone_status(const vk_resource_t *row, const char *name)
{
    return vk_status_new(404, "NotFound", "the server could not find the requested resource",
                         row, name);
}

int vk_crdserve_admit_crd(vk_crdserve_t *s, const vk_resource_t *row, json_t *crd,
                          const json_t *old, json_t **warnings, json_t **status)
{
    (void)s;
    *warnings = NULL;
    *status = NULL;
    if (!old) {
        vk_crd_prepare_create(crd);
        json_t *md = json_object_get(crd, "metadata");
        json_t *fin = json_object_get(md, "finalizers");
        if (!json_is_array(fin)) json_object_set_new(md, "finalizers", fin = json_array());
        int have = 0;
        size_t i;
        json_t *f;
        json_array_foreach(fin, i, f) if (json_string_value(f) &&
                                          !strcmp(json_string_value(f), FINALIZER)) have = 1;
        if (!have) json_array_append_new(fin, json_string(FINALIZER));
    }
    json_t *causes = json_array();
    if (vk_crd_validate(crd, old, causes)) {
        *status = invalid_status(row, "apiextensions.k8s.io", "CustomResourceDefinition",
                                 meta_str(crd, "name"), causes);
        json_decref(causes);
        return -1;
    }
    json_decref(causes);
    *warnings = vk_crd_warnings(crd);
    return 0;
}

int vk_crdserve_write(vk_crdserve_t *s, const vk_resource_t *row, const char *sub,
                      const char *field_validation, json_t *obj, const json_t *old,
                      json_t **warnings, json_t **status)
{
    *warnings = json_array();
    *status = NULL;
    const char *name = meta_str(obj, "name");
    const json_t *crd = vk_crdserve_find(s, row);
    if (!crd) {
        *status = gone_status(row, name);
        return -1;
    }
    if (!old && condition_true(crd, "Terminating")) {
        /* As upstream's custom resource handler (403, measured against
         * kube-apiserver 1.36) while instances are being
         * deleted (afterwards, while other finalizers hold the CRD, creates
         * work again). */
        char *m = vk_xasprintf("%s.%s \"%s\" is forbidden: create not allowed while custom "
                               "resource definition is terminating", row->plural, row->group,
                               name ? name : "");
        *status = vk_status_new(403, "Forbidden", m, row, name);
        free(m);
        return -1;
    }
    const char *fv = field_validation;
    if (fv && strcmp(fv, "Strict") && strcmp(fv, "Warn") && strcmp(fv, "Ignore")) {
        char m[512];
        snprintf(m, sizeof m, "fieldValidation must be one of \"Ignore\", \"Warn\", or "
                 "\"Strict\", not %.300s", fv);
        *status = vk_status_new(400, "BadRequest", m, NULL, NULL);
        return -1;
    }
    unsigned flags = 0;
    if (fv && !strcmp(fv, "Strict")) flags |= VK_CRD_WRITE_STRICT;
    if (!sub && (row->flags & VK_RES_STATUS)) flags |= VK_CRD_WRITE_MAIN_STATUS;
    if (sub && !strcmp(sub, "status")) flags |= VK_CRD_WRITE_STATUS_ONLY;
    vk_crd_write_result_t res;
    memset(&res, 0, sizeof res);
    int rc = vk_crd_write(crd, row->version, obj, old, flags, &res);
    if (!rc && (!fv || !strcmp(fv, "Warn"))) {
        size_t i;
        json_t *p;
        json_array_foreach(res.pruned, i, p)
        {
            char *w = vk_xasprintf("unknown field \"%s\"", json_string_value(p));
            json_array_append_new(*warnings, json_string(w));
            free(w);
        }
    }
    if (rc == VK_EINVALID && res.causes) {
        json_t *st = vk_status_new(422, "Invalid", res.message, row, name);
        json_t *d = json_object_get(st, "details");
        json_object_set_new(d, "kind", json_string(row->kind));
        json_object_set(d, "causes", res.causes);
        *status = st;
    } else if (rc) {
        *status = vk_status_for_err(rc, row, name, res.message);
    }
    json_decref(res.pruned);
    json_decref(res.causes);
    free(res.message);
    return rc ? -1 : 0;
}

int vk_crdserve_read(const vk_crdserve_t *s, const vk_resource_t *row, json_t *obj)
{
    const json_t *crd = vk_crdserve_find(s, row);
    if (!crd) return 0;
    char *err = NULL;
    int rc = vk_crd_read(crd, row->version, obj, &err);
    free(err);
    return rc;
}

/* ------------------------------------------------------------------ tables */

json_t *vk_crdserve_table_new(const vk_crdserve_t *s, const vk_resource_t *row)
{
    json_t *t = vk_table_new(row);
    const json_t *crd = vk_crdserve_find(s, row);
    if (crd) json_object_set_new(t, "columnDefinitions", vk_crd_table_columns(crd, row->version));
    return t;
}

void vk_crdserve_table_add(const vk_crdserve_t *s, json_t *table, const vk_resource_t *row,
                           const json_t *obj, int include)
{
    const json_t *crd = vk_crdserve_find(s, row);
    if (!crd) {
        vk_table_add(table, row, obj, include);
        return;
    }
    json_t *r = vk_crd_table_row(crd, row->version, obj, (int64_t)time(NULL));
    if (include == 2) {
        json_object_set_new(r, "object", json_deep_copy(obj));
    } else if (include == 1) {
        json_t *md = json_object_get(obj, "metadata");
        json_t *p = json_object();
        json_object_set_new(p, "kind", json_string("PartialObjectMetadata"));
        json_object_set_new(p, "apiVersion", json_string("meta.k8s.io/v1"));
        json_object_set_new(p, "metadata", md ? json_deep_copy(md) : json_object());
        json_object_set_new(r, "object", p);
    }
    json_array_append_new(json_object_get(table, "rows"), r);
}

/* ------------------------------------------------------------------- scale */

json_t *vk_crdserve_scale_get(const vk_crdserve_t *s, const vk_resource_t *row,
                              const json_t *obj)
{
    const json_t *crd = vk_crdserve_find(s, row);
    if (!crd) return NULL;
    json_t *sc = NULL;
    if (vk_crd_scale_get(crd, row->version, obj, &sc)) return NULL;
    return sc;
}

int vk_crdserve_scale_set(const vk_crdserve_t *s, const vk_resource_t *row, json_t *obj,
                          const json_t *scale, json_t **status)
{
    *status = NULL;
    const char *name = meta_str(obj, "name");
    const json_t *crd = vk_crdserve_find(s, row);
    if (!crd) {
        *status = gone_status(row, name);
        return -1;
    }
    json_t *causes = json_array();
    int rc = vk_crd_scale_set(crd, row->version, obj, scale, causes);
    if (rc == VK_EINVALID) *status = invalid_status(row, "autoscaling", "Scale", name, causes);
    else if (rc) *status = gone_status(row, name);
    json_decref(causes);
    return rc ? -1 : 0;
}

void vk_crdserve_apply_schema(const vk_crdserve_t *s, const vk_resource_t *row,
                              struct vk_pool *pool, vk_patch_schema_cb *cb, void **cb_ctx)
{
    const json_t *crd = vk_crdserve_find(s, row);
    const json_t *schema = crd ? vk_crd_schema(crd, row->version) : NULL;
    if (!schema) return;
    vk_patch_openapi_t *p = vk_pool_alloc(pool, sizeof *p);
    p->schema = schema;
    p->pool = pool;
    *cb = vk_patch_schema_openapi;
    *cb_ctx = p;
}
