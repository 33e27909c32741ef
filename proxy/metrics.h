/* metrics: the API server's Prometheus metrics: request counts by
 * verb/group/resource/subresource/code, request latency histograms by
 * verb/group/resource/subresource, and gauges from the store (revision,
 * watchers, commit latency histogram from vk_store_get_stats).
 *
 * Called by proxy/rest.c (one observation per answered request) and
 * proxy/apiserver.c (GET /metrics), on the loop thread. */
#ifndef VK_METRICS_H
#define VK_METRICS_H

#include <stddef.h>

#include "store/store.h"

typedef struct vk_metrics vk_metrics_t;

/* Caller frees with vk_metrics_free. */
vk_metrics_t *vk_metrics_new(void);
void vk_metrics_free(vk_metrics_t *m);

/* Records one request. verb is upstream's metric verb ("GET", "LIST", "WATCH",
 * "POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", or "get" etc. for
 * non-resource paths); group/resource/subresource may be "" (strings copied). */
void vk_metrics_observe(vk_metrics_t *m, const char *verb, const char *group,
                        const char *resource, const char *subresource, int code,
                        double seconds);
/* Watch streams currently open (gauge) goes up or down by delta. */
void vk_metrics_watch_delta(vk_metrics_t *m, int delta);

/* The Prometheus text exposition (version 0.0.4). st may be NULL. Caller frees
 * with free(). */
char *vk_metrics_render(const vk_metrics_t *m, const vk_store_stats_t *st);

#endif
