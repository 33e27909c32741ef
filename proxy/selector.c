/* selector: label and field selector parsing and matching (see selector.h).
 * The label grammar, lexer and error texts follow
 * k8s.io/apimachinery/pkg/labels (Parse) and pkg/fields (ParseSelector). */
#include "proxy/selector.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

/* ---- small string helpers ----------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_putn(sbuf_t *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = vk_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(sbuf_t *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_putc(sbuf_t *b, char c) { sb_putn(b, &c, 1); }

/* Appends s quoted as Go's %q would for ASCII input. */
static void sb_quote(sbuf_t *b, const char *s) {
    sb_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)*p);
        } else if (*p == '\n') {
            sb_puts(b, "\\n");
        } else if (*p == '\t') {
            sb_puts(b, "\\t");
        } else if (*p == '\r') {
            sb_puts(b, "\\r");
        } else if (*p < 0x20 || *p == 0x7f) {
            char tmp[8];
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
            sb_puts(b, tmp);
        } else {
            sb_putc(b, (char)*p);
        }
    }
    sb_putc(b, '"');
}

static void set_err(char **err, char *msg) {
    if (err)
        *err = msg;
    else
        free(msg);
}

/* ---- label key / value validation (k8s.io/apimachinery/pkg/util/validation) */

static const char QUALIFIED_MSG[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
static const char DNS1123_MSG[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
static const char LABEL_VALUE_MSG[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

static bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over s[0..n). */
static bool qualified_ok(const char *s, size_t n) {
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    return true;
}

static bool dns1123_subdomain_ok(const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            size_t len = i - start;
            if (len == 0)
                return false;
            const char *l = s + start;
            bool lower0 = (l[0] >= 'a' && l[0] <= 'z') || (l[0] >= '0' && l[0] <= '9');
            bool lowerN = (l[len - 1] >= 'a' && l[len - 1] <= 'z') ||
                          (l[len - 1] >= '0' && l[len - 1] <= '9');
            if (!lower0 || !lowerN)
                return false;
            for (size_t j = 0; j < len; j++)
                if (!((l[j] >= 'a' && l[j] <= 'z') || (l[j] >= '0' && l[j] <= '9') || l[j] == '-'))
                    return false;
            start = i + 1;
        }
    }
    return true;
}

static void add_msg(sbuf_t *b, const char *prefix, const char *msg) {
    if (b->len)
        sb_puts(b, "; ");
    sb_puts(b, prefix);
    sb_puts(b, msg);
}

/* IsQualifiedName: NULL when valid, else the "; "-joined messages (caller frees). */
static char *qualified_name_errors(const char *v) {
    sbuf_t b = {0};
    const char *slash = strchr(v, '/');
    const char *name = v;
    if (slash) {
        if (strchr(slash + 1, '/')) {
            add_msg(&b, "a valid label key ", QUALIFIED_MSG);
            sb_puts(&b, " with an optional DNS subdomain prefix and '/' (e.g. "
                        "'example.com/MyName')");
            return b.p;
        }
        size_t plen = (size_t)(slash - v);
        if (plen == 0)
            add_msg(&b, "prefix part ", "must be non-empty");
        else {
            if (plen > 253)
                add_msg(&b, "prefix part ", "must be no more than 253 bytes");
            if (!dns1123_subdomain_ok(v, plen))
                add_msg(&b, "prefix part ", DNS1123_MSG);
        }
        name = slash + 1;
    }
    size_t nlen = strlen(name);
    if (nlen == 0)
        add_msg(&b, "name part ", "must be non-empty");
    else if (nlen > 63)
        add_msg(&b, "name part ", "must be no more than 63 bytes");
    if (!qualified_ok(name, nlen))
        add_msg(&b, "name part ", QUALIFIED_MSG);
    return b.p;
}

/* IsValidLabelValue: NULL when valid, else the messages (caller frees). */
static char *label_value_errors(const char *v) {
    sbuf_t b = {0};
    size_t n = strlen(v);
    if (n > 63)
        add_msg(&b, "", "must be no more than 63 bytes");
    if (n > 0 && !qualified_ok(v, n))
        add_msg(&b, "", LABEL_VALUE_MSG);
    return b.p;
}

/* "<path>: Invalid value: "<v>": <detail>" (field.Invalid's text). */
static char *invalid_msg(const char *path, const char *v, const char *detail) {
    sbuf_t b = {0};
    sb_puts(&b, path);
    sb_puts(&b, ": Invalid value: ");
    sb_quote(&b, v);
    sb_puts(&b, ": ");
    sb_puts(&b, detail);
    return b.p;
}

/* ---- label selector ------------------------------------------------------ */

enum op { OP_IN, OP_NOTIN, OP_EQ, OP_NE, OP_EXISTS, OP_NOTEXISTS, OP_GT, OP_LT };

typedef struct {
    char *key;
    enum op op;
    char **vals; /* sorted, unique */
    size_t nvals;
    long long num; /* OP_GT / OP_LT operand */
} req_t;

struct vk_selector_label {
    req_t *reqs;
    size_t n;
};

enum tok { T_END, T_ID, T_NOT, T_NE, T_LPAR, T_RPAR, T_COMMA, T_EQ, T_EQEQ, T_GT, T_LT, T_IN, T_NOTIN };

typedef struct {
    enum tok tok;
    char *lit;
} token_t;

static bool is_special(char c) {
    return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int special_token(const char *s, size_t n) {
    static const struct {
        const char *s;
        enum tok t;
    } tab[] = {{"!", T_NOT}, {"!=", T_NE},  {"(", T_LPAR}, {")", T_RPAR}, {",", T_COMMA},
               {"=", T_EQ},  {"==", T_EQEQ}, {">", T_GT},  {"<", T_LT}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].s) == n && memcmp(tab[i].s, s, n) == 0)
            return (int)tab[i].t;
    return -1;
}

/* Splits s into tokens as upstream's Lexer does; the last one is T_END. */
static token_t *lex(const char *s, size_t *ntok) {
    size_t n = 0, cap = 8;
    token_t *t = vk_xmalloc(cap * sizeof *t);
    size_t i = 0;
    for (;;) {
        while (s[i] && is_space(s[i]))
            i++;
        if (n + 1 >= cap) {
            cap *= 2;
            t = vk_xrealloc(t, cap * sizeof *t);
        }
        if (!s[i]) {
            t[n++] = (token_t){T_END, vk_xstrdup("")};
            break;
        }
        if (is_special(s[i])) {
            /* Greedy: extend while the longer string is still a token. */
            size_t len = 1;
            int tok = special_token(s + i, 1);
            while (s[i + len] && is_special(s[i + len])) {
                int t2 = special_token(s + i, len + 1);
                if (t2 < 0)
                    break;
                tok = t2;
                len++;
            }
            t[n++] = (token_t){(enum tok)tok, vk_xstrndup(s + i, len)};
            i += len;
        } else {
            size_t start = i;
            while (s[i] && !is_special(s[i]) && !is_space(s[i]))
                i++;
            char *lit = vk_xstrndup(s + start, i - start);
            enum tok tok = T_ID;
            if (strcmp(lit, "in") == 0)
                tok = T_IN;
            else if (strcmp(lit, "notin") == 0)
                tok = T_NOTIN;
            t[n++] = (token_t){tok, lit};
        }
    }
    *ntok = n;
    return t;
}

typedef struct {
    token_t *t;
    size_t n, pos;
    char *err; /* first error, owned */
} parser_t;

/* In a values context, "in" and "notin" are plain identifiers. */
static enum tok peek(parser_t *p, bool values) {
    enum tok t = p->t[p->pos].tok;
    if (values && (t == T_IN || t == T_NOTIN))
        t = T_ID;
    return t;
}

static enum tok next(parser_t *p, bool values, const char **lit) {
    enum tok t = peek(p, values);
    *lit = p->t[p->pos].lit;
    if (p->pos + 1 < p->n)
        p->pos++;
    return t;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void set_add(char ***vals, size_t *n, const char *v) {
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*vals)[i], v) == 0)
            return;
    *vals = vk_xrealloc(*vals, (*n + 1) * sizeof **vals);
    (*vals)[(*n)++] = vk_xstrdup(v);
}

static void req_clear(req_t *r) {
    free(r->key);
    for (size_t i = 0; i < r->nvals; i++)
        free(r->vals[i]);
    free(r->vals);
}

/* strconv.ParseInt(s, 10, 64): optional sign, digits, in range. */
static bool parse_int64(const char *s, long long *out) {
    const char *d = s + (*s == '+' || *s == '-');
    if (!*d)
        return false;
    for (const char *q = d; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno)
        return false;
    *out = v;
    return true;
}

/* Appends one field error to an aggregate being built. */
static void agg_add(sbuf_t *b, size_t *n, char *msg) {
    if (b->len && !strstr(b->p, msg)) { /* the aggregate drops duplicates */
        sb_puts(b, ", ");
        sb_puts(b, msg);
        (*n)++;
    } else if (!b->len) {
        sb_puts(b, msg);
        (*n)++;
    }
    free(msg);
}

/* Upstream NewRequirement's checks on an assembled requirement: every error,
 * one alone or "[e1, e2]" as an error aggregate prints them. */
static char *check_requirement(req_t *r) {
    if (r->nvals > 1)
        qsort(r->vals, r->nvals, sizeof *r->vals, cmp_str);
    sbuf_t b = {0};
    size_t n = 0;
    if (r->op == OP_GT || r->op == OP_LT) {
        if (r->nvals != 1)
            agg_add(&b, &n, vk_xstrdup("values: Invalid value: for 'Gt', 'Lt' operators, "
                                       "exactly one value is required"));
        for (size_t i = 0; i < r->nvals; i++) {
            if (!parse_int64(r->vals[i], &r->num)) {
                char *path = vk_xasprintf("values[%zu]", i);
                agg_add(&b, &n,
                        invalid_msg(path, r->vals[i],
                                    "for 'Gt', 'Lt' operators, the value must be an integer"));
                free(path);
            }
        }
    }
    for (size_t i = 0; i < r->nvals; i++) {
        char *e = label_value_errors(r->vals[i]);
        if (e) {
            char *path = vk_xasprintf("values[%zu][%s]", i, r->key);
            agg_add(&b, &n, invalid_msg(path, r->vals[i], e));
            free(path);
            free(e);
        }
    }
    if (n > 1) {
        char *m = vk_xasprintf("[%s]", b.p);
        free(b.p);
        return m;
    }
    return b.p;
}

/* One requirement; on error sets p->err (without the "unable to parse" prefix). */
static bool parse_requirement(parser_t *p, req_t *r) {
    const char *lit;
    enum tok t = next(p, true, &lit);
    bool negated = false;
    if (t == T_NOT) {
        negated = true;
        t = next(p, true, &lit);
    }
    if (t != T_ID) {
        p->err = vk_xasprintf("found '%s', expected: identifier", lit);
        return false;
    }
    char *kerr = qualified_name_errors(lit);
    if (kerr) {
        p->err = invalid_msg("<nil>", lit, kerr);
        free(kerr);
        return false;
    }
    r->key = vk_xstrdup(lit);
    enum tok la = peek(p, true);
    if (negated || la == T_END || la == T_COMMA) {
        r->op = negated ? OP_NOTEXISTS : OP_EXISTS;
        return true;
    }
    t = next(p, false, &lit);
    switch (t) {
    case T_IN: r->op = OP_IN; break;
    case T_NOTIN: r->op = OP_NOTIN; break;
    case T_EQ:
    case T_EQEQ: r->op = OP_EQ; break;
    case T_NE: r->op = OP_NE; break;
    case T_GT: r->op = OP_GT; break;
    case T_LT: r->op = OP_LT; break;
    default:
        p->err = vk_xasprintf("found '%s', expected: in, notin, =, ==, !=, gt, lt", lit);
        return false;
    }
    if (r->op == OP_IN || r->op == OP_NOTIN) {
        t = next(p, true, &lit);
        if (t != T_LPAR) {
            p->err = vk_xasprintf("found '%s' expected: '('", lit);
            return false;
        }
        const char *first_lit = p->t[p->pos].lit;
        t = peek(p, true);
        if (t == T_RPAR) {
            next(p, true, &lit);
            set_add(&r->vals, &r->nvals, "");
        } else if (t == T_ID || t == T_COMMA) {
            for (;;) {
                t = next(p, true, &lit);
                if (t == T_ID) {
                    set_add(&r->vals, &r->nvals, lit);
                    enum tok t2 = peek(p, true);
                    if (t2 == T_COMMA)
                        continue;
                    if (t2 == T_RPAR)
                        break;
                    p->err = vk_xasprintf("found '%s', expected: ',' or ')'", p->t[p->pos].lit);
                    return false;
                } else if (t == T_COMMA) {
                    if (r->nvals == 0)
                        set_add(&r->vals, &r->nvals, "");
                    enum tok t2 = peek(p, true);
                    if (t2 == T_RPAR) {
                        set_add(&r->vals, &r->nvals, "");
                        break;
                    }
                    if (t2 == T_COMMA) {
                        next(p, true, &lit);
                        set_add(&r->vals, &r->nvals, "");
                    }
                } else {
                    p->err = vk_xasprintf("found '%s', expected: ',', or identifier", lit);
                    return false;
                }
            }
            if (next(p, true, &lit) != T_RPAR) {
                p->err = vk_xasprintf("found '%s', expected: ')'", first_lit);
                return false;
            }
        } else {
            p->err = vk_xasprintf("found '%s', expected: ',', ')' or identifier", first_lit);
            return false;
        }
    } else {
        t = peek(p, true);
        if (t == T_END || t == T_COMMA) {
            set_add(&r->vals, &r->nvals, "");
        } else {
            t = next(p, true, &lit);
            if (t != T_ID) {
                p->err = vk_xasprintf("found '%s', expected: identifier", lit);
                return false;
            }
            set_add(&r->vals, &r->nvals, lit);
        }
    }
    p->err = check_requirement(r);
    return p->err == NULL;
}

void vk_selector_label_free(vk_selector_label_t *sel) {
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++)
        req_clear(&sel->reqs[i]);
    free(sel->reqs);
    free(sel);
}

int vk_selector_label_parse(const char *s, vk_selector_label_t **out, char **err) {
    *out = NULL;
    if (err)
        *err = NULL;
    vk_selector_label_t *sel = vk_xcalloc(1, sizeof *sel);
    parser_t p = {0};
    p.t = lex(s ? s : "", &p.n);
    for (;;) {
        const char *lit = p.t[p.pos].lit;
        enum tok t = peek(&p, true);
        if (t == T_END)
            break;
        if (t != T_ID && t != T_NOT) {
            p.err = vk_xasprintf("found '%s', expected: !, identifier, or 'end of string'", lit);
            break;
        }
        req_t r = {0};
        if (!parse_requirement(&p, &r)) {
            req_clear(&r);
            char *m = vk_xasprintf("unable to parse requirement: %s", p.err);
            free(p.err);
            p.err = m;
            break;
        }
        sel->reqs = vk_xrealloc(sel->reqs, (sel->n + 1) * sizeof *sel->reqs);
        sel->reqs[sel->n++] = r;
        t = next(&p, true, &lit);
        if (t == T_END)
            break;
        if (t != T_COMMA) {
            p.err = vk_xasprintf("found '%s', expected: ',' or 'end of string'", lit);
            break;
        }
        enum tok t2 = peek(&p, true);
        if (t2 != T_ID && t2 != T_NOT) {
            p.err = vk_xasprintf("found '%s', expected: identifier after ','", p.t[p.pos].lit);
            break;
        }
    }
    for (size_t i = 0; i < p.n; i++)
        free(p.t[i].lit);
    free(p.t);
    if (p.err) {
        vk_selector_label_free(sel);
        set_err(err, p.err);
        return VK_EBADREQUEST;
    }
    *out = sel;
    return 0;
}

static bool req_match(const req_t *r, const json_t *labels) {
    json_t *v = json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    switch (r->op) {
    case OP_IN:
    case OP_EQ:
        if (!s)
            return false;
        for (size_t i = 0; i < r->nvals; i++)
            if (strcmp(r->vals[i], s) == 0)
                return true;
        return false;
    case OP_NOTIN:
    case OP_NE:
        if (!s)
            return true;
        for (size_t i = 0; i < r->nvals; i++)
            if (strcmp(r->vals[i], s) == 0)
                return false;
        return true;
    case OP_EXISTS: return s != NULL;
    case OP_NOTEXISTS: return s == NULL;
    case OP_GT:
    case OP_LT: {
        long long lv;
        if (!s || !parse_int64(s, &lv))
            return false;
        return r->op == OP_GT ? lv > r->num : lv < r->num;
    }
    }
    return false;
}

int vk_selector_label_match(const vk_selector_label_t *sel, const json_t *labels) {
    for (size_t i = 0; i < sel->n; i++)
        if (!req_match(&sel->reqs[i], labels))
            return 0;
    return 1;
}

int vk_selector_label_empty(const vk_selector_label_t *sel) { return sel->n == 0; }

/* ---- LabelSelector objects ----------------------------------------------- */

static int object_fail(char **err, char *msg) {
    set_err(err, msg);
    return VK_EINVALID;
}

int vk_selector_object_match(const json_t *selector, const json_t *labels, char **err) {
    if (err)
        *err = NULL;
    if (!selector || json_is_null(selector))
        return 0;
    if (!json_is_object(selector))
        return object_fail(err, vk_xstrdup("selector: must be an object"));
    int match = 1;
    json_t *ml = json_object_get(selector, "matchLabels");
    if (ml && !json_is_null(ml)) {
        if (!json_is_object(ml))
            return object_fail(err, vk_xstrdup("matchLabels: must be an object"));
        const char *k;
        json_t *v;
        json_object_foreach(ml, k, v) {
            if (!json_is_string(v))
                return object_fail(err, vk_xasprintf("matchLabels[%s]: must be a string", k));
            req_t r = {.key = vk_xstrdup(k), .op = OP_EQ};
            set_add(&r.vals, &r.nvals, json_string_value(v));
            char *e = qualified_name_errors(k);
            char *m = e ? invalid_msg("key", k, e) : check_requirement(&r);
            free(e);
            if (m) {
                req_clear(&r);
                return object_fail(err, m);
            }
            if (match && !req_match(&r, labels))
                match = 0;
            req_clear(&r);
        }
    }
    json_t *me = json_object_get(selector, "matchExpressions");
    if (me && !json_is_null(me)) {
        if (!json_is_array(me))
            return object_fail(err, vk_xstrdup("matchExpressions: must be an array"));
        size_t i;
        json_t *x;
        json_array_foreach(me, i, x) {
            const char *key = json_string_value(json_object_get(x, "key"));
            const char *op = json_string_value(json_object_get(x, "operator"));
            json_t *vals = json_object_get(x, "values");
            if (!key || !op)
                return object_fail(
                    err, vk_xasprintf("matchExpressions[%zu]: key and operator are required", i));
            req_t r = {.key = vk_xstrdup(key)};
            size_t nv = json_is_array(vals) ? json_array_size(vals) : 0;
            for (size_t j = 0; j < nv; j++) {
                const char *s = json_string_value(json_array_get(vals, j));
                set_add(&r.vals, &r.nvals, s ? s : "");
            }
            char *m = NULL;
            if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0) {
                r.op = op[0] == 'I' ? OP_IN : OP_NOTIN;
                if (nv == 0)
                    m = vk_xstrdup("values: Invalid value: null: for 'in', 'notin' "
                                   "operators, values set can't be empty");
            } else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
                r.op = op[0] == 'E' ? OP_EXISTS : OP_NOTEXISTS;
                if (nv != 0) {
                    char *vs = json_dumps(vals, JSON_COMPACT | JSON_ENCODE_ANY);
                    m = vk_xasprintf("values: Invalid value: %s: values set must be empty for "
                                     "exists and does not exist",
                                     vs ? vs : "[]");
                    free(vs);
                }
            } else {
                sbuf_t b = {0};
                sb_quote(&b, op);
                sb_puts(&b, " is not a valid label selector operator");
                m = b.p;
            }
            if (!m) {
                char *e = qualified_name_errors(key);
                m = e ? invalid_msg("key", key, e) : check_requirement(&r);
                free(e);
            }
            if (m) {
                req_clear(&r);
                return object_fail(err, m);
            }
            if (match && !req_match(&r, labels))
                match = 0;
            req_clear(&r);
        }
    }
    return match;
}

/* ---- field selectors ----------------------------------------------------- */

typedef struct {
    char *field;
    char *value;
    bool neg;
} term_t;

struct vk_selector_field {
    term_t *terms;
    size_t n;
};

void vk_selector_field_free(vk_selector_field_t *sel) {
    if (!sel)
        return;
    for (size_t i = 0; i < sel->n; i++) {
        free(sel->terms[i].field);
        free(sel->terms[i].value);
    }
    free(sel->terms);
    free(sel);
}

/* Unescapes a field selector value; NULL with *err set on a bad escape. */
static char *unescape_value(const char *s, char **err) {
    sbuf_t b = {0};
    sb_puts(&b, "");
    bool in_slash = false;
    for (const char *p = s; *p; p++) {
        if (in_slash) {
            if (*p != '\\' && *p != ',' && *p != '=') {
                free(b.p);
                *err = vk_xasprintf("invalid field selector: invalid escape sequence: \\%c", *p);
                return NULL;
            }
            sb_putc(&b, *p);
            in_slash = false;
        } else if (*p == '\\') {
            in_slash = true;
        } else if (*p == ',' || *p == '=') {
            free(b.p);
            *err = vk_xasprintf("invalid field selector: unescaped character in value: %d", *p);
            return NULL;
        } else {
            sb_putc(&b, *p);
        }
    }
    if (in_slash) {
        free(b.p);
        *err = vk_xstrdup("invalid field selector: invalid escape sequence: \\");
        return NULL;
    }
    return b.p;
}

static int cmp_bytes(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int vk_selector_field_parse(const char *s, vk_selector_field_t **out, char **err) {
    *out = NULL;
    if (err)
        *err = NULL;
    if (!s)
        s = "";
    vk_selector_field_t *sel = vk_xcalloc(1, sizeof *sel);
    /* split on unescaped commas, then handle the terms in sorted order as
     * upstream does (so the first error reported is the same) */
    size_t len = strlen(s), start = 0, nparts = 0;
    char **parts = NULL;
    bool in_slash = false;
    for (size_t i = 0; len && i <= len; i++) {
        if (i < len) {
            if (in_slash) {
                in_slash = false;
                continue;
            }
            if (s[i] == '\\') {
                in_slash = true;
                continue;
            }
            if (s[i] != ',')
                continue;
        }
        parts = vk_xrealloc(parts, (nparts + 1) * sizeof *parts);
        parts[nparts++] = vk_xstrndup(s + start, i - start);
        start = i + 1;
    }
    if (nparts > 1)
        qsort(parts, nparts, sizeof *parts, cmp_bytes);
    int rc = 0;
    for (size_t pi = 0; pi < nparts && rc == 0; pi++) {
        char *part = parts[pi];
        if (!*part)
            continue;
        char *op = NULL;
        size_t oplen = 0;
        for (char *q = part; *q && !op; q++) {
            if (q[0] == '!' && q[1] == '=')
                op = q, oplen = 2;
            else if (q[0] == '=' && q[1] == '=')
                op = q, oplen = 2;
            else if (q[0] == '=')
                op = q, oplen = 1;
        }
        if (!op) {
            set_err(err, vk_xasprintf("invalid selector: '%s'; can't understand '%s'", s, part));
            rc = VK_EBADREQUEST;
            break;
        }
        char *uerr = NULL;
        char *value = unescape_value(op + oplen, &uerr);
        if (!value) {
            set_err(err, uerr);
            rc = VK_EBADREQUEST;
            break;
        }
        if (op == part && !*value) { /* empty field and value: matches everything */
            free(value);
            continue;
        }
        sel->terms = vk_xrealloc(sel->terms, (sel->n + 1) * sizeof *sel->terms);
        sel->terms[sel->n++] = (term_t){vk_xstrndup(part, (size_t)(op - part)), value, op[0] == '!'};
    }
    for (size_t i = 0; i < nparts; i++)
        free(parts[i]);
    free(parts);
    if (rc) {
        vk_selector_field_free(sel);
        return rc;
    }
    *out = sel;
    return 0;
}

int vk_selector_field_check(const vk_selector_field_t *sel, const char *const *supported,
                            char **err) {
    if (err)
        *err = NULL;
    for (size_t i = 0; i < sel->n; i++) {
        const char *f = sel->terms[i].field;
        bool ok = strcmp(f, "metadata.name") == 0 || strcmp(f, "metadata.namespace") == 0;
        for (size_t j = 0; !ok && supported && supported[j]; j++)
            ok = strcmp(f, supported[j]) == 0;
        if (!ok) {
            set_err(err, vk_xasprintf("field label not supported: %s", f));
            return VK_EBADREQUEST;
        }
    }
    return 0;
}

const char *vk_selector_field_value(void *ctx, const json_t *obj, const char *field, char *buf,
                                    size_t cap) {
    (void)ctx;
    const json_t *cur = obj;
    const char *p = field;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    if (!cur)
        return NULL;
    if (json_is_string(cur))
        return json_string_value(cur);
    if (json_is_boolean(cur))
        return json_is_true(cur) ? "true" : "false";
    if (json_is_integer(cur) && cap > 0) {
        snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(cur));
        return buf;
    }
    return NULL;
}

int vk_selector_field_match(const vk_selector_field_t *sel, const json_t *obj,
                            vk_selector_field_cb cb, void *ctx) {
    if (!cb)
        cb = vk_selector_field_value;
    for (size_t i = 0; i < sel->n; i++) {
        char buf[64];
        buf[0] = 0;
        const char *v = cb(ctx, obj, sel->terms[i].field, buf, sizeof buf);
        bool eq = strcmp(v ? v : "", sel->terms[i].value) == 0;
        if (eq == sel->terms[i].neg)
            return 0;
    }
    return 1;
}

const char *vk_selector_field_exact(const vk_selector_field_t *sel, const char *field) {
    for (size_t i = 0; i < sel->n; i++)
        if (!sel->terms[i].neg && strcmp(sel->terms[i].field, field) == 0)
            return sel->terms[i].value;
    return NULL;
}

int vk_selector_field_empty(const vk_selector_field_t *sel) { return sel->n == 0; }
