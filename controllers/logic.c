/* controllers/logic: pure functions of the controllers (hash, rolling-update
 * arithmetic); see controllers.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
