/* protobuf: table-driven decoder of Kubernetes protobuf bodies into JSON
 * following Go's encoding/json conventions (see protobuf.h). */
#include "proxy/protobuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/quantity.h"

/* Seconds of Go's zero time.Time (0001-01-01T00:00:00Z) since the Unix epoch. */
#define GO_ZERO_TIME_SECONDS (-62135596800LL)

typedef struct {
    char *err;
    size_t errlen;
    int rc;          /* first error */
    size_t budget;   /* JSON values we may still create */
    const char *quantity_why; /* static message when a Quantity did not parse */
} dec_t;

typedef struct {
    const uint8_t *p, *end;
} rd_t;

static int fail(dec_t *d, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dec_t *d, int rc, const char *fmt, ...)
{
    if (!d->rc) {
        d->rc = rc;
        if (d->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(d->err, d->errlen, fmt, ap);
            va_end(ap);
        }
    }
    return rc;
}

/* Counts one JSON value against the output budget. */
static int spend(dec_t *d)
{
    if (d->budget == 0)
        return fail(d, VK_EBADREQUEST, "protobuf: decoded object too large");
    d->budget--;
    return 0;
}

static int rd_varint(rd_t *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end)
            return -1;
        uint8_t b = *r->p++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int rd_fixed(rd_t *r, size_t n, uint64_t *v)
{
    if ((size_t)(r->end - r->p) < n)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++)
        x |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    *v = x;
    return 0;
}

static int rd_bytes(rd_t *r, const uint8_t **b, size_t *n)
{
    uint64_t l;
    if (rd_varint(r, &l) || l > (uint64_t)(r->end - r->p))
        return -1;
    *b = r->p;
    *n = (size_t)l;
    r->p += l;
    return 0;
}

/* Skips one value of wire type wt. */
static int rd_skip(rd_t *r, unsigned wt)
{
    uint64_t v;
    const uint8_t *b;
    size_t n;
    switch (wt) {
    case 0: return rd_varint(r, &v);
    case 1: return rd_fixed(r, 8, &v);
    case 2: return rd_bytes(r, &b, &n);
    case 5: return rd_fixed(r, 4, &v);
    default: return -1; /* groups are not used by Kubernetes */
    }
}

/* A JSON string from bytes, replacing invalid UTF-8 with U+FFFD as Go does. */
static json_t *utf8_string(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n);
    if (j)
        return j;
    char *buf = vk_xmalloc(n * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok && len > 1) {
            /* Reject overlong forms, surrogates and values above U+10FFFF. */
            uint32_t cp = c & (0x7f >> len);
            for (size_t k = 1; k < len; k++)
                cp = (cp << 6) | (s[i + k] & 0x3f);
            ok = !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) &&
                 !(len == 4 && cp < 0x10000) && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (ok) {
            memcpy(buf + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    j = json_stringn(buf, o);
    free(buf);
    return j;
}

static json_t *base64_string(const uint8_t *s, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = (n + 2) / 3 * 4;
    char *o = vk_xmalloc(olen + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n)
            v |= s[i + 2];
        o[k++] = tbl[(v >> 18) & 63];
        o[k++] = tbl[(v >> 12) & 63];
        o[k++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        o[k++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    json_t *j = json_stringn(o, k);
    free(o);
    return j;
}

/* Formats seconds (+ micros when micro >= 0) as Go's RFC3339 in UTC. */
static json_t *rfc3339(dec_t *d, int64_t secs, long micro)
{
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
        fail(d, VK_EBADREQUEST, "protobuf: time %" PRId64 " outside of year range [0,9999]", secs);
        return NULL;
    }
    char buf[48];
    if (micro >= 0)
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro);
    else
        snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return json_string(buf);
}

/* Go's time.Duration.String(). */
static json_t *go_duration(int64_t ns)
{
    char buf[40];
    char *w = buf + sizeof buf;
    *--w = 0;
    uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    if (u == 0)
        return json_string("0s");
    if (u < 1000000000ULL) {
        /* Sub-second: ns, µs or ms with a fraction. */
        int prec;
        const char *unit;
        if (u < 1000ULL) {
            prec = 0;
            unit = "ns";
        } else if (u < 1000000ULL) {
            prec = 3;
            unit = "\xc2\xb5s";
        } else {
            prec = 6;
            unit = "ms";
        }
        w -= strlen(unit);
        memcpy(w, unit, strlen(unit));
        int printed = 0;
        for (int i = 0; i < prec; i++) {
            unsigned digit = (unsigned)(u % 10);
            printed = printed || digit != 0;
            if (printed)
                *--w = (char)('0' + digit);
            u /= 10;
        }
        if (printed)
            *--w = '.';
        do {
            *--w = (char)('0' + u % 10);
            u /= 10;
        } while (u);
    } else {
        *--w = 's';
        int printed = 0;
        for (int i = 0; i < 9; i++) {
            unsigned digit = (unsigned)(u % 10);
            printed = printed || digit != 0;
            if (printed)
                *--w = (char)('0' + digit);
            u /= 10;
        }
        if (printed)
            *--w = '.';
        /* u is now whole seconds. */
        uint64_t secs = u % 60;
        u /= 60;
        do {
            *--w = (char)('0' + secs % 10);
            secs /= 10;
        } while (secs);
        if (u > 0) {
            *--w = 'm';
            uint64_t mins = u % 60;
            u /= 60;
            do {
                *--w = (char)('0' + mins % 10);
                mins /= 10;
            } while (mins);
            if (u > 0) {
                *--w = 'h';
                do {
                    *--w = (char)('0' + u % 10);
                    u /= 10;
                } while (u);
            }
        }
    }
    if (ns < 0)
        *--w = '-';
    return json_string(w);
}

static json_t *decode_msg(dec_t *d, const vk_schema_msg_t *m, const uint8_t *b, size_t n,
                          int depth);

/* Parses a small message made only of scalars into up to 4 numbered slots. */
typedef struct {
    uint64_t v[5];
    const uint8_t *b[5];
    size_t n[5];
    int seen[5];
} small_t;

static int parse_small(dec_t *d, const vk_schema_msg_t *m, const uint8_t *b, size_t n, small_t *s)
{
    memset(s, 0, sizeof *s);
    rd_t r = {b, b + n};
    while (r.p < r.end) {
        uint64_t key;
        if (rd_varint(&r, &key))
            return fail(d, VK_EBADREQUEST, "protobuf: truncated %s", m->name);
        uint64_t num = key >> 3;
        unsigned wt = key & 7;
        if (num >= 1 && num <= 4 && wt == 0) {
            if (rd_varint(&r, &s->v[num]))
                return fail(d, VK_EBADREQUEST, "protobuf: truncated %s", m->name);
            s->seen[num] = 1;
        } else if (num >= 1 && num <= 4 && wt == 2) {
            if (rd_bytes(&r, &s->b[num], &s->n[num]))
                return fail(d, VK_EBADREQUEST, "protobuf: truncated %s", m->name);
            s->seen[num] = 1;
        } else if (rd_skip(&r, wt)) {
            return fail(d, VK_EBADREQUEST, "protobuf: malformed %s", m->name);
        }
    }
    return 0;
}

static json_t *embedded_json(dec_t *d, const vk_schema_msg_t *m, const small_t *s)
{
    if (!s->seen[1])
        return json_null();
    json_error_t je;
    json_t *j = json_loadb((const char *)s->b[1], s->n[1], JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        fail(d, VK_EBADREQUEST, "protobuf: %s holds invalid JSON: %s", m->name, je.text);
    /* Charge the budget roughly by size: embedded JSON is bounded by the input. */
    return j;
}

/* Messages whose JSON is not an object of their fields. */
static json_t *decode_special(dec_t *d, const vk_schema_msg_t *m, const uint8_t *b, size_t n,
                              int depth)
{
    small_t s;
    switch (m->special) {
    case VK_SM_TIME:
    case VK_SM_MICROTIME: {
        if (n == 0)
            return json_null();
        if (parse_small(d, m, b, n, &s))
            return NULL;
        int64_t secs = (int64_t)s.v[1];
        int64_t nanos = m->special == VK_SM_MICROTIME ? (int32_t)s.v[2] : 0;
        secs += nanos / 1000000000;
        nanos %= 1000000000;
        if (nanos < 0) {
            nanos += 1000000000;
            secs--;
        }
        if (secs == GO_ZERO_TIME_SECONDS && nanos == 0)
            return json_null();
        return rfc3339(d, secs, m->special == VK_SM_MICROTIME ? (long)(nanos / 1000) : -1);
    }
    case VK_SM_DURATION:
        if (parse_small(d, m, b, n, &s))
            return NULL;
        return go_duration((int64_t)s.v[1]);
    case VK_SM_QUANTITY:
        if (parse_small(d, m, b, n, &s))
            return NULL;
        if (!s.seen[1])
            return json_string("0");
        {
            /* As Quantity.Unmarshal: parsed, so the JSON holds the canonical form. */
            char *c;
            const char *why = "";
            if (vk_quantity_canonical((const char *)s.b[1], s.n[1], &c, &why) != 0) {
                if (!d->rc)
                    d->quantity_why = why;
                fail(d, VK_EBADREQUEST, "protobuf: %s: %s", m->name, why);
                return NULL;
            }
            json_t *q = json_string(c);
            free(c);
            return q;
        }
    case VK_SM_INTORSTRING:
        if (parse_small(d, m, b, n, &s))
            return NULL;
        if (s.v[1] == 1)
            return s.seen[3] ? utf8_string(s.b[3], s.n[3]) : json_string("");
        return json_integer((int32_t)s.v[2]);
    case VK_SM_RAWEXT:
    case VK_SM_RAWJSON:
        if (parse_small(d, m, b, n, &s))
            return NULL;
        return embedded_json(d, m, &s);
    case VK_SM_WRAPLIST:
    case VK_SM_SCHEMA_OR_BOOL:
    case VK_SM_SCHEMA_OR_ARRAY:
    case VK_SM_SCHEMA_OR_STRINGS: {
        /* Decode as a plain message, then pick the Go MarshalJSON form. */
        vk_schema_msg_t plain = *m;
        plain.special = VK_SM_NONE;
        json_t *o = decode_msg(d, &plain, b, n, depth);
        if (!o)
            return NULL;
        const vk_schema_field_t *f1 = m->nfields > 0 ? vk_schema_msg_field(m, 0) : NULL;
        const vk_schema_field_t *f2 = m->nfields > 1 ? vk_schema_msg_field(m, 1) : NULL;
        json_t *res = NULL;
        if (m->special == VK_SM_WRAPLIST) {
            /* Present on the wire: a non-nil (possibly empty) Go slice. */
            res = f1 ? json_object_get(o, f1->json) : NULL;
            res = res && json_is_array(res) ? json_incref(res) : json_array();
        } else if (m->special == VK_SM_SCHEMA_OR_BOOL) {
            /* allows = 1, schema = 2 */
            json_t *sch = f2 ? json_object_get(o, f2->json) : NULL;
            json_t *al = f1 ? json_object_get(o, f1->json) : NULL;
            res = sch && !json_is_null(sch) ? json_incref(sch)
                                            : json_boolean(al && json_is_true(al));
        } else {
            /* schema = 1, jsonSchemas / property = 2 */
            json_t *arr = f2 ? json_object_get(o, f2->json) : NULL;
            json_t *sch = f1 ? json_object_get(o, f1->json) : NULL;
            if (arr && json_is_array(arr) && json_array_size(arr) > 0)
                res = json_incref(arr);
            else if (sch)
                res = json_incref(sch);
            else
                res = json_null();
        }
        json_decref(o);
        return res;
    }
    default:
        fail(d, VK_EINTERNAL, "protobuf: unknown special type of %s", m->name);
        return NULL;
    }
}

/* The JSON of a scalar or message value of field f read with wire type wt. */
static json_t *read_value(dec_t *d, const vk_schema_msg_t *m, const vk_schema_field_t *f,
                          uint8_t type, uint32_t msgidx, rd_t *r, unsigned wt, int depth)
{
    uint64_t v;
    const uint8_t *b;
    size_t n;
    switch (type) {
    case VK_SF_INT32:
    case VK_SF_INT64:
    case VK_SF_UINT32:
    case VK_SF_UINT64:
    case VK_SF_BOOL:
        if (wt != 0 || rd_varint(r, &v))
            break;
        if (type == VK_SF_INT32)
            return json_integer((int32_t)(uint32_t)v);
        if (type == VK_SF_INT64)
            return json_integer((json_int_t)(int64_t)v);
        if (type == VK_SF_UINT32)
            return json_integer((uint32_t)v);
        if (type == VK_SF_UINT64) {
            if (v > (uint64_t)INT64_MAX) {
                fail(d, VK_EBADREQUEST, "protobuf: %s.%s: uint64 out of range", m->name, f->json);
                return NULL;
            }
            return json_integer((json_int_t)v);
        }
        return json_boolean(v != 0);
    case VK_SF_DOUBLE:
    case VK_SF_FLOAT: {
        double x;
        if (type == VK_SF_DOUBLE) {
            if (wt != 1 || rd_fixed(r, 8, &v))
                break;
            memcpy(&x, &v, sizeof x);
        } else {
            float fl;
            uint32_t u32;
            if (wt != 5 || rd_fixed(r, 4, &v))
                break;
            u32 = (uint32_t)v;
            memcpy(&fl, &u32, sizeof fl);
            x = fl;
        }
        if (!isfinite(x)) {
            fail(d, VK_EBADREQUEST, "protobuf: %s.%s: unsupported value %g", m->name, f->json, x);
            return NULL;
        }
        if (x == floor(x) && fabs(x) < 9007199254740992.0)
            return json_integer((json_int_t)x); /* Go prints 2.0 as 2 */
        return json_real(x);
    }
    case VK_SF_STRING:
    case VK_SF_BYTES:
        if (wt != 2 || rd_bytes(r, &b, &n))
            break;
        return type == VK_SF_STRING ? utf8_string(b, n) : base64_string(b, n);
    case VK_SF_MESSAGE:
        if (wt != 2 || rd_bytes(r, &b, &n))
            break;
        return decode_msg(d, vk_schema_msg(msgidx), b, n, depth + 1);
    }
    fail(d, VK_EBADREQUEST, "protobuf: %s.%s (field %u): bad wire type %u or truncated value",
         m->name, f->json, f->number, wt);
    return NULL;
}

/* Reads one element of a repeated field f and appends it to arr. 0, or -1
 * (error recorded in d). */
static int append_value(dec_t *d, const vk_schema_msg_t *m, const vk_schema_field_t *f, rd_t *r,
                        unsigned wt, int depth, json_t *arr)
{
    json_t *v = read_value(d, m, f, f->type, f->msg, r, wt, depth);
    if (!v || spend(d)) {
        json_decref(v);
        return -1;
    }
    json_array_append_new(arr, v);
    return 0;
}

/* The zero value of a type, as a map value that was absent on the wire. */
static json_t *zero_value(dec_t *d, uint8_t type, uint32_t msgidx, int depth)
{
    switch (type) {
    case VK_SF_STRING: return json_string("");
    case VK_SF_BYTES: return json_null();
    case VK_SF_BOOL: return json_false();
    case VK_SF_MESSAGE: return decode_msg(d, vk_schema_msg(msgidx), NULL, 0, depth + 1);
    default: return json_integer(0);
    }
}

/* A map<k, v> entry message into obj. */
static int read_map_entry(dec_t *d, const vk_schema_msg_t *m, const vk_schema_field_t *f,
                          const uint8_t *b, size_t n, json_t *obj, int depth)
{
    rd_t r = {b, b + n};
    json_t *val = NULL;
    const uint8_t *kb = (const uint8_t *)"";
    size_t kn = 0;
    while (r.p < r.end) {
        uint64_t key;
        if (rd_varint(&r, &key))
            goto bad;
        unsigned wt = key & 7;
        if ((key >> 3) == 1) {
            if (f->key_type != VK_SF_STRING || wt != 2 || rd_bytes(&r, &kb, &kn))
                goto bad;
        } else if ((key >> 3) == 2) {
            json_decref(val);
            val = read_value(d, m, f, f->type, f->msg, &r, wt, depth);
            if (!val)
                return d->rc ? d->rc : fail(d, VK_EBADREQUEST, "protobuf: bad map value");
        } else if (rd_skip(&r, wt)) {
            goto bad;
        }
    }
    if (!val && !(val = zero_value(d, f->type, f->msg, depth)))
        return d->rc ? d->rc : fail(d, VK_EBADREQUEST, "protobuf: bad map value");
    json_t *k = utf8_string(kb, kn);
    if (!k || spend(d)) {
        json_decref(k);
        json_decref(val);
        return d->rc ? d->rc : fail(d, VK_EBADREQUEST, "protobuf: bad map key");
    }
    json_object_setn_new(obj, json_string_value(k), json_string_length(k), val);
    json_decref(k);
    return 0;
bad:
    json_decref(val);
    return fail(d, VK_EBADREQUEST, "protobuf: %s.%s: malformed map entry", m->name, f->json);
}

static int is_zero_scalar(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_length(v) == 0;
    case JSON_INTEGER: return json_integer_value(v) == 0;
    case JSON_REAL: return json_real_value(v) == 0;
    case JSON_FALSE: return 1;
    case JSON_NULL: return 1;
    case JSON_ARRAY: return json_array_size(v) == 0;
    case JSON_OBJECT: return json_object_size(v) == 0;
    default: return 0;
    }
}

/* Adds field f's value (vals slot, NULL when absent) to obj as Go's encoding/json would. */
static int emit_field(dec_t *d, const vk_schema_field_t *f, json_t *val, json_t *obj, int depth)
{
    int omit = (f->flags & VK_SF_OMITEMPTY) != 0;
    const vk_schema_msg_t *fm = f->type == VK_SF_MESSAGE ? vk_schema_msg(f->msg) : NULL;
    if (f->flags & VK_SF_INLINE) {
        if (!val) {
            if (f->flags & VK_SF_POINTER)
                return 0;
            val = zero_value(d, f->type, f->msg, depth);
            if (!val)
                return d->rc;
        }
        if (json_is_object(val))
            json_object_update(obj, val);
        json_decref(val);
        return 0;
    }
    if (f->flags & (VK_SF_REPEATED | VK_SF_MAP)) {
        if (!val) {
            if (omit)
                return 0;
            val = json_null();
        }
    } else if (f->flags & VK_SF_POINTER) {
        if (!val) {
            if (omit)
                return 0;
            val = json_null();
        }
    } else if (f->type == VK_SF_BYTES) {
        if (!val) {
            if (omit)
                return 0;
            val = json_null();
        } else if (omit && json_string_length(val) == 0) {
            json_decref(val);
            return 0;
        }
    } else if (fm && fm->special == VK_SM_WRAPLIST) {
        /* A Go slice type. */
        if (!val)
            val = json_null();
        if (omit && is_zero_scalar(val)) {
            json_decref(val);
            return 0;
        }
    } else if (fm) {
        /* A Go struct value: never omitted, zero value when absent. */
        if (!val && !(val = zero_value(d, f->type, f->msg, depth)))
            return d->rc;
    } else {
        if (!val && !(val = zero_value(d, f->type, f->msg, depth)))
            return d->rc;
        if (omit && is_zero_scalar(val)) {
            json_decref(val);
            return 0;
        }
    }
    if (spend(d)) {
        json_decref(val);
        return d->rc;
    }
    json_object_set_new(obj, f->json, val);
    return 0;
}

static json_t *decode_msg(dec_t *d, const vk_schema_msg_t *m, const uint8_t *b, size_t n,
                          int depth)
{
    if (!m) {
        fail(d, VK_EINTERNAL, "protobuf: missing schema");
        return NULL;
    }
    if (depth > VK_PB_MAX_DEPTH) {
        fail(d, VK_EBADREQUEST, "protobuf: nesting deeper than %d", VK_PB_MAX_DEPTH);
        return NULL;
    }
    if (m->special != VK_SM_NONE)
        return decode_special(d, m, b, n, depth);
    json_t *small[32];
    json_t **vals = m->nfields <= 32 ? small : vk_xcalloc(m->nfields, sizeof *vals);
    memset(vals, 0, sizeof *vals * (m->nfields <= 32 ? 32 : m->nfields));
    json_t *obj = NULL;
    size_t hint = 0;
    rd_t r = {b, b + n};
    while (r.p < r.end) {
        uint64_t key;
        if (rd_varint(&r, &key)) {
            fail(d, VK_EBADREQUEST, "protobuf: %s: truncated field key", m->name);
            goto out;
        }
        uint64_t num = key >> 3;
        unsigned wt = key & 7;
        /* Fields arrive in number order, which is nearly always table order:
         * search from the last match first. */
        size_t i = m->nfields;
        for (size_t k = 0; k < m->nfields; k++) {
            size_t j = (hint + k) % m->nfields;
            if (vk_schema_msg_field(m, j)->number == num) {
                i = j;
                break;
            }
        }
        if (i < m->nfields)
            hint = i;
        if (i == m->nfields || num == 0) {
            if (num == 0 || rd_skip(&r, wt)) {
                fail(d, VK_EBADREQUEST, "protobuf: %s: malformed field %" PRIu64, m->name, num);
                goto out;
            }
            continue;
        }
        const vk_schema_field_t *f = vk_schema_msg_field(m, i);
        if (f->flags & VK_SF_MAP) {
            const uint8_t *eb;
            size_t en;
            if (wt != 2 || rd_bytes(&r, &eb, &en)) {
                fail(d, VK_EBADREQUEST, "protobuf: %s.%s: malformed map", m->name, f->json);
                goto out;
            }
            if (!vals[i])
                vals[i] = json_object();
            if (read_map_entry(d, m, f, eb, en, vals[i], depth))
                goto out;
        } else if (f->flags & VK_SF_REPEATED) {
            if (!vals[i])
                vals[i] = json_array();
            int numeric = f->type != VK_SF_STRING && f->type != VK_SF_BYTES &&
                          f->type != VK_SF_MESSAGE;
            if (numeric && wt == 2) {
                /* Packed encoding. */
                const uint8_t *pb;
                size_t pn;
                if (rd_bytes(&r, &pb, &pn)) {
                    fail(d, VK_EBADREQUEST, "protobuf: %s.%s: truncated", m->name, f->json);
                    goto out;
                }
                unsigned ewt = f->type == VK_SF_DOUBLE ? 1 : f->type == VK_SF_FLOAT ? 5 : 0;
                rd_t pr = {pb, pb + pn};
                while (pr.p < pr.end)
                    if (append_value(d, m, f, &pr, ewt, depth, vals[i]))
                        goto out;
            } else if (append_value(d, m, f, &r, wt, depth, vals[i])) {
                goto out;
            }
        } else {
            json_t *v = read_value(d, m, f, f->type, f->msg, &r, wt, depth);
            if (!v)
                goto out;
            json_decref(vals[i]);
            vals[i] = v;
        }
    }
    obj = json_object();
    for (size_t i = 0; i < m->nfields; i++) {
        json_t *v = vals[i];
        vals[i] = NULL;
        if (emit_field(d, vk_schema_msg_field(m, i), v, obj, depth) || d->rc) {
            json_decref(obj);
            obj = NULL;
            goto out;
        }
    }
out:
    for (size_t i = 0; i < m->nfields; i++)
        json_decref(vals[i]);
    if (vals != small)
        free(vals);
    if (!obj && !d->rc)
        fail(d, VK_EBADREQUEST, "protobuf: cannot decode %s", m->name);
    return obj;
}

static void init_dec(dec_t *d, size_t len, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->err = err;
    d->errlen = err ? errlen : 0;
    if (d->errlen)
        err[0] = 0;
    /* Every value on the wire takes at least 2 bytes; zero-length messages
     * expand to their Go zero values: bound the output members and elements. */
    d->budget = 4096 + len;
}

int vk_pb_decode_message(const vk_schema_msg_t *msg, const void *buf, size_t len, json_t **out,
                         char *err, size_t errlen)
{
    dec_t d;
    init_dec(&d, len, err, errlen);
    *out = decode_msg(&d, msg, buf, len, 0);
    if (!*out)
        return d.rc ? d.rc : VK_EBADREQUEST;
    if (d.rc) {
        json_decref(*out);
        *out = NULL;
        return d.rc;
    }
    return 0;
}

int vk_pb_decode(const void *body, size_t len, json_t **out, char *err, size_t errlen)
{
    dec_t d;
    init_dec(&d, len, err, errlen);
    *out = NULL;
    const uint8_t *p = body;
    if (len < 4 || memcmp(p, VK_PB_MAGIC, 4) != 0)
        return fail(&d, VK_EBADREQUEST, "protobuf: body does not start with the k8s magic");
    /* runtime.Unknown: typeMeta = 1 {apiVersion = 1, kind = 2}, raw = 2,
     * contentEncoding = 3, contentType = 4. */
    rd_t r = {p + 4, p + len};
    const uint8_t *tm = NULL, *raw = (const uint8_t *)"", *ce = NULL;
    size_t tmn = 0, rawn = 0, cen = 0;
    while (r.p < r.end) {
        uint64_t key;
        const uint8_t *b;
        size_t n;
        if (rd_varint(&r, &key))
            return fail(&d, VK_EBADREQUEST, "protobuf: malformed envelope");
        unsigned wt = key & 7;
        if (wt == 2 && (key >> 3) >= 1 && (key >> 3) <= 4) {
            if (rd_bytes(&r, &b, &n))
                return fail(&d, VK_EBADREQUEST, "protobuf: truncated envelope");
            switch (key >> 3) {
            case 1: tm = b; tmn = n; break;
            case 2: raw = b; rawn = n; break;
            case 3: ce = b; cen = n; break;
            default: break;
            }
        } else if (rd_skip(&r, wt)) {
            return fail(&d, VK_EBADREQUEST, "protobuf: malformed envelope");
        }
    }
    char apiversion[256] = "", kind[256] = "";
    rd_t tr = {tm, tm + tmn};
    while (tm && tr.p < tr.end) {
        uint64_t key;
        const uint8_t *b;
        size_t n;
        if (rd_varint(&tr, &key))
            return fail(&d, VK_EBADREQUEST, "protobuf: malformed typeMeta");
        unsigned wt = key & 7;
        if (wt == 2 && ((key >> 3) == 1 || (key >> 3) == 2)) {
            if (rd_bytes(&tr, &b, &n) || n >= sizeof apiversion || memchr(b, 0, n))
                return fail(&d, VK_EBADREQUEST, "protobuf: malformed typeMeta");
            char *dst = (key >> 3) == 1 ? apiversion : kind;
            memcpy(dst, b, n);
            dst[n] = 0;
        } else if (rd_skip(&tr, wt)) {
            return fail(&d, VK_EBADREQUEST, "protobuf: malformed typeMeta");
        }
    }
    if (cen > 0)
        return fail(&d, VK_EUNSUPPORTEDMEDIA, "protobuf: content encoding %.*s not supported",
                    (int)(cen > 32 ? 32 : cen), (const char *)ce);
    if (!kind[0] || !apiversion[0])
        return fail(&d, VK_EBADREQUEST, "protobuf: envelope without apiVersion and kind");
    char group[256] = "";
    const char *version = apiversion;
    char *slash = strchr(apiversion, '/');
    if (slash) {
        memcpy(group, apiversion, (size_t)(slash - apiversion));
        group[slash - apiversion] = 0;
        version = slash + 1;
    }
    const vk_schema_msg_t *m = vk_schema_kind(group, version, kind);
    if (!m)
        return fail(&d, VK_EUNSUPPORTEDMEDIA,
                    "protobuf: no protobuf schema for %s, kind %s; send JSON", apiversion, kind);
    json_t *obj = decode_msg(&d, m, raw, rawn, 0);
    if (!obj || d.rc) {
        json_decref(obj);
        if (d.quantity_why && d.errlen) /* kube-apiserver's decoding error */
            snprintf(d.err, d.errlen, "%s in version \"%s\" cannot be handled as a %s: %s", kind,
                     version, kind, d.quantity_why);
        return d.rc ? d.rc : VK_EBADREQUEST;
    }
    if (!json_is_object(obj)) {
        json_decref(obj);
        return fail(&d, VK_EBADREQUEST, "protobuf: %s is not an object", kind);
    }
    json_t *res = json_object();
    json_object_set_new(res, "kind", json_string(kind));
    json_object_set_new(res, "apiVersion", json_string(apiversion));
    json_object_update(res, obj);
    json_decref(obj);
    *out = res;
    return 0;
}
