/* watch: streaming store events to a client. A vk_watch_t is heap-allocated
 * (it outlives the request pool only until the stream ends) and freed after
 * its two timers are closed. */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/crdserve.h"
#include "proxy/status.h"
#include "proxy/fastjson.h"
#include "proxy/table.h"

struct vk_watch {
    vk_watch_t *next, *prev;  /* in ctx->watches */
    vk_rest_ctx_t *ctx;
    vk_http_req_t *req;       /* NULL once ended */
    const vk_resource_t *res;
    vk_rest_filter_t filter;
    vk_store_watch_t *sw;
    uv_timer_t timeout, bookmark;
    int closing_handles;      /* timers not yet closed */
    int bookmarks;            /* allowWatchBookmarks */
    int table;                /* events carry Tables */
    int include;
    int paused;               /* store delivery paused until the socket drains */
    int ended;
    int stopping;             /* its resource is going: ends once brought up to stop_rev */
    int64_t stop_rev;
    int stop_checks;          /* stop-check timer ticks so far */
    vk_resource_t row;        /* custom resources: res points here (strings owned), as the
                                 table's row is removed with its CRD while events drain */
    char api_version[128];
};

/* How often, and how many times at most, a stopping watch checks whether the
 * store has brought it up to the revision its resource went at. */
#define STOP_CHECK_MS 10
#define STOP_CHECKS_MAX 500

static void unlink_watch(vk_watch_t *w)
{
    if (w->prev) w->prev->next = w->next;
    else if (w->ctx->watches == w) w->ctx->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    w->next = w->prev = NULL;
}

static void on_timer_closed(uv_handle_t *h)
{
    vk_watch_t *w = h->data;
    if (--w->closing_handles == 0) {
        vk_rest_filter_free(&w->filter);
        if (w->res == &w->row) {
            free((char *)w->row.group);
            free((char *)w->row.version);
            free((char *)w->row.kind);
            free((char *)w->row.plural);
            free((char *)w->row.singular);
            free((char *)w->row.short_names);
            free((char *)w->row.categories);
        }
        free(w);
    }
}

/* Ends the stream (once). cancel_store: 0 when the store already ended it. */
static void finish(vk_watch_t *w, int cancel_store)
{
    if (w->ended) return;
    w->ended = 1;
    if (w->sw && cancel_store) vk_store_watch_cancel(w->sw);
    w->sw = NULL;
    unlink_watch(w);
    vk_metrics_watch_delta(w->ctx->metrics, -1);
    vk_http_req_t *req = w->req;
    w->req = NULL;
    if (req) vk_http_stream_end(req);
    uv_timer_stop(&w->timeout);
    uv_timer_stop(&w->bookmark);
    uv_close((uv_handle_t *)&w->timeout, on_timer_closed);
    uv_close((uv_handle_t *)&w->bookmark, on_timer_closed);
}

/* Writes one event line; takes the reference to obj. Returns the stream's result. */
static int send_event(vk_watch_t *w, const char *type, json_t *obj)
{
    if (w->table && strcmp(type, "ERROR") && strcmp(type, "BOOKMARK")) {
        json_t *t = vk_crdserve_table_new(w->ctx->crds, w->res);
        vk_crdserve_table_add(w->ctx->crds, t, w->res, obj, w->include);
        json_decref(obj);
        obj = t;
    }
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "object", obj);
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    size_t n = strlen(s);
    s = vk_xrealloc(s, n + 2);
    s[n++] = '\n';
    int rc = vk_http_stream_write(w->req, s, n);
    free(s);
    return rc;
}

static json_t *bookmark_object(vk_watch_t *w, int64_t rev, int initial_end)
{
    char rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)rev);
    json_t *md = json_pack("{s:s,s:n}", "resourceVersion", rv, "creationTimestamp");
    if (initial_end)
        json_object_set_new(md, "annotations",
                            json_pack("{s:s}", "k8s.io/initial-events-end", "true"));
    return json_pack("{s:s,s:s,s:o}", "kind", w->res->kind, "apiVersion", w->api_version,
                     "metadata", md);
}

static void on_drain(void *arg, vk_http_req_t *req)
{
    vk_watch_t *w = arg;
    if (w->ended || !w->paused) return;
    w->paused = 0;
    if (w->sw) vk_store_watch_resume(w->sw);
}

static int after_write(vk_watch_t *w, int rc)
{
    if (rc == VK_EAGAIN) {
        w->paused = 1;
        vk_http_stream_on_drain(w->req, on_drain, w);
        return VK_EAGAIN;
    }
    if (rc) {
        finish(w, 1);
        return 0;
    }
    return 0;
}

static int on_event(void *arg, const vk_event_t *ev)
{
    vk_watch_t *w = arg;
    if (w->ended) return 0;
    const char *type = ev->type == VK_EVENT_ADDED      ? "ADDED"
                       : ev->type == VK_EVENT_MODIFIED ? "MODIFIED"
                                                       : "DELETED";
    if (!w->table && !w->filter.label && !w->filter.field && !(w->res->flags & VK_RES_CUSTOM)) {
        /* The stored bytes with the resourceVersion spliced in: no parsing. */
        vk_fastjson_buf_t b = {0};
        vk_fastjson_buf_puts(&b, "{\"type\":\"");
        vk_fastjson_buf_puts(&b, type);
        vk_fastjson_buf_puts(&b, "\",\"object\":");
        if (!vk_fastjson_put_with_rv(&b, (const char *)ev->kv->val, ev->kv->len,
                                     ev->kv->mod_rev)) {
            vk_fastjson_buf_put(&b, "}\n", 2);
            int rc = vk_http_stream_write(w->req, b.p, b.len);
            vk_fastjson_buf_free(&b);
            return after_write(w, rc);
        }
        vk_fastjson_buf_free(&b);
    }
    json_t *obj = vk_rest_decode(ev->kv);
    if (!obj) return 0;
    if (w->stopping) /* the CRD may be gone: conversion None to the watched version */
        json_object_set_new(obj, "apiVersion", json_string(w->api_version));
    else
        vk_crdserve_read(w->ctx->crds, w->res, obj); /* custom: the watched version */
    if (w->filter.label || w->filter.field) {
        int now = vk_rest_filter_match(&w->filter, w->res, obj);
        int before = 0;
        if (ev->type == VK_EVENT_MODIFIED && ev->prev) {
            json_t *p = vk_rest_decode(ev->prev);
            before = p && vk_rest_filter_match(&w->filter, w->res, p);
            json_decref(p);
        } else if (ev->type == VK_EVENT_DELETED) {
            before = now;
        }
        if (ev->type == VK_EVENT_MODIFIED) {
            if (now && !before) type = "ADDED";
            else if (!now && before) type = "DELETED";
            else if (!now) {
                json_decref(obj);
                return 0;
            }
        } else if (!now) {
            json_decref(obj);
            return 0;
        }
    }
    return after_write(w, send_event(w, type, obj));
}

static void on_store_end(void *arg, int reason)
{
    vk_watch_t *w = arg;
    w->sw = NULL;
    if (w->ended) return;
    if (reason == VK_EEXPIRED || reason == VK_ESLOW) {
        json_t *s = vk_status_new(410, "Expired",
                                  reason == VK_ESLOW ? "the watcher fell too far behind"
                                                     : "The resourceVersion for the provided "
                                                       "watch is too old.",
                                  NULL, NULL);
        send_event(w, "ERROR", s);
    }
    finish(w, 0);
}

static void on_client_close(void *arg, vk_http_req_t *req)
{
    finish(arg, 1);
}

static void on_timeout(uv_timer_t *t)
{
    finish(t->data, 1);
}

static void on_bookmark(uv_timer_t *t)
{
    vk_watch_t *w = t->data;
    if (w->ended || !w->sw || w->paused) return;
    after_write(w, send_event(w, "BOOKMARK",
                              bookmark_object(w, vk_store_watch_progress(w->sw), 0)));
}

/* Go's strconv.ParseBool true values (clients send "true", "True", "1"). */
static int parse_bool(const char *v)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
    for (size_t i = 0; v && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(v, t[i])) return 1;
    return 0;
}

static int bookmark_ms(vk_rest_ctx_t *ctx)
{
    return ctx->bookmark_ms > 0 ? ctx->bookmark_ms : 60000;
}

void vk_watch_start(vk_rest_call_t *c)
{
    vk_rest_ctx_t *ctx = c->ctx;
    vk_http_req_t *req = c->req;
    vk_watch_t *w = vk_xcalloc(1, sizeof *w);
    if (vk_rest_filter_parse(c, &w->filter)) {
        free(w);
        return;
    }
    /* An empty selector matches everything: drop it, so that events take the
     * path that splices the stored bytes instead of decoding them. */
    if (w->filter.label && vk_selector_label_empty(w->filter.label)) {
        vk_selector_label_free(w->filter.label);
        w->filter.label = NULL;
    }
    if (w->filter.field && vk_selector_field_empty(w->filter.field)) {
        vk_selector_field_free(w->filter.field);
        w->filter.field = NULL;
    }
    const char *rvs = vk_http_query(req, "resourceVersion");
    const char *sie = vk_http_query(req, "sendInitialEvents");
    const char *bm = vk_http_query(req, "allowWatchBookmarks");
    const char *ts = vk_http_query(req, "timeoutSeconds");
    int send_initial = parse_bool(sie);
    w->bookmarks = parse_bool(bm);
    if (send_initial && !w->bookmarks) {
        vk_rest_filter_free(&w->filter);
        free(w);
        vk_rest_reply_err(c, VK_EINVALID,
                          "ListOptions.meta.k8s.io \"\" is invalid: allowWatchBookmarks: "
                          "Required value: allowWatchBookmarks must be set to true when "
                          "sendInitialEvents is set");
        return;
    }
    int64_t after = -1;
    if (rvs && *rvs && strcmp(rvs, "0")) {
        char *end;
        long long v = strtoll(rvs, &end, 10);
        if (*end || v < 0) {
            vk_rest_filter_free(&w->filter);
            free(w);
            vk_rest_reply_err(c, VK_EBADREQUEST, "invalid resource version");
            return;
        }
        after = v;
    }
    if (send_initial) after = -1;
    w->ctx = ctx;
    w->res = c->res;
    if (c->res->flags & VK_RES_CUSTOM) {
        w->row = *c->res;
        w->row.group = vk_xstrdup(c->res->group);
        w->row.version = vk_xstrdup(c->res->version);
        w->row.kind = vk_xstrdup(c->res->kind);
        w->row.plural = vk_xstrdup(c->res->plural);
        w->row.singular = vk_xstrdup(c->res->singular ? c->res->singular : "");
        w->row.short_names = vk_xstrdup(c->res->short_names ? c->res->short_names : "");
        w->row.categories = vk_xstrdup(c->res->categories ? c->res->categories : "");
        w->res = &w->row;
    }
    w->table = vk_rest_wants_table(req);
    w->include = vk_rest_include_object(req);
    vk_resources_api_version(c->res, w->api_version, sizeof w->api_version);
    uv_timer_init(ctx->loop, &w->timeout);
    uv_timer_init(ctx->loop, &w->bookmark);
    w->timeout.data = w->bookmark.data = w;
    w->closing_handles = 2;
    w->next = ctx->watches;
    if (w->next) w->next->prev = w;
    ctx->watches = w;
    vk_metrics_watch_delta(ctx->metrics, 1);
    vk_metrics_observe(ctx->metrics, "WATCH", c->res->group, c->res->plural, c->sub ? c->sub : "",
                       200, (double)(uv_hrtime() - req->start_ns) / 1e9);
    w->req = req;
    c->req = NULL;
    vk_http_stream_begin(req, 200, "application/json", on_client_close, w);

    char *prefix = vk_resources_key(c->res, c->ns, NULL);
    if (after < 0) {
        /* Synthetic ADDED events for the current state. */
        vk_store_list_t l;
        int rc = vk_store_list(ctx->store, prefix, NULL, 0, 0, &l);
        if (rc) {
            send_event(w, "ERROR", vk_status_for_err(rc, c->res, NULL, NULL));
            free(prefix);
            finish(w, 1);
            return;
        }
        for (size_t i = 0; i < l.count && !w->ended; i++) {
            json_t *o = vk_rest_decode(l.items[i]);
            if (!o) continue;
            vk_crdserve_read(ctx->crds, c->res, o);
            if (!vk_rest_filter_match(&w->filter, c->res, o)) {
                json_decref(o);
                continue;
            }
            int wr = send_event(w, "ADDED", o);
            if (wr == VK_ECLOSED) finish(w, 1);
        }
        after = l.rev;
        vk_store_list_free(&l);
        if (!w->ended && send_initial)
            if (send_event(w, "BOOKMARK", bookmark_object(w, after, 1)) == VK_ECLOSED)
                finish(w, 1);
        if (w->ended) {
            free(prefix);
            return;
        }
    }
    int rc = vk_store_watch(ctx->store, prefix, after, on_event, on_store_end, w, &w->sw);
    free(prefix);
    if (rc) {
        json_t *s;
        if (rc == VK_EEXPIRED)
            s = vk_status_new(410, "Expired", "The resourceVersion for the provided watch is too "
                              "old.", NULL, NULL);
        else if (rc == VK_EINVALID)
            s = vk_status_new(504, "Timeout", "Too large resource version", NULL, NULL);
        else
            s = vk_status_for_err(rc, c->res, NULL, NULL);
        w->sw = NULL;
        send_event(w, "ERROR", s);
        finish(w, 0);
        return;
    }
    long tsec = ts ? strtol(ts, NULL, 10) : 0;
    if (tsec <= 0) tsec = 1800;
    uv_timer_start(&w->timeout, on_timeout, (uint64_t)tsec * 1000, 0);
    if (w->bookmarks) {
        int ms = bookmark_ms(ctx);
        uv_timer_start(&w->bookmark, on_bookmark, (uint64_t)ms, (uint64_t)ms);
    }
}

void vk_watch_stop_all(vk_rest_ctx_t *ctx)
{
    while (ctx->watches) finish(ctx->watches, 1);
}

static void on_stop_check(uv_timer_t *t)
{
    vk_watch_t *w = t->data;
    if (w->ended) return;
    if (!w->sw || vk_store_watch_progress(w->sw) >= w->stop_rev ||
        ++w->stop_checks >= STOP_CHECKS_MAX)
        finish(w, 1);
}

void vk_watch_stop_resource(vk_rest_ctx_t *ctx, const char *group, const char *plural)
{
    vk_watch_t *w = ctx->watches, *next;
    for (; w; w = next) {
        next = w->next;
        if (w->stopping || strcmp(w->res->group, group) || strcmp(w->res->plural, plural))
            continue;
        if (!w->sw) {
            finish(w, 1);
            continue;
        }
        /* The store may not have delivered this watch the events committed
         * with the CRD's removal yet (the objects' DELETED events): end the
         * stream once it has, as upstream's watchers see them first. */
        w->stopping = 1;
        w->stop_rev = vk_store_revision(ctx->store);
        uv_timer_stop(&w->bookmark);
        uv_timer_stop(&w->timeout);
        uv_timer_start(&w->timeout, on_stop_check, 0, STOP_CHECK_MS);
    }
}

void vk_watch_set_bookmark_ms(vk_rest_ctx_t *ctx, int ms)
{
    ctx->bookmark_ms = ms;
}
