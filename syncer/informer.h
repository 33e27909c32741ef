/* informer: a list+watch cache of one host collection (e.g. the pods of the
 * tenant's host namespace, or nodes), over common/httpc. It lists (paged),
 * then watches from the list's resourceVersion with bookmarks; a watch that
 * ends is resumed from the last resourceVersion seen; "410 Gone" (expired
 * resourceVersion or continue token) triggers a fresh list whose differences
 * to the cache are delivered as events, so that the consumer never misses a
 * deletion. Transport errors and 5xx/429 answers are retried with capped
 * exponential backoff. Used by the syncer for host -> tenant (status, nodes,
 * events) and for start-up reconciliation. */
#ifndef VK_INFORMER_H
#define VK_INFORMER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/httpc.h"

typedef struct vk_informer vk_informer_t;

/* type is "ADDED", "MODIFIED" or "DELETED"; obj the new object (for DELETED
 * the last known one), old the previous cached version (NULL for ADDED).
 * Both borrowed for the duration of the call. The callback may call
 * vk_informer_stop. */
typedef void (*vk_informer_event_cb)(void *data, const char *type, const json_t *obj,
                                     const json_t *old);
/* After every complete (re)list: the cache is consistent with the server. */
typedef void (*vk_informer_synced_cb)(void *data);

typedef struct vk_informer_config {
    const char *path;           /* collection path: "/api/v1/namespaces/NS/pods" */
    const char *label_selector; /* optional, raw (escaped by the informer) */
    const char *field_selector; /* optional */
    size_t page_size;           /* list page size (0: 500) */
    int watch_timeout_s;        /* server-side watch timeout before resuming (0: 300) */
    uint64_t retry_min_ms;      /* backoff (0: 200) */
    uint64_t retry_max_ms;      /* (0: 10000) */
    vk_informer_event_cb event_cb;   /* required */
    vk_informer_synced_cb synced_cb; /* optional */
    void *data;
} vk_informer_config_t;

/* Starts listing (the config's strings are copied). 0 or VK_EINVALID. No
 * callback runs from inside this call. */
int vk_informer_start(vk_httpc_t *c, const vk_informer_config_t *cfg, vk_informer_t **out);
/* Stops: cancels the request in flight; no callback runs afterwards; memory is
 * released from the loop. Safe inside the informer's callbacks. */
void vk_informer_stop(vk_informer_t *inf);

/* 1 once the first list completed. */
int vk_informer_synced(const vk_informer_t *inf);
/* The cached object "namespace/name" (or "name" when cluster-scoped); borrowed, NULL if absent. */
const json_t *vk_informer_get(const vk_informer_t *inf, const char *key);
/* All cached objects: a new array (caller decrefs; elements shared). */
json_t *vk_informer_list(const vk_informer_t *inf);
/* Counters for tests: lists done (initial and re-lists), watches started. */
int vk_informer_lists(const vk_informer_t *inf);
int vk_informer_watches(const vk_informer_t *inf);

#endif
