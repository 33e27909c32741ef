/* Crash test for store/: runs crash_writer (64 writes in flight), SIGKILLs it
 * at a random moment, and then checks, after every one of ROUNDS rounds on the
 * same database, that
 *   - every acknowledged write is there at its revision with its value
 *     (through a list at that past revision),
 *   - acknowledged revisions strictly increase, also across restarts,
 *   - the files are consistent: integrity_check, contiguous log, current
 *     state equal to the newest log row of each key, meta revision = newest log
 *     revision (no torn transaction),
 *   - the reopened store goes on at the next revision. */
#include "tests/store/util.h"
#include "tests/test.h"

#include <libgen.h>
#include <stdbool.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#define ROUNDS 20

typedef struct ack {
    int64_t rev;
    char type;
    char key[48];
    char val[48];
} ack_t;

typedef struct acks {
    ack_t *a;
    size_t n, cap;
    int64_t max_rev;
    int order_bad;
} acks_t;

static char writer_path[512];

static void parse_line(acks_t *acks, const char *line, int64_t *opened)
{
    long long rev;
    ack_t a;
    memset(&a, 0, sizeof a);
    if (sscanf(line, "open %lld", &rev) == 1) {
        *opened = rev;
        return;
    }
    if (sscanf(line, "%lld %c %47s %47s", &rev, &a.type, a.key, a.val) != 4) return;
    a.rev = rev;
    if (a.rev <= acks->max_rev) acks->order_bad++;
    acks->max_rev = a.rev;
    if (acks->n == acks->cap)
        acks->a = realloc(acks->a, (acks->cap = acks->cap ? acks->cap * 2 : 1024) * sizeof *acks->a);
    acks->a[acks->n++] = a;
}

/* Runs one crash_writer for kill_ms after it has opened the store, then
 * SIGKILLs it. Returns the number of acks it printed, -1 on failure. */
static long one_round(const char *db, int kill_ms, acks_t *acks, int64_t *opened)
{
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(writer_path, writer_path, db, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t before = acks->n;
    char buf[1 << 16];
    size_t have = 0;
    uint64_t kill_at = 0, start = uv_hrtime();
    bool killed = false;
    for (;;) {
        uint64_t now = uv_hrtime();
        if (!killed && kill_at && now >= kill_at) {
            kill(pid, SIGKILL);
            killed = true;
        }
        if (!killed && now - start > 30000000000ull) { /* never opened */
            kill(pid, SIGKILL);
            killed = true;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int wait = killed ? 1000 : 5;
        if (poll(&p, 1, wait) <= 0) continue;
        ssize_t n = read(fds[0], buf + have, sizeof buf - have - 1);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = 0;
            int64_t was = *opened;
            parse_line(acks, line, opened);
            if (*opened != was && !kill_at)
                kill_at = uv_hrtime() + (uint64_t)kill_ms * 1000000ull;
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
        fprintf(stderr, "crash_writer ended on its own (status %d)\n", status);
        return -1;
    }
    return (long)(acks->n - before);
}

static int64_t q1(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return -2;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Consistency of the files, read with plain SQLite. */
static void check_files(const char *path, int64_t rev)
{
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    /* meta.revision is only brought up to date by compaction */
    CHECK(q1(db, "SELECT v FROM meta WHERE k='revision'") <= rev);
    CHECK_EQ_INT(q1(db, "SELECT max(rev) FROM log"), rev);
    CHECK_EQ_INT(q1(db, "SELECT count(*) FROM log"), rev); /* 1..rev, no gaps */
    int64_t nkv = q1(db, "SELECT count(*) FROM kv");
    CHECK_EQ_INT(q1(db, "SELECT count(*) FROM kv k JOIN log l ON l.rev = k.mod_rev"
                        " AND l.key = k.key AND l.val = k.val AND l.type != 3"),
                 nkv);
    CHECK_EQ_INT(q1(db, "SELECT count(*) FROM (SELECT key, max(rev), type FROM log"
                        " GROUP BY key) WHERE type != 3"),
                 nkv);
    sqlite3_close(db);
}

TEST(sigkill_at_random_moments_loses_no_acknowledged_write)
{
    env_t e;
    memset(&e, 0, sizeof e);
    env_dir(&e);
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "test_crash: seed %u\n", seed);
    acks_t acks = {0};
    long total = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int kill_ms = 10 + (int)(rand_r(&seed) % 300);
        int64_t opened = -1, max_before = acks.max_rev;
        long n = one_round(e.path, kill_ms, &acks, &opened);
        CHECK(n >= 0);
        if (n < 0) break;
        total += n;
        /* the child saw at least every revision acknowledged before */
        CHECK(opened >= max_before);
        uv_loop_init(&e.loop);
        CHECK_EQ_INT(env_open(&e, NULL), 0);
        if (!e.s) break;
        int64_t rev = vk_store_revision(e.s);
        CHECK(rev >= acks.max_rev);
        int missing = 0;
        for (size_t i = 0; i < acks.n; i++) {
            ack_t *a = &acks.a[i];
            vk_store_list_t l;
            if (vk_store_list(e.s, a->key, NULL, 1, a->rev, &l) != 0) {
                missing++;
                continue;
            }
            if (a->type == 'd') {
                if (l.count != 0) missing++;
            } else if (l.count != 1 || l.items[0]->mod_rev != a->rev ||
                       strcmp((char *)l.items[0]->val, a->val) != 0) {
                missing++;
            }
            vk_store_list_free(&l);
        }
        CHECK_EQ_INT(missing, 0);
        CHECK(env_close_store(&e));
        CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
        check_files(e.path, rev);
        if (vk_test_failed_) break;
    }
    CHECK_EQ_INT(acks.order_bad, 0);
    CHECK(total > ROUNDS); /* the writer really did write */
    fprintf(stderr, "test_crash: %d rounds, %ld acknowledged writes, last revision %lld\n",
            ROUNDS, total, (long long)acks.max_rev);
    /* finally the store goes on at the next revision */
    uv_loop_init(&e.loop);
    CHECK_EQ_INT(env_open(&e, NULL), 0);
    if (e.s) {
        int64_t rev = vk_store_revision(e.s), r = 0;
        CHECK_EQ_INT(put_new(&e, "/core/after/crash", "x", &r), 0);
        CHECK_EQ_INT(r, rev + 1);
        CHECK(env_close_store(&e));
    }
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    free(acks.a);
    env_rmdir(&e);
}

int main(int argc, char **argv)
{
    alarm(300);
    char self[512];
    snprintf(self, sizeof self, "%s", argv[0]);
    snprintf(writer_path, sizeof writer_path, "%s/crash_writer", dirname(self));
    if (access(writer_path, X_OK) != 0) {
        printf("not ok %s:setup - %s not found\n", __FILE__, writer_path);
        return 1;
    }
    RUN(sigkill_at_random_moments_loses_no_acknowledged_write);
    TEST_EXIT();
}
