/* controllers/logic: pure functions of the controllers (hash, rolling-update
 * arithmetic); see controllers.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "controllers/controllers.h"

uint32_t vk_controllers_fnv32a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

void vk_controllers_safe_encode(const char *s, char *out)
{
    static const char alphanums[] = "bcdfghjklmnpqrstvwxz2456789";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++) out[i] = alphanums[(unsigned char)s[i] % (sizeof alphanums - 1)];
    out[n] = 0;
}

void vk_controllers_template_hash(json_t *tmpl, long collision_count, char *out)
{
    json_t *t = json_deep_copy(tmpl);
    json_t *labels = json_object_get(json_object_get(t, "metadata"), "labels");
    if (labels) json_object_del(labels, "pod-template-hash");
    char *s = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(t);
    size_t n = s ? strlen(s) : 0;
    if (collision_count >= 0) {
        /* As upstream: the count's bytes are hashed after the template. */
        char buf[32];
        int k = snprintf(buf, sizeof buf, "%ld", collision_count);
        s = realloc(s, n + (size_t)k + 1);
        memcpy(s + n, buf, (size_t)k + 1);
        n += (size_t)k;
    }
    uint32_t h = vk_controllers_fnv32a(s, n);
    free(s);
    char dec[16];
    snprintf(dec, sizeof dec, "%u", h);
    vk_controllers_safe_encode(dec, out);
}

long vk_controllers_int_or_percent(json_t *v, long total, int round_up, long dflt)
{
    if (!v || json_is_null(v)) return dflt;
    if (json_is_integer(v)) return json_integer_value(v) < 0 ? -1 : (long)json_integer_value(v);
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    char *end;
    long n = strtol(s, &end, 10);
    if (end == s || n < 0) return -1;
    if (!*end) return n;
    if (strcmp(end, "%")) return -1;
    long prod = n * total;
    return round_up ? (prod + 99) / 100 : prod / 100;
}

void vk_controllers_surge_unavailable(json_t *rolling, long replicas, long *surge,
                                      long *unavailable)
{
    json_t *ms = json_object_get(rolling, "maxSurge");
    json_t *mu = json_object_get(rolling, "maxUnavailable");
    json_t *d = json_string("25%");
    long s = vk_controllers_int_or_percent(ms ? ms : d, replicas, 1, 0);
    long u = vk_controllers_int_or_percent(mu ? mu : d, replicas, 0, 0);
    json_decref(d);
    if (s < 0) s = 0;
    if (u < 0) u = 0;
    if (u > replicas) u = replicas;
    if (s == 0 && u == 0) u = 1;
    *surge = s;
    *unavailable = u;
}

long vk_controllers_new_rs_scale_up(long desired, long surge, long all_replicas,
                                    long new_replicas)
{
    long max_total = desired + surge;
    if (all_replicas >= max_total) return 0;
    long up = max_total - all_replicas;
    if (up > desired - new_replicas) up = desired - new_replicas;
    return up > 0 ? up : 0;
}

long vk_controllers_max_scale_down(long all_replicas, long min_available, long new_unavailable)
{
    long n = all_replicas - min_available - new_unavailable;
    return n > 0 ? n : 0;
}

/* ---- cron schedules ---- */

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A number or (names != NULL) a 3-letter name; -1 if neither. */
static int cron_value(const char *s, size_t n, const char *const *names, int nnames, int base)
{
    if (names && n == 3)
        for (int i = 0; i < nnames; i++)
            if (!strncasecmp(s, names[i], 3)) return i + base;
    if (!n || n > 4) return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses one field into bits; *star set for "*" / "?" without a step > 1. */
static int cron_field(const char *f, int lo, int hi, const char *const *names, int nnames,
                      int base, uint64_t *bits, int *star)
{
    *bits = 0;
    *star = 0;
    const char *p = f;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *slash = memchr(p, '/', len);
        size_t rlen = slash ? (size_t)(slash - p) : len;
        int a, b, step = 1, is_star = 0;
        if (rlen == 1 && (*p == '*' || *p == '?')) {
            a = lo;
            b = hi;
            is_star = 1;
        } else {
            const char *dash = memchr(p, '-', rlen);
            if (dash) {
                a = cron_value(p, (size_t)(dash - p), names, nnames, base);
                b = cron_value(dash + 1, rlen - (size_t)(dash - p) - 1, names, nnames, base);
            } else {
                a = b = cron_value(p, rlen, names, nnames, base);
            }
        }
        if (slash) {
            step = cron_value(slash + 1, len - rlen - 1, NULL, 0, 0);
            if (step <= 0) return -1;
            if (!is_star && a == b) b = hi; /* "N/step" means N-max/step */
            if (step > 1) is_star = 0;
        }
        if (a < lo || b > hi || a > b) return -1;
        for (int v = a; v <= b; v += step) *bits |= 1ull << v;
        if (is_star) *star = 1;
        if (!comma) break;
        p = comma + 1;
    }
    return *bits ? 0 : -1;
}

int vk_controllers_cron_parse(const char *spec, vk_controllers_cron_t *out)
{
    static const struct {
        const char *name, *expr;
    } macros[] = {{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
                  {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
                  {"@hourly", "0 * * * *"}};
    while (*spec == ' ' || *spec == '\t') spec++;
    if (*spec == '@') {
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (!strcmp(spec, macros[i].name)) return vk_controllers_cron_parse(macros[i].expr, out);
        return -1;
    }
    char buf[256];
    if (strlen(spec) >= sizeof buf) return -1;
    strcpy(buf, spec);
    char *f[6];
    int n = 0;
    for (char *save = NULL, *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == 5) return -1;
        f[n++] = t;
    }
    if (n != 5) return -1;
    memset(out, 0, sizeof *out);
    int s;
    uint64_t b;
    if (cron_field(f[0], 0, 59, NULL, 0, 0, &out->minute, &s)) return -1;
    if (cron_field(f[1], 0, 23, NULL, 0, 0, &b, &s)) return -1;
    out->hour = (uint32_t)b;
    if (cron_field(f[2], 1, 31, NULL, 0, 0, &b, &out->dom_star)) return -1;
    out->dom = (uint32_t)b;
    if (cron_field(f[3], 1, 12, month_names, 12, 1, &b, &s)) return -1;
    out->month = (uint16_t)b;
    if (cron_field(f[4], 0, 7, dow_names, 7, 0, &b, &out->dow_star)) return -1;
    if (b & (1u << 7)) b |= 1; /* 7 is Sunday too */
    out->dow = (uint8_t)(b & 0x7f);
    return 0;
}

static int day_matches(const vk_controllers_cron_t *c, const struct tm *tm)
{
    int dom = (c->dom >> tm->tm_mday) & 1, dow = (c->dow >> tm->tm_wday) & 1;
    if (c->dom_star || c->dow_star) return dom && dow;
    return dom || dow;
}

long long vk_controllers_cron_next(const vk_controllers_cron_t *c, long long after)
{
    time_t t = (time_t)(after - (after % 60 + 60) % 60 + 60); /* next whole minute */
    struct tm tm;
    gmtime_r(&t, &tm);
    int year_limit = tm.tm_year + 5;
    while (tm.tm_year <= year_limit) {
        if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!day_matches(c, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!((c->hour >> tm.tm_hour) & 1)) {
            tm.tm_hour++;
            tm.tm_min = 0;
        } else if (!((c->minute >> tm.tm_min) & 1)) {
            tm.tm_min++;
        } else {
            return (long long)timegm(&tm);
        }
        t = timegm(&tm); /* normalizes overflowed fields */
        gmtime_r(&t, &tm);
    }
    return -1;
}
