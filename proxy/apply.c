/* apply: server-side apply and managedFields tracking (see apply.h). The rules
 * follow sigs.k8s.io/structured-merge-diff (ToFieldSet, Compare, Merge, the
 * Updater's prune and conflict steps) and k8s.io/apimachinery's managedfields
 * (stripped metadata fields, manager identifiers, entry order, conflict text). */
#include "proxy/apply.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/strbuf.h"

#define MAX_DEPTH 128

/* ---- field sets ------------------------------------------------------------ */

typedef struct fset fset_t;
struct fset {
    char *pe; /* serialized path element: "f:x", "k:{...}", "v:...", "i:N"; NULL at the root */
    bool member;
    fset_t *kids;
    size_t n, cap;
};

static void fs_clear(fset_t *s) {
    for (size_t i = 0; i < s->n; i++) {
        fs_clear(&s->kids[i]);
        free(s->kids[i].pe);
    }
    free(s->kids);
    s->kids = NULL;
    s->n = s->cap = 0;
    s->member = false;
}

/* The child with element pe (NULL if absent and !create). The pointer is
 * valid until the next insertion into s. */
static fset_t *fs_child(fset_t *s, const char *pe, bool create) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->kids[i].pe, pe) == 0)
            return &s->kids[i];
    if (!create)
        return NULL;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->kids = vk_xrealloc(s->kids, s->cap * sizeof *s->kids);
    }
    fset_t *c = &s->kids[s->n++];
    memset(c, 0, sizeof *c);
    c->pe = vk_xstrdup(pe);
    return c;
}

static void fs_insert(fset_t *s, char *const *path, size_t n) {
    for (size_t i = 0; i < n; i++)
        s = fs_child(s, path[i], true);
    s->member = true;
}

static bool fs_empty(const fset_t *s) {
    if (s->member)
        return false;
    for (size_t i = 0; i < s->n; i++)
        if (!fs_empty(&s->kids[i]))
            return false;
    return true;
}

static void fs_prune(fset_t *s) {
    size_t j = 0;
    for (size_t i = 0; i < s->n; i++) {
        fs_prune(&s->kids[i]);
        if (fs_empty(&s->kids[i])) {
            fs_clear(&s->kids[i]);
            free(s->kids[i].pe);
        } else {
            s->kids[j++] = s->kids[i];
        }
    }
    s->n = j;
}

static void fs_union(fset_t *dst, const fset_t *src) {
    dst->member = dst->member || src->member;
    for (size_t i = 0; i < src->n; i++) {
        fset_t *c = fs_child(dst, src->kids[i].pe, true);
        fs_union(c, &src->kids[i]);
    }
}

/* dst minus src, member by member (not recursive). */
static void fs_diff(fset_t *dst, const fset_t *src) {
    if (src->member)
        dst->member = false;
    for (size_t i = 0; i < src->n; i++) {
        fset_t *c = fs_child(dst, src->kids[i].pe, false);
        if (c)
            fs_diff(c, &src->kids[i]);
    }
}

static void fs_intersect(fset_t *out, const fset_t *a, const fset_t *b) {
    out->member = a->member && b->member;
    for (size_t i = 0; i < a->n; i++) {
        const fset_t *bc = NULL;
        for (size_t j = 0; j < b->n && !bc; j++)
            if (strcmp(a->kids[i].pe, b->kids[j].pe) == 0)
                bc = &b->kids[j];
        if (!bc)
            continue;
        fset_t tmp = {0};
        fs_intersect(&tmp, &a->kids[i], bc);
        if (!fs_empty(&tmp)) {
            fset_t *c = fs_child(out, a->kids[i].pe, true);
            free(tmp.pe);
            c->member = tmp.member;
            c->kids = tmp.kids;
            c->n = tmp.n;
            c->cap = tmp.cap;
        } else {
            fs_clear(&tmp);
        }
    }
}

/* Removes the whole subtree at each top-level field named in `fields`. */
static void fs_exclude_top(fset_t *s, const char *const *fields) {
    for (size_t i = 0; fields && fields[i]; i++) {
        char pe[256];
        snprintf(pe, sizeof pe, "f:%s", fields[i]);
        fset_t *c = fs_child(s, pe, false);
        if (c) {
            fs_clear(c);
            c->member = false;
        }
    }
    fs_prune(s);
}

/* Drops the metadata fields kube-apiserver never tracks (not recursive). */
static void fs_strip_meta(fset_t *s) {
    static const char *const top[] = {"f:apiVersion", "f:kind", NULL};
    static const char *const meta[] = {"f:name",       "f:namespace",       "f:creationTimestamp",
                                       "f:selfLink",   "f:uid",             "f:clusterName",
                                       "f:generation", "f:managedFields",   "f:resourceVersion",
                                       NULL};
    for (size_t i = 0; top[i]; i++) {
        fset_t *c = fs_child(s, top[i], false);
        if (c)
            c->member = false;
    }
    fset_t *m = fs_child(s, "f:metadata", false);
    if (m) {
        m->member = false;
        for (size_t i = 0; meta[i]; i++) {
            fset_t *c = fs_child(m, meta[i], false);
            if (c)
                c->member = false;
        }
    }
    fs_prune(s);
}

/* 1 if s holds path or anything below it. */
static bool fs_owns(const fset_t *s, char *const *path, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const fset_t *c = NULL;
        for (size_t j = 0; j < s->n && !c; j++)
            if (strcmp(s->kids[j].pe, path[i]) == 0)
                c = &s->kids[j];
        if (!c)
            return false;
        s = c;
    }
    return !fs_empty(s);
}

static int pe_rank(const char *pe) {
    switch (pe[0]) {
    case 'f': return 0;
    case 'k': return 1;
    case 'v': return 2;
    default: return 3;
    }
}

static int pe_cmp(const void *a, const void *b) {
    const fset_t *x = a, *y = b;
    int rx = pe_rank(x->pe), ry = pe_rank(y->pe);
    if (rx != ry)
        return rx - ry;
    if (rx == 3) {
        long ix = strtol(x->pe + 2, NULL, 10), iy = strtol(y->pe + 2, NULL, 10);
        return ix < iy ? -1 : ix > iy;
    }
    return strcmp(x->pe, y->pe);
}

static void fs_sort(fset_t *s) {
    if (s->n > 1)
        qsort(s->kids, s->n, sizeof *s->kids, pe_cmp);
    for (size_t i = 0; i < s->n; i++)
        fs_sort(&s->kids[i]);
}

/* FieldsV1 JSON (sorted: "." first, then fields, keys, values, indices). */
static json_t *fs_to_json(fset_t *s, bool self) {
    json_t *o = json_object();
    if (self && s->member && s->n)
        json_object_set_new(o, ".", json_object());
    for (size_t i = 0; i < s->n; i++) {
        if (fs_empty(&s->kids[i]))
            continue;
        json_object_set_new(o, s->kids[i].pe, fs_to_json(&s->kids[i], true));
    }
    return o;
}

static bool fs_from_json(fset_t *s, const json_t *j, int depth) {
    if (!json_is_object(j) || depth > MAX_DEPTH)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
        if (strcmp(k, ".") == 0) {
            s->member = true;
            continue;
        }
        if (strlen(k) < 2 || k[1] != ':' || !strchr("fkvi", k[0]))
            return false;
        fset_t *c = fs_child(s, k, true);
        if (json_object_size(v) == 0)
            c->member = true;
        else if (!fs_from_json(c, v, depth + 1))
            return false;
    }
    return true;
}

/* Human form of a path element for conflict messages (fieldpath.Path.String). */
static void pe_human(char **buf, const char *pe) {
    char *old = *buf;
    if (pe[0] == 'f') {
        *buf = vk_xasprintf("%s.%s", old, pe + 2);
    } else if (pe[0] == 'i') {
        *buf = vk_xasprintf("%s[%s]", old, pe + 2);
    } else if (pe[0] == 'v') {
        *buf = vk_xasprintf("%s[=%s]", old, pe + 2);
    } else {
        json_t *keys = json_loads(pe + 2, 0, NULL);
        char *inner = vk_xstrdup("");
        const char *k;
        json_t *v;
        json_object_foreach(keys, k, v) {
            char *vs = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            char *n = vk_xasprintf("%s%s%s=%s", inner, *inner ? "," : "", k, vs ? vs : "");
            free(vs);
            free(inner);
            inner = n;
        }
        json_decref(keys);
        *buf = vk_xasprintf("%s[%s]", old, inner);
        free(inner);
    }
    free(old);
}

typedef void (*fs_visit_fn)(void *ctx, const char *human);

static void fs_walk(fset_t *s, char *prefix, void *ctx, fs_visit_fn fn) {
    for (size_t i = 0; i < s->n; i++) {
        char *p = vk_xstrdup(prefix);
        pe_human(&p, s->kids[i].pe);
        if (s->kids[i].member)
            fn(ctx, p);
        fs_walk(&s->kids[i], p, ctx, fn);
        free(p);
    }
}

/* ---- schema-directed walks ---------------------------------------------- */

enum { LK_ATOMIC, LK_MAP, LK_SET };

typedef struct {
    vk_patch_schema_cb cb;
    void *ctx;
    const char *names[MAX_DEPTH]; /* field names from the root, list items skipped */
    size_t nd;
    char *pes[MAX_DEPTH]; /* path elements of the current node */
    size_t np;
    char *err; /* first error */
    bool lenient; /* list items without keys fall back to i:<index> */
} walk_t;

/* The schema of child `key`; false (and *f zeroed) when it has none. */
static bool field_of(walk_t *w, const char *key, bool parent_is_map, vk_patch_field_t *f) {
    memset(f, 0, sizeof *f);
    if (parent_is_map || !w->cb || w->nd >= MAX_DEPTH)
        return false;
    w->names[w->nd] = key;
    if (w->cb(w->ctx, w->names, w->nd + 1, f) != 0) {
        memset(f, 0, sizeof *f);
        return false;
    }
    return true;
}

static int list_kind(const vk_patch_field_t *f) {
    switch (f->list_type) {
    case VK_PATCH_LIST_MAP: return LK_MAP;
    case VK_PATCH_LIST_SET: return LK_SET;
    case VK_PATCH_LIST_ATOMIC: return LK_ATOMIC;
    default: break;
    }
    /* Like kube-openapi's schema conversion: patchStrategy=merge lists are
     * associative by their merge key, or sets without one. */
    if (f->strategy & VK_PATCH_STRATEGY_MERGE)
        return f->merge_key ? LK_MAP : LK_SET;
    return LK_ATOMIC;
}

static char *path_human(walk_t *w) {
    char *p = vk_xstrdup("");
    for (size_t i = 0; i < w->np; i++)
        pe_human(&p, w->pes[i]);
    return p;
}


/* Path elements are built for every list item on every request, in small
 * common/strbuf.h buffers, without printf or jansson's dumper. */

/* JSON string as Go's encoder writes it (HTML characters escaped too). */
static void sb_json_string(vk_strbuf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    vk_strbuf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0', u[4] = hex[c >> 4], u[5] = hex[c & 15];
            u[6] = 0;
            esc = u;
        }
        if (esc) {
            vk_strbuf_put(b, s + i - run, run);
            run = 0;
            vk_strbuf_puts(b, esc);
        } else {
            run++;
        }
    }
    vk_strbuf_put(b, s + n - run, run);
    vk_strbuf_put(b, "\"", 1);
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Compact JSON with sorted keys. */
static void sb_json(vk_strbuf_t *b, const json_t *v) {
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING: sb_json_string(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        vk_strbuf_puts(b, num);
        break;
    case JSON_REAL:
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        vk_strbuf_puts(b, num);
        break;
    case JSON_TRUE: vk_strbuf_puts(b, "true"); break;
    case JSON_FALSE: vk_strbuf_puts(b, "false"); break;
    case JSON_NULL: vk_strbuf_puts(b, "null"); break;
    case JSON_ARRAY:
        vk_strbuf_puts(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                vk_strbuf_puts(b, ",");
            sb_json(b, json_array_get(v, i));
        }
        vk_strbuf_puts(b, "]");
        break;
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = vk_xcalloc(n ? n : 1, sizeof *keys);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) keys[i++] = k;
        qsort(keys, n, sizeof *keys, cmp_cstr);
        vk_strbuf_puts(b, "{");
        for (i = 0; i < n; i++) {
            if (i)
                vk_strbuf_puts(b, ",");
            sb_json_string(b, keys[i], strlen(keys[i]));
            vk_strbuf_puts(b, ":");
            sb_json(b, json_object_get(v, keys[i]));
        }
        vk_strbuf_puts(b, "}");
        free(keys);
        break;
    }
    }
}

/* The path element of a list item, or NULL (error recorded unless lenient). */
static char *item_pe(walk_t *w, const vk_patch_field_t *f, int kind, const json_t *item,
                     size_t index) {
    vk_strbuf_t b = {0};
    if (kind == LK_SET) {
        vk_strbuf_puts(&b, "v:");
        sb_json(&b, item);
        return b.p;
    }
    const char *keys = f->list_map_keys ? f->list_map_keys : f->merge_key;
    if (!keys || !json_is_object(item))
        goto fallback;
    char names[8][128];
    const char *sorted[8];
    size_t nk = 0;
    for (const char *p = keys; *p && nk < 8;) {
        size_t n = strcspn(p, ",");
        snprintf(names[nk], sizeof names[nk], "%.*s", (int)(n < 127 ? n : 127), p);
        sorted[nk] = names[nk];
        nk++;
        p += n;
        if (*p == ',')
            p++;
    }
    qsort(sorted, nk, sizeof *sorted, cmp_cstr);
    vk_strbuf_puts(&b, "k:{");
    for (size_t i = 0; i < nk; i++) {
        json_t *v = json_object_get(item, sorted[i]);
        if (i)
            vk_strbuf_puts(&b, ",");
        sb_json_string(&b, sorted[i], strlen(sorted[i]));
        vk_strbuf_puts(&b, ":");
        if (v) {
            sb_json(&b, v);
        } else if (strcmp(sorted[i], "protocol") == 0) {
            /* protocol defaults to TCP for ports, as the OpenAPI default says */
            vk_strbuf_puts(&b, "\"TCP\"");
        } else {
            free(b.p);
            b.p = NULL;
            if (w->lenient)
                goto fallback;
            if (!w->err) {
                char *ph = path_human(w);
                w->err = vk_xasprintf("%s: element %zu: associative list with keys has an "
                                      "element that omits key field \"%s\" (and doesn't have "
                                      "default value)",
                                      ph, index, sorted[i]);
                free(ph);
            }
            return NULL;
        }
    }
    vk_strbuf_puts(&b, "}");
    return b.p;
fallback:
    free(b.p);
    return vk_xasprintf("i:%zu", index);
}

/* "f:<name>" without printf (this is on every request's path). */
static char *field_pe(const char *name) {
    size_t n = strlen(name);
    char *pe = vk_xmalloc(n + 3);
    pe[0] = 'f';
    pe[1] = ':';
    memcpy(pe + 2, name, n + 1);
    return pe;
}

static bool push_pe(walk_t *w, char *pe) {
    if (w->np >= MAX_DEPTH) {
        free(pe);
        if (!w->err)
            w->err = vk_xstrdup("object nesting too deep");
        return false;
    }
    w->pes[w->np++] = pe;
    return true;
}

static void pop_pe(walk_t *w) { free(w->pes[--w->np]); }

/* ToFieldSet: the fields set in v (an object node is a map when is_map). */
static void to_set(walk_t *w, fset_t *out, const json_t *v, const vk_patch_field_t *f,
                   bool is_map) {
    if (w->err)
        return;
    if (json_is_object(v) && f->atomic) {
        fs_insert(out, w->pes, w->np);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) {
            vk_patch_field_t cf;
            field_of(w, k, is_map, &cf);
            if (!push_pe(w, field_pe(k)))
                return;
            bool pushed = !is_map && w->nd < MAX_DEPTH;
            if (pushed)
                w->names[w->nd++] = k;
            to_set(w, out, c, &cf, cf.is_map);
            if (pushed)
                w->nd--;
            if (json_is_null(c) || (json_is_object(c) && json_object_size(c) == 0) || is_map)
                fs_insert(out, w->pes, w->np);
            pop_pe(w);
        }
    } else if (json_is_array(v)) {
        int kind = list_kind(f);
        if (kind == LK_ATOMIC) {
            fs_insert(out, w->pes, w->np);
            return;
        }
        size_t n = json_array_size(v);
        char **pes = vk_xcalloc(n ? n : 1, sizeof *pes);
        for (size_t i = 0; i < n && !w->err; i++)
            pes[i] = item_pe(w, f, kind, json_array_get(v, i), i);
        for (size_t i = 0; i < n && !w->err; i++) {
            bool dup = false;
            for (size_t j = 0; j < n && !dup; j++)
                dup = j != i && strcmp(pes[i], pes[j]) == 0;
            if (!push_pe(w, vk_xstrdup(pes[i])))
                break;
            if (!dup)
                to_set(w, out, json_array_get(v, i), f, false);
            fs_insert(out, w->pes, w->np);
            pop_pe(w);
        }
        for (size_t i = 0; i < n; i++)
            free(pes[i]);
        free(pes);
    } else {
        fs_insert(out, w->pes, w->np);
    }
}

/* metadata.managedFields is bookkeeping, never merged or compared. */
static bool skip_key(const walk_t *w, const char *k) {
    return w->np == 1 && strcmp(w->pes[0], "f:metadata") == 0 && strcmp(k, "managedFields") == 0;
}

typedef struct {
    fset_t added, modified, removed;
} cmp_t;

static void cmp_leaf(walk_t *w, cmp_t *c, const json_t *l, const json_t *r) {
    if (!l)
        fs_insert(&c->added, w->pes, w->np);
    else if (!r)
        fs_insert(&c->removed, w->pes, w->np);
    else if (!json_equal((json_t *)l, (json_t *)r))
        fs_insert(&c->modified, w->pes, w->np);
}

static bool is_empty_container(const json_t *v) {
    return !v || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* Compare: fields added, modified and removed from l to r. root_chain: this
 * node is a struct reached from the root through struct fields only; such
 * nodes exist (as zero values) in every typed object, so they are never
 * "added" themselves. */
static void compare(walk_t *w, cmp_t *c, const json_t *l, const json_t *r,
                    const vk_patch_field_t *f, bool is_map, bool root_chain) {
    if (w->err)
        return;
    const json_t *any = r ? r : l;
    bool objs = json_is_object(any) && (!l || json_is_object(l)) && (!r || json_is_object(r));
    bool arrs = json_is_array(any) && (!l || json_is_array(l)) && (!r || json_is_array(r));
    if (objs) {
        if (f->atomic || (is_empty_container(l) && is_empty_container(r))) {
            cmp_leaf(w, c, l, r);
            return;
        }
        const json_t *sides[2] = {l, r};
        for (int s = 0; s < 2; s++) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)sides[s], k, v) {
                if (s == 1 && l && json_object_get(l, k))
                    continue; /* seen from l */
                if (skip_key(w, k))
                    continue;
                const json_t *lv = l ? json_object_get(l, k) : NULL;
                const json_t *rv = r ? json_object_get(r, k) : NULL;
                vk_patch_field_t cf;
                bool known = field_of(w, k, is_map, &cf);
                if (!push_pe(w, field_pe(k)))
                    return;
                bool pushed = !is_map && w->nd < MAX_DEPTH;
                if (pushed)
                    w->names[w->nd++] = k;
                /* Known fields: as the zero Go object has them; unknown: structs. */
                bool child_zero = known ? cf.zero_present
                                        : json_is_object(rv ? rv : lv) && !cf.is_map;
                compare(w, c, lv, rv, &cf, cf.is_map, root_chain && !is_map && child_zero);
                if (pushed)
                    w->nd--;
                pop_pe(w);
            }
        }
    } else if (arrs && list_kind(f) != LK_ATOMIC && !(is_empty_container(l) && is_empty_container(r))) {
        int kind = list_kind(f);
        size_t nl = l ? json_array_size(l) : 0, nr = r ? json_array_size(r) : 0;
        char **lp = vk_xcalloc(nl + 1, sizeof *lp), **rp = vk_xcalloc(nr + 1, sizeof *rp);
        for (size_t i = 0; i < nl; i++)
            lp[i] = item_pe(w, f, kind, json_array_get(l, i), i);
        for (size_t i = 0; i < nr; i++)
            rp[i] = item_pe(w, f, kind, json_array_get(r, i), i);
        for (int s = 0; s < 2 && !w->err; s++) {
            size_t n = s ? nr : nl;
            char **pp = s ? rp : lp;
            for (size_t i = 0; i < n && !w->err; i++) {
                bool seen = false; /* first occurrence only */
                for (size_t j = 0; j < i && !seen; j++)
                    seen = strcmp(pp[j], pp[i]) == 0;
                for (size_t j = 0; s == 1 && j < nl && !seen; j++)
                    seen = strcmp(lp[j], pp[i]) == 0;
                if (seen)
                    continue;
                const json_t *li = NULL, *ri = NULL;
                for (size_t j = 0; j < nl && !li; j++)
                    if (strcmp(lp[j], pp[i]) == 0)
                        li = json_array_get(l, j);
                for (size_t j = 0; j < nr && !ri; j++)
                    if (strcmp(rp[j], pp[i]) == 0)
                        ri = json_array_get(r, j);
                if (!push_pe(w, vk_xstrdup(pp[i])))
                    break;
                compare(w, c, li, ri, f, false, false);
                pop_pe(w);
            }
        }
        for (size_t i = 0; i < nl; i++)
            free(lp[i]);
        for (size_t i = 0; i < nr; i++)
            free(rp[i]);
        free(lp);
        free(rp);
    } else {
        cmp_leaf(w, c, l, r);
        return;
    }
    if (!l && !root_chain)
        fs_insert(&c->added, w->pes, w->np);
    else if (!r)
        fs_insert(&c->removed, w->pes, w->np);
}

/* Deep copy without jansson's loop detection (jansson values cannot form
 * cycles; its check costs a printf per container). */
static json_t *copy_json(const json_t *v) {
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) json_object_set_new_nocheck(o, k, copy_json(x));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(a, copy_json(json_array_get(v, i)));
        return a;
    }
    return json_copy((json_t *)v);
}

/* Merge: the applied configuration r over the live value l (new reference). */
static json_t *merge(walk_t *w, const json_t *l, const json_t *r, const vk_patch_field_t *f,
                     bool is_map) {
    if (w->err)
        return NULL;
    if (!r)
        return copy_json(l);
    if (!l)
        return copy_json(r);
    if (json_is_object(l) && json_is_object(r) && !f->atomic) {
        json_t *res = json_object();
        const char *k;
        json_t *v;
        const json_t *sides[2] = {l, r};
        for (int side = 0; side < 2; side++) {
            json_object_foreach((json_t *)sides[side], k, v) {
                if (skip_key(w, k) || (side == 1 && json_object_get(l, k)))
                    continue;
                json_t *lv = json_object_get(l, k), *rv = json_object_get(r, k);
                if (!rv) {
                    json_object_set_new_nocheck(res, k, copy_json(lv));
                    continue;
                }
                vk_patch_field_t cf;
                field_of(w, k, is_map, &cf);
                bool pushed = !is_map && w->nd < MAX_DEPTH;
                if (pushed)
                    w->names[w->nd++] = k;
                if (!push_pe(w, field_pe(k))) {
                    json_decref(res);
                    return NULL;
                }
                json_t *m = merge(w, lv, rv, &cf, cf.is_map);
                pop_pe(w);
                if (pushed)
                    w->nd--;
                if (!m) {
                    json_decref(res);
                    return NULL;
                }
                json_object_set_new_nocheck(res, k, m);
            }
        }
        return res;
    }
    int kind = list_kind(f);
    if (!json_is_array(l) || !json_is_array(r) || kind == LK_ATOMIC)
        return copy_json(r);
    /* associative lists: structured-merge-diff's ordering */
    size_t nl = json_array_size(l), nr = json_array_size(r);
    char **lp = vk_xcalloc(nl + 1, sizeof *lp), **rp = vk_xcalloc(nr + 1, sizeof *rp);
    json_t *res = json_array();
    for (size_t i = 0; i < nr && !w->err; i++)
        rp[i] = item_pe(w, f, kind, json_array_get(r, i), i);
    bool lenient = w->lenient;
    w->lenient = true; /* the live object is what it is */
    for (size_t i = 0; i < nl && !w->err; i++)
        lp[i] = item_pe(w, f, kind, json_array_get(l, i), i);
    w->lenient = lenient;
    if (w->err)
        goto done;
    {
#define FIND(arr, n, pe, out)                                                                      \
    do {                                                                                           \
        out = -1;                                                                                  \
        for (size_t q_ = 0; q_ < (n) && out < 0; q_++)                                             \
            if (strcmp((arr)[q_], (pe)) == 0)                                                      \
                out = (long)q_;                                                                    \
    } while (0)
        /* shared: r's items also in l, in r's order */
        size_t nshared = 0, si = 0;
        long *shared = vk_xcalloc(nr + 1, sizeof *shared);
        for (size_t i = 0; i < nr; i++) {
            long at;
            FIND(lp, nl, rp[i], at);
            if (at >= 0)
                shared[nshared++] = (long)i;
        }
        const char *next_shared = si < nshared ? rp[shared[si++]] : NULL;
        char **merged_r = vk_xcalloc(nr + 1, sizeof *merged_r);
        size_t nm = 0;
        size_t li = 0, ri = 0;
        while ((li < nl || ri < nr) && !w->err) {
            if (li < nl && ri < nr) {
                if (strcmp(lp[li], rp[ri]) == 0) {
                    merged_r[nm++] = rp[ri];
                    long at;
                    FIND(lp, nl, lp[li], at);
                    if (!push_pe(w, vk_xstrdup(lp[li])))
                        break;
                    json_t *m = merge(w, json_array_get(l, (size_t)at), json_array_get(r, ri), f,
                                      false);
                    pop_pe(w);
                    if (m)
                        json_array_append_new(res, m);
                    li++;
                    ri++;
                    next_shared = si < nshared ? rp[shared[si++]] : NULL;
                    continue;
                }
                long inr;
                FIND(rp, nr, lp[li], inr);
                if (inr >= 0 && next_shared && strcmp(next_shared, lp[li]) != 0) {
                    li++;
                    continue;
                }
            }
            if (li < nl) {
                long inr, done_r;
                FIND(rp, nr, lp[li], inr);
                FIND(merged_r, nm, lp[li], done_r);
                if (inr < 0) {
                    json_array_append_new(res, copy_json(json_array_get(l, li)));
                    li++;
                    continue;
                } else if (done_r >= 0) {
                    li++;
                }
            }
            if (ri < nr) {
                merged_r[nm++] = rp[ri];
                long inl;
                FIND(lp, nl, rp[ri], inl);
                if (!push_pe(w, vk_xstrdup(rp[ri])))
                    break;
                json_t *m = merge(w, inl >= 0 ? json_array_get(l, (size_t)inl) : NULL,
                                  json_array_get(r, ri), f, false);
                pop_pe(w);
                if (m)
                    json_array_append_new(res, m);
                if (next_shared && strcmp(next_shared, rp[ri]) == 0)
                    next_shared = si < nshared ? rp[shared[si++]] : NULL;
                ri++;
            }
        }
        free(shared);
        free(merged_r);
#undef FIND
    }
done:
    for (size_t i = 0; i < nl; i++)
        free(lp[i]);
    for (size_t i = 0; i < nr; i++)
        free(rp[i]);
    free(lp);
    free(rp);
    if (w->err) {
        json_decref(res);
        return NULL;
    }
    return res;
}

static bool container_empty(const json_t *v) {
    return (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* Removes the node at path (serialized elements) from obj, if present, and
 * the maps and lists that this leaves empty (as upstream's RemoveItems). */
static void remove_path(json_t *obj, char *const *path, size_t n) {
    json_t *chain[MAX_DEPTH + 1];
    size_t at[MAX_DEPTH + 1]; /* index of the child within an array parent */
    json_t *cur = obj;
    for (size_t i = 0; i < n && cur && i < MAX_DEPTH; i++) {
        const char *pe = path[i];
        bool last = i + 1 == n;
        chain[i] = cur;
        if (pe[0] == 'f' && json_is_object(cur)) {
            if (last) {
                if (!json_object_get(cur, pe + 2))
                    return;
                json_object_del(cur, pe + 2);
                goto emptied;
            }
            cur = json_object_get(cur, pe + 2);
            continue;
        }
        if (!json_is_array(cur))
            return;
        long found = -1;
        if (pe[0] == 'i') {
            long idx = strtol(pe + 2, NULL, 10);
            if (idx >= 0 && (size_t)idx < json_array_size(cur))
                found = idx;
        } else {
            json_t *want = json_loads(pe + 2, JSON_DECODE_ANY, NULL);
            for (size_t j = 0; j < json_array_size(cur) && found < 0 && want; j++) {
                json_t *item = json_array_get(cur, j);
                if (pe[0] == 'v') {
                    if (json_equal(item, want))
                        found = (long)j;
                } else if (json_is_object(item)) {
                    bool ok = true;
                    const char *k;
                    json_t *v;
                    json_object_foreach(want, k, v) {
                        json_t *iv = json_object_get(item, k);
                        if (!iv && strcmp(k, "protocol") == 0 && json_is_string(v) &&
                            strcmp(json_string_value(v), "TCP") == 0)
                            continue;
                        if (!iv || !json_equal(iv, v))
                            ok = false;
                    }
                    if (ok)
                        found = (long)j;
                }
            }
            json_decref(want);
        }
        if (found < 0)
            return;
        at[i] = (size_t)found;
        if (last) {
            json_array_remove(cur, (size_t)found);
            goto emptied;
        }
        cur = json_array_get(cur, (size_t)found);
    }
    return;
emptied:
    for (size_t i = n - 1; i > 0 && container_empty(chain[i]); i--) {
        json_t *parent = chain[i - 1];
        if (json_is_object(parent))
            json_object_del(parent, path[i - 1] + 2);
        else
            json_array_remove(parent, at[i - 1]);
    }
}

typedef struct {
    json_t *obj;
    fset_t *owned;
    fset_t *to_remove;
} prune_t;

static void prune_walk(prune_t *p, fset_t *s, char **path, size_t depth) {
    for (size_t i = 0; i < s->n && depth < MAX_DEPTH; i++) {
        path[depth] = s->kids[i].pe;
        if (s->kids[i].member && !fs_owns(p->owned, path, depth + 1))
            remove_path(p->obj, path, depth + 1);
        else
            prune_walk(p, &s->kids[i], path, depth + 1);
    }
}

/* ---- managers ----------------------------------------------------------- */

typedef struct {
    char *id; /* identifier as upstream builds it (JSON) */
    char *manager, *operation, *api_version, *time, *subresource;
    fset_t set;
} mgr_t;

typedef struct {
    mgr_t *m;
    size_t n;
} mgrs_t;

static char *make_id(const char *manager, const char *op, const char *api_version,
                     const char *sub) {
    json_t *o = json_object();
    json_object_set_new(o, "manager", json_string(manager ? manager : ""));
    json_object_set_new(o, "operation", json_string(op));
    if (strcmp(op, "Apply") != 0 && api_version && *api_version)
        json_object_set_new(o, "apiVersion", json_string(api_version));
    if (sub && *sub)
        json_object_set_new(o, "subresource", json_string(sub));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

static void mgrs_free(mgrs_t *ms) {
    for (size_t i = 0; i < ms->n; i++) {
        mgr_t *m = &ms->m[i];
        free(m->id);
        free(m->manager);
        free(m->operation);
        free(m->api_version);
        free(m->time);
        free(m->subresource);
        fs_clear(&m->set);
    }
    free(ms->m);
    ms->m = NULL;
    ms->n = 0;
}

static mgr_t *mgrs_get(mgrs_t *ms, const char *manager, const char *op, const char *api_version,
                       const char *sub) {
    char *id = make_id(manager, op, api_version, sub);
    for (size_t i = 0; i < ms->n; i++) {
        if (strcmp(ms->m[i].id, id) == 0) {
            free(id);
            return &ms->m[i];
        }
    }
    ms->m = vk_xrealloc(ms->m, (ms->n + 1) * sizeof *ms->m);
    mgr_t *m = &ms->m[ms->n++];
    memset(m, 0, sizeof *m);
    m->id = id;
    m->manager = vk_xstrdup(manager ? manager : "");
    m->operation = vk_xstrdup(op);
    m->api_version = vk_xstrdup(api_version ? api_version : "");
    m->subresource = sub && *sub ? vk_xstrdup(sub) : NULL;
    return m;
}

/* Reads metadata.managedFields; entries that do not parse are dropped. */
static void mgrs_decode(mgrs_t *ms, const json_t *obj) {
    json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e) {
        const char *op = json_string_value(json_object_get(e, "operation"));
        const char *ft = json_string_value(json_object_get(e, "fieldsType"));
        if (!op || (ft && strcmp(ft, "FieldsV1") != 0))
            continue;
        fset_t s = {0};
        json_t *f1 = json_object_get(e, "fieldsV1");
        if (f1 && !fs_from_json(&s, f1, 0)) {
            fs_clear(&s);
            continue;
        }
        mgr_t *m = mgrs_get(ms, json_string_value(json_object_get(e, "manager")), op,
                            json_string_value(json_object_get(e, "apiVersion")),
                            json_string_value(json_object_get(e, "subresource")));
        fs_union(&m->set, &s);
        fs_clear(&s);
        const char *t = json_string_value(json_object_get(e, "time"));
        if (t) {
            free(m->time);
            m->time = vk_xstrdup(t);
        }
        const char *av = json_string_value(json_object_get(e, "apiVersion"));
        if (av) {
            free(m->api_version);
            m->api_version = vk_xstrdup(av);
        }
    }
}

static int entry_cmp(const void *a, const void *b) {
    const mgr_t *p = a, *q = b;
    int c = strcmp(p->operation, q->operation);
    if (c)
        return c;
    c = strcmp(p->time ? p->time : "", q->time ? q->time : "");
    if (c)
        return c;
    c = strcmp(p->manager, q->manager);
    if (c)
        return c;
    c = strcmp(p->api_version, q->api_version);
    if (c)
        return c;
    return strcmp(p->subresource ? p->subresource : "", q->subresource ? q->subresource : "");
}

/* Writes the non-empty managers into obj.metadata.managedFields. */
static void mgrs_encode(mgrs_t *ms, json_t *obj) {
    json_t *meta = json_object_get(obj, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(obj, "metadata", meta);
    }
    qsort(ms->m, ms->n, sizeof *ms->m, entry_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < ms->n; i++) {
        mgr_t *m = &ms->m[i];
        fs_prune(&m->set);
        if (fs_empty(&m->set))
            continue;
        fs_sort(&m->set);
        json_t *e = json_object();
        json_object_set_new(e, "manager", json_string(m->manager));
        json_object_set_new(e, "operation", json_string(m->operation));
        json_object_set_new(e, "apiVersion", json_string(m->api_version));
        if (m->time)
            json_object_set_new(e, "time", json_string(m->time));
        json_object_set_new(e, "fieldsType", json_string("FieldsV1"));
        json_object_set_new(e, "fieldsV1", fs_to_json(&m->set, false));
        if (m->subresource)
            json_object_set_new(e, "subresource", json_string(m->subresource));
        json_array_append_new(arr, e);
    }
    if (json_array_size(arr))
        json_object_set_new(meta, "managedFields", arr);
    else {
        json_decref(arr);
        json_object_del(meta, "managedFields");
    }
}

static void walk_init(walk_t *w, const vk_apply_opts_t *o) {
    memset(w, 0, sizeof *w);
    w->cb = o->schema;
    w->ctx = o->schema_ctx;
}

static void walk_done(walk_t *w) {
    while (w->np)
        pop_pe(w);
    free(w->err);
}

/* ---- conflicts ------------------------------------------------------------- */

typedef struct {
    json_t *causes;
    char **paths;
    size_t n;
    const char *who; /* printed manager */
} conf_t;

static void conf_visit(void *ctx, const char *human) {
    conf_t *c = ctx;
    c->paths = vk_xrealloc(c->paths, (c->n + 1) * sizeof *c->paths);
    c->paths[c->n++] = vk_xstrdup(human);
    json_t *cause = json_object();
    json_object_set_new(cause, "reason", json_string("FieldManagerConflict"));
    char *msg = vk_xasprintf("conflict with %s", c->who);
    json_object_set_new(cause, "message", json_string(msg));
    free(msg);
    json_object_set_new(cause, "field", json_string(human));
    json_array_append_new(c->causes, cause);
}

static char *print_manager(const mgr_t *m) {
    char *s = vk_xasprintf("\"%s\"", m->manager);
    if (m->subresource) {
        char *t = vk_xasprintf("%s with subresource \"%s\"", s, m->subresource);
        free(s);
        s = t;
    }
    if (strcmp(m->operation, "Update") == 0) {
        char *t = vk_xasprintf("%s using %s", s, m->api_version);
        free(s);
        s = t;
    }
    return s;
}

static int id_cmp(const void *a, const void *b) {
    return strcmp((*(mgr_t *const *)a)->id, (*(mgr_t *const *)b)->id);
}

/* ---- public ---------------------------------------------------------------- */

int vk_apply(const json_t *live, const json_t *config, const vk_apply_opts_t *o, json_t **out,
             json_t **causes, char **err) {
    *out = NULL;
    if (causes)
        *causes = NULL;
    if (err)
        *err = NULL;
    if (!json_is_object(config)) {
        if (err)
            *err = vk_xstrdup("apply patch must be a JSON or YAML object");
        return VK_EBADREQUEST;
    }
    json_t *cmf = json_object_get(json_object_get(config, "metadata"), "managedFields");
    if (cmf && !json_is_null(cmf)) {
        if (err)
            *err = vk_xstrdup("metadata.managedFields must be nil");
        return VK_EBADREQUEST;
    }
    int rc = 0;
    walk_t w;
    walk_init(&w, o);
    mgrs_t ms = {0};
    mgrs_decode(&ms, live);
    const json_t *lc = live; /* metadata.managedFields is skipped by the walks */
    vk_patch_field_t rootf = {0};
    json_t *merged = merge(&w, lc, config, &rootf, false);
    fset_t newset = {0}, last = {0}, owned = {0};
    cmp_t c = {0};
    if (!merged)
        goto invalid;
    to_set(&w, &newset, config, &rootf, false);
    if (w.err)
        goto invalid;
    fs_strip_meta(&newset);
    fs_exclude_top(&newset, o->ignored);

    mgr_t *self = mgrs_get(&ms, o->manager, "Apply", o->api_version, o->subresource);
    size_t self_i = (size_t)(self - ms.m);
    fs_union(&last, &self->set);
    fs_clear(&self->set);
    fs_union(&self->set, &newset);
    free(self->api_version);
    self->api_version = vk_xstrdup(o->api_version ? o->api_version : "");

    /* prune what this manager applied before and nobody owns now */
    if (!fs_empty(&last)) {
        fset_t gone = {0};
        fs_union(&gone, &last);
        fs_diff(&gone, &newset);
        fs_prune(&gone);
        for (size_t i = 0; i < ms.n; i++)
            fs_union(&owned, &ms.m[i].set);
        char *path[MAX_DEPTH];
        prune_t p = {merged, &owned, &gone};
        prune_walk(&p, &gone, path, 0);
        fs_clear(&gone);
    }

    /* conflicts with the other managers */
    w.lenient = true; /* the live object may hold items without keys */
    compare(&w, &c, lc, merged, &rootf, false, true);
    fset_t changed = {0};
    fs_union(&changed, &c.modified);
    fs_union(&changed, &c.added);
    mgr_t **hit = vk_xcalloc(ms.n + 1, sizeof *hit);
    fset_t *hitset = vk_xcalloc(ms.n + 1, sizeof *hitset);
    size_t nhit = 0;
    for (size_t i = 0; i < ms.n; i++) {
        if (i == self_i)
            continue;
        fset_t x = {0};
        fs_intersect(&x, &ms.m[i].set, &changed);
        if (!fs_empty(&x)) {
            hit[nhit] = &ms.m[i];
            hitset[nhit++] = x;
        } else {
            fs_clear(&x);
        }
    }
    if (nhit && !o->force) {
        /* hitset follows hit; sort both by manager identifier */
        for (size_t i = 1; i < nhit; i++)
            for (size_t j = i; j > 0 && id_cmp(&hit[j - 1], &hit[j]) > 0; j--) {
                mgr_t *tm = hit[j];
                hit[j] = hit[j - 1];
                hit[j - 1] = tm;
                fset_t ts = hitset[j];
                hitset[j] = hitset[j - 1];
                hitset[j - 1] = ts;
            }
        json_t *cs = json_array();
        char *body = vk_xstrdup("");
        size_t total = 0;
        char *single = NULL;
        for (size_t i = 0; i < nhit; i++) {
            char *who = print_manager(hit[i]);
            conf_t cf = {.causes = cs, .who = who};
            fs_sort(&hitset[i]);
            fs_walk(&hitset[i], "", &cf, conf_visit);
            char *b = vk_xasprintf("%s%sconflicts with %s:", body, *body ? "\n" : "", who);
            free(body);
            body = b;
            for (size_t k = 0; k < cf.n; k++) {
                b = vk_xasprintf("%s\n- %s", body, cf.paths[k]);
                free(body);
                body = b;
                if (!single)
                    single = vk_xasprintf("conflict with %s: %s", who, cf.paths[k]);
                free(cf.paths[k]);
            }
            total += cf.n;
            free(cf.paths);
            free(who);
        }
        if (err) {
            if (total == 1)
                *err = vk_xasprintf("Apply failed with 1 conflict: %s", single);
            else
                *err = vk_xasprintf("Apply failed with %zu conflicts: %s", total, body);
        }
        free(single);
        free(body);
        if (causes)
            *causes = cs;
        else
            json_decref(cs);
        rc = VK_ECONFLICT;
    } else {
        for (size_t i = 0; i < nhit; i++)
            fs_diff(&hit[i]->set, &hitset[i]);
        for (size_t i = 0; i < ms.n; i++)
            if (i != self_i)
                fs_diff(&ms.m[i].set, &c.removed);
        vk_patch_prune_nulls(merged); /* as decoding into the typed object does */
        bool changed_obj = !lc || !fs_empty(&c.added) || !fs_empty(&c.modified) ||
                           !fs_empty(&c.removed);
        /* As upstream: the time moves only when the object changed, so a
         * no-op apply by a new manager leaves its entry without one. */
        if (changed_obj) {
            free(ms.m[self_i].time);
            ms.m[self_i].time = vk_xstrdup(o->now ? o->now : "");
        }
        mgrs_encode(&ms, merged);
        *out = merged;
        merged = NULL;
    }
    for (size_t i = 0; i < nhit; i++)
        fs_clear(&hitset[i]);
    free(hit);
    free(hitset);
    fs_clear(&changed);
    goto done;
invalid:
    if (err)
        *err = vk_xstrdup(w.err ? w.err : "invalid apply configuration");
    rc = VK_EINVALID;
done:
    fs_clear(&c.added);
    fs_clear(&c.modified);
    fs_clear(&c.removed);
    fs_clear(&newset);
    fs_clear(&last);
    fs_clear(&owned);
    json_decref(merged);
    mgrs_free(&ms);
    walk_done(&w);
    return rc;
}

int vk_apply_track(const json_t *old, json_t *obj, const vk_apply_opts_t *o, char **err) {
    if (err)
        *err = NULL;
    if (!json_is_object(obj)) {
        if (err)
            *err = vk_xstrdup("object must be a JSON object");
        return VK_EBADREQUEST;
    }
    json_t *nmf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    json_t *omf = old ? json_object_get(json_object_get(old, "metadata"), "managedFields") : NULL;
    if (nmf && !json_is_null(nmf) && !json_is_array(nmf)) {
        if (err)
            *err = vk_xstrdup("metadata.managedFields: must be a list");
        return VK_EBADREQUEST;
    }
    mgrs_t ms = {0};
    /* A client sending managedFields different from the stored ones resets them. */
    mgrs_decode(&ms, (json_array_size(nmf) && !(omf && json_equal(nmf, omf))) ? obj : old);
    walk_t w;
    walk_init(&w, o);
    w.lenient = true;
    const json_t *oc = old, *nc = obj; /* metadata.managedFields is skipped by the walks */
    vk_patch_field_t rootf = {0};
    cmp_t c = {0};
    compare(&w, &c, oc, nc, &rootf, false, true);
    fset_t changed = {0};
    fs_union(&changed, &c.modified);
    fs_union(&changed, &c.added);
    for (size_t i = 0; i < ms.n; i++) {
        fs_diff(&ms.m[i].set, &changed);
        fs_diff(&ms.m[i].set, &c.removed);
    }
    fs_strip_meta(&changed);
    fs_exclude_top(&changed, o->ignored);
    if (!fs_empty(&changed)) {
        mgr_t *self = mgrs_get(&ms, o->manager, "Update", o->api_version, o->subresource);
        fs_union(&self->set, &changed);
        free(self->time);
        self->time = vk_xstrdup(o->now ? o->now : "");
    }
    mgrs_encode(&ms, obj);
    fs_clear(&changed);
    fs_clear(&c.added);
    fs_clear(&c.modified);
    fs_clear(&c.removed);
    mgrs_free(&ms);
    walk_done(&w);
    return 0;
}
