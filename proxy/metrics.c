/* metrics: counters and histograms kept in small arrays (a few dozen series),
 * rendered as Prometheus text. */
#include "metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* Latency buckets (seconds), as kube-apiserver's apiserver_request_duration_seconds
 * uses a subset of. */
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8,
                                 1.0,   1.25, 1.5,   2,    3,   4,   5,   6,   8,
                                 10,    15,   20,    30,   45,  60};
#define NB (sizeof buckets / sizeof buckets[0])

typedef struct series {
    char *verb, *group, *resource, *sub;
    int code;           /* -1 for histogram series */
    uint64_t count;
    double sum;
    uint64_t b[NB];     /* histogram counts per bucket (not cumulative) */
} series_t;

struct vk_metrics {
    series_t *s;
    size_t n, cap;
    long watches;
};

vk_metrics_t *vk_metrics_new(void)
{
    return vk_xcalloc(1, sizeof(vk_metrics_t));
}

void vk_metrics_free(vk_metrics_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->s[i].verb);
        free(m->s[i].group);
        free(m->s[i].resource);
        free(m->s[i].sub);
    }
    free(m->s);
    free(m);
}

static series_t *find(vk_metrics_t *m, const char *verb, const char *group, const char *resource,
                      const char *sub, int code)
{
    for (size_t i = 0; i < m->n; i++) {
        series_t *s = &m->s[i];
        if (s->code == code && !strcmp(s->resource, resource) && !strcmp(s->verb, verb) &&
            !strcmp(s->group, group) && !strcmp(s->sub, sub))
            return s;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->s = vk_xrealloc(m->s, m->cap * sizeof *m->s);
    }
    series_t *s = &m->s[m->n++];
    memset(s, 0, sizeof *s);
    s->verb = vk_xstrdup(verb);
    s->group = vk_xstrdup(group);
    s->resource = vk_xstrdup(resource);
    s->sub = vk_xstrdup(sub);
    s->code = code;
    return s;
}

void vk_metrics_observe(vk_metrics_t *m, const char *verb, const char *group,
                        const char *resource, const char *subresource, int code, double seconds)
{
    group = group ? group : "";
    resource = resource ? resource : "";
    subresource = subresource ? subresource : "";
    find(m, verb, group, resource, subresource, code)->count++;
    series_t *h = find(m, verb, group, resource, subresource, -1);
    h->count++;
    h->sum += seconds;
    for (size_t i = 0; i < NB; i++)
        if (seconds <= buckets[i]) {
            h->b[i]++;
            break;
        }
}

void vk_metrics_watch_delta(vk_metrics_t *m, int delta)
{
    m->watches += delta;
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void add(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 256;
        b->p = vk_xrealloc(b->p, b->cap);
    }
}

char *vk_metrics_render(const vk_metrics_t *m, const vk_store_stats_t *st)
{
    sbuf_t b = {vk_xmalloc(4096), 0, 4096};
    b.p[0] = 0;
    add(&b, "# HELP apiserver_request_total Counter of apiserver requests broken out for each "
            "verb, group, resource, subresource and HTTP response code.\n"
            "# TYPE apiserver_request_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        const series_t *s = &m->s[i];
        if (s->code < 0) continue;
        add(&b,
            "apiserver_request_total{code=\"%d\",group=\"%s\",resource=\"%s\",subresource=\"%s\","
            "verb=\"%s\"} %llu\n",
            s->code, s->group, s->resource, s->sub, s->verb, (unsigned long long)s->count);
    }
    add(&b, "# HELP apiserver_request_duration_seconds Response latency distribution in seconds "
            "for each verb, group, resource and subresource.\n"
            "# TYPE apiserver_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const series_t *s = &m->s[i];
        if (s->code >= 0) continue;
        char labels[512];
        snprintf(labels, sizeof labels,
                 "group=\"%s\",resource=\"%s\",subresource=\"%s\",verb=\"%s\"", s->group,
                 s->resource, s->sub, s->verb);
        uint64_t cum = 0;
        for (size_t k = 0; k < NB; k++) {
            cum += s->b[k];
            add(&b, "apiserver_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels,
                buckets[k], (unsigned long long)cum);
        }
        add(&b, "apiserver_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels,
            (unsigned long long)s->count);
        add(&b, "apiserver_request_duration_seconds_sum{%s} %.6f\n", labels, s->sum);
        add(&b, "apiserver_request_duration_seconds_count{%s} %llu\n", labels,
            (unsigned long long)s->count);
    }
    add(&b, "# HELP apiserver_longrunning_requests Watch streams currently open.\n"
            "# TYPE apiserver_longrunning_requests gauge\n"
            "apiserver_longrunning_requests{verb=\"WATCH\"} %ld\n",
        m->watches);
    if (st) {
        add(&b, "# HELP vkube_store_revision Latest committed store revision.\n"
                "# TYPE vkube_store_revision gauge\nvkube_store_revision %lld\n"
                "# HELP vkube_store_compacted_revision Store compaction point.\n"
                "# TYPE vkube_store_compacted_revision gauge\nvkube_store_compacted_revision %lld\n"
                "# HELP vkube_store_watchers Store watchers.\n"
                "# TYPE vkube_store_watchers gauge\nvkube_store_watchers %zu\n"
                "# HELP vkube_store_writes_total Acknowledged writes.\n"
                "# TYPE vkube_store_writes_total counter\nvkube_store_writes_total %llu\n"
                "# HELP vkube_store_failed_commits_total Failed commits.\n"
                "# TYPE vkube_store_failed_commits_total counter\n"
                "vkube_store_failed_commits_total %llu\n",
            (long long)st->revision, (long long)st->compacted, st->watchers,
            (unsigned long long)st->writes, (unsigned long long)st->failed_commits);
        add(&b, "# HELP vkube_store_commit_duration_seconds Group commit latency.\n"
                "# TYPE vkube_store_commit_duration_seconds histogram\n");
        uint64_t cum = 0;
        for (int i = 0; i < 16; i++) {
            cum += st->commit_us_buckets[i];
            add(&b, "vkube_store_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)(100ull << i) / 1e6, (unsigned long long)cum);
        }
        add(&b, "vkube_store_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
            (unsigned long long)st->commits);
        add(&b, "vkube_store_commit_duration_seconds_sum %.6f\n",
            (double)st->commit_us_total / 1e6);
        add(&b, "vkube_store_commit_duration_seconds_count %llu\n",
            (unsigned long long)st->commits);
    }
    return b.p;
}
