/* client: in-process API client over local requests; see client.h. */
#include "proxy/client.h"

#include <assert.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

/* Pause between two pages of an informer's list. */
enum { PAGE_GAP_MS = 1 };

typedef struct op op_t;
struct op {
    vk_client_t *c;
    vk_client_cb cb;
    void *arg;
    int status;
    int internal; /* an informer's own list: never called back after close */
    char *body; /* malloc'd response body */
    size_t len;
    op_t *next; /* completion queue */
};

/* A subscriber of an informer. */
typedef struct handler {
    vk_client_informer_cb on_change;
    void (*on_synced)(void *arg); /* may be NULL */
    void *arg;
} handler_t;

struct vk_client_informer {
    vk_client_t *c;
    char *path;
    handler_t *hs;       /* subscribers, the informer's own first (owned array) */
    size_t nhs;
    json_t *items;       /* plain: "ns/name" -> object (transformed); NULL if compact */
    vk_client_cache_t *cc; /* compact: the objects as JSON text; NULL if plain */
    vk_client_transform_cb transform; /* NULL: keep objects whole */
    void *transform_arg;
    char **keep;         /* vk_client_informer_keep's fields (owned), or NULL */
    int page;            /* list page size (limit), 0: unpaged */
    int pages;           /* pages loaded */
    json_t *seen;        /* keys seen by the list in progress (relists), or NULL */
    char *cont;          /* continue token of the list in progress, or NULL */
    size_t listed;       /* items in the list in progress */
    char rv[32];         /* resourceVersion to watch from */
    int synced;
    int relists;
    unsigned long gen;   /* plain: changes to items (vk_client_iter_next's check) */
    vk_http_req_t *watch; /* open watch stream, or NULL */
    char *line;          /* unparsed stream bytes */
    size_t line_len;
    int stream_ended;    /* the watch ended; restart it */
    int need_relist;     /* 410 or failure: list again */
    int listing;         /* a list request is in flight */
    uv_timer_t retry;
    vk_client_informer_t *next;
};

struct vk_client {
    uv_loop_t *loop;
    vk_http_handler_cb handler;
    void *ctx;
    char *user;
    char **groups;
    uv_timer_t timer; /* delivers completions on a later loop turn */
    op_t *qhead, *qtail;
    vk_client_informer_t *informers;
    int refs; /* in-flight requests + open handles */
    int closed;
    void (*done_cb)(void *arg);
    void *done_arg;
};

static void unref(vk_client_t *c)
{
    if (--c->refs) return;
    if (c->done_cb) c->done_cb(c->done_arg);
    for (char **g = c->groups; *g; g++) free(*g);
    free(c->groups);
    free(c->user);
    free(c);
}

static void on_tick(uv_timer_t *t);

static void kick(vk_client_t *c)
{
    if (!c->closed) uv_timer_start(&c->timer, on_tick, 0, 0);
}

vk_client_t *vk_client_new(uv_loop_t *loop, vk_http_handler_cb handler, void *ctx,
                           const char *user, const char *const *groups)
{
    vk_client_t *c = vk_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->handler = handler;
    c->ctx = ctx;
    c->user = vk_xstrdup(user);
    size_t n = 0;
    while (groups && groups[n]) n++;
    c->groups = vk_xcalloc(n + 1, sizeof *c->groups);
    for (size_t i = 0; i < n; i++) c->groups[i] = vk_xstrdup(groups[i]);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->refs = 1; /* the timer */
    return c;
}

char *vk_client_path(const char *group, const char *version, const char *resource,
                     const char *ns, const char *name, const char *sub)
{
    char buf[1024];
    int n;
    if (!group || !*group)
        n = snprintf(buf, sizeof buf, "/api/%s", version);
    else
        n = snprintf(buf, sizeof buf, "/apis/%s/%s", group, version);
    if (ns && *ns) n += snprintf(buf + n, sizeof buf - (size_t)n, "/namespaces/%s", ns);
    n += snprintf(buf + n, sizeof buf - (size_t)n, "/%s", resource);
    if (name && *name) n += snprintf(buf + n, sizeof buf - (size_t)n, "/%s", name);
    if (sub && *sub) snprintf(buf + n, sizeof buf - (size_t)n, "/%s", sub);
    return vk_xstrdup(buf);
}

/* ------------------------------------------------------------- requests */

static void op_response(void *arg, int status, const char *body, size_t len)
{
    op_t *o = arg;
    vk_client_t *c = o->c;
    if (c->closed) {
        /* The caller still hears of it (status 0) so it can free its context. */
        if (o->cb && !o->internal) o->cb(o->arg, 0, NULL);
        free(o);
        unref(c);
        return;
    }
    o->status = status;
    o->body = vk_xmalloc(len + 1);
    memcpy(o->body, body, len);
    o->body[len] = 0;
    o->len = len;
    if (c->qtail)
        c->qtail->next = o;
    else
        c->qhead = o;
    c->qtail = o;
    kick(c);
}

static void run_local(vk_client_t *c, const char *method, const char *path, const char *query,
                      const char *ctype, json_t *body, op_t *o)
{
    char *b = body ? json_dumps(body, JSON_COMPACT) : NULL;
    vk_http_local_t spec = {
        .method = method,
        .path = path,
        .query = query,
        .body = b,
        .body_len = b ? strlen(b) : 0,
        .content_type = b ? (ctype ? ctype : "application/json") : NULL,
        .user = c->user,
        .groups = (const char *const *)c->groups,
        .on_response = op_response,
        .arg = o,
    };
    vk_http_req_t *r = vk_http_local_request(&spec, c->handler, c->ctx);
    free(b);
    if (r) {
        /* A plain request never streams; a handler that did would be a bug. */
        vk_log_debug("client: %s %s still open after the handler", method, path);
    }
}

void vk_client_request(vk_client_t *c, const char *method, const char *path, const char *query,
                       const char *content_type, json_t *body, vk_client_cb cb, void *arg)
{
    op_t *o = vk_xcalloc(1, sizeof *o);
    o->c = c;
    o->cb = cb;
    o->arg = arg;
    c->refs++;
    run_local(c, method, path, query, content_type, body, o);
}

void vk_client_get(vk_client_t *c, const char *path, vk_client_cb cb, void *arg)
{
    vk_client_request(c, "GET", path, NULL, NULL, NULL, cb, arg);
}

void vk_client_create(vk_client_t *c, const char *collection_path, json_t *obj, vk_client_cb cb,
                      void *arg)
{
    vk_client_request(c, "POST", collection_path, NULL, NULL, obj, cb, arg);
}

void vk_client_update(vk_client_t *c, const char *path, json_t *obj, vk_client_cb cb, void *arg)
{
    vk_client_request(c, "PUT", path, NULL, NULL, obj, cb, arg);
}

void vk_client_patch(vk_client_t *c, const char *path, const char *type, json_t *patch,
                     vk_client_cb cb, void *arg)
{
    const char *ct = !strcmp(type, "json")        ? "application/json-patch+json"
                     : !strcmp(type, "strategic") ? "application/strategic-merge-patch+json"
                                                  : "application/merge-patch+json";
    vk_client_request(c, "PATCH", path, NULL, ct, patch, cb, arg);
}

void vk_client_delete(vk_client_t *c, const char *path, const char *propagation,
                      vk_client_cb cb, void *arg)
{
    json_t *b = NULL;
    if (propagation)
        b = json_pack("{s:s,s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1",
                      "propagationPolicy", propagation);
    vk_client_request(c, "DELETE", path, NULL, NULL, b, cb, arg);
    json_decref(b);
}

/* Percent-encodes s for a query value into out (cap bytes). */
static void query_escape(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = 0;
}

/* The query of a list page: "limit=N&continue=C" (either may be absent).
 * Caller frees. */
static char *page_query(int limit, const char *cont)
{
    size_t cap = (cont ? strlen(cont) * 3 : 0) + 64;
    char *q = vk_xmalloc(cap);
    int n = limit > 0 ? snprintf(q, cap, "limit=%d", limit) : 0;
    q[n] = 0;
    if (cont) {
        n += snprintf(q + n, cap - (size_t)n, "%scontinue=", n ? "&" : "");
        query_escape(cont, q + n, cap - (size_t)n);
    }
    return q;
}

void vk_client_list(vk_client_t *c, const char *collection_path, int limit, const char *cont,
                    vk_client_cb cb, void *arg)
{
    char *q = page_query(limit, cont);
    vk_client_request(c, "GET", collection_path, *q ? q : NULL, NULL, NULL, cb, arg);
    free(q);
}

/* ------------------------------------------------------------ the codec */

/* Code i + 1 stands for TOKENS[i]; longest first, so that the first match is
 * the longest. */
#define T(s) {s, sizeof(s) - 1}
static const struct token {
    const char *s;
    size_t len;
} TOKENS[] = {
    T("\",\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":\""),
    T("\",\"status\":\"True\",\"lastProbeTime\":null,\"lastTransitionTime\":\""),
    T("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\""),
    T("\",\"controller\":true,\"blockOwnerDeletion\":true}]"),
    T("\"ownerReferences\":[{\"apiVersion\":\""),
    T("\",\"ports\":[{\"containerPort\":"),
    T("\",\"conditions\":[{\"type\":\""),
    T("\",\"creationTimestamp\":\""),
    T("\"containers\":[{\"name\":\""),
    T("\",\"resourceVersion\":\""),
    T("\"deletionTimestamp\":\""),
    T("\"pod-template-hash\":\""),
    T(",\"protocol\":\"TCP\"}]"),
    T("\"status\":{\"phase\":\""),
    T("\",\"podIPs\":[{\"ip\":\""),
    T("\",\"namespace\":\""),
    T("\",\"labels\":{\""),
    T("\"resources\":{"),
    T("\"requests\":{"),
    T("\",\"memory\":\""),
    T("\"},{\"type\":\""),
    T("\"nodeName\":\""),
    T("\",\"kind\":\""),
    T("\",\"name\":\""),
    T("\"limits\":{"),
    T("\",\"uid\":\""),
    T("\"podIP\":\""),
    T("\"spec\":{"),
    T("\"cpu\":\""),
    T("Running"),
    T("Pending"),
};
#undef T
enum { NTOKENS = sizeof TOKENS / sizeof TOKENS[0] };
_Static_assert(NTOKENS < 0x20, "codes are the bytes 0x01-0x1f");

/* Bytes some token starts with. */
static const unsigned char STARTS[256] = {['"'] = 1, [','] = 1, ['{'] = 1, ['R'] = 1, ['P'] = 1};

void vk_client_text_pack(char *s, size_t *len)
{
    size_t r = 0, w = 0, n = *len;
    /* w <= r throughout: the bytes still to read are never overwritten. */
    while (r < n) {
        unsigned char c = (unsigned char)s[r];
        assert(c >= 0x20);
        int code = 0;
        if (STARTS[c])
            for (int i = 0; i < NTOKENS; i++)
                if (TOKENS[i].s[0] == (char)c && TOKENS[i].len <= n - r &&
                    !memcmp(s + r, TOKENS[i].s, TOKENS[i].len)) {
                    code = i + 1;
                    break;
                }
        if (code) {
            s[w++] = (char)code;
            r += TOKENS[code - 1].len;
        } else {
            s[w++] = s[r++];
        }
    }
    s[w] = 0;
    *len = w;
}

size_t vk_client_text_unpack(const char *p, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        const char *src = (const char *)&p[i];
        size_t k = 1;
        if (c && c <= NTOKENS) {
            src = TOKENS[c - 1].s;
            k = TOKENS[c - 1].len;
        }
        if (n + k < cap) memcpy(out + n, src, k);
        n += k;
    }
    if (n < cap) out[n] = 0;
    return n;
}

/* ------------------------------------------------------------ the cache */

typedef struct centry centry_t;
struct centry {
    centry_t *hnext;       /* hash chain */
    centry_t *prev, *next; /* insertion order */
    char *text;            /* compact JSON, len bytes + NUL (owned) */
    uint32_t len;
    uint32_t hash;
    char key[];            /* "ns/name" */
};

struct vk_client_cache {
    centry_t **buckets;
    size_t nbuckets;       /* a power of two */
    size_t count;
    size_t bytes;          /* allocated for entries and texts */
    centry_t *head, *tail;
    unsigned long gen;
};

/* Bytes a malloc'd block occupies (its usable size plus the chunk header). */
static size_t block_bytes(const void *p)
{
    return p ? malloc_usable_size((void *)p) + sizeof(size_t) : 0;
}

static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

vk_client_cache_t *vk_client_cache_new(void)
{
    vk_client_cache_t *cc = vk_xcalloc(1, sizeof *cc);
    cc->nbuckets = 16;
    cc->buckets = vk_xcalloc(cc->nbuckets, sizeof *cc->buckets);
    return cc;
}

void vk_client_cache_free(vk_client_cache_t *cc)
{
    if (!cc) return;
    centry_t *next;
    for (centry_t *e = cc->head; e; e = next) {
        next = e->next;
        free(e->text);
        free(e);
    }
    free(cc->buckets);
    free(cc);
}

static centry_t *cache_find(const vk_client_cache_t *cc, const char *key, uint32_t h)
{
    for (centry_t *e = cc->buckets[h & (cc->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && !strcmp(e->key, key)) return e;
    return NULL;
}

static void cache_grow(vk_client_cache_t *cc)
{
    size_t n = cc->nbuckets * 2;
    centry_t **b = vk_xcalloc(n, sizeof *b);
    for (centry_t *e = cc->head; e; e = e->next) {
        e->hnext = b[e->hash & (n - 1)];
        b[e->hash & (n - 1)] = e;
    }
    free(cc->buckets);
    cc->buckets = b;
    cc->nbuckets = n;
}

int vk_client_cache_put(vk_client_cache_t *cc, const char *key, char *text, size_t len)
{
    assert(text && text[len] == 0 && len <= UINT32_MAX);
    cc->gen++;
    uint32_t h = key_hash(key);
    centry_t *e = cache_find(cc, key, h);
    if (e) {
        cc->bytes -= block_bytes(e->text);
        free(e->text);
        e->text = text;
        e->len = (uint32_t)len;
        cc->bytes += block_bytes(text);
        return 0;
    }
    size_t klen = strlen(key);
    e = vk_xmalloc(sizeof *e + klen + 1);
    memcpy(e->key, key, klen + 1);
    e->text = text;
    e->len = (uint32_t)len;
    e->hash = h;
    e->next = NULL;
    e->prev = cc->tail;
    if (cc->tail)
        cc->tail->next = e;
    else
        cc->head = e;
    cc->tail = e;
    e->hnext = cc->buckets[h & (cc->nbuckets - 1)];
    cc->buckets[h & (cc->nbuckets - 1)] = e;
    cc->count++;
    cc->bytes += block_bytes(e) + block_bytes(text);
    if (cc->count > cc->nbuckets) cache_grow(cc);
    return 1;
}

int vk_client_cache_del(vk_client_cache_t *cc, const char *key)
{
    uint32_t h = key_hash(key);
    centry_t **pp = &cc->buckets[h & (cc->nbuckets - 1)];
    while (*pp && !((*pp)->hash == h && !strcmp((*pp)->key, key))) pp = &(*pp)->hnext;
    centry_t *e = *pp;
    if (!e) return 0;
    cc->gen++;
    *pp = e->hnext;
    if (e->prev)
        e->prev->next = e->next;
    else
        cc->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        cc->tail = e->prev;
    cc->count--;
    cc->bytes -= block_bytes(e) + block_bytes(e->text);
    free(e->text);
    free(e);
    return 1;
}

const char *vk_client_cache_text(const vk_client_cache_t *cc, const char *key, size_t *len)
{
    centry_t *e = cache_find(cc, key, key_hash(key));
    if (!e) return NULL;
    if (len) *len = e->len;
    return e->text;
}

size_t vk_client_cache_size(const vk_client_cache_t *cc)
{
    return cc->count;
}

size_t vk_client_cache_bytes(const vk_client_cache_t *cc)
{
    return cc->bytes + block_bytes(cc->buckets) + block_bytes(cc);
}

unsigned long vk_client_cache_gen(const vk_client_cache_t *cc)
{
    return cc->gen;
}

const void *vk_client_cache_first(const vk_client_cache_t *cc)
{
    return cc->head;
}

const void *vk_client_cache_next(const void *entry)
{
    return ((const centry_t *)entry)->next;
}

const char *vk_client_cache_entry(const void *entry, const char **text, size_t *len)
{
    const centry_t *e = entry;
    if (text) *text = e->text;
    if (len) *len = e->len;
    return e->key;
}

/* ------------------------------------------------------------- informers */

static void inf_list(vk_client_informer_t *inf);
static void inf_watch(vk_client_informer_t *inf);
static void inf_page_cb(uv_timer_t *t);

static const char *md_str(json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

static void obj_key(json_t *obj, char *buf, size_t n)
{
    const char *ns = md_str(obj, "namespace"), *name = md_str(obj, "name");
    snprintf(buf, n, "%s/%s", ns ? ns : "", name ? name : "");
}

/* The object to cache and report: obj transformed (a new reference). */
static json_t *inf_transform(vk_client_informer_t *inf, json_t *obj)
{
    if (!inf->transform) {
        /* managedFields only: a shallow copy (the rest is shared). */
        json_t *md = json_object_get(obj, "metadata");
        if (!json_object_get(md, "managedFields")) return json_incref(obj);
        json_t *t = json_copy(obj), *m = json_copy(md);
        json_object_del(m, "managedFields");
        json_object_set_new(t, "metadata", m);
        return t;
    }
    json_t *t = inf->transform(inf->transform_arg, obj);
    assert(t);
    return t;
}

/* Tells every subscriber (until the client is closed by one of them). */
static void notify(vk_client_informer_t *inf, int type, json_t *obj)
{
    for (size_t i = 0; i < inf->nhs && !inf->c->closed; i++)
        inf->hs[i].on_change(inf->hs[i].arg, type, obj);
}

/* The packed compact text of obj (malloc'd; caller frees). */
static char *dump_text(json_t *obj, size_t *len)
{
    char *t = json_dumps(obj, JSON_COMPACT);
    if (!t) abort(); /* jansson fails only when out of memory */
    size_t n = strlen(t), full = n;
    vk_client_text_pack(t, &n);
    *len = n;
    return n < full ? vk_xrealloc(t, n + 1) : t;
}

/* The object of a packed text, a new reference; NULL if filter (may be NULL)
 * refuses its text. */
static json_t *decode_packed(const char *p, size_t len, vk_client_text_filter_cb filter, void *arg)
{
    char buf[4096];
    char *t = buf;
    size_t n = vk_client_text_unpack(p, len, buf, sizeof buf);
    if (n >= sizeof buf) {
        t = vk_xmalloc(n + 1);
        vk_client_text_unpack(p, len, t, n + 1);
    }
    json_t *o = !filter || filter(arg, t, n) ? json_loadb(t, n, 0, NULL) : NULL;
    if (t != buf) free(t);
    return o;
}

/* Applies one change; obj is already transformed (borrowed). text (owned, may
 * be NULL) is its compact JSON when the caller has it (compact informers). */
static void inf_apply(vk_client_informer_t *inf, int type, json_t *obj, char *text, size_t len)
{
    char key[600];
    obj_key(obj, key, sizeof key);
    if (inf->cc) {
        if (type == VK_CLIENT_DELETED) {
            free(text);
            if (!vk_client_cache_del(inf->cc, key)) return;
        } else {
            if (!text) text = dump_text(obj, &len);
            int added = vk_client_cache_put(inf->cc, key, text, len);
            type = added ? VK_CLIENT_ADDED : VK_CLIENT_MODIFIED;
        }
        notify(inf, type, obj);
        return;
    }
    free(text);
    inf->gen++;
    if (type == VK_CLIENT_DELETED) {
        json_t *old = json_object_get(inf->items, key);
        if (!old) return;
        json_incref(old);
        json_object_del(inf->items, key);
        notify(inf, type, obj);
        json_decref(old);
        return;
    }
    json_t *old = json_object_get(inf->items, key);
    if (old && type == VK_CLIENT_ADDED) type = VK_CLIENT_MODIFIED;
    if (!old && type == VK_CLIENT_MODIFIED) type = VK_CLIENT_ADDED;
    json_object_set(inf->items, key, obj);
    notify(inf, type, obj);
}

static void inf_retry_cb(uv_timer_t *t)
{
    vk_client_informer_t *inf = t->data;
    if (inf->c->closed) return;
    if (inf->need_relist)
        inf_list(inf);
    else
        inf_watch(inf);
}

/* Ends the list in progress (after its last page or on failure). */
static void inf_list_reset(vk_client_informer_t *inf)
{
    json_decref(inf->seen);
    inf->seen = NULL;
    free(inf->cont);
    inf->cont = NULL;
    inf->listing = 0;
}

static void inf_list_page(vk_client_informer_t *inf);

static void inf_list_done(void *arg, int status, json_t *list)
{
    vk_client_informer_t *inf = arg;
    if (status != 200 || !json_is_object(list)) {
        /* 410 on a later page: the list's revision was compacted; start over. */
        int again = status == 410 && inf->cont;
        vk_log_warn("client: list %s: status %d; %s", inf->path, status,
                    again ? "listing again" : "retrying");
        inf_list_reset(inf);
        inf->need_relist = 1;
        uv_timer_start(&inf->retry, inf_retry_cb, again ? 0 : 1000, 0);
        return;
    }
    inf->pages++;
    json_t *lmd = json_object_get(list, "metadata");
    const char *rv = json_string_value(json_object_get(lmd, "resourceVersion"));
    snprintf(inf->rv, sizeof inf->rv, "%s", rv ? rv : "0");
    json_t *items = json_object_get(list, "items");
    /* The list has no kind/apiVersion per item; fill them from the list's kind. */
    const char *lkind = json_string_value(json_object_get(list, "kind"));
    const char *apiv = json_string_value(json_object_get(list, "apiVersion"));
    char kind[128] = "";
    if (lkind && strlen(lkind) > 4 && strlen(lkind) < sizeof kind)
        snprintf(kind, sizeof kind, "%.*s", (int)strlen(lkind) - 4, lkind);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (kind[0] && !json_object_get(it, "kind")) json_object_set_new(it, "kind", json_string(kind));
        if (apiv && !json_object_get(it, "apiVersion"))
            json_object_set_new(it, "apiVersion", json_string(apiv));
        json_t *t = inf_transform(inf, it);
        /* Done with the full item: its memory is reused by the next ones. */
        json_array_set_new(items, i, json_null());
        char key[600];
        obj_key(t, key, sizeof key);
        if (inf->seen) json_object_set_new(inf->seen, key, json_true());
        inf->listed++;
        if (inf->cc) {
            /* Unchanged objects (a relist) are not reported again. */
            size_t len, clen;
            char *text = dump_text(t, &len);
            const char *cur = vk_client_cache_text(inf->cc, key, &clen);
            if (cur && clen == len && !memcmp(cur, text, len))
                free(text);
            else
                inf_apply(inf, VK_CLIENT_ADDED, t, text, len);
        } else {
            json_t *old = json_object_get(inf->items, key);
            if (!old || !json_equal(old, t)) inf_apply(inf, VK_CLIENT_ADDED, t, NULL, 0);
        }
        json_decref(t);
        if (inf->c->closed) return;
    }
    const char *cont = json_string_value(json_object_get(lmd, "continue"));
    if (inf->page > 0 && cont && *cont) {
        free(inf->cont);
        inf->cont = vk_xstrdup(cont);
        /* The next page PAGE_GAP_MS later: the loop waits for I/O in
         * between, so requests (a /readyz handshake) are served between pages
         * rather than after the whole list. */
        uv_timer_start(&inf->retry, inf_page_cb, PAGE_GAP_MS, 0);
        return;
    }
    /* The last page. Objects gone while we were not watching (relists only:
     * the first list starts from an empty cache). */
    if (inf->seen) {
        const char *key;
        json_t *v;
        void *tmp;
        json_t *gone = json_array();
        if (inf->cc) {
            for (const void *e = vk_client_cache_first(inf->cc); e; e = vk_client_cache_next(e)) {
                const char *text;
                size_t len;
                const char *k = vk_client_cache_entry(e, &text, &len);
                if (!json_object_get(inf->seen, k))
                    json_array_append_new(gone, decode_packed(text, len, NULL, NULL));
            }
        } else {
            json_object_foreach_safe(inf->items, tmp, key, v) {
                if (!json_object_get(inf->seen, key)) json_array_append(gone, v);
            }
        }
        json_array_foreach(gone, i, it) {
            if (inf->c->closed) break;
            inf_apply(inf, VK_CLIENT_DELETED, it, NULL, 0);
        }
        json_decref(gone);
        if (inf->c->closed) return;
    }
    size_t listed = inf->listed;
    inf_list_reset(inf);
    vk_log_debug("client: %s listed: %zu objects, %d pages so far, compact cache %zu bytes",
                 inf->path, vk_client_informer_size(inf), inf->pages, vk_client_informer_bytes(inf));
    /* A large list leaves much freed heap behind (the pages' full objects):
     * give it back. */
    if (listed >= 1000) malloc_trim(0);
    inf->need_relist = 0;
    if (!inf->synced) {
        inf->synced = 1;
        for (size_t h = 0; h < inf->nhs && !inf->c->closed; h++)
            if (inf->hs[h].on_synced) inf->hs[h].on_synced(inf->hs[h].arg);
        if (inf->c->closed) return;
    }
    inf_watch(inf);
}

/* Requests the next page (the first one when inf->cont is NULL). */
static void inf_list_page(vk_client_informer_t *inf)
{
    op_t *o = vk_xcalloc(1, sizeof *o);
    o->c = inf->c;
    o->cb = inf_list_done;
    o->arg = inf;
    o->internal = 1;
    inf->c->refs++;
    char *q = inf->page > 0 ? page_query(inf->page, inf->cont) : NULL;
    run_local(inf->c, "GET", inf->path, q, NULL, NULL, o);
    free(q);
}

static void inf_page_cb(uv_timer_t *t)
{
    vk_client_informer_t *inf = t->data;
    if (!inf->c->closed && inf->listing) inf_list_page(inf);
}

static void inf_list(vk_client_informer_t *inf)
{
    if (inf->listing) return;
    if (inf->synced) inf->relists++;
    inf->listing = 1;
    inf->listed = 0;
    /* A relist reports what went while it was not watching. */
    if (vk_client_informer_size(inf)) inf->seen = json_object();
    inf_list_page(inf);
}

static void inf_stream_begin(void *arg, int status)
{
    (void)arg;
    (void)status;
}

static int inf_chunk(void *arg, const char *data, size_t len)
{
    vk_client_informer_t *inf = arg;
    inf->line = vk_xrealloc(inf->line, inf->line_len + len + 1);
    memcpy(inf->line + inf->line_len, data, len);
    inf->line_len += len;
    inf->line[inf->line_len] = 0;
    kick(inf->c);
    return 0;
}

static void inf_stream_end(void *arg)
{
    vk_client_informer_t *inf = arg;
    inf->watch = NULL;
    inf->stream_ended = 1;
    kick(inf->c);
}

/* A plain answer to the watch request: an error (410 Gone: relist). */
static void inf_watch_response(void *arg, int status, const char *body, size_t len)
{
    vk_client_informer_t *inf = arg;
    inf->watch = NULL;
    if (inf->c->closed) return;
    vk_log_debug("client: watch %s answered %d", inf->path, status);
    inf->need_relist = 1;
    uv_timer_start(&inf->retry, inf_retry_cb, status == 410 ? 0 : 1000, 0);
}

static void inf_watch(vk_client_informer_t *inf)
{
    char q[128];
    snprintf(q, sizeof q, "watch=1&allowWatchBookmarks=true&resourceVersion=%s", inf->rv);
    vk_http_local_t spec = {
        .method = "GET",
        .path = inf->path,
        .query = q,
        .user = inf->c->user,
        .groups = (const char *const *)inf->c->groups,
        .on_response = inf_watch_response,
        .on_stream_begin = inf_stream_begin,
        .on_chunk = inf_chunk,
        .on_stream_end = inf_stream_end,
        .arg = inf,
    };
    inf->stream_ended = 0;
    inf->watch = NULL;
    vk_http_req_t *r = vk_http_local_request(&spec, inf->c->handler, inf->c->ctx);
    /* r is NULL when the handler already finished (answered or ended the stream). */
    if (r && !inf->stream_ended) inf->watch = r;
}

/* Applies complete lines of the watch stream. */
static void inf_process(vk_client_informer_t *inf)
{
    size_t start = 0;
    while (!inf->c->closed && inf->line) {
        char *nl = memchr(inf->line + start, '\n', inf->line_len - start);
        if (!nl) break;
        size_t n = (size_t)(nl - (inf->line + start));
        json_t *ev = json_loadb(inf->line + start, n, 0, NULL);
        start += n + 1;
        if (!ev) continue;
        const char *type = json_string_value(json_object_get(ev, "type"));
        json_t *obj = json_object_get(ev, "object");
        if (type && obj) {
            if (!strcmp(type, "ERROR")) {
                json_int_t code = json_integer_value(json_object_get(obj, "code"));
                vk_log_debug("client: watch %s error %d", inf->path, (int)code);
                inf->need_relist = 1;
            } else {
                const char *rv = md_str(obj, "resourceVersion");
                if (rv) snprintf(inf->rv, sizeof inf->rv, "%s", rv);
                int t = !strcmp(type, "ADDED")      ? VK_CLIENT_ADDED
                        : !strcmp(type, "MODIFIED") ? VK_CLIENT_MODIFIED
                        : !strcmp(type, "DELETED")  ? VK_CLIENT_DELETED
                                                    : -1;
                if (t >= 0) {
                    json_t *to = inf_transform(inf, obj);
                    inf_apply(inf, t, to, NULL, 0);
                    json_decref(to);
                }
            }
        }
        json_decref(ev);
    }
    if (!inf->line) return;
    memmove(inf->line, inf->line + start, inf->line_len - start);
    inf->line_len -= start;
    inf->line[inf->line_len] = 0;
    if (inf->c->closed) return;
    if (inf->need_relist && inf->watch) {
        vk_http_req_t *w = inf->watch;
        inf->watch = NULL;
        vk_http_local_cancel(w);
        inf->stream_ended = 1;
    }
    if (inf->stream_ended) {
        inf->stream_ended = 0;
        inf->line_len = 0;
        if (inf->need_relist)
            inf_list(inf);
        else
            inf_watch(inf);
    }
}

static void on_tick(uv_timer_t *t)
{
    vk_client_t *c = t->data;
    op_t *q = c->qhead;
    c->qhead = c->qtail = NULL;
    while (q) {
        op_t *o = q;
        q = q->next;
        if (!c->closed && o->cb) {
            json_t *obj = o->len ? json_loadb(o->body, o->len, 0, NULL) : NULL;
            o->cb(o->arg, o->status, obj);
            json_decref(obj);
        }
        free(o->body);
        free(o);
        unref(c);
    }
    for (vk_client_informer_t *inf = c->informers; inf && !c->closed; inf = inf->next)
        if (inf->line_len || inf->stream_ended) inf_process(inf);
}

vk_client_informer_t *vk_client_informer_new(vk_client_t *c, const char *collection_path,
                               vk_client_informer_cb on_change, void (*on_synced)(void *arg), void *arg)
{
    vk_client_informer_t *inf = vk_xcalloc(1, sizeof *inf);
    inf->c = c;
    inf->path = vk_xstrdup(collection_path);
    vk_client_informer_add_handler(inf, on_change, on_synced, arg);
    inf->items = json_object();
    inf->page = VK_CLIENT_PAGE;
    uv_timer_init(c->loop, &inf->retry);
    inf->retry.data = inf;
    c->refs++;
    inf->next = c->informers;
    c->informers = inf;
    /* The first list on a later loop turn, with the settings made until then. */
    inf->need_relist = 1;
    uv_timer_start(&inf->retry, inf_retry_cb, 0, 0);
    return inf;
}

void vk_client_informer_set_transform(vk_client_informer_t *inf, vk_client_transform_cb fn,
                                      void *arg)
{
    inf->transform = fn;
    inf->transform_arg = arg;
}

void vk_client_informer_add_handler(vk_client_informer_t *inf, vk_client_informer_cb on_change,
                                    void (*on_synced)(void *arg), void *arg)
{
    assert(!inf->pages && !inf->listing && on_change);
    inf->hs = vk_xrealloc(inf->hs, (inf->nhs + 1) * sizeof *inf->hs);
    inf->hs[inf->nhs++] = (handler_t){on_change, on_synced, arg};
}

void vk_client_informer_set_compact(vk_client_informer_t *inf)
{
    /* Before the first list: the plain cache is still empty. */
    assert(!inf->pages && !inf->listing && !json_object_size(inf->items));
    if (inf->cc) return;
    json_decref(inf->items);
    inf->items = NULL;
    inf->cc = vk_client_cache_new();
}

void vk_client_informer_set_page_size(vk_client_informer_t *inf, int limit)
{
    inf->page = limit > 0 ? limit : 0;
}

/* The first segment of path into seg (NUL-terminated); returns the rest after
 * the dot, or NULL for the last segment; *ok = 0 if the segment is too long. */
static const char *path_seg(const char *path, char *seg, size_t cap, int *ok)
{
    const char *dot = strchr(path, '.');
    size_t n = dot ? (size_t)(dot - path) : strlen(path);
    *ok = n < cap;
    if (!*ok) return NULL;
    memcpy(seg, path, n);
    seg[n] = 0;
    return dot ? dot + 1 : NULL;
}

/* 1 if the value at path below v exists (through objects, and through arrays
 * in any element). */
static int has_path(json_t *v, const char *path)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) if (has_path(e, path)) return 1;
        return 0;
    }
    char seg[256];
    int ok;
    const char *rest = path_seg(path, seg, sizeof seg, &ok);
    json_t *c = ok && json_is_object(v) ? json_object_get(v, seg) : NULL;
    if (!c) return 0;
    return rest ? has_path(c, rest) : 1;
}

/* Copies into dst (an object) the value at path below src (an object). Through
 * an array the rest of the path applies to each element, into an array of the
 * same length (so that two paths into one array stay aligned). Parents are
 * created only when the leaf is there. */
static void keep_in(json_t *dst, json_t *src, const char *path)
{
    char seg[256];
    int ok;
    const char *rest = path_seg(path, seg, sizeof seg, &ok);
    json_t *v = ok ? json_object_get(src, seg) : NULL;
    if (!v) return;
    if (!rest) {
        if (!strcmp(seg, "metadata") && json_object_get(v, "managedFields")) {
            json_t *m = json_copy(v);
            json_object_del(m, "managedFields");
            json_object_set_new(dst, seg, m);
        } else {
            json_object_set(dst, seg, v);
        }
        return;
    }
    if (!has_path(v, rest)) return;
    json_t *d = json_object_get(dst, seg);
    if (json_is_object(v)) {
        if (!d) json_object_set_new(dst, seg, d = json_object());
        if (json_is_object(d)) keep_in(d, v, rest);
    } else if (json_is_array(v)) {
        size_t i, n = json_array_size(v);
        if (!d) {
            json_object_set_new(dst, seg, d = json_array());
            for (i = 0; i < n; i++) json_array_append_new(d, json_object());
        }
        if (!json_is_array(d) || json_array_size(d) != n) return;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (json_is_object(e)) keep_in(json_array_get(d, i), e, rest);
        }
    }
}

json_t *vk_client_keep_fields(json_t *obj, const char *const *fields)
{
    json_t *out = json_object();
    keep_in(out, obj, "apiVersion");
    keep_in(out, obj, "kind");
    for (size_t i = 0; fields && fields[i]; i++) keep_in(out, obj, fields[i]);
    return out;
}

static json_t *keep_transform(void *arg, json_t *obj)
{
    vk_client_informer_t *inf = arg;
    return vk_client_keep_fields(obj, (const char *const *)inf->keep);
}

static void free_keep(vk_client_informer_t *inf)
{
    for (char **f = inf->keep; f && *f; f++) free(*f);
    free(inf->keep);
    inf->keep = NULL;
}

void vk_client_informer_keep(vk_client_informer_t *inf, const char *const *fields)
{
    free_keep(inf);
    size_t n = 0;
    while (fields && fields[n]) n++;
    inf->keep = vk_xcalloc(n + 1, sizeof *inf->keep);
    for (size_t i = 0; i < n; i++) inf->keep[i] = vk_xstrdup(fields[i]);
    vk_client_informer_set_transform(inf, keep_transform, inf);
}

int vk_client_informer_synced(const vk_client_informer_t *inf)
{
    return inf->synced;
}

json_t *vk_client_informer_get(const vk_client_informer_t *inf, const char *ns, const char *name)
{
    assert(!inf->cc);
    char key[600];
    snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
    return json_object_get(inf->items, key);
}

json_t *vk_client_informer_items(const vk_client_informer_t *inf)
{
    assert(!inf->cc);
    return inf->items;
}

json_t *vk_client_informer_lookup(const vk_client_informer_t *inf, const char *ns,
                                  const char *name)
{
    char key[600];
    snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name ? name : "");
    if (!inf->cc) return json_incref(json_object_get(inf->items, key));
    size_t len;
    const char *text = vk_client_cache_text(inf->cc, key, &len);
    return text ? decode_packed(text, len, NULL, NULL) : NULL;
}

size_t vk_client_informer_size(const vk_client_informer_t *inf)
{
    return inf->cc ? vk_client_cache_size(inf->cc) : json_object_size(inf->items);
}

size_t vk_client_informer_bytes(const vk_client_informer_t *inf)
{
    return inf->cc ? vk_client_cache_bytes(inf->cc) : 0;
}

static unsigned long inf_gen(const vk_client_informer_t *inf)
{
    return inf->cc ? vk_client_cache_gen(inf->cc) : inf->gen;
}

void vk_client_iter_begin(vk_client_iter_t *it, const vk_client_informer_t *inf, const char *ns)
{
    it->inf = inf;
    it->ns = ns;
    it->ns_len = ns ? strlen(ns) : 0;
    it->gen = inf_gen(inf);
    it->pos = inf->cc ? (void *)vk_client_cache_first(inf->cc) : json_object_iter(inf->items);
    it->filter = NULL;
    it->filter_arg = NULL;
}

void vk_client_iter_filter(vk_client_iter_t *it, vk_client_text_filter_cb fn, void *arg)
{
    it->filter = fn;
    it->filter_arg = arg;
}

int vk_client_text_has(void *uid, const char *text, size_t len)
{
    const char *s = uid;
    return memmem(text, len, s, strlen(s)) != NULL;
}

/* 1 if key ("ns/name") is in the iteration's namespace. */
static int iter_wants(const vk_client_iter_t *it, const char *key)
{
    return !it->ns || (!strncmp(key, it->ns, it->ns_len) && key[it->ns_len] == '/');
}

json_t *vk_client_iter_next(vk_client_iter_t *it)
{
    const vk_client_informer_t *inf = it->inf;
    /* The cache must not change under an iteration (see client.h). */
    assert(it->gen == inf_gen(inf));
    while (it->pos) {
        if (inf->cc) {
            const void *e = it->pos;
            it->pos = (void *)vk_client_cache_next(e);
            const char *text;
            size_t len;
            if (iter_wants(it, vk_client_cache_entry(e, &text, &len))) {
                json_t *o = decode_packed(text, len, it->filter, it->filter_arg);
                if (o) return o;
            }
        } else {
            void *cur = it->pos;
            it->pos = json_object_iter_next(inf->items, cur);
            if (iter_wants(it, json_object_iter_key(cur)))
                return json_incref(json_object_iter_value(cur));
        }
    }
    return NULL;
}

void vk_client_informer_relist(vk_client_informer_t *inf, int delay_ms)
{
    if (inf->c->closed || !inf->synced || inf->listing) return;
    if (inf->watch) {
        vk_http_req_t *w = inf->watch;
        inf->watch = NULL;
        vk_http_local_cancel(w); /* no stream callback runs after this */
    }
    /* Events not applied yet are dropped: the list reports their outcome. */
    inf->line_len = 0;
    inf->stream_ended = 0;
    inf->need_relist = 1;
    uv_timer_start(&inf->retry, inf_retry_cb, delay_ms > 0 ? (uint64_t)delay_ms : 0, 0);
}

int vk_client_informer_relists(const vk_client_informer_t *inf)
{
    return inf->relists;
}

int vk_client_informer_pages(const vk_client_informer_t *inf)
{
    return inf->pages;
}

/* ---------------------------------------------------------------- close */

static void on_inf_closed(uv_handle_t *h)
{
    vk_client_informer_t *inf = h->data;
    vk_client_t *c = inf->c;
    json_decref(inf->items);
    vk_client_cache_free(inf->cc);
    json_decref(inf->seen);
    free(inf->cont);
    free_keep(inf);
    free(inf->hs);
    free(inf->line);
    free(inf->path);
    free(inf);
    unref(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    unref(h->data);
}

void vk_client_close(vk_client_t *c, void (*done_cb)(void *arg), void *arg)
{
    if (c->closed) return;
    c->closed = 1;
    c->done_cb = done_cb;
    c->done_arg = arg;
    /* Queued completions are dropped. */
    while (c->qhead) {
        op_t *o = c->qhead;
        c->qhead = o->next;
        if (o->cb && !o->internal) o->cb(o->arg, 0, NULL);
        free(o->body);
        free(o);
        c->refs--;
    }
    c->qtail = NULL;
    vk_client_informer_t *next;
    for (vk_client_informer_t *inf = c->informers; inf; inf = next) {
        next = inf->next;
        if (inf->watch) {
            vk_http_req_t *w = inf->watch;
            inf->watch = NULL;
            vk_http_local_cancel(w);
        }
        uv_close((uv_handle_t *)&inf->retry, on_inf_closed);
    }
    c->informers = NULL;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
