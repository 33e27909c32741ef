/* crdschema: structural schemas of CRDs — checks, pruning, defaulting and
 * validation of custom objects. See crdschema.h. */
#include "proxy/crdschema.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "proxy/schema.h"
#include "proxy/validate.h"

/* ---- small helpers --------------------------------------------------------- */

static json_t *mem(const json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *sget(const json_t *o, const char *k)
{
    json_t *v = mem(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int bget(const json_t *o, const char *k)
{
    return json_is_true(mem(o, k));
}


/* Go's %q of a string (ASCII printable kept, the rest escaped). */
static char *goq(const char *s)
{
    size_t n = strlen(s);
    char *o = vk_xmalloc(n * 4 + 3), *p = o;
    *p++ = '"';
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            *p++ = '\\';
            *p++ = (char)*q;
        } else if (*q == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (*q == '\t') {
            *p++ = '\\';
            *p++ = 't';
        } else if (*q < 0x20 || *q == 0x7f) {
            p += sprintf(p, "\\x%02x", *q);
        } else {
            *p++ = (char)*q;
        }
    }
    *p++ = '"';
    *p = 0;
    return o;
}

/* A float64 as kube-openapi's messages print it (checked against
 * kube-apiserver 1.36): the shortest representation, in exponent form when
 * the exponent is below -4 or at least 21: 10 -> "10", 1e6 -> "1000000",
 * 0.00001 -> "1e-05". */
static void gofloat(double d, char *buf, size_t n)
{
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    char *e = strchr(tmp, 'e');
    int exp = atoi(e + 1);
    if (exp < -4 || exp >= 21) {
        snprintf(buf, n, "%.*se%c%02d", (int)(e - tmp), tmp, exp < 0 ? '-' : '+', abs(exp));
    } else {
        snprintf(buf, n, "%.*f", prec - 1 - exp > 0 ? prec - 1 - exp : 0, d);
    }
}

/* A value as upstream's field error prints a bad value: strings quoted,
 * numbers and booleans plain, the rest as JSON. Caller frees. */
static char *render(const json_t *v)
{
    char b[64];
    if (!v || json_is_null(v))
        return vk_xstrdup("null");
    if (json_is_string(v))
        return goq(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        return vk_xstrdup(b);
    }
    if (json_is_real(v)) {
        gofloat(json_real_value(v), b, sizeof b);
        return vk_xstrdup(b);
    }
    if (json_is_boolean(v))
        return vk_xstrdup(json_is_true(v) ? "true" : "false");
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return s ? s : vk_xstrdup("null");
}

static double num(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* A schema limit (a float64 upstream) as kube-openapi prints it. */
static char *numtxt(const json_t *v)
{
    char b[64];
    gofloat(num(v), b, sizeof b);
    return vk_xstrdup(b);
}

/* Path builders. */
static char *child(const char *path, const char *key)
{
    return *path ? vk_xasprintf("%s.%s", path, key) : vk_xstrdup(key);
}

static char *elem(const char *path, size_t i)
{
    return vk_xasprintf("%s[%zu]", path, i);
}

/* The JSON type name of a value, as kube-openapi reports actual types. */
static const char *tname(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    default: return "null";
    }
}

static int is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return 1;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d == floor(d) && fabs(d) < 9.2e18;
    }
    return 0;
}

static int type_ok(const char *type, const json_t *v)
{
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return is_integral(v);
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    return 1;
}

static void e_type(json_t *c, const char *path, const json_t *v, const char *want)
{
    vk_validate_add_causef(c, "FieldValueTypeInvalid", path, "Invalid value: \"%s\": %s in body must be of type %s: \"%s\"",
          tname(v), path, want, tname(v));
}

static void e_invalid(json_t *c, const char *path, const json_t *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void e_invalid(json_t *c, const char *path, const json_t *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *d = NULL;
    if (vasprintf(&d, fmt, ap) < 0)
        abort();
    va_end(ap);
    char *r = render(v);
    vk_validate_add_causef(c, "FieldValueInvalid", path, "Invalid value: %s: %s", r, d);
    free(r);
    free(d);
}

/* ---- regular expressions ---------------------------------------------------- */

/* Translates the RE2 / ECMA constructs CRD authors use (\d \w \s and their
 * negations, \. and other escaped punctuation, (?:...), lazy quantifiers)
 * into POSIX ERE. Returns NULL for what POSIX cannot express (lookaround,
 * backreferences, \b, \p{...}, flags); caller frees. */
static char *translate_re(const char *re)
{
    size_t n = strlen(re);
    char *o = vk_xmalloc(n * 12 + 16), *p = o;
    int in_br = 0, br_dash = 0, br_start = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = re[i];
        if (in_br) {
            if (ch == '[' && re[i + 1] == ':') { /* [:alpha:] class: copy as is */
                const char *end = strstr(re + i + 2, ":]");
                if (!end) {
                    free(o);
                    return NULL;
                }
                size_t len = (size_t)(end + 2 - (re + i));
                memcpy(p, re + i, len);
                p += len;
                i += len - 1;
                continue;
            }
            if (ch == ']' && i > (size_t)br_start) {
                if (br_dash)
                    *p++ = '-';
                *p++ = ']';
                in_br = 0;
                continue;
            }
            if (ch == '\\' && i + 1 < n) {
                char e = re[++i];
                switch (e) {
                case 'd': p += sprintf(p, "0-9"); break;
                case 'w': p += sprintf(p, "A-Za-z0-9_"); break;
                case 's': p += sprintf(p, "[:space:]"); break;
                case '-': br_dash = 1; break;
                case 'n': *p++ = '\n'; break;
                case 't': *p++ = '\t'; break;
                case ']':
                case '[':
                case 'D':
                case 'W':
                case 'S':
                case 'p':
                case 'P':
                    free(o);
                    return NULL;
                default:
                    if (isalnum((unsigned char)e)) {
                        free(o);
                        return NULL;
                    }
                    *p++ = e;
                }
                continue;
            }
            *p++ = ch;
            continue;
        }
        if (ch == '[') {
            *p++ = '[';
            in_br = 1;
            br_dash = 0;
            if (re[i + 1] == '^') {
                *p++ = '^';
                i++;
            }
            br_start = (int)i + 1;
            if (re[i + 1] == ']') { /* a literal ] first */
                *p++ = ']';
                i++;
                br_start = (int)i + 1;
            }
            continue;
        }
        if (ch == '{' && isdigit((unsigned char)re[i + 1])) {
            /* RE2 (upstream's engine) refuses repetition counts over 1000. */
            char *e;
            long lo = strtol(re + i + 1, &e, 10), hi = lo;
            if (*e == ',' && isdigit((unsigned char)e[1]))
                hi = strtol(e + 1, &e, 10);
            if (lo > 1000 || hi > 1000) {
                free(o);
                return NULL;
            }
        }
        if (ch == '(' && re[i + 1] == '?') {
            if (re[i + 2] == ':') {
                *p++ = '(';
                i += 2;
                continue;
            }
            free(o);
            return NULL;
        }
        if ((ch == '?' || ch == '+') && i > 0 &&
            (re[i - 1] == '*' || re[i - 1] == '+' || re[i - 1] == '?' || re[i - 1] == '}') &&
            !(i > 1 && re[i - 2] == '\\')) {
            if (ch == '?')
                continue; /* lazy quantifier: the same language */
            free(o);
            return NULL;
        }
        if (ch == '\\' && i + 1 < n) {
            char e = re[++i];
            switch (e) {
            case 'd': p += sprintf(p, "[0-9]"); break;
            case 'D': p += sprintf(p, "[^0-9]"); break;
            case 'w': p += sprintf(p, "[A-Za-z0-9_]"); break;
            case 'W': p += sprintf(p, "[^A-Za-z0-9_]"); break;
            case 's': p += sprintf(p, "[[:space:]]"); break;
            case 'S': p += sprintf(p, "[^[:space:]]"); break;
            case 'n': *p++ = '\n'; break;
            case 't': *p++ = '\t'; break;
            default:
                if (isalnum((unsigned char)e)) { /* \b, \1, \p, \A, \z ... */
                    free(o);
                    return NULL;
                }
                *p++ = '\\';
                *p++ = e;
            }
            continue;
        }
        *p++ = ch;
    }
    if (in_br) {
        free(o);
        return NULL;
    }
    *p = 0;
    return o;
}

/* 1 match, 0 no match, -1 pattern not supported (see translate_re). */
static int pattern_match(const char *pattern, const char *s)
{
    char *t = translate_re(pattern);
    if (!t)
        return -1;
    regex_t rx;
    int rc = regcomp(&rx, t, REG_EXTENDED | REG_NOSUB);
    free(t);
    if (rc != 0)
        return -1;
    rc = regexec(&rx, s, 0, NULL, 0);
    regfree(&rx);
    return rc == 0;
}

/* ---- formats -------------------------------------------------------------- */

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int is_date(const char *s)
{
    return strlen(s) >= 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2) && atoi(s + 5) >= 1 && atoi(s + 5) <= 12 && atoi(s + 8) >= 1 &&
           atoi(s + 8) <= 31;
}

/* RFC 3339 date-time ('T' or 't', optional fraction, Z or an offset). */
static int is_datetime(const char *s)
{
    if (!is_date(s))
        return 0;
    s += 10;
    if (*s != 'T' && *s != 't')
        return 0;
    s++;
    if (!(digits(s, 2) && s[2] == ':' && digits(s + 3, 2) && s[5] == ':' && digits(s + 6, 2)))
        return 0;
    if (atoi(s) > 23 || atoi(s + 3) > 59 || atoi(s + 6) > 60)
        return 0;
    s += 8;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    if ((*s == 'Z' || *s == 'z') && !s[1])
        return 1;
    if ((*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) && !s[6])
        return 1;
    return 0;
}

static int is_base64(const char *s)
{
    size_t n = strlen(s), pad = 0;
    if (n % 4)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            pad++;
            continue;
        }
        if (pad || !(isalnum((unsigned char)ch) || ch == '+' || ch == '/'))
            return 0;
    }
    return pad <= 2;
}

static int is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int is_cidr(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || !slash[1] || !digits(slash + 1, (int)strlen(slash + 1)))
        return 0;
    char ip[64];
    if ((size_t)(slash - s) >= sizeof ip)
        return 0;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = 0;
    unsigned char b[16];
    int bits = atoi(slash + 1);
    if (inet_pton(AF_INET, ip, b) == 1)
        return bits <= 32;
    if (inet_pton(AF_INET6, ip, b) == 1)
        return bits <= 128;
    return 0;
}

/* String formats checked (others, as upstream for unknown ones, pass).
 * 1 valid, 0 invalid. */
static int string_format_ok(const char *fmt, const char *s)
{
    unsigned char b[16];
    if (!strcmp(fmt, "date-time") || !strcmp(fmt, "datetime"))
        return is_datetime(s);
    if (!strcmp(fmt, "date"))
        return is_date(s) && strlen(s) == 10;
    if (!strcmp(fmt, "byte"))
        return is_base64(s);
    if (!strcmp(fmt, "uuid"))
        return is_uuid(s);
    if (!strcmp(fmt, "ipv4"))
        return inet_pton(AF_INET, s, b) == 1;
    if (!strcmp(fmt, "ipv6"))
        return inet_pton(AF_INET6, s, b) == 1;
    if (!strcmp(fmt, "cidr"))
        return is_cidr(s);
    return 1;
}

/* ---- validation ------------------------------------------------------------ */

static size_t validate(const json_t *s, const json_t *v, const char *path, json_t *c);
static void validate_junctors(const json_t *s, const json_t *v, const char *path, json_t *c);

static void validate_labels_ann(const json_t *meta, const char *mpath, json_t *c)
{
    /* Reuse proxy/validate.c's label/annotation checks on a synthetic
     * object and rebase the field paths. */
    json_t *m = json_object();
    json_t *l = mem(meta, "labels"), *a = mem(meta, "annotations");
    if (!l && !a) {
        json_decref(m);
        return;
    }
    json_object_set_new(m, "name", json_string("x"));
    if (l)
        json_object_set(m, "labels", l);
    if (a)
        json_object_set(m, "annotations", a);
    json_t *obj = json_pack("{s:o}", "metadata", m);
    json_t *tmp = json_array();
    vk_validate_object("vkube.embedded", "Embedded", obj, NULL, tmp);
    size_t i;
    json_t *e;
    json_array_foreach(tmp, i, e)
    {
        const char *f = sget(e, "field");
        if (!f || strncmp(f, "metadata.", 9) != 0)
            continue;
        char *nf = vk_xasprintf("%s.%s", mpath, f + 9);
        vk_validate_add_cause(c, sget(e, "reason"), nf, sget(e, "message"));
        free(nf);
    }
    json_decref(tmp);
    json_decref(obj);
}

static int enum_has(const json_t *en, const json_t *v)
{
    size_t i;
    json_t *e;
    json_array_foreach(en, i, e)
    {
        if (json_equal(e, v))
            return 1;
        if (json_is_number(e) && json_is_number(v) && num(e) == num(v))
            return 1;
    }
    return 0;
}

static void validate_string(const json_t *s, const json_t *v, const char *path, json_t *c)
{
    const char *str = json_string_value(v);
    size_t runes = 0;
    for (const unsigned char *q = (const unsigned char *)str; *q; q++)
        if ((*q & 0xc0) != 0x80)
            runes++;
    json_t *mx = mem(s, "maxLength"), *mn = mem(s, "minLength");
    if (json_is_integer(mx) && (json_int_t)runes > json_integer_value(mx)) {
        json_int_t m = json_integer_value(mx);
        vk_validate_add_causef(c, "FieldValueTooLong", path, "Too long: may not be more than %lld byte%s",
              (long long)m, m == 1 ? "" : "s");
        return;
    }
    if (json_is_integer(mn) && (json_int_t)runes < json_integer_value(mn)) {
        e_invalid(c, path, v, "%s in body should be at least %lld chars long", path,
                  (long long)json_integer_value(mn));
        return;
    }
    const char *pat = sget(s, "pattern");
    if (pat) {
        int m = pattern_match(pat, str);
        if (m == 0)
            e_invalid(c, path, v, "%s in body should match '%s'", path, pat);
        else if (m < 0)
            e_invalid(c, path, v, "pattern '%s' is not supported by this API server", pat);
    }
}

static void validate_number(const json_t *s, const json_t *v, const char *path, json_t *c)
{
    double d = num(v);
    json_t *mx = mem(s, "maximum"), *mn = mem(s, "minimum"), *mo = mem(s, "multipleOf");
    if (json_is_number(mx)) {
        char *t = numtxt(mx);
        if (bget(s, "exclusiveMaximum") ? d >= num(mx) : d > num(mx))
            e_invalid(c, path, v, "%s in body should be less than %s%s", path,
                      bget(s, "exclusiveMaximum") ? "" : "or equal to ", t);
        free(t);
    }
    if (json_is_number(mn)) {
        char *t = numtxt(mn);
        if (bget(s, "exclusiveMinimum") ? d <= num(mn) : d < num(mn))
            e_invalid(c, path, v, "%s in body should be greater than %s%s", path,
                      bget(s, "exclusiveMinimum") ? "" : "or equal to ", t);
        free(t);
    }
    if (json_is_number(mo) && num(mo) > 0) {
        double q = d / num(mo);
        if (fabs(q - nearbyint(q)) > 1e-9) {
            char *t = numtxt(mo);
            e_invalid(c, path, v, "%s in body should be a multiple of %s", path, t);
            free(t);
        }
    }
}

/* anyOf / oneOf / allOf / not: value validations only (structural rules). */
static void validate_junctors(const json_t *s, const json_t *v, const char *path, json_t *c)
{
    size_t i;
    json_t *sub;
    json_array_foreach(mem(s, "allOf"), i, sub) validate(sub, v, path, c);
    json_t *any = mem(s, "anyOf");
    if (json_is_array(any) && json_array_size(any)) {
        json_t *first = NULL;
        int ok = 0;
        json_array_foreach(any, i, sub)
        {
            json_t *t = json_array();
            if (validate(sub, v, path, t) == 0)
                ok = 1;
            if (!first)
                first = t;
            else
                json_decref(t);
            if (ok)
                break;
        }
        if (!ok) {
            vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                  "Invalid value: \"\": \"%s\" must validate at least one schema (anyOf)", path);
            json_array_extend(c, first);
        }
        json_decref(first);
    }
    json_t *one = mem(s, "oneOf");
    if (json_is_array(one) && json_array_size(one)) {
        int n = 0;
        json_array_foreach(one, i, sub)
        {
            json_t *t = json_array();
            if (validate(sub, v, path, t) == 0)
                n++;
            json_decref(t);
        }
        if (n != 1)
            vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                  "Invalid value: \"\": \"%s\" must validate one and only one schema (oneOf)%s",
                  path, n ? ". Found 2 valid alternatives" : "");
    }
    json_t *not = mem(s, "not");
    if (json_is_object(not)) {
        json_t *t = json_array();
        if (validate(not, v, path, t) == 0)
            vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                  "Invalid value: \"\": \"%s\" must not validate the schema (not)", path);
        json_decref(t);
    }
}

/* The element of old_list that correlates with item for ratcheting:
 * the one with the same keys in a list-type map, an equal one in a set. */
static const json_t *correlate(const json_t *s, const json_t *old_list, const json_t *item)
{
    const char *lt = sget(s, "x-kubernetes-list-type");
    if (!lt || !json_is_array(old_list))
        return NULL;
    size_t i, k;
    json_t *o, *key;
    json_array_foreach(old_list, i, o)
    {
        if (!strcmp(lt, "set") && json_equal(o, (json_t *)item))
            return o;
        if (!strcmp(lt, "map") && json_is_object(o) && json_is_object(item)) {
            int same = 1;
            json_array_foreach(mem(s, "x-kubernetes-list-map-keys"), k, key)
            {
                const char *kn = json_string_value(key);
                json_t *a = kn ? json_object_get(o, kn) : NULL;
                json_t *b = kn ? json_object_get(item, kn) : NULL;
                if (!(a && b ? json_equal(a, b) : a == b))
                    same = 0;
            }
            if (same)
                return o;
        }
    }
    return NULL;
}

static size_t validate_r(const json_t *s, const json_t *v, const json_t *old, const char *path,
                         json_t *c);

static size_t validate(const json_t *s, const json_t *v, const char *path, json_t *c)
{
    return validate_r(s, v, NULL, path, c);
}

static size_t validate_r(const json_t *s, const json_t *v, const json_t *old, const char *path,
                         json_t *c)
{
    size_t before = json_array_size(c);
    if (!json_is_object(s))
        return 0;
    /* Ratcheting (upstream's CRDValidationRatcheting, on by default since
     * 1.30): an update may keep a value that the schema no longer accepts. */
    if (old && json_equal((json_t *)v, (json_t *)old))
        return 0;
    const char *type = sget(s, "type");
    int ios = bget(s, "x-kubernetes-int-or-string");
    if (json_is_null(v)) {
        if (bget(s, "nullable"))
            return 0;
        if (type && *type)
            e_type(c, path, v, type);
        else if (ios)
            e_type(c, path, v, "integer,string");
        return json_array_size(c) - before;
    }
    if (ios) {
        if (!is_integral(v) && !json_is_string(v)) {
            e_type(c, path, v, "integer,string");
            validate_junctors(s, v, path, c);
            return json_array_size(c) - before;
        }
    } else if (type && *type && !type_ok(type, v)) {
        const char *f = sget(s, "format");
        int intfmt = f && (!strcmp(f, "int32") || !strcmp(f, "int64"));
        if (!strcmp(type, "integer") && json_is_real(v)) {
            /* kube-openapi reports a fraction twice: as a type error and as
             * a failed format check (with no field). */
            if (intfmt)
                vk_validate_add_causef(c, "FieldValueTypeInvalid", path,
                      "Invalid value: \"float64\": %s in body must be of type %s: \"float64\"", path,
                      f);
            else
                e_type(c, path, v, type);
            if (intfmt)
                vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                      "Invalid value: \"\": Checked value must be of type integer with format %s in %s",
                      f, path);
            else
                vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                      "Invalid value: \"\": Checked value must be of type integer (default format) in %s",
                      path);
        } else {
            e_type(c, path, v, type);
        }
        validate_junctors(s, v, path, c);
        return json_array_size(c) - before;
    }
    const char *fmt = sget(s, "format");
    json_t *en = mem(s, "enum");
    if (json_is_array(en) && !enum_has(en, v)) {
        char *r = render(v);
        char *list = vk_xstrdup("");
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e)
        {
            char *q = render(e);
            char *nl = vk_xasprintf("%s%s%s", list, i ? ", " : "", q);
            free(q);
            free(list);
            list = nl;
        }
        vk_validate_add_causef(c, "FieldValueNotSupported", path, "Unsupported value: %s: supported values: %s", r,
              list);
        free(r);
        free(list);
    }
    if (json_is_string(v)) {
        if (fmt && !string_format_ok(fmt, json_string_value(v))) {
            char *q = goq(json_string_value(v));
            vk_validate_add_causef(c, "FieldValueTypeInvalid", path, "Invalid value: %s: %s in body must be of type %s: %s",
                  q, path, fmt, q);
            free(q);
        }
        validate_string(s, v, path, c);
    } else if (json_is_number(v)) {
        if (fmt && (!strcmp(fmt, "int32") || !strcmp(fmt, "int64"))) {
            int bad_range = !strcmp(fmt, "int32") && is_integral(v) &&
                            (num(v) > 2147483647.0 || num(v) < -2147483648.0);
            if (bad_range)
                vk_validate_add_causef(c, "FieldValueInvalid", "<nil>",
                      "Invalid value: \"\": Checked value must be of type integer with format %s in %s",
                      fmt, path);
        }
        validate_number(s, v, path, c);
    } else if (json_is_array(v)) {
        size_t n = json_array_size(v);
        json_t *mx = mem(s, "maxItems"), *mn = mem(s, "minItems");
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
            vk_validate_add_causef(c, "FieldValueTooMany", path, "Too many: %zu: must have at most %lld items", n,
                  (long long)json_integer_value(mx));
        else if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
            vk_validate_add_causef(c, "FieldValueInvalid", path, "Invalid value: %zu: %s in body should have at least %lld items",
                  n, path, (long long)json_integer_value(mn));
        if (bget(s, "uniqueItems")) {
            for (size_t i = 1; i < n; i++)
                for (size_t j = 0; j < i; j++)
                    if (json_equal(json_array_get(v, i), json_array_get(v, j))) {
                        char *ep = elem(path, i);
                        char *r = render(json_array_get(v, i));
                        vk_validate_add_causef(c, "FieldValueDuplicate", ep, "Duplicate value: %s", r);
                        free(r);
                        free(ep);
                        j = i;
                    }
        }
        json_t *items = mem(s, "items");
        if (json_is_object(items)) {
            for (size_t i = 0; i < n; i++) {
                char *ep = elem(path, i);
                validate_r(items, json_array_get(v, i),
                           old ? correlate(s, old, json_array_get(v, i)) : NULL, ep, c);
                free(ep);
            }
        }
    } else if (json_is_object(v)) {
        size_t n = json_object_size(v);
        json_t *mx = mem(s, "maxProperties"), *mn = mem(s, "minProperties");
        if (json_is_integer(mx) && (json_int_t)n > json_integer_value(mx))
            vk_validate_add_causef(c, "FieldValueTooMany", path, "Too many: %zu: must have at most %lld items", n,
                  (long long)json_integer_value(mx));
        else if (json_is_integer(mn) && (json_int_t)n < json_integer_value(mn))
            vk_validate_add_causef(c, "FieldValueInvalid", path,
                  "Invalid value: %zu: %s in body should have at least %lld properties", n, path,
                  (long long)json_integer_value(mn));
        size_t i;
        json_t *r;
        json_array_foreach(mem(s, "required"), i, r)
        {
            if (!json_is_string(r) || json_object_get(v, json_string_value(r)))
                continue;
            char *cp = child(path, json_string_value(r));
            vk_validate_add_causef(c, "FieldValueRequired", cp, "Required value");
            free(cp);
        }
        json_t *props = mem(s, "properties"), *ap = mem(s, "additionalProperties");
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)v, k, val)
        {
            json_t *ps = mem(props, k);
            if (!ps && json_is_object(ap))
                ps = ap;
            if (!ps)
                continue;
            char *cp = child(path, k);
            validate_r(ps, val, json_is_object(old) ? json_object_get(old, k) : NULL, cp, c);
            free(cp);
        }
        if (bget(s, "x-kubernetes-embedded-resource")) {
            static const char *const req[] = {"apiVersion", "kind"};
            for (int q = 0; q < 2; q++) {
                const char *x = sget(v, req[q]);
                if (!x || !*x) {
                    char *cp = child(path, req[q]);
                    vk_validate_add_causef(c, "FieldValueRequired", cp, "Required value");
                    free(cp);
                }
            }
            json_t *meta = mem(v, "metadata");
            if (json_is_object(meta)) {
                char *mp = child(path, "metadata");
                validate_labels_ann(meta, mp, c);
                free(mp);
            }
        }
    }
    validate_junctors(s, v, path, c);
    return json_array_size(c) - before;
}

size_t vk_crdschema_validate_value(const json_t *schema, const json_t *value, const char *path,
                                   json_t *causes)
{
    return validate(schema, value, path ? path : "", causes);
}

size_t vk_crdschema_validate(const json_t *schema, const json_t *obj, json_t *causes)
{
    return vk_crdschema_validate_update(schema, obj, NULL, causes);
}

size_t vk_crdschema_validate_update(const json_t *schema, const json_t *obj, const json_t *old,
                                    json_t *causes)
{
    if (!json_is_object(obj) || !json_is_object(schema))
        return 0;
    /* The root's apiVersion/kind/metadata belong to the REST layer: validate
     * the rest against the root schema (required, properties, ...). */
    json_t *copy = json_copy((json_t *)obj);
    json_object_del(copy, "apiVersion");
    json_object_del(copy, "kind");
    json_t *meta = json_object_get(copy, "metadata");
    json_t *mschema = mem(mem(schema, "properties"), "metadata");
    if (meta && !mschema)
        json_object_del(copy, "metadata");
    json_t *ocopy = NULL;
    if (json_is_object(old)) {
        ocopy = json_copy((json_t *)old);
        json_object_del(ocopy, "apiVersion");
        json_object_del(ocopy, "kind");
        json_object_del(ocopy, "metadata");
        if (json_object_get(copy, "metadata"))
            json_object_set(ocopy, "metadata", json_object_get(copy, "metadata"));
    }
    size_t n = validate_r(schema, copy, ocopy, "", causes);
    json_decref(ocopy);
    json_decref(copy);
    return n;
}

/* ---- pruning -------------------------------------------------------------- */

typedef struct prune_ctx {
    json_t *pruned; /* may be NULL */
    size_t n;
} prune_ctx_t;

static void note(prune_ctx_t *pc, const char *path)
{
    pc->n++;
    if (pc->pruned)
        json_array_append_new(pc->pruned, json_string(path));
}

/* Prunes metadata to the fields of ObjectMeta. */
static void prune_meta(json_t *meta, const char *path, prune_ctx_t *pc)
{
    const vk_schema_msg_t *om = vk_schema_msg_by_name("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    if (!om || !json_is_object(meta))
        return;
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(meta, tmp, k, v)
    {
        if (vk_schema_field_by_json(om, k))
            continue;
        char *cp = child(path, k);
        note(pc, cp);
        free(cp);
        json_object_del(meta, k);
    }
}

static void prune(const json_t *s, json_t *v, const char *path, int root, prune_ctx_t *pc)
{
    if (!json_is_object(s) || !v)
        return;
    if (json_is_array(v)) {
        json_t *items = mem(s, "items");
        if (!json_is_object(items))
            return;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            char *ep = elem(path, i);
            prune(items, e, ep, 0, pc);
            free(ep);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    int embedded = root || bget(s, "x-kubernetes-embedded-resource");
    int preserve = bget(s, "x-kubernetes-preserve-unknown-fields");
    json_t *props = mem(s, "properties"), *ap = mem(s, "additionalProperties");
    const char *k;
    json_t *val;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, val)
    {
        char *cp = child(path, k);
        if (embedded && (!strcmp(k, "apiVersion") || !strcmp(k, "kind"))) {
            /* kept */
        } else if (embedded && !strcmp(k, "metadata")) {
            prune_meta(val, cp, pc);
        } else if (mem(props, k)) {
            prune(mem(props, k), val, cp, 0, pc);
        } else if (json_is_object(ap)) {
            prune(ap, val, cp, 0, pc);
        } else if (json_is_true(ap) || preserve) {
            /* unknown fields kept */
        } else {
            note(pc, cp);
            json_object_del(v, k);
        }
        free(cp);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

size_t vk_crdschema_prune(const json_t *schema, json_t *obj, json_t *pruned)
{
    prune_ctx_t pc = {.pruned = pruned ? json_array() : NULL};
    prune(schema, obj, "", 1, &pc);
    if (pruned) {
        size_t n = json_array_size(pc.pruned);
        json_t **items = vk_xcalloc(n ? n : 1, sizeof *items);
        for (size_t i = 0; i < n; i++)
            items[i] = json_array_get(pc.pruned, i);
        qsort(items, n, sizeof *items, cmp_str);
        for (size_t i = 0; i < n; i++)
            json_array_append(pruned, items[i]);
        free(items);
        json_decref(pc.pruned);
    }
    return pc.n;
}

/* ---- defaulting ------------------------------------------------------------ */

static void dflt(const json_t *s, json_t *v, int root)
{
    if (!json_is_object(s))
        return;
    if (json_is_array(v)) {
        json_t *items = mem(s, "items");
        if (!json_is_object(items))
            return;
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (json_is_null(e) && !bget(items, "nullable") && mem(items, "default")) {
                json_array_set_new(v, i, json_deep_copy(mem(items, "default")));
                e = json_array_get(v, i);
            }
            dflt(items, e, 0);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    json_t *props = mem(s, "properties"), *ap = mem(s, "additionalProperties");
    const char *k;
    json_t *ps;
    if (json_is_object(props)) {
        json_object_foreach(props, k, ps)
        {
            if (root && (!strcmp(k, "metadata") || !strcmp(k, "apiVersion") || !strcmp(k, "kind")))
                continue;
            json_t *cur = json_object_get(v, k);
            json_t *d = mem(ps, "default");
            if (!cur && d)
                json_object_set_new(v, k, json_deep_copy(d));
            else if (json_is_null(cur) && !bget(ps, "nullable")) {
                if (d)
                    json_object_set_new(v, k, json_deep_copy(d));
                else
                    json_object_del(v, k);
            }
            cur = json_object_get(v, k);
            if (cur)
                dflt(ps, cur, 0);
        }
    }
    if (json_is_object(ap)) {
        json_t *val;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, val)
        {
            if (mem(props, k))
                continue;
            if (json_is_null(val) && !bget(ap, "nullable")) {
                if (mem(ap, "default"))
                    json_object_set_new(v, k, json_deep_copy(mem(ap, "default")));
                else {
                    json_object_del(v, k);
                    continue;
                }
            }
            dflt(ap, json_object_get(v, k), 0);
        }
    }
}

void vk_crdschema_default(const json_t *schema, json_t *obj)
{
    dflt(schema, obj, 1);
}

/* ---- checking a CRD's schema ---------------------------------------------- */

/* Upstream checks a schema in phases and stops after the first phase
 * with errors: the JSONSchemaProps rules, then structural rules, then
 * defaults. */
enum { PH_PROPS, PH_STRUCT, PH_DEFAULTS };

typedef struct chk {
    json_t *c;
    int in_junctor; /* inside anyOf/allOf/oneOf/not */
    int phase;      /* PH_* */
    int ios_anyof;  /* inside anyOf/allOf of an x-kubernetes-int-or-string node */
} chk_t;

static void check_node(chk_t *k, const json_t *s, const char *p, int kind, int root_meta);

enum { N_ROOT, N_PROP, N_ITEMS, N_ADDL, N_JUNCTOR };

static void check_children(chk_t *k, const json_t *s, const char *p, int root)
{
    const char *key;
    json_t *sub;
    json_object_foreach(mem(s, "properties"), key, sub)
    {
        char *cp = vk_xasprintf("%s.properties[%s]", p, key);
        check_node(k, sub, cp, N_PROP, root && !strcmp(key, "metadata"));
        free(cp);
    }
    json_t *items = mem(s, "items");
    if (json_is_array(items)) {
        char *cp = vk_xasprintf("%s.items", p);
        vk_validate_add_causef(k->c, "FieldValueForbidden", cp,
              "Forbidden: items must be a schema object and not an array");
        free(cp);
    } else if (json_is_object(items)) {
        char *cp = vk_xasprintf("%s.items", p);
        check_node(k, items, cp, N_ITEMS, 0);
        free(cp);
    }
    json_t *ap = mem(s, "additionalProperties");
    if (json_is_object(ap)) {
        char *cp = vk_xasprintf("%s.additionalProperties", p);
        check_node(k, ap, cp, N_ADDL, 0);
        free(cp);
    }
    static const char *const junctors[] = {"allOf", "anyOf", "oneOf"};
    for (int j = 0; j < 3; j++) {
        size_t i;
        json_array_foreach(mem(s, junctors[j]), i, sub)
        {
            char *cp = vk_xasprintf("%s.%s[%zu]", p, junctors[j], i);
            int was = k->in_junctor, was_ios = k->ios_anyof;
            k->in_junctor = 1;
            /* int-or-string may spell its types as anyOf [{integer}, {string}] */
            if (bget(s, "x-kubernetes-int-or-string") && j < 2)
                k->ios_anyof = 1;
            else if (j == 2)
                k->ios_anyof = 0;
            check_node(k, sub, cp, N_JUNCTOR, 0);
            k->in_junctor = was;
            k->ios_anyof = was_ios;
            free(cp);
        }
    }
    if (json_is_object(mem(s, "not"))) {
        char *cp = vk_xasprintf("%s.not", p);
        int was = k->in_junctor;
        k->in_junctor = 1;
        check_node(k, mem(s, "not"), cp, N_JUNCTOR, 0);
        k->in_junctor = was;
        free(cp);
    }
}

static void fld(chk_t *k, const char *reason, const char *p, const char *sub, const char *msg)
{
    char *f = vk_xasprintf("%s.%s", p, sub);
    vk_validate_add_cause(k->c, reason, f, msg);
    free(f);
}

static void check_default(chk_t *k, const json_t *s, const char *p)
{
    json_t *d = mem(s, "default");
    if (!d)
        return;
    char *dp = vk_xasprintf("%s.default", p);
    if (k->in_junctor) {
        vk_validate_add_cause(k->c, "FieldValueForbidden", dp,
                              "Forbidden: must be undefined to be structural");
        free(dp);
        return;
    }
    json_t *tmp = json_array();
    validate(s, d, "", tmp);
    size_t i;
    json_t *e;
    json_array_foreach(tmp, i, e)
    {
        const char *f = sget(e, "field");
        char *nf = (f && *f && strcmp(f, "<nil>")) ? vk_xasprintf("%s.%s", dp, f) : vk_xstrdup(dp);
        vk_validate_add_cause(k->c, sget(e, "reason"), nf, sget(e, "message"));
        free(nf);
    }
    json_decref(tmp);
    json_t *copy = json_deep_copy(d);
    prune_ctx_t pc = {0};
    if (json_is_object(copy) || json_is_array(copy))
        prune(s, copy, "", 0, &pc);
    if (pc.n) {
        char *r = render(d);
        char *m = vk_xasprintf("Invalid value: %s: must not have unknown fields", r);
        vk_validate_add_cause(k->c, "FieldValueInvalid", dp, m);
        free(m);
        free(r);
    }
    json_decref(copy);
    free(dp);
}

static void check_node(chk_t *k, const json_t *s, const char *p, int kind, int root_meta)
{
    if (!json_is_object(s))
        return;
    const char *type = sget(s, "type");
    int preserve = bget(s, "x-kubernetes-preserve-unknown-fields");
    int ios = bget(s, "x-kubernetes-int-or-string");
    int emb = bget(s, "x-kubernetes-embedded-resource");
    if (k->phase == PH_PROPS) {
        if (json_is_object(mem(s, "properties")) && json_object_size(mem(s, "properties")) &&
            json_is_object(mem(s, "additionalProperties")))
            fld(k, "FieldValueForbidden", p, "additionalProperties",
                "Forbidden: additionalProperties and properties are mutual exclusive");
        if (bget(s, "uniqueItems"))
            fld(k, "FieldValueForbidden", p, "uniqueItems",
                "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic");
        static const char *const unsupported[][2] = {
            {"$ref", "Forbidden: $ref is not supported"},
            {"$schema", "Forbidden: $schema is not supported"},
            {"id", "Forbidden: id is not supported"},
            {"patternProperties", "Forbidden: patternProperties is not supported"},
            {"definitions", "Forbidden: definitions is not supported"},
            {"dependencies", "Forbidden: dependencies is not supported"},
            {"additionalItems", "Forbidden: additionalItems is not supported"},
        };
        for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++)
            if (mem(s, unsupported[i][0]))
                fld(k, "FieldValueForbidden", p, unsupported[i][0], unsupported[i][1]);
        const char *pat = sget(s, "pattern");
        if (pat) {
            char *t = translate_re(pat);
            regex_t rx;
            int ok = t && regcomp(&rx, t, REG_EXTENDED | REG_NOSUB) == 0;
            if (ok)
                regfree(&rx);
            free(t);
            if (!ok) {
                char *q = goq(pat);
                char *m = vk_xasprintf("Invalid value: %s: must be a regular expression this API server "
                                       "supports (POSIX extended with \\d \\w \\s, (?:...) and lazy "
                                       "quantifiers; no lookaround, backreferences, \\b or \\p{...})",
                                       q);
                fld(k, "FieldValueInvalid", p, "pattern", m);
                free(m);
                free(q);
            }
        }
        const char *lt = sget(s, "x-kubernetes-list-type");
        if (lt) {
            if (strcmp(lt, "atomic") && strcmp(lt, "set") && strcmp(lt, "map")) {
                char *q = goq(lt);
                char *m = vk_xasprintf("Unsupported value: %s: supported values: \"atomic\", \"map\", \"set\"", q);
                fld(k, "FieldValueNotSupported", p, "x-kubernetes-list-type", m);
                free(m);
                free(q);
            } else if (!strcmp(lt, "map")) {
                json_t *keys = mem(s, "x-kubernetes-list-map-keys");
                if (!json_is_array(keys) || !json_array_size(keys))
                    fld(k, "FieldValueRequired", p, "x-kubernetes-list-map-keys",
                        "Required value: must not be empty if x-kubernetes-list-type is map");
                else {
                    json_t *iprops = mem(mem(s, "items"), "properties");
                    size_t i;
                    json_t *key;
                    json_array_foreach(keys, i, key)
                    {
                        if (!json_is_string(key) || !mem(iprops, json_string_value(key))) {
                            char *r = render(keys);
                            char *m = vk_xasprintf("Invalid value: %s: entries must all be names of item properties", r);
                            fld(k, "FieldValueInvalid", p, "x-kubernetes-list-map-keys", m);
                            free(m);
                            free(r);
                            break;
                        }
                    }
                }
            }
        }
    }
    if (k->phase == PH_STRUCT) {
        if (kind == N_JUNCTOR) {
            if (type && *type &&
                !(k->ios_anyof && (!strcmp(type, "integer") || !strcmp(type, "string"))))
                fld(k, "FieldValueForbidden", p, "type", "Forbidden: must be empty to be structural");
            if (bget(s, "nullable"))
                fld(k, "FieldValueForbidden", p, "nullable", "Forbidden: must be false to be structural");
            if (preserve)
                fld(k, "FieldValueForbidden", p, "x-kubernetes-preserve-unknown-fields",
                    "Forbidden: must be false to be structural");
            if (emb)
                fld(k, "FieldValueForbidden", p, "x-kubernetes-embedded-resource",
                    "Forbidden: must be false to be structural");
            if (ios)
                fld(k, "FieldValueForbidden", p, "x-kubernetes-int-or-string",
                    "Forbidden: must be false to be structural");
            if (mem(s, "additionalProperties"))
                fld(k, "FieldValueForbidden", p, "additionalProperties",
                    "Forbidden: must be undefined to be structural");
        } else if (kind == N_ROOT) {
            if (!type || !*type)
                fld(k, "FieldValueRequired", p, "type", "Required value: must not be empty at the root");
            else if (strcmp(type, "object") != 0) {
                char *m = vk_xasprintf("Invalid value: \"%s\": must be object at the root", type);
                fld(k, "FieldValueInvalid", p, "type", m);
                free(m);
            }
        } else if ((!type || !*type) && !ios && !preserve) {
            fld(k, "FieldValueRequired", p, "type",
                kind == N_ITEMS ? "Required value: must not be empty for specified array items"
                                : "Required value: must not be empty for specified object fields");
        }
        if (type && !strcmp(type, "array") && !mem(s, "items") && kind != N_JUNCTOR)
            fld(k, "FieldValueRequired", p, "items", "Required value: must be specified");
        if (emb) {
            if (type && *type && strcmp(type, "object") != 0) {
                char *m = vk_xasprintf("Invalid value: \"%s\": must be object if x-kubernetes-embedded-resource is true", type);
                fld(k, "FieldValueInvalid", p, "type", m);
                free(m);
            }
            if (!preserve && !json_object_size(mem(s, "properties")))
                fld(k, "FieldValueRequired", p, "properties",
                    "Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields");
        }
        if (root_meta) {
            /* metadata at the root: only name / generateName, strings. */
            const char *key;
            json_t *sub;
            int bad = 0;
            json_object_foreach(mem(s, "properties"), key, sub)
            {
                if (strcmp(key, "name") && strcmp(key, "generateName"))
                    bad = 1;
            }
            json_t *only = json_deep_copy(s);
            json_object_del(only, "properties");
            json_object_del(only, "type");
            json_object_del(only, "description");
            if (json_object_size(only))
                bad = 1;
            json_decref(only);
            if (bad)
                vk_validate_add_cause(k->c, "FieldValueForbidden", p,
                                      "Forbidden: must not specify anything other than name and "
                                      "generateName, but metadata is implicitly specified");
        }
    }
    if (k->phase == PH_DEFAULTS)
        check_default(k, s, p);
    check_children(k, s, p, kind == N_ROOT);
}

size_t vk_crdschema_check(const json_t *schema, const char *fpath, json_t *causes)
{
    size_t before = json_array_size(causes);
    chk_t k = {.c = causes};
    if (!json_is_object(schema)) {
        vk_validate_add_cause(causes, "FieldValueRequired", fpath, "Required value");
        return 1;
    }
    for (k.phase = PH_PROPS; k.phase <= PH_DEFAULTS; k.phase++) {
        check_node(&k, schema, fpath, N_ROOT, 0);
        if (json_array_size(causes) > before)
            break;
    }
    return json_array_size(causes) - before;
}

/* ---- CEL rules ------------------------------------------------------------- */

static size_t cel_walk(const json_t *s, const char *p, json_t *paths)
{
    if (!json_is_object(s))
        return 0;
    size_t n = 0;
    json_t *v = mem(s, "x-kubernetes-validations");
    if (json_is_array(v) && json_array_size(v)) {
        char *f = vk_xasprintf("%s.x-kubernetes-validations", p);
        json_array_append_new(paths, json_string(f));
        free(f);
        n++;
    }
    const char *key;
    json_t *sub;
    json_object_foreach(mem(s, "properties"), key, sub)
    {
        char *cp = vk_xasprintf("%s.properties[%s]", p, key);
        n += cel_walk(sub, cp, paths);
        free(cp);
    }
    static const char *const singles[] = {"items", "additionalProperties", "not"};
    for (int i = 0; i < 3; i++) {
        if (json_is_object(mem(s, singles[i]))) {
            char *cp = vk_xasprintf("%s.%s", p, singles[i]);
            n += cel_walk(mem(s, singles[i]), cp, paths);
            free(cp);
        }
    }
    static const char *const lists[] = {"allOf", "anyOf", "oneOf"};
    for (int j = 0; j < 3; j++) {
        size_t i;
        json_array_foreach(mem(s, lists[j]), i, sub)
        {
            char *cp = vk_xasprintf("%s.%s[%zu]", p, lists[j], i);
            n += cel_walk(sub, cp, paths);
            free(cp);
        }
    }
    return n;
}

size_t vk_crdschema_cel_rules(const json_t *schema, const char *fpath, json_t *paths)
{
    return cel_walk(schema, fpath, paths);
}
