/* quota: ResourceQuota admission and quota arithmetic; see quota.h.
 *
 * Quantities are held as signed 128-bit counts of nano-units (10^-9) with the
 * format of the text they came from (DecimalSI, BinarySI, DecimalExponent),
 * which is enough for every value a quota holds (up to ~10^29 units) and
 * lets sums and formatting be exact, as upstream's inf.Dec arithmetic. */
#include "proxy/quota.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/status.h"

typedef __int128 i128;

enum { F_DEC, F_BIN, F_EXP };

typedef struct qty {
    i128 v; /* nano-units */
    int fmt;
} qty_t;

static const i128 NANO = 1000000000;

static i128 pow10i(int e)
{
    i128 r = 1;
    while (e-- > 0) r *= 10;
    return r;
}

/* Parses a quantity: sign, digits with at most one dot, then a suffix. */
static int qty_parse(const char *s, qty_t *out)
{
    if (!s) return -1;
    const char *p = s;
    int neg = 0;
    if (*p == '+' || *p == '-') neg = *p++ == '-';
    i128 mant = 0;
    int frac = 0, digits = 0, dot = 0;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.') {
            if (dot++) return -1;
            continue;
        }
        if (mant > pow10i(30)) return -1; /* too many digits */
        mant = mant * 10 + (*p - '0');
        digits++;
        if (dot) frac++;
    }
    if (!digits) return -1;
    int fmt = F_DEC, e10 = 0;
    i128 mul = 1;
    if (!*p) {
    } else if (p[1] == 'i' && !p[2] && strchr("KMGTPE", p[0])) {
        fmt = F_BIN;
        int k = (int)(strchr("KMGTPE", p[0]) - "KMGTPE") + 1;
        for (int i = 0; i < k; i++) mul *= 1024;
    } else if ((p[0] == 'e' || p[0] == 'E') && p[1] &&
               (p[1] == '-' || p[1] == '+' || (p[1] >= '0' && p[1] <= '9'))) {
        fmt = F_EXP;
        char *end;
        long x = strtol(p + 1, &end, 10);
        if (*end || x > 30 || x < -30) return -1;
        e10 = (int)x;
    } else if (!p[1]) {
        static const char sfx[] = "num kMGTPE";
        const char *q = strchr(sfx, p[0]);
        if (!q || p[0] == ' ') return -1;
        e10 = ((int)(q - sfx) - 3) * 3;
    } else {
        return -1;
    }
    /* v = mant * mul * 10^(9 + e10 - frac), rounded up to a nano-unit. */
    int sh = 9 + e10 - frac;
    i128 v = mant * mul;
    if (sh >= 0) {
        if (sh > 30) return -1;
        v *= pow10i(sh);
    } else {
        i128 d = pow10i(-sh);
        v = v / d + (v % d ? 1 : 0);
    }
    out->v = neg ? -v : v;
    out->fmt = fmt;
    return 0;
}

static void i128_str(i128 v, char *buf, size_t n)
{
    char tmp[64];
    int i = 0, neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-v) : (unsigned __int128)v;
    do {
        tmp[i++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    size_t o = 0;
    if (neg && o + 1 < n) buf[o++] = '-';
    while (i && o + 1 < n) buf[o++] = tmp[--i];
    buf[o] = 0;
}

static void qty_format(const qty_t *q, char *out, size_t n)
{
    char num[64];
    if (q->v == 0) {
        snprintf(out, n, "0");
        return;
    }
    i128 a = q->v < 0 ? -q->v : q->v;
    if (q->fmt == F_BIN && a >= 1024 * NANO && a % NANO == 0) {
        i128 m = q->v / NANO;
        int k = 0;
        while (k < 6 && m % 1024 == 0) {
            m /= 1024;
            k++;
        }
        static const char *const bs[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
        i128_str(m, num, sizeof num);
        snprintf(out, n, "%s%s", num, bs[k]);
        return;
    }
    /* Decimal: strip factors of ten, then lower the exponent to a multiple of 3. */
    i128 m = q->v;
    int e = -9;
    while (m % 10 == 0) {
        m /= 10;
        e++;
    }
    while (((e % 3) + 3) % 3) {
        m *= 10;
        e--;
    }
    while (e > 18) {
        m *= 1000;
        e -= 3;
    }
    i128_str(m, num, sizeof num);
    if (q->fmt == F_EXP) {
        if (e)
            snprintf(out, n, "%se%d", num, e);
        else
            snprintf(out, n, "%s", num);
        return;
    }
    static const char *const ds[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    snprintf(out, n, "%s%s", num, ds[(e + 9) / 3]);
}

int vk_quota_qty_canonical(const char *in, char *out, size_t n)
{
    qty_t q;
    if (qty_parse(in, &q)) return -1;
    qty_format(&q, out, n);
    return 0;
}

int vk_quota_qty_cmp(const char *a, const char *b)
{
    qty_t x = {0, 0}, y = {0, 0};
    qty_parse(a, &x);
    qty_parse(b, &y);
    return x.v < y.v ? -1 : x.v > y.v;
}

int vk_quota_qty_is_zero(const char *a)
{
    qty_t x = {0, 0};
    qty_parse(a, &x);
    return x.v == 0;
}

char *vk_quota_qty_add(const char *a, const char *b)
{
    qty_t x = {0, F_DEC}, y = {0, F_DEC};
    qty_parse(a, &x);
    qty_parse(b, &y);
    if (x.v == 0) x.fmt = y.fmt;
    x.v += y.v;
    char buf[80];
    qty_format(&x, buf, sizeof buf);
    return vk_xstrdup(buf);
}

/* a - b, or "0" when b >= a (a usage increase is never negative). New string. */
static char *qty_increase(const char *a, const char *b)
{
    qty_t x = {0, F_DEC}, y = {0, F_DEC};
    qty_parse(a, &x);
    qty_parse(b, &y);
    if (y.v >= x.v) return vk_xstrdup("0");
    x.v -= y.v;
    char buf[80];
    qty_format(&x, buf, sizeof buf);
    return vk_xstrdup(buf);
}

/* A quantity from JSON: a string, or a number (written as an integer). */
static const char *qtext(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, n, "%.9f", json_real_value(v));
        return buf;
    }
    return NULL;
}

void vk_quota_list_add(json_t *sum, const json_t *add)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)add, k, v) {
        char b1[64], b2[64];
        const char *cur = qtext(json_object_get(sum, k), b1, sizeof b1);
        const char *inc = qtext(v, b2, sizeof b2);
        if (!inc) continue;
        char *s = vk_quota_qty_add(cur ? cur : "0", inc);
        json_object_set_new(sum, k, json_string(s));
        free(s);
    }
}

/* ------------------------------------------------------------ usage */

static const char *str(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(o, f));
}

/* r[k] = max(r[k], v) (the init-container rule). */
static void list_max(json_t *r, const json_t *add)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)add, k, v) {
        char b1[64], b2[64];
        const char *cur = qtext(json_object_get(r, k), b1, sizeof b1);
        const char *nv = qtext(v, b2, sizeof b2);
        if (nv && (!cur || vk_quota_qty_cmp(nv, cur) > 0))
            json_object_set_new(r, k, json_string(nv));
    }
}

static int is_native(const char *r)
{
    return !strchr(r, '/') || !strncmp(r, "kubernetes.io/", 14);
}

/* Upstream's podComputeUsageHelper over summed requests and limits. */
static void compute_usage(json_t *u, const json_t *req, const json_t *lim)
{
    char b[64];
    const char *v;
    json_object_set_new(u, "pods", json_string("1"));
    if ((v = qtext(json_object_get(req, "cpu"), b, sizeof b))) {
        json_object_set_new(u, "cpu", json_string(v));
        json_object_set_new(u, "requests.cpu", json_string(v));
    }
    if ((v = qtext(json_object_get(lim, "cpu"), b, sizeof b)))
        json_object_set_new(u, "limits.cpu", json_string(v));
    if ((v = qtext(json_object_get(req, "memory"), b, sizeof b))) {
        json_object_set_new(u, "memory", json_string(v));
        json_object_set_new(u, "requests.memory", json_string(v));
    }
    if ((v = qtext(json_object_get(lim, "memory"), b, sizeof b)))
        json_object_set_new(u, "limits.memory", json_string(v));
    if ((v = qtext(json_object_get(req, "ephemeral-storage"), b, sizeof b))) {
        json_object_set_new(u, "ephemeral-storage", json_string(v));
        json_object_set_new(u, "requests.ephemeral-storage", json_string(v));
    }
    if ((v = qtext(json_object_get(lim, "ephemeral-storage"), b, sizeof b)))
        json_object_set_new(u, "limits.ephemeral-storage", json_string(v));
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)req, k, x) {
        if (!(v = qtext(x, b, sizeof b))) continue;
        char key[300];
        if (!strncmp(k, "hugepages-", 10)) {
            json_object_set_new(u, k, json_string(v));
            snprintf(key, sizeof key, "requests.%s", k);
            json_object_set_new(u, key, json_string(v));
        } else if (!is_native(k)) {
            snprintf(key, sizeof key, "requests.%s", k);
            json_object_set_new(u, key, json_string(v));
        }
    }
}

/* Pod requests or limits ("requests"/"limits"): containers summed, then the
 * largest init container if bigger, then the pod overhead. */
static json_t *pod_resources(const json_t *pod, const char *which)
{
    json_t *spec = json_object_get(pod, "spec");
    json_t *sum = json_object();
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(spec, "containers"), i, c)
        vk_quota_list_add(sum, json_object_get(json_object_get(c, "resources"), which));
    json_t *init = json_object();
    json_t *side = json_object();
    json_array_foreach(json_object_get(spec, "initContainers"), i, c) {
        json_t *r = json_object_get(json_object_get(c, "resources"), which);
        const char *rp = str(c, "restartPolicy");
        if (rp && !strcmp(rp, "Always")) {
            vk_quota_list_add(side, r); /* sidecars run beside the app */
        } else {
            json_t *t = json_deep_copy(side);
            vk_quota_list_add(t, r);
            list_max(init, t);
            json_decref(t);
        }
    }
    vk_quota_list_add(sum, side);
    list_max(sum, init);
    json_decref(init);
    json_decref(side);
    vk_quota_list_add(sum, json_object_get(spec, "overhead"));
    return sum;
}

static int pod_terminal(const json_t *pod)
{
    const char *ph = str(json_object_get(pod, "status"), "phase");
    return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

/* Deleted and past its grace period (upstream stops charging it then). */
static int pod_gone(const json_t *pod)
{
    json_t *md = json_object_get(pod, "metadata");
    const char *dt = str(md, "deletionTimestamp");
    if (!dt) return 0;
    struct tm tm = {0};
    if (!strptime(dt, "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
    long long grace = json_integer_value(json_object_get(md, "deletionGracePeriodSeconds"));
    return (long long)time(NULL) > (long long)timegm(&tm) + grace;
}

static void count_name(const char *group, const char *plural, char *out, size_t n)
{
    if (group && *group)
        snprintf(out, n, "count/%s.%s", plural, group);
    else
        snprintf(out, n, "count/%s", plural);
}

static const char *const legacy[] = {"pods", "services", "configmaps", "secrets",
                                     "persistentvolumeclaims", "replicationcontrollers",
                                     "resourcequotas", NULL};

static int is_legacy(const char *group, const char *plural)
{
    if (group && *group) return 0;
    for (int i = 0; legacy[i]; i++)
        if (!strcmp(legacy[i], plural)) return 1;
    return 0;
}

json_t *vk_quota_object_usage(const char *group, const char *plural, const json_t *obj)
{
    json_t *u = json_object();
    char cn[300];
    count_name(group, plural, cn, sizeof cn);
    json_object_set_new(u, cn, json_string("1"));
    int core = !group || !*group;
    if (core && !strcmp(plural, "pods")) {
        if (pod_terminal(obj) || pod_gone(obj)) return u;
        json_t *req = pod_resources(obj, "requests"), *lim = pod_resources(obj, "limits");
        compute_usage(u, req, lim);
        json_decref(req);
        json_decref(lim);
        return u;
    }
    if (is_legacy(group, plural)) json_object_set_new(u, plural, json_string("1"));
    if (core && !strcmp(plural, "services")) {
        json_t *spec = json_object_get(obj, "spec");
        const char *type = str(spec, "type");
        size_t ports = json_array_size(json_object_get(spec, "ports"));
        if (type && !strcmp(type, "LoadBalancer")) {
            json_object_set_new(u, "services.loadbalancers", json_string("1"));
            if (!json_is_false(json_object_get(spec, "allocateLoadBalancerNodePorts"))) {
                snprintf(cn, sizeof cn, "%zu", ports);
                json_object_set_new(u, "services.nodeports", json_string(cn));
            }
        } else if (type && !strcmp(type, "NodePort")) {
            snprintf(cn, sizeof cn, "%zu", ports);
            json_object_set_new(u, "services.nodeports", json_string(cn));
        }
        if (!json_object_get(u, "services.nodeports"))
            json_object_set_new(u, "services.nodeports", json_string("0"));
        if (!json_object_get(u, "services.loadbalancers"))
            json_object_set_new(u, "services.loadbalancers", json_string("0"));
    }
    if (core && !strcmp(plural, "persistentvolumeclaims")) {
        json_t *spec = json_object_get(obj, "spec");
        char b[64];
        const char *st = qtext(json_object_get(json_object_get(json_object_get(spec, "resources"),
                                                               "requests"),
                                               "storage"),
                               b, sizeof b);
        const char *sc = str(spec, "storageClassName");
        if (st) json_object_set_new(u, "requests.storage", json_string(st));
        if (sc && *sc) {
            snprintf(cn, sizeof cn, "%s.storageclass.storage.k8s.io/persistentvolumeclaims", sc);
            json_object_set_new(u, cn, json_string("1"));
            if (st) {
                snprintf(cn, sizeof cn, "%s.storageclass.storage.k8s.io/requests.storage", sc);
                json_object_set_new(u, cn, json_string(st));
            }
        }
    }
    return u;
}

int vk_quota_covers(const char *group, const char *plural, const char *r)
{
    char cn[300];
    count_name(group, plural, cn, sizeof cn);
    if (!strcmp(r, cn)) return 1;
    int core = !group || !*group;
    if (core && !strcmp(plural, "pods")) {
        static const char *const pr[] = {"pods", "cpu", "memory", "ephemeral-storage",
                                         "limits.cpu", "limits.memory", "limits.ephemeral-storage",
                                         NULL};
        for (int i = 0; pr[i]; i++)
            if (!strcmp(r, pr[i])) return 1;
        return !strncmp(r, "requests.", 9) || !strncmp(r, "hugepages-", 10);
    }
    if (is_legacy(group, plural) && !strcmp(r, plural)) return 1;
    if (core && !strcmp(plural, "services"))
        return !strcmp(r, "services.loadbalancers") || !strcmp(r, "services.nodeports");
    if (core && !strcmp(plural, "persistentvolumeclaims")) {
        const char *d = strstr(r, ".storageclass.storage.k8s.io/");
        return !strcmp(r, "requests.storage") ||
               (d && (!strcmp(d + 29, "requests.storage") ||
                      !strcmp(d + 29, "persistentvolumeclaims")));
    }
    return 0;
}

/* ------------------------------------------------------------ scopes */

static int best_effort(const json_t *pod)
{
    json_t *spec = json_object_get(pod, "spec");
    const char *lists[] = {"containers", "initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c) {
            json_t *r = json_object_get(c, "resources");
            if (json_object_size(json_object_get(r, "requests")) ||
                json_object_size(json_object_get(r, "limits")))
                return 0;
        }
    }
    return 1;
}

static int cross_ns_affinity(const json_t *pod)
{
    json_t *aff = json_object_get(json_object_get(pod, "spec"), "affinity");
    const char *kinds[] = {"podAffinity", "podAntiAffinity"};
    for (int k = 0; k < 2; k++) {
        json_t *a = json_object_get(aff, kinds[k]);
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(a, "requiredDuringSchedulingIgnoredDuringExecution"), i, t)
            if (json_array_size(json_object_get(t, "namespaces")) || json_object_get(t, "namespaceSelector"))
                return 1;
        json_array_foreach(json_object_get(a, "preferredDuringSchedulingIgnoredDuringExecution"), i, t) {
            json_t *pt = json_object_get(t, "podAffinityTerm");
            if (json_array_size(json_object_get(pt, "namespaces")) || json_object_get(pt, "namespaceSelector"))
                return 1;
        }
    }
    return 0;
}

/* One scope selector requirement {scopeName, operator, values} against a pod. */
static int scope_match(const json_t *req, const json_t *pod)
{
    const char *sn = str(req, "scopeName"), *op = str(req, "operator");
    json_t *spec = json_object_get(pod, "spec");
    if (!sn) return 0;
    if (!strcmp(sn, "Terminating") || !strcmp(sn, "NotTerminating")) {
        json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
        int term = json_is_integer(ads) && json_integer_value(ads) >= 0;
        return sn[0] == 'T' ? term : !term;
    }
    if (!strcmp(sn, "BestEffort")) return best_effort(pod);
    if (!strcmp(sn, "NotBestEffort")) return !best_effort(pod);
    if (!strcmp(sn, "CrossNamespacePodAffinity")) return cross_ns_affinity(pod);
    if (!strcmp(sn, "PriorityClass")) {
        const char *pc = str(spec, "priorityClassName");
        int has = pc && *pc;
        if (!op || !strcmp(op, "Exists")) return has;
        if (!strcmp(op, "DoesNotExist")) return !has;
        int in = 0;
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(req, "values"), i, v)
            if (has && json_string_value(v) && !strcmp(json_string_value(v), pc)) in = 1;
        if (!strcmp(op, "In")) return in;
        if (!strcmp(op, "NotIn")) return !in; /* a missing key matches NotIn, as label selectors */
        return 0;
    }
    return 0;
}

int vk_quota_scopes_match(const json_t *quota, const char *group, const char *plural,
                          const json_t *obj)
{
    json_t *spec = json_object_get(quota, "spec");
    json_t *scopes = json_object_get(spec, "scopes");
    json_t *exprs = json_object_get(json_object_get(spec, "scopeSelector"), "matchExpressions");
    if (!json_array_size(scopes) && !json_array_size(exprs)) return 1;
    /* Only pods have scopes; anything else never matches a scoped quota. */
    if ((group && *group) || strcmp(plural, "pods")) return 0;
    size_t i;
    json_t *v;
    json_array_foreach(scopes, i, v) {
        json_t *req = json_pack("{s:s?,s:s}", "scopeName", json_string_value(v), "operator", "Exists");
        int m = scope_match(req, obj);
        json_decref(req);
        if (!m) return 0;
    }
    json_array_foreach(exprs, i, v)
        if (!scope_match(v, obj)) return 0;
    return 1;
}

/* ------------------------------------------------------------ messages */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k=v,k=v" over names (sorted) taking values from list. */
static void pretty(FILE *f, const json_t *list, const char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char b[64], c[80];
        const char *v = qtext(json_object_get(list, names[i]), b, sizeof b);
        if (!v) continue;
        if (vk_quota_qty_canonical(v, c, sizeof c)) snprintf(c, sizeof c, "%s", v);
        fprintf(f, "%s%s=%s", i ? "," : "", names[i], c);
    }
}

char *vk_quota_exceeded(const char *qname, const json_t *hard, const json_t *used,
                        const json_t *requested)
{
    const char **ex = vk_xmalloc((json_object_size(requested) + 1) * sizeof *ex);
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)requested, k, v) {
        char b1[64], b2[64], b3[64];
        const char *h = qtext(json_object_get(hard, k), b1, sizeof b1);
        if (!h) continue;
        const char *u = qtext(json_object_get(used, k), b2, sizeof b2);
        const char *r = qtext(v, b3, sizeof b3);
        char *sum = vk_quota_qty_add(u ? u : "0", r ? r : "0");
        if (vk_quota_qty_cmp(sum, h) > 0) ex[n++] = k;
        free(sum);
    }
    if (!n) {
        free(ex);
        return NULL;
    }
    qsort(ex, n, sizeof *ex, cmp_str);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    fprintf(f, "exceeded quota: %s, requested: ", qname);
    pretty(f, requested, ex, n);
    fprintf(f, ", used: ");
    /* Upstream masks used: a resource never charged yet prints as nothing. */
    json_t *u2 = json_deep_copy(used);
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(u2, ex[i])) json_object_set_new(u2, ex[i], json_string("0"));
    pretty(f, u2, ex, n);
    json_decref(u2);
    fprintf(f, ", limited: ");
    pretty(f, hard, ex, n);
    fclose(f);
    free(ex);
    return out;
}

static const char *const validation_set[] = {"cpu", "memory", "requests.cpu", "requests.memory",
                                             "limits.cpu", "limits.memory", NULL};

char *vk_quota_pod_missing(const json_t *pod, const json_t *hard)
{
    json_t *missing = json_object(); /* resource -> object container -> true */
    json_t *spec = json_object_get(pod, "spec");
    const char *lists[] = {"containers", "initContainers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, lists[l]), i, c) {
            json_t *res = json_object_get(c, "resources");
            json_t *cu = json_object();
            compute_usage(cu, json_object_get(res, "requests"), json_object_get(res, "limits"));
            for (int r = 0; validation_set[r]; r++) {
                if (!json_object_get(hard, validation_set[r]) ||
                    json_object_get(cu, validation_set[r]))
                    continue;
                json_t *m = json_object_get(missing, validation_set[r]);
                if (!m) {
                    m = json_object();
                    json_object_set_new(missing, validation_set[r], m);
                }
                json_object_set_new(m, str(c, "name") ? str(c, "name") : "", json_true());
            }
            json_decref(cu);
        }
    }
    if (!json_object_size(missing)) {
        json_decref(missing);
        return NULL;
    }
    size_t n = json_object_size(missing), i = 0;
    const char **rs = vk_xmalloc(n * sizeof *rs);
    const char *k;
    json_t *v;
    json_object_foreach(missing, k, v) rs[i++] = k;
    qsort(rs, n, sizeof *rs, cmp_str);
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    fprintf(f, "must specify ");
    for (i = 0; i < n; i++) {
        json_t *m = json_object_get(missing, rs[i]);
        size_t nc = json_object_size(m), j = 0;
        const char **cs = vk_xmalloc((nc + 1) * sizeof *cs);
        const char *cn;
        json_t *x;
        json_object_foreach(m, cn, x) cs[j++] = cn;
        qsort(cs, nc, sizeof *cs, cmp_str);
        fprintf(f, "%s%s for: ", i ? "; " : "", rs[i]);
        for (j = 0; j < nc; j++) fprintf(f, "%s%s", j ? "," : "", cs[j]);
        free(cs);
    }
    fclose(f);
    free(rs);
    json_decref(missing);
    return out;
}

/* ------------------------------------------------------------ admission */

/* Per API server: charges not yet visible in the stored quotas. */
typedef struct vk_quota {
    int refs;   /* the ctx's plus one per write in flight */
    int closed; /* the ctx is gone */
    vk_store_t *store;
    json_t *pending; /* quota key -> {rev, used, inflight, written} */
} vk_quota_t;

static void state_unref(vk_quota_t *q)
{
    if (--q->refs) return;
    json_decref(q->pending);
    free(q);
}

void vk_quota_ctx_free(vk_rest_ctx_t *ctx)
{
    vk_quota_t *q = ctx->quota;
    if (!q) return;
    ctx->quota = NULL;
    q->closed = 1;
    state_unref(q);
}

typedef struct wr {
    vk_quota_t *q;
    char key[400];
} wr_t;

static void write_used(vk_quota_t *q, const char *key);

static void on_used_written(void *arg, int status, const vk_kv_t *kv)
{
    wr_t *w = arg;
    vk_quota_t *q = w->q;
    if (!q->closed) {
        json_t *p = json_object_get(q->pending, w->key);
        if (p) {
            json_object_set_new(p, "inflight", json_false());
            if (status || !kv) {
                /* Changed meanwhile (the controller recounted) or failed:
                 * the stored status is the truth from now on. */
                json_object_del(q->pending, w->key);
            } else if (json_equal(json_object_get(p, "used"), json_object_get(p, "written"))) {
                json_object_del(q->pending, w->key);
            } else {
                /* More creates were charged while this write was in flight. */
                json_object_set_new(p, "rev", json_integer(kv->mod_rev));
                write_used(q, w->key);
            }
        }
    }
    free(w);
    state_unref(q);
}

static void write_used(vk_quota_t *q, const char *key)
{
    json_t *p = json_object_get(q->pending, key);
    vk_kv_t *kv;
    if (!p || vk_store_get(q->store, key, &kv)) {
        json_object_del(q->pending, key);
        return;
    }
    if (kv->mod_rev != json_integer_value(json_object_get(p, "rev"))) {
        vk_kv_unref(kv);
        json_object_del(q->pending, key);
        return;
    }
    json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    json_t *st = json_object_get(o, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(o, "status", st);
    }
    json_object_set(st, "used", json_object_get(p, "used"));
    char *data = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    wr_t *w = vk_xcalloc(1, sizeof *w);
    w->q = q;
    snprintf(w->key, sizeof w->key, "%s", key);
    q->refs++;
    json_object_set_new(p, "inflight", json_true());
    json_object_set_new(p, "written", json_deep_copy(json_object_get(p, "used")));
    if (vk_store_update(q->store, key, data, strlen(data), kv->mod_rev, on_used_written, w)) {
        q->refs--;
        free(w);
        json_object_del(q->pending, key);
    }
    free(data);
    vk_kv_unref(kv);
}

static void charge(vk_quota_t *q, const char *key, int64_t rev, json_t *used)
{
    json_t *p = json_object_get(q->pending, key);
    if (!p) {
        p = json_object();
        json_object_set_new(q->pending, key, p);
    }
    json_object_set_new(p, "rev", json_integer(rev));
    json_object_set(p, "used", used);
    if (!json_is_true(json_object_get(p, "inflight"))) write_used(q, key);
}

static void forbid(vk_rest_call_t *c, const char *name, const char *why)
{
    const vk_resource_t *r = c->res;
    char *msg;
    if (r->group[0])
        msg = vk_xasprintf("%s.%s \"%s\" is forbidden: %s", r->plural, r->group, name ? name : "",
                           why);
    else
        msg = vk_xasprintf("%s \"%s\" is forbidden: %s", r->plural, name ? name : "", why);
    vk_rest_reply_status(c, vk_status_new(403, "Forbidden", msg, r, name));
    free(msg);
}

static int is_tenant_quota_call(const vk_rest_call_t *c, const char *name)
{
    return !c->res->group[0] && !strcmp(c->res->plural, "resourcequotas") && c->ns &&
           !strcmp(c->ns, VK_QUOTA_TENANT_NS) && name && !strcmp(name, VK_QUOTA_TENANT_NAME);
}

static const char *const tenant_quota_msg =
    "this quota is the tenant's limit, set by the platform (the Tenant manifest's spec.quota); "
    "it cannot be changed from inside the tenant";

int vk_quota_admit_delete(vk_rest_call_t *c)
{
    if (!is_tenant_quota_call(c, c->name)) return 0;
    forbid(c, c->name, tenant_quota_msg);
    return -1;
}

/* One quota to check: its store key, revision and decoded object. */
typedef struct qent {
    char *key;
    int64_t rev;
    json_t *obj;
} qent_t;

static size_t load_quotas(vk_store_t *st, const char *ns, qent_t **out)
{
    qent_t *v = NULL;
    size_t n = 0;
    char *prefix = vk_xasprintf("/core/resourcequotas/%s/", ns);
    vk_store_list_t l;
    if (vk_store_list(st, prefix, NULL, 0, 0, &l) == 0) {
        v = vk_xcalloc(l.count + 2, sizeof *v);
        for (size_t i = 0; i < l.count; i++) {
            json_t *o = json_loadb((const char *)l.items[i]->val, l.items[i]->len, 0, NULL);
            if (!o) continue;
            v[n].key = vk_xstrdup(l.items[i]->key);
            v[n].rev = l.items[i]->mod_rev;
            v[n++].obj = o;
        }
        vk_store_list_free(&l);
    }
    free(prefix);
    if (strcmp(ns, VK_QUOTA_TENANT_NS)) {
        char *key = vk_xasprintf("/core/resourcequotas/%s/%s", VK_QUOTA_TENANT_NS,
                                 VK_QUOTA_TENANT_NAME);
        vk_kv_t *kv;
        if (vk_store_get(st, key, &kv) == 0) {
            json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
            if (o) {
                if (!v) v = vk_xcalloc(2, sizeof *v);
                v[n].key = key;
                key = NULL;
                v[n].rev = kv->mod_rev;
                v[n++].obj = o;
            }
            vk_kv_unref(kv);
        }
        free(key);
    }
    *out = v;
    return n;
}

int vk_quota_admit(vk_rest_call_t *c, const json_t *obj, const json_t *old)
{
    const vk_resource_t *r = c->res;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (is_tenant_quota_call(c, name)) {
        const char *user = c->req ? c->req->user.name : NULL;
        if (!old || !c->sub || strcmp(c->sub, "status") || !user ||
            strcmp(user, VK_QUOTA_CONTROLLER_USER)) {
            forbid(c, name, tenant_quota_msg);
            return -1;
        }
        return 0;
    }
    /* Upstream charges creates, and updates that raise usage: a Service
     * becoming NodePort/LoadBalancer, a claim asking for more storage (pod
     * resizes are not served here). An update is charged the increase only. */
    if (c->sub || !(r->flags & VK_RES_NAMESPACED) || !c->ns) return 0;
    json_t *usage;
    if (old) {
        if (r->group[0] || (strcmp(r->plural, "services") && strcmp(r->plural, "persistentvolumeclaims")))
            return 0;
        json_t *now = vk_quota_object_usage(r->group, r->plural, obj);
        json_t *before = vk_quota_object_usage(r->group, r->plural, old);
        usage = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(now, k, v) {
            char b1[64], b2[64];
            const char *n1 = qtext(v, b1, sizeof b1);
            const char *n0 = qtext(json_object_get(before, k), b2, sizeof b2);
            char *inc = qty_increase(n1 ? n1 : "0", n0 ? n0 : "0");
            if (!vk_quota_qty_is_zero(inc)) json_object_set_new(usage, k, json_string(inc));
            free(inc);
        }
        json_decref(now);
        json_decref(before);
        if (!json_object_size(usage)) {
            json_decref(usage);
            return 0;
        }
    } else {
        usage = vk_quota_object_usage(r->group, r->plural, obj);
    }
    vk_rest_ctx_t *ctx = c->ctx;
    qent_t *qs;
    size_t nq = load_quotas(ctx->store, c->ns, &qs);
    if (!nq) {
        free(qs);
        json_decref(usage);
        return 0;
    }
    if (!ctx->quota) {
        vk_quota_t *q = vk_xcalloc(1, sizeof *q);
        q->refs = 1;
        q->store = ctx->store;
        q->pending = json_object();
        ctx->quota = q;
    }
    vk_quota_t *q = ctx->quota;
    json_t *news = json_array(); /* [index, new used] of quotas to charge */
    int refused = 0;
    for (size_t i = 0; i < nq && !refused; i++) {
        json_t *st = json_object_get(qs[i].obj, "status");
        json_t *hard = json_object_get(st, "hard");
        const char *qname = str(json_object_get(qs[i].obj, "metadata"), "name");
        if (!vk_quota_scopes_match(qs[i].obj, r->group, r->plural, obj)) continue;
        json_t *matched = json_array();
        const char *k;
        json_t *v;
        json_object_foreach(hard, k, v)
            if (vk_quota_covers(r->group, r->plural, k)) json_array_append_new(matched, json_string(k));
        if (!json_array_size(matched)) {
            json_decref(matched);
            continue;
        }
        /* The tenant quota does not ask pods for requests/limits: the host
         * namespace's LimitRange (operator/desired.c) gives them defaults and
         * the host quota counts those; here pods and what pods do specify are
         * counted. */
        const char *qns = str(json_object_get(qs[i].obj, "metadata"), "namespace");
        int tenant_quota = qname && qns && !strcmp(qname, VK_QUOTA_TENANT_NAME) &&
                           !strcmp(qns, VK_QUOTA_TENANT_NS);
        if (!r->group[0] && !strcmp(r->plural, "pods") && !tenant_quota) {
            json_t *mh = json_object();
            size_t j;
            json_array_foreach(matched, j, v) json_object_set_new(mh, json_string_value(v), json_true());
            char *miss = vk_quota_pod_missing(obj, mh);
            json_decref(mh);
            if (miss) {
                char *why = vk_xasprintf("failed quota: %s: %s", qname, miss);
                forbid(c, name, why);
                free(why);
                free(miss);
                json_decref(matched);
                refused = 1;
                break;
            }
        }
        /* The quota must have been counted for what it limits. */
        json_t *used0 = json_object_get(st, "used");
        json_t *unknown = json_array();
        size_t j;
        json_array_foreach(matched, j, v)
            if (!json_object_get(used0, json_string_value(v))) json_array_append(unknown, v);
        if (json_array_size(unknown)) {
            char *list = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&list, &len);
            const char **ns = vk_xmalloc(json_array_size(unknown) * sizeof *ns);
            json_array_foreach(unknown, j, v) ns[j] = json_string_value(v);
            qsort(ns, json_array_size(unknown), sizeof *ns, cmp_str);
            for (j = 0; j < json_array_size(unknown); j++) fprintf(f, "%s%s", j ? "," : "", ns[j]);
            fclose(f);
            free(ns);
            char *why = vk_xasprintf("status unknown for quota: %s, resources: %s", qname, list);
            forbid(c, name, why);
            free(why);
            free(list);
            json_decref(unknown);
            json_decref(matched);
            refused = 1;
            break;
        }
        json_decref(unknown);
        /* requested = usage masked to the hard names, zeros dropped. */
        json_t *req = json_object();
        json_array_foreach(matched, j, v) {
            json_t *u = json_object_get(usage, json_string_value(v));
            char b[64];
            const char *t = qtext(u, b, sizeof b);
            if (t && !vk_quota_qty_is_zero(t)) json_object_set_new(req, json_string_value(v), json_string(t));
        }
        json_decref(matched);
        if (!json_object_size(req)) {
            json_decref(req);
            continue;
        }
        json_t *p = json_object_get(q->pending, qs[i].key);
        json_t *used = p && json_integer_value(json_object_get(p, "rev")) == qs[i].rev
                           ? json_object_get(p, "used")
                           : used0;
        char *why = vk_quota_exceeded(qname, hard, used, req);
        if (why) {
            forbid(c, name, why);
            free(why);
            json_decref(req);
            refused = 1;
            break;
        }
        json_t *nu = json_deep_copy(json_is_object(used) ? used : json_object_get(st, "used"));
        if (!json_is_object(nu)) {
            json_decref(nu);
            nu = json_object();
        }
        vk_quota_list_add(nu, req);
        json_decref(req);
        json_array_append_new(news, json_pack("[I,o]", (json_int_t)i, nu));
    }
    /* After a refusal the request is answered: c->req is gone. */
    const char *dr = refused ? NULL : vk_http_query(c->req, "dryRun");
    if (!refused && !(dr && !strcmp(dr, "All"))) {
        size_t j;
        json_t *e;
        json_array_foreach(news, j, e) {
            size_t i = (size_t)json_integer_value(json_array_get(e, 0));
            charge(q, qs[i].key, qs[i].rev, json_array_get(e, 1));
        }
    }
    json_decref(news);
    json_decref(usage);
    for (size_t i = 0; i < nq; i++) {
        free(qs[i].key);
        json_decref(qs[i].obj);
    }
    free(qs);
    return refused ? -1 : 0;
}

/* ------------------------------------------------------------ tenant quota */

static void ignore_cb(void *arg, int status, const vk_kv_t *kv)
{
    if (status && status != VK_ENOTFOUND)
        vk_log_warn("quota: tenant quota write failed: %s", vk_err_name(status));
}

int vk_quota_tenant_install(vk_store_t *store, const json_t *hard)
{
    char *key = vk_xasprintf("/core/resourcequotas/%s/%s", VK_QUOTA_TENANT_NS, VK_QUOTA_TENANT_NAME);
    vk_kv_t *kv = NULL;
    int rc = vk_store_get(store, key, &kv);
    if (rc && rc != VK_ENOTFOUND) {
        free(key);
        return rc;
    }
    json_t *cur = kv ? json_loadb((const char *)kv->val, kv->len, 0, NULL) : NULL;
    json_t *canon = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hard, k, v) {
        char b[64], c[80];
        const char *t = qtext(v, b, sizeof b);
        if (t && !vk_quota_qty_canonical(t, c, sizeof c)) json_object_set_new(canon, k, json_string(c));
    }
    rc = 0;
    if (!json_object_size(canon)) {
        if (kv) rc = vk_store_delete(store, key, kv->mod_rev, ignore_cb, NULL);
    } else if (!cur) {
        char uid[40], now[32];
        unsigned char r[16];
        FILE *f = fopen("/dev/urandom", "rb");
        if (!f || fread(r, 1, sizeof r, f) != sizeof r)
            for (size_t i = 0; i < sizeof r; i++) r[i] = (unsigned char)(rand() & 0xff);
        if (f) fclose(f);
        r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
        r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
        snprintf(uid, sizeof uid,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
                 r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
                 r[15]);
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *o = json_pack(
            "{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s},s:{s:s}},s:{s:O}}", "apiVersion", "v1", "kind",
            "ResourceQuota", "metadata", "name", VK_QUOTA_TENANT_NAME, "namespace",
            VK_QUOTA_TENANT_NS, "uid", uid, "creationTimestamp", now, "labels", "vkube.io/tenant-quota",
            "true", "annotations", "vkube.io/description",
            "The tenant's limit over all namespaces, from the Tenant manifest's spec.quota "
            "(read-only inside the tenant)",
            "spec", "hard", canon);
        char *data = json_dumps(o, JSON_COMPACT);
        rc = vk_store_create(store, key, data, strlen(data), ignore_cb, NULL);
        free(data);
        json_decref(o);
    } else if (!json_equal(json_object_get(json_object_get(cur, "spec"), "hard"), canon)) {
        json_t *spec = json_object_get(cur, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(cur, "spec", spec);
        }
        json_object_set(spec, "hard", canon);
        char *data = json_dumps(cur, JSON_COMPACT);
        rc = vk_store_update(store, key, data, strlen(data), kv->mod_rev, ignore_cb, NULL);
        free(data);
    }
    json_decref(canon);
    json_decref(cur);
    if (kv) vk_kv_unref(kv);
    free(key);
    return rc;
}
