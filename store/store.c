/* store: the object store over SQLite (interface and contract in store.h).
 *
 * Layout on disk (schema version SCHEMA_VERSION in PRAGMA user_version):
 *   kv   current state: key -> value, create_rev, mod_rev
 *   log  event log: one row per revision (rev is the rowid), with the value
 *        after the event (for a delete: the last value), the key's create_rev
 *        and prev_rev, the revision of the key's previous version (0: none)
 *   meta revision (the last committed revision when compaction last ran),
 *        compacted (compaction point), compact_done (log rows up to here have
 *        been compacted)
 * The last committed revision is max(meta.revision, the log's last rev)
 * (DISK_REV_SQL): a commit only adds its log rows (one page fewer to write
 * and flush than also updating meta), and compaction, the only deleter of log
 * rows, first records the revision in meta. Schema 2 changed only that; a
 * schema-1 store is opened as is (its meta.revision is its last revision) and
 * marked 2, so that an older vkube, which would read meta alone, refuses it.
 *
 * Threads: the loop thread does reads on its own connection (rconn) and runs
 * every callback. One writer thread owns the other connection (wconn): it takes
 * every queued write (up to batch_max), runs them in one transaction, commits
 * and hands the finished batch back through a uv_async. Compaction deletes run
 * on the writer thread too, in small transactions between write batches.
 *
 * Revisions: the writer assigns them in queue order, so committed revisions
 * are contiguous. If a commit fails, none of that batch's writes is
 * acknowledged (each gets the error, with no kv) and the in-memory revision
 * goes back to the last committed one: the next batch reuses those numbers.
 * That is safe because a revision is "used" only once it is durable; the failed
 * numbers were never visible to any reader, watcher or callback. The persisted
 * revision (DISK_REV_SQL) therefore never goes backwards.
 *
 * Reads never show state newer than vk_store_revision() (the revision the loop
 * has been told about): if the writer has committed more, the read answers
 * from the log at vk_store_revision() instead. So a resourceVersion handed out
 * by a read is always watchable at once.
 *
 * Watch: committed events go into one ring (refcounted kvs, shared by every
 * watcher); each watcher only has a cursor (pos: the last revision it has been
 * brought up to). Watchers behind the ring read the log in chunks of
 * CATCHUP_REVS revisions from an idle handle, one chunk per watcher per loop
 * iteration. */
#include "store/store.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"

#include <assert.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA_VERSION 2
/* The last committed revision on disk (see the layout above). */
#define DISK_REV_SQL                                                                               \
    "SELECT max(coalesce((SELECT max(rev) FROM log), 0), (SELECT v FROM meta WHERE k='revision'))"
#define KEY_MAX 2048          /* longest accepted key, bytes */
#define CATCHUP_REVS 1024     /* revisions read from the log per catch-up chunk */
#define CATCHUP_BYTES (4u << 20) /* and at most about this many bytes of values */
#define COMPACT_REVS 1000     /* revisions compacted per writer transaction */
#define TIME_SAMPLES 512      /* (time, revision) samples for the time window */

enum op_type { OP_CREATE = 1, OP_UPDATE, OP_DELETE };

/* One queued write. Allocated on the loop, filled in by the writer, consumed
 * and freed on the loop. */
typedef struct op {
    struct op *next;
    int type;
    char *key;               /* points into the same allocation */
    unsigned char *data;     /* ditto */
    size_t len;
    int64_t expect_rev;
    vk_store_write_cb cb;
    void *arg;
    int status;              /* result */
    int ev_type;             /* event type when status == 0 */
    vk_kv_t *kv;             /* result kv (see vk_store_write_cb), owned */
    vk_kv_t *prev;           /* previous value for the event, owned */
} op_t;

/* vk_store_cache_prefix: values of hot keys (e.g. namespaces, read by every
 * namespaced create) and whole lists of small collections under them (the
 * ResourceQuotas of a namespace), kept in memory. An entry holds what SQLite
 * would answer at the loop's revision: a key's value (n 0 and kv NULL: known
 * absent), or, for an entry named by a prefix ending in '/', every kv under it.
 * process_batch forgets, for every committed write, its key and every cached
 * list that holds it, before anyone is called back. Chained hash table;
 * cleared when it fills up. */
typedef struct cache_entry {
    struct cache_entry *next;
    vk_kv_t **kvs;           /* owned references: 1 for a key (NULL: absent), n for a list */
    size_t n;
    char key[];
} cache_entry_t;

enum { CACHE_BUCKETS = 1024, CACHE_MAX = 8192, CACHE_PREFIXES = 4, CACHE_LIST_MAX = 64 };

typedef struct key_cache {
    char *prefixes[CACHE_PREFIXES]; /* owned */
    size_t nprefixes;
    cache_entry_t **buckets; /* CACHE_BUCKETS, allocated with the first prefix */
    size_t count;
    uint64_t hits, misses;
} key_cache_t;

/* A finished group commit on its way back to the loop. */
typedef struct batch {
    struct batch *next;
    op_t *ops;               /* in queue (= revision) order */
    int64_t rev;             /* committed revision after this batch */
    bool failed;             /* the commit failed */
    uint64_t commit_us;      /* time from BEGIN to the end of COMMIT */
    size_t acked;            /* writes that got status 0 */
} batch_t;

struct vk_store_watch {
    vk_store_t *s;
    vk_store_watch_t *prev, *next; /* s->watchers list */
    vk_store_watch_t *pend_next;   /* s->pending list (needs service on idle) */
    char *prefix;
    size_t plen;
    int64_t pos;                   /* last revision brought up to */
    vk_store_event_cb cb;
    vk_store_watch_end_cb end_cb;
    void *arg;
    bool paused;                   /* consumer said VK_EAGAIN */
    bool pending;                  /* on s->pending */
    bool dead;                     /* cancelled or ended; freed by sweep */
    bool ending;                   /* inside end_cb */
};

typedef struct time_sample {
    uint64_t ms;
    int64_t rev;
} time_sample_t;

struct vk_store {
    uv_loop_t *loop;
    vk_store_options_t opt;
    char *path;

    /* Loop-thread state. */
    sqlite3 *rconn;
    sqlite3_stmt *st_get, *st_get_log, *st_count, *st_list_kv[2], *st_list_log[2],
        *st_watch_log, *st_meta_rev;
    int64_t rev;             /* latest revision the loop knows is committed */
    int64_t compacted;       /* compaction point (may run ahead of the disk) */
    size_t inflight;         /* writes queued and not yet called back */
    bool closing;
    int handles_open;        /* uv handles not yet closed */
    void (*done_cb)(void *);
    void *done_arg;
    uv_async_t async;
    uv_idle_t idle;
    uv_timer_t timer;
    bool idle_on;
    vk_store_stats_t stats;
    key_cache_t cache;       /* vk_store_cache_prefix: values kept in memory */

    vk_event_t *ring;        /* ring[rev % ring_cap] for ring_lo <= rev <= ring_hi */
    size_t ring_cap;
    size_t ring_bytes;       /* value bytes held by the ring's events */
    int64_t ring_lo, ring_hi;

    vk_store_watch_t *watchers; /* every live watcher */
    vk_store_watch_t *pending, *pending_tail;
    size_t nwatchers;
    int depth;               /* > 0 while iterating watchers (defer frees) */
    bool need_sweep;

    time_sample_t samples[TIME_SAMPLES];
    size_t nsamples;

    /* Shared with the writer, under mu. */
    uv_mutex_t mu;
    uv_cond_t cond;
    op_t *in_head, *in_tail; /* queued writes */
    batch_t *out_head, *out_tail; /* finished batches */
    int64_t compact_target;  /* requested compaction point */
    bool stop;               /* writer: finish the queue and exit */
    bool writer_exited;
    _Atomic int64_t visible; /* highest revision a reader may see on disk */

    /* Writer-thread state. */
    uv_thread_t thread;
    sqlite3 *wconn;
    sqlite3_stmt *st_w_get, *st_w_ins_kv, *st_w_upd_kv, *st_w_del_kv, *st_w_ins_log,
        *st_w_meta;
    int64_t w_rev;           /* last committed revision */
    int64_t w_compacted;     /* persisted compaction point */
    int64_t w_compact_done;  /* log compacted up to here */
};

/* ---------------------------------------------------------------- helpers */

static int map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
        return 0;
    case SQLITE_FULL:
        return VK_EFULL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return VK_ECORRUPT;
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return VK_EREADONLY;
    default:
        return VK_EIO;
    }
}

static uint64_t now_us(void)
{
    return uv_hrtime() / 1000;
}

vk_kv_t *vk_kv_ref(vk_kv_t *kv)
{
    if (kv) kv->refs++;
    return kv;
}

void vk_kv_unref(vk_kv_t *kv)
{
    if (kv && --kv->refs == 0) free(kv);
}

/* One allocation holds the struct, the key and the value. Caller owns the
 * single reference. */
static vk_kv_t *kv_new(const char *key, size_t klen, const void *val, size_t len,
                       int64_t create_rev, int64_t mod_rev)
{
    vk_kv_t *kv = vk_xmalloc(sizeof *kv + klen + 1 + len + 1);
    kv->refs = 1;
    kv->key = (char *)(kv + 1);
    memcpy(kv->key, key, klen);
    kv->key[klen] = 0;
    kv->val = (unsigned char *)kv->key + klen + 1;
    if (len) memcpy(kv->val, val, len);
    kv->val[len] = 0;
    kv->len = len;
    kv->create_rev = create_rev;
    kv->mod_rev = mod_rev;
    return kv;
}

/* kv from columns (val at col vcol, create_rev at ccol) of a row. */
static vk_kv_t *kv_from_row(sqlite3_stmt *st, const char *key, int vcol, int ccol, int64_t mod_rev)
{
    const void *v = sqlite3_column_blob(st, vcol);
    size_t n = (size_t)sqlite3_column_bytes(st, vcol);
    return kv_new(key, strlen(key), v, n, sqlite3_column_int64(st, ccol), mod_rev);
}

static int key_valid(const char *key)
{
    if (!key || key[0] != '/') return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++, n++)
        if (*p < 0x21 || *p > 0x7e || n >= KEY_MAX) return 0;
    return n >= 2;
}

/* The smallest string greater than every string starting with prefix, into
 * buf (size >= strlen(prefix) + 2). Keys are printable ASCII, so for the empty
 * prefix "\x7f" bounds them all. */
static const char *prefix_end(const char *prefix, char *buf)
{
    size_t n = strlen(prefix);
    memcpy(buf, prefix, n + 1);
    while (n > 0 && (unsigned char)buf[n - 1] == 0xff) buf[--n] = 0;
    if (n == 0) return "\x7f";
    buf[n - 1] = (char)((unsigned char)buf[n - 1] + 1);
    return buf;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK) vk_log_error("store: prepare %s: %s", sql, sqlite3_errmsg(db));
    return rc;
}

static int exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        vk_log_debug("store: %s: %s (%d)", sql, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
    return rc;
}

/* Runs a one-row integer query; *out = the value (0 when no row). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    *out = 0;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

static int meta_get(sqlite3 *db, const char *k, int64_t *out)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k=?1", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_CORRUPT; /* a vkube database always has its meta rows */
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- open */


static const char SCHEMA_SQL[] =
    "CREATE TABLE kv(key TEXT NOT NULL UNIQUE, val BLOB NOT NULL, create_rev INTEGER NOT NULL,"
    " mod_rev INTEGER NOT NULL);"
    "CREATE TABLE log(rev INTEGER PRIMARY KEY, key TEXT NOT NULL, type INTEGER NOT NULL,"
    " val BLOB NOT NULL, create_rev INTEGER NOT NULL, prev_rev INTEGER NOT NULL);"
    "CREATE INDEX log_key ON log(key, rev);"
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('revision', 0), ('compacted', 0), ('compact_done', 0);";

static int open_conn(const char *path, bool writer, sqlite3 **out)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int err = map_rc(rc);
        vk_log_warn("store: open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return err;
    }
    sqlite3_extended_result_codes(db, 1);
    if (sqlite3_db_readonly(db, "main") == 1) {
        sqlite3_close(db);
        return VK_EREADONLY;
    }
    sqlite3_busy_timeout(db, 10000);
    *out = db;
    return 0;
}

/* Checks or creates the schema on the writer connection and loads the meta
 * values. SQLite errors are returned as project codes. */
static int init_schema(vk_store_t *s)
{
    sqlite3 *db = s->wconn;
    int64_t uv = 0, ntables = 0;
    int rc = query_int(db, "PRAGMA user_version", &uv);
    if (rc != SQLITE_OK) return map_rc(rc);
    if (uv > SCHEMA_VERSION) {
        vk_log_error("store: %s has schema version %lld, this vkube knows up to %d", s->path,
                     (long long)uv, SCHEMA_VERSION);
        return VK_ESCHEMA;
    }
    /* WAL: readers never block the writer; FULL: fsync the WAL on every commit. */
    sqlite3_stmt *st;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc != SQLITE_OK) return map_rc(rc);
    rc = sqlite3_step(st);
    bool wal = rc == SQLITE_ROW &&
               strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return map_rc(rc);
    if (!wal) return VK_EIO;
    if ((rc = exec(db, "PRAGMA synchronous=FULL")) != SQLITE_OK) return map_rc(rc);
    if (uv == 0) {
        rc = query_int(db, "SELECT count(*) FROM sqlite_master", &ntables);
        if (rc != SQLITE_OK) return map_rc(rc);
        if (ntables > 0) {
            vk_log_error("store: %s is an SQLite database but not a vkube store", s->path);
            return VK_ECORRUPT;
        }
        if ((rc = exec(db, "BEGIN IMMEDIATE")) != SQLITE_OK) return map_rc(rc);
        char sql[sizeof SCHEMA_SQL + 64];
        snprintf(sql, sizeof sql, "%sPRAGMA user_version=%d;", SCHEMA_SQL, SCHEMA_VERSION);
        if ((rc = exec(db, sql)) != SQLITE_OK || (rc = exec(db, "COMMIT")) != SQLITE_OK) {
            exec(db, "ROLLBACK");
            return map_rc(rc);
        }
    }
    if (uv == 1 && (rc = exec(db, "PRAGMA user_version=2")) != SQLITE_OK) return map_rc(rc);
    if ((rc = query_int(db, DISK_REV_SQL, &s->w_rev)) != SQLITE_OK ||
        (rc = meta_get(db, "compacted", &s->w_compacted)) != SQLITE_OK ||
        (rc = meta_get(db, "compact_done", &s->w_compact_done)) != SQLITE_OK) {
        vk_log_error("store: %s: cannot read meta: %s", s->path, sqlite3_errmsg(db));
        return map_rc(rc);
    }
    if (s->w_rev < 0 || s->w_compacted < 0 || s->w_compacted > s->w_rev) return VK_ECORRUPT;
    return 0;
}

static int prepare_all(vk_store_t *s)
{
    sqlite3 *r = s->rconn, *w = s->wconn;
    int rc;
#define P(db, sql, st)                                                                             \
    if ((rc = prepare(db, sql, st)) != SQLITE_OK) return map_rc(rc)
    P(r, "SELECT val, create_rev, mod_rev FROM kv WHERE key=?1", &s->st_get);
    P(r, "SELECT type, val, create_rev, rev FROM log WHERE key=?1 AND rev<=?2"
         " ORDER BY rev DESC LIMIT 1", &s->st_get_log);
    P(r, "SELECT count(*) FROM kv WHERE key>=?1 AND key<?2", &s->st_count);
    P(r, "SELECT key, val, create_rev, mod_rev FROM kv WHERE key>=?1 AND key<?2 ORDER BY key",
      &s->st_list_kv[0]);
    P(r, "SELECT key, val, create_rev, mod_rev FROM kv WHERE key>?1 AND key<?2 ORDER BY key",
      &s->st_list_kv[1]);
    /* For each key the newest row at or before ?3 (SQLite takes the bare
     * columns from the row that holds max()). */
    P(r, "SELECT key, max(rev), type, val, create_rev FROM log"
         " WHERE key>=?1 AND key<?2 AND rev<=?3 GROUP BY key ORDER BY key", &s->st_list_log[0]);
    P(r, "SELECT key, max(rev), type, val, create_rev FROM log"
         " WHERE key>?1 AND key<?2 AND rev<=?3 GROUP BY key ORDER BY key", &s->st_list_log[1]);
    /* "+l.key": scan by revision range, never by the key index. */
    P(r, "SELECT l.rev, l.key, l.type, l.val, l.create_rev, p.rev, p.val, p.create_rev"
         " FROM log l LEFT JOIN log p ON p.rev = l.prev_rev AND l.prev_rev > 0"
         " WHERE l.rev>?1 AND l.rev<=?2 AND +l.key>=?3 AND +l.key<?4 ORDER BY l.rev",
      &s->st_watch_log);
    P(r, DISK_REV_SQL, &s->st_meta_rev);
    P(w, "SELECT val, create_rev, mod_rev FROM kv WHERE key=?1", &s->st_w_get);
    P(w, "INSERT INTO kv(key, val, create_rev, mod_rev) VALUES(?1, ?2, ?3, ?3)", &s->st_w_ins_kv);
    P(w, "UPDATE kv SET val=?2, mod_rev=?3 WHERE key=?1", &s->st_w_upd_kv);
    P(w, "DELETE FROM kv WHERE key=?1", &s->st_w_del_kv);
    P(w, "INSERT INTO log(rev, key, type, val, create_rev, prev_rev) VALUES(?1,?2,?3,?4,?5,?6)",
      &s->st_w_ins_log);
    P(w, "UPDATE meta SET v=?2 WHERE k=?1", &s->st_w_meta);
#undef P
    return 0;
}

static void finalize_all(vk_store_t *s)
{
    sqlite3_stmt *all[] = {s->st_get,     s->st_get_log,     s->st_count,      s->st_list_kv[0],
                           s->st_list_kv[1], s->st_list_log[0], s->st_list_log[1],
                           s->st_watch_log, s->st_meta_rev};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
}

static void finalize_writer(vk_store_t *s)
{
    sqlite3_stmt *all[] = {s->st_w_get,     s->st_w_ins_kv,  s->st_w_upd_kv,
                           s->st_w_del_kv,  s->st_w_ins_log, s->st_w_meta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
}

static void writer_main(void *arg);
static void on_async(uv_async_t *a);
static void on_idle(uv_idle_t *h);
static void on_timer(uv_timer_t *t);

int vk_store_open(uv_loop_t *loop, const char *path, const vk_store_options_t *opt,
                  vk_store_t **out)
{
    vk_store_t *s = vk_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->path = vk_xstrdup(path);
    if (opt) s->opt = *opt;
    if (s->opt.history_revisions <= 0) s->opt.history_revisions = 100000;
    if (s->opt.history_seconds <= 0) s->opt.history_seconds = 300;
    if (s->opt.ring_events == 0) s->opt.ring_events = 8192;
    /* 4 MiB: recent enough for any watcher that keeps up; one that falls
     * further behind reads the log. (64 MiB held ~11 MB more RSS once 10,000
     * pods had been created: 8192 recent pods.) */
    if (s->opt.ring_bytes_max == 0) s->opt.ring_bytes_max = 4u << 20;
    if (s->opt.watcher_lag_max == 0) s->opt.watcher_lag_max = 100000;
    if (s->opt.batch_max == 0) s->opt.batch_max = 1024;
    if (s->opt.compact_interval_ms == 0) s->opt.compact_interval_ms = 5000;

    int err = open_conn(path, true, &s->wconn);
    if (!err) err = init_schema(s);
    if (!err) err = open_conn(path, false, &s->rconn);
    /* Reads use pread, not a memory map of the file. A map made point reads
     * 2-3x faster on a quiet store, but SQLite drops the whole map at the
     * first read after another connection's commit (every read after a
     * write: munmap, then page faults and TLB shootdowns), which cost a third
     * of the loop thread's CPU with 64 clients creating; and every page a
     * list touched stayed in the process's RSS. */
    if (!err && exec(s->rconn, "PRAGMA query_only=1; PRAGMA mmap_size=0") != SQLITE_OK)
        err = VK_EIO;
    if (!err) err = prepare_all(s);
    if (err) {
        vk_log_warn("store: cannot open %s: %s", path, vk_err_name(err));
        finalize_all(s);
        finalize_writer(s);
        sqlite3_close(s->rconn);
        sqlite3_close(s->wconn);
        free(s->path);
        free(s);
        return err;
    }
    s->rev = s->w_rev;
    s->compacted = s->w_compacted;
    s->compact_target = s->w_compacted > s->w_compact_done ? s->w_compacted : 0;
    atomic_store(&s->visible, s->rev);
    s->ring_cap = s->opt.ring_events;
    s->ring = vk_xcalloc(s->ring_cap, sizeof *s->ring);
    s->ring_lo = s->rev + 1;
    s->ring_hi = s->rev;

    uv_mutex_init(&s->mu);
    uv_cond_init(&s->cond);
    uv_async_init(loop, &s->async, on_async);
    uv_unref((uv_handle_t *)&s->async); /* referenced only while writes are in flight */
    uv_idle_init(loop, &s->idle);
    uv_timer_init(loop, &s->timer);
    uv_unref((uv_handle_t *)&s->timer);
    s->async.data = s->idle.data = s->timer.data = s;
    s->handles_open = 3;
    if (s->opt.compact_interval_ms > 0)
        uv_timer_start(&s->timer, on_timer, (uint64_t)s->opt.compact_interval_ms,
                       (uint64_t)s->opt.compact_interval_ms);
    if (uv_thread_create(&s->thread, writer_main, s) != 0) abort();
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- writer */

static void op_fail(op_t *op, int status)
{
    vk_kv_unref(op->kv);
    vk_kv_unref(op->prev);
    op->kv = op->prev = NULL;
    op->status = status;
}

/* Applies one op inside the open transaction. Returns an SQLite error code for
 * a failure that dooms the whole batch, else SQLITE_OK (op->status says how
 * the op itself went). */
static int apply_op(vk_store_t *s, op_t *op, int64_t *rev)
{
    sqlite3_stmt *st = s->st_w_get;
    sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    vk_kv_t *cur = NULL;
    if (rc == SQLITE_ROW) {
        cur = kv_from_row(st, op->key, 0, 1, sqlite3_column_int64(st, 2));
    } else if (rc != SQLITE_DONE) {
        sqlite3_reset(st);
        return rc;
    }
    sqlite3_reset(st);
    size_t klen = strlen(op->key);

    if (op->type == OP_CREATE && cur) {
        op->status = VK_EEXIST;
        op->kv = cur;
        return SQLITE_OK;
    }
    if (op->type != OP_CREATE) {
        if (!cur) {
            op->status = VK_ENOTFOUND;
            return SQLITE_OK;
        }
        if (op->expect_rev && cur->mod_rev != op->expect_rev) {
            op->status = VK_ECONFLICT;
            op->kv = cur;
            return SQLITE_OK;
        }
    }
    int64_t r = *rev + 1;
    int64_t create_rev = cur ? cur->create_rev : r;
    const void *val = op->data;
    size_t len = op->len;
    if (op->type == OP_CREATE) {
        st = s->st_w_ins_kv;
        sqlite3_bind_text(st, 1, op->key, (int)klen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op->data, (int)op->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r);
        op->ev_type = VK_EVENT_ADDED;
    } else if (op->type == OP_UPDATE) {
        st = s->st_w_upd_kv;
        sqlite3_bind_text(st, 1, op->key, (int)klen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op->data, (int)op->len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, r);
        op->ev_type = VK_EVENT_MODIFIED;
    } else {
        st = s->st_w_del_kv;
        sqlite3_bind_text(st, 1, op->key, (int)klen, SQLITE_STATIC);
        val = cur->val;
        len = cur->len;
        op->ev_type = VK_EVENT_DELETED;
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        vk_kv_unref(cur);
        return rc;
    }
    st = s->st_w_ins_log;
    sqlite3_bind_int64(st, 1, r);
    sqlite3_bind_text(st, 2, op->key, (int)klen, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, op->ev_type);
    sqlite3_bind_blob(st, 4, len ? val : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, create_rev);
    sqlite3_bind_int64(st, 6, cur ? cur->mod_rev : 0);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        vk_kv_unref(cur);
        return rc;
    }
    op->kv = kv_new(op->key, klen, val, len, create_rev, r);
    op->prev = cur;
    op->status = 0;
    *rev = r;
    return SQLITE_OK;
}

static int set_meta(vk_store_t *s, const char *k, int64_t v)
{
    sqlite3_stmt *st = s->st_w_meta;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Ends a failed transaction; makes sure the connection is usable again. */
static void rollback(vk_store_t *s)
{
    if (!sqlite3_get_autocommit(s->wconn)) exec(s->wconn, "ROLLBACK");
}

/* Commits (or, when the fault hook says so, fails as if COMMIT had). */
static int commit(vk_store_t *s)
{
    if (s->opt.fault_cb) {
        int f = s->opt.fault_cb(s->opt.fault_arg);
        if (f != 0) return f;
    }
    return exec(s->wconn, "COMMIT");
}

static batch_t *run_batch(vk_store_t *s, op_t *ops)
{
    batch_t *b = vk_xcalloc(1, sizeof *b);
    b->ops = ops;
    uint64_t t0 = now_us();
    int64_t rev = s->w_rev;
    int rc = exec(s->wconn, "BEGIN IMMEDIATE");
    for (op_t *op = ops; rc == SQLITE_OK && op; op = op->next) rc = apply_op(s, op, &rev);
    if (rc == SQLITE_OK) {
        /* Readers may see these revisions from the moment COMMIT lands. */
        atomic_store(&s->visible, rev);
        rc = commit(s);
    }
    b->commit_us = now_us() - t0;
    if (rc != SQLITE_OK) {
        int err = map_rc(rc);
        vk_log_warn("store: write batch failed (%s): %s", vk_err_name(err), sqlite3_errstr(rc));
        rollback(s);
        atomic_store(&s->visible, s->w_rev);
        b->failed = true;
        for (op_t *op = ops; op; op = op->next) op_fail(op, err);
        rev = s->w_rev;
    }
    s->w_rev = rev;
    b->rev = rev;
    for (op_t *op = ops; op; op = op->next) b->acked += op->status == 0;
    return b;
}

/* One compaction step: persists the point, then drops, for the revisions in
 * (compact_done, compact_done + COMPACT_REVS], every row superseded by a later
 * row at or before the target (the prev_rev of each row in the range) and every
 * delete row. What stays for revisions <= target is exactly the newest version
 * of each key alive at the target, which past-revision lists above the target
 * and prev values of later events need. Returns true if more work remains. */
static bool compact_step(vk_store_t *s, int64_t target)
{
    int64_t lo = s->w_compact_done, hi = lo + COMPACT_REVS;
    if (hi > target) hi = target;
    sqlite3 *db = s->wconn;
    int rc = exec(db, "BEGIN IMMEDIATE");
    /* Before any log row goes: the last revision must not be lost with it. */
    if (rc == SQLITE_OK) rc = set_meta(s, "revision", s->w_rev);
    if (rc == SQLITE_OK && target > s->w_compacted) rc = set_meta(s, "compacted", target);
    sqlite3_stmt *st = NULL;
    static const char *const sql[] = {
        "DELETE FROM log WHERE rev IN (SELECT prev_rev FROM log"
        " WHERE rev>?1 AND rev<=?2 AND prev_rev>0)",
        "DELETE FROM log WHERE rev>?1 AND rev<=?2 AND type=3",
    };
    for (int i = 0; i < 2 && rc == SQLITE_OK; i++) {
        rc = sqlite3_prepare_v2(db, sql[i], -1, &st, NULL);
        if (rc != SQLITE_OK) break;
        sqlite3_bind_int64(st, 1, lo);
        sqlite3_bind_int64(st, 2, hi);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK) rc = set_meta(s, "compact_done", hi);
    if (rc == SQLITE_OK) rc = commit(s);
    if (rc != SQLITE_OK) {
        vk_log_warn("store: compaction to %lld failed: %s", (long long)target, sqlite3_errstr(rc));
        rollback(s);
        return false;
    }
    if (target > s->w_compacted) s->w_compacted = target;
    s->w_compact_done = hi;
    return hi < target;
}

static void writer_main(void *arg)
{
    vk_store_t *s = arg;
    uv_mutex_lock(&s->mu);
    for (;;) {
        /* When stopping, compact only until the requested point is persisted
         * (one step); the rest resumes at the next open. */
        bool compact = s->compact_target > s->w_compact_done &&
                       (!s->stop || s->compact_target > s->w_compacted);
        if (!s->in_head && !compact && !s->stop) {
            uv_cond_wait(&s->cond, &s->mu);
            continue;
        }
        if (s->in_head) {
            op_t *head = s->in_head, *tail = head;
            for (size_t n = 1; n < s->opt.batch_max && tail->next; n++) tail = tail->next;
            s->in_head = tail->next;
            if (!s->in_head) s->in_tail = NULL;
            tail->next = NULL;
            uv_mutex_unlock(&s->mu);
            batch_t *b = run_batch(s, head);
            uv_mutex_lock(&s->mu);
            if (s->out_tail) s->out_tail->next = b;
            else s->out_head = b;
            s->out_tail = b;
            uv_async_send(&s->async);
            compact = s->compact_target > s->w_compact_done &&
                      (!s->stop || s->compact_target > s->w_compacted);
        }
        if (compact) {
            int64_t target = s->compact_target;
            uv_mutex_unlock(&s->mu);
            bool more = compact_step(s, target);
            uv_mutex_lock(&s->mu);
            if (!more && s->compact_target == target && s->w_compact_done < target)
                s->compact_target = s->w_compact_done; /* failed: the timer retries */
            continue;
        }
        if (s->stop && !s->in_head) break;
    }
    uv_mutex_unlock(&s->mu);
    finalize_writer(s);
    int rc = sqlite3_close(s->wconn);
    if (rc != SQLITE_OK) vk_log_warn("store: close: %s", sqlite3_errstr(rc));
    s->wconn = NULL;
    uv_mutex_lock(&s->mu);
    s->writer_exited = true;
    uv_async_send(&s->async);
    uv_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- writes */

static int enqueue(vk_store_t *s, int type, const char *key, const void *data, size_t len,
                   int64_t expect_rev, vk_store_write_cb cb, void *arg)
{
    if (s->closing) return VK_ECLOSED;
    if (!key_valid(key) || expect_rev < 0 || len > INT_MAX || (len && !data)) return VK_EINVALID;
    size_t klen = strlen(key);
    op_t *op = vk_xcalloc(1, sizeof *op + klen + 1 + len);
    op->type = type;
    op->key = (char *)(op + 1);
    memcpy(op->key, key, klen + 1);
    op->data = (unsigned char *)op->key + klen + 1;
    if (len) memcpy(op->data, data, len);
    op->len = len;
    op->expect_rev = expect_rev;
    op->cb = cb;
    op->arg = arg;
    if (s->inflight++ == 0) uv_ref((uv_handle_t *)&s->async);
    uv_mutex_lock(&s->mu);
    if (s->in_tail) s->in_tail->next = op;
    else s->in_head = op;
    s->in_tail = op;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->mu);
    return 0;
}

int vk_store_create(vk_store_t *s, const char *key, const void *data, size_t len,
                    vk_store_write_cb cb, void *arg)
{
    return enqueue(s, OP_CREATE, key, data, len, 0, cb, arg);
}

int vk_store_update(vk_store_t *s, const char *key, const void *data, size_t len,
                    int64_t expect_rev, vk_store_write_cb cb, void *arg)
{
    return enqueue(s, OP_UPDATE, key, data, len, expect_rev, cb, arg);
}

int vk_store_delete(vk_store_t *s, const char *key, int64_t expect_rev, vk_store_write_cb cb,
                    void *arg)
{
    return enqueue(s, OP_DELETE, key, NULL, 0, expect_rev, cb, arg);
}

/* ---------------------------------------------------------------- watch */

static bool matches(const vk_store_watch_t *w, const char *key)
{
    return strncmp(key, w->prefix, w->plen) == 0;
}

static void sweep(vk_store_t *s)
{
    if (s->depth > 0 || !s->need_sweep) return;
    s->need_sweep = false;
    vk_store_watch_t *w = s->watchers, *next;
    for (; w; w = next) {
        next = w->next;
        if (!w->dead) continue;
        if (w->pending) { /* still on the pending list: freed after on_idle */
            s->need_sweep = true;
            continue;
        }
        if (w->prev) w->prev->next = w->next;
        else s->watchers = w->next;
        if (w->next) w->next->prev = w->prev;
        free(w->prefix);
        free(w);
    }
}

/* Marks w dead: it gets no more callbacks and is freed by the next sweep. */
static void kill_watch(vk_store_watch_t *w)
{
    if (w->dead) return;
    w->dead = true;
    w->s->nwatchers--;
    w->s->need_sweep = true;
}

static void end_watch(vk_store_watch_t *w, int reason)
{
    if (w->dead) return;
    vk_store_t *s = w->s;
    s->depth++;
    w->ending = true;
    if (w->end_cb) w->end_cb(w->arg, reason);
    w->ending = false;
    kill_watch(w);
    s->depth--;
}

static void schedule(vk_store_watch_t *w)
{
    vk_store_t *s = w->s;
    if (w->pending || w->dead) return;
    w->pending = true;
    w->pend_next = NULL;
    if (s->pending_tail) s->pending_tail->pend_next = w;
    else s->pending = w;
    s->pending_tail = w;
    if (!s->idle_on) {
        s->idle_on = true;
        uv_idle_start(&s->idle, on_idle);
    }
}

/* Delivers one event to w; false if w stopped (paused or dead). */
static bool deliver(vk_store_watch_t *w, const vk_event_t *ev)
{
    w->pos = ev->rev;
    if (!matches(w, ev->kv->key)) return true;
    int rc = w->cb(w->arg, ev);
    if (w->dead) return false;
    if (rc == VK_EAGAIN) {
        w->paused = true;
        return false;
    }
    return true;
}

/* Reads one chunk of the log after w->pos and delivers it. */
static void catch_up_chunk(vk_store_watch_t *w)
{
    vk_store_t *s = w->s;
    int64_t lo = w->pos, hi = w->pos + CATCHUP_REVS;
    if (hi > s->ring_lo - 1) hi = s->ring_lo - 1;
    char endbuf[KEY_MAX + 2];
    char *eb = w->plen + 2 > sizeof endbuf ? vk_xmalloc(w->plen + 2) : endbuf;
    sqlite3_stmt *st = s->st_watch_log;
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    sqlite3_bind_text(st, 3, w->prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, prefix_end(w->prefix, eb), -1, SQLITE_STATIC);
    /* Collect first: callbacks may re-enter the store (and this statement). */
    size_t n = 0, cap = 0;
    vk_event_t *evs = NULL;
    int rc = SQLITE_DONE;
    size_t bytes = 0;
    while (bytes < CATCHUP_BYTES && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) evs = vk_xrealloc(evs, (cap = cap ? cap * 2 : 64) * sizeof *evs);
        vk_event_t *ev = &evs[n++];
        const char *key = (const char *)sqlite3_column_text(st, 1);
        ev->rev = sqlite3_column_int64(st, 0);
        ev->type = sqlite3_column_int(st, 2);
        ev->kv = kv_from_row(st, key, 3, 4, ev->rev);
        ev->prev = sqlite3_column_type(st, 5) == SQLITE_NULL
                       ? NULL
                       : kv_from_row(st, key, 6, 7, sqlite3_column_int64(st, 5));
        bytes += ev->kv->len + (ev->prev ? ev->prev->len : 0) + 256;
    }
    if (bytes >= CATCHUP_BYTES) { /* stopped early: go on after the last row read */
        rc = SQLITE_DONE;
        hi = evs[n - 1].rev;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (eb != endbuf) free(eb);
    if (rc != SQLITE_DONE) {
        vk_log_warn("store: watch catch-up: %s", sqlite3_errmsg(s->rconn));
        end_watch(w, map_rc(rc));
    } else {
        size_t i = 0;
        while (i < n && deliver(w, &evs[i])) i++;
        if (i == n && !w->dead && !w->paused) w->pos = hi;
    }
    for (size_t i = 0; i < n; i++) {
        vk_kv_unref(evs[i].kv);
        vk_kv_unref(evs[i].prev);
    }
    free(evs);
}

/* Brings w forward: from the ring as far as it goes, or one log chunk when w
 * is behind the ring. Returns true if w needs another turn. Caller holds depth. */
static bool service(vk_store_watch_t *w, bool allow_log)
{
    vk_store_t *s = w->s;
    while (!w->dead && !w->paused && w->pos < s->ring_hi) {
        if (w->pos + 1 >= s->ring_lo) {
            const vk_event_t *ev = &s->ring[(size_t)(w->pos + 1) % s->ring_cap];
            assert(ev->rev == w->pos + 1);
            deliver(w, ev);
            continue;
        }
        if (w->pos < s->compacted) {
            end_watch(w, VK_EEXPIRED);
            return false;
        }
        if (!allow_log) return true;
        catch_up_chunk(w);
        allow_log = false;
    }
    return false;
}

static void on_idle(uv_idle_t *h)
{
    vk_store_t *s = h->data;
    vk_store_watch_t *list = s->pending;
    s->pending = s->pending_tail = NULL;
    s->depth++;
    while (list) {
        vk_store_watch_t *w = list;
        list = w->pend_next;
        w->pending = false;
        if (!w->dead && service(w, true)) schedule(w);
    }
    s->depth--;
    if (!s->pending && s->idle_on) {
        s->idle_on = false;
        uv_idle_stop(&s->idle);
    }
    sweep(s);
}

/* New events are in the ring: bring every live watcher up to date, check the
 * paused ones' lag. */
static void broadcast(vk_store_t *s)
{
    s->depth++;
    for (vk_store_watch_t *w = s->watchers; w; w = w->next) {
        if (w->dead || w->pending) continue;
        if (w->paused) {
            if ((uint64_t)(s->rev - w->pos) > s->opt.watcher_lag_max) end_watch(w, VK_ESLOW);
            continue;
        }
        if (service(w, false)) schedule(w);
    }
    s->depth--;
    sweep(s);
}

static size_t event_bytes(const vk_event_t *ev)
{
    return ev->kv->len + (ev->prev ? ev->prev->len : 0);
}

static void ring_pop(vk_store_t *s)
{
    vk_event_t *old = &s->ring[(size_t)s->ring_lo % s->ring_cap];
    s->ring_bytes -= event_bytes(old);
    vk_kv_unref(old->kv);
    vk_kv_unref(old->prev);
    s->ring_lo++;
}

/* Appends an event (taking the kv references). The ring keeps ring_events
 * events and at most ring_bytes_max bytes of values (but always the newest);
 * watchers behind it read the log. */
static void ring_push(vk_store_t *s, int type, vk_kv_t *kv, vk_kv_t *prev)
{
    int64_t rev = kv->mod_rev;
    assert(rev == s->ring_hi + 1);
    if ((size_t)(s->ring_hi - s->ring_lo + 1) == s->ring_cap) ring_pop(s);
    vk_event_t *ev = &s->ring[(size_t)rev % s->ring_cap];
    ev->type = type;
    ev->rev = rev;
    ev->kv = kv;
    ev->prev = prev;
    s->ring_hi = rev;
    s->ring_bytes += event_bytes(ev);
    while (s->ring_bytes > s->opt.ring_bytes_max && s->ring_lo < s->ring_hi) ring_pop(s);
}

int vk_store_watch(vk_store_t *s, const char *prefix, int64_t after_rev, vk_store_event_cb cb,
                   vk_store_watch_end_cb end_cb, void *arg, vk_store_watch_t **out)
{
    if (s->closing) return VK_ECLOSED;
    if (after_rev < 0 || after_rev > s->rev) return VK_EINVALID;
    if (after_rev != 0 && after_rev < s->compacted) return VK_EEXPIRED;
    if (!prefix || !cb) return VK_EINVALID;
    vk_store_watch_t *w = vk_xcalloc(1, sizeof *w);
    w->s = s;
    w->prefix = vk_xstrdup(prefix);
    w->plen = strlen(prefix);
    w->pos = after_rev ? after_rev : s->rev;
    w->cb = cb;
    w->end_cb = end_cb;
    w->arg = arg;
    w->next = s->watchers;
    if (s->watchers) s->watchers->prev = w;
    s->watchers = w;
    s->nwatchers++;
    if (w->pos < s->ring_hi) schedule(w);
    *out = w;
    return 0;
}

void vk_store_watch_resume(vk_store_watch_t *w)
{
    if (w->dead || !w->paused) return;
    w->paused = false;
    schedule(w);
}

void vk_store_watch_cancel(vk_store_watch_t *w)
{
    if (!w || w->ending) return; /* inside its end_cb: the store frees it after */
    vk_store_t *s = w->s;
    kill_watch(w);
    sweep(s);
}

int64_t vk_store_watch_progress(const vk_store_watch_t *w)
{
    return w->pos;
}

size_t vk_store_watch_count(const vk_store_t *s)
{
    return s->nwatchers;
}

/* ---------------------------------------------------------------- completions */

static void finish_close(vk_store_t *s);

/* ---------------------------------------------------------------- key cache */

/* Length of the registered prefix key starts with, or 0. */
static size_t cache_covers(const key_cache_t *c, const char *key)
{
    for (size_t i = 0; i < c->nprefixes; i++) {
        size_t n = strlen(c->prefixes[i]);
        if (!strncmp(key, c->prefixes[i], n)) return n;
    }
    return 0;
}

/* The slot of the entry named key[0..n). */
static cache_entry_t **cache_slot(key_cache_t *c, const char *key, size_t n)
{
    size_t h = 14695981039346656037u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)key[i]) * 1099511628211u;
    cache_entry_t **e = &c->buckets[h % CACHE_BUCKETS];
    while (*e && (strncmp((*e)->key, key, n) || (*e)->key[n])) e = &(*e)->next;
    return e;
}

static void entry_free(cache_entry_t *e)
{
    for (size_t i = 0; i < e->n; i++) vk_kv_unref(e->kvs[i]);
    free(e->kvs);
    free(e);
}

static void cache_drop(key_cache_t *c, const char *key, size_t n)
{
    cache_entry_t **e = cache_slot(c, key, n), *dead = *e;
    if (!dead) return;
    *e = dead->next;
    entry_free(dead);
    c->count--;
}

/* A write to key committed: forget the key and every list holding it. */
static void cache_forget(key_cache_t *c, const char *key)
{
    size_t root = cache_covers(c, key);
    if (!c->count || !root) return;
    cache_drop(c, key, strlen(key));
    for (const char *p = key + root - 1; (p = strchr(p + 1, '/'));) cache_drop(c, key, (size_t)(p - key) + 1);
    if (key[root - 1] == '/') cache_drop(c, key, root);
}

static void cache_clear(key_cache_t *c)
{
    for (size_t b = 0; c->buckets && b < CACHE_BUCKETS; b++)
        while (c->buckets[b]) {
            cache_entry_t *e = c->buckets[b];
            c->buckets[b] = e->next;
            entry_free(e);
        }
    c->count = 0;
}

/* Remembers the entry name -> kvs[0..n) (references are taken; a key's
 * absence is n 1 with kvs[0] NULL). */
static void cache_put(key_cache_t *c, const char *name, vk_kv_t *const *kvs, size_t n)
{
    if (c->count >= CACHE_MAX) cache_clear(c);
    size_t len = strlen(name);
    cache_entry_t *e = vk_xmalloc(sizeof *e + len + 1);
    memcpy(e->key, name, len + 1);
    e->n = 0;
    e->kvs = n ? vk_xcalloc(n, sizeof *e->kvs) : NULL;
    for (size_t i = 0; i < n; i++)
        if (kvs[i]) e->kvs[e->n++] = vk_kv_ref(kvs[i]);
    cache_entry_t **b = cache_slot(c, name, len);
    e->next = *b;
    *b = e;
    c->count++;
}

int vk_store_cache_prefix(vk_store_t *s, const char *prefix)
{
    key_cache_t *c = &s->cache;
    if (!prefix || !*prefix || c->nprefixes == CACHE_PREFIXES) return VK_EINVALID;
    if (!c->buckets) c->buckets = vk_xcalloc(CACHE_BUCKETS, sizeof *c->buckets);
    c->prefixes[c->nprefixes++] = vk_xstrdup(prefix);
    return 0;
}

static void process_batch(vk_store_t *s, batch_t *b)
{
    if (!b->failed) s->rev = b->rev;
    s->stats.commits += !b->failed;
    s->stats.failed_commits += b->failed;
    s->stats.writes += b->acked;
    s->stats.commit_us_total += b->commit_us;
    int bucket = 0;
    while (bucket < 15 && b->commit_us >= (100ull << bucket)) bucket++;
    s->stats.commit_us_buckets[bucket]++;
    if (s->cache.count)
        for (op_t *op = b->ops; op; op = op->next)
            if (op->status == 0) cache_forget(&s->cache, op->key);
    for (op_t *op = b->ops; op; op = op->next) {
        s->inflight--;
        if (op->cb) op->cb(op->arg, op->status, op->kv);
    }
    op_t *op = b->ops;
    while (op) {
        op_t *next = op->next;
        if (op->status == 0) ring_push(s, op->ev_type, op->kv, op->prev); /* ring takes refs */
        else op_fail(op, op->status);
        free(op);
        op = next;
    }
    free(b);
}

static void on_async(uv_async_t *a)
{
    vk_store_t *s = a->data;
    uv_mutex_lock(&s->mu);
    batch_t *b = s->out_head;
    s->out_head = s->out_tail = NULL;
    bool exited = s->writer_exited;
    uv_mutex_unlock(&s->mu);
    bool events = false;
    while (b) {
        batch_t *next = b->next;
        events |= b->acked > 0;
        process_batch(s, b);
        b = next;
    }
    if (events) broadcast(s);
    if (s->inflight == 0 && !s->closing) uv_unref((uv_handle_t *)&s->async);
    if (exited && s->closing && s->handles_open == 3 && !uv_is_closing((uv_handle_t *)a))
        finish_close(s);
}

/* ---------------------------------------------------------------- close */

static void on_closed(uv_handle_t *h)
{
    vk_store_t *s = h->data;
    if (--s->handles_open > 0) return;
    for (int64_t r = s->ring_lo; r <= s->ring_hi; r++) {
        vk_event_t *ev = &s->ring[(size_t)r % s->ring_cap];
        vk_kv_unref(ev->kv);
        vk_kv_unref(ev->prev);
    }
    free(s->ring);
    uv_mutex_destroy(&s->mu);
    uv_cond_destroy(&s->cond);
    void (*done)(void *) = s->done_cb;
    void *arg = s->done_arg;
    free(s->path);
    free(s);
    if (done) done(arg);
}

static void finish_close(vk_store_t *s)
{
    uv_thread_join(&s->thread);
    finalize_all(s);
    sqlite3_close(s->rconn);
    s->rconn = NULL;
    cache_clear(&s->cache);
    free(s->cache.buckets);
    for (size_t i = 0; i < s->cache.nprefixes; i++) free(s->cache.prefixes[i]);
    s->depth++; /* from here on nothing may free watchers but us */
    vk_store_watch_t *w = s->watchers;
    while (w) {
        vk_store_watch_t *next = w->next;
        free(w->prefix);
        free(w);
        w = next;
    }
    s->watchers = s->pending = s->pending_tail = NULL;
    uv_close((uv_handle_t *)&s->async, on_closed);
    uv_close((uv_handle_t *)&s->idle, on_closed);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

void vk_store_close(vk_store_t *s, void (*done_cb)(void *arg), void *arg)
{
    if (s->closing) return;
    s->closing = true;
    s->done_cb = done_cb;
    s->done_arg = arg;
    uv_timer_stop(&s->timer);
    s->depth++;
    for (vk_store_watch_t *w = s->watchers; w; w = w->next) end_watch(w, VK_ECLOSED);
    s->depth--;
    sweep(s);
    uv_ref((uv_handle_t *)&s->async);
    uv_mutex_lock(&s->mu);
    s->stop = true;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- reads */

int64_t vk_store_revision(const vk_store_t *s)
{
    return s->rev;
}

int64_t vk_store_compacted(const vk_store_t *s)
{
    return s->compacted;
}

/* True if the read connection may see commits the loop has not been told
 * about (then answers come from the log at s->rev). Call after reading. */
static bool disk_ahead(const vk_store_t *s)
{
    return atomic_load(&((vk_store_t *)s)->visible) != s->rev;
}

static int get_uncached(vk_store_t *s, const char *key, vk_kv_t **out);

int vk_store_get(vk_store_t *s, const char *key, vk_kv_t **out)
{
    if (!key) return VK_EINVALID;
    key_cache_t *c = &s->cache;
    if (!c->nprefixes || !cache_covers(c, key)) return get_uncached(s, key, out);
    cache_entry_t *e = *cache_slot(c, key, strlen(key));
    if (e) {
        c->hits++;
        if (!e->n) return VK_ENOTFOUND;
        *out = vk_kv_ref(e->kvs[0]);
        return 0;
    }
    c->misses++;
    vk_kv_t *kv = NULL;
    int rc = get_uncached(s, key, &kv);
    if (rc == 0 || rc == VK_ENOTFOUND) cache_put(c, key, &kv, 1);
    if (rc == 0) *out = kv;
    return rc;
}

static int get_uncached(vk_store_t *s, const char *key, vk_kv_t **out)
{
    sqlite3_stmt *st = s->st_get;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    vk_kv_t *kv = NULL;
    if (rc == SQLITE_ROW) kv = kv_from_row(st, key, 0, 1, sqlite3_column_int64(st, 2));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return map_rc(rc);
    if (disk_ahead(s)) {
        vk_kv_unref(kv);
        kv = NULL;
        st = s->st_get_log;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, s->rev);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int(st, 0) != VK_EVENT_DELETED)
            kv = kv_from_row(st, key, 1, 2, sqlite3_column_int64(st, 3));
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return map_rc(rc);
    }
    if (!kv) return VK_ENOTFOUND;
    *out = kv;
    return 0;
}

void vk_store_list_free(vk_store_list_t *l)
{
    for (size_t i = 0; i < l->count; i++) vk_kv_unref(l->items[i]);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Runs one list statement into out; *ok = false if it could not answer. */
static int list_run(vk_store_t *s, sqlite3_stmt *st, bool from_log, size_t limit,
                    vk_store_list_t *out)
{
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        int64_t mod = sqlite3_column_int64(st, from_log ? 1 : 3);
        if (from_log && sqlite3_column_int(st, 2) == VK_EVENT_DELETED) continue;
        if (limit && out->count == limit) {
            out->more = 1;
            break;
        }
        if (out->count == cap)
            out->items = vk_xrealloc(out->items, (cap = cap ? cap * 2 : 64) * sizeof *out->items);
        out->items[out->count++] = from_log ? kv_from_row(st, key, 3, 4, mod)
                                            : kv_from_row(st, key, 1, 2, mod);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int list_uncached(vk_store_t *s, const char *prefix, const char *after_key, size_t limit,
                         int64_t at_rev, vk_store_list_t *out);

int vk_store_list(vk_store_t *s, const char *prefix, const char *after_key, size_t limit,
                  int64_t at_rev, vk_store_list_t *out)
{
    key_cache_t *c = &s->cache;
    size_t plen = prefix ? strlen(prefix) : 0;
    /* A whole, current list of a collection under a cached prefix. */
    if (!c->nprefixes || after_key || limit || at_rev || !plen || prefix[plen - 1] != '/' ||
        !cache_covers(c, prefix))
        return list_uncached(s, prefix, after_key, limit, at_rev, out);
    cache_entry_t *e = *cache_slot(c, prefix, plen);
    if (!e) {
        c->misses++;
        int rc = list_uncached(s, prefix, NULL, 0, 0, out);
        if (rc == 0 && out->count <= CACHE_LIST_MAX) cache_put(c, prefix, out->items, out->count);
        return rc;
    }
    c->hits++;
    memset(out, 0, sizeof *out);
    out->rev = s->rev;
    out->count = e->n;
    out->items = e->n ? vk_xcalloc(e->n, sizeof *out->items) : NULL;
    for (size_t i = 0; i < e->n; i++) out->items[i] = vk_kv_ref(e->kvs[i]);
    return 0;
}

static int list_uncached(vk_store_t *s, const char *prefix, const char *after_key, size_t limit,
                         int64_t at_rev, vk_store_list_t *out)
{
    memset(out, 0, sizeof *out);
    if (!prefix || at_rev < 0) return VK_EINVALID;
    if (at_rev > s->rev) return VK_EINVALID;
    int64_t rev = at_rev ? at_rev : s->rev;
    if (rev < s->rev && rev <= s->compacted) return VK_EEXPIRED;
    size_t plen = strlen(prefix);
    char *eb = vk_xmalloc(plen + 2);
    const char *end = prefix_end(prefix, eb);
    bool excl = after_key && strcmp(after_key, prefix) >= 0;
    const char *lo = excl ? after_key : prefix;
    int err = 0;
    bool from_log = rev < s->rev, in_txn = false;
    if (!from_log) {
        /* One read transaction: if its snapshot already holds commits the loop
         * has not been told about, answer from the log at s->rev instead. */
        in_txn = exec(s->rconn, "BEGIN") == SQLITE_OK;
        sqlite3_stmt *st = s->st_meta_rev;
        int rc = sqlite3_step(st);
        int64_t disk_rev = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW) err = map_rc(rc);
        from_log = disk_rev != s->rev;
    }
    if (!err && !from_log) {
        sqlite3_stmt *st = s->st_list_kv[excl];
        sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
        err = list_run(s, st, false, limit, out);
    }
    if (!err && from_log) {
        sqlite3_stmt *st = s->st_list_log[excl];
        sqlite3_bind_text(st, 1, lo, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, rev);
        err = list_run(s, st, true, limit, out);
    }
    if (!err && out->more && out->count) {
        /* Approximate: counted in the current state. */
        sqlite3_stmt *st = s->st_count;
        sqlite3_bind_text(st, 1, out->items[out->count - 1]->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, end, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t n = sqlite3_column_int64(st, 0) - 1; /* minus the last returned key */
            out->remaining = n > 0 ? (size_t)n : 1;
        }
        sqlite3_reset(st);
    }
    if (in_txn) exec(s->rconn, "COMMIT");
    free(eb);
    if (err) {
        vk_store_list_free(out);
        return err;
    }
    out->rev = rev;
    return 0;
}

int vk_store_count(vk_store_t *s, const char *prefix, size_t *out)
{
    if (!prefix) return VK_EINVALID;
    char *eb = vk_xmalloc(strlen(prefix) + 2);
    sqlite3_stmt *st = s->st_count;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, prefix_end(prefix, eb), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = (size_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    free(eb);
    return rc == SQLITE_ROW ? 0 : map_rc(rc);
}

/* ---------------------------------------------------------------- compaction */

int vk_store_compact(vk_store_t *s, int64_t rev)
{
    if (s->closing) return VK_ECLOSED;
    if (rev < 0 || rev > s->rev) return VK_EINVALID;
    if (rev <= s->compacted) return 0;
    s->compacted = rev; /* refuse older lists and watches from now on */
    uv_mutex_lock(&s->mu);
    if (rev > s->compact_target) s->compact_target = rev;
    uv_cond_signal(&s->cond);
    uv_mutex_unlock(&s->mu);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    vk_store_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    if (s->nsamples == TIME_SAMPLES) { /* full: keep every other one (coarser, same span) */
        for (size_t i = 0; i < TIME_SAMPLES / 2; i++) s->samples[i] = s->samples[2 * i];
        s->nsamples = TIME_SAMPLES / 2;
    }
    s->samples[s->nsamples++] = (time_sample_t){now, s->rev};
    /* Newest revision that is older than the time window. */
    uint64_t window_ms = (uint64_t)s->opt.history_seconds * 1000;
    int64_t by_time = 0;
    size_t drop = 0;
    for (size_t i = 0; i < s->nsamples && s->samples[i].ms + window_ms <= now; i++) {
        by_time = s->samples[i].rev;
        drop = i;
    }
    if (drop) { /* keep the newest sample that is past the window */
        memmove(s->samples, s->samples + drop, (s->nsamples - drop) * sizeof *s->samples);
        s->nsamples -= drop;
    }
    int64_t by_revs = s->rev - s->opt.history_revisions;
    int64_t target = by_time < by_revs ? by_time : by_revs;
    if (target > s->compacted) vk_store_compact(s, target);
}

void vk_store_get_stats(const vk_store_t *s, vk_store_stats_t *out)
{
    *out = s->stats;
    out->watchers = s->nwatchers;
    out->revision = s->rev;
    out->compacted = s->compacted;
    out->cache_hits = s->cache.hits;
    out->cache_misses = s->cache.misses;
}
