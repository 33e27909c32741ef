/* yaml: YAML <-> JSON with sigs.k8s.io/yaml's scalar typing, on libyaml's
 * event parser and emitter. */
#include "yaml.h"

#include "err.h"
#include "mem.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ---- scalar resolution ---------------------------------------------------- */

enum { R_STR, R_NULL, R_BOOL, R_INT, R_REAL, R_INF };

typedef struct {
    int kind;
    int b;
    long long i;
    double d;
} resolved_t;

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return 1;
    return 0;
}

static const char *const NULLS[] = {"~", "null", "Null", "NULL", NULL};
static const char *const TRUES[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                    "on", "On", "ON", NULL};
static const char *const FALSES[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
                                     "off", "Off", "OFF", NULL};
static const char *const INFS[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                   "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};

/* Go's strconv.ParseInt(s, 0, 64): sign, then 0x/0o/0b prefix or leading-0
 * octal or decimal. Returns 1 and *out on success, 0 if not an int or it overflows. */
static int parse_go_int(const char *s, long long *out, int *overflow)
{
    int neg = 0;
    *overflow = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, s += 2;
    else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) base = 8, s += 2;
    else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) base = 2, s += 2;
    else if (s[0] == '0' && s[1]) base = 8, s += 1;
    if (!*s) return 0;
    unsigned long long v = 0;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9') d = *s - '0';
        else if (*s >= 'a' && *s <= 'f') d = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F') d = *s - 'A' + 10;
        else return 0;
        if (d >= base) return 0;
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) *overflow = 1;
        else v = v * (unsigned)base + (unsigned)d;
    }
    if (*overflow) return 0;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return *overflow = 1, 0;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return *overflow = 1, 0;
        *out = (long long)v;
    }
    return 1;
}

/* YAML 1.1 float syntax go-yaml accepts:
 * ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static int is_yaml_float(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (*s == '.') {
        s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    } else {
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
        if (*s == '.') {
            s++;
            while (*s >= '0' && *s <= '9') s++;
        }
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!(*s >= '0' && *s <= '9')) return 0;
        while (*s >= '0' && *s <= '9') s++;
    }
    return *s == 0;
}

/* Resolves a plain (unquoted, untagged) scalar as go-yaml v2 does. */
static resolved_t resolve_plain(const char *s, size_t n)
{
    resolved_t r = {R_STR, 0, 0, 0};
    if (n != strlen(s)) return r; /* embedded NUL: only a string can hold it */
    if (n == 0 || in_list(s, NULLS)) return r.kind = R_NULL, r;
    if (in_list(s, TRUES)) return r.kind = R_BOOL, r.b = 1, r;
    if (in_list(s, FALSES)) return r.kind = R_BOOL, r.b = 0, r;
    if (in_list(s, INFS)) return r.kind = R_INF, r;
    char c = s[0];
    if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) return r;
    if (n > 400) return r;
    char plain[512];
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_') plain[j++] = s[i];
    plain[j] = 0;
    int overflow;
    long long iv;
    if (parse_go_int(plain, &iv, &overflow)) return r.kind = R_INT, r.i = iv, r;
    if (is_yaml_float(plain)) {
        errno = 0;
        double d = strtod(plain, NULL);
        if (isinf(d)) return r; /* go-yaml: out of range, stays a string */
        /* JSON carries integral floats as integers, as Go's encoder prints them. */
        if (d == floor(d) && fabs(d) < 9007199254740992.0) return r.kind = R_INT, r.i = (long long)d, r;
        return r.kind = R_REAL, r.d = d, r;
    }
    if (overflow && c != '-' && c != '.') {
        /* Larger than int64 but a valid uint64 in go-yaml: JSON number, lossy here. */
        double d = strtod(plain, NULL);
        return r.kind = R_REAL, r.d = d, r;
    }
    return r;
}

/* Shortest "%.Ng" that reads back as d. */
static void format_real(double d, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

/* ---- parser ----------------------------------------------------------------- */

typedef struct {
    json_t *node; /* object or array under construction (a reference we hold) */
    char *key;    /* object: pending key text, or NULL when a key is expected */
    size_t keylen;
    int merge;    /* pending key is the "<<" merge key */
    char *anchor; /* this container's anchor, registered when it closes */
} frame_t;

typedef struct {
    char *name;
    json_t *node; /* a reference we hold */
} anchor_t;

typedef struct {
    frame_t stack[VK_YAML_MAX_DEPTH + 1];
    int depth;
    anchor_t *anchors;
    size_t nanchors, capanchors;
    size_t nodes;   /* nodes produced so far, alias copies included */
    json_t *root;   /* the current document's root, or NULL */
    int have_root;
    char *err;
    size_t errlen;
} parser_t;

static int fail(parser_t *p, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(parser_t *p, yaml_mark_t m, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "yaml: line %zu column %zu: %s", m.line + 1, m.column + 1, msg);
    return VK_EINVALID;
}

static void anchors_reset(parser_t *p)
{
    for (size_t i = 0; i < p->nanchors; i++) {
        free(p->anchors[i].name);
        json_decref(p->anchors[i].node);
    }
    p->nanchors = 0;
}

static void anchor_set(parser_t *p, const char *name, json_t *node)
{
    for (size_t i = 0; i < p->nanchors; i++)
        if (strcmp(p->anchors[i].name, name) == 0) {
            json_decref(p->anchors[i].node);
            p->anchors[i].node = json_incref(node);
            return;
        }
    if (p->nanchors == p->capanchors) {
        p->capanchors = p->capanchors ? p->capanchors * 2 : 8;
        p->anchors = vk_xrealloc(p->anchors, p->capanchors * sizeof *p->anchors);
    }
    p->anchors[p->nanchors].name = vk_xstrdup(name);
    p->anchors[p->nanchors].node = json_incref(node);
    p->nanchors++;
}

static json_t *anchor_get(parser_t *p, const char *name)
{
    for (size_t i = p->nanchors; i-- > 0;)
        if (strcmp(p->anchors[i].name, name) == 0) return p->anchors[i].node;
    return NULL;
}

/* Counts nodes and depth of v, stopping early past limit. */
static void measure(const json_t *v, int depth, size_t *count, int *maxdepth, size_t limit)
{
    if (*count > limit) return;
    (*count)++;
    if (depth > *maxdepth) *maxdepth = depth;
    if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach((json_t *)v, k, c) measure(c, depth + 1, count, maxdepth, limit);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) measure(c, depth + 1, count, maxdepth, limit);
    }
}

static void frame_clear(frame_t *f)
{
    json_decref(f->node);
    free(f->key);
    free(f->anchor);
    memset(f, 0, sizeof *f);
}

/* Text of a scalar node used as a mapping key (non-strings become their text). */
static char *key_text(const json_t *v, size_t *len)
{
    char buf[64];
    const char *s;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *len = json_string_length(v);
        return vk_xstrndup(json_string_value(v), *len);
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        s = buf;
        break;
    case JSON_REAL:
        format_real(json_real_value(v), buf, sizeof buf);
        s = buf;
        break;
    case JSON_TRUE: s = "true"; break;
    case JSON_FALSE: s = "false"; break;
    case JSON_NULL: s = "null"; break;
    default: return NULL;
    }
    *len = strlen(s);
    return vk_xstrdup(s);
}

/* Adds a finished value v (reference stolen) to the current container or as
 * the document root. */
static int add_value(parser_t *p, json_t *v, yaml_mark_t m)
{
    if (p->depth == 0) {
        p->root = v;
        p->have_root = 1;
        return 0;
    }
    frame_t *f = &p->stack[p->depth - 1];
    if (json_is_array(f->node)) {
        json_array_append_new(f->node, v);
        return 0;
    }
    assert(f->key);
    int rc = 0;
    if (f->merge) {
        json_t *maps = json_is_array(v) ? v : NULL;
        size_t n = maps ? json_array_size(maps) : 1;
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_t *src = maps ? json_array_get(maps, i) : v;
            if (!json_is_object(src)) {
                rc = fail(p, m, "map merge requires a map or a sequence of maps as the value");
                break;
            }
            const char *k;
            json_t *c;
            /* Earlier maps and explicit keys win: only absent keys are merged. */
            json_object_foreach(src, k, c) if (!json_object_get(f->node, k))
                json_object_set(f->node, k, c);
        }
        json_decref(v);
    } else if (json_object_setn_new(f->node, f->key, f->keylen, v) != 0) {
        rc = fail(p, m, "invalid map key");
    }
    free(f->key);
    f->key = NULL;
    f->merge = 0;
    return rc;
}

/* A scalar or alias value that arrives where a mapping key is expected. */
static int set_key(parser_t *p, const json_t *v, int merge, yaml_mark_t m)
{
    frame_t *f = &p->stack[p->depth - 1];
    size_t len = 0;
    char *k = key_text(v, &len);
    if (!k) return fail(p, m, "unsupported map key: only scalar keys can become JSON");
    f->key = k;
    f->keylen = len;
    f->merge = merge;
    return 0;
}

static int expecting_key(parser_t *p)
{
    if (p->depth == 0) return 0;
    frame_t *f = &p->stack[p->depth - 1];
    return json_is_object(f->node) && f->key == NULL;
}

static int is_tag(const yaml_char_t *tag, const char *name)
{
    return tag && strcmp((const char *)tag, name) == 0;
}

static int scalar_event(parser_t *p, yaml_event_t *e)
{
    const char *s = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    const yaml_char_t *tag = e->data.scalar.tag;
    json_t *v = NULL;
    int typed_tag = is_tag(tag, YAML_INT_TAG) || is_tag(tag, YAML_FLOAT_TAG) ||
                    is_tag(tag, YAML_BOOL_TAG) || is_tag(tag, YAML_NULL_TAG);
    int as_string = (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE && !typed_tag) ||
                    is_tag(tag, YAML_STR_TAG) || is_tag(tag, "!") ||
                    is_tag(tag, "tag:yaml.org,2002:binary");
    int merge = 0;
    if (as_string) {
        v = json_stringn(s, n);
    } else {
        resolved_t r = resolve_plain(s, n);
        int want = -1;
        if (is_tag(tag, YAML_INT_TAG)) want = R_INT;
        else if (is_tag(tag, YAML_FLOAT_TAG)) want = R_REAL;
        else if (is_tag(tag, YAML_BOOL_TAG)) want = R_BOOL;
        else if (is_tag(tag, YAML_NULL_TAG)) want = R_NULL;
        if (want == R_REAL && r.kind == R_INT) r.kind = R_REAL, r.d = (double)r.i;
        if (want >= 0 && r.kind != want)
            return fail(p, e->start_mark, "cannot decode %.40s as %s", s, (const char *)tag);
        switch (r.kind) {
        case R_NULL: v = json_null(); break;
        case R_BOOL: v = json_boolean(r.b); break;
        case R_INT: v = json_integer(r.i); break;
        case R_REAL: v = json_real(r.d); break;
        case R_INF:
            return fail(p, e->start_mark, "%s cannot be represented in JSON", s);
        default:
            merge = !tag && n == 2 && memcmp(s, "<<", 2) == 0;
            v = json_stringn(s, n);
        }
    }
    if (!v) return fail(p, e->start_mark, "invalid UTF-8 in scalar");
    if (++p->nodes > VK_YAML_MAX_NODES) {
        json_decref(v);
        return fail(p, e->start_mark, "document too large (more than %d nodes)", VK_YAML_MAX_NODES);
    }
    if (e->data.scalar.anchor) anchor_set(p, (const char *)e->data.scalar.anchor, v);
    if (expecting_key(p)) {
        int rc = set_key(p, v, merge, e->start_mark);
        json_decref(v);
        return rc;
    }
    return add_value(p, v, e->start_mark);
}

static int alias_event(parser_t *p, yaml_event_t *e)
{
    const char *name = (const char *)e->data.alias.anchor;
    json_t *src = anchor_get(p, name);
    if (!src) return fail(p, e->start_mark, "unknown anchor '%.40s' referenced", name);
    if (expecting_key(p)) return set_key(p, src, 0, e->start_mark);
    size_t count = 0;
    int maxdepth = 0;
    measure(src, 0, &count, &maxdepth, VK_YAML_MAX_NODES);
    if (p->nodes + count > VK_YAML_MAX_NODES)
        return fail(p, e->start_mark, "document too large (aliases expand past %d nodes)",
                    VK_YAML_MAX_NODES);
    if (p->depth + maxdepth > VK_YAML_MAX_DEPTH)
        return fail(p, e->start_mark, "nesting deeper than %d", VK_YAML_MAX_DEPTH);
    p->nodes += count;
    return add_value(p, json_deep_copy(src), e->start_mark);
}

static int open_event(parser_t *p, yaml_event_t *e, int is_map)
{
    if (expecting_key(p))
        return fail(p, e->start_mark, "unsupported map key: only scalar keys can become JSON");
    if (p->depth >= VK_YAML_MAX_DEPTH)
        return fail(p, e->start_mark, "nesting deeper than %d", VK_YAML_MAX_DEPTH);
    if (++p->nodes > VK_YAML_MAX_NODES)
        return fail(p, e->start_mark, "document too large (more than %d nodes)", VK_YAML_MAX_NODES);
    frame_t *f = &p->stack[p->depth++];
    memset(f, 0, sizeof *f);
    f->node = is_map ? json_object() : json_array();
    const yaml_char_t *anchor = is_map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor;
    if (anchor) f->anchor = vk_xstrdup((const char *)anchor);
    return 0;
}

static int close_event(parser_t *p, yaml_event_t *e)
{
    assert(p->depth > 0);
    frame_t *f = &p->stack[--p->depth];
    json_t *v = json_incref(f->node);
    if (f->anchor) anchor_set(p, f->anchor, v);
    frame_clear(f);
    return add_value(p, v, e->start_mark);
}

int vk_yaml_parse_all(const char *text, size_t len, json_t **docs, char *err, size_t errlen)
{
    *docs = NULL;
    if (errlen) err[0] = 0;
    yaml_parser_t yp;
    if (!yaml_parser_initialize(&yp)) abort();
    yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
    parser_t *p = vk_xcalloc(1, sizeof *p);
    p->err = err;
    p->errlen = errlen;
    json_t *out = json_array();
    int rc = 0, done = 0;
    while (!done && rc == 0) {
        yaml_event_t e;
        if (!yaml_parser_parse(&yp, &e)) {
            snprintf(err, errlen, "yaml: line %zu column %zu: %s%s%s", yp.problem_mark.line + 1,
                     yp.problem_mark.column + 1, yp.context ? yp.context : "",
                     yp.context ? ", " : "", yp.problem ? yp.problem : "parse error");
            rc = VK_EINVALID;
            break;
        }
        switch (e.type) {
        case YAML_STREAM_END_EVENT: done = 1; break;
        case YAML_DOCUMENT_START_EVENT:
            p->root = NULL;
            p->have_root = 0;
            break;
        case YAML_DOCUMENT_END_EVENT:
            json_array_append_new(out, p->have_root ? p->root : json_null());
            p->root = NULL;
            p->have_root = 0;
            anchors_reset(p);
            break;
        case YAML_SCALAR_EVENT: rc = scalar_event(p, &e); break;
        case YAML_ALIAS_EVENT: rc = alias_event(p, &e); break;
        case YAML_SEQUENCE_START_EVENT: rc = open_event(p, &e, 0); break;
        case YAML_MAPPING_START_EVENT: rc = open_event(p, &e, 1); break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: rc = close_event(p, &e); break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    while (p->depth > 0) frame_clear(&p->stack[--p->depth]);
    json_decref(p->root);
    anchors_reset(p);
    free(p->anchors);
    free(p);
    yaml_parser_delete(&yp);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    *docs = out;
    return 0;
}

int vk_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *docs;
    int rc = vk_yaml_parse_all(text, len, &docs, err, errlen);
    if (rc) return rc;
    json_t *found = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d)
    {
        if (json_is_null(d)) continue;
        if (found) {
            json_decref(docs);
            snprintf(err, errlen, "yaml: expected one document, found several");
            return VK_EINVALID;
        }
        found = d;
    }
    *out = found ? json_incref(found) : json_null();
    json_decref(docs);
    return 0;
}

/* ---- emitter ---------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} obuf_t;

static int write_cb(void *data, unsigned char *buf, size_t size)
{
    obuf_t *b = data;
    if (b->len + size + 1 > b->cap) {
        b->cap = (b->len + size + 1) * 2;
        b->p = vk_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, buf, size);
    b->len += size;
    b->p[b->len] = 0;
    return 1;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, size_t n, yaml_scalar_style_t style)
{
    yaml_event_t e;
    yaml_scalar_event_initialize(&e, NULL, NULL, (yaml_char_t *)s, (int)n, 1, 1, style);
    return yaml_emitter_emit(em, &e) ? 0 : VK_EINTERNAL;
}

static int emit_string(yaml_emitter_t *em, const char *s, size_t n)
{
    resolved_t r = resolve_plain(s, n);
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
    if (r.kind != R_STR || memchr(s, 0, n) || (n == 2 && memcmp(s, "<<", 2) == 0))
        style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    else if (memchr(s, '\n', n))
        style = YAML_LITERAL_SCALAR_STYLE;
    return emit_scalar(em, s, n, style);
}

static int emit_node(yaml_emitter_t *em, const json_t *v)
{
    yaml_event_t e;
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        yaml_mapping_start_event_initialize(&e, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        if (!yaml_emitter_emit(em, &e)) return VK_EINTERNAL;
        const char *k;
        size_t klen;
        json_t *c;
        json_object_keylen_foreach((json_t *)v, k, klen, c)
        {
            int rc = emit_string(em, k, klen);
            if (!rc) rc = emit_node(em, c);
            if (rc) return rc;
        }
        yaml_mapping_end_event_initialize(&e);
        return yaml_emitter_emit(em, &e) ? 0 : VK_EINTERNAL;
    }
    case JSON_ARRAY: {
        yaml_sequence_start_event_initialize(&e, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (!yaml_emitter_emit(em, &e)) return VK_EINTERNAL;
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c)
        {
            int rc = emit_node(em, c);
            if (rc) return rc;
        }
        yaml_sequence_end_event_initialize(&e);
        return yaml_emitter_emit(em, &e) ? 0 : VK_EINTERNAL;
    }
    case JSON_STRING: return emit_string(em, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d)) return VK_EINVALID;
        format_real(d, buf, sizeof buf);
        if (!strpbrk(buf, ".eE")) strcat(buf, ".0");
        return emit_scalar(em, buf, strlen(buf), YAML_PLAIN_SCALAR_STYLE);
    }
    case JSON_TRUE: return emit_scalar(em, "true", 4, YAML_PLAIN_SCALAR_STYLE);
    case JSON_FALSE: return emit_scalar(em, "false", 5, YAML_PLAIN_SCALAR_STYLE);
    default: return emit_scalar(em, "null", 4, YAML_PLAIN_SCALAR_STYLE);
    }
}

static int emit_docs(const json_t *const *docs, size_t n, char **out)
{
    *out = NULL;
    yaml_emitter_t em;
    if (!yaml_emitter_initialize(&em)) abort();
    obuf_t b = {0};
    yaml_emitter_set_output(&em, write_cb, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_indent(&em, 2);
    yaml_event_t e;
    int rc = 0;
    yaml_stream_start_event_initialize(&e, YAML_UTF8_ENCODING);
    if (!yaml_emitter_emit(&em, &e)) rc = VK_EINTERNAL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        yaml_document_start_event_initialize(&e, NULL, NULL, NULL, i == 0);
        if (!yaml_emitter_emit(&em, &e)) rc = VK_EINTERNAL;
        if (!rc) rc = emit_node(&em, docs[i]);
        if (!rc) {
            yaml_document_end_event_initialize(&e, 1);
            if (!yaml_emitter_emit(&em, &e)) rc = VK_EINTERNAL;
        }
    }
    if (!rc) {
        yaml_stream_end_event_initialize(&e);
        if (!yaml_emitter_emit(&em, &e)) rc = VK_EINTERNAL;
    }
    yaml_emitter_delete(&em);
    if (rc) {
        free(b.p);
        return rc;
    }
    *out = b.p ? b.p : vk_xstrdup("");
    return 0;
}

int vk_yaml_emit(const json_t *v, char **out)
{
    *out = NULL;
    if (!v) return VK_EINVALID;
    return emit_docs(&v, 1, out);
}

int vk_yaml_emit_all(const json_t *docs, char **out)
{
    *out = NULL;
    if (!json_is_array(docs)) return VK_EINVALID;
    size_t n = json_array_size(docs);
    const json_t **list = vk_xcalloc(n ? n : 1, sizeof *list);
    for (size_t i = 0; i < n; i++) list[i] = json_array_get(docs, i);
    int rc = emit_docs(list, n, out);
    free(list);
    return rc;
}
