/* Unit tests for store/ watches: from now, from an old revision (log catch-up
 * in several chunks), from a compacted revision, prefix filtering, pause and
 * resume, falling off the ring, VK_ESLOW, cancel from a callback, close. */
#include "tests/store/util.h"
#include "tests/test.h"

typedef struct rec {
    int type;
    int64_t rev;
    char key[64];
    char val[64];
    int64_t prev_rev; /* 0: no prev */
    char prev_val[64];
} rec_t;

typedef struct coll {
    rec_t *ev;
    int n, cap;
    int pause_every;  /* return VK_EAGAIN after every Nth event (0: never) */
    int cancel_at;    /* cancel the watch from the callback at this count (0: never) */
    int ended, reason;
    int order_bad;    /* events out of revision order */
    int64_t last;
    vk_store_watch_t *w;
} coll_t;

static int coll_cb(void *arg, const vk_event_t *ev)
{
    coll_t *c = arg;
    if (c->n == c->cap) c->ev = realloc(c->ev, (size_t)(c->cap = c->cap ? c->cap * 2 : 64) * sizeof *c->ev);
    rec_t *r = &c->ev[c->n++];
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    r->rev = ev->rev;
    if (ev->rev <= c->last || ev->kv->mod_rev != ev->rev) c->order_bad++;
    c->last = ev->rev;
    snprintf(r->key, sizeof r->key, "%s", ev->kv->key);
    snprintf(r->val, sizeof r->val, "%s", (char *)ev->kv->val);
    if (ev->prev) {
        r->prev_rev = ev->prev->mod_rev;
        snprintf(r->prev_val, sizeof r->prev_val, "%s", (char *)ev->prev->val);
    }
    if (c->cancel_at && c->n == c->cancel_at) {
        vk_store_watch_cancel(c->w);
        return 0;
    }
    if (c->pause_every && c->n % c->pause_every == 0) return VK_EAGAIN;
    return 0;
}

static void coll_end(void *arg, int reason)
{
    coll_t *c = arg;
    c->ended++;
    c->reason = reason;
}

static int watch(env_t *e, const char *prefix, int64_t after, coll_t *c)
{
    return vk_store_watch(e->s, prefix, after, coll_cb, coll_end, c, &c->w);
}

static void close_env(env_t *e)
{
    CHECK(env_close_store(e));
    CHECK_EQ_INT(uv_loop_close(&e->loop), 0);
    env_rmdir(e);
}

static void wait_events(env_t *e, coll_t *c, int n)
{
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while (c->n < n && !c->ended && uv_hrtime() < deadline) {
        if (uv_loop_alive(&e->loop)) uv_run(&e->loop, UV_RUN_ONCE);
        else usleep(200);
    }
}

static void write_n(env_t *e, const char *fmt, int from, int to)
{
    for (int i = from; i < to; i++) {
        char key[64];
        snprintf(key, sizeof key, fmt, i);
        CHECK_EQ_INT(put_new(e, key, key, NULL), 0);
    }
}

/* Many writes in flight at once, so they share commits (and ring pushes). */
static void write_many(env_t *e, const char *fmt, int n)
{
    int done = 0;
    wres_t *r = calloc((size_t)n, sizeof *r);
    for (int i = 0; i < n; i++) {
        char key[64];
        snprintf(key, sizeof key, fmt, i);
        CHECK_EQ_INT(vk_store_create(e->s, key, key, strlen(key), wres_cb, &r[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        run_until(&e->loop, &r[i].done);
        if (r[i].status == 0) done++;
        wres_clear(&r[i]);
    }
    free(r);
    CHECK_EQ_INT(done, n);
}

TEST(watch_from_now_sees_every_event_type_with_prev)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    CHECK_EQ_INT(put_new(&e, "/core/pods/ns/before", "x", NULL), 0);
    coll_t c = {0}, other = {0};
    CHECK_EQ_INT(watch(&e, "/core/pods/ns/", 0, &c), 0);
    CHECK_EQ_INT(watch(&e, "/core/services/", 0, &other), 0);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 2);
    CHECK_EQ_INT(c.n, 0); /* never delivered from inside vk_store_watch */
    int64_t r1, r2, r3;
    CHECK_EQ_INT(put_new(&e, "/core/pods/ns/a", "v1", &r1), 0);
    CHECK_EQ_INT(put(&e, "/core/pods/ns/a", "v2", r1, &r2), 0);
    CHECK_EQ_INT(put_new(&e, "/core/pods/other/a", "no", NULL), 0);
    CHECK_EQ_INT(del(&e, "/core/pods/ns/a", r2, &r3), 0);
    wait_events(&e, &c, 3);
    CHECK_EQ_INT(c.n, 3);
    if (c.n == 3) {
        CHECK_EQ_INT(c.ev[0].type, VK_EVENT_ADDED);
        CHECK_EQ_INT(c.ev[0].rev, r1);
        CHECK_EQ_STR(c.ev[0].val, "v1");
        CHECK_EQ_INT(c.ev[0].prev_rev, 0);
        CHECK_EQ_INT(c.ev[1].type, VK_EVENT_MODIFIED);
        CHECK_EQ_STR(c.ev[1].val, "v2");
        CHECK_EQ_STR(c.ev[1].prev_val, "v1");
        CHECK_EQ_INT(c.ev[1].prev_rev, r1);
        CHECK_EQ_INT(c.ev[2].type, VK_EVENT_DELETED);
        CHECK_EQ_INT(c.ev[2].rev, r3);
        CHECK_EQ_STR(c.ev[2].val, "v2");
        CHECK_EQ_INT(c.ev[2].prev_rev, r2);
    }
    CHECK_EQ_INT(c.order_bad, 0);
    CHECK_EQ_INT(other.n, 0);
    /* progress moves on for events that do not match */
    CHECK_EQ_INT(vk_store_watch_progress(other.w), r3);
    vk_store_watch_cancel(other.w);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 1);
    close_env(&e);
    CHECK_EQ_INT(c.ended, 1);
    CHECK_EQ_INT(c.reason, VK_ECLOSED);
    CHECK_EQ_INT(other.ended, 0); /* cancelled: no end callback */
    free(c.ev);
    free(other.ev);
}

TEST(watch_from_old_revision_catches_up_from_the_log)
{
    env_t e;
    vk_store_options_t opt = {.ring_events = 8};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    write_many(&e, "/core/cm/a/k%05d", 3000); /* revs 1..3000 */
    write_many(&e, "/core/cm/b/k%05d", 500);  /* 3001..3500: not matched */
    CHECK_EQ_INT(put(&e, "/core/cm/a/k00007", "upd", 0, NULL), 0); /* 3501 */
    coll_t c = {0};
    CHECK_EQ_INT(watch(&e, "/core/cm/a/", 10, &c), 0);
    wait_events(&e, &c, 2991);
    CHECK_EQ_INT(c.n, 2991);
    CHECK_EQ_INT(c.order_bad, 0);
    if (c.n == 2991) {
        CHECK_EQ_INT(c.ev[0].rev, 11);
        CHECK_EQ_STR(c.ev[0].key, "/core/cm/a/k00010");
        CHECK_EQ_INT(c.ev[2989].rev, 3000);
        CHECK_EQ_INT(c.ev[2990].rev, 3501);
        CHECK_EQ_INT(c.ev[2990].type, VK_EVENT_MODIFIED);
        CHECK_EQ_STR(c.ev[2990].prev_val, "/core/cm/a/k00007");
        CHECK_EQ_INT(c.ev[2990].prev_rev, 8);
    }
    /* then it goes on live */
    CHECK_EQ_INT(put_new(&e, "/core/cm/a/live", "l", NULL), 0);
    wait_events(&e, &c, 2992);
    CHECK_EQ_INT(c.n, 2992);
    CHECK_EQ_INT(vk_store_watch_progress(c.w), 3502);
    vk_store_watch_cancel(c.w);
    close_env(&e);
    free(c.ev);
}

TEST(watch_at_compaction_point_works_below_it_expires)
{
    env_t e;
    vk_store_options_t opt = {.ring_events = 4, .compact_interval_ms = -1};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    write_n(&e, "/core/cm/ns/k%02d", 0, 20);
    for (int i = 0; i < 10; i++) {
        char key[64];
        snprintf(key, sizeof key, "/core/cm/ns/k%02d", i);
        CHECK_EQ_INT(put(&e, key, "u", 0, NULL), 0);
    } /* revs 21..30 */
    CHECK_EQ_INT(vk_store_compact(e.s, 25), 0);
    coll_t c = {0}, d = {0};
    vk_store_watch_t *w;
    CHECK_EQ_INT(vk_store_watch(e.s, "/", 24, coll_cb, coll_end, &c, &w), VK_EEXPIRED);
    CHECK_EQ_INT(watch(&e, "/core/", 25, &c), 0);
    wait_events(&e, &c, 5);
    CHECK_EQ_INT(c.n, 5);
    if (c.n == 5) {
        CHECK_EQ_INT(c.ev[0].rev, 26);
        CHECK_EQ_STR(c.ev[0].prev_val, "/core/cm/ns/k05"); /* prev survived compaction */
    }
    vk_store_watch_cancel(c.w);
    /* a watcher paused below a later compaction point ends with VK_EEXPIRED */
    d.pause_every = 1;
    CHECK_EQ_INT(watch(&e, "/core/", 26, &d), 0);
    wait_events(&e, &d, 1);
    CHECK_EQ_INT(d.n, 1);
    write_n(&e, "/core/cm/ns/x%02d", 0, 10); /* ring of 4: d falls off it */
    CHECK_EQ_INT(vk_store_compact(e.s, 35), 0);
    vk_store_watch_resume(d.w);
    run_for(&e.loop, 50);
    CHECK_EQ_INT(d.ended, 1);
    CHECK_EQ_INT(d.reason, VK_EEXPIRED);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 0);
    close_env(&e);
    free(c.ev);
    free(d.ev);
}

TEST(paused_watcher_resumes_from_log_then_slow_one_is_dropped)
{
    env_t e;
    vk_store_options_t opt = {.ring_events = 16, .watcher_lag_max = 100};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    coll_t slow = {0}, fast = {0};
    slow.pause_every = 1;
    CHECK_EQ_INT(watch(&e, "/core/", 0, &slow), 0);
    CHECK_EQ_INT(watch(&e, "/core/", 0, &fast), 0);
    write_n(&e, "/core/cm/ns/k%03d", 0, 1);
    wait_events(&e, &slow, 1);
    CHECK_EQ_INT(slow.n, 1); /* paused after its first event */
    write_many(&e, "/core/cm/ns/m%03d", 60); /* beyond the ring, within the lag */
    wait_events(&e, &fast, 61);
    CHECK_EQ_INT(fast.n, 61); /* a paused watcher does not hold others back */
    CHECK_EQ_INT(slow.n, 1);
    CHECK_EQ_INT(slow.ended, 0);
    slow.pause_every = 0;
    vk_store_watch_resume(slow.w);
    CHECK_EQ_INT(slow.n, 1); /* resume delivers from the loop, not inline */
    wait_events(&e, &slow, 61);
    CHECK_EQ_INT(slow.n, 61);
    CHECK_EQ_INT(slow.order_bad, 0);
    /* paused again: 150 revisions behind is more than watcher_lag_max */
    slow.pause_every = 1;
    write_n(&e, "/core/cm/ns/z%03d", 0, 1);
    wait_events(&e, &slow, 62);
    write_many(&e, "/core/cm/ns/y%03d", 150);
    run_for(&e.loop, 20);
    CHECK_EQ_INT(slow.ended, 1);
    CHECK_EQ_INT(slow.reason, VK_ESLOW);
    CHECK_EQ_INT(fast.n, 212);
    CHECK_EQ_INT(fast.ended, 0);
    CHECK_EQ_INT(fast.order_bad, 0);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 1);
    close_env(&e);
    CHECK_EQ_INT(fast.reason, VK_ECLOSED);
    free(slow.ev);
    free(fast.ev);
}

TEST(cancel_from_inside_a_callback)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    coll_t a = {0}, b = {0};
    a.cancel_at = 2;
    CHECK_EQ_INT(watch(&e, "/", 0, &a), 0);
    CHECK_EQ_INT(watch(&e, "/", 0, &b), 0);
    write_many(&e, "/core/cm/ns/k%03d", 10);
    wait_events(&e, &b, 10);
    CHECK_EQ_INT(a.n, 2);
    CHECK_EQ_INT(a.ended, 0);
    CHECK_EQ_INT(b.n, 10);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 1);
    close_env(&e);
    free(a.ev);
    free(b.ev);
}

typedef struct many {
    int events;
} many_t;

static int many_cb(void *arg, const vk_event_t *ev)
{
    ((many_t *)arg)->events++;
    return 0;
}

TEST(thousand_watchers_share_one_ring)
{
    env_t e;
    CHECK_EQ_INT(env_init(&e, NULL), 0);
    many_t m = {0};
    vk_store_watch_t *w;
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(vk_store_watch(e.s, "/core/pods/", 0, many_cb, NULL, &m, &w), 0);
    write_many(&e, "/core/pods/ns/p%02d", 20);
    uint64_t deadline = uv_hrtime() + 10000000000ull;
    while (m.events < 20000 && uv_hrtime() < deadline) uv_run(&e.loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(m.events, 20000);
    CHECK_EQ_INT(vk_store_watch_count(e.s), 1000);
    close_env(&e); /* ends all of them */
}

static int big_cb(void *arg, const vk_event_t *ev)
{
    coll_t *c = arg;
    char want[64];
    snprintf(want, sizeof want, "/core/cm/ns/big%03d", c->n);
    if (strcmp(ev->kv->key, want) != 0 || ev->kv->len != 100000 || ev->kv->val[99999] != 'a' + c->n % 26)
        c->order_bad++;
    c->n++;
    return c->pause_every && c->n % c->pause_every == 0 ? VK_EAGAIN : 0;
}

TEST(large_values_bound_the_ring_and_catch_up_chunks)
{
    env_t e;
    vk_store_options_t opt = {.ring_bytes_max = 350000};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    coll_t live = {0}, paused = {0};
    paused.pause_every = 1;
    vk_store_watch_t *wl, *wp;
    CHECK_EQ_INT(vk_store_watch(e.s, "/core/", 0, big_cb, coll_end, &live, &wl), 0);
    CHECK_EQ_INT(vk_store_watch(e.s, "/core/", 0, big_cb, coll_end, &paused, &wp), 0);
    char *val = malloc(100000);
    for (int i = 0; i < 100; i++) { /* 10 MB: more than the ring and a catch-up chunk hold */
        char key[64];
        snprintf(key, sizeof key, "/core/cm/ns/big%03d", i);
        memset(val, 'a' + i % 26, 100000);
        wres_t r = {0};
        CHECK_EQ_INT(vk_store_create(e.s, key, val, 100000, wres_cb, &r), 0);
        run_until(&e.loop, &r.done);
        CHECK_EQ_INT(r.status, 0);
        wres_clear(&r);
    }
    free(val);
    CHECK_EQ_INT(live.n, 100);
    CHECK_EQ_INT(paused.n, 1);
    paused.pause_every = 0;
    vk_store_watch_resume(wp);
    uint64_t deadline = uv_hrtime() + 20000000000ull;
    while (paused.n < 100 && uv_hrtime() < deadline) uv_run(&e.loop, UV_RUN_NOWAIT);
    CHECK_EQ_INT(paused.n, 100);
    CHECK_EQ_INT(paused.order_bad + live.order_bad, 0);
    close_env(&e);
}

int main(void)
{
    alarm(120);
    RUN(watch_from_now_sees_every_event_type_with_prev);
    RUN(watch_from_old_revision_catches_up_from_the_log);
    RUN(watch_at_compaction_point_works_below_it_expires);
    RUN(paused_watcher_resumes_from_log_then_slow_one_is_dropped);
    RUN(cancel_from_inside_a_callback);
    RUN(thousand_watchers_share_one_ring);
    RUN(large_values_bound_the_ring_and_catch_up_chunks);
    TEST_EXIT();
}
