/* quantity: resource.Quantity canonicalisation (see quantity.h). The value is
 * kept as an exact decimal (digit string times a power of ten) so that every
 * input, however long, gives the result apimachinery's arbitrary-precision
 * path gives. */
#include "proxy/quantity.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/schema.h"

/* kube-apiserver's messages (resource.ErrFormatWrong, ErrSuffix). */
static const char ERR_FORMAT[] = "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
static const char ERR_SUFFIX[] = "unable to parse quantity's suffix";
static const char ERR_NUMERIC[] = "unable to parse numeric part of quantity";

enum { DECIMAL_SI, BINARY_SI, DECIMAL_EXPONENT };

/* The pieces of a quantity string, as apimachinery's parseQuantityString
 * splits it. num has its leading zeros stripped ("0" when none are left). */
typedef struct {
    int neg;
    int digits; /* the number part holds at least one digit */
    const char *num, *den, *suf;
    size_t nnum, nden, nsuf;
} parts_t;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int split(const char *s, size_t len, parts_t *p)
{
    size_t i = 0;
    memset(p, 0, sizeof *p);
    p->den = p->suf = "";
    if (i < len && (s[i] == '-' || s[i] == '+'))
        p->neg = s[i++] == '-';
    while (i < len && s[i] == '0')
        i++;
    p->digits = i > (size_t)(p->neg || (len && s[0] == '+'));
    if (i == len) { /* only zeros (or nothing) after the sign: the value is "0" */
        p->digits = 1;
        p->num = "0";
        p->nnum = 1;
        return 0;
    }
    size_t start = i;
    while (i < len && is_digit(s[i]))
        i++;
    p->num = s + start;
    p->nnum = i - start;
    p->digits |= p->nnum > 0;
    if (!p->nnum) {
        p->num = "0";
        p->nnum = 1;
    }
    if (i < len && s[i] == '.') {
        start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        p->den = s + start;
        p->nden = i - start;
        p->digits |= p->nden > 0;
    }
    p->suf = s + i;
    while (i < len && strchr("eEinumkKMGTP", s[i]))
        i++;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    while (i < len && is_digit(s[i]))
        i++;
    if (i != len)
        return -1;
    p->nsuf = (size_t)(s + len - p->suf);
    return 0;
}

static const struct {
    const char *suf;
    int base, exp, format;
} SUFFIXES[] = {
    {"", 10, 0, DECIMAL_SI},    {"n", 10, -9, DECIMAL_SI},  {"u", 10, -6, DECIMAL_SI},
    {"m", 10, -3, DECIMAL_SI},  {"k", 10, 3, DECIMAL_SI},   {"M", 10, 6, DECIMAL_SI},
    {"G", 10, 9, DECIMAL_SI},   {"T", 10, 12, DECIMAL_SI},  {"P", 10, 15, DECIMAL_SI},
    {"E", 10, 18, DECIMAL_SI},  {"Ki", 2, 10, BINARY_SI},   {"Mi", 2, 20, BINARY_SI},
    {"Gi", 2, 30, BINARY_SI},   {"Ti", 2, 40, BINARY_SI},   {"Pi", 2, 50, BINARY_SI},
    {"Ei", 2, 60, BINARY_SI},
};

/* Suffix -> base, exponent, format. "e<int64>" exponents wrap to 32 bits, as
 * apimachinery's int32 conversion does. */
static int interpret(const char *suf, size_t n, int *base, int64_t *exp, int *format)
{
    for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++) {
        if (strlen(SUFFIXES[i].suf) == n && !memcmp(SUFFIXES[i].suf, suf, n)) {
            *base = SUFFIXES[i].base;
            *exp = SUFFIXES[i].exp;
            *format = SUFFIXES[i].format;
            return 0;
        }
    }
    if (n < 2 || (suf[0] != 'e' && suf[0] != 'E'))
        return -1;
    size_t i = 1;
    int neg = 0;
    if (suf[i] == '+' || suf[i] == '-')
        neg = suf[i++] == '-';
    if (i == n)
        return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit(suf[i]))
            return -1;
        unsigned d = (unsigned)(suf[i] - '0');
        if (v > (lim - d) / 10)
            return -1; /* strconv.ParseInt range error */
        v = v * 10 + d;
    }
    uint32_t low = (uint32_t)(neg ? (0 - v) : v);
    *exp = (int32_t)low;
    *base = 10;
    *format = DECIMAL_EXPONENT;
    return 0;
}

/* ---- exact decimals: magnitude = digits * 10^exp -------------------------- */

typedef struct {
    char *d; /* ASCII digits, most significant first, no leading zeros ("0" for zero) */
    size_t n, cap;
    int64_t exp;
} dec_t;

static void dec_init(dec_t *x, const char *a, size_t na, const char *b, size_t nb, int64_t exp)
{
    x->cap = na + nb + 32;
    x->d = vk_xmalloc(x->cap);
    memcpy(x->d, a, na);
    memcpy(x->d + na, b, nb);
    x->n = na + nb;
    x->exp = exp;
    size_t z = 0;
    while (z + 1 < x->n && x->d[z] == '0')
        z++;
    memmove(x->d, x->d + z, x->n - z);
    x->n -= z;
    if (!x->n)
        x->d[x->n++] = '0';
}

static int dec_zero(const dec_t *x)
{
    return x->n == 1 && x->d[0] == '0';
}

static void dec_reserve(dec_t *x, size_t n)
{
    if (n > x->cap) {
        x->cap = n * 2;
        x->d = vk_xrealloc(x->d, x->cap);
    }
}

/* x *= m, m < 2^32. */
static void dec_mul(dec_t *x, uint32_t m)
{
    uint64_t carry = 0;
    for (size_t i = x->n; i-- > 0;) {
        uint64_t v = (uint64_t)(x->d[i] - '0') * m + carry;
        x->d[i] = (char)('0' + v % 10);
        carry = v / 10;
    }
    char pre[24];
    size_t np = 0;
    while (carry) {
        pre[np++] = (char)('0' + carry % 10);
        carry /= 10;
    }
    if (np) {
        dec_reserve(x, x->n + np);
        memmove(x->d + np, x->d, x->n);
        for (size_t i = 0; i < np; i++)
            x->d[i] = pre[np - 1 - i];
        x->n += np;
    }
    if (dec_zero(x) || x->d[0] == '0') { /* m == 0 */
        x->n = 1;
        x->d[0] = '0';
    }
}

static void dec_strip(dec_t *x)
{
    while (x->n > 1 && x->d[x->n - 1] == '0') {
        x->n--;
        x->exp++;
    }
    if (dec_zero(x))
        x->exp = 0;
}

/* Compares magnitudes (both stripped). */
static int dec_cmp(const dec_t *a, const dec_t *b)
{
    if (dec_zero(a) || dec_zero(b))
        return dec_zero(a) ? (dec_zero(b) ? 0 : -1) : 1;
    int64_t ia = (int64_t)a->n + a->exp, ib = (int64_t)b->n + b->exp; /* integer digits */
    if (ia != ib)
        return ia < ib ? -1 : 1;
    size_t n = a->n > b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        char ca = i < a->n ? a->d[i] : '0', cb = i < b->n ? b->d[i] : '0';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return 0;
}

static int dec_cmp_u64(const dec_t *a, uint64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%" PRIu64, v);
    dec_t b;
    dec_init(&b, buf, (size_t)n, "", 0, 0);
    dec_strip(&b);
    int c = dec_cmp(a, &b);
    free(b.d);
    return c;
}

/* Rounds a non-zero value up (away from zero) to a multiple of 10^min. */
static void dec_round_up(dec_t *x, int64_t min)
{
    if (dec_zero(x) || x->exp >= min)
        return;
    uint64_t drop = (uint64_t)(min - x->exp);
    if (drop >= x->n) {
        x->d[0] = '1';
        x->n = 1;
        x->exp = min;
        return;
    }
    int inexact = 0;
    for (size_t i = x->n - (size_t)drop; i < x->n; i++)
        inexact |= x->d[i] != '0';
    x->n -= (size_t)drop;
    x->exp = min;
    if (!inexact)
        return;
    size_t i = x->n;
    while (i > 0 && x->d[i - 1] == '9')
        x->d[--i] = '0';
    if (i > 0) {
        x->d[i - 1]++;
    } else {
        dec_reserve(x, x->n + 1);
        memmove(x->d + 1, x->d, x->n);
        x->d[0] = '1';
        x->n++;
    }
}

/* The magnitude as an integer when it is one below 2^64 (x stripped). */
static int dec_u64(const dec_t *x, uint64_t *out)
{
    if (x->exp < 0 || dec_cmp_u64(x, UINT64_MAX) > 0)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < x->n; i++)
        v = v * 10 + (uint64_t)(x->d[i] - '0');
    for (int64_t i = 0; i < x->exp; i++)
        v *= 10;
    *out = v;
    return 1;
}

static char *render_decimal(int neg, dec_t *x, int format)
{
    dec_strip(x);
    int64_t e3 = x->exp - (((x->exp % 3) + 3) % 3);
    size_t pad = (size_t)(x->exp - e3);
    const char *suf = "";
    char ebuf[24];
    if (format == DECIMAL_EXPONENT) {
        if (e3) {
            snprintf(ebuf, sizeof ebuf, "e%" PRId32, (int32_t)e3);
            suf = ebuf;
        }
    } else {
        /* No SI prefix beyond E: apimachinery then writes the bare digits. */
        for (size_t i = 0; i < sizeof SUFFIXES / sizeof SUFFIXES[0]; i++)
            if (SUFFIXES[i].base == 10 && SUFFIXES[i].exp == e3)
                suf = SUFFIXES[i].suf;
    }
    size_t len = (size_t)neg + x->n + pad + strlen(suf);
    char *out = vk_xmalloc(len + 1), *p = out;
    if (neg)
        *p++ = '-';
    memcpy(p, x->d, x->n);
    p += x->n;
    memset(p, '0', pad);
    p += pad;
    strcpy(p, suf);
    return out;
}

/* The canonical form (a new string), or NULL when the number has no digits
 * where apimachinery needs some. */
static char *canonical(const char *s, size_t len, const parts_t *p, int base, int64_t exp,
                       int format, int milli)
{
    static const uint64_t MAX_ALLOWED = INT64_MAX; /* binary values are capped here */
    int fast = 0;
    int64_t scale = 0;
    if (format == BINARY_SI) {
        int64_t precision = p->nden ? -1 : 15 - (int64_t)p->nnum - exp * 3 / 10 - 1;
        fast = precision >= 0;
        if (fast) {
            uint64_t value = strtoull(p->num, NULL, 10); /* at most 14 digits */
            if (value & 7)
                return vk_xstrndup(s, len); /* kept as written */
        }
    } else {
        scale = exp - (int64_t)p->nden;
        fast = 18 - (int64_t)(p->nnum + p->nden) >= 0 && scale >= -9;
        /* RoundUp(-3) forgets the string of a finer value. */
        if (fast && scale % 3 == 0 && (!milli || scale >= -3)) {
            /* shifted = num + den: kept as written unless it starts with 0 or ends with 000 */
            char first = p->nnum ? p->num[0] : p->den[0];
            size_t tot = p->nnum + p->nden;
            int ends000 = tot >= 3;
            for (size_t k = tot >= 3 ? tot - 3 : 0; ends000 && k < tot; k++) {
                char c = k < p->nnum ? p->num[k] : p->den[k - p->nnum];
                ends000 = c == '0';
            }
            if (first != '0' && !ends000)
                return vk_xstrndup(s, len);
        }
    }
    if (!fast && !p->digits)
        return NULL; /* the arbitrary-precision parse finds no digits */
    dec_t x;
    dec_init(&x, p->num, p->nnum, p->den ? p->den : "", p->nden, -(int64_t)p->nden);
    if (base == 10) {
        x.exp += exp;
    } else {
        for (int64_t e = exp; e > 0; e -= 30)
            dec_mul(&x, (uint32_t)1 << (e > 30 ? 30 : e));
    }
    if (!fast) {
        dec_round_up(&x, -9);
        dec_strip(&x);
        if (format == BINARY_SI && dec_cmp_u64(&x, MAX_ALLOWED) > 0) {
            free(x.d);
            char buf[24];
            int n = snprintf(buf, sizeof buf, "%" PRIu64, MAX_ALLOWED);
            dec_init(&x, buf, (size_t)n, "", 0, 0);
        }
        if (format == BINARY_SI && !dec_zero(&x) && dec_cmp_u64(&x, 1) < 0)
            format = DECIMAL_SI;
    }
    if (milli)
        dec_round_up(&x, -3);
    dec_strip(&x);
    char *out;
    uint64_t v;
    if (dec_zero(&x)) {
        out = vk_xstrdup("0");
    } else if (format == BINARY_SI && dec_cmp_u64(&x, 1024) >= 0 && dec_u64(&x, &v)) {
        static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        int times = 0;
        while (v >= 1024 && v % 1024 == 0 && times < 6) {
            v /= 1024;
            times++;
        }
        out = vk_xasprintf("%s%" PRIu64 "%s", p->neg ? "-" : "", v, bin[times]);
    } else {
        out = render_decimal(p->neg, &x, format == BINARY_SI ? DECIMAL_SI : format);
    }
    free(x.d);
    return out;
}

/* The canonical form; with milli, then rounded up to a multiple of 1m as
 * core/v1 SetDefaults_ResourceList does (Quantity.RoundUp(-3)). */
static int canon(const char *s, size_t len, int milli, char **out, const char **why)
{
    *out = NULL;
    parts_t p;
    int base, format;
    int64_t exp;
    if (len == 1 && s[0] == '0') {
        *out = vk_xstrdup("0");
        return 0;
    }
    if (!len || split(s, len, &p) != 0) {
        if (why)
            *why = ERR_FORMAT;
        return VK_EBADREQUEST;
    }
    if (interpret(p.suf, p.nsuf, &base, &exp, &format) != 0) {
        if (why)
            *why = ERR_SUFFIX;
        return VK_EBADREQUEST;
    }
    *out = canonical(s, len, &p, base, exp, format, milli);
    if (!*out) {
        if (why)
            *why = ERR_NUMERIC;
        return VK_EBADREQUEST;
    }
    return 0;
}

int vk_quantity_canonical(const char *s, size_t len, char **out, const char **why)
{
    return canon(s, len, 0, out, why);
}

/* The shortest decimal text that reads back as d (what a JSON encoder that
 * round-trips doubles writes). */
static void real_text(double d, char *buf, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

static int canon_json(const json_t *v, int milli, char **out, const char **why)
{
    char buf[40];
    if (json_is_null(v)) {
        *out = vk_xstrdup("0");
        return 0;
    }
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return canon(buf, strlen(buf), milli, out, why);
    }
    if (json_is_real(v)) {
        real_text(json_real_value(v), buf, sizeof buf);
        return canon(buf, strlen(buf), milli, out, why);
    }
    if (!json_is_string(v)) {
        *out = NULL;
        if (why)
            *why = ERR_FORMAT;
        return VK_EBADREQUEST;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return canon(s, len, milli, out, why);
}

int vk_quantity_canonical_json(const json_t *v, char **out, const char **why)
{
    return canon_json(v, 0, out, why);
}

/* ---- walking objects by schema ------------------------------------------ */

/* The canonical replacement of v, or NULL when v is invalid or already canonical. */
static json_t *canon_leaf(const json_t *v, int milli, const char **why)
{
    char *c;
    const char *w = NULL;
    if (canon_json(v, milli, &c, &w) != 0) {
        if (!*why)
            *why = w;
        return NULL;
    }
    json_t *r = NULL;
    if (!json_is_string(v) || strcmp(json_string_value(v), c) != 0)
        r = json_string(c);
    free(c);
    return r;
}

static void walk_msg(const vk_schema_msg_t *m, json_t *obj, int depth, const char **why);

/* One value of a field of message type mm (a list element, a map value or the
 * field itself); *slot receives a replacement for quantities. */
static json_t *walk_value(const vk_schema_msg_t *mm, json_t *v, int milli, int depth,
                          const char **why)
{
    if (mm->special == VK_SM_QUANTITY)
        return json_is_null(v) ? NULL : canon_leaf(v, milli, why);
    if (mm->special == VK_SM_NONE && json_is_object(v))
        walk_msg(mm, v, depth + 1, why);
    return NULL;
}

static void walk_msg(const vk_schema_msg_t *m, json_t *obj, int depth, const char **why)
{
    if (!m->has_quantity || depth > 64)
        return;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        const vk_schema_field_t *f = vk_schema_field_by_json(m, key);
        if (!f || f->type != VK_SF_MESSAGE)
            continue;
        const vk_schema_msg_t *mm = vk_schema_msg(f->msg);
        if (!mm || (mm->special != VK_SM_QUANTITY && !mm->has_quantity))
            continue;
        json_t *r;
        int milli = (f->flags & VK_SF_RESOURCELIST) != 0;
        if (f->flags & VK_SF_MAP) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
            {
                /* A null quantity in a map decodes as the zero quantity. */
                if (mm->special == VK_SM_QUANTITY && json_is_null(v2))
                    r = json_string("0");
                else
                    r = walk_value(mm, v2, milli, depth, why);
                if (r)
                    json_object_set_new(v, k2, r);
            }
        } else if (f->flags & VK_SF_REPEATED) {
            size_t i;
            json_t *v2;
            json_array_foreach(v, i, v2)
            {
                if ((r = walk_value(mm, v2, milli, depth, why)))
                    json_array_set_new(v, i, r);
            }
        } else if ((r = walk_value(mm, v, milli, depth, why))) {
            json_object_set_new(obj, key, r);
        }
    }
}

int vk_quantity_canon_object(const char *group, const char *version, const char *kind,
                             json_t *obj, char **msg)
{
    const vk_schema_msg_t *m = vk_schema_kind(group, version, kind);
    const char *why = NULL;
    if (msg)
        *msg = NULL;
    if (m && json_is_object(obj))
        walk_msg(m, obj, 0, &why);
    if (!why)
        return 0;
    if (msg)
        *msg = vk_xasprintf("%s in version \"%s\" cannot be handled as a %s: %s", kind, version,
                            kind, why);
    return VK_EBADREQUEST;
}
