/* store: the tenant's object store, what etcd is to kube-apiserver, over SQLite.
 *
 * Keys are "/<group>/<resource>/<namespace>/<name>" (core group "core",
 * cluster-scoped objects without the namespace part); values are opaque bytes
 * (the API server stores JSON without metadata.resourceVersion and injects the
 * revision on read, as kube-apiserver does with etcd's mod_revision).
 *
 * One global revision, strictly increasing, never reused, kept across restarts;
 * every write gets the next revision. Reads run synchronously on the loop
 * thread (WAL readers never block on the writer). Writes are queued to one
 * writer thread that group-commits them (synchronous=FULL, WAL); their
 * callbacks run on the loop thread, in revision order, only after the commit is
 * durable. Watchers share one in-memory ring of recent events and fall back to
 * the event log for older ones.
 *
 * Called by proxy/ (REST, watch streams), the controllers and syncer/, all on the
 * one libuv loop that was passed to vk_store_open. Not thread-safe otherwise. */
#ifndef VK_STORE_H
#define VK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct vk_store vk_store_t;
typedef struct vk_store_watch vk_store_watch_t;

typedef struct vk_store_options {
    int64_t history_revisions; /* keep at least this many revisions of events (0: 100000) */
    int64_t history_seconds;   /* and events younger than this many seconds (0: 300) */
    size_t ring_events;        /* in-memory recent events shared by watchers (0: 8192) */
    size_t watcher_lag_max;    /* events a paused watcher may fall behind before it is
                                  dropped with VK_ESLOW (0: 100000) */
    size_t batch_max;          /* most writes in one group commit (0: 1024) */
    int compact_interval_ms;   /* how often compaction runs (0: 5000; <0: never, tests) */
    /* Test hook: called on the writer thread just before each COMMIT; a non-zero
     * SQLite result code (SQLITE_FULL, SQLITE_IOERR...) makes the commit fail as if
     * the disk had said so. NULL in production. */
    int (*fault_cb)(void *arg);
    void *fault_arg;
    size_t ring_bytes_max;     /* value bytes the ring may hold; older events are then read
                                  from the log (0: 4 MiB) */
} vk_store_options_t;

/* A stored key-value at one revision. Reference-counted and immutable; every
 * vk_kv_t handed out must be released with vk_kv_unref unless said "borrowed". */
typedef struct vk_kv {
    int refs;
    char *key;          /* NUL-terminated */
    unsigned char *val; /* value bytes (NUL-terminated for convenience, not counted in len) */
    size_t len;
    int64_t create_rev; /* revision that created the key */
    int64_t mod_rev;    /* revision of this value (for a DELETED event: the delete revision) */
} vk_kv_t;

vk_kv_t *vk_kv_ref(vk_kv_t *kv);
void vk_kv_unref(vk_kv_t *kv);

/* Opens (creating if absent) the database at path and starts its writer thread.
 * Errors: VK_ECORRUPT (not a database / corrupt), VK_ESCHEMA (made by a newer
 * vkube), VK_EREADONLY, VK_EIO, VK_EFULL. opt may be NULL for defaults. */
int vk_store_open(uv_loop_t *loop, const char *path, const vk_store_options_t *opt,
                  vk_store_t **out);

/* Finishes queued writes (their callbacks run), ends every watch with VK_ECLOSED,
 * stops the writer thread, closes the database and frees the store. done_cb (may
 * be NULL) runs on the loop when everything is released; after it the loop has
 * no handles of the store's left. */
void vk_store_close(vk_store_t *s, void (*done_cb)(void *arg), void *arg);

/* Latest committed revision (0 for a new store), and the compaction point:
 * revisions <= vk_store_compacted can no longer be listed or watched from.
 * vk_store_revision is the revision the loop has been told about: reads never
 * show anything newer, so every revision a read returns can be watched from.
 * Writes whose commit fails take no revision (the next durable write gets the
 * number); revisions of durable writes are contiguous. */
int64_t vk_store_revision(const vk_store_t *s);
int64_t vk_store_compacted(const vk_store_t *s);

/* ---- Reads (synchronous, on the loop thread) ---- */

/* Current value of key. 0 and *out (caller unrefs), or VK_ENOTFOUND, VK_EIO. */
int vk_store_get(vk_store_t *s, const char *key, vk_kv_t **out);

/* Keeps the values of keys starting with prefix in memory once read (and keys
 * read as absent as absent), and whole current lists (vk_store_list with no
 * after_key, limit or at_rev) of prefixes ending in '/' under it when they hold
 * at most 64 keys, so that hot reads cost no SQLite read: the API server reads
 * a namespace and the namespace's ResourceQuotas on every namespaced create.
 * Exact: a committed write drops its key and the lists holding it before any
 * callback of its batch runs. Meant for small sets; at most 4 prefixes,
 * VK_EINVALID beyond (or for an empty prefix). Hits/misses in vk_store_stats_t. */
int vk_store_cache_prefix(vk_store_t *s, const char *prefix);

typedef struct vk_store_list {
    vk_kv_t **items; /* owned; released by vk_store_list_free */
    size_t count;
    int64_t rev;     /* the revision the list is consistent at */
    int more;        /* 1 if keys after the last returned one remain */
    size_t remaining; /* when more: how many keys remain (approximate allowed) */
} vk_store_list_t;

/* Keys starting with prefix, in key order, strictly after after_key (NULL: from
 * the start), at most limit items (0: all), as of revision at_rev (0: the
 * latest). A page continued with the same at_rev sees the same snapshot.
 * Errors: VK_EEXPIRED if at_rev <= the compaction point (and is not the latest),
 * VK_EINVALID if at_rev is in the future, VK_EIO. */
int vk_store_list(vk_store_t *s, const char *prefix, const char *after_key, size_t limit,
                  int64_t at_rev, vk_store_list_t *out);
void vk_store_list_free(vk_store_list_t *l);

/* Number of keys under prefix at the latest revision (for metrics and quota). */
int vk_store_count(vk_store_t *s, const char *prefix, size_t *out);

/* ---- Writes (asynchronous, group-committed) ---- */

/* Runs on the loop thread once the write's transaction is durable (status 0) or
 * failed. kv is borrowed (ref it to keep it):
 *   create/update ok: the new value (mod_rev = its revision)
 *   delete ok:        the deleted value with mod_rev = the delete revision
 *   VK_ECONFLICT:     the current value (the CAS did not match)
 *   VK_EEXIST:        the current value
 *   otherwise:        NULL (VK_ENOTFOUND, VK_EIO, VK_EFULL, VK_ECLOSED...) */
typedef void (*vk_store_write_cb)(void *arg, int status, const vk_kv_t *kv);

/* Each returns 0 when queued (cb will run exactly once) or a negative error
 * (cb never runs): VK_ECLOSED after vk_store_close, VK_EINVALID for a bad key.
 * The store copies key and data. */
int vk_store_create(vk_store_t *s, const char *key, const void *data, size_t len,
                    vk_store_write_cb cb, void *arg);
/* expect_rev: the mod_rev the key must have (compare-and-swap); 0 = any.
 * Fails with VK_ENOTFOUND if the key is absent. */
int vk_store_update(vk_store_t *s, const char *key, const void *data, size_t len,
                    int64_t expect_rev, vk_store_write_cb cb, void *arg);
int vk_store_delete(vk_store_t *s, const char *key, int64_t expect_rev, vk_store_write_cb cb,
                    void *arg);

/* ---- Watch ---- */

enum vk_event_type { VK_EVENT_ADDED = 1, VK_EVENT_MODIFIED = 2, VK_EVENT_DELETED = 3 };

typedef struct vk_event {
    int type;      /* enum vk_event_type */
    int64_t rev;   /* revision of this event */
    vk_kv_t *kv;   /* new value; for DELETED the last value with mod_rev = rev */
    vk_kv_t *prev; /* previous value (NULL for ADDED) */
} vk_event_t;

/* Called for each event, in revision order; ev is borrowed (ref its kvs to keep
 * them). Return 0 to go on, or VK_EAGAIN to pause delivery (the consumer's own
 * buffer is full) until vk_store_watch_resume. A watcher paused for more than
 * watcher_lag_max events is ended with VK_ESLOW.
 * (The event passed to the call that returns VK_EAGAIN counts as delivered;
 * the lag is counted in revisions: latest revision - the watcher's progress.) */
typedef int (*vk_store_event_cb)(void *arg, const vk_event_t *ev);
/* Called once when the store ends the watch: VK_ESLOW (fell too far behind),
 * VK_EEXPIRED (its position was compacted away while it was catching up),
 * VK_ECLOSED (store closing), VK_EIO. Not called after vk_store_watch_cancel.
 * The store frees the watch right after end_cb returns: do not use the
 * vk_store_watch_t afterwards (calling vk_store_watch_cancel from inside
 * end_cb is allowed and does nothing). */
typedef void (*vk_store_watch_end_cb)(void *arg, int reason);

/* Delivers every event on keys starting with prefix with revision > after_rev,
 * first from the log/ring (catch-up) then live. after_rev 0 means "from now"
 * (the latest revision). Returns VK_EEXPIRED at once if after_rev < the
 * compaction point, VK_EINVALID if after_rev is in the future. Events are
 * delivered from the loop (never from inside this call). */
int vk_store_watch(vk_store_t *s, const char *prefix, int64_t after_rev, vk_store_event_cb cb,
                   vk_store_watch_end_cb end_cb, void *arg, vk_store_watch_t **out);
void vk_store_watch_resume(vk_store_watch_t *w);
/* Stops the watch; no callback runs after it returns. Frees w. */
void vk_store_watch_cancel(vk_store_watch_t *w);
/* Highest revision this watcher has been brought up to (delivered or skipped as
 * not matching its prefix): what a BOOKMARK may carry. */
int64_t vk_store_watch_progress(const vk_store_watch_t *w);
/* Number of live watchers (metrics). */
size_t vk_store_watch_count(const vk_store_t *s);

/* ---- Compaction and statistics ---- */

/* Compacts history up to rev now (in small batches on the writer thread); the
 * automatic timer does this with the configured window. 0 or an error. */
int vk_store_compact(vk_store_t *s, int64_t rev);

typedef struct vk_store_stats {
    uint64_t writes;        /* acknowledged writes */
    uint64_t commits;       /* transactions committed */
    uint64_t failed_commits;
    uint64_t commit_us_total;
    uint64_t commit_us_buckets[16]; /* histogram: bucket i counts commits < 2^i * 100us */
    size_t watchers;
    uint64_t cache_hits, cache_misses; /* vk_store_get answered from vk_store_cache_prefix's cache or not */
    int64_t revision, compacted;
} vk_store_stats_t;

void vk_store_get_stats(const vk_store_t *s, vk_store_stats_t *out);

#endif
