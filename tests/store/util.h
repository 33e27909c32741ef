/* Shared helpers for the store tests: a temporary directory, a loop, blocking
 * wrappers around the asynchronous writes, and a way to run the loop until a
 * condition holds (with a deadline, so a bug fails a test instead of hanging). */
#ifndef VK_TEST_STORE_UTIL_H
#define VK_TEST_STORE_UTIL_H

#include "common/err.h"
#include "store/store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct env {
    uv_loop_t loop;
    vk_store_t *s;
    char dir[64];
    char path[128];
} env_t;

/* Runs the loop until *flag is non-zero or 20 s pass. Returns *flag. */
static inline int run_until(uv_loop_t *loop, const int *flag)
{
    uint64_t deadline = uv_hrtime() + 20ull * 1000000000ull;
    while (!*flag && uv_hrtime() < deadline) {
        if (uv_loop_alive(loop)) uv_run(loop, UV_RUN_ONCE); /* blocks until something happens */
        else usleep(200);
    }
    return *flag;
}

static inline void run_for_fired(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static inline void run_for_closed(uv_handle_t *h)
{
    (void)h;
}

/* Runs the loop for ms milliseconds (with a timer of its own, so that the
 * store's unreferenced timers run too). */
static inline void run_for(uv_loop_t *loop, int ms)
{
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(loop, &t);
    t.data = &fired;
    uv_timer_start(&t, run_for_fired, (uint64_t)ms, 0);
    while (!fired) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, run_for_closed);
    uv_run(loop, UV_RUN_NOWAIT);
}

static inline void env_dir(env_t *e)
{
    snprintf(e->dir, sizeof e->dir, "/tmp/vkstore.XXXXXX");
    if (!mkdtemp(e->dir)) abort();
    snprintf(e->path, sizeof e->path, "%s/db", e->dir);
}

static inline int env_open(env_t *e, const vk_store_options_t *opt)
{
    return vk_store_open(&e->loop, e->path, opt, &e->s);
}

static inline int env_init(env_t *e, const vk_store_options_t *opt)
{
    memset(e, 0, sizeof *e);
    env_dir(e);
    uv_loop_init(&e->loop);
    return env_open(e, opt);
}

static inline void set_flag(void *arg)
{
    *(int *)arg = 1;
}

/* Closes the store and waits for done_cb; returns 1 if it ran. */
static inline int env_close_store(env_t *e)
{
    int done = 0;
    vk_store_close(e->s, set_flag, &done);
    run_until(&e->loop, &done);
    e->s = NULL;
    return done;
}

static inline void env_rmdir(env_t *e)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", e->dir);
}

/* Result of one write. */
typedef struct wres {
    int done;
    int status;
    vk_kv_t *kv; /* ref taken in the callback, or NULL */
} wres_t;

static inline void wres_cb(void *arg, int status, const vk_kv_t *kv)
{
    wres_t *r = arg;
    r->done = 1;
    r->status = status;
    r->kv = kv ? vk_kv_ref((vk_kv_t *)kv) : NULL;
}

static inline void wres_clear(wres_t *r)
{
    vk_kv_unref(r->kv);
    memset(r, 0, sizeof *r);
}

/* Blocking writes: return the callback status (or the queueing error); *rev
 * (may be NULL) gets the kv's mod_rev when there is one. */
static inline int sync_done(env_t *e, int rc, wres_t *r, int64_t *rev)
{
    if (rc != 0) return rc;
    if (!run_until(&e->loop, &r->done)) return -99999;
    if (rev) *rev = r->kv ? r->kv->mod_rev : 0;
    int st = r->status;
    wres_clear(r);
    return st;
}

static inline int put_new(env_t *e, const char *key, const char *val, int64_t *rev)
{
    wres_t r = {0};
    return sync_done(e, vk_store_create(e->s, key, val, strlen(val), wres_cb, &r), &r, rev);
}

static inline int put(env_t *e, const char *key, const char *val, int64_t expect, int64_t *rev)
{
    wres_t r = {0};
    return sync_done(e, vk_store_update(e->s, key, val, strlen(val), expect, wres_cb, &r), &r,
                     rev);
}

static inline int del(env_t *e, const char *key, int64_t expect, int64_t *rev)
{
    wres_t r = {0};
    return sync_done(e, vk_store_delete(e->s, key, expect, wres_cb, &r), &r, rev);
}

/* Current value as a string ("" if absent), into buf. */
static inline const char *get_str(env_t *e, const char *key, char *buf, size_t n)
{
    vk_kv_t *kv = NULL;
    buf[0] = 0;
    if (vk_store_get(e->s, key, &kv) == 0) {
        snprintf(buf, n, "%s", (const char *)kv->val);
        vk_kv_unref(kv);
    }
    return buf;
}

#endif
