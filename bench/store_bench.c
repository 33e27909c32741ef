/* store_bench: figures for store/ (printed, never asserted), all measured in
 * one run on this machine:
 *   - baseline: plain sqlite3, one transaction + fsync per write (WAL, FULL)
 *   - durable writes/s and ack latency p50/p99 with 1 and 64 writes in flight
 *   - point reads/s, listing 10,000 objects
 *   - event delivery latency p50/p99 with 1,000 watchers on one prefix
 *   - reopen time of a 100,000-object database
 *   - RSS of an idle empty store (in a fresh process: this program re-runs
 *     itself with --rss)
 * The database lives in $VKUBE_BENCH_DIR (default /tmp), which must be on a
 * real disk for the fsync figures to mean anything. */
#include "common/err.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#define VAL_LEN 512
#define SECS 2.0

static char val[VAL_LEN];

static double ms_since(uint64_t t0)
{
    return (double)(uv_hrtime() - t0) / 1e6;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n nanosecond samples, in ms; sorts them. */
static double pct(uint64_t *v, size_t n, double p)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

static void rm_db(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- baseline: one transaction + fsync per write, plain sqlite3 ---- */

static void baseline(const char *path)
{
    rm_db(path);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "CREATE TABLE kv(key TEXT PRIMARY KEY, val BLOB)",
                 NULL, NULL, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "INSERT INTO kv VALUES(?1, ?2)", -1, &st, NULL);
    size_t cap = 100000, n = 0;
    uint64_t *lat = malloc(cap * sizeof *lat);
    uint64_t start = uv_hrtime();
    char key[64];
    while (ms_since(start) < SECS * 1000 && n < cap) {
        uint64_t t0 = uv_hrtime();
        snprintf(key, sizeof key, "/core/configmaps/ns/b%07zu", n);
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, val, VAL_LEN, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) fprintf(stderr, "baseline: insert failed\n");
        sqlite3_reset(st);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        lat[n++] = uv_hrtime() - t0;
    }
    double secs = ms_since(start) / 1000;
    sqlite3_finalize(st);
    sqlite3_close(db);
    printf("%-44s %10.0f writes/s   p50 %6.2f ms  p99 %6.2f ms\n",
           "baseline: sqlite3, 1 txn+fsync per write", (double)n / secs, pct(lat, n, 50),
           pct(lat, n, 99));
    free(lat);
    rm_db(path);
}

/* ---- store writes with N in flight ---- */

typedef struct wbench {
    uv_loop_t *loop;
    vk_store_t *s;
    const char *fmt;
    size_t next, done, limit;
    uint64_t deadline;
    uint64_t *lat;
    size_t nlat;
    int errors;
    int inflight;
} wbench_t;

typedef struct wslot {
    wbench_t *b;
    uint64_t t0;
} wslot_t;

static void wsubmit(wslot_t *sl);

static void wdone(void *arg, int status, const vk_kv_t *kv)
{
    wslot_t *sl = arg;
    wbench_t *b = sl->b;
    if (status != 0) b->errors++;
    b->lat[b->nlat++] = uv_hrtime() - sl->t0;
    b->done++;
    b->inflight--;
    wsubmit(sl);
}

static void wsubmit(wslot_t *sl)
{
    wbench_t *b = sl->b;
    if (b->next >= b->limit || (b->deadline && uv_hrtime() > b->deadline)) return;
    char key[64];
    snprintf(key, sizeof key, b->fmt, b->next++);
    sl->t0 = uv_hrtime();
    if (vk_store_create(b->s, key, val, VAL_LEN, wdone, sl) == 0) b->inflight++;
}

/* Creates keys fmt % 0.. with `inflight` writes outstanding, for SECS seconds
 * (secs > 0) or until limit keys. Prints a line if label is set. */
static size_t store_writes(uv_loop_t *loop, vk_store_t *s, const char *fmt, int inflight,
                           size_t limit, double secs, const char *label)
{
    wbench_t b = {.loop = loop, .s = s, .fmt = fmt, .limit = limit};
    b.lat = malloc(limit * sizeof *b.lat);
    memset(b.lat, 0xff, limit * sizeof *b.lat); /* no page faults while measuring */
    wslot_t *slots = calloc((size_t)inflight, sizeof *slots);
    uint64_t start = uv_hrtime();
    if (secs > 0) b.deadline = start + (uint64_t)(secs * 1e9);
    vk_store_stats_t st0, st1;
    vk_store_get_stats(s, &st0);
    for (int i = 0; i < inflight; i++) {
        slots[i].b = &b;
        wsubmit(&slots[i]);
    }
    while (b.inflight > 0) uv_run(loop, UV_RUN_ONCE);
    double el = ms_since(start) / 1000;
    vk_store_get_stats(s, &st1);
    if (label) {
        char l[64];
        snprintf(l, sizeof l, "store: durable writes, %d in flight", inflight);
        printf("%-44s %10.0f writes/s   p50 %6.2f ms  p99 %6.2f ms  (%.1f writes/commit%s)\n", l,
               (double)b.done / el, pct(b.lat, b.nlat, 50), pct(b.lat, b.nlat, 99),
               (double)(st1.writes - st0.writes) /
                   (double)(st1.commits > st0.commits ? st1.commits - st0.commits : 1),
               b.errors ? ", ERRORS" : "");
    }
    free(slots);
    free(b.lat);
    return b.done;
}

/* ---- watch delivery ---- */

typedef struct dbench {
    uint64_t *submit;  /* submit time per key index */
    uint64_t *acked;   /* ack time per key index */
    uint64_t *lat_submit, *lat_ack;
    size_t n, cap;
} dbench_t;

static int dcb(void *arg, const vk_event_t *ev)
{
    dbench_t *d = arg;
    uint64_t now = uv_hrtime();
    size_t i = (size_t)atol(strrchr(ev->kv->key, '/') + 2);
    if (d->n < d->cap) {
        d->lat_submit[d->n] = now - d->submit[i];
        d->lat_ack[d->n] = now - d->acked[i];
        d->n++;
    }
    return 0;
}

typedef struct dslot {
    dbench_t *d;
    vk_store_t *s;
    size_t *next, limit;
    int *inflight;
} dslot_t;

static void dsubmit(dslot_t *sl);

static void ddone(void *arg, int status, const vk_kv_t *kv)
{
    dslot_t *sl = arg;
    size_t i = (size_t)atol(strrchr(kv->key, '/') + 2);
    sl->d->acked[i] = uv_hrtime();
    (*sl->inflight)--;
    dsubmit(sl);
}

static void dsubmit(dslot_t *sl)
{
    if (*sl->next >= sl->limit) return;
    size_t i = (*sl->next)++;
    char key[64];
    snprintf(key, sizeof key, "/bench/watch/ns/w%zu", i);
    sl->d->submit[i] = uv_hrtime();
    if (vk_store_create(sl->s, key, val, VAL_LEN, ddone, sl) == 0) (*sl->inflight)++;
}

static void delivery(uv_loop_t *loop, vk_store_t *s, int watchers, int inflight, size_t writes,
                     size_t base)
{
    dbench_t d = {0};
    d.submit = calloc(base + writes, sizeof *d.submit);
    d.acked = calloc(base + writes, sizeof *d.acked);
    d.cap = (size_t)watchers * writes;
    d.lat_submit = malloc(d.cap * sizeof *d.lat_submit);
    d.lat_ack = malloc(d.cap * sizeof *d.lat_ack);
    /* touch the sample arrays now so that page faults are not measured */
    memset(d.lat_submit, 0xff, d.cap * sizeof *d.lat_submit);
    memset(d.lat_ack, 0xff, d.cap * sizeof *d.lat_ack);
    vk_store_watch_t **w = calloc((size_t)watchers, sizeof *w);
    for (int i = 0; i < watchers; i++)
        vk_store_watch(s, "/bench/watch/", 0, dcb, NULL, &d, &w[i]);
    size_t next = base;
    int nin = 0;
    dslot_t *slots = calloc((size_t)inflight, sizeof *slots);
    for (int i = 0; i < inflight; i++) {
        slots[i] = (dslot_t){&d, s, &next, base + writes, &nin};
        dsubmit(&slots[i]);
    }
    uint64_t start = uv_hrtime();
    while (nin > 0 && ms_since(start) < 60000) uv_run(loop, UV_RUN_ONCE);
    char l[80];
    snprintf(l, sizeof l, "store: event delivery, %d watchers, %d in flight", watchers, inflight);
    double s50 = pct(d.lat_submit, d.n, 50), s99 = pct(d.lat_submit, d.n, 99);
    printf("%-44s   from commit ack: p50 %6.2f ms  p99 %6.2f ms; from submit: p50 %6.2f ms"
           "  p99 %6.2f ms  (%zu deliveries)\n",
           l, pct(d.lat_ack, d.n, 50), pct(d.lat_ack, d.n, 99), s50, s99, d.n);
    for (int i = 0; i < watchers; i++) vk_store_watch_cancel(w[i]);
    free(w);
    free(slots);
    free(d.submit);
    free(d.acked);
    free(d.lat_submit);
    free(d.lat_ack);
}

/* ---- main ---- */

static void done_flag(void *arg)
{
    *(int *)arg = 1;
}

static void close_store(uv_loop_t *loop, vk_store_t *s)
{
    int done = 0;
    vk_store_close(s, done_flag, &done);
    while (!done) uv_run(loop, UV_RUN_ONCE);
}

static int rss_mode(const char *path)
{
    rm_db(path);
    long before = rss_kb();
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_store_t *s;
    if (vk_store_open(&loop, path, NULL, &s) != 0) return 1;
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(100000);
    uv_run(&loop, UV_RUN_NOWAIT);
    long after = rss_kb();
    printf("%-44s %10ld kB VmRSS (process before opening: %ld kB; the store adds %ld kB)\n",
           "store: idle empty store, fresh process", after, before, after - before);
    close_store(&loop, s);
    uv_loop_close(&loop);
    rm_db(path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--rss") == 0) return rss_mode(argv[2]);
    const char *base = getenv("VKUBE_BENCH_DIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/vkstore-bench.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/db", dir);
    for (int i = 0; i < VAL_LEN; i++) val[i] = (char)('a' + i % 26);

    printf("== store (values of %d bytes; database in %s)\n", VAL_LEN, dir);
    fflush(stdout);
    baseline(path);

    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_store_t *s;
    vk_store_options_t opt = {.compact_interval_ms = -1};
    if (vk_store_open(&loop, path, &opt, &s) != 0) return 1;
    store_writes(&loop, s, "/bench/w1/ns/k%07zu", 1, 100000, SECS, "1");
    store_writes(&loop, s, "/bench/w64/ns/k%07zu", 64, 1000000, SECS, "64");
    fflush(stdout);

    /* point reads */
    size_t nkeys = 10000;
    store_writes(&loop, s, "/bench/read/ns/k%07zu", 256, nkeys, 0, NULL);
    uint64_t t0 = uv_hrtime();
    size_t reads = 0, found = 0;
    unsigned seed = 1;
    while (ms_since(t0) < SECS * 1000) {
        for (int i = 0; i < 1000; i++) {
            char key[64];
            snprintf(key, sizeof key, "/bench/read/ns/k%07u", rand_r(&seed) % (unsigned)nkeys);
            vk_kv_t *kv;
            if (vk_store_get(s, key, &kv) == 0) {
                found++;
                vk_kv_unref(kv);
            }
            reads++;
        }
    }
    printf("%-44s %10.0f reads/s   (%zu of %zu found)\n", "store: point reads (vk_store_get)",
           (double)reads / (ms_since(t0) / 1000), found, reads);

    /* listing 10,000 objects: whole, paged by 500, and at a past revision */
    int64_t at = vk_store_revision(s);
    store_writes(&loop, s, "/bench/read/ns/z%07zu", 64, 100, 0, NULL); /* move on */
    const char *modes[] = {"in one call", "in pages of 500", "at a past revision"};
    for (int m = 0; m < 3; m++) {
        uint64_t best = UINT64_MAX;
        size_t count = 0;
        for (int rep = 0; rep < 5; rep++) {
            uint64_t t = uv_hrtime();
            count = 0;
            vk_store_list_t l;
            char last[64] = "";
            for (;;) {
                int rc = vk_store_list(s, "/bench/read/ns/k", last[0] ? last : NULL,
                                       m == 1 ? 500 : 0, m == 2 ? at : 0, &l);
                if (rc) break;
                count += l.count;
                int more = l.more;
                if (more) snprintf(last, sizeof last, "%s", l.items[l.count - 1]->key);
                vk_store_list_free(&l);
                if (!more) break;
            }
            uint64_t el = uv_hrtime() - t;
            if (el < best) best = el;
        }
        char l[80];
        snprintf(l, sizeof l, "store: list 10,000 objects %s", modes[m]);
        printf("%-44s %10.2f ms (best of 5; %zu objects)\n", l, (double)best / 1e6, count);
    }
    fflush(stdout);

    /* event delivery with 1,000 watchers */
    delivery(&loop, s, 1000, 1, 500, 0);
    delivery(&loop, s, 1000, 64, 2000, 500);
    fflush(stdout);
    close_store(&loop, s);

    /* reopen of a 100,000-object database */
    rm_db(path);
    if (vk_store_open(&loop, path, &opt, &s) != 0) return 1;
    t0 = uv_hrtime();
    size_t made = store_writes(&loop, s, "/core/configmaps/ns/obj%07zu", 1024, 100000, 0, NULL);
    (void)made;
    double fill_s = ms_since(t0) / 1000;
    close_store(&loop, s);
    double best_open = 1e9, best_close = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        t0 = uv_hrtime();
        if (vk_store_open(&loop, path, &opt, &s) != 0) return 1;
        double o = ms_since(t0);
        t0 = uv_hrtime();
        close_store(&loop, s);
        double c = ms_since(t0);
        if (o < best_open) best_open = o;
        if (c < best_close) best_close = c;
    }
    printf("%-44s %10.2f ms (close %.2f ms; filled at %.0f writes/s, 1024 in flight)\n",
           "store: reopen 100,000-object database", best_open, best_close, 100000 / fill_s);
    uv_loop_close(&loop);
    rm_db(path);
    fflush(stdout);

    /* idle RSS in a fresh process */
    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "--rss", path, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    rmdir(dir);
    return 0;
}
