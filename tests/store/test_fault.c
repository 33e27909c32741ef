/* Fault tests for store/: commits that fail with SQLITE_FULL or SQLITE_IOERR
 * (through the fault_cb hook, called just before COMMIT) fail every write of
 * their batch, acknowledge nothing, deliver no event, and the store goes on
 * working (and persisting correctly) once the fault clears. */
#include "tests/store/util.h"
#include "tests/test.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>

typedef struct fault {
    int code;      /* SQLite code to fail with, 0: none */
    int every;     /* if > 0: fail only every Nth commit */
    int calls;
} fault_t;

static int fault_cb(void *arg)
{
    fault_t *f = arg;
    f->calls++;
    if (f->every > 0) return f->calls % f->every == 0 ? f->code : 0;
    return f->code;
}

static int ev_cb(void *arg, const vk_event_t *ev)
{
    (*(int *)arg)++;
    return 0;
}

TEST(failed_commit_fails_the_batch_and_store_recovers)
{
    fault_t f = {0};
    vk_store_options_t opt = {.fault_cb = fault_cb, .fault_arg = &f, .compact_interval_ms = -1};
    env_t e;
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    int64_t r = 0;
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/a", "v1", &r), 0);
    CHECK_EQ_INT(r, 1);
    int events = 0;
    vk_store_watch_t *w;
    CHECK_EQ_INT(vk_store_watch(e.s, "/", 0, ev_cb, NULL, &events, &w), 0);

    static const int codes[] = {SQLITE_FULL, SQLITE_IOERR, SQLITE_IOERR_FSYNC};
    static const int want[] = {VK_EFULL, VK_EIO, VK_EIO};
    for (int c = 0; c < 3; c++) {
        f.code = codes[c];
        wres_t res[21];
        memset(res, 0, sizeof res);
        for (int i = 0; i < 20; i++) {
            char key[64];
            snprintf(key, sizeof key, "/core/cm/ns/f%d-%02d", c, i);
            CHECK_EQ_INT(vk_store_create(e.s, key, "x", 1, wres_cb, &res[i]), 0);
        }
        CHECK_EQ_INT(vk_store_update(e.s, "/core/cm/ns/a", "bad", 3, 0, wres_cb, &res[20]), 0);
        int bad = 0;
        for (int i = 0; i < 21; i++) {
            run_until(&e.loop, &res[i].done);
            if (res[i].status != want[c] || res[i].kv) bad++;
            wres_clear(&res[i]);
        }
        CHECK_EQ_INT(bad, 0);
        CHECK_EQ_INT(vk_store_revision(e.s), 1 + c);
        char buf[64];
        CHECK_EQ_STR(get_str(&e, "/core/cm/ns/a", buf, sizeof buf), c ? "ok" : "v1");
        char key[64];
        snprintf(key, sizeof key, "/core/cm/ns/f%d-05", c);
        CHECK_EQ_STR(get_str(&e, key, buf, sizeof buf), "");
        run_for(&e.loop, 10);
        CHECK_EQ_INT(events, c);
        /* the fault clears: the store works, the next write gets the next revision */
        f.code = 0;
        CHECK_EQ_INT(put(&e, "/core/cm/ns/a", "ok", 0, &r), 0);
        CHECK_EQ_INT(r, 2 + c);
        run_for(&e.loop, 10);
        CHECK_EQ_INT(events, c + 1);
    }
    vk_store_stats_t st;
    vk_store_get_stats(e.s, &st);
    CHECK(st.failed_commits >= 3);
    CHECK_EQ_INT(st.writes, 4);
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, "/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    vk_store_list_free(&l);
    vk_store_watch_cancel(w);
    CHECK(env_close_store(&e));
    /* nothing that failed shows up after a restart either */
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 4);
    CHECK_EQ_INT(vk_store_list(e.s, "/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    vk_store_list_free(&l);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

typedef struct load {
    int done, acked, failed, other;
    char acked_key[400][32];
    int64_t acked_rev[400];
} load_t;

typedef struct one {
    load_t *l;
    char key[32];
} one_t;

static void load_cb(void *arg, int status, const vk_kv_t *kv)
{
    one_t *o = arg;
    load_t *l = o->l;
    l->done++;
    if (status == 0) {
        snprintf(l->acked_key[l->acked], sizeof l->acked_key[0], "%s", o->key);
        l->acked_rev[l->acked++] = kv->mod_rev;
    } else if (status == VK_EFULL && !kv) {
        l->failed++;
    } else {
        l->other++;
    }
}

TEST(intermittent_faults_under_load_acknowledge_only_what_is_stored)
{
    fault_t f = {.code = SQLITE_FULL, .every = 3};
    vk_store_options_t opt = {.fault_cb = fault_cb, .fault_arg = &f, .compact_interval_ms = -1,
                              .batch_max = 16};
    env_t e;
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    load_t *l = calloc(1, sizeof *l);
    one_t *ones = calloc(400, sizeof *ones);
    for (int wave = 0; wave < 8; wave++) {
        for (int i = wave * 50; i < wave * 50 + 50; i++) {
            ones[i].l = l;
            snprintf(ones[i].key, sizeof ones[i].key, "/core/cm/ns/k%03d", i);
            CHECK_EQ_INT(vk_store_create(e.s, ones[i].key, "v", 1, load_cb, &ones[i]), 0);
        }
        while (l->done < wave * 50 + 50 && uv_loop_alive(&e.loop)) uv_run(&e.loop, UV_RUN_ONCE);
    }
    CHECK_EQ_INT(l->done, 400);
    CHECK_EQ_INT(l->other, 0);
    CHECK(l->failed > 0);
    CHECK(l->acked > 0);
    CHECK_EQ_INT(l->acked + l->failed, 400);
    int bad = 0;
    for (int i = 0; i < l->acked; i++)
        if (l->acked_rev[i] != i + 1) bad++; /* contiguous, in order */
    CHECK_EQ_INT(bad, 0);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), l->acked);
    vk_store_list_t all;
    CHECK_EQ_INT(vk_store_list(e.s, "/", NULL, 0, 0, &all), 0);
    CHECK_EQ_INT(all.count, (size_t)l->acked);
    bad = 0;
    for (int i = 0; i < l->acked; i++) {
        vk_kv_t *kv = NULL;
        if (vk_store_get(e.s, l->acked_key[i], &kv) != 0 || kv->mod_rev != l->acked_rev[i]) bad++;
        vk_kv_unref(kv);
    }
    CHECK_EQ_INT(bad, 0);
    vk_store_list_free(&all);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
    free(l);
    free(ones);
}

static off_t file_size(const char *dir, const char *name)
{
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? st.st_size : 0;
}

/* A real write error, not the hook: the file size limit (RLIMIT_FSIZE) makes
 * the WAL writes fail as a full disk would. */
TEST(real_write_errors_fail_cleanly_and_store_recovers)
{
    env_t e;
    vk_store_options_t opt = {.compact_interval_ms = -1};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/first", "v", NULL), 0);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_IGN);
    off_t big = file_size(e.dir, "db");
    if (file_size(e.dir, "db-wal") > big) big = file_size(e.dir, "db-wal");
    lim = old;
    lim.rlim_cur = (rlim_t)big + 128 * 1024;
    CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
    static char val[8192];
    memset(val, 'x', sizeof val - 1);
    int acked = 0, failed = 0, other = 0;
    for (int i = 0; i < 200 && failed < 3; i++) {
        char key[64];
        snprintf(key, sizeof key, "/core/cm/ns/k%03d", i);
        int rc = put_new(&e, key, val, NULL);
        if (rc == 0) acked++;
        else if (rc == VK_EFULL || rc == VK_EIO) failed++;
        else other++;
    }
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(acked > 0);
    CHECK(failed > 0);
    CHECK_EQ_INT(other, 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 1 + acked);
    /* the limit is lifted: the store works again */
    int64_t r = 0;
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/after", "v", &r), 0);
    CHECK_EQ_INT(r, 2 + acked);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(env_open(&e, &opt), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 2 + acked);
    size_t n = 0;
    CHECK_EQ_INT(vk_store_count(e.s, "/core/cm/ns/", &n), 0);
    CHECK_EQ_INT(n, 2 + (size_t)acked);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

int main(void)
{
    alarm(120);
    RUN(failed_commit_fails_the_batch_and_store_recovers);
    RUN(intermittent_faults_under_load_acknowledge_only_what_is_stored);
    RUN(real_write_errors_fail_cleanly_and_store_recovers);
    TEST_EXIT();
}
