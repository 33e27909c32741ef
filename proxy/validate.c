/* validate: validation of built-in kinds (see validate.h). The checks, field
 * paths and messages follow kube-apiserver's pkg/apis/<group>/validation and
 * apimachinery's name/label validators; the code here is our own. */
#include "proxy/validate.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/mem.h"

/* ---- small JSON accessors ------------------------------------------------ */

static json_t *member(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *str_of(const json_t *o, const char *key)
{
    json_t *v = member(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *str_or_empty(const json_t *o, const char *key)
{
    const char *s = str_of(o, key);
    return s ? s : "";
}

static int is_set(const json_t *o, const char *key)
{
    json_t *v = member(o, key);
    return v && !json_is_null(v);
}

/* ---- field paths and errors ---------------------------------------------- */

typedef struct path {
    char s[768];
} path_t;

/* Formats a field path into a value (valid until the end of the statement). */
static path_t pa(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static path_t pa(const char *fmt, ...)
{
    path_t p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p.s, sizeof p.s, fmt, ap);
    va_end(ap);
    return p;
}

/* Appends s quoted as Go's %q does (printable UTF-8 kept, the rest escaped). */
static void go_quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < cap)                                                                           \
            out[n++] = (c);                                                                        \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        default: break;
        }
        if (esc) {
            for (; *esc; esc++)
                PUT(*esc);
        } else if (c < 0x20 || c == 0x7f) {
            char hx[5];
            snprintf(hx, sizeof hx, "\\x%02x", c);
            for (int i = 0; hx[i]; i++)
                PUT(hx[i]);
        } else {
            PUT((char)c);
        }
    }
    PUT('"');
    out[n] = 0;
#undef PUT
}

void vk_validate_add_cause(json_t *causes, const char *reason, const char *field,
                           const char *message)
{
    json_t *c = json_object();
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(message));
    json_object_set_new(c, "field", json_string(field));
    json_array_append_new(causes, c);
}

void vk_validate_add_causef(json_t *causes, const char *reason, const char *field,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = NULL;
    if (vasprintf(&m, fmt, ap) < 0) abort();
    va_end(ap);
    vk_validate_add_cause(causes, reason, field, m);
    free(m);
}

/* Adds "<kind>[: <value>][: <detail>]" as upstream's ErrorBody. */
static void add_err(json_t *c, const char *reason, const char *type_text, const char *field,
                    const char *value, const char *detail)
{
    size_t cap = strlen(type_text) + (value ? strlen(value) : 0) + (detail ? strlen(detail) : 0) + 8;
    char *msg = vk_xmalloc(cap);
    snprintf(msg, cap, "%s%s%s%s%s", type_text, value ? ": " : "", value ? value : "",
             detail && *detail ? ": " : "", detail && *detail ? detail : "");
    vk_validate_add_cause(c, reason, field, msg);
    free(msg);
}

static void e_required(json_t *c, const char *f, const char *detail)
{
    add_err(c, "FieldValueRequired", "Required value", f, NULL, detail);
}

static void e_forbidden(json_t *c, const char *f, const char *detail)
{
    add_err(c, "FieldValueForbidden", "Forbidden", f, NULL, detail);
}

static void e_toolong(json_t *c, const char *f, long max)
{
    char d[64];
    snprintf(d, sizeof d, "may not be more than %ld bytes", max);
    add_err(c, "FieldValueTooLong", "Too long", f, NULL, d);
}

static void e_invalid_str(json_t *c, const char *f, const char *v, const char *detail)
{
    size_t cap = strlen(v) * 4 + 3;
    char *q = vk_xmalloc(cap);
    go_quote(q, cap, v);
    add_err(c, "FieldValueInvalid", "Invalid value", f, q, detail);
    free(q);
}

static void e_invalid_int(json_t *c, const char *f, long long v, const char *detail)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    add_err(c, "FieldValueInvalid", "Invalid value", f, b, detail);
}

/* Renders a JSON value as upstream renders complex bad values (json.Marshal). */
static char *render_json(const json_t *v)
{
    if (!v)
        return vk_xstrdup("null");
    if (json_is_string(v)) {
        size_t cap = strlen(json_string_value(v)) * 4 + 3;
        char *q = vk_xmalloc(cap);
        go_quote(q, cap, json_string_value(v));
        return q;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return s ? s : vk_xstrdup("null");
}

static void e_invalid_json(json_t *c, const char *f, const json_t *v, const char *detail)
{
    char *s = render_json(v);
    add_err(c, "FieldValueInvalid", "Invalid value", f, s, detail);
    free(s);
}

static void e_duplicate_str(json_t *c, const char *f, const char *v)
{
    size_t cap = strlen(v) * 4 + 3;
    char *q = vk_xmalloc(cap);
    go_quote(q, cap, v);
    add_err(c, "FieldValueDuplicate", "Duplicate value", f, q, NULL);
    free(q);
}

static void e_notfound_str(json_t *c, const char *f, const char *v)
{
    size_t cap = strlen(v) * 4 + 3;
    char *q = vk_xmalloc(cap);
    go_quote(q, cap, v);
    add_err(c, "FieldValueNotFound", "Not found", f, q, NULL);
    free(q);
}

/* NotSupported with the list of valid values, as upstream prints it. */
static void e_notsupported(json_t *c, const char *f, const json_t *v,
                           const char *const *valid)
{
    char detail[512] = "supported values: ";
    size_t n = strlen(detail);
    for (int i = 0; valid[i]; i++) {
        char q[128];
        go_quote(q, sizeof q, valid[i]);
        n += (size_t)snprintf(detail + n, sizeof detail - n, "%s%s", i ? ", " : "", q);
        if (n >= sizeof detail)
            break;
    }
    char *s = render_json(v);
    add_err(c, "FieldValueNotSupported", "Unsupported value", f, s, detail);
    free(s);
}

static void e_notsupported_str(json_t *c, const char *f, const char *v,
                               const char *const *valid)
{
    json_t *j = json_string(v);
    e_notsupported(c, f, j, valid);
    json_decref(j);
}

/* ---- name and label validators (apimachinery's messages) ------------------ */

typedef struct msgs {
    int n;
    char m[4][640];
} msgs_t;

static void madd(msgs_t *ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void madd(msgs_t *ms, const char *fmt, ...)
{
    if (ms->n >= 4)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ms->m[ms->n++], sizeof ms->m[0], fmt, ap);
    va_end(ap);
}

#define DNS1123_LABEL_MSG                                                                          \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "   \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "     \
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define QUALIFIED_NAME_RE                                                                          \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LABEL_VALUE_MSG                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is "                                       \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define CONFIG_KEY_MSG                                                                             \
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "           \
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

static int lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n). */
static int match_label(const char *s, size_t n)
{
    if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return 0;
    return 1;
}

static int match_subdomain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!match_label(p, n))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

static void dns1123_label(const char *s, msgs_t *ms)
{
    if (strlen(s) > 63)
        madd(ms, "must be no more than 63 characters");
    if (!match_label(s, strlen(s))) {
        /* kube-apiserver 1.36 says why a valid subdomain is not a label. */
        if (*s && match_subdomain(s))
            madd(ms, "must not contain dots");
        else
            madd(ms, "%s", DNS1123_LABEL_MSG);
    }
}

static void dns1123_subdomain(const char *s, msgs_t *ms)
{
    if (strlen(s) > 253)
        madd(ms, "must be no more than 253 characters");
    if (!match_subdomain(s))
        madd(ms, "%s", DNS1123_SUBDOMAIN_MSG);
}

static void path_segment(const char *s, msgs_t *ms)
{
    if (!strcmp(s, ".") || !strcmp(s, ".."))
        madd(ms, "may not be '%s'", s);
    if (strchr(s, '/'))
        madd(ms, "may not contain '/'");
    if (strchr(s, '%'))
        madd(ms, "may not contain '%%'");
}

typedef void (*name_fn)(const char *s, msgs_t *ms);

/* Validates a name; a generateName prefix may end in '-'. */
static void check_name(name_fn fn, const char *s, int prefix, msgs_t *ms)
{
    size_t n = strlen(s);
    if (prefix && n > 1 && s[n - 1] == '-') {
        char *t = vk_xstrndup(s, n - 1);
        fn(t, ms);
        free(t);
    } else {
        fn(s, ms);
    }
}

static int qn_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n). */
static int match_qualified(const char *s, size_t n)
{
    if (n == 0 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!qn_char(s[i]))
            return 0;
    return 1;
}

static void qualified_name(const char *s, msgs_t *ms)
{
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        if (strchr(slash + 1, '/')) {
            madd(ms, "a valid label key " QUALIFIED_NAME_RE
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
            return;
        }
        char *prefix = vk_xstrndup(s, (size_t)(slash - s));
        if (!*prefix) {
            madd(ms, "prefix part must be non-empty");
        } else {
            msgs_t sub = {0};
            dns1123_subdomain(prefix, &sub);
            for (int i = 0; i < sub.n; i++)
                madd(ms, "prefix part %s", sub.m[i]);
        }
        free(prefix);
        name = slash + 1;
    }
    size_t n = strlen(name);
    if (n == 0)
        madd(ms, "name part must be non-empty");
    else if (n > 63)
        madd(ms, "name part must be no more than 63 bytes");
    if (!match_qualified(name, n))
        madd(ms, "name part " QUALIFIED_NAME_RE);
}

static void label_value(const char *s, msgs_t *ms)
{
    size_t n = strlen(s);
    if (n > 63)
        madd(ms, "must be no more than 63 bytes");
    if (n && !match_qualified(s, n))
        madd(ms, "%s", LABEL_VALUE_MSG);
}

static void config_key(const char *s, msgs_t *ms)
{
    size_t n = strlen(s);
    int ok = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!qn_char(s[i]))
            ok = 0;
    if (n > 253)
        madd(ms, "must be no more than 253 characters");
    if (!ok)
        madd(ms, "%s", CONFIG_KEY_MSG);
    if (!strcmp(s, "."))
        madd(ms, "must not be '.'");
    else if (!strcmp(s, ".."))
        madd(ms, "must not be '..'");
    else if (!strncmp(s, "..", 2))
        madd(ms, "must not start with '..'");
}

/* IANA_SVC_NAME rules for named ports. */
static void port_name(const char *s, msgs_t *ms)
{
    size_t n = strlen(s);
    int charset = n > 0, letter = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lower_alnum(s[i]) && s[i] != '-')
            charset = 0;
        if (s[i] >= 'a' && s[i] <= 'z')
            letter = 1;
    }
    if (n > 15)
        madd(ms, "must be no more than 15 characters");
    if (!charset)
        madd(ms, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    if (!letter)
        madd(ms, "must contain at least one letter (a-z)");
    if (strstr(s, "--"))
        madd(ms, "must not contain consecutive hyphens");
    if (n && (s[0] == '-' || s[n - 1] == '-'))
        madd(ms, "must not begin or end with a hyphen");
}

static void invalid_msgs(json_t *c, const char *f, const char *v, const msgs_t *ms)
{
    for (int i = 0; i < ms->n; i++)
        e_invalid_str(c, f, v, ms->m[i]);
}

static void check_fn(json_t *c, const char *f, const char *v, name_fn fn)
{
    msgs_t ms = {0};
    fn(v, &ms);
    invalid_msgs(c, f, v, &ms);
}

#define PORT_RANGE_MSG "must be between 1 and 65535, inclusive"

static int valid_port(json_int_t p)
{
    return p >= 1 && p <= 65535;
}

/* ---- metadata ------------------------------------------------------------ */

static void validate_labels(json_t *c, const json_t *labels, const char *f)
{
    if (!json_is_object(labels))
        return;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v)
    {
        check_fn(c, f, k, qualified_name);
        if (json_is_string(v))
            check_fn(c, f, json_string_value(v), label_value);
    }
}

#define ANNOTATIONS_MAX (256 * 1024)

static void validate_annotations(json_t *c, const json_t *ann, const char *f)
{
    if (!json_is_object(ann))
        return;
    size_t total = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ann, k, v)
    {
        char *low = vk_xstrdup(k);
        for (char *p = low; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        msgs_t ms = {0};
        qualified_name(low, &ms);
        invalid_msgs(c, f, k, &ms);
        free(low);
        total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    }
    if (total > ANNOTATIONS_MAX)
        e_toolong(c, f, ANNOTATIONS_MAX);
}

/* Scope of the kinds we know; others are checked only as given. */
static const char *const cluster_kinds[] = {
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding",
    "StorageClass", "PriorityClass", "RuntimeClass", "CustomResourceDefinition", "IngressClass",
    "CSIDriver", "CSINode", "VolumeAttachment", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "SelfSubjectReview", "TokenReview",
    "SelfSubjectAccessReview", "SelfSubjectRulesReview", "CertificateSigningRequest", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

static name_fn name_rule(const char *group, const char *kind)
{
    if (!*group && !strcmp(kind, "Namespace"))
        return dns1123_label;
    if (!*group && !strcmp(kind, "Service"))
        return dns1123_label;
    if (!strcmp(group, "rbac.authorization.k8s.io"))
        return path_segment;
    return dns1123_subdomain;
}

static void validate_meta(json_t *c, const char *group, const char *kind, const json_t *meta)
{
    const char *name = str_or_empty(meta, "name");
    const char *gen = str_or_empty(meta, "generateName");
    name_fn fn = name_rule(group, kind);
    if (*gen) {
        msgs_t ms = {0};
        check_name(fn, gen, 1, &ms);
        invalid_msgs(c, "metadata.generateName", gen, &ms);
    }
    if (!*name) {
        if (!*gen)
            e_required(c, "metadata.name", "name or generateName is required");
    } else {
        msgs_t ms = {0};
        check_name(fn, name, 0, &ms);
        invalid_msgs(c, "metadata.name", name, &ms);
    }
    const char *ns = str_or_empty(meta, "namespace");
    int cluster = in_list(kind, cluster_kinds);
    if (cluster) {
        if (*ns)
            e_forbidden(c, "metadata.namespace", "not allowed on this type");
    } else if (*ns) {
        check_fn(c, "metadata.namespace", ns, dns1123_label);
    }
    json_t *gen_no = member(meta, "generation");
    if (json_is_integer(gen_no) && json_integer_value(gen_no) < 0)
        e_invalid_int(c, "metadata.generation", json_integer_value(gen_no),
                      "must be greater than or equal to 0");
    validate_labels(c, member(meta, "labels"), "metadata.labels");
    validate_annotations(c, member(meta, "annotations"), "metadata.annotations");
}

static void immutable_str(json_t *c, const char *f, const char *nv, const char *ov)
{
    if (strcmp(nv, ov) != 0)
        e_invalid_str(c, f, nv, "field is immutable");
}

/* Compares a JSON field of two objects; reports the new value when changed. */
static void immutable_json(json_t *c, const char *f, const json_t *nv, const json_t *ov)
{
    json_t *a = nv && !json_is_null(nv) ? (json_t *)nv : NULL;
    json_t *b = ov && !json_is_null(ov) ? (json_t *)ov : NULL;
    if ((a || b) && !(a && b && json_equal(a, b)))
        e_invalid_json(c, f, a, "field is immutable");
}

static void validate_meta_update(json_t *c, const json_t *meta, const json_t *ometa)
{
    immutable_str(c, "metadata.name", str_or_empty(meta, "name"), str_or_empty(ometa, "name"));
    immutable_str(c, "metadata.namespace", str_or_empty(meta, "namespace"),
                  str_or_empty(ometa, "namespace"));
    immutable_str(c, "metadata.uid", str_or_empty(meta, "uid"), str_or_empty(ometa, "uid"));
    immutable_json(c, "metadata.creationTimestamp", member(meta, "creationTimestamp"),
                   member(ometa, "creationTimestamp"));
    immutable_json(c, "metadata.deletionTimestamp", member(meta, "deletionTimestamp"),
                   member(ometa, "deletionTimestamp"));
    /* Finalizers cannot be added once deletion started. */
    if (is_set(ometa, "deletionTimestamp")) {
        size_t i;
        json_t *f;
        json_array_foreach(member(meta, "finalizers"), i, f)
        {
            int found = 0;
            size_t j;
            json_t *of;
            json_array_foreach(member(ometa, "finalizers"), j, of) if (json_equal(f, of)) found = 1;
            if (!found && json_is_string(f)) {
                char *d = vk_xasprintf("no new finalizers can be added if the object is being "
                                       "deleted, found new finalizers []string{\"%s\"}",
                                       json_string_value(f));
                e_forbidden(c, "metadata.finalizers", d);
                free(d);
                break;
            }
        }
    }
}

/* ---- quantities ----------------------------------------------------------- */

/* Parses a resource.Quantity ("500m", "1Gi", "2e3", 3) into *out. 0 or -1. */
static int parse_quantity(const json_t *v, long double *out)
{
    if (json_is_integer(v)) {
        *out = (long double)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *out = (long double)json_real_value(v);
        return 0;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!isdigit((unsigned char)*p) && *p != '.')
        return -1;
    /* The mantissa is a plain decimal (strtold alone would take hex and "inf"). */
    const char *q = s;
    if (*q == '+' || *q == '-')
        q++;
    while (isdigit((unsigned char)*q) || *q == '.')
        q++;
    end = (char *)q;
    char *mant = vk_xstrndup(s, (size_t)(q - s));
    long double num = strtold(mant, NULL);
    free(mant);
    static const struct {
        const char *suf;
        long double mul;
    } sufs[] = {
        {"", 1},           {"n", 1e-9L},     {"u", 1e-6L},         {"m", 1e-3L},
        {"k", 1e3L},       {"M", 1e6L},      {"G", 1e9L},          {"T", 1e12L},
        {"P", 1e15L},      {"E", 1e18L},     {"Ki", 1024.0L},      {"Mi", 1048576.0L},
        {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L}, {"Pi", 1125899906842624.0L},
        {"Ei", 1152921504606846976.0L},
    };
    for (size_t i = 0; i < sizeof sufs / sizeof sufs[0]; i++) {
        if (!strcmp(end, sufs[i].suf)) {
            *out = num * sufs[i].mul;
            return 0;
        }
    }
    if (*end == 'e' || *end == 'E') {
        char *e2;
        long ex = strtol(end + 1, &e2, 10);
        if (*e2 || e2 == end + 1)
            return -1;
        *out = num * powl(10.0L, (long double)ex);
        return 0;
    }
    return -1;
}

static char *quantity_text(const json_t *v)
{
    if (json_is_string(v))
        return vk_xstrdup(json_string_value(v));
    return render_json(v);
}

static int standard_container_resource(const char *name)
{
    return !strcmp(name, "cpu") || !strcmp(name, "memory") || !strcmp(name, "ephemeral-storage") ||
           !strncmp(name, "hugepages-", 10) || strchr(name, '/') != NULL;
}

static void validate_resource_list(json_t *c, const json_t *list, const char *f)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)list, k, v)
    {
        path_t kp = pa("%s[%s]", f, k);
        if (!standard_container_resource(k)) {
            e_invalid_str(c, kp.s, k, "must be a standard resource for containers");
            continue;
        }
        long double q;
        if (parse_quantity(v, &q) != 0) {
            char *t = quantity_text(v);
            e_invalid_str(c, kp.s, t,
                          "quantities must match the regular expression "
                          "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
            free(t);
        } else if (q < 0) {
            char *t = quantity_text(v);
            e_invalid_str(c, kp.s, t, "must be greater than or equal to 0");
            free(t);
        }
    }
}

static void validate_resources(json_t *c, const json_t *res, const char *f)
{
    json_t *lim = member(res, "limits"), *req = member(res, "requests");
    if (json_is_object(lim))
        validate_resource_list(c, lim, pa("%s.limits", f).s);
    if (!json_is_object(req))
        return;
    validate_resource_list(c, req, pa("%s.requests", f).s);
    const char *k;
    json_t *v;
    json_object_foreach(req, k, v)
    {
        json_t *lv = member(lim, k);
        long double rq, lq;
        if (!lv || parse_quantity(v, &rq) || parse_quantity(lv, &lq))
            continue;
        char *rt = quantity_text(v), *lt = quantity_text(lv);
        int overcommit = !strncmp(k, "hugepages-", 10) || !strchr(k, '/');
        if (!overcommit && rq != lq) {
            char *d = vk_xasprintf("must be equal to %s limit of %s", k, lt);
            e_invalid_str(c, pa("%s.requests", f).s, rt, d);
            free(d);
        } else if (rq > lq) {
            char *d = vk_xasprintf("must be less than or equal to %s limit of %s", k, lt);
            e_invalid_str(c, pa("%s.requests", f).s, rt, d);
            free(d);
        }
        free(rt);
        free(lt);
    }
}

/* ---- pods ------------------------------------------------------------------ */

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static void validate_container_ports(json_t *c, const json_t *ports, const char *f)
{
    size_t i, j;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *name = str_or_empty(p, "name");
        if (*name) {
            msgs_t ms = {0};
            port_name(name, &ms);
            if (ms.n) {
                invalid_msgs(c, pa("%s[%zu].name", f, i).s, name, &ms);
            } else {
                json_t *q;
                json_array_foreach(ports, j, q)
                {
                    if (j >= i)
                        break;
                    if (!strcmp(str_or_empty(q, "name"), name)) {
                        e_duplicate_str(c, pa("%s[%zu].name", f, i).s, name);
                        break;
                    }
                }
            }
        }
        json_t *cp = member(p, "containerPort");
        json_int_t cpv = json_is_integer(cp) ? json_integer_value(cp) : 0;
        if (cpv == 0)
            e_required(c, pa("%s[%zu].containerPort", f, i).s, "");
        else if (!valid_port(cpv))
            e_invalid_int(c, pa("%s[%zu].containerPort", f, i).s, cpv, PORT_RANGE_MSG);
        json_t *hp = member(p, "hostPort");
        if (json_is_integer(hp) && json_integer_value(hp) != 0 && !valid_port(json_integer_value(hp)))
            e_invalid_int(c, pa("%s[%zu].hostPort", f, i).s, json_integer_value(hp),
                          PORT_RANGE_MSG);
        const char *proto = str_or_empty(p, "protocol");
        if (!*proto)
            e_required(c, pa("%s[%zu].protocol", f, i).s, "");
        else if (!in_list(proto, protocols))
            e_notsupported_str(c, pa("%s[%zu].protocol", f, i).s, proto, protocols);
    }
}

static int volume_exists(const json_t *volumes, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(volumes, i, v) if (!strcmp(str_or_empty(v, "name"), name)) return 1;
    return 0;
}

static void validate_mounts(json_t *c, const json_t *mounts, const json_t *volumes, const char *f)
{
    size_t i, j;
    json_t *m;
    json_array_foreach(mounts, i, m)
    {
        const char *name = str_or_empty(m, "name");
        const char *mp = str_or_empty(m, "mountPath");
        if (!*name)
            e_required(c, pa("%s[%zu].name", f, i).s, "");
        if (!volume_exists(volumes, name))
            e_notfound_str(c, pa("%s[%zu].name", f, i).s, name);
        if (!*mp)
            e_required(c, pa("%s[%zu].mountPath", f, i).s, "");
        json_t *o;
        json_array_foreach(mounts, j, o)
        {
            if (j >= i)
                break;
            if (*mp && !strcmp(str_or_empty(o, "mountPath"), mp)) {
                e_invalid_str(c, pa("%s[%zu].mountPath", f, i).s, mp, "must be unique");
                break;
            }
        }
        const char *sub = str_or_empty(m, "subPath");
        if (*sub) {
            if (sub[0] == '/')
                e_invalid_str(c, pa("%s[%zu].subPath", f, i).s, sub, "must be a relative path");
            else if (!strcmp(sub, "..") || !strncmp(sub, "../", 3) || strstr(sub, "/../") ||
                     (strlen(sub) >= 3 && !strcmp(sub + strlen(sub) - 3, "/..")))
                e_invalid_str(c, pa("%s[%zu].subPath", f, i).s, sub, "must not contain '..'");
        }
    }
}

static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};
static const char *const tm_policies[] = {"FallbackToLogsOnError", "File", NULL};

static void validate_env(json_t *c, const json_t *env, const char *f)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *name = str_or_empty(e, "name");
        if (!*name) {
            e_required(c, pa("%s[%zu].name", f, i).s, "");
            continue;
        }
        int ok = 1;
        for (const char *p = name; *p; p++)
            if (*p == '=' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                ok = 0;
        if (!ok)
            e_invalid_str(c, pa("%s[%zu].name", f, i).s, name,
                          "a valid environment variable name must consist only of printable "
                          "ASCII characters other than '='");
        json_t *vf = member(e, "valueFrom");
        if (json_is_object(vf)) {
            static const char *const srcs[] = {"fieldRef", "resourceFieldRef", "configMapKeyRef",
                                               "secretKeyRef", "fileKeyRef", NULL};
            int n = 0;
            for (int k = 0; srcs[k]; k++)
                n += is_set(vf, srcs[k]);
            if (n == 0)
                e_invalid_str(c, pa("%s[%zu].valueFrom", f, i).s, "",
                              "must specify one of: `fieldRef`, `resourceFieldRef`, "
                              "`configMapKeyRef`, `secretKeyRef` or `fileKeyRef`");
            else if (n > 1)
                e_invalid_str(c, pa("%s[%zu].valueFrom", f, i).s, "",
                              "may not have more than one field specified at a time");
        }
        if (vf && is_set(e, "value") && *str_or_empty(e, "value"))
            e_invalid_str(c, pa("%s[%zu].valueFrom", f, i).s, "",
                          "may not be specified when `value` is not empty");
    }
}

/* validateContainerCommon + the per-list duplicate name check. */
/* A probe or lifecycle handler: exactly one of the handler kinds. */
static void validate_handler(json_t *c, const json_t *h, const char *f, int probe)
{
    static const char *const kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", "sleep", NULL};
    int n = 0;
    for (int i = 0; kinds[i]; i++) {
        if (!is_set(h, kinds[i]) || (!probe && !strcmp(kinds[i], "grpc")) ||
            (probe && !strcmp(kinds[i], "sleep")))
            continue;
        if (++n > 1)
            e_forbidden(c, pa("%s.%s", f, kinds[i]).s, "may not specify more than 1 handler type");
    }
    if (n == 0)
        e_required(c, f, "must specify a handler type");
}

static void validate_env_from(json_t *c, const json_t *list, const char *f)
{
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *refs[] = {"configMapRef", "secretRef"};
        for (int k = 0; k < 2; k++) {
            json_t *r = member(e, refs[k]);
            if (json_is_object(r) && !*str_or_empty(r, "name"))
                e_required(c, pa("%s[%zu].%s.name", f, i, refs[k]).s, "");
        }
    }
}

/* AccumulateUniqueHostPorts: protocol/hostIP/hostPort unique across a list. */
static void validate_host_ports(json_t *c, const json_t *list, const char *f)
{
    json_t *seen = json_object();
    size_t i, j;
    json_t *ct, *p;
    json_array_foreach(list, i, ct)
    {
        json_array_foreach(member(ct, "ports"), j, p)
        {
            json_t *hp = member(p, "hostPort");
            if (!json_is_integer(hp) || json_integer_value(hp) == 0)
                continue;
            char *key = vk_xasprintf("%s/%s/%lld", str_or_empty(p, "protocol"),
                                     str_or_empty(p, "hostIP"), (long long)json_integer_value(hp));
            if (json_object_get(seen, key))
                e_duplicate_str(c, pa("%s[%zu].ports[%zu].hostPort", f, i, j).s, key);
            else
                json_object_set_new(seen, key, json_true());
            free(key);
        }
    }
    json_decref(seen);
}

static void validate_containers(json_t *c, const json_t *list, const json_t *volumes,
                                const char *f, int required, json_t *names, int user_ns)
{
    if (!json_is_array(list) || json_array_size(list) == 0) {
        if (required)
            e_required(c, f, "");
        return;
    }
    size_t i;
    json_t *ct;
    json_array_foreach(list, i, ct)
    {
        path_t base = pa("%s[%zu]", f, i);
        const char *name = str_or_empty(ct, "name");
        path_t np = pa("%s.name", base.s);
        if (!*name)
            e_required(c, np.s, "");
        else
            check_fn(c, np.s, name, dns1123_label);
        if (!*str_or_empty(ct, "image"))
            e_required(c, pa("%s.image", base.s).s, "");
        validate_container_ports(c, member(ct, "ports"), pa("%s.ports", base.s).s);
        validate_env(c, member(ct, "env"), pa("%s.env", base.s).s);
        validate_env_from(c, member(ct, "envFrom"), pa("%s.envFrom", base.s).s);
        validate_mounts(c, member(ct, "volumeMounts"), volumes, pa("%s.volumeMounts", base.s).s);
        const char *pp = str_or_empty(ct, "imagePullPolicy");
        if (!*pp)
            e_required(c, pa("%s.imagePullPolicy", base.s).s, "");
        else if (!in_list(pp, pull_policies))
            e_notsupported_str(c, pa("%s.imagePullPolicy", base.s).s, pp, pull_policies);
        validate_resources(c, member(ct, "resources"), pa("%s.resources", base.s).s);
        const char *tmp = str_or_empty(ct, "terminationMessagePolicy");
        if (!*tmp)
            e_required(c, pa("%s.terminationMessagePolicy", base.s).s, "");
        else if (!in_list(tmp, tm_policies))
            e_notsupported_str(c, pa("%s.terminationMessagePolicy", base.s).s, tmp, tm_policies);
        const char *pm = str_or_empty(member(ct, "securityContext"), "procMount");
        if (!strcmp(pm, "Unmasked") && !user_ns)
            e_invalid_str(c, pa("%s.securityContext.procMount", base.s).s, pm,
                          "`hostUsers` must be false to use `Unmasked`");
        if (*name && json_object_get(names, name))
            e_duplicate_str(c, np.s, name);
        else if (*name)
            json_object_set_new(names, name, json_true());
        json_t *lc = member(ct, "lifecycle");
        const char *hooks[] = {"postStart", "preStop"};
        for (int h = 0; h < 2; h++)
            if (is_set(lc, hooks[h]))
                validate_handler(c, member(lc, hooks[h]), pa("%s.lifecycle.%s", base.s, hooks[h]).s, 0);
        const char *probes[] = {"livenessProbe", "readinessProbe", "startupProbe"};
        for (int k = 0; k < 3; k++)
            if (is_set(ct, probes[k]))
                validate_handler(c, member(ct, probes[k]), pa("%s.%s", base.s, probes[k]).s, 1);
    }
    validate_host_ports(c, list, f);
}

static const char *const volume_sources[] = {
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs",
    "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos",
    "csi", "ephemeral", "image", NULL};

static void validate_volumes(json_t *c, const json_t *vols, const char *f)
{
    size_t i, j;
    json_t *v;
    json_array_foreach(vols, i, v)
    {
        path_t base = pa("%s[%zu]", f, i);
        int n = 0;
        for (int k = 0; volume_sources[k]; k++) {
            if (!is_set(v, volume_sources[k]))
                continue;
            if (++n > 1)
                e_forbidden(c, pa("%s.%s", base.s, volume_sources[k]).s,
                            "may not specify more than 1 volume type");
        }
        if (n == 0)
            e_required(c, base.s, "must specify a volume type");
        json_t *s;
        if ((s = member(v, "configMap")) && !*str_or_empty(s, "name"))
            e_required(c, pa("%s.configMap.name", base.s).s, "");
        if ((s = member(v, "secret")) && !*str_or_empty(s, "secretName"))
            e_required(c, pa("%s.secret.secretName", base.s).s, "");
        if ((s = member(v, "persistentVolumeClaim")) && !*str_or_empty(s, "claimName"))
            e_required(c, pa("%s.persistentVolumeClaim.claimName", base.s).s, "");
        if ((s = member(v, "hostPath")) && !*str_or_empty(s, "path"))
            e_required(c, pa("%s.hostPath.path", base.s).s, "");
        const char *name = str_or_empty(v, "name");
        path_t np = pa("%s.name", base.s);
        if (!*name)
            e_required(c, np.s, "");
        else
            check_fn(c, np.s, name, dns1123_label);
        json_t *o;
        json_array_foreach(vols, j, o)
        {
            if (j >= i)
                break;
            if (!strcmp(str_or_empty(o, "name"), name)) {
                e_duplicate_str(c, np.s, name);
                break;
            }
        }
    }
}

static const char *const restart_policies[] = {"Always", "OnFailure", "Never", NULL};
static const char *const dns_policies[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
                                           "None", NULL};

static void validate_tolerations(json_t *c, const json_t *tols, const char *f)
{
    static const char *const ops[] = {"Equal", "Exists", NULL};
    static const char *const effects[] = {"NoExecute", "NoSchedule", "PreferNoSchedule", NULL};
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t)
    {
        const char *key = str_or_empty(t, "key"), *op = str_or_empty(t, "operator");
        const char *eff = str_or_empty(t, "effect");
        if (*key)
            check_fn(c, pa("%s[%zu].key", f, i).s, key, qualified_name);
        if (!*key && strcmp(op, "Exists") != 0)
            e_invalid_str(c, pa("%s[%zu].operator", f, i).s, op,
                          "operator must be Exists when `key` is empty, which means \"match all "
                          "values and all keys\"");
        if (*op && !in_list(op, ops))
            e_notsupported_str(c, pa("%s[%zu].operator", f, i).s, op, ops);
        if (!strcmp(op, "Exists") && *str_or_empty(t, "value"))
            e_invalid_str(c, pa("%s[%zu].operator", f, i).s, str_or_empty(t, "value"),
                          "value must be empty when `operator` is 'Exists'");
        if (is_set(t, "tolerationSeconds") && strcmp(eff, "NoExecute") != 0)
            e_invalid_str(c, pa("%s[%zu].effect", f, i).s, eff,
                          "effect must be 'NoExecute' when `tolerationSeconds` is set");
        if (*eff && !in_list(eff, effects))
            e_notsupported_str(c, pa("%s[%zu].effect", f, i).s, eff, effects);
    }
}

static void validate_pod_spec(json_t *c, const json_t *spec, const char *f)
{
    json_t *vols = member(spec, "volumes");
    validate_volumes(c, vols, pa("%s.volumes", f).s);
    json_t *names = json_object();
    int user_ns = json_is_false(member(spec, "hostUsers"));
    validate_containers(c, member(spec, "containers"), vols, pa("%s.containers", f).s, 1, names,
                        user_ns);
    validate_containers(c, member(spec, "initContainers"), vols, pa("%s.initContainers", f).s, 0,
                        names, user_ns);
    json_decref(names);
    const char *rp = str_or_empty(spec, "restartPolicy");
    if (!*rp)
        e_required(c, pa("%s.restartPolicy", f).s, "");
    else if (!in_list(rp, restart_policies))
        e_notsupported_str(c, pa("%s.restartPolicy", f).s, rp, restart_policies);
    const char *dp = str_or_empty(spec, "dnsPolicy");
    if (!*dp)
        e_required(c, pa("%s.dnsPolicy", f).s, "");
    else if (!in_list(dp, dns_policies))
        e_notsupported_str(c, pa("%s.dnsPolicy", f).s, dp, dns_policies);
    validate_labels(c, member(spec, "nodeSelector"), pa("%s.nodeSelector", f).s);
    size_t i;
    json_t *ips;
    json_array_foreach(member(spec, "imagePullSecrets"), i, ips) if (!*str_or_empty(ips, "name"))
        e_required(c, pa("%s.imagePullSecrets[%zu].name", f, i).s, "");
    const char *sa = str_or_empty(spec, "serviceAccountName");
    if (*sa)
        check_fn(c, pa("%s.serviceAccountName", f).s, sa, dns1123_subdomain);
    const char *node = str_or_empty(spec, "nodeName");
    if (*node)
        check_fn(c, pa("%s.nodeName", f).s, node, dns1123_subdomain);
    json_t *ads = member(spec, "activeDeadlineSeconds");
    if (json_is_integer(ads) &&
        (json_integer_value(ads) < 1 || json_integer_value(ads) > 2147483647))
        e_invalid_int(c, pa("%s.activeDeadlineSeconds", f).s, json_integer_value(ads),
                      "must be between 1 and 2147483647, inclusive");
    const char *hn = str_or_empty(spec, "hostname");
    if (*hn)
        check_fn(c, pa("%s.hostname", f).s, hn, dns1123_label);
    const char *sd = str_or_empty(spec, "subdomain");
    if (*sd)
        check_fn(c, pa("%s.subdomain", f).s, sd, dns1123_label);
    validate_tolerations(c, member(spec, "tolerations"), pa("%s.tolerations", f).s);
    json_t *tgp = member(spec, "terminationGracePeriodSeconds");
    if (json_is_integer(tgp) && json_integer_value(tgp) < 0)
        e_invalid_int(c, pa("%s.terminationGracePeriodSeconds", f).s, json_integer_value(tgp),
                      "must be greater than or equal to 0");
}

#define POD_UPDATE_MSG                                                                             \
    "pod updates may not change fields other than `spec.containers[*].image`,"                     \
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "        \
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set " \
    "to 1 if it was previously negative)"

/* Copies the image of each old container into the same position of new. */
static void munge_images(json_t *nl, const json_t *ol)
{
    if (!json_is_array(nl) || !json_is_array(ol) || json_array_size(nl) != json_array_size(ol))
        return;
    size_t i;
    json_t *ct;
    json_array_foreach(nl, i, ct)
    {
        json_t *oimg = member(json_array_get(ol, i), "image");
        if (json_is_object(ct) && oimg)
            json_object_set(ct, "image", oimg);
    }
}

/* Appends "  <key>: <old> -> <new>" lines for top-level spec keys that differ. */
static void spec_diff(char *out, size_t cap, const json_t *a, const json_t *b)
{
    size_t n = strlen(out);
    const char *k;
    json_t *v;
    json_t *keys = json_object();
    json_object_foreach((json_t *)a, k, v) json_object_set_new(keys, k, json_true());
    json_object_foreach((json_t *)b, k, v) json_object_set_new(keys, k, json_true());
    json_object_foreach(keys, k, v)
    {
        json_t *x = json_object_get(a, k), *y = json_object_get(b, k);
        if (x && y && json_equal(x, y))
            continue;
        char *xs = render_json(x), *ys = render_json(y);
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "\n  spec.%s: %.200s -> %.200s", k,
                              xs, ys);
        free(xs);
        free(ys);
        if (n >= cap)
            break;
    }
    json_decref(keys);
}

static void validate_pod_update(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec"), *ospec = member(old, "spec");
    if (!json_is_object(spec) || !json_is_object(ospec))
        return;
    json_t *m = json_deep_copy(spec);
    munge_images(member(m, "containers"), member(ospec, "containers"));
    munge_images(member(m, "initContainers"), member(ospec, "initContainers"));
    /* activeDeadlineSeconds may be set or lowered, never unset or raised. */
    json_t *ads = member(spec, "activeDeadlineSeconds"), *oads = member(ospec, "activeDeadlineSeconds");
    if (json_is_integer(ads)) {
        if (json_is_integer(oads) && json_integer_value(ads) > json_integer_value(oads))
            e_invalid_int(c, "spec.activeDeadlineSeconds", json_integer_value(ads),
                          "must be less than or equal to previous value");
        if (oads)
            json_object_set(m, "activeDeadlineSeconds", oads);
        else
            json_object_del(m, "activeDeadlineSeconds");
    } else if (json_is_integer(oads)) {
        e_invalid_str(c, "spec.activeDeadlineSeconds", "", "must not update from a positive integer to nil value");
        json_object_set(m, "activeDeadlineSeconds", oads);
    }
    /* Tolerations: only additions to the existing ones. */
    json_t *tols = member(spec, "tolerations"), *otols = member(ospec, "tolerations");
    int superset = 1;
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(otols, i, t)
    {
        int found = 0;
        json_array_foreach(tols, j, u) if (json_equal(t, u)) found = 1;
        if (!found)
            superset = 0;
    }
    if (superset) {
        if (otols)
            json_object_set(m, "tolerations", otols);
        else
            json_object_del(m, "tolerations");
    }
    json_t *tg = member(spec, "terminationGracePeriodSeconds");
    json_t *otg = member(ospec, "terminationGracePeriodSeconds");
    if (json_is_integer(otg) && json_integer_value(otg) < 0 && json_is_integer(tg) &&
        json_integer_value(tg) == 1)
        json_object_set(m, "terminationGracePeriodSeconds", otg);
    if (!json_equal(m, ospec)) {
        char msg[4096] = POD_UPDATE_MSG;
        spec_diff(msg, sizeof msg, ospec, m);
        e_forbidden(c, "spec", msg);
    }
    json_decref(m);
}

/* ---- services --------------------------------------------------------------- */

static const char *const service_types[] = {"ClusterIP", "ExternalName", "LoadBalancer",
                                            "NodePort", NULL};
static const char *const affinities[] = {"ClientIP", "None", NULL};

static int is_ip(const char *s)
{
    unsigned a, b, cc, d;
    char tail;
    if (sscanf(s, "%u.%u.%u.%u%c", &a, &b, &cc, &d, &tail) == 4)
        return a < 256 && b < 256 && cc < 256 && d < 256;
    if (!strchr(s, ':'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
            return 0;
    return 1;
}

static void validate_service(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    const char *type = str_or_empty(spec, "type");
    const char *cip = str_or_empty(spec, "clusterIP");
    int headless = !strcmp(cip, "None");
    int external = !strcmp(type, "ExternalName");
    json_t *ports = member(spec, "ports");
    size_t nports = json_is_array(ports) ? json_array_size(ports) : 0;
    if (nports == 0 && !headless && !external)
        e_required(c, "spec.ports", "");
    size_t i, j;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        const char *name = str_or_empty(p, "name");
        if (nports > 1 && !*name) {
            e_required(c, pa("spec.ports[%zu].name", i).s, "");
        } else if (*name) {
            check_fn(c, pa("spec.ports[%zu].name", i).s, name, dns1123_label);
            json_t *q;
            json_array_foreach(ports, j, q)
            {
                if (j >= i)
                    break;
                if (!strcmp(str_or_empty(q, "name"), name)) {
                    e_duplicate_str(c, pa("spec.ports[%zu].name", i).s, name);
                    break;
                }
            }
        }
        json_t *port = member(p, "port");
        json_int_t pv = json_is_integer(port) ? json_integer_value(port) : 0;
        if (!valid_port(pv))
            e_invalid_int(c, pa("spec.ports[%zu].port", i).s, pv, PORT_RANGE_MSG);
        const char *proto = str_or_empty(p, "protocol");
        if (!*proto)
            e_required(c, pa("spec.ports[%zu].protocol", i).s, "");
        else if (!in_list(proto, protocols))
            e_notsupported_str(c, pa("spec.ports[%zu].protocol", i).s, proto, protocols);
        json_t *tp = member(p, "targetPort");
        if (json_is_integer(tp)) {
            if (!valid_port(json_integer_value(tp)))
                e_invalid_int(c, pa("spec.ports[%zu].targetPort", i).s, json_integer_value(tp),
                              PORT_RANGE_MSG);
        } else if (json_is_string(tp)) {
            msgs_t ms = {0};
            port_name(json_string_value(tp), &ms);
            invalid_msgs(c, pa("spec.ports[%zu].targetPort", i).s, json_string_value(tp), &ms);
        }
        json_t *np = member(p, "nodePort");
        if (json_is_integer(np) && json_integer_value(np) != 0) {
            if (strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0)
                e_forbidden(c, pa("spec.ports[%zu].nodePort", i).s,
                            "may not be used when `type` is 'ClusterIP'");
            else if (!valid_port(json_integer_value(np)))
                e_invalid_int(c, pa("spec.ports[%zu].nodePort", i).s, json_integer_value(np),
                              PORT_RANGE_MSG);
        }
    }
    if (!*type)
        e_required(c, "spec.type", "");
    else if (!in_list(type, service_types))
        e_notsupported_str(c, "spec.type", type, service_types);
    const char *aff = str_or_empty(spec, "sessionAffinity");
    if (!*aff)
        e_required(c, "spec.sessionAffinity", "");
    else if (!in_list(aff, affinities))
        e_notsupported_str(c, "spec.sessionAffinity", aff, affinities);
    if (external) {
        const char *en = str_or_empty(spec, "externalName");
        if (!*en) {
            e_required(c, "spec.externalName", "");
        } else {
            size_t n = strlen(en);
            char *t = vk_xstrndup(en, n && en[n - 1] == '.' ? n - 1 : n);
            check_fn(c, "spec.externalName", t, dns1123_subdomain);
            free(t);
        }
        if (*cip)
            e_forbidden(c, "spec.clusterIP", "may not be set for ExternalName services");
    } else if (*cip && !headless && !is_ip(cip)) {
        e_invalid_str(c, "spec.clusterIPs[0]", cip,
                      "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
    }
    json_t *sel = member(spec, "selector");
    validate_labels(c, sel, "spec.selector");
    if (old) {
        json_t *ospec = member(old, "spec");
        const char *otype = str_or_empty(ospec, "type");
        const char *ocip = str_or_empty(ospec, "clusterIP");
        if (strcmp(otype, "ExternalName") != 0 && !external && *ocip && strcmp(cip, ocip) != 0) {
            if (!*cip)
                e_invalid_json(c, "spec.clusterIPs[0]", member(spec, "clusterIPs"),
                               "primary clusterIP can not be unset");
            else
                e_invalid_json(c, "spec.clusterIPs[0]", member(spec, "clusterIPs") ? member(spec, "clusterIPs") : member(spec, "clusterIP"),
                               "may not change once set");
        }
    }
}

/* ---- configmaps and secrets -------------------------------------------------- */

#define MAX_DATA_SIZE (1024 * 1024)

static size_t b64_decoded_len(const char *s)
{
    size_t n = strlen(s);
    size_t pad = 0;
    while (n > pad && s[n - 1 - pad] == '=')
        pad++;
    return n / 4 * 3 + (n % 4 ? (n % 4) - 1 : 0) - (n % 4 ? 0 : pad);
}

static void validate_data_keys(json_t *c, const json_t *data, const char *f, size_t *total,
                               int base64)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)data, k, v)
    {
        msgs_t ms = {0};
        config_key(k, &ms);
        invalid_msgs(c, pa("%s[%s]", f, k).s, k, &ms);
        if (json_is_string(v))
            *total += base64 ? b64_decoded_len(json_string_value(v)) : json_string_length(v);
    }
}

static void validate_immutable_data(json_t *c, const json_t *obj, const json_t *old,
                                    const char *const *fields)
{
    if (!old || !json_is_true(member(old, "immutable")))
        return;
    if (!json_is_true(member(obj, "immutable")))
        e_forbidden(c, "immutable", "field is immutable when `immutable` is set");
    for (int i = 0; fields[i]; i++) {
        json_t *a = member(obj, fields[i]), *b = member(old, fields[i]);
        int ea = !a || json_is_null(a) || (json_is_object(a) && !json_object_size(a));
        int eb = !b || json_is_null(b) || (json_is_object(b) && !json_object_size(b));
        if (!(ea && eb) && !(a && b && json_equal(a, b)))
            e_forbidden(c, fields[i], "field is immutable when `immutable` is set");
    }
}

static void validate_configmap(json_t *c, const json_t *obj, const json_t *old)
{
    size_t total = 0;
    json_t *data = member(obj, "data"), *bin = member(obj, "binaryData");
    if (json_is_object(data))
        validate_data_keys(c, data, "data", &total, 0);
    if (json_is_object(bin)) {
        const char *k;
        json_t *v;
        json_object_foreach(bin, k, v)
        {
            msgs_t ms = {0};
            config_key(k, &ms);
            invalid_msgs(c, pa("binaryData[%s]", k).s, k, &ms);
            if (member(data, k))
                e_invalid_str(c, pa("binaryData[%s]", k).s, k, "duplicate of key present in data");
            if (json_is_string(v))
                total += b64_decoded_len(json_string_value(v));
        }
    }
    if (total > MAX_DATA_SIZE)
        e_toolong(c, "", MAX_DATA_SIZE);
    static const char *const fields[] = {"data", "binaryData", NULL};
    validate_immutable_data(c, obj, old, fields);
}

static void validate_secret(json_t *c, const json_t *obj, const json_t *old)
{
    size_t total = 0;
    json_t *data = member(obj, "data");
    if (json_is_object(data))
        validate_data_keys(c, data, "data", &total, 1);
    json_t *sd = member(obj, "stringData");
    if (json_is_object(sd))
        validate_data_keys(c, sd, "stringData", &total, 0);
    if (total > MAX_DATA_SIZE)
        e_toolong(c, "", MAX_DATA_SIZE);
    const char *type = str_or_empty(obj, "type");
#define HAS_KEY(k) (member(data, k) || member(sd, k))
    if (!strcmp(type, "kubernetes.io/service-account-token")) {
        if (!*str_or_empty(member(member(obj, "metadata"), "annotations"),
                           "kubernetes.io/service-account.name"))
            e_required(c, "metadata.annotations[kubernetes.io/service-account.name]", "");
    } else if (!strcmp(type, "kubernetes.io/dockercfg")) {
        if (!HAS_KEY(".dockercfg"))
            e_required(c, "data[.dockercfg]", "");
    } else if (!strcmp(type, "kubernetes.io/dockerconfigjson")) {
        if (!HAS_KEY(".dockerconfigjson"))
            e_required(c, "data[.dockerconfigjson]", "");
    } else if (!strcmp(type, "kubernetes.io/basic-auth")) {
        if (!HAS_KEY("username") && !HAS_KEY("password")) {
            e_required(c, "data[username]", "");
            e_required(c, "data[password]", "");
        }
    } else if (!strcmp(type, "kubernetes.io/ssh-auth")) {
        if (!HAS_KEY("ssh-privatekey"))
            e_required(c, "data[ssh-privatekey]", "");
    } else if (!strcmp(type, "kubernetes.io/tls")) {
        if (!HAS_KEY("tls.crt"))
            e_required(c, "data[tls.crt]", "");
        if (!HAS_KEY("tls.key"))
            e_required(c, "data[tls.key]", "");
    } else if (*type) {
        msgs_t ms = {0};
        qualified_name(type, &ms);
        invalid_msgs(c, "type", type, &ms);
    }
#undef HAS_KEY
    if (old) {
        immutable_str(c, "type", type, str_or_empty(old, "type"));
        static const char *const fields[] = {"data", NULL};
        validate_immutable_data(c, obj, old, fields);
    }
}

/* ---- label selectors ----------------------------------------------------------- */

static int string_in(const char *s, const json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return 1;
    return 0;
}

/* 1 when labels (object) match selector (LabelSelector JSON). */
static int selector_matches(const json_t *sel, const json_t *labels)
{
    const char *k;
    json_t *v;
    json_object_foreach(member(sel, "matchLabels"), k, v)
    {
        const char *lv = str_of(labels, k);
        if (!lv || !json_is_string(v) || strcmp(lv, json_string_value(v)) != 0)
            return 0;
    }
    size_t i;
    json_t *e;
    json_array_foreach(member(sel, "matchExpressions"), i, e)
    {
        const char *key = str_or_empty(e, "key"), *op = str_or_empty(e, "operator");
        const char *lv = str_of(labels, key);
        json_t *vals = member(e, "values");
        if (!strcmp(op, "In") && !(lv && string_in(lv, vals)))
            return 0;
        if (!strcmp(op, "NotIn") && lv && string_in(lv, vals))
            return 0;
        if (!strcmp(op, "Exists") && !lv)
            return 0;
        if (!strcmp(op, "DoesNotExist") && lv)
            return 0;
    }
    return 1;
}

static int selector_empty(const json_t *sel)
{
    return json_object_size(member(sel, "matchLabels")) == 0 &&
           json_array_size(member(sel, "matchExpressions")) == 0;
}

static void validate_label_selector(json_t *c, const json_t *sel, const char *f)
{
    validate_labels(c, member(sel, "matchLabels"), pa("%s.matchLabels", f).s);
    size_t i;
    json_t *e;
    json_array_foreach(member(sel, "matchExpressions"), i, e)
    {
        const char *op = str_or_empty(e, "operator");
        size_t nv = json_array_size(member(e, "values"));
        path_t ep = pa("%s.matchExpressions[%zu]", f, i);
        if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
            if (nv == 0)
                e_required(c, pa("%s.values", ep.s).s,
                           "must be specified when `operator` is 'In' or 'NotIn'");
        } else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist")) {
            if (nv > 0)
                e_forbidden(c, pa("%s.values", ep.s).s,
                            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
        } else {
            e_invalid_str(c, pa("%s.operator", ep.s).s, op, "not a valid selector operator");
        }
        check_fn(c, pa("%s.key", ep.s).s, str_or_empty(e, "key"), qualified_name);
    }
}

/* ---- workloads ------------------------------------------------------------------ */

static void nonneg(json_t *c, const json_t *o, const char *key, const char *f)
{
    json_t *v = member(o, key);
    if (json_is_integer(v) && json_integer_value(v) < 0)
        e_invalid_int(c, f, json_integer_value(v), "must be greater than or equal to 0");
}

/* Validates a pod template: labels, annotations, spec (with the given base). */
static void validate_template(json_t *c, const json_t *tmpl, const char *f)
{
    json_t *meta = member(tmpl, "metadata");
    validate_labels(c, member(meta, "labels"), pa("%s.metadata.labels", f).s);
    validate_annotations(c, member(meta, "annotations"), pa("%s.metadata.annotations", f).s);
    validate_pod_spec(c, member(tmpl, "spec"), pa("%s.spec", f).s);
}

/* Selector presence/emptiness/match for apps workloads and Jobs. */
static void validate_selector_and_template(json_t *c, const json_t *spec, const char *what,
                                           int required)
{
    json_t *sel = member(spec, "selector");
    json_t *tmpl = member(spec, "template");
    json_t *tlabels = member(member(tmpl, "metadata"), "labels");
    if (!sel || json_is_null(sel)) {
        /* A nil selector selects nothing, so the template never matches. */
        if (required)
            e_required(c, "spec.selector", "");
        e_invalid_json(c, "spec.template.metadata.labels", tlabels,
                       "`selector` does not match template `labels`");
        return;
    }
    validate_label_selector(c, sel, "spec.selector");
    if (selector_empty(sel)) {
        char *d = vk_xasprintf("empty selector is invalid for %s", what);
        e_invalid_json(c, "spec.selector", sel, d);
        free(d);
    } else if (!selector_matches(sel, json_is_object(tlabels) ? tlabels : NULL)) {
        e_invalid_json(c, "spec.template.metadata.labels", tlabels,
                       "`selector` does not match template `labels`");
    }
}

static const char *const always_only[] = {"Always", NULL};

static void validate_always_template(json_t *c, const json_t *spec, const char *what_cap)
{
    json_t *tspec = member(member(spec, "template"), "spec");
    const char *rp = str_or_empty(tspec, "restartPolicy");
    if (strcmp(rp, "Always") != 0)
        e_notsupported_str(c, "spec.template.spec.restartPolicy", rp, always_only);
    if (is_set(tspec, "activeDeadlineSeconds")) {
        char *d = vk_xasprintf("activeDeadlineSeconds in %s is not Supported", what_cap);
        e_forbidden(c, "spec.template.spec.activeDeadlineSeconds", d);
        free(d);
    }
}

/* IntOrString percent or value; returns the integer part, -1 on bad form. */
static long long int_or_percent(const json_t *v, int *is_percent)
{
    *is_percent = 0;
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        long long n = strtoll(s, &end, 10);
        if (end != s && !strcmp(end, "%")) {
            *is_percent = 1;
            return n;
        }
    }
    return -1;
}

static void validate_positive_int_or_percent(json_t *c, const json_t *v, const char *f)
{
    if (!v)
        return;
    int pct;
    long long n = int_or_percent(v, &pct);
    if (json_is_string(v) && n < 0 && !pct) {
        e_invalid_json(c, f, v, "a valid percent string must be a numeric string followed by an "
                                "ending '%' (e.g. '1%',  or '93%', regex used for validation is "
                                "'[0-9]+%')");
    } else if (n < 0) {
        e_invalid_json(c, f, v, "must be greater than or equal to 0");
    }
}

static void validate_deployment(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    nonneg(c, spec, "replicas", "spec.replicas");
    validate_selector_and_template(c, spec, "deployment", 1);
    validate_template(c, member(spec, "template"), "spec.template");
    validate_always_template(c, spec, "ReplicaSet");
    json_t *st = member(spec, "strategy");
    const char *type = str_or_empty(st, "type");
    json_t *ru = member(st, "rollingUpdate");
    static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
    if (!strcmp(type, "Recreate")) {
        if (ru && !json_is_null(ru))
            e_forbidden(c, "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'");
    } else if (!strcmp(type, "RollingUpdate")) {
        if (!ru || json_is_null(ru)) {
            e_required(c, "spec.strategy.rollingUpdate", "this should be defaulted and never be nil");
        } else {
            json_t *mu = member(ru, "maxUnavailable"), *ms = member(ru, "maxSurge");
            validate_positive_int_or_percent(c, mu, "spec.strategy.rollingUpdate.maxUnavailable");
            validate_positive_int_or_percent(c, ms, "spec.strategy.rollingUpdate.maxSurge");
            int p1, p2;
            long long u = int_or_percent(mu, &p1), s = int_or_percent(ms, &p2);
            if (u == 0 && s == 0)
                e_invalid_json(c, "spec.strategy.rollingUpdate.maxUnavailable", mu,
                               "may not be 0 when `maxSurge` is 0");
            if (p1 && u > 100)
                e_invalid_json(c, "spec.strategy.rollingUpdate.maxUnavailable", mu,
                               "must not be greater than 100%");
        }
    } else {
        e_notsupported_str(c, "spec.strategy.type", type, types);
    }
    nonneg(c, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
    nonneg(c, spec, "minReadySeconds", "spec.minReadySeconds");
    json_t *pds = member(spec, "progressDeadlineSeconds");
    if (json_is_integer(pds)) {
        nonneg(c, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds");
        json_t *mrs = member(spec, "minReadySeconds");
        if (json_is_integer(mrs) && json_integer_value(pds) <= json_integer_value(mrs))
            e_invalid_int(c, "spec.progressDeadlineSeconds", json_integer_value(pds),
                          "must be greater than minReadySeconds");
    }
    if (old)
        immutable_json(c, "spec.selector", member(spec, "selector"),
                       member(member(old, "spec"), "selector"));
}

static void validate_replicaset(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    nonneg(c, spec, "replicas", "spec.replicas");
    nonneg(c, spec, "minReadySeconds", "spec.minReadySeconds");
    validate_selector_and_template(c, spec, "deployment", 1);
    validate_template(c, member(spec, "template"), "spec.template");
    validate_always_template(c, spec, "ReplicaSet");
    if (old)
        immutable_json(c, "spec.selector", member(spec, "selector"),
                       member(member(old, "spec"), "selector"));
}

static void validate_daemonset(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    validate_selector_and_template(c, spec, "daemonset", 0);
    validate_template(c, member(spec, "template"), "spec.template");
    validate_always_template(c, spec, "DaemonSet");
    nonneg(c, spec, "minReadySeconds", "spec.minReadySeconds");
    nonneg(c, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
    json_t *us = member(spec, "updateStrategy");
    const char *type = str_or_empty(us, "type");
    static const char *const types[] = {"OnDelete", "RollingUpdate", NULL};
    if (!in_list(type, types))
        e_notsupported_str(c, "spec.updateStrategy.type", type, types);
    if (!strcmp(type, "RollingUpdate")) {
        json_t *ru = member(us, "rollingUpdate");
        json_t *mu = member(ru, "maxUnavailable"), *ms = member(ru, "maxSurge");
        validate_positive_int_or_percent(c, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
        validate_positive_int_or_percent(c, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
        int p1, p2;
        if (int_or_percent(mu, &p1) == 0 && int_or_percent(ms, &p2) == 0)
            e_invalid_json(c, "spec.updateStrategy.rollingUpdate.maxUnavailable", mu,
                           "may not be 0 when `maxSurge` is 0");
    }
    if (old)
        immutable_json(c, "spec.selector", member(spec, "selector"),
                       member(member(old, "spec"), "selector"));
}

static void validate_statefulset(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    static const char *const pmp[] = {"OrderedReady", "Parallel", NULL};
    const char *p = str_or_empty(spec, "podManagementPolicy");
    if (!*p)
        e_required(c, "spec.podManagementPolicy", "");
    else if (!in_list(p, pmp))
        e_invalid_str(c, "spec.podManagementPolicy", p,
                      "must be 'OrderedReady' or 'Parallel'");
    json_t *us = member(spec, "updateStrategy");
    static const char *const types[] = {"OnDelete", "RollingUpdate", NULL};
    const char *t = str_or_empty(us, "type");
    if (!*t)
        e_required(c, "spec.updateStrategy", "");
    else if (!in_list(t, types))
        e_invalid_str(c, "spec.updateStrategy", t, "must be 'RollingUpdate' or 'OnDelete'");
    else if (!strcmp(t, "OnDelete") && is_set(us, "rollingUpdate"))
        e_invalid_str(c, "spec.updateStrategy.rollingUpdate", t,
                      "only allowed for updateStrategy 'RollingUpdate'");
    nonneg(c, spec, "replicas", "spec.replicas");
    nonneg(c, spec, "minReadySeconds", "spec.minReadySeconds");
    validate_selector_and_template(c, spec, "statefulset", 1);
    /* The controller adds a volume per volumeClaimTemplate to each pod, so the
     * template's mounts may name them (as kube-apiserver accepts). */
    json_t *tmpl = json_deep_copy(member(spec, "template"));
    json_t *tspec = member(tmpl, "spec");
    if (json_is_object(tspec) && json_is_array(member(spec, "volumeClaimTemplates"))) {
        json_t *vols = member(tspec, "volumes");
        if (!json_is_array(vols)) {
            vols = json_array();
            json_object_set_new(tspec, "volumes", vols);
        }
        size_t vi;
        json_t *vct;
        json_array_foreach(member(spec, "volumeClaimTemplates"), vi, vct)
        {
            const char *vname = str_or_empty(member(vct, "metadata"), "name");
            if (!*vname) continue;
            json_array_append_new(vols, json_pack("{s:s, s:{s:s}}", "name", vname,
                                                  "persistentVolumeClaim", "claimName", vname));
        }
    }
    validate_template(c, tmpl, "spec.template");
    json_decref(tmpl);
    validate_always_template(c, spec, "StatefulSet");
    if (old) {
        /* Only these spec fields may change. */
        static const char *const mutable_fields[] = {
            "replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds", NULL};
        json_t *a = json_deep_copy(spec), *b = json_deep_copy(member(old, "spec"));
        for (int i = 0; mutable_fields[i]; i++) {
            json_object_del(a, mutable_fields[i]);
            json_object_del(b, mutable_fields[i]);
        }
        if (!json_equal(a, b))
            e_forbidden(c, "spec",
                        "updates to statefulset spec for fields other than 'replicas', "
                        "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                        "forbidden");
        json_decref(a);
        json_decref(b);
    }
}

/* ---- batch -------------------------------------------------------------------- */

static const char *const completion_modes[] = {"NonIndexed", "Indexed", NULL};

/* validateJobSpec; in_template for a CronJob's jobTemplate (no selector). */
static void validate_job_spec(json_t *c, const json_t *spec, const char *f, int in_template)
{
    nonneg(c, spec, "parallelism", pa("%s.parallelism", f).s);
    nonneg(c, spec, "completions", pa("%s.completions", f).s);
    nonneg(c, spec, "backoffLimit", pa("%s.backoffLimit", f).s);
    json_t *ads = member(spec, "activeDeadlineSeconds");
    if (json_is_integer(ads) && json_integer_value(ads) <= 0)
        e_invalid_int(c, pa("%s.activeDeadlineSeconds", f).s, json_integer_value(ads),
                      "must be greater than 0");
    const char *cm = str_of(spec, "completionMode");
    if (cm && !in_list(cm, completion_modes))
        e_notsupported_str(c, pa("%s.completionMode", f).s, cm, completion_modes);
    if (cm && !strcmp(cm, "Indexed") && !is_set(spec, "completions"))
        e_required(c, pa("%s.completions", f).s, "when completion mode is Indexed");
    json_t *tmpl = member(spec, "template");
    if (in_template) {
        if (is_set(spec, "selector"))
            e_invalid_json(c, pa("%s.selector", f).s, member(spec, "selector"),
                           "`selector` will be auto-generated");
        if (json_is_true(member(spec, "manualSelector"))) {
            static const char *const nv[] = {"nil", "false", NULL};
            e_notsupported(c, pa("%s.manualSelector", f).s, member(spec, "manualSelector"), nv);
        }
    } else {
        json_t *sel = member(spec, "selector");
        if (!sel || json_is_null(sel)) {
            e_required(c, pa("%s.selector", f).s, "");
        } else {
            validate_label_selector(c, sel, pa("%s.selector", f).s);
            json_t *tl = member(member(tmpl, "metadata"), "labels");
            if (!selector_matches(sel, json_is_object(tl) ? tl : NULL))
                e_invalid_json(c, pa("%s.template.metadata.labels", f).s, tl,
                               "`selector` does not match template `labels`");
        }
    }
    validate_template(c, tmpl, pa("%s.template", f).s);
    const char *rp = str_or_empty(member(tmpl, "spec"), "restartPolicy");
    if (strcmp(rp, "OnFailure") != 0 && strcmp(rp, "Never") != 0)
        e_required(c, pa("%s.template.spec.restartPolicy", f).s,
                   "valid values: \"OnFailure\", \"Never\"");
}

static void validate_job(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    validate_job_spec(c, spec, "spec", 0);
    if (!old)
        return;
    json_t *ospec = member(old, "spec");
    immutable_json(c, "spec.selector", member(spec, "selector"), member(ospec, "selector"));
    immutable_json(c, "spec.completionMode", member(spec, "completionMode"),
                   member(ospec, "completionMode"));
    /* The template may change only while the job is suspended. */
    if (!json_is_true(member(ospec, "suspend")) || !json_is_true(member(spec, "suspend")))
        immutable_json(c, "spec.template", member(spec, "template"), member(ospec, "template"));
    const char *cm = str_or_empty(spec, "completionMode");
    if (strcmp(cm, "Indexed") != 0)
        immutable_json(c, "spec.completions", member(spec, "completions"),
                       member(ospec, "completions"));
}

/* Cron schedules as robfig/cron's standard parser reads them, same messages. */
typedef struct cron_field {
    int min, max;
    const char *const *names; /* lowercase names for min..; NULL if none */
} cron_field_t;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* Parses an int or a name; 0 on success, else writes the error into err. */
static int cron_num(const char *s, const cron_field_t *fd, const char *expr, int *out, char *err,
                    size_t cap)
{
    if (fd->names) {
        for (int i = 0; fd->names[i]; i++) {
            if (!strcasecmp(s, fd->names[i])) {
                *out = fd->min + i;
                return 0;
            }
        }
    }
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    int ok = *p != 0;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            ok = 0;
    if (!ok) {
        snprintf(err, cap, "failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax",
                 s, s);
        return -1;
    }
    long v = strtol(s, NULL, 10);
    if (v < 0) {
        snprintf(err, cap, "negative number (%ld) not allowed: %s", v, s);
        return -1;
    }
    (void)expr;
    *out = (int)v;
    return 0;
}

static int cron_range(const char *expr, const cron_field_t *fd, char *err, size_t cap)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", expr);
    char *slash = strchr(buf, '/');
    if (slash && strchr(slash + 1, '/')) {
        snprintf(err, cap, "too many slashes: %s", expr);
        return -1;
    }
    if (slash)
        *slash = 0;
    int start, end;
    if (!strcmp(buf, "*") || !strcmp(buf, "?")) {
        start = fd->min;
        end = fd->max;
    } else {
        char *dash = strchr(buf, '-');
        if (dash && strchr(dash + 1, '-')) {
            snprintf(err, cap, "too many hyphens: %s", expr);
            return -1;
        }
        if (dash)
            *dash = 0;
        if (cron_num(buf, fd, expr, &start, err, cap))
            return -1;
        end = start;
        if (dash && cron_num(dash + 1, fd, expr, &end, err, cap))
            return -1;
    }
    if (slash) {
        int step;
        if (cron_num(slash + 1, fd, expr, &step, err, cap))
            return -1;
        if (step <= 0) {
            snprintf(err, cap, "step of range should be a positive number: %s", expr);
            return -1;
        }
    }
    if (start < fd->min) {
        snprintf(err, cap, "beginning of range (%d) below minimum (%d): %s", start, fd->min, expr);
        return -1;
    }
    if (end > fd->max) {
        snprintf(err, cap, "end of range (%d) above maximum (%d): %s", end, fd->max, expr);
        return -1;
    }
    if (start > end) {
        snprintf(err, cap, "beginning of range (%d) beyond end of range (%d): %s", start, end, expr);
        return -1;
    }
    return 0;
}

/* Checks d as Go's time.ParseDuration would; on error writes
 * "failed to parse duration <spec>: time: ..." into err. 0 or -1. */
static int go_duration_check(const char *d, char *err, size_t cap, const char *spec)
{
    static const char *const units[] = {"ns", "us", "\xc2\xb5s", "\xce\xbcs", "ms", "s", "m", "h", NULL};
    const char *p = d;
    if (*p == '+' || *p == '-')
        p++;
    if (!strcmp(p, "0"))
        return 0;
    if (!*p)
        goto invalid;
    while (*p) {
        const char *n0 = p;
        while (isdigit((unsigned char)*p))
            p++;
        int digits = p != n0;
        if (*p == '.') {
            p++;
            const char *f0 = p;
            while (isdigit((unsigned char)*p))
                p++;
            digits = digits || p != f0;
        }
        if (!digits)
            goto invalid;
        const char *u0 = p;
        while (*p && *p != '.' && !isdigit((unsigned char)*p))
            p++;
        if (p == u0) {
            snprintf(err, cap, "failed to parse duration %s: time: missing unit in duration \"%s\"", spec, d);
            return -1;
        }
        size_t ul = (size_t)(p - u0);
        int known = 0;
        for (int i = 0; units[i]; i++)
            if (strlen(units[i]) == ul && !strncmp(units[i], u0, ul))
                known = 1;
        if (!known) {
            snprintf(err, cap, "failed to parse duration %s: time: unknown unit \"%.*s\" in duration \"%s\"",
                     spec, (int)ul, u0, d);
            return -1;
        }
    }
    return 0;
invalid:
    snprintf(err, cap, "failed to parse duration %s: time: invalid duration \"%s\"", spec, d);
    return -1;
}

/* 0 if schedule parses; otherwise err holds robfig/cron's message. */
static int cron_parse(const char *schedule, char *err, size_t cap)
{
    const char *s = schedule;
    while (isspace((unsigned char)*s))
        s++;
    if (!strncmp(s, "TZ=", 3) || !strncmp(s, "CRON_TZ=", 8)) {
        while (*s && !isspace((unsigned char)*s))
            s++;
        while (isspace((unsigned char)*s))
            s++;
    }
    if (!*s) {
        snprintf(err, cap, "empty spec string");
        return -1;
    }
    if (*s == '@') {
        static const char *const desc[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                           "@daily", "@midnight", "@hourly", NULL};
        char word[64];
        snprintf(word, sizeof word, "%s", s);
        char *sp = word;
        while (*sp && !isspace((unsigned char)*sp))
            sp++;
        *sp = 0;
        if (in_list(word, desc))
            return 0;
        if (!strcmp(word, "@every")) {
            const char *d = s + 6;
            while (isspace((unsigned char)*d))
                d++;
            if (go_duration_check(d, err, cap, s) == 0)
                return 0;
            return -1;
        }
        snprintf(err, cap, "unrecognized descriptor: %s", s);
        return -1;
    }
    char *copy = vk_xstrdup(s);
    char *fields[16];
    int n = 0;
    for (char *tok = strtok(copy, " \t\n"); tok; tok = strtok(NULL, " \t\n"))
        if (n < 16)
            fields[n++] = tok;
        else
            n++;
    int rc = 0;
    if (n != 5) {
        size_t m = (size_t)snprintf(err, cap, "expected exactly 5 fields, found %d: [", n);
        for (int i = 0; i < n && i < 16 && m < cap; i++)
            m += (size_t)snprintf(err + m, cap - m, "%s%s", i ? " " : "", fields[i]);
        if (m < cap)
            snprintf(err + m, cap - m, "]");
        rc = -1;
    } else {
        static const cron_field_t fds[5] = {
            {0, 59, NULL}, {0, 23, NULL}, {1, 31, NULL}, {1, 12, month_names}, {0, 6, dow_names}};
        for (int i = 0; i < 5 && !rc; i++) {
            char *save = NULL;
            for (char *part = strtok_r(fields[i], ",", &save); part && !rc;
                 part = strtok_r(NULL, ",", &save))
                rc = cron_range(part, &fds[i], err, cap);
        }
    }
    free(copy);
    return rc;
}

static void validate_cronjob(json_t *c, const json_t *obj, const json_t *old)
{
    json_t *spec = member(obj, "spec");
    const char *sched = str_or_empty(spec, "schedule");
    if (!*sched) {
        e_required(c, "spec.schedule", "");
    } else {
        char err[512];
        if (cron_parse(sched, err, sizeof err))
            e_invalid_str(c, "spec.schedule", sched, err);
        if (strstr(sched, "TZ")) {
            if (is_set(spec, "timeZone"))
                e_invalid_str(c, "spec.schedule", sched,
                              "cannot use both timeZone field and TZ or CRON_TZ in schedule");
            else if (!old)
                e_invalid_str(c, "spec.schedule", sched,
                              "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
        }
    }
    nonneg(c, spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds");
    static const char *const policies[] = {"Allow", "Forbid", "Replace", NULL};
    const char *cp = str_or_empty(spec, "concurrencyPolicy");
    if (!*cp)
        e_required(c, "spec.concurrencyPolicy", "");
    else if (!in_list(cp, policies))
        e_notsupported_str(c, "spec.concurrencyPolicy", cp, policies);
    nonneg(c, spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit");
    nonneg(c, spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit");
    json_t *jt = member(spec, "jobTemplate");
    json_t *jm = member(jt, "metadata");
    validate_labels(c, member(jm, "labels"), "spec.jobTemplate.metadata.labels");
    validate_annotations(c, member(jm, "annotations"), "spec.jobTemplate.metadata.annotations");
    validate_job_spec(c, member(jt, "spec"), "spec.jobTemplate.spec", 1);
    const char *name = str_or_empty(member(obj, "metadata"), "name");
    if (!old && strlen(name) > 52)
        e_invalid_str(c, "metadata.name", name, "must be no more than 52 characters");
}

/* ---- rbac ------------------------------------------------------------------------ */

static void validate_rules(json_t *c, const json_t *rules, int namespaced)
{
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        path_t f = pa("rules[%zu]", i);
        if (json_array_size(member(r, "verbs")) == 0)
            e_required(c, pa("%s.verbs", f.s).s, "verbs must contain at least one value");
        json_t *nru = member(r, "nonResourceURLs");
        if (json_array_size(nru) > 0) {
            if (namespaced)
                e_invalid_json(c, pa("%s.nonResourceURLs", f.s).s, nru,
                               "namespaced rules cannot apply to non-resource URLs");
            if (json_array_size(member(r, "apiGroups")) || json_array_size(member(r, "resources")) ||
                json_array_size(member(r, "resourceNames")))
                e_invalid_json(c, pa("%s.nonResourceURLs", f.s).s, nru,
                               "rules cannot apply to both regular resources and non-resource URLs");
            continue;
        }
        if (json_array_size(member(r, "apiGroups")) == 0)
            e_required(c, pa("%s.apiGroups", f.s).s,
                       "resource rules must supply at least one api group");
        if (json_array_size(member(r, "resources")) == 0)
            e_required(c, pa("%s.resources", f.s).s,
                       "resource rules must supply at least one resource");
    }
}

static void validate_binding(json_t *c, const json_t *obj, const json_t *old, int namespaced)
{
    static const char *const rbac_group[] = {"rbac.authorization.k8s.io", NULL};
    static const char *const role_kinds[] = {"Role", "ClusterRole", NULL};
    static const char *const cluster_role_kind[] = {"ClusterRole", NULL};
    static const char *const subject_kinds[] = {"ServiceAccount", "User", "Group", NULL};
    static const char *const empty_group[] = {"", NULL};
    json_t *ref = member(obj, "roleRef");
    const char *ag = str_or_empty(ref, "apiGroup");
    if (strcmp(ag, rbac_group[0]) != 0)
        e_notsupported_str(c, "roleRef.apiGroup", ag, rbac_group);
    const char *kind = str_or_empty(ref, "kind");
    if (!in_list(kind, namespaced ? role_kinds : cluster_role_kind))
        e_notsupported_str(c, "roleRef.kind", kind, namespaced ? role_kinds : cluster_role_kind);
    const char *rn = str_or_empty(ref, "name");
    if (!*rn)
        e_required(c, "roleRef.name", "");
    else
        check_fn(c, "roleRef.name", rn, path_segment);
    size_t i;
    json_t *s;
    json_array_foreach(member(obj, "subjects"), i, s)
    {
        path_t f = pa("subjects[%zu]", i);
        const char *name = str_or_empty(s, "name"), *sk = str_or_empty(s, "kind");
        const char *sg = str_or_empty(s, "apiGroup");
        if (!*name)
            e_required(c, pa("%s.name", f.s).s, "");
        if (!strcmp(sk, "ServiceAccount")) {
            if (*name)
                check_fn(c, pa("%s.name", f.s).s, name, dns1123_subdomain);
            if (*sg)
                e_notsupported_str(c, pa("%s.apiGroup", f.s).s, sg, empty_group);
            if (!namespaced && !*str_or_empty(s, "namespace"))
                e_required(c, pa("%s.namespace", f.s).s, "");
        } else if (!strcmp(sk, "User") || !strcmp(sk, "Group")) {
            if (strcmp(sg, rbac_group[0]) != 0)
                e_notsupported_str(c, pa("%s.apiGroup", f.s).s, sg, rbac_group);
        } else {
            e_notsupported_str(c, pa("%s.kind", f.s).s, sk, subject_kinds);
        }
    }
    if (old && !json_equal(ref ? ref : json_null(), member(old, "roleRef") ? member(old, "roleRef") : json_null())) {
        /* Upstream prints its internal RoleRef struct (Go field names). */
        json_t *r = json_object();
        json_object_set_new(r, "APIGroup", json_string(str_or_empty(ref, "apiGroup")));
        json_object_set_new(r, "Kind", json_string(str_or_empty(ref, "kind")));
        json_object_set_new(r, "Name", json_string(str_or_empty(ref, "name")));
        char *s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
        add_err(c, "FieldValueInvalid", "Invalid value", "roleRef", s, "cannot change roleRef");
        free(s);
        json_decref(r);
    }
}

/* ---- other kinds ------------------------------------------------------------------ */

static void validate_pvc(json_t *c, const json_t *obj)
{
    static const char *const modes[] = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                        "ReadWriteOncePod", NULL};
    json_t *spec = member(obj, "spec");
    json_t *am = member(spec, "accessModes");
    if (json_array_size(am) == 0)
        e_required(c, "spec.accessModes", "at least 1 access mode is required");
    size_t i;
    json_t *m;
    json_array_foreach(am, i, m) if (!json_is_string(m) || !in_list(json_string_value(m), modes))
        e_notsupported(c, "spec.accessModes", m, modes);
    json_t *st = member(member(member(spec, "resources"), "requests"), "storage");
    long double q;
    if (!st) {
        e_required(c, "spec.resources[storage]", "");
    } else if (parse_quantity(st, &q) == 0 && q <= 0) {
        char *t = quantity_text(st);
        e_invalid_str(c, "spec.resources[storage]", t, "must be greater than zero");
        free(t);
    }
}

static void validate_ingress(json_t *c, const json_t *obj)
{
    static const char *const path_types[] = {"Exact", "ImplementationSpecific", "Prefix", NULL};
    json_t *spec = member(obj, "spec");
    json_t *rules = member(spec, "rules");
    if (!is_set(spec, "defaultBackend") && json_array_size(rules) == 0)
        e_invalid_json(c, "spec", NULL, "either `defaultBackend` or `rules` must be specified");
    size_t i, j;
    json_t *r, *p;
    json_array_foreach(rules, i, r)
    {
        const char *host = str_or_empty(r, "host");
        if (*host) {
            const char *h = !strncmp(host, "*.", 2) ? host + 2 : host;
            msgs_t ms = {0};
            dns1123_subdomain(h, &ms);
            invalid_msgs(c, pa("spec.rules[%zu].host", i).s, host, &ms);
        }
        json_array_foreach(member(member(r, "http"), "paths"), j, p)
        {
            path_t pp = pa("spec.rules[%zu].http.paths[%zu]", i, j);
            const char *pt = str_of(p, "pathType");
            const char *path = str_or_empty(p, "path");
            if (!pt) {
                e_required(c, pa("%s.pathType", pp.s).s, "pathType must be specified");
            } else if (!in_list(pt, path_types)) {
                e_notsupported_str(c, pa("%s.pathType", pp.s).s, pt, path_types);
            } else if (strcmp(pt, "ImplementationSpecific") != 0 || *path) {
                if (path[0] != '/')
                    e_invalid_str(c, pa("%s.path", pp.s).s, path, "must be an absolute path");
            }
            json_t *be = member(p, "backend");
            if (!is_set(be, "service") && !is_set(be, "resource"))
                e_invalid_str(c, pa("%s.backend", pp.s).s, "",
                              "resource or service backend is required");
        }
    }
}

static void validate_pdb(json_t *c, const json_t *obj)
{
    json_t *spec = member(obj, "spec");
    json_t *mina = member(spec, "minAvailable"), *maxu = member(spec, "maxUnavailable");
    if (mina && !json_is_null(mina) && maxu && !json_is_null(maxu)) {
        /* Upstream prints its internal struct here, Go field names and all. */
        json_t *v = json_object();
        json_object_set(v, "MinAvailable", mina);
        json_object_set(v, "Selector", member(spec, "selector") ? member(spec, "selector") : json_null());
        json_object_set(v, "MaxUnavailable", maxu);
        json_object_set(v, "UnhealthyPodEvictionPolicy",
                        member(spec, "unhealthyPodEvictionPolicy") ? member(spec, "unhealthyPodEvictionPolicy")
                                                                  : json_null());
        char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        add_err(c, "FieldValueInvalid", "Invalid value", "spec", s,
                "minAvailable and maxUnavailable cannot be both set");
        free(s);
        json_decref(v);
    }
    const char *keys[] = {"minAvailable", "maxUnavailable"};
    for (int k = 0; k < 2; k++) {
        json_t *v = member(spec, keys[k]);
        if (!v || json_is_null(v))
            continue;
        path_t f = pa("spec.%s", keys[k]);
        validate_positive_int_or_percent(c, v, f.s);
        int pct;
        long long n = int_or_percent(v, &pct);
        if (pct && n > 100)
            e_invalid_json(c, f.s, v, "must not be greater than 100%");
    }
    if (is_set(spec, "selector"))
        validate_label_selector(c, member(spec, "selector"), "spec.selector");
}

static void validate_lease(json_t *c, const json_t *obj)
{
    json_t *spec = member(obj, "spec");
    const char *keys[] = {"leaseDurationSeconds", "leaseTransitions"};
    json_t *d = member(spec, keys[0]);
    if (json_is_integer(d) && json_integer_value(d) <= 0)
        e_invalid_int(c, "spec.leaseDurationSeconds", json_integer_value(d), "must be greater than 0");
    nonneg(c, spec, keys[1], "spec.leaseTransitions");
}

/* ---- dispatch ------------------------------------------------------------------- */

int vk_validate_object(const char *group, const char *kind, const json_t *obj, const json_t *old,
                       json_t *causes)
{
    size_t before = json_array_size(causes);
    if (!group)
        group = "";
    if (!json_is_object(obj)) {
        e_required(causes, "", "object required");
        return VK_EINVALID;
    }
    validate_meta(causes, group, kind, member(obj, "metadata"));
    if (old)
        validate_meta_update(causes, member(obj, "metadata"), member(old, "metadata"));
    if (!*group) {
        if (!strcmp(kind, "Pod")) {
            validate_pod_spec(causes, member(obj, "spec"), "spec");
            if (old)
                validate_pod_update(causes, obj, old);
        } else if (!strcmp(kind, "PodTemplate")) {
            validate_template(causes, member(obj, "template"), "template");
        } else if (!strcmp(kind, "Service")) {
            validate_service(causes, obj, old);
        } else if (!strcmp(kind, "ConfigMap")) {
            validate_configmap(causes, obj, old);
        } else if (!strcmp(kind, "Secret")) {
            validate_secret(causes, obj, old);
        } else if (!strcmp(kind, "PersistentVolumeClaim")) {
            validate_pvc(causes, obj);
        } else if (!strcmp(kind, "Namespace")) {
            size_t i;
            json_t *f;
            json_array_foreach(member(member(obj, "spec"), "finalizers"), i, f)
            {
                const char *fs = json_is_string(f) ? json_string_value(f) : "";
                msgs_t ms = {0};
                qualified_name(fs, &ms);
                if (!ms.n && !strchr(fs, '/') && strcmp(fs, "kubernetes") != 0)
                    madd(&ms, "name is neither a standard finalizer name nor is it fully qualified");
                invalid_msgs(causes, pa("spec.finalizers[%zu]", i).s, fs, &ms);
            }
        }
    } else if (!strcmp(group, "apps")) {
        if (!strcmp(kind, "Deployment"))
            validate_deployment(causes, obj, old);
        else if (!strcmp(kind, "ReplicaSet"))
            validate_replicaset(causes, obj, old);
        else if (!strcmp(kind, "DaemonSet"))
            validate_daemonset(causes, obj, old);
        else if (!strcmp(kind, "StatefulSet"))
            validate_statefulset(causes, obj, old);
    } else if (!strcmp(group, "batch")) {
        if (!strcmp(kind, "Job"))
            validate_job(causes, obj, old);
        else if (!strcmp(kind, "CronJob"))
            validate_cronjob(causes, obj, old);
    } else if (!strcmp(group, "networking.k8s.io") && !strcmp(kind, "Ingress")) {
        validate_ingress(causes, obj);
    } else if (!strcmp(group, "policy") && !strcmp(kind, "PodDisruptionBudget")) {
        validate_pdb(causes, obj);
    } else if (!strcmp(group, "coordination.k8s.io") && !strcmp(kind, "Lease")) {
        validate_lease(causes, obj);
    } else if (!strcmp(group, "rbac.authorization.k8s.io")) {
        if (!strcmp(kind, "Role"))
            validate_rules(causes, member(obj, "rules"), 1);
        else if (!strcmp(kind, "ClusterRole"))
            validate_rules(causes, member(obj, "rules"), 0);
        else if (!strcmp(kind, "RoleBinding"))
            validate_binding(causes, obj, old, 1);
        else if (!strcmp(kind, "ClusterRoleBinding"))
            validate_binding(causes, obj, old, 0);
    }
    return json_array_size(causes) > before ? VK_EINVALID : 0;
}

char *vk_validate_message(const char *group, const char *kind, const char *name,
                          const json_t *causes)
{
    size_t cap = 256, n = 0;
    char *out = vk_xmalloc(cap);
    char qn[600];
    go_quote(qn, sizeof qn, name ? name : "");
    int m = snprintf(out, cap, "%s%s%s %s is invalid: ", kind, group && *group ? "." : "",
                     group ? group : "", qn);
    n = (size_t)m;
    if (n >= cap) {
        cap = n + 256;
        out = vk_xrealloc(out, cap);
        snprintf(out, cap, "%s%s%s %s is invalid: ", kind, group && *group ? "." : "",
                 group ? group : "", qn);
    }
    /* Distinct "field: message" strings, in order. */
    json_t *seen = json_object();
    json_t *parts = json_array();
    size_t i;
    json_t *cz;
    json_array_foreach(causes, i, cz)
    {
        char *s = vk_xasprintf("%s: %s", str_or_empty(cz, "field"), str_or_empty(cz, "message"));
        if (!json_object_get(seen, s)) {
            json_object_set_new(seen, s, json_true());
            json_array_append_new(parts, json_string(s));
        }
        free(s);
    }
    size_t np = json_array_size(parts);
    json_t *p;
    json_array_foreach(parts, i, p)
    {
        const char *s = json_string_value(p);
        size_t need = n + strlen(s) + 8;
        if (need > cap) {
            cap = need * 2;
            out = vk_xrealloc(out, cap);
        }
        n += (size_t)snprintf(out + n, cap - n, "%s%s%s%s", np > 1 && i == 0 ? "[" : "",
                              i ? ", " : "", s, np > 1 && i == np - 1 ? "]" : "");
    }
    json_decref(parts);
    json_decref(seen);
    return out;
}
