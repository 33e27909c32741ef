/* printers: per-resource table columns and cells (see printers.h). The
 * columns and the cell logic follow kube-apiserver's internalversion printers;
 * the code and the short descriptions are ours. */
#include "proxy/printers.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"

/* ---- JSON helpers ------------------------------------------------------- */

static json_t *member(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    json_t *v = member(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static json_int_t int_or(const json_t *o, const char *key, json_int_t dflt)
{
    json_t *v = member(o, key);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

/* A growable string. */
typedef struct sb {
    char *s;
    size_t n, cap;
} sb_t;

static void sb_add(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int w = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0)
            return;
        if (b->s && (size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        b->cap = (b->cap + (size_t)w + 64) * 2;
        b->s = vk_xrealloc(b->s, b->cap);
        if (b->n == 0)
            b->s[0] = 0;
    }
}

/* Returns the string as a new JSON string and frees the builder. */
static json_t *sb_take(sb_t *b)
{
    json_t *j = json_string(b->s ? b->s : "");
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
    return j;
}

/* ---- time ------------------------------------------------------------------ */

char *vk_printers_human_duration(int64_t seconds, char *buf, size_t n)
{
    int64_t s = seconds;
    if (s < -1) {
        snprintf(buf, n, "<invalid>");
        return buf;
    }
    if (s < 0) {
        snprintf(buf, n, "0s");
        return buf;
    }
    if (s < 120) {
        snprintf(buf, n, "%llds", (long long)s);
        return buf;
    }
    int64_t minutes = s / 60;
    if (minutes < 10) {
        int64_t r = s % 60;
        if (r == 0)
            snprintf(buf, n, "%lldm", (long long)minutes);
        else
            snprintf(buf, n, "%lldm%llds", (long long)minutes, (long long)r);
        return buf;
    }
    if (minutes < 180) {
        snprintf(buf, n, "%lldm", (long long)minutes);
        return buf;
    }
    int64_t hours = s / 3600;
    if (hours < 8) {
        int64_t m = minutes % 60;
        if (m == 0)
            snprintf(buf, n, "%lldh", (long long)hours);
        else
            snprintf(buf, n, "%lldh%lldm", (long long)hours, (long long)m);
    } else if (hours < 48) {
        snprintf(buf, n, "%lldh", (long long)hours);
    } else if (hours < 24 * 8) {
        int64_t h = hours % 24;
        if (h == 0)
            snprintf(buf, n, "%lldd", (long long)(hours / 24));
        else
            snprintf(buf, n, "%lldd%lldh", (long long)(hours / 24), (long long)h);
    } else if (hours < 24 * 365 * 2) {
        snprintf(buf, n, "%lldd", (long long)(hours / 24));
    } else if (hours < 24 * 365 * 8) {
        int64_t dy = (hours / 24) % 365;
        if (dy == 0)
            snprintf(buf, n, "%lldy", (long long)(hours / 24 / 365));
        else
            snprintf(buf, n, "%lldy%lldd", (long long)(hours / 24 / 365), (long long)dy);
    } else {
        snprintf(buf, n, "%lldy", (long long)(hours / 24 / 365));
    }
    return buf;
}

/* Parses RFC 3339 (UTC "Z" or an offset; fractions ignored). 0 or -1. */
static int parse_time(const char *ts, int64_t *out)
{
    if (!ts || !*ts)
        return -1;
    struct tm tm = {0};
    int consumed = 0;
    if (sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t t = (int64_t)timegm(&tm);
    const char *p = ts + consumed;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        int64_t off = (int64_t)hh * 3600 + mm * 60;
        t = *p == '+' ? t - off : t + off;
    } else if (*p != 'Z' && *p != 'z') {
        return -1;
    }
    *out = t;
    return 0;
}

char *vk_printers_age(const char *ts, int64_t now, char *buf, size_t n)
{
    int64_t t;
    if (parse_time(ts, &t) != 0) {
        snprintf(buf, n, "<unknown>");
        return buf;
    }
    return vk_printers_human_duration(now - t, buf, n);
}

static json_t *age_cell(const char *ts, int64_t now)
{
    char buf[32];
    return json_string(vk_printers_age(ts, now, buf, sizeof buf));
}

static json_t *obj_age(const json_t *obj, int64_t now)
{
    return age_cell(str_or(member(obj, "metadata"), "creationTimestamp", NULL), now);
}

/* "Created At" cells: the timestamp in RFC 3339 UTC, as upstream formats it. */
static json_t *created_at(const json_t *obj)
{
    const char *ts = str_or(member(obj, "metadata"), "creationTimestamp", NULL);
    int64_t t;
    if (parse_time(ts, &t) != 0)
        return json_string("0001-01-01T00:00:00Z");
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

static const char *name_of(const json_t *obj)
{
    return str_or(member(obj, "metadata"), "name", "");
}

/* ---- formatting helpers ------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty. */
static json_t *format_labels(const json_t *labels)
{
    size_t n = json_is_object(labels) ? json_object_size(labels) : 0;
    if (n == 0)
        return json_string("<none>");
    const char **keys = vk_xcalloc(n, sizeof *keys);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)labels, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    sb_t b = {0};
    for (i = 0; i < n; i++)
        sb_add(&b, "%s%s=%s", i ? "," : "", keys[i], str_or(labels, keys[i], ""));
    free(keys);
    return sb_take(&b);
}

typedef struct req {
    const char *key;
    char text[512];
} req_t;

static int cmp_req(const void *a, const void *b)
{
    return strcmp(((const req_t *)a)->key, ((const req_t *)b)->key);
}

/* A LabelSelector as labels.Selector.String(): requirements sorted by key.
 * none_text is returned for a nil or empty selector ("" or "<none>"). */
static json_t *format_selector(const json_t *sel, const char *none_text)
{
    json_t *ml = member(sel, "matchLabels"), *me = member(sel, "matchExpressions");
    size_t n = json_object_size(ml) + json_array_size(me);
    if (!json_is_object(sel) || n == 0)
        return json_string(none_text);
    req_t *r = vk_xcalloc(n, sizeof *r);
    size_t i = 0, j;
    const char *k;
    json_t *v, *e;
    json_object_foreach(ml, k, v)
    {
        r[i].key = k;
        snprintf(r[i].text, sizeof r[i].text, "%s=%s", k, json_is_string(v) ? json_string_value(v) : "");
        i++;
    }
    json_array_foreach(me, j, e)
    {
        const char *key = str_or(e, "key", ""), *op = str_or(e, "operator", "");
        r[i].key = key;
        if (!strcmp(op, "Exists")) {
            snprintf(r[i].text, sizeof r[i].text, "%s", key);
        } else if (!strcmp(op, "DoesNotExist")) {
            snprintf(r[i].text, sizeof r[i].text, "!%s", key);
        } else {
            size_t nv = json_array_size(member(e, "values"));
            const char **vals = vk_xcalloc(nv ? nv : 1, sizeof *vals);
            size_t m;
            json_t *x;
            json_array_foreach(member(e, "values"), m, x) vals[m] = json_is_string(x) ? json_string_value(x) : "";
            qsort(vals, nv, sizeof *vals, cmp_str);
            int w = snprintf(r[i].text, sizeof r[i].text, "%s %s (", key,
                             !strcmp(op, "In") ? "in" : "notin");
            for (m = 0; m < nv && w > 0 && (size_t)w < sizeof r[i].text; m++)
                w += snprintf(r[i].text + w, sizeof r[i].text - (size_t)w, "%s%s", m ? "," : "", vals[m]);
            if (w > 0 && (size_t)w < sizeof r[i].text)
                snprintf(r[i].text + w, sizeof r[i].text - (size_t)w, ")");
            free(vals);
        }
        i++;
    }
    qsort(r, n, sizeof *r, cmp_req);
    sb_t b = {0};
    for (i = 0; i < n; i++)
        sb_add(&b, "%s%s", i ? "," : "", r[i].text);
    free(r);
    return sb_take(&b);
}

/* layoutContainerCells: names and images joined by ",". */
static void container_cells(json_t *cells, const json_t *containers)
{
    sb_t names = {0}, images = {0};
    sb_add(&names, "%s", "");
    sb_add(&images, "%s", "");
    size_t i;
    json_t *c;
    json_array_foreach(containers, i, c)
    {
        sb_add(&names, "%s%s", i ? "," : "", str_or(c, "name", ""));
        sb_add(&images, "%s%s", i ? "," : "", str_or(c, "image", ""));
    }
    json_array_append_new(cells, sb_take(&names));
    json_array_append_new(cells, sb_take(&images));
}

static json_t *tmpl_containers(const json_t *obj)
{
    return member(member(member(member(obj, "spec"), "template"), "spec"), "containers");
}

/* Quantities are shown as stored (clients send canonical forms). */
static json_t *quantity_cell(const json_t *q, const char *dflt)
{
    if (json_is_string(q))
        return json_string(json_string_value(q));
    if (json_is_integer(q)) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(q));
        return json_string(b);
    }
    return json_string(dflt);
}

static json_t *access_modes(const json_t *modes)
{
    static const struct {
        const char *mode, *abbr;
    } m[] = {{"ReadWriteOnce", "RWO"}, {"ReadOnlyMany", "ROX"}, {"ReadWriteMany", "RWX"},
             {"ReadWriteOncePod", "RWOP"}};
    sb_t b = {0};
    sb_add(&b, "%s", "");
    int first = 1;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        size_t j;
        json_t *v;
        json_array_foreach(modes, j, v)
        {
            if (json_is_string(v) && !strcmp(json_string_value(v), m[i].mode)) {
                sb_add(&b, "%s%s", first ? "" : ",", m[i].abbr);
                first = 0;
                break;
            }
        }
    }
    return sb_take(&b);
}

/* "a,b,c + N more..." lists used by endpoints, slices and ingresses. */
typedef struct more_list {
    sb_t b;
    int count, listed, more;
} more_list_t;

static void ml_add(more_list_t *l, const char *item)
{
    l->count++;
    if (l->listed == 3) {
        l->more = 1;
        return;
    }
    sb_add(&l->b, "%s%s", l->listed ? "," : "", item);
    l->listed++;
}

static json_t *ml_take(more_list_t *l, const char *empty)
{
    if (l->more) {
        sb_add(&l->b, " + %d more...", l->count - 3);
        return sb_take(&l->b);
    }
    if (!l->listed) {
        free(l->b.s);
        return json_string(empty);
    }
    return sb_take(&l->b);
}

static void lb_ingress(sb_t *b, const json_t *lb)
{
    sb_add(b, "%s", "");
    size_t i;
    json_t *ing;
    int first = 1;
    json_array_foreach(member(lb, "ingress"), i, ing)
    {
        const char *ip = str_or(ing, "ip", ""), *host = str_or(ing, "hostname", "");
        if (*ip) {
            sb_add(b, "%s%s", first ? "" : ",", ip);
            first = 0;
        } else if (*host) {
            sb_add(b, "%s%s", first ? "" : ",", host);
            first = 0;
        }
    }
}

/* ---- columns ---------------------------------------------------------------- */

typedef struct col {
    const char *name, *type, *format, *desc;
    int priority;
} col_t;

#define NAME_DESC                                                                                  \
    "Name must be unique within a namespace. Is required when creating resources, although some "  \
    "resources may allow a client to request the generation of an appropriate name "               \
    "automatically. Name is primarily intended for creation idempotence and configuration "        \
    "definition. Cannot be updated. More info: "                                                   \
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
#define AGE_DESC                                                                                   \
    "CreationTimestamp is a timestamp representing the server time when this object was created. " \
    "It is not guaranteed to be set in happens-before order across separate operations. Clients "  \
    "may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the " \
    "system. Read-only. Null for lists. More info: "                                               \
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"                            \
    "api-conventions.md#metadata"
#define C_NAME {"Name", "string", "name", NAME_DESC, 0}
#define C_AGE {"Age", "string", "", AGE_DESC, 0}
#define C_CREATED {"Created At", "date", "", AGE_DESC, 0}
#define C_CONTAINERS {"Containers", "string", "", "Names of each container in the template.", 1}
#define C_IMAGES {"Images", "string", "", "Images referenced by each container in the template.", 1}
#define C_SELECTOR(p) {"Selector", "string", "", "The label selector of the pods.", p}
#define C_END {NULL, NULL, NULL, NULL, 0}

typedef void (*row_fn)(json_t *row, json_t *cells, const json_t *obj, int64_t now);

typedef struct printer {
    const char *group, *resource;
    const col_t *cols;
    row_fn row;
} printer_t;

/* ---- rows: core ----------------------------------------------------------------- */

static int cond_true(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(conds, i, c) if (!strcmp(str_or(c, "type", ""), type)) return !strcmp(
        str_or(c, "status", ""), "True");
    return 0;
}

static void add_condition(json_t *row, const char *reason, const char *message)
{
    json_t *c = json_object();
    json_object_set_new(c, "type", json_string("Completed"));
    json_object_set_new(c, "status", json_string("True"));
    json_object_set_new(c, "reason", json_string(reason));
    json_object_set_new(c, "message", json_string(message));
    json_t *arr = json_array();
    json_array_append_new(arr, c);
    json_object_set_new(row, "conditions", arr);
}

static int is_restartable_init(const json_t *spec, const char *name)
{
    size_t i;
    json_t *c;
    json_array_foreach(member(spec, "initContainers"), i, c) if (!strcmp(str_or(c, "name", ""), name))
        return !strcmp(str_or(c, "restartPolicy", ""), "Always");
    return 0;
}

/* The latest lastState.terminated.finishedAt seen, kept as Unix time. */
static void note_restart(const json_t *cs, int64_t *last)
{
    const char *fin = str_or(member(member(cs, "lastState"), "terminated"), "finishedAt", NULL);
    int64_t t;
    if (fin && parse_time(fin, &t) == 0 && t > *last)
        *last = t;
}

static void row_pod(json_t *row, json_t *cells, const json_t *pod, int64_t now)
{
    json_t *spec = member(pod, "spec"), *status = member(pod, "status");
    json_t *meta = member(pod, "metadata");
    int restarts = 0, ri_restarts = 0, ready = 0;
    int total = (int)json_array_size(member(spec, "containers"));
    int64_t last = 0, ri_last = 0;
    const char *phase = str_or(status, "phase", "");
    char reason[256];
    snprintf(reason, sizeof reason, "%s", *str_or(status, "reason", "") ? str_or(status, "reason", "") : phase);
    size_t i;
    json_t *c;
    json_array_foreach(member(status, "conditions"), i, c) if (
        !strcmp(str_or(c, "type", ""), "PodScheduled") &&
        !strcmp(str_or(c, "reason", ""), "SchedulingGated"))
        snprintf(reason, sizeof reason, "SchedulingGated");
    if (!strcmp(phase, "Succeeded"))
        add_condition(row, "Succeeded", "The pod has completed successfully.");
    else if (!strcmp(phase, "Failed"))
        add_condition(row, "Failed", "The pod failed.");
    json_array_foreach(member(spec, "initContainers"), i, c) if (!strcmp(str_or(c, "restartPolicy", ""), "Always"))
        total++;

    int initializing = 0;
    size_t n_init = json_array_size(member(spec, "initContainers"));
    json_array_foreach(member(status, "initContainerStatuses"), i, c)
    {
        const char *cname = str_or(c, "name", "");
        int rc = (int)int_or(c, "restartCount", 0);
        int restartable = is_restartable_init(spec, cname);
        restarts += rc;
        note_restart(c, &last);
        if (restartable) {
            ri_restarts += rc;
            note_restart(c, &ri_last);
        }
        json_t *state = member(c, "state");
        json_t *term = member(state, "terminated"), *wait = member(state, "waiting");
        if (json_is_object(term) && int_or(term, "exitCode", 0) == 0)
            continue;
        if (restartable && json_is_true(member(c, "started"))) {
            if (json_is_true(member(c, "ready")))
                ready++;
            continue;
        }
        if (json_is_object(term)) {
            const char *r = str_or(term, "reason", "");
            if (!*r) {
                if (int_or(term, "signal", 0) != 0)
                    snprintf(reason, sizeof reason, "Init:Signal:%lld", (long long)int_or(term, "signal", 0));
                else
                    snprintf(reason, sizeof reason, "Init:ExitCode:%lld", (long long)int_or(term, "exitCode", 0));
            } else {
                snprintf(reason, sizeof reason, "Init:%s", r);
            }
        } else if (json_is_object(wait) && *str_or(wait, "reason", "") &&
                   strcmp(str_or(wait, "reason", ""), "PodInitializing") != 0) {
            snprintf(reason, sizeof reason, "Init:%s", str_or(wait, "reason", ""));
        } else {
            snprintf(reason, sizeof reason, "Init:%zu/%zu", i, n_init);
        }
        initializing = 1;
        break;
    }
    if (!initializing || cond_true(member(status, "conditions"), "Initialized")) {
        restarts = ri_restarts;
        last = ri_last;
        int has_running = 0;
        json_t *css = member(status, "containerStatuses");
        for (size_t k = json_array_size(css); k-- > 0;) {
            json_t *cs = json_array_get(css, k);
            restarts += (int)int_or(cs, "restartCount", 0);
            note_restart(cs, &last);
            json_t *state = member(cs, "state");
            json_t *wait = member(state, "waiting"), *term = member(state, "terminated");
            if (json_is_object(wait) && *str_or(wait, "reason", "")) {
                snprintf(reason, sizeof reason, "%s", str_or(wait, "reason", ""));
            } else if (json_is_object(term) && *str_or(term, "reason", "")) {
                snprintf(reason, sizeof reason, "%s", str_or(term, "reason", ""));
            } else if (json_is_object(term)) {
                if (int_or(term, "signal", 0) != 0)
                    snprintf(reason, sizeof reason, "Signal:%lld", (long long)int_or(term, "signal", 0));
                else
                    snprintf(reason, sizeof reason, "ExitCode:%lld", (long long)int_or(term, "exitCode", 0));
            } else if (json_is_true(member(cs, "ready")) && json_is_object(member(state, "running"))) {
                has_running = 1;
                ready++;
            }
        }
        if (!strcmp(reason, "Completed") && has_running)
            snprintf(reason, sizeof reason, "%s",
                     cond_true(member(status, "conditions"), "Ready") ? "Running" : "NotReady");
    }
    int deleting = member(meta, "deletionTimestamp") && !json_is_null(member(meta, "deletionTimestamp"));
    if (deleting && !strcmp(str_or(status, "reason", ""), "NodeLost"))
        snprintf(reason, sizeof reason, "Unknown");
    else if (deleting && strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0)
        snprintf(reason, sizeof reason, "Terminating");

    char buf[64], agebuf[32];
    json_array_append_new(cells, json_string(name_of(pod)));
    snprintf(buf, sizeof buf, "%d/%d", ready, total);
    json_array_append_new(cells, json_string(buf));
    json_array_append_new(cells, json_string(reason));
    if (restarts != 0 && last != 0)
        snprintf(buf, sizeof buf, "%d (%s ago)", restarts,
                 vk_printers_human_duration(now - last, agebuf, sizeof agebuf));
    else
        snprintf(buf, sizeof buf, "%d", restarts);
    json_array_append_new(cells, json_string(buf));
    json_array_append_new(cells, obj_age(pod, now));
    const char *ip = str_or(json_array_get(member(status, "podIPs"), 0), "ip", "");
    if (!*ip)
        ip = str_or(status, "podIP", "");
    json_array_append_new(cells, json_string(*ip ? ip : "<none>"));
    const char *node = str_or(spec, "nodeName", "");
    json_array_append_new(cells, json_string(*node ? node : "<none>"));
    const char *nom = str_or(status, "nominatedNodeName", "");
    json_array_append_new(cells, json_string(*nom ? nom : "<none>"));
    json_t *gates = member(spec, "readinessGates");
    if (json_array_size(gates) > 0) {
        int t = 0;
        json_t *g;
        json_array_foreach(gates, i, g)
        {
            const char *ct = str_or(g, "conditionType", "");
            size_t j;
            json_t *cd;
            json_array_foreach(member(status, "conditions"), j, cd)
            {
                if (!strcmp(str_or(cd, "type", ""), ct)) {
                    if (!strcmp(str_or(cd, "status", ""), "True"))
                        t++;
                    break;
                }
            }
        }
        snprintf(buf, sizeof buf, "%d/%zu", t, json_array_size(gates));
        json_array_append_new(cells, json_string(buf));
    } else {
        json_array_append_new(cells, json_string("<none>"));
    }
}

static void row_podtemplate(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *tmpl = member(obj, "template");
    json_array_append_new(cells, json_string(name_of(obj)));
    sb_t names = {0}, images = {0};
    sb_add(&names, "%s", "");
    sb_add(&images, "%s", "");
    size_t i;
    json_t *c;
    json_array_foreach(member(member(tmpl, "spec"), "containers"), i, c)
    {
        sb_add(&names, "%s%s", i ? "," : "", str_or(c, "name", ""));
        sb_add(&images, "%s%s", i ? "," : "", str_or(c, "image", ""));
    }
    json_array_append_new(cells, sb_take(&names));
    json_array_append_new(cells, sb_take(&images));
    json_array_append_new(cells, format_labels(member(member(tmpl, "metadata"), "labels")));
}

static void row_namespace(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(member(obj, "status"), "phase", "")));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_node(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *status = member(obj, "status");
    sb_t st = {0};
    size_t i;
    json_t *c;
    int found = 0;
    json_array_foreach(member(status, "conditions"), i, c)
    {
        if (!strcmp(str_or(c, "type", ""), "Ready")) {
            sb_add(&st, "%s", !strcmp(str_or(c, "status", ""), "True") ? "Ready" : "NotReady");
            found = 1;
        }
    }
    if (!found)
        sb_add(&st, "Unknown");
    if (json_is_true(member(member(obj, "spec"), "unschedulable")))
        sb_add(&st, ",SchedulingDisabled");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, sb_take(&st));
    /* Roles from node-role.kubernetes.io/<role> and kubernetes.io/role labels. */
    json_t *labels = member(member(obj, "metadata"), "labels");
    const char **roles = vk_xcalloc(json_object_size(labels) + 1, sizeof *roles);
    size_t nr = 0;
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        const char *role = NULL;
        if (!strncmp(k, "node-role.kubernetes.io/", 24) && k[24])
            role = k + 24;
        else if (!strcmp(k, "kubernetes.io/role") && json_is_string(v) && *json_string_value(v))
            role = json_string_value(v);
        if (!role)
            continue;
        int dup = 0;
        for (size_t j = 0; j < nr; j++)
            if (!strcmp(roles[j], role))
                dup = 1;
        if (!dup)
            roles[nr++] = role;
    }
    qsort(roles, nr, sizeof *roles, cmp_str);
    sb_t rb = {0};
    sb_add(&rb, "%s", "");
    for (size_t j = 0; j < nr; j++)
        sb_add(&rb, "%s%s", j ? "," : "", roles[j]);
    free(roles);
    if (nr == 0) {
        free(rb.s);
        json_array_append_new(cells, json_string("<none>"));
    } else {
        json_array_append_new(cells, sb_take(&rb));
    }
    json_array_append_new(cells, obj_age(obj, now));
    json_t *info = member(status, "nodeInfo");
    json_array_append_new(cells, json_string(str_or(info, "kubeletVersion", "")));
    const char *types[] = {"InternalIP", "ExternalIP"};
    for (int t = 0; t < 2; t++) {
        const char *ip = "<none>";
        json_t *a;
        json_array_foreach(member(status, "addresses"), i, a) if (!strcmp(str_or(a, "type", ""), types[t]))
        {
            ip = str_or(a, "address", "<none>");
            break;
        }
        json_array_append_new(cells, json_string(ip));
    }
    const char *os = str_or(info, "osImage", "");
    json_array_append_new(cells, json_string(*os ? os : "<unknown>"));
    /* The kernel column carries the architecture, as kube-apiserver 1.36 prints it. */
    const char *kv = str_or(info, "kernelVersion", ""), *arch = str_or(info, "architecture", "");
    if (*kv && *arch) {
        char *s = vk_xasprintf("%s (%s)", kv, arch);
        json_array_append_new(cells, json_string(s));
        free(s);
    } else {
        json_array_append_new(cells, json_string(*kv ? kv : "<unknown>"));
    }
    const char *crv = str_or(info, "containerRuntimeVersion", "");
    json_array_append_new(cells, json_string(*crv ? crv : "<unknown>"));
}

static void row_service(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec");
    const char *type = str_or(spec, "type", "");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(type));
    json_t *first = json_array_get(member(spec, "clusterIPs"), 0);
    const char *cip = json_is_string(first) ? json_string_value(first) : str_or(spec, "clusterIP", "");
    json_array_append_new(cells, json_string(*cip ? cip : "<none>"));
    /* External IP. */
    sb_t ext = {0};
    json_t *eips = member(spec, "externalIPs");
    size_t i;
    json_t *v;
    if (!strcmp(type, "ClusterIP") || !strcmp(type, "NodePort")) {
        sb_add(&ext, "%s", "");
        json_array_foreach(eips, i, v) sb_add(&ext, "%s%s", i ? "," : "", json_string_value(v));
        if (!ext.n)
            sb_add(&ext, "<none>");
    } else if (!strcmp(type, "LoadBalancer")) {
        lb_ingress(&ext, member(member(obj, "status"), "loadBalancer"));
        json_array_foreach(eips, i, v) sb_add(&ext, "%s%s", ext.n ? "," : "", json_string_value(v));
        if (!ext.n)
            sb_add(&ext, "<pending>");
    } else if (!strcmp(type, "ExternalName")) {
        sb_add(&ext, "%s", str_or(spec, "externalName", ""));
    } else {
        sb_add(&ext, "<unknown>");
    }
    json_array_append_new(cells, sb_take(&ext));
    sb_t ports = {0};
    sb_add(&ports, "%s", "");
    json_t *p;
    json_array_foreach(member(spec, "ports"), i, p)
    {
        json_int_t np = int_or(p, "nodePort", 0);
        if (np > 0)
            sb_add(&ports, "%s%lld:%lld/%s", i ? "," : "", (long long)int_or(p, "port", 0),
                   (long long)np, str_or(p, "protocol", ""));
        else
            sb_add(&ports, "%s%lld/%s", i ? "," : "", (long long)int_or(p, "port", 0),
                   str_or(p, "protocol", ""));
    }
    if (!ports.n) {
        free(ports.s);
        json_array_append_new(cells, json_string("<none>"));
    } else {
        json_array_append_new(cells, sb_take(&ports));
    }
    json_array_append_new(cells, obj_age(obj, now));
    json_array_append_new(cells, format_labels(member(spec, "selector")));
}

static void row_endpoints(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_t *subsets = member(obj, "subsets");
    if (json_array_size(subsets) == 0) {
        json_array_append_new(cells, json_string("<none>"));
    } else {
        more_list_t l = {0};
        sb_add(&l.b, "%s", "");
        size_t i, j, k;
        json_t *ss, *p, *a;
        json_array_foreach(subsets, i, ss)
        {
            json_t *addrs = member(ss, "addresses");
            if (json_array_size(member(ss, "ports")) == 0) {
                json_array_foreach(addrs, k, a) ml_add(&l, str_or(a, "ip", ""));
                continue;
            }
            json_array_foreach(member(ss, "ports"), j, p)
            {
                json_array_foreach(addrs, k, a)
                {
                    char hp[128];
                    const char *ip = str_or(a, "ip", "");
                    if (strchr(ip, ':'))
                        snprintf(hp, sizeof hp, "[%s]:%lld", ip, (long long)int_or(p, "port", 0));
                    else
                        snprintf(hp, sizeof hp, "%s:%lld", ip, (long long)int_or(p, "port", 0));
                    ml_add(&l, hp);
                }
            }
        }
        json_array_append_new(cells, ml_take(&l, ""));
    }
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_count_data(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_integer((json_int_t)(json_object_size(member(obj, "data")) +
                                                           json_object_size(member(obj, "binaryData")))));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_secret(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(obj, "type", "")));
    json_array_append_new(cells, json_integer((json_int_t)json_object_size(member(obj, "data"))));
    json_array_append_new(cells, obj_age(obj, now));
}

/* Name and Age: kube-apiserver 1.36 dropped the Secrets column. */
static void row_name_age(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, obj_age(obj, now));
}

/* core/v1 Events and events.k8s.io/v1 Events (different field names). */
static void row_event(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    int v1new = member(obj, "regarding") != NULL || member(obj, "note") != NULL;
    const char *first_ts = str_or(obj, v1new ? "deprecatedFirstTimestamp" : "firstTimestamp", "");
    const char *last_ts = str_or(obj, v1new ? "deprecatedLastTimestamp" : "lastTimestamp", "");
    char first[32], last[32];
    if (*first_ts)
        vk_printers_age(first_ts, now, first, sizeof first);
    else
        vk_printers_age(str_or(obj, "eventTime", ""), now, first, sizeof first);
    if (*last_ts)
        vk_printers_age(last_ts, now, last, sizeof last);
    else
        snprintf(last, sizeof last, "%s", first);
    json_int_t count = int_or(obj, v1new ? "deprecatedCount" : "count", 0);
    json_t *series = member(obj, "series");
    if (json_is_object(series)) {
        vk_printers_age(str_or(series, "lastObservedTime", ""), now, last, sizeof last);
        count = int_or(series, "count", 0);
    } else if (count == 0) {
        count = 1;
    }
    json_t *inv = member(obj, v1new ? "regarding" : "involvedObject");
    char *kind = vk_xstrdup(str_or(inv, "kind", ""));
    for (char *p = kind; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    const char *iname = str_or(inv, "name", "");
    char *target = *iname ? vk_xasprintf("%s/%s", kind, iname) : vk_xstrdup(kind);
    free(kind);
    json_t *src = member(obj, v1new ? "deprecatedSource" : "source");
    const char *comp = str_or(src, "component", "");
    if (!*comp)
        comp = str_or(obj, v1new ? "reportingController" : "reportingComponent", "");
    const char *host = str_or(src, "host", "");
    if (!*host)
        host = str_or(obj, "reportingInstance", "");
    char *source = *host ? vk_xasprintf("%s, %s", comp, host) : vk_xstrdup(comp);
    /* strings.TrimSpace of the message. */
    const char *msg = str_or(obj, v1new ? "note" : "message", "");
    while (*msg == ' ' || *msg == '\n' || *msg == '\t' || *msg == '\r')
        msg++;
    size_t ml = strlen(msg);
    while (ml && (msg[ml - 1] == ' ' || msg[ml - 1] == '\n' || msg[ml - 1] == '\t' || msg[ml - 1] == '\r'))
        ml--;
    json_array_append_new(cells, json_string(last));
    json_array_append_new(cells, json_string(str_or(obj, "type", "")));
    json_array_append_new(cells, json_string(str_or(obj, "reason", "")));
    json_array_append_new(cells, json_string(target));
    json_array_append_new(cells, json_string(str_or(inv, "fieldPath", "")));
    json_array_append_new(cells, json_string(source));
    json_array_append_new(cells, json_stringn(msg, ml));
    json_array_append_new(cells, json_string(first));
    json_array_append_new(cells, json_integer(count));
    json_array_append_new(cells, json_string(name_of(obj)));
    free(target);
    free(source);
}

static const char *storage_class_of(const json_t *obj, const char *spec_key)
{
    const char *a = str_or(member(member(obj, "metadata"), "annotations"),
                           "volume.beta.kubernetes.io/storage-class", NULL);
    return a ? a : str_or(member(obj, "spec"), spec_key, "");
}

static void row_pv(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, quantity_cell(member(member(spec, "capacity"), "storage"), "0"));
    json_array_append_new(cells, access_modes(member(spec, "accessModes")));
    json_array_append_new(cells, json_string(str_or(spec, "persistentVolumeReclaimPolicy", "")));
    const char *phase = str_or(member(obj, "status"), "phase", "");
    if (member(member(obj, "metadata"), "deletionTimestamp"))
        phase = "Terminating";
    json_array_append_new(cells, json_string(phase));
    json_t *cr = member(spec, "claimRef");
    if (json_is_object(cr)) {
        char *c = vk_xasprintf("%s/%s", str_or(cr, "namespace", ""), str_or(cr, "name", ""));
        json_array_append_new(cells, json_string(c));
        free(c);
    } else {
        json_array_append_new(cells, json_string(""));
    }
    json_array_append_new(cells, json_string(storage_class_of(obj, "storageClassName")));
    json_array_append_new(cells, json_string(str_or(spec, "volumeAttributesClassName", "<unset>")));
    json_array_append_new(cells, json_string(str_or(member(obj, "status"), "reason", "")));
    json_array_append_new(cells, obj_age(obj, now));
    json_array_append_new(cells, json_string(str_or(spec, "volumeMode", "<unset>")));
}

static void row_pvc(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *status = member(obj, "status");
    json_array_append_new(cells, json_string(name_of(obj)));
    const char *phase = str_or(status, "phase", "");
    if (member(member(obj, "metadata"), "deletionTimestamp"))
        phase = "Terminating";
    json_array_append_new(cells, json_string(phase));
    const char *vol = str_or(spec, "volumeName", "");
    json_array_append_new(cells, json_string(vol));
    if (*vol) {
        json_array_append_new(cells, quantity_cell(member(member(status, "capacity"), "storage"), "0"));
        json_array_append_new(cells, access_modes(member(status, "accessModes")));
    } else {
        json_array_append_new(cells, json_string(""));
        json_array_append_new(cells, json_string(""));
    }
    json_array_append_new(cells, json_string(storage_class_of(obj, "storageClassName")));
    json_array_append_new(cells, json_string(str_or(spec, "volumeAttributesClassName", "<unset>")));
    json_array_append_new(cells, obj_age(obj, now));
    json_array_append_new(cells, json_string(str_or(spec, "volumeMode", "<unset>")));
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void row_resourcequota(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    /* Upstream lists what the quota controller reported (status.hard). */
    json_t *st = member(obj, "status");
    json_t *hard = member(st, "hard");
    size_t n = json_object_size(hard), i = 0;
    const char **keys = vk_xcalloc(n + 1, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach(hard, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_key);
    sb_t req = {0}, lim = {0};
    sb_add(&req, "%s", "");
    sb_add(&lim, "%s", "");
    for (i = 0; i < n; i++) {
        sb_t *w = !strncmp(keys[i], "limits.", 7) ? &lim : &req;
        json_t *used = quantity_cell(member(member(st, "used"), keys[i]), "0");
        json_t *h = quantity_cell(member(member(st, "hard"), keys[i]), "0");
        sb_add(w, "%s%s: %s/%s", w->n ? ", " : "", keys[i], json_string_value(used),
               json_string_value(h));
        json_decref(used);
        json_decref(h);
    }
    free(keys);
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, sb_take(&req));
    json_array_append_new(cells, sb_take(&lim));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_created(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, created_at(obj));
}

/* ---- rows: apps, batch ---------------------------------------------------------- */

static void row_deployment(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *st = member(obj, "status");
    char buf[64];
    json_array_append_new(cells, json_string(name_of(obj)));
    snprintf(buf, sizeof buf, "%lld/%lld", (long long)int_or(st, "readyReplicas", 0),
             (long long)int_or(spec, "replicas", 0));
    json_array_append_new(cells, json_string(buf));
    json_array_append_new(cells, json_integer(int_or(st, "updatedReplicas", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "availableReplicas", 0)));
    json_array_append_new(cells, obj_age(obj, now));
    container_cells(cells, tmpl_containers(obj));
    json_array_append_new(cells, format_selector(member(spec, "selector"), ""));
}

static void row_replicaset(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *st = member(obj, "status");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_integer(int_or(spec, "replicas", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "replicas", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "readyReplicas", 0)));
    json_array_append_new(cells, obj_age(obj, now));
    container_cells(cells, tmpl_containers(obj));
    json_array_append_new(cells, format_selector(member(spec, "selector"), "<none>"));
}

static void row_daemonset(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *st = member(obj, "status");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_integer(int_or(st, "desiredNumberScheduled", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "currentNumberScheduled", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "numberReady", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "updatedNumberScheduled", 0)));
    json_array_append_new(cells, json_integer(int_or(st, "numberAvailable", 0)));
    json_array_append_new(cells, format_labels(member(member(member(spec, "template"), "spec"), "nodeSelector")));
    json_array_append_new(cells, obj_age(obj, now));
    container_cells(cells, tmpl_containers(obj));
    json_array_append_new(cells, format_selector(member(spec, "selector"), "<none>"));
}

static void row_statefulset(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    char buf[64];
    json_array_append_new(cells, json_string(name_of(obj)));
    snprintf(buf, sizeof buf, "%lld/%lld", (long long)int_or(member(obj, "status"), "readyReplicas", 0),
             (long long)int_or(member(obj, "spec"), "replicas", 0));
    json_array_append_new(cells, json_string(buf));
    json_array_append_new(cells, obj_age(obj, now));
    container_cells(cells, tmpl_containers(obj));
}

static void row_job(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *st = member(obj, "status");
    json_t *conds = member(st, "conditions");
    const char *status;
    if (cond_true(conds, "Complete"))
        status = "Complete";
    else if (cond_true(conds, "Failed"))
        status = "Failed";
    else if (member(member(obj, "metadata"), "deletionTimestamp"))
        status = "Terminating";
    else if (cond_true(conds, "Suspended"))
        status = "Suspended";
    else if (cond_true(conds, "FailureTarget"))
        status = "FailureTarget";
    else if (cond_true(conds, "SuccessCriteriaMet"))
        status = "SuccessCriteriaMet";
    else
        status = "Running";
    char comp[64];
    long long succeeded = (long long)int_or(st, "succeeded", 0);
    json_t *completions = member(spec, "completions"), *par = member(spec, "parallelism");
    if (json_is_integer(completions))
        snprintf(comp, sizeof comp, "%lld/%lld", succeeded, (long long)json_integer_value(completions));
    else if (json_is_integer(par) && json_integer_value(par) > 1)
        snprintf(comp, sizeof comp, "%lld/1 of %lld", succeeded, (long long)json_integer_value(par));
    else
        snprintf(comp, sizeof comp, "%lld/1", succeeded);
    char dur[32] = "";
    int64_t start, end;
    if (parse_time(str_or(st, "startTime", NULL), &start) == 0) {
        if (parse_time(str_or(st, "completionTime", NULL), &end) != 0)
            end = now;
        vk_printers_human_duration(end - start, dur, sizeof dur);
    }
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(status));
    json_array_append_new(cells, json_string(comp));
    json_array_append_new(cells, json_string(dur));
    json_array_append_new(cells, obj_age(obj, now));
    container_cells(cells, tmpl_containers(obj));
    json_array_append_new(cells, format_selector(member(spec, "selector"), "<none>"));
}

static void row_cronjob(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec"), *st = member(obj, "status");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(spec, "schedule", "")));
    json_array_append_new(cells, json_string(str_or(spec, "timeZone", "<none>")));
    json_t *susp = member(spec, "suspend");
    json_array_append_new(cells, json_string(json_is_boolean(susp) ? (json_is_true(susp) ? "True" : "False")
                                                                   : "<unset>"));
    json_array_append_new(cells, json_integer((json_int_t)json_array_size(member(st, "active"))));
    const char *ls = str_or(st, "lastScheduleTime", NULL);
    json_array_append_new(cells, ls ? age_cell(ls, now) : json_string("<none>"));
    json_array_append_new(cells, obj_age(obj, now));
    json_t *jspec = member(member(spec, "jobTemplate"), "spec");
    container_cells(cells, member(member(member(jspec, "template"), "spec"), "containers"));
    json_array_append_new(cells, format_selector(member(jspec, "selector"), "<none>"));
}

/* ---- rows: other groups ------------------------------------------------------------ */

static void row_ingress(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(spec, "ingressClassName", "<none>")));
    json_t *rules = member(spec, "rules");
    sb_t h = {0};
    sb_add(&h, "%s", "");
    int listed = 0, more = 0;
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        if (listed == 3)
            more = 1;
        const char *host = str_or(r, "host", "");
        if (!more && *host) {
            sb_add(&h, "%s%s", listed ? "," : "", host);
            listed++;
        }
    }
    if (!listed) {
        free(h.s);
        json_array_append_new(cells, json_string("*"));
    } else {
        if (more)
            sb_add(&h, " + %d more...", (int)json_array_size(rules) - 3);
        json_array_append_new(cells, sb_take(&h));
    }
    sb_t a = {0};
    lb_ingress(&a, member(member(obj, "status"), "loadBalancer"));
    json_array_append_new(cells, sb_take(&a));
    json_array_append_new(cells, json_string(json_array_size(member(spec, "tls")) ? "80, 443" : "80"));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_ingressclass(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec");
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(spec, "controller", "")));
    json_t *p = member(spec, "parameters");
    if (json_is_object(p)) {
        const char *g = str_or(p, "apiGroup", NULL);
        char *s = g ? vk_xasprintf("%s.%s/%s", str_or(p, "kind", ""), g, str_or(p, "name", ""))
                    : vk_xasprintf("%s/%s", str_or(p, "kind", ""), str_or(p, "name", ""));
        json_array_append_new(cells, json_string(s));
        free(s);
    } else {
        json_array_append_new(cells, json_string("<none>"));
    }
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_networkpolicy(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, format_selector(member(member(obj, "spec"), "podSelector"), "<none>"));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_pdb(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *spec = member(obj, "spec");
    json_array_append_new(cells, json_string(name_of(obj)));
    const char *keys[] = {"minAvailable", "maxUnavailable"};
    for (int i = 0; i < 2; i++) {
        json_t *v = member(spec, keys[i]);
        if (json_is_integer(v)) {
            char b[32];
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
            json_array_append_new(cells, json_string(b));
        } else if (json_is_string(v)) {
            json_array_append_new(cells, json_string(json_string_value(v)));
        } else {
            json_array_append_new(cells, json_string("N/A"));
        }
    }
    json_array_append_new(cells, json_integer(int_or(member(obj, "status"), "disruptionsAllowed", 0)));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_binding(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *ref = member(obj, "roleRef");
    json_array_append_new(cells, json_string(name_of(obj)));
    char *role = vk_xasprintf("%s/%s", str_or(ref, "kind", ""), str_or(ref, "name", ""));
    json_array_append_new(cells, json_string(role));
    free(role);
    json_array_append_new(cells, obj_age(obj, now));
    sb_t users = {0}, groups = {0}, sas = {0};
    sb_add(&users, "%s", "");
    sb_add(&groups, "%s", "");
    sb_add(&sas, "%s", "");
    size_t i;
    json_t *s;
    json_array_foreach(member(obj, "subjects"), i, s)
    {
        const char *kind = str_or(s, "kind", ""), *name = str_or(s, "name", "");
        if (!strcmp(kind, "User")) {
            sb_add(&users, "%s%s", users.n ? ", " : "", name);
        } else if (!strcmp(kind, "Group")) {
            sb_add(&groups, "%s%s", groups.n ? ", " : "", name);
        } else if (!strcmp(kind, "ServiceAccount")) {
            const char *ns = str_or(s, "namespace", "");
            if (*ns)
                sb_add(&sas, "%s%s/%s", sas.n ? ", " : "", ns, name);
            else
                sb_add(&sas, "%s%s", sas.n ? ", " : "", name);
        }
    }
    json_array_append_new(cells, sb_take(&users));
    json_array_append_new(cells, sb_take(&groups));
    json_array_append_new(cells, sb_take(&sas));
}

static void row_lease(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(member(obj, "spec"), "holderIdentity", "")));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_endpointslice(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(obj, "addressType", "")));
    more_list_t l = {0};
    sb_add(&l.b, "%s", "");
    size_t i, j;
    json_t *p, *e, *a;
    json_array_foreach(member(obj, "ports"), i, p)
    {
        char b[64];
        json_t *port = member(p, "port");
        if (json_is_integer(port))
            snprintf(b, sizeof b, "%lld", (long long)json_integer_value(port));
        else
            snprintf(b, sizeof b, "%s", str_or(p, "name", "*"));
        ml_add(&l, b);
    }
    json_array_append_new(cells, ml_take(&l, "<unset>"));
    more_list_t m = {0};
    sb_add(&m.b, "%s", "");
    json_array_foreach(member(obj, "endpoints"), i, e)
    {
        json_array_foreach(member(e, "addresses"), j, a) if (json_is_string(a))
            ml_add(&m, json_string_value(a));
    }
    json_array_append_new(cells, ml_take(&m, "<unset>"));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_storageclass(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_t *ann = member(member(obj, "metadata"), "annotations");
    const char *d1 = str_or(ann, "storageclass.kubernetes.io/is-default-class", "");
    const char *d2 = str_or(ann, "storageclass.beta.kubernetes.io/is-default-class", "");
    if (!strcmp(d1, "true") || !strcmp(d2, "true")) {
        char *n = vk_xasprintf("%s (default)", name_of(obj));
        json_array_append_new(cells, json_string(n));
        free(n);
    } else {
        json_array_append_new(cells, json_string(name_of(obj)));
    }
    json_array_append_new(cells, json_string(str_or(obj, "provisioner", "")));
    json_array_append_new(cells, json_string(str_or(obj, "reclaimPolicy", "Delete")));
    json_array_append_new(cells, json_string(str_or(obj, "volumeBindingMode", "Immediate")));
    json_array_append_new(cells, json_boolean(json_is_true(member(obj, "allowVolumeExpansion"))));
    json_array_append_new(cells, obj_age(obj, now));
}

static void row_priorityclass(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_integer(int_or(obj, "value", 0)));
    json_array_append_new(cells, json_boolean(json_is_true(member(obj, "globalDefault"))));
    json_array_append_new(cells, obj_age(obj, now));
    json_array_append_new(cells, json_string(str_or(obj, "preemptionPolicy", "")));
}

static void row_runtimeclass(json_t *row, json_t *cells, const json_t *obj, int64_t now)
{
    json_array_append_new(cells, json_string(name_of(obj)));
    json_array_append_new(cells, json_string(str_or(obj, "handler", "")));
    json_array_append_new(cells, obj_age(obj, now));
}

/* ---- the table ------------------------------------------------------------------------ */

static const col_t pod_cols[] = {
    C_NAME,
    {"Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0},
    {"Status", "string", "", "The aggregate status of the containers in this pod.", 0},
    {"Restarts", "string", "",
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted.",
     0},
    C_AGE,
    {"IP", "string", "", "IP address allocated to the pod. Routable at least within the cluster.", 1},
    {"Node", "string", "", "NodeName indicates in which node this pod is scheduled.", 1},
    {"Nominated Node", "string", "",
     "nominatedNodeName is set only when this pod preempts other pods on the node.", 1},
    {"Readiness Gates", "string", "", "If specified, all readiness gates will be evaluated for pod readiness.", 1},
    C_END};
static const col_t podtemplate_cols[] = {
    C_NAME,
    {"Containers", "string", "", "Names of each container in the template.", 0},
    {"Images", "string", "", "Images referenced by each container in the template.", 0},
    {"Pod Labels", "string", "", "The labels for the pod template.", 0},
    C_END};
static const col_t namespace_cols[] = {
    C_NAME, {"Status", "string", "", "The status of the namespace", 0}, C_AGE, C_END};
static const col_t node_cols[] = {
    C_NAME,
    {"Status", "string", "", "The status of the node", 0},
    {"Roles", "string", "", "The roles of the node", 0},
    C_AGE,
    {"Version", "string", "", "Kubelet Version reported by the node.", 0},
    {"Internal-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"External-IP", "string", "", "List of addresses reachable to the node.", 1},
    {"OS-Image", "string", "", "OS Image reported by the node from /etc/os-release.", 1},
    {"Kernel-Version", "string", "", "Kernel Version reported by the node.", 1},
    {"Container-Runtime", "string", "", "ContainerRuntime Version reported by the node.", 1},
    C_END};
static const col_t service_cols[] = {
    C_NAME,
    {"Type", "string", "", "type determines how the Service is exposed.", 0},
    {"Cluster-IP", "string", "", "clusterIP is the IP address of the service.", 0},
    {"External-IP", "string", "", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.", 0},
    {"Port(s)", "string", "", "The list of ports that are exposed by this service.", 0},
    C_AGE,
    {"Selector", "string", "", "Route service traffic to pods with label keys and values matching this selector.", 1},
    C_END};
static const col_t endpoints_cols[] = {
    C_NAME, {"Endpoints", "string", "", "The set of all endpoints is the union of all subsets.", 0}, C_AGE, C_END};
static const col_t configmap_cols[] = {
    C_NAME, {"Data", "string", "", "Data contains the configuration data.", 0}, C_AGE, C_END};
static const col_t secret_cols[] = {
    C_NAME,
    {"Type", "string", "", "Used to facilitate programmatic handling of secret data.", 0},
    {"Data", "string", "", "Data contains the secret data.", 0},
    C_AGE,
    C_END};
static const col_t serviceaccount_cols[] = {C_NAME, C_AGE, C_END};
static const col_t event_cols[] = {
    {"Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0},
    {"Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future", 0},
    {"Reason", "string", "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0},
    {"Object", "string", "", "The object that this event is about.", 0},
    {"Subobject", "string", "", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.", 1},
    {"Source", "string", "", "The component reporting this event.", 1},
    {"Message", "string", "", "A human-readable description of the status of this operation.", 0},
    {"First Seen", "string", "", "The time at which the event was first recorded.", 1},
    {"Count", "string", "", "The number of times this event has occurred.", 1},
    {"Name", "string", "name", NAME_DESC, 1},
    C_END};
static const col_t pv_cols[] = {
    C_NAME,
    {"Capacity", "string", "", "capacity is the description of the persistent volume's resources and capacity.", 0},
    {"Access Modes", "string", "", "accessModes contains all ways the volume can be mounted.", 0},
    {"Reclaim Policy", "string", "", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.", 0},
    {"Status", "string", "", "phase indicates if a volume is available, bound to a claim, or released by a claim.", 0},
    {"Claim", "string", "", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.", 0},
    {"StorageClass", "string", "", "StorageClass of the pv", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pv", 0},
    {"Reason", "string", "", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.", 0},
    C_AGE,
    {"VolumeMode", "string", "", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.", 1},
    C_END};
static const col_t pvc_cols[] = {
    C_NAME,
    {"Status", "string", "", "phase represents the current phase of PersistentVolumeClaim.", 0},
    {"Volume", "string", "", "volumeName is the binding reference to the PersistentVolume backing this claim.", 0},
    {"Capacity", "string", "", "capacity represents the actual resources of the underlying volume.", 0},
    {"Access Modes", "string", "", "accessModes contains the desired access modes the volume should have.", 0},
    {"StorageClass", "string", "", "StorageClass of the pvc", 0},
    {"VolumeAttributesClass", "string", "", "VolumeAttributesClass of the pvc", 0},
    C_AGE,
    {"VolumeMode", "string", "", "volumeMode defines what type of volume is required by the claim.", 1},
    C_END};
static const col_t resourcequota_cols[] = {
    C_NAME,
    {"Request", "string", "", "Request represents a minimum amount of cpu/memory that a container may consume.", 0},
    {"Limit", "string", "", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.", 0},
    C_AGE, C_END};
static const col_t created_cols[] = {C_NAME, C_CREATED, C_END};
static const col_t deployment_cols[] = {
    C_NAME,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    {"Up-to-date", "string", "", "Total number of non-terminating pods targeted by this deployment that have the desired template spec.", 0},
    {"Available", "string", "", "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_SELECTOR(1), C_END};
static const col_t replicaset_cols[] = {
    C_NAME,
    {"Desired", "integer", "", "Replicas is the number of desired replicas.", 0},
    {"Current", "integer", "", "Replicas is the most recently observed number of replicas.", 0},
    {"Ready", "integer", "", "The number of ready replicas for this replica set.", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_SELECTOR(1), C_END};
static const col_t daemonset_cols[] = {
    C_NAME,
    {"Desired", "integer", "", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).", 0},
    {"Current", "integer", "", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.", 0},
    {"Ready", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.", 0},
    {"Up-to-date", "integer", "", "The total number of nodes that are running updated daemon pod", 0},
    {"Available", "integer", "", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)", 0},
    {"Node Selector", "string", "", "NodeSelector is a selector which must be true for the pod to fit on a node.", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_SELECTOR(1), C_END};
static const col_t statefulset_cols[] = {
    C_NAME,
    {"Ready", "string", "", "Number of the pod with ready state", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_END};
static const col_t job_cols[] = {
    C_NAME,
    {"Status", "string", "", "Status of the job.", 0},
    {"Completions", "string", "", "The completion status of the job.", 0},
    {"Duration", "string", "", "Time required to complete the job.", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_SELECTOR(1), C_END};
static const col_t cronjob_cols[] = {
    C_NAME,
    {"Schedule", "string", "", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.", 0},
    {"Timezone", "string", "", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.", 0},
    {"Suspend", "boolean", "", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.", 0},
    {"Active", "integer", "", "A list of pointers to currently running jobs.", 0},
    {"Last Schedule", "string", "", "Information when was the last time the job was successfully scheduled.", 0},
    C_AGE, C_CONTAINERS, C_IMAGES, C_SELECTOR(1), C_END};
static const col_t ingress_cols[] = {
    C_NAME,
    {"Class", "string", "", "The name of the IngressClass resource that should be used for this Ingress.", 0},
    {"Hosts", "string", "", "Hosts that incoming requests are matched against before the ingress rule", 0},
    {"Address", "string", "", "Address is a list containing ingress points for the load-balancer", 0},
    {"Ports", "string", "", "Ports of TLS configurations that open", 0},
    C_AGE, C_END};
static const col_t ingressclass_cols[] = {
    C_NAME,
    {"Controller", "string", "", "Controller that is responsible for handling this class", 0},
    {"Parameters", "string", "", "A reference to a resource with additional parameters", 0},
    C_AGE, C_END};
static const col_t networkpolicy_cols[] = {
    C_NAME, {"Pod-Selector", "string", "", "Selects the pods to which this NetworkPolicy object applies.", 0}, C_AGE, C_END};
static const col_t pdb_cols[] = {
    C_NAME,
    {"Min Available", "string", "", "The minimum number of pods that must be available.", 0},
    {"Max Unavailable", "string", "", "The maximum number of pods that may be unavailable.", 0},
    {"Allowed Disruptions", "integer", "", "Calculated number of pods that may be disrupted at this time.", 0},
    C_AGE, C_END};
static const col_t binding_cols[] = {
    C_NAME,
    {"Role", "string", "", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.", 0},
    C_AGE,
    {"Users", "string", "", "Users in the roleBinding", 1},
    {"Groups", "string", "", "Groups in the roleBinding", 1},
    {"ServiceAccounts", "string", "", "ServiceAccounts in the roleBinding", 1},
    C_END};
static const col_t lease_cols[] = {
    C_NAME, {"Holder", "string", "", "holderIdentity contains the identity of the holder of a current lease.", 0}, C_AGE, C_END};
static const col_t endpointslice_cols[] = {
    C_NAME,
    {"AddressType", "string", "", "Type of address carried by this EndpointSlice", 0},
    {"Ports", "string", "", "Ports advertised by this EndpointSlice", 0},
    {"Endpoints", "string", "", "Endpoints represented by this EndpointSlice", 0},
    C_AGE, C_END};
static const col_t storageclass_cols[] = {
    C_NAME,
    {"Provisioner", "string", "", "Indicates the type of the provisioner.", 0},
    {"ReclaimPolicy", "string", "", "Dynamically provisioned PersistentVolumes of this storage class are created with this reclaimPolicy. Defaults to Delete.", 0},
    {"VolumeBindingMode", "string", "", "VolumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used.", 0},
    {"AllowVolumeExpansion", "string", "", "AllowVolumeExpansion shows whether the storage class allow volume expand", 0},
    C_AGE, C_END};
static const col_t priorityclass_cols[] = {
    C_NAME,
    {"Value", "integer", "", "The value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.", 0},
    {"Global-Default", "boolean", "", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.", 0},
    C_AGE,
    {"PreemptionPolicy", "string", "", "PreemptionPolicy is the Policy for preempting pods with lower priority.", 0},
    C_END};
static const col_t runtimeclass_cols[] = {
    C_NAME, {"Handler", "string", "", "Handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.", 0}, C_AGE, C_END};

static const printer_t printers[] = {
    {"", "pods", pod_cols, row_pod},
    {"", "podtemplates", podtemplate_cols, row_podtemplate},
    {"", "namespaces", namespace_cols, row_namespace},
    {"", "nodes", node_cols, row_node},
    {"", "services", service_cols, row_service},
    {"", "endpoints", endpoints_cols, row_endpoints},
    {"", "configmaps", configmap_cols, row_count_data},
    {"", "secrets", secret_cols, row_secret},
    {"", "serviceaccounts", serviceaccount_cols, row_name_age},
    {"", "events", event_cols, row_event},
    {"events.k8s.io", "events", event_cols, row_event},
    {"", "persistentvolumes", pv_cols, row_pv},
    {"", "persistentvolumeclaims", pvc_cols, row_pvc},
    {"", "resourcequotas", resourcequota_cols, row_resourcequota},
    {"", "limitranges", created_cols, row_created},
    {"", "replicationcontrollers", replicaset_cols, row_replicaset},
    {"apps", "deployments", deployment_cols, row_deployment},
    {"apps", "replicasets", replicaset_cols, row_replicaset},
    {"apps", "daemonsets", daemonset_cols, row_daemonset},
    {"apps", "statefulsets", statefulset_cols, row_statefulset},
    {"batch", "jobs", job_cols, row_job},
    {"batch", "cronjobs", cronjob_cols, row_cronjob},
    {"networking.k8s.io", "ingresses", ingress_cols, row_ingress},
    {"networking.k8s.io", "ingressclasses", ingressclass_cols, row_ingressclass},
    {"networking.k8s.io", "networkpolicies", networkpolicy_cols, row_networkpolicy},
    {"policy", "poddisruptionbudgets", pdb_cols, row_pdb},
    {"rbac.authorization.k8s.io", "roles", created_cols, row_created},
    {"rbac.authorization.k8s.io", "clusterroles", created_cols, row_created},
    {"rbac.authorization.k8s.io", "rolebindings", binding_cols, row_binding},
    {"rbac.authorization.k8s.io", "clusterrolebindings", binding_cols, row_binding},
    {"coordination.k8s.io", "leases", lease_cols, row_lease},
    {"discovery.k8s.io", "endpointslices", endpointslice_cols, row_endpointslice},
    {"storage.k8s.io", "storageclasses", storageclass_cols, row_storageclass},
    {"scheduling.k8s.io", "priorityclasses", priorityclass_cols, row_priorityclass},
    {"node.k8s.io", "runtimeclasses", runtimeclass_cols, row_runtimeclass},
};

static const printer_t *find(const char *group, const char *resource)
{
    if (!group)
        group = "";
    if (!resource)
        return NULL;
    for (size_t i = 0; i < sizeof printers / sizeof printers[0]; i++)
        if (!strcmp(printers[i].group, group) && !strcmp(printers[i].resource, resource))
            return &printers[i];
    return NULL;
}

int vk_printers_known(const char *group, const char *resource)
{
    return find(group, resource) != NULL;
}

json_t *vk_printers_columns(const char *group, const char *resource)
{
    const printer_t *p = find(group, resource);
    const col_t *cols = p ? p->cols : created_cols;
    json_t *arr = json_array();
    for (const col_t *c = cols; c->name; c++) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(c->name));
        json_object_set_new(o, "type", json_string(c->type));
        json_object_set_new(o, "format", json_string(c->format));
        json_object_set_new(o, "description", json_string(c->desc));
        json_object_set_new(o, "priority", json_integer(c->priority));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *vk_printers_row(const char *group, const char *resource, const json_t *obj, int64_t now)
{
    const printer_t *p = find(group, resource);
    json_t *row = json_object();
    json_t *cells = json_array();
    json_object_set_new(row, "cells", cells);
    if (p)
        p->row(row, cells, obj, now);
    else
        row_created(row, cells, obj, now);
    return row;
}
