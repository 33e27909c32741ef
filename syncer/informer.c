/* informer: list+watch cache over httpc, with relist on 410 and backoff. */
#include "informer.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vk_informer {
    vk_httpc_t *c;
    vk_informer_config_t cfg; /* strings below are owned copies */
    char *path, *lsel, *fsel;
    json_t *cache;            /* key -> object */
    json_t *next;             /* cache being built by a paged list */
    char *rv;                 /* resourceVersion to watch from */
    char *cont;               /* list continue token */
    vk_httpc_req_t *req;
    uv_timer_t timer;         /* backoff / deferred start */
    uint64_t backoff_ms;
    int synced, stopped, lists, watches;
    int relist;               /* the next step is a list (else a watch) */
    int watch_events;         /* events seen by the current watch */
};

static void schedule(vk_informer_t *inf, uint64_t ms);

static char *key_of(const json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    const char *name = json_string_value(json_object_get(md, "name"));
    if (!name) return NULL;
    return ns && *ns ? vk_xasprintf("%s/%s", ns, name) : vk_xstrdup(name);
}

static const char *rv_of(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* Percent-encodes s for a query value. */
static void append_q(char *buf, size_t len, const char *name, const char *s)
{
    size_t n = strlen(buf);
    n += (size_t)snprintf(buf + n, len > n ? len - n : 0, "&%s=", name);
    for (; *s && n + 4 < len; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-_.~", ch))
            buf[n++] = (char)ch;
        else
            n += (size_t)snprintf(buf + n, len - n, "%%%02X", ch);
    }
    buf[n < len ? n : len - 1] = 0;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? vk_xstrdup(v) : NULL;
}

static void retry(vk_informer_t *inf, int relist, const char *why)
{
    if (inf->stopped) return;
    inf->relist = inf->relist || relist;
    inf->backoff_ms = inf->backoff_ms ? inf->backoff_ms * 2 : inf->cfg.retry_min_ms;
    if (inf->backoff_ms > inf->cfg.retry_max_ms) inf->backoff_ms = inf->cfg.retry_max_ms;
    vk_log_warn("informer %s: %s; retrying in %llu ms", inf->path, why,
                (unsigned long long)inf->backoff_ms);
    schedule(inf, inf->backoff_ms);
}

/* Replaces the cache with inf->next, delivering the differences. */
static void list_complete(vk_informer_t *inf)
{
    json_t *old = inf->cache, *now = inf->next;
    inf->cache = now;
    inf->next = NULL;
    const char *k;
    json_t *o;
    json_object_foreach(now, k, o)
    {
        json_t *prev = json_object_get(old, k);
        if (!prev) inf->cfg.event_cb(inf->cfg.data, "ADDED", o, NULL);
        else if (!rv_of(prev) || !rv_of(o) || strcmp(rv_of(prev), rv_of(o)) != 0)
            inf->cfg.event_cb(inf->cfg.data, "MODIFIED", o, prev);
        if (inf->stopped) break;
    }
    if (!inf->stopped) {
        json_object_foreach(old, k, o)
        {
            if (json_object_get(now, k)) continue;
            inf->cfg.event_cb(inf->cfg.data, "DELETED", o, o);
            if (inf->stopped) break;
        }
    }
    json_decref(old);
    if (inf->stopped) return;
    inf->lists++;
    inf->synced = 1;
    inf->relist = 0;
    inf->backoff_ms = 0;
    if (inf->cfg.synced_cb) inf->cfg.synced_cb(inf->cfg.data);
    if (!inf->stopped) schedule(inf, 0);
}

static void on_list(int err, const vk_httpc_resp_t *resp, void *data)
{
    vk_informer_t *inf = data;
    inf->req = NULL;
    if (inf->stopped) return;
    if (err) {
        retry(inf, 1, vk_err_name(err));
        return;
    }
    if (resp->status == 410) { /* continue token expired: start over */
        json_decref(inf->next);
        inf->next = NULL;
        set_str(&inf->cont, NULL);
        retry(inf, 1, "list continue token expired (410)");
        return;
    }
    if (resp->status != 200 || !json_is_object(resp->json)) {
        char why[64];
        snprintf(why, sizeof why, "list answered %d", resp->status);
        retry(inf, 1, why);
        return;
    }
    if (!inf->next) inf->next = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(resp->json, "items"), i, o)
    {
        char *k = key_of(o);
        if (k) json_object_set(inf->next, k, o);
        free(k);
    }
    const json_t *md = json_object_get(resp->json, "metadata");
    const char *cont = json_string_value(json_object_get(md, "continue"));
    set_str(&inf->rv, json_string_value(json_object_get(md, "resourceVersion")));
    if (cont && *cont) {
        set_str(&inf->cont, cont);
        schedule(inf, 0);
        return;
    }
    set_str(&inf->cont, NULL);
    list_complete(inf);
}

static void watch_line(const char *line, size_t len, void *data)
{
    vk_informer_t *inf = data;
    if (inf->stopped) return;
    json_t *ev = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        json_decref(ev);
        return;
    }
    inf->watch_events++;
    inf->backoff_ms = 0;
    if (!strcmp(type, "BOOKMARK")) {
        if (rv_of(obj)) set_str(&inf->rv, rv_of(obj));
    } else if (!strcmp(type, "ERROR")) {
        int code = (int)json_integer_value(json_object_get(obj, "code"));
        if (inf->req) {
            vk_httpc_req_t *r = inf->req;
            inf->req = NULL;
            vk_httpc_cancel(r);
        }
        if (code == 410) retry(inf, 1, "watch resourceVersion expired (410)");
        else retry(inf, code == 0, "watch error event");
    } else {
        char *k = key_of(obj);
        if (k) {
            json_t *prev = json_incref(json_object_get(inf->cache, k));
            if (!strcmp(type, "DELETED")) json_object_del(inf->cache, k);
            else json_object_set(inf->cache, k, obj);
            if (rv_of(obj)) set_str(&inf->rv, rv_of(obj));
            if (!strcmp(type, "DELETED") || !strcmp(type, "ADDED") || !strcmp(type, "MODIFIED"))
                inf->cfg.event_cb(inf->cfg.data, !strcmp(type, "ADDED") && prev ? "MODIFIED" : type,
                                  obj, prev);
            json_decref(prev);
            free(k);
        }
    }
    json_decref(ev);
}

static void on_watch_end(int err, const vk_httpc_resp_t *resp, void *data)
{
    vk_informer_t *inf = data;
    inf->req = NULL;
    if (inf->stopped || err == -ECANCELED) return;
    if (err) {
        retry(inf, 0, vk_err_name(err));
        return;
    }
    if (resp->status == 410) {
        retry(inf, 1, "watch answered 410");
        return;
    }
    if (resp->status != 200) {
        char why[64];
        snprintf(why, sizeof why, "watch answered %d", resp->status);
        retry(inf, 0, why);
        return;
    }
    /* A watch that ended normally (server timeout) resumes at once. */
    schedule(inf, 0);
}

static void start_request(vk_informer_t *inf)
{
    char path[2048];
    vk_httpc_call_t call = {.method = "GET", .data = inf};
    if (inf->relist || !inf->rv) {
        snprintf(path, sizeof path, "%s?limit=%zu", inf->path, inf->cfg.page_size);
        if (inf->cont) append_q(path, sizeof path, "continue", inf->cont);
        call.done_cb = on_list;
        call.timeout_ms = 60000;
        inf->relist = 1;
    } else {
        snprintf(path, sizeof path, "%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d",
                 inf->path, inf->cfg.watch_timeout_s);
        append_q(path, sizeof path, "resourceVersion", inf->rv);
        call.line_cb = watch_line;
        call.done_cb = on_watch_end;
        call.timeout_ms = (uint64_t)inf->cfg.watch_timeout_s * 1000 + 30000;
        inf->watches++;
        inf->watch_events = 0;
    }
    if (inf->lsel) append_q(path, sizeof path, "labelSelector", inf->lsel);
    if (inf->fsel) append_q(path, sizeof path, "fieldSelector", inf->fsel);
    call.path = path;
    int rc = vk_httpc_send(inf->c, &call, &inf->req);
    if (rc) {
        inf->req = NULL;
        retry(inf, inf->relist, vk_err_name(rc));
    }
}

static void on_timer(uv_timer_t *t)
{
    vk_informer_t *inf = t->data;
    if (!inf->stopped) start_request(inf);
}

static void schedule(vk_informer_t *inf, uint64_t ms)
{
    uv_timer_start(&inf->timer, on_timer, ms, 0);
}

int vk_informer_start(vk_httpc_t *c, const vk_informer_config_t *cfg, vk_informer_t **out)
{
    *out = NULL;
    if (!c || !cfg || !cfg->path || cfg->path[0] != '/' || !cfg->event_cb) return VK_EINVALID;
    vk_informer_t *inf = vk_xcalloc(1, sizeof *inf);
    inf->c = c;
    inf->cfg = *cfg;
    inf->path = vk_xstrdup(cfg->path);
    inf->lsel = cfg->label_selector ? vk_xstrdup(cfg->label_selector) : NULL;
    inf->fsel = cfg->field_selector ? vk_xstrdup(cfg->field_selector) : NULL;
    inf->cfg.path = inf->cfg.label_selector = inf->cfg.field_selector = NULL;
    if (!inf->cfg.page_size) inf->cfg.page_size = 500;
    if (inf->cfg.watch_timeout_s <= 0) inf->cfg.watch_timeout_s = 300;
    if (!inf->cfg.retry_min_ms) inf->cfg.retry_min_ms = 200;
    if (!inf->cfg.retry_max_ms) inf->cfg.retry_max_ms = 10000;
    inf->cache = json_object();
    inf->relist = 1;
    uv_timer_init(vk_httpc_loop(c), &inf->timer);
    inf->timer.data = inf;
    schedule(inf, 0);
    *out = inf;
    return 0;
}

static void freed(uv_handle_t *h)
{
    vk_informer_t *inf = h->data;
    json_decref(inf->cache);
    json_decref(inf->next);
    free(inf->path), free(inf->lsel), free(inf->fsel), free(inf->rv), free(inf->cont);
    free(inf);
}

void vk_informer_stop(vk_informer_t *inf)
{
    if (!inf || inf->stopped) return;
    inf->stopped = 1;
    if (inf->req) {
        vk_httpc_req_t *r = inf->req;
        inf->req = NULL;
        vk_httpc_cancel(r);
    }
    uv_close((uv_handle_t *)&inf->timer, freed);
}

int vk_informer_synced(const vk_informer_t *inf)
{
    return inf->synced;
}

const json_t *vk_informer_get(const vk_informer_t *inf, const char *key)
{
    return json_object_get(inf->cache, key);
}

json_t *vk_informer_list(const vk_informer_t *inf)
{
    json_t *arr = json_array();
    const char *k;
    json_t *o;
    json_object_foreach(inf->cache, k, o) json_array_append(arr, o);
    return arr;
}

int vk_informer_lists(const vk_informer_t *inf)
{
    return inf->lists;
}

int vk_informer_watches(const vk_informer_t *inf)
{
    return inf->watches;
}
