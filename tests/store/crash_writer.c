/* crash_writer: helper for test_crash. Opens the store at argv[1] and writes
 * forever with 64 writes in flight (random creates, updates and deletes over
 * 200 keys), printing one line per acknowledged write to stdout, flushed:
 *   "<rev> <type> <key> <value>"
 * (type c/u/d). The value of a create or update is unique ("<pid>-<n>"); a
 * delete prints "-". test_crash kills it with SIGKILL at random moments. */
#include "common/err.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define INFLIGHT 64
#define KEYS 200

typedef struct slot {
    struct writer *w;
    int type;
    char key[48];
    char val[48];
} slot_t;

typedef struct writer {
    vk_store_t *s;
    unsigned seed;
    unsigned long n;
    slot_t slots[INFLIGHT];
} writer_t;

static void submit(slot_t *sl);

static void done_cb(void *arg, int status, const vk_kv_t *kv)
{
    slot_t *sl = arg;
    if (status == 0) {
        printf("%lld %c %s %s\n", (long long)kv->mod_rev, "?cud"[sl->type], sl->key,
               sl->type == 3 ? "-" : sl->val);
        fflush(stdout);
    } else if (status != VK_EEXIST && status != VK_ENOTFOUND) {
        fprintf(stderr, "crash_writer: write failed: %s\n", vk_err_name(status));
        exit(2);
    }
    submit(sl);
}

static void submit(slot_t *sl)
{
    writer_t *w = sl->w;
    int k = rand_r(&w->seed) % KEYS, t = rand_r(&w->seed) % 4;
    sl->type = t == 0 ? 1 : t == 3 ? 3 : 2;
    snprintf(sl->key, sizeof sl->key, "/core/configmaps/ns/k%03d", k);
    snprintf(sl->val, sizeof sl->val, "%d-%lu", (int)getpid(), w->n++);
    int rc;
    if (sl->type == 1)
        rc = vk_store_create(w->s, sl->key, sl->val, strlen(sl->val), done_cb, sl);
    else if (sl->type == 2)
        rc = vk_store_update(w->s, sl->key, sl->val, strlen(sl->val), 0, done_cb, sl);
    else
        rc = vk_store_delete(w->s, sl->key, 0, done_cb, sl);
    if (rc != 0) {
        fprintf(stderr, "crash_writer: queue: %s\n", vk_err_name(rc));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: crash_writer DB\n");
        return 2;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    writer_t *w = calloc(1, sizeof *w);
    w->seed = (unsigned)getpid();
    vk_store_options_t opt = {.compact_interval_ms = -1};
    int rc = vk_store_open(&loop, argv[1], &opt, &w->s);
    if (rc != 0) {
        fprintf(stderr, "crash_writer: open: %s\n", vk_err_name(rc));
        return 1;
    }
    printf("open %lld\n", (long long)vk_store_revision(w->s));
    fflush(stdout);
    for (int i = 0; i < INFLIGHT; i++) {
        w->slots[i].w = w;
        submit(&w->slots[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* until killed */
    return 0;
}
