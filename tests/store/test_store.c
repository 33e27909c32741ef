/* Unit tests for store/: every operation, CAS, lists (paged, past revisions),
 * restart, compaction and the error paths on open. Watch tests are in
 * test_watch.c, the crash and fault tests in test_crash.c and test_fault.c. */
#include "tests/store/util.h"
#include "tests/test.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>

static void close_env(env_t *e)
{
    CHECK(env_close_store(e));
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
    env_rmdir(e);
}

TEST(create_get_update_delete_with_cas)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 0);
    int64_t r1 = 0, r2 = 0, r3 = 0, r;
    CHECK_EQ_INT(put_new(&e, "/core/pods/ns/a", "v1", &r1), 0);
    CHECK_EQ_INT(r1, 1);
    CHECK_EQ_INT(vk_store_revision(e.s), 1);

    vk_kv_t *kv = NULL;
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/a", &kv), 0);
    if (kv) {
        CHECK_EQ_STR((char *)kv->val, "v1");
        CHECK_EQ_INT(kv->len, 2);
        CHECK_EQ_INT(kv->create_rev, 1);
        CHECK_EQ_INT(kv->mod_rev, 1);
        vk_kv_unref(kv);
    }
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/b", &kv), VK_ENOTFOUND);

    /* create of an existing key: EEXIST with the current value */
    wres_t w = {0};
    CHECK_EQ_INT(vk_store_create(e.s, "/core/pods/ns/a", "x", 1, wres_cb, &w), 0);
    run_until(&e.loop, &w.done);
    CHECK_EQ_INT(w.status, VK_EEXIST);
    CHECK(w.kv && w.kv->mod_rev == 1 && strcmp((char *)w.kv->val, "v1") == 0);
    wres_clear(&w);

    /* update with a stale revision: ECONFLICT with the current value */
    CHECK_EQ_INT(put(&e, "/core/pods/ns/a", "v2", 1, &r2), 0);
    CHECK_EQ_INT(r2, 2);
    CHECK_EQ_INT(vk_store_update(e.s, "/core/pods/ns/a", "v3", 2, 1, wres_cb, &w), 0);
    run_until(&e.loop, &w.done);
    CHECK_EQ_INT(w.status, VK_ECONFLICT);
    CHECK(w.kv && w.kv->mod_rev == 2 && strcmp((char *)w.kv->val, "v2") == 0);
    wres_clear(&w);
    /* failed writes do not use up revisions */
    CHECK_EQ_INT(vk_store_revision(e.s), 2);
    CHECK_EQ_INT(put(&e, "/core/pods/ns/a", "v3", 0, &r3), 0); /* 0: any revision */
    CHECK_EQ_INT(r3, 3);
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/a", &kv), 0);
    if (kv) {
        CHECK_EQ_INT(kv->create_rev, 1);
        CHECK_EQ_INT(kv->mod_rev, 3);
        vk_kv_unref(kv);
    }

    CHECK_EQ_INT(put(&e, "/core/pods/ns/missing", "x", 0, &r), VK_ENOTFOUND);
    CHECK_EQ_INT(del(&e, "/core/pods/ns/missing", 0, &r), VK_ENOTFOUND);
    CHECK_EQ_INT(del(&e, "/core/pods/ns/a", 2, &r), VK_ECONFLICT);

    /* delete: the callback gets the last value with mod_rev = delete revision */
    CHECK_EQ_INT(vk_store_delete(e.s, "/core/pods/ns/a", 3, wres_cb, &w), 0);
    run_until(&e.loop, &w.done);
    CHECK_EQ_INT(w.status, 0);
    CHECK(w.kv && w.kv->mod_rev == 4 && w.kv->create_rev == 1 &&
          strcmp((char *)w.kv->val, "v3") == 0);
    wres_clear(&w);
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/a", &kv), VK_ENOTFOUND);

    /* recreate: a new create_rev */
    CHECK_EQ_INT(put_new(&e, "/core/pods/ns/a", "again", &r), 0);
    CHECK_EQ_INT(r, 5);
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/a", &kv), 0);
    if (kv) {
        CHECK_EQ_INT(kv->create_rev, 5);
        vk_kv_unref(kv);
    }
    /* empty values are values */
    CHECK_EQ_INT(put_new(&e, "/core/pods/ns/empty", "", &r), 0);
    CHECK_EQ_INT(vk_store_get(e.s, "/core/pods/ns/empty", &kv), 0);
    if (kv) {
        CHECK_EQ_INT(kv->len, 0);
        CHECK_EQ_INT(kv->val[0], 0);
        vk_kv_unref(kv);
    }
    vk_store_stats_t st;
    vk_store_get_stats(e.s, &st);
    CHECK_EQ_INT(st.writes, 6);
    CHECK_EQ_INT(st.revision, 6);
    close_env(&e);
}

TEST(bad_arguments_are_refused_without_callback)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    wres_t w = {0};
    CHECK_EQ_INT(vk_store_create(e.s, "no-slash", "x", 1, wres_cb, &w), VK_EINVALID);
    CHECK_EQ_INT(vk_store_create(e.s, "/has space", "x", 1, wres_cb, &w), VK_EINVALID);
    CHECK_EQ_INT(vk_store_create(e.s, "/", "x", 1, wres_cb, &w), VK_EINVALID);
    CHECK_EQ_INT(vk_store_update(e.s, "/a/b", "x", 1, -1, wres_cb, &w), VK_EINVALID);
    char *big = malloc(5000);
    memset(big, 'a', 4999);
    big[0] = '/';
    big[4999] = 0;
    CHECK_EQ_INT(vk_store_delete(e.s, big, 0, wres_cb, &w), VK_EINVALID);
    free(big);
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, "/", NULL, 0, 5, &l), VK_EINVALID); /* future */
    vk_store_watch_t *wt = NULL;
    CHECK_EQ_INT(vk_store_watch(e.s, "/", 7, NULL, NULL, NULL, &wt), VK_EINVALID);
    CHECK_EQ_INT(vk_store_compact(e.s, 3), VK_EINVALID);
    run_for(&e.loop, 20);
    CHECK_EQ_INT(w.done, 0);
    close_env(&e);
}

typedef struct order {
    int n;
    int64_t last;
    int bad;
} order_t;

static void order_cb(void *arg, int status, const vk_kv_t *kv)
{
    order_t *o = arg;
    if (status != 0 || !kv || kv->mod_rev != o->last + 1) o->bad++;
    if (kv) o->last = kv->mod_rev;
    o->n++;
}

TEST(concurrent_writes_group_commit_in_revision_order)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    order_t o = {0};
    char key[64];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "/core/cm/ns/k%03d", i);
        CHECK_EQ_INT(vk_store_create(e.s, key, key, strlen(key), order_cb, &o), 0);
    }
    int all = 0;
    while (o.n < 500 && uv_loop_alive(&e.loop)) uv_run(&e.loop, UV_RUN_ONCE);
    all = o.n == 500;
    CHECK(all);
    CHECK_EQ_INT(o.bad, 0);
    CHECK_EQ_INT(o.last, 500);
    vk_store_stats_t st;
    vk_store_get_stats(e.s, &st);
    CHECK_EQ_INT(st.writes, 500);
    CHECK(st.commits >= 1 && st.commits < 500); /* writes shared commits */
    size_t n = 0;
    CHECK_EQ_INT(vk_store_count(e.s, "/core/cm/", &n), 0);
    CHECK_EQ_INT(n, 500);
    CHECK_EQ_INT(vk_store_count(e.s, "/core/cm/ns/k1", &n), 0);
    CHECK_EQ_INT(n, 100);
    close_env(&e);
}

static int64_t fill(env_t *e, const char *fmt, int n)
{
    order_t o = {0};
    o.last = vk_store_revision(e->s);
    char key[128];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, fmt, i);
        vk_store_create(e->s, key, key, strlen(key), order_cb, &o);
    }
    while (o.n < n && uv_loop_alive(&e->loop)) uv_run(&e->loop, UV_RUN_ONCE);
    return o.last;
}

TEST(list_pages_stay_at_one_revision_while_writes_go_on)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    fill(&e, "/apps/deploy/ns/d%03d", 100);
    fill(&e, "/apps/deployx/ns/o%03d", 5); /* prefix neighbour: must not show */
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(&*e.s, "/apps/deploy/", NULL, 10, 0, &l), 0);
    int64_t rev = l.rev;
    CHECK_EQ_INT(rev, 105);
    CHECK_EQ_INT(l.count, 10);
    CHECK_EQ_INT(l.more, 1);
    CHECK_EQ_INT(l.remaining, 90);
    int seen = 0, bad = 0;
    char last[128] = "";
    for (int page = 0; page < 20; page++) {
        for (size_t i = 0; i < l.count; i++) {
            char want[128];
            snprintf(want, sizeof want, "/apps/deploy/ns/d%03d", seen);
            if (strcmp(l.items[i]->key, want) != 0 || strcmp((char *)l.items[i]->val, want) != 0 ||
                l.items[i]->mod_rev > rev)
                bad++;
            seen++;
        }
        if (!l.more) break;
        snprintf(last, sizeof last, "%s", l.items[l.count - 1]->key);
        vk_store_list_free(&l);
        /* writes between pages: update, delete, create in the listed range */
        char key[128];
        snprintf(key, sizeof key, "/apps/deploy/ns/d%03d", 99 - page);
        CHECK_EQ_INT(put(&e, key, "changed", 0, NULL), 0);
        snprintf(key, sizeof key, "/apps/deploy/ns/d%03d", 50 + page);
        if (page < 5) CHECK_EQ_INT(del(&e, key, 0, NULL), 0);
        snprintf(key, sizeof key, "/apps/deploy/ns/d%03da", 60 + page);
        CHECK_EQ_INT(put_new(&e, key, "new", NULL), 0);
        CHECK_EQ_INT(vk_store_list(e.s, "/apps/deploy/", last, 10, rev, &l), 0);
        CHECK_EQ_INT(l.rev, rev);
    }
    vk_store_list_free(&l);
    CHECK_EQ_INT(seen, 100);
    CHECK_EQ_INT(bad, 0);

    /* and the latest state shows the changes */
    CHECK_EQ_INT(vk_store_list(e.s, "/apps/deploy/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.rev, vk_store_revision(e.s));
    CHECK_EQ_INT(l.count, 100 - 5 + 9);
    CHECK_EQ_INT(l.more, 0);
    vk_store_list_free(&l);
    /* limit larger than the rest; after_key before the prefix */
    CHECK_EQ_INT(vk_store_list(e.s, "/apps/deployx/", "/a", 100, 0, &l), 0);
    CHECK_EQ_INT(l.count, 5);
    CHECK_EQ_INT(l.more, 0);
    vk_store_list_free(&l);
    close_env(&e);
}

TEST(list_at_past_revision_shows_that_state)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    int64_t r1 = fill(&e, "/core/secrets/ns/s%02d", 20);
    CHECK_EQ_INT(put(&e, "/core/secrets/ns/s03", "upd", 0, NULL), 0);
    CHECK_EQ_INT(del(&e, "/core/secrets/ns/s05", 0, NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/core/secrets/ns/s50", "new", NULL), 0);
    int64_t r2 = vk_store_revision(e.s);
    CHECK_EQ_INT(put(&e, "/core/secrets/ns/s03", "upd2", 0, NULL), 0);
    CHECK_EQ_INT(del(&e, "/core/secrets/ns/s50", 0, NULL), 0);

    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, "/core/secrets/", NULL, 0, r1, &l), 0);
    CHECK_EQ_INT(l.count, 20);
    int bad = 0;
    for (size_t i = 0; i < l.count; i++) {
        char want[64];
        snprintf(want, sizeof want, "/core/secrets/ns/s%02zu", i);
        if (strcmp(l.items[i]->key, want) || strcmp((char *)l.items[i]->val, want)) bad++;
    }
    CHECK_EQ_INT(bad, 0);
    vk_store_list_free(&l);

    CHECK_EQ_INT(vk_store_list(e.s, "/core/secrets/", NULL, 0, r2, &l), 0);
    CHECK_EQ_INT(l.count, 20);
    if (l.count == 20) {
        CHECK_EQ_STR((char *)l.items[3]->val, "upd");
        CHECK_EQ_INT(l.items[3]->mod_rev, r1 + 1);
        CHECK_EQ_INT(l.items[3]->create_rev, 4);
        CHECK_EQ_STR(l.items[5]->key, "/core/secrets/ns/s06");
        CHECK_EQ_STR(l.items[19]->key, "/core/secrets/ns/s50");
    }
    vk_store_list_free(&l);
    /* paged past list */
    CHECK_EQ_INT(vk_store_list(e.s, "/core/secrets/", "/core/secrets/ns/s17", 2, r2, &l), 0);
    CHECK_EQ_INT(l.count, 2);
    CHECK_EQ_INT(l.more, 1);
    if (l.count == 2) CHECK_EQ_STR(l.items[1]->key, "/core/secrets/ns/s19");
    vk_store_list_free(&l);

    CHECK_EQ_INT(vk_store_list(e.s, "/core/secrets/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.count, 19);
    if (l.count == 19) CHECK_EQ_STR((char *)l.items[3]->val, "upd2");
    vk_store_list_free(&l);
    close_env(&e);
}

static int64_t count_log_rows(const char *path)
{
    sqlite3 *db;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM log", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return n;
}

TEST(compaction_keeps_what_allowed_past_lists_need)
{
    env_t e;
    vk_store_options_t opt = {.compact_interval_ms = -1};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    fill(&e, "/core/cm/ns/c%02d", 10); /* revs 1..10 */
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 10; i += 2) {
            char key[64];
            snprintf(key, sizeof key, "/core/cm/ns/c%02d", i);
            CHECK_EQ_INT(put(&e, key, "u", 0, NULL), 0);
        } /* revs 11..35 */
    CHECK_EQ_INT(del(&e, "/core/cm/ns/c01", 0, NULL), 0); /* 36 */
    int64_t c = vk_store_revision(e.s);
    CHECK_EQ_INT(put(&e, "/core/cm/ns/c02", "after", 0, NULL), 0); /* 37 */
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/c99", "after", NULL), 0); /* 38 */
    vk_store_list_t want, got;
    CHECK_EQ_INT(vk_store_list(e.s, "/core/cm/", NULL, 0, 37, &want), 0);

    CHECK_EQ_INT(vk_store_compact(e.s, c), 0);
    CHECK_EQ_INT(vk_store_compacted(e.s), c);
    CHECK_EQ_INT(vk_store_list(e.s, "/core/cm/", NULL, 0, c - 1, &got), VK_EEXPIRED);
    CHECK_EQ_INT(vk_store_list(e.s, "/core/cm/", NULL, 0, c, &got), VK_EEXPIRED);
    vk_store_watch_t *w;
    CHECK_EQ_INT(vk_store_watch(e.s, "/", c - 1, NULL, NULL, NULL, &w), VK_EEXPIRED);
    /* give the writer time to delete, by a close (which waits for the writer) */
    CHECK(env_close_store(&e));
    /* 38 events; after compaction at 36: c00..c09 newest versions (9 live:
     * c01 deleted) stay, plus revs 37 and 38 */
    CHECK_EQ_INT(count_log_rows(e.path), 9 + 2);
    CHECK_EQ_INT(env_open(&e, &opt), 0);
    CHECK_EQ_INT(vk_store_compacted(e.s), c);
    CHECK_EQ_INT(vk_store_list(e.s, "/core/cm/", NULL, 0, 37, &got), 0);
    CHECK_EQ_INT(got.count, want.count);
    CHECK_EQ_INT(got.count, 9);
    int bad = 0;
    for (size_t i = 0; i < got.count && i < want.count; i++)
        if (strcmp(got.items[i]->key, want.items[i]->key) ||
            got.items[i]->mod_rev != want.items[i]->mod_rev ||
            strcmp((char *)got.items[i]->val, (char *)want.items[i]->val))
            bad++;
    CHECK_EQ_INT(bad, 0);
    vk_store_list_free(&got);
    vk_store_list_free(&want);
    /* compaction to the latest revision: the latest list still works */
    CHECK_EQ_INT(vk_store_compact(e.s, vk_store_revision(e.s)), 0);
    CHECK_EQ_INT(vk_store_list(e.s, "/core/cm/", NULL, 0, vk_store_revision(e.s), &got), 0);
    CHECK_EQ_INT(got.count, 10);
    vk_store_list_free(&got);
    close_env(&e);
}

TEST(automatic_compaction_keeps_the_window)
{
    env_t e;
    vk_store_options_t off = {.compact_interval_ms = -1};
    CHECK_EQ_INT(env_init(&e, &off), 0);
    fill(&e, "/core/ev/ns/e%03d", 100);
    CHECK(env_close_store(&e));
    /* the time window counts from when this store saw the revisions */
    vk_store_options_t opt = {.compact_interval_ms = 50, .history_revisions = 20,
                              .history_seconds = 1};
    CHECK_EQ_INT(env_open(&e, &opt), 0);
    run_for(&e.loop, 300);
    /* events younger than 1 s are kept, whatever the revision window says */
    CHECK_EQ_INT(vk_store_compacted(e.s), 0);
    run_for(&e.loop, 1200);
    int64_t c = vk_store_compacted(e.s);
    CHECK(c > 0);
    CHECK(c <= 100 - 20);
    close_env(&e);
}

TEST(restart_keeps_revision_and_data)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    fill(&e, "/core/ns/n%d", 7);
    CHECK_EQ_INT(del(&e, "/core/ns/n3", 0, NULL), 0);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 8);
    char buf[64];
    CHECK_EQ_STR(get_str(&e, "/core/ns/n6", buf, sizeof buf), "/core/ns/n6");
    CHECK_EQ_STR(get_str(&e, "/core/ns/n3", buf, sizeof buf), "");
    int64_t r = 0;
    CHECK_EQ_INT(put_new(&e, "/core/ns/n9", "x", &r), 0);
    CHECK_EQ_INT(r, 9);
    /* and history from before the restart is still listable */
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, "/core/ns/", NULL, 0, 7, &l), 0);
    CHECK_EQ_INT(l.count, 7);
    vk_store_list_free(&l);
    close_env(&e);
}

/* A commit writes no meta row: the revision on disk is the log's last one,
 * or meta.revision once compaction has removed that row. Either way it
 * survives restarts; a schema-1 store (meta.revision kept by every commit)
 * opens as is. */
TEST(revision_survives_compaction_of_the_last_log_rows)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    fill(&e, "/core/ns/n%d", 3);
    CHECK_EQ_INT(del(&e, "/core/ns/n0", 0, NULL), 0);
    CHECK_EQ_INT(del(&e, "/core/ns/n1", 0, NULL), 0); /* rev 5: the last row, a delete */
    CHECK_EQ_INT(vk_store_compact(e.s, 5), 0);
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    int64_t deletes = -1;
    while (deletes != 0 && uv_hrtime() < deadline) { /* compaction runs on the writer thread */
        run_for(&e.loop, 20);
        sqlite3 *db;
        if (sqlite3_open_v2(e.path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(db, "SELECT count(*) FROM log WHERE type=3", -1, &st, NULL) ==
                SQLITE_OK) {
                if (sqlite3_step(st) == SQLITE_ROW) deletes = sqlite3_column_int64(st, 0);
                sqlite3_finalize(st);
            }
        }
        sqlite3_close(db);
    }
    CHECK_EQ_INT(deletes, 0); /* the rows of revisions 4 and 5 are gone */
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 5);
    int64_t r = 0;
    CHECK_EQ_INT(put_new(&e, "/core/ns/n9", "x", &r), 0);
    CHECK_EQ_INT(r, 6);
    CHECK(env_close_store(&e));
    /* schema 1: the same file as an older vkube left it */
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(e.path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE meta SET v=6 WHERE k='revision'; PRAGMA user_version=1",
                              NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 6);
    CHECK_EQ_INT(put_new(&e, "/core/ns/n10", "y", &r), 0);
    CHECK_EQ_INT(r, 7);
    close_env(&e);
}

/* Lists that read more than 16 MiB make the store drop its file map; reads
 * and writes go on as before, through a map opened again. */
TEST(large_lists_then_reads_and_writes)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    enum { N = 24, SZ = 512 * 1024 };
    char *val = malloc(SZ + 1);
    for (int i = 0; i < N; i++) {
        char key[64];
        snprintf(key, sizeof key, "/core/big/b%02d", i);
        memset(val, 'a' + i % 26, SZ);
        val[SZ] = 0;
        CHECK_EQ_INT(put_new(&e, key, val, NULL), 0);
    }
    /* 3 x 12 MiB: the map is dropped after the second list. */
    for (int round = 0; round < 3; round++) {
        vk_store_list_t l;
        CHECK_EQ_INT(vk_store_list(e.s, "/core/big/", NULL, 0, 0, &l), 0);
        CHECK_EQ_INT(l.count, N);
        int good = 0;
        for (size_t i = 0; i < l.count; i++)
            good += l.items[i]->len == SZ && l.items[i]->val[0] == 'a' + (int)i % 26 &&
                    l.items[i]->val[SZ - 1] == 'a' + (int)i % 26;
        CHECK_EQ_INT(good, N);
        vk_store_list_free(&l);
        /* A write and a read between the lists. */
        char key[64];
        snprintf(key, sizeof key, "/core/small/s%d", round);
        CHECK_EQ_INT(put_new(&e, key, "v", NULL), 0);
        char buf[64];
        CHECK_EQ_STR(get_str(&e, key, buf, sizeof buf), "v");
        CHECK_EQ_INT(get_str(&e, "/core/big/b05", buf, sizeof buf)[0], 'f');
    }
    vk_kv_t *kv = NULL;
    CHECK_EQ_INT(vk_store_get(e.s, "/core/big/b23", &kv), 0);
    CHECK(kv && kv->len == SZ && kv->val[100] == 'a' + 23 % 26);
    vk_kv_unref(kv);
    free(val);
    close_env(&e);
}

TEST(close_finishes_queued_writes)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    order_t o = {0};
    char key[64];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "/core/cm/ns/q%03d", i);
        CHECK_EQ_INT(vk_store_create(e.s, key, "v", 1, order_cb, &o), 0);
    }
    int done = 0;
    vk_store_t *s = e.s;
    vk_store_close(s, set_flag, &done);
    CHECK_EQ_INT(vk_store_create(s, "/core/cm/ns/late", "v", 1, order_cb, &o), VK_ECLOSED);
    run_until(&e.loop, &done);
    CHECK(done);
    CHECK_EQ_INT(o.n, 200);
    CHECK_EQ_INT(o.bad, 0);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    uv_loop_init(&e.loop);
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_revision(e.s), 200);
    close_env(&e);
}

TEST(garbage_file_is_corrupt)
{
    env_t e;
    memset(&e, 0, sizeof e);
    env_dir(&e);
    uv_loop_init(&e.loop);
    FILE *f = fopen(e.path, "wb");
    for (int i = 0; i < 8192; i++) fputc((i * 7919 + 13) & 0xff, f);
    fclose(f);
    CHECK_EQ_INT(env_open(&e, NULL), VK_ECORRUPT);
    /* an SQLite database that is not ours */
    unlink(e.path);
    sqlite3 *db;
    sqlite3_open(e.path, &db);
    sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ_INT(env_open(&e, NULL), VK_ECORRUPT);
    /* a vkube database with a damaged page: reads report it, nothing crashes */
    unlink(e.path);
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    fill(&e, "/core/cm/ns/%04d-padding-padding-padding-padding-padding", 400);
    CHECK(env_close_store(&e));
    f = fopen(e.path, "r+b");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    CHECK(size > 4096 * 4);
    fseek(f, 4096, SEEK_SET); /* keep page 1 (header, schema), garble the rest */
    for (long i = 4096; i < size; i++) fputc(0xA5, f);
    fclose(f);
    int rc = env_open(&e, NULL);
    if (rc == 0) {
        vk_store_list_t l;
        rc = vk_store_list(e.s, "/core/", NULL, 0, 0, &l);
        vk_store_list_free(&l);
        CHECK(env_close_store(&e));
    }
    CHECK_EQ_INT(rc, VK_ECORRUPT);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

TEST(newer_schema_is_refused)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK(env_close_store(&e));
    sqlite3 *db;
    sqlite3_open(e.path, &db);
    sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_EQ_INT(env_open(&e, NULL), VK_ESCHEMA);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

TEST(read_only_file_is_refused)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    fill(&e, "/core/cm/ns/%d", 3);
    CHECK(env_close_store(&e));
    chmod(e.path, 0444);
    chmod(e.dir, 0755);
    /* root ignores file modes, so try as an unprivileged user in a child */
    pid_t pid = fork();
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        uv_loop_t loop;
        uv_loop_init(&loop);
        vk_store_t *s = NULL;
        int rc = vk_store_open(&loop, e.path, NULL, &s);
        _exit(rc == VK_EREADONLY ? 0 : rc == 0 ? 1 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ_INT(WEXITSTATUS(status), 0);
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
}

static int64_t disk_revision(const char *path)
{
    sqlite3 *db;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT max(coalesce((SELECT max(rev) FROM log), 0),"
                                   " (SELECT v FROM meta WHERE k='revision'))", -1, &st, NULL) ==
            SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
    return v;
}

TEST(reads_never_run_ahead_of_acknowledged_writes)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/a", "v1", NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/core/cm/ns/c", "c1", NULL), 0);
    wres_t w1 = {0}, w2 = {0}, w3 = {0};
    CHECK_EQ_INT(vk_store_update(e.s, "/core/cm/ns/a", "v2", 2, 0, wres_cb, &w1), 0);
    CHECK_EQ_INT(vk_store_create(e.s, "/core/cm/ns/b", "b1", 2, wres_cb, &w2), 0);
    CHECK_EQ_INT(vk_store_delete(e.s, "/core/cm/ns/c", 0, wres_cb, &w3), 0);
    /* the loop does not run: the writer commits, but the loop is not told */
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    while (disk_revision(e.path) != 5 && uv_hrtime() < deadline) usleep(1000);
    CHECK_EQ_INT(disk_revision(e.path), 5);
    CHECK_EQ_INT(vk_store_revision(e.s), 2);
    char buf[64];
    CHECK_EQ_STR(get_str(&e, "/core/cm/ns/a", buf, sizeof buf), "v1");
    CHECK_EQ_STR(get_str(&e, "/core/cm/ns/b", buf, sizeof buf), "");
    CHECK_EQ_STR(get_str(&e, "/core/cm/ns/c", buf, sizeof buf), "c1");
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, "/core/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.rev, 2);
    CHECK_EQ_INT(l.count, 2);
    if (l.count == 2) {
        CHECK_EQ_STR((char *)l.items[0]->val, "v1");
        CHECK_EQ_STR(l.items[1]->key, "/core/cm/ns/c");
    }
    vk_store_list_free(&l);
    run_until(&e.loop, &w3.done);
    CHECK_EQ_INT(w1.status + w2.status + w3.status, 0);
    wres_clear(&w1);
    wres_clear(&w2);
    wres_clear(&w3);
    CHECK_EQ_INT(vk_store_revision(e.s), 5);
    CHECK_EQ_STR(get_str(&e, "/core/cm/ns/a", buf, sizeof buf), "v2");
    CHECK_EQ_STR(get_str(&e, "/core/cm/ns/b", buf, sizeof buf), "b1");
    CHECK_EQ_INT(vk_store_list(e.s, "/core/", NULL, 0, 0, &l), 0);
    CHECK_EQ_INT(l.count, 2);
    vk_store_list_free(&l);
    close_env(&e);
}

/* The value a key has, as a string ("<absent>" when not found). */
static char *value_of(vk_store_t *s, const char *key)
{
    vk_kv_t *kv = NULL;
    int rc = vk_store_get(s, key, &kv);
    if (rc) return strdup(rc == VK_ENOTFOUND ? "<absent>" : "<error>");
    char *v = strdup((char *)kv->val);
    vk_kv_unref(kv);
    return v;
}

/* A write's callback that reads the store (read(s, what)) from inside it. */
typedef struct seen {
    vk_store_t *s;
    const char *what;
    char *(*read)(vk_store_t *s, const char *what);
    char *value; /* what read said inside the write's callback */
    int done;
} seen_t;

static void seen_cb(void *arg, int status, const vk_kv_t *kv)
{
    seen_t *w = arg;
    w->value = w->read(w->s, w->what);
    w->done = 1;
}

TEST(cached_prefix_reads_see_every_committed_write)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_cache_prefix(e.s, ""), VK_EINVALID);
    CHECK_EQ_INT(vk_store_cache_prefix(e.s, "/core/namespaces/"), 0);
    const char *k = "/core/namespaces/a";
    char *v;
    /* absent, and remembered as absent */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_STR(v = value_of(e.s, k), "<absent>");
        free(v);
    }
    vk_store_stats_t st;
    vk_store_get_stats(e.s, &st);
    CHECK_EQ_INT(st.cache_misses, 1);
    CHECK_EQ_INT(st.cache_hits, 2);
    /* each committed write is visible to a read made from its own callback,
     * and to every later read */
    const char *vals[] = {"v1", "v2", "v3"};
    for (int i = 0; i < 3; i++) {
        seen_t w = {.s = e.s, .what = k, .read = value_of};
        int rc = i == 0 ? vk_store_create(e.s, k, vals[i], 2, seen_cb, &w)
                        : vk_store_update(e.s, k, vals[i], 2, 0, seen_cb, &w);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(v = value_of(e.s, k), i == 0 ? "<absent>" : vals[i - 1]); /* not committed yet */
        free(v);
        run_until(&e.loop, &w.done);
        CHECK_EQ_STR(w.value, vals[i]);
        free(w.value);
        CHECK_EQ_STR(v = value_of(e.s, k), vals[i]);
        free(v);
    }
    /* a failed write changes nothing */
    CHECK_EQ_INT(put_new(&e, k, "dup", NULL), VK_EEXIST);
    CHECK_EQ_STR(v = value_of(e.s, k), "v3");
    free(v);
    seen_t w = {.s = e.s, .what = k, .read = value_of};
    CHECK_EQ_INT(vk_store_delete(e.s, k, 0, seen_cb, &w), 0);
    run_until(&e.loop, &w.done);
    CHECK_EQ_STR(w.value, "<absent>");
    free(w.value);
    /* keys outside the prefix are read from SQLite every time */
    vk_store_get_stats(e.s, &st);
    uint64_t before = st.cache_hits + st.cache_misses;
    CHECK_EQ_INT(put_new(&e, "/core/pods/a/p", "pod", NULL), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_STR(v = value_of(e.s, "/core/pods/a/p"), "pod");
        free(v);
    }
    vk_store_get_stats(e.s, &st);
    CHECK_EQ_INT(st.cache_hits + st.cache_misses, before);
    /* many keys: the cache empties itself when full and stays exact */
    for (int i = 0; i < 9000; i++) {
        char key[64];
        snprintf(key, sizeof key, "/core/namespaces/n%d", i);
        vk_kv_t *kv = NULL;
        CHECK_EQ_INT(vk_store_get(e.s, key, &kv), VK_ENOTFOUND);
    }
    CHECK_EQ_INT(put_new(&e, "/core/namespaces/n1", "x", NULL), 0);
    CHECK_EQ_STR(v = value_of(e.s, "/core/namespaces/n1"), "x");
    free(v);
    close_env(&e);
}

/* The keys and values of a whole list, "k=v,k=v". */
static char *list_of(vk_store_t *s, const char *prefix)
{
    vk_store_list_t l;
    if (vk_store_list(s, prefix, NULL, 0, 0, &l)) return strdup("<error>");
    char *out = strdup("");
    for (size_t i = 0; i < l.count; i++) {
        char *n = NULL;
        if (asprintf(&n, "%s%s%s=%s", out, i ? "," : "", l.items[i]->key + strlen(prefix),
                     (char *)l.items[i]->val) < 0)
            abort();
        free(out);
        out = n;
    }
    vk_store_list_free(&l);
    return out;
}

TEST(cached_lists_see_every_committed_write)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK_EQ_INT(vk_store_cache_prefix(e.s, "/core/resourcequotas/"), 0);
    const char *p = "/core/resourcequotas/ns/", *all = "/core/resourcequotas/";
    char *v;
    CHECK_EQ_STR(v = list_of(e.s, p), "");
    free(v);
    CHECK_EQ_STR(v = list_of(e.s, all), "");
    free(v);
    struct { int op; const char *key, *val, *want, *want_all; } steps[] = {
        {0, "/core/resourcequotas/ns/q1", "a", "q1=a", "ns/q1=a"},
        {0, "/core/resourcequotas/other/q", "b", "q1=a", "ns/q1=a,other/q=b"},
        {0, "/core/resourcequotas/ns/q2", "c", "q1=a,q2=c", "ns/q1=a,ns/q2=c,other/q=b"},
        {1, "/core/resourcequotas/ns/q1", "d", "q1=d,q2=c", "ns/q1=d,ns/q2=c,other/q=b"},
        {2, "/core/resourcequotas/ns/q2", NULL, "q1=d", "ns/q1=d,other/q=b"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        /* both lists are cached before each write */
        free(list_of(e.s, p));
        free(list_of(e.s, all));
        seen_t w = {.s = e.s, .what = p, .read = list_of};
        int rc = steps[i].op == 0 ? vk_store_create(e.s, steps[i].key, steps[i].val, 1, seen_cb, &w)
                 : steps[i].op == 1 ? vk_store_update(e.s, steps[i].key, steps[i].val, 1, 0, seen_cb, &w)
                                    : vk_store_delete(e.s, steps[i].key, 0, seen_cb, &w);
        CHECK_EQ_INT(rc, 0);
        run_until(&e.loop, &w.done);
        CHECK_EQ_STR(w.value, steps[i].want);
        free(w.value);
        CHECK_EQ_STR(v = list_of(e.s, p), steps[i].want);
        free(v);
        CHECK_EQ_STR(v = list_of(e.s, all), steps[i].want_all);
        free(v);
    }
    vk_store_stats_t st;
    vk_store_get_stats(e.s, &st);
    CHECK(st.cache_hits >= 10);
    /* pages and past revisions are never served from the cache */
    vk_store_list_t l;
    CHECK_EQ_INT(vk_store_list(e.s, all, NULL, 1, 0, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    CHECK_EQ_INT(l.more, 1);
    vk_store_list_free(&l);
    CHECK_EQ_INT(vk_store_list(e.s, p, NULL, 0, 1, &l), 0);
    CHECK_EQ_INT(l.count, 1);
    if (l.count) CHECK_EQ_STR((char *)l.items[0]->val, "a");
    vk_store_list_free(&l);
    close_env(&e);
}

int main(void)
{
    alarm(120);
    RUN(create_get_update_delete_with_cas);
    RUN(bad_arguments_are_refused_without_callback);
    RUN(concurrent_writes_group_commit_in_revision_order);
    RUN(list_pages_stay_at_one_revision_while_writes_go_on);
    RUN(list_at_past_revision_shows_that_state);
    RUN(compaction_keeps_what_allowed_past_lists_need);
    RUN(automatic_compaction_keeps_the_window);
    RUN(reads_never_run_ahead_of_acknowledged_writes);
    RUN(restart_keeps_revision_and_data);
    RUN(revision_survives_compaction_of_the_last_log_rows);
    RUN(large_lists_then_reads_and_writes);
    RUN(close_finishes_queued_writes);
    RUN(garbage_file_is_corrupt);
    RUN(newer_schema_is_refused);
    RUN(read_only_file_is_refused);
    RUN(cached_prefix_reads_see_every_committed_write);
    RUN(cached_lists_see_every_committed_write);
    TEST_EXIT();
}
