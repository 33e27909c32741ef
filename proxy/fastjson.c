/* fastjson: splicing stored JSON objects into responses (see fastjson.h). */
#include "fastjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* A zeroed buffer gets the larger first allocation of response bodies. */
static void first_size(vk_fastjson_buf_t *b)
{
    if (!b->cap && !b->first) b->first = VK_FASTJSON_BUF_FIRST;
}

void vk_fastjson_buf_reserve(vk_fastjson_buf_t *b, size_t n)
{
    first_size(b);
    vk_strbuf_reserve(b, n);
}

void vk_fastjson_buf_put(vk_fastjson_buf_t *b, const void *data, size_t n)
{
    first_size(b);
    vk_strbuf_put(b, data, n);
}

void vk_fastjson_buf_puts(vk_fastjson_buf_t *b, const char *s)
{
    vk_fastjson_buf_put(b, s, strlen(s));
}

void vk_fastjson_buf_free(vk_fastjson_buf_t *b)
{
    vk_strbuf_free(b);
}

/* A cursor over the value; every scanner returns the position after the
 * thing it read, or NULL when the bytes are not well-formed JSON. */
typedef struct {
    const char *end;
} scan_t;

static const char *ws(const scan_t *s, const char *p)
{
    while (p < s->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    return p;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* p at the opening quote. */
static const char *scan_string(const scan_t *s, const char *p)
{
    p++;
    while (p < s->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        if (c == '\\') {
            if (++p >= s->end) return NULL;
            if (*p == 'u') {
                if (s->end - p < 5) return NULL;
                for (int i = 1; i <= 4; i++)
                    if (!is_hex(p[i])) return NULL;
                p += 5;
                continue;
            }
            if (!strchr("\"\\/bfnrt", *p) || !*p) return NULL;
        }
        p++;
    }
    return NULL;
}

static const char *digits(const scan_t *s, const char *p)
{
    const char *q = p;
    while (p < s->end && *p >= '0' && *p <= '9') p++;
    return p > q ? p : NULL;
}

static const char *scan_number(const scan_t *s, const char *p)
{
    if (*p == '-') p++;
    if (p >= s->end) return NULL;
    if (*p == '0') p++;
    else if (!(p = digits(s, p))) return NULL;
    if (p < s->end && *p == '.' && !(p = digits(s, p + 1))) return NULL;
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) p++;
        if (!(p = digits(s, p))) return NULL;
    }
    return p;
}

static const char *scan_value(const scan_t *s, const char *p, int depth);

/* p at '{'. When members is not NULL, *members is set to 1 if the object has
 * any, and a member named rv_key makes the scan fail (returns NULL). */
static const char *scan_object(const scan_t *s, const char *p, int depth, int *members,
                               const char *rv_key)
{
    p = ws(s, p + 1);
    if (p < s->end && *p == '}') return p + 1;
    if (members) *members = 1;
    for (;;) {
        if (p >= s->end || *p != '"') return NULL;
        const char *k = p;
        if (!(p = scan_string(s, p))) return NULL;
        if (rv_key && (size_t)(p - k) == strlen(rv_key) && !memcmp(k, rv_key, (size_t)(p - k)))
            return NULL;
        p = ws(s, p);
        if (p >= s->end || *p != ':') return NULL;
        if (!(p = scan_value(s, ws(s, p + 1), depth + 1))) return NULL;
        p = ws(s, p);
        if (p < s->end && *p == '}') return p + 1;
        if (p >= s->end || *p != ',') return NULL;
        p = ws(s, p + 1);
    }
}

static const char *scan_array(const scan_t *s, const char *p, int depth)
{
    p = ws(s, p + 1);
    if (p < s->end && *p == ']') return p + 1;
    for (;;) {
        if (!(p = scan_value(s, p, depth + 1))) return NULL;
        p = ws(s, p);
        if (p < s->end && *p == ']') return p + 1;
        if (p >= s->end || *p != ',') return NULL;
        p = ws(s, p + 1);
    }
}

static const char *lit(const scan_t *s, const char *p, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - p) < n || memcmp(p, w, n)) return NULL;
    return p + n;
}

static const char *scan_value(const scan_t *s, const char *p, int depth)
{
    /* jansson's own parser stops at 2048 levels; refuse well before. */
    if (depth > 512 || p >= s->end) return NULL;
    switch (*p) {
    case '{': return scan_object(s, p, depth, NULL, NULL);
    case '[': return scan_array(s, p, depth);
    case '"': return scan_string(s, p);
    case 't': return lit(s, p, "true");
    case 'f': return lit(s, p, "false");
    case 'n': return lit(s, p, "null");
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) return scan_number(s, p);
        return NULL;
    }
}

int vk_fastjson_put_with_rv(vk_fastjson_buf_t *b, const char *val, size_t len, int64_t rev)
{
    scan_t s = {val + len};
    const char *p = ws(&s, val);
    if (p >= s.end || *p != '{') return -1;
    const char *md_close = NULL; /* the closing '}' of metadata */
    int md_members = 0, seen = 0;
    p = ws(&s, p + 1);
    if (p < s.end && *p == '}') return -1; /* no metadata */
    for (;;) {
        if (p >= s.end || *p != '"') return -1;
        const char *k = p;
        if (!(p = scan_string(&s, p))) return -1;
        int is_md = p - k == 10 && !memcmp(k, "\"metadata\"", 10);
        p = ws(&s, p);
        if (p >= s.end || *p != ':') return -1;
        p = ws(&s, p + 1);
        if (is_md) {
            /* A duplicate key: jansson keeps the last one; do not guess. */
            if (seen++ || p >= s.end || *p != '{') return -1;
            if (!(p = scan_object(&s, p, 1, &md_members, "\"resourceVersion\""))) return -1;
            md_close = p - 1;
        } else if (!(p = scan_value(&s, p, 1))) {
            return -1;
        }
        p = ws(&s, p);
        if (p < s.end && *p == '}') break;
        if (p >= s.end || *p != ',') return -1;
        p = ws(&s, p + 1);
    }
    if (ws(&s, p + 1) != s.end || !md_close) return -1;
    char rv[64];
    int n = snprintf(rv, sizeof rv, "%s\"resourceVersion\":\"%lld\"", md_members ? "," : "",
                     (long long)rev);
    vk_fastjson_buf_put(b, val, (size_t)(md_close - val));
    vk_fastjson_buf_put(b, rv, (size_t)n);
    vk_fastjson_buf_put(b, md_close, (size_t)(s.end - md_close));
    return 0;
}
