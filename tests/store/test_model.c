/* Model-based test for store/: random creates, updates and deletes (with
 * right, absent and wrong CAS revisions) over a few keys, many in flight at
 * once, checked against an in-memory model that keeps the state at every
 * revision: every callback's status and kv, gets, paged lists at random past
 * revisions, watchers started from random revisions (small ring, so they read
 * the log), random compactions, and a final restart. */
#include "tests/store/util.h"
#include "tests/test.h"

#define NK 24
#define ROUNDS 40
#define OPS 60
#define MAXREV (ROUNDS * OPS + 8)

typedef struct mkey {
    int live;
    char val[24];
    int64_t create, mod;
} mkey_t;

typedef struct model {
    mkey_t snap[MAXREV][NK]; /* state after each revision */
    int evtype[MAXREV], evkey[MAXREV];
    int64_t rev;
    int bad_cb, bad_list, bad_get, bad_watch;
} model_t;

typedef struct mop {
    model_t *m;
    int want_status;
    int64_t want_rev; /* mod_rev of the kv the callback must get (0: no kv) */
    int done;
} mop_t;

static void key_of(int k, char *buf, size_t n)
{
    snprintf(buf, n, "/m/ns/k%02d", k);
}

static void mop_cb(void *arg, int status, const vk_kv_t *kv)
{
    mop_t *o = arg;
    o->done = 1;
    if (status != o->want_status || (kv ? kv->mod_rev : 0) != o->want_rev) o->m->bad_cb++;
}

/* Applies one op to the model, returns the expected status; *kv_rev gets the
 * mod_rev the callback's kv must carry. */
static int model_apply(model_t *m, int type, int k, int64_t expect, const char *val,
                       int64_t *kv_rev)
{
    mkey_t *cur = &m->snap[m->rev][k];
    *kv_rev = 0;
    if (type == 0 && cur->live) {
        *kv_rev = cur->mod;
        return VK_EEXIST;
    }
    if (type != 0 && !cur->live) return VK_ENOTFOUND;
    if (type != 0 && expect && expect != cur->mod) {
        *kv_rev = cur->mod;
        return VK_ECONFLICT;
    }
    int64_t r = m->rev + 1;
    memcpy(m->snap[r], m->snap[m->rev], sizeof m->snap[r]);
    mkey_t *n = &m->snap[r][k];
    if (type == 0) {
        n->live = 1;
        n->create = r;
    } else if (type == 2) {
        n->live = 0;
    }
    if (type != 2) snprintf(n->val, sizeof n->val, "%s", val);
    n->mod = r;
    m->evtype[r] = type == 0 ? VK_EVENT_ADDED : type == 1 ? VK_EVENT_MODIFIED : VK_EVENT_DELETED;
    m->evkey[r] = k;
    m->rev = r;
    *kv_rev = r;
    return 0;
}

typedef struct mwatch {
    model_t *m;
    int64_t next; /* revision expected next */
    int ended;
} mwatch_t;

static int mw_cb(void *arg, const vk_event_t *ev)
{
    mwatch_t *w = arg;
    model_t *m = w->m;
    /* next matching revision (all keys match "/m/") */
    int64_t r = w->next;
    char key[32];
    if (r > m->rev || ev->rev != r) {
        m->bad_watch++;
        w->next = ev->rev + 1;
        return 0;
    }
    key_of(m->evkey[r], key, sizeof key);
    const mkey_t *after = &m->snap[r][m->evkey[r]], *before = &m->snap[r - 1][m->evkey[r]];
    if (ev->type != m->evtype[r] || strcmp(ev->kv->key, key) != 0 || ev->kv->mod_rev != r)
        m->bad_watch++;
    else if (ev->type != VK_EVENT_DELETED && strcmp((char *)ev->kv->val, after->val) != 0)
        m->bad_watch++;
    else if (ev->type == VK_EVENT_DELETED && strcmp((char *)ev->kv->val, before->val) != 0)
        m->bad_watch++;
    else if (ev->type == VK_EVENT_ADDED ? ev->prev != NULL
                                        : !ev->prev || ev->prev->mod_rev != before->mod ||
                                              strcmp((char *)ev->prev->val, before->val) != 0)
        m->bad_watch++;
    w->next = r + 1;
    return 0;
}

static void mw_end(void *arg, int reason)
{
    ((mwatch_t *)arg)->ended = reason;
}

static void check_list(env_t *e, model_t *m, int64_t at, size_t page)
{
    vk_store_list_t l;
    char last[32] = "";
    int k = 0; /* next live key expected */
    for (;;) {
        int rc = vk_store_list(e->s, "/m/", last[0] ? last : NULL, page, at, &l);
        if (rc != 0) {
            m->bad_list++;
            return;
        }
        for (size_t i = 0; i < l.count; i++) {
            while (k < NK && !m->snap[at][k].live) k++;
            char key[32];
            key_of(k, key, sizeof key);
            if (k == NK || strcmp(l.items[i]->key, key) != 0 ||
                l.items[i]->mod_rev != m->snap[at][k].mod ||
                l.items[i]->create_rev != m->snap[at][k].create ||
                strcmp((char *)l.items[i]->val, m->snap[at][k].val) != 0)
                m->bad_list++;
            k++;
        }
        int more = l.more;
        if (more && l.count) snprintf(last, sizeof last, "%s", l.items[l.count - 1]->key);
        vk_store_list_free(&l);
        if (!more) break;
    }
    while (k < NK && !m->snap[at][k].live) k++;
    if (k != NK) m->bad_list++;
}

TEST(random_operations_match_the_model)
{
    model_t *m = calloc(1, sizeof *m);
    env_t e;
    vk_store_options_t opt = {.ring_events = 16, .batch_max = 8, .compact_interval_ms = -1};
    CHECK_EQ_INT(env_init(&e, &opt), 0);
    unsigned seed = 12345;
    mop_t ops[OPS];
    for (int round = 0; round < ROUNDS; round++) {
        /* a watcher from a random revision that may still be watched */
        int64_t lo = vk_store_compacted(e.s);
        int64_t from = lo + (int64_t)(rand_r(&seed) % (unsigned)(m->rev - lo + 1));
        mwatch_t mw = {m, from + 1, 0};
        vk_store_watch_t *w = NULL;
        if (from == 0) mw.next = m->rev + 1; /* 0 means "from now" */
        CHECK_EQ_INT(vk_store_watch(e.s, "/m/", from, mw_cb, mw_end, &mw, &w), 0);
        memset(ops, 0, sizeof ops);
        for (int i = 0; i < OPS; i++) {
            int k = (int)(rand_r(&seed) % NK), type = (int)(rand_r(&seed) % 3);
            const mkey_t *cur = &m->snap[m->rev][k];
            int64_t expect = 0;
            int c = (int)(rand_r(&seed) % 10);
            if (c < 4) expect = cur->mod;                 /* right (or 0 if absent) */
            else if (c < 6) expect = cur->mod + 1000;     /* wrong */
            char key[32], val[24];
            key_of(k, key, sizeof key);
            snprintf(val, sizeof val, "v%d-%d", round, i);
            ops[i].m = m;
            ops[i].want_status = model_apply(m, type, k, expect, val, &ops[i].want_rev);
            int rc = type == 0   ? vk_store_create(e.s, key, val, strlen(val), mop_cb, &ops[i])
                     : type == 1 ? vk_store_update(e.s, key, val, strlen(val), expect, mop_cb,
                                                   &ops[i])
                                 : vk_store_delete(e.s, key, expect, mop_cb, &ops[i]);
            CHECK_EQ_INT(rc, 0);
            if (rand_r(&seed) % 8 == 0) uv_run(&e.loop, UV_RUN_NOWAIT); /* vary batches */
        }
        for (int i = 0; i < OPS; i++) run_until(&e.loop, &ops[i].done);
        run_for(&e.loop, 2); /* idle: catch-up chunks */
        uint64_t deadline = uv_hrtime() + 10000000000ull;
        while (mw.next <= m->rev && !mw.ended && uv_hrtime() < deadline)
            uv_run(&e.loop, UV_RUN_NOWAIT);
        CHECK_EQ_INT(mw.ended, 0);
        CHECK_EQ_INT(mw.next, m->rev + 1);
        vk_store_watch_cancel(w);
        CHECK_EQ_INT(vk_store_revision(e.s), m->rev);
        for (int k = 0; k < NK; k++) {
            char key[32];
            key_of(k, key, sizeof key);
            vk_kv_t *kv = NULL;
            int rc = vk_store_get(e.s, key, &kv);
            const mkey_t *mk = &m->snap[m->rev][k];
            if (mk->live ? rc != 0 || kv->mod_rev != mk->mod || strcmp((char *)kv->val, mk->val)
                         : rc != VK_ENOTFOUND)
                m->bad_get++;
            vk_kv_unref(kv);
        }
        for (int j = 0; j < 3; j++) {
            int64_t c = vk_store_compacted(e.s);
            int64_t at = c + 1 + (int64_t)(rand_r(&seed) % (unsigned)(m->rev - c));
            if (at > m->rev) at = m->rev;
            if (at > c) check_list(&e, m, at, 1 + rand_r(&seed) % 7);
        }
        check_list(&e, m, m->rev, 0);
        if (round % 5 == 4 && m->rev > 40) CHECK_EQ_INT(vk_store_compact(e.s, m->rev - 30), 0);
        if (round == ROUNDS / 2) { /* restart half-way */
            CHECK(env_close_store(&e));
            CHECK_EQ_INT(env_open(&e, &opt), 0);
        }
    }
    CHECK_EQ_INT(m->bad_cb, 0);
    CHECK_EQ_INT(m->bad_get, 0);
    CHECK_EQ_INT(m->bad_list, 0);
    CHECK_EQ_INT(m->bad_watch, 0);
    CHECK(m->rev > ROUNDS * OPS / 4); /* a good share of the ops succeeded */
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(env_open(&e, &opt), 0);
    check_list(&e, m, m->rev, 5);
    CHECK_EQ_INT(m->bad_list, 0);
    CHECK(env_close_store(&e));
    CHECK_EQ_INT(uv_loop_close(&e.loop), 0);
    env_rmdir(&e);
    free(m);
}

int main(void)
{
    alarm(120);
    RUN(random_operations_match_the_model);
    TEST_EXIT();
}
