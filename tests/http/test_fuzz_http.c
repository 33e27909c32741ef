/* Fuzz smoke test for the HTTP request path of proxy/http (llhttp parsing,
 * limits, token authentication, dispatch, response framing) without TLS, via
 * vk_http_feed_for_test. Feeds the corpus in tests/http/corpus/ (ok-* files must
 * be answered without a transport error, bad-* files must get a 4xx Status),
 * then seeded random mutations and random bytes; under ASan/UBSan any memory
 * error fails the run. Every output must be well-framed HTTP/1.1 responses. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "common/cert.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/http.h"

typedef struct input {
    char *name;
    char *data;
    size_t len;
} input_t;

static input_t corpus[64];
static size_t ncorpus;
static char tokens_path[256];

static void handler(void *ctx, vk_http_req_t *req)
{
    int *count = ctx;
    (*count)++;
    if (!strcmp(req->path, "/stream")) {
        vk_http_stream_begin(req, 200, "application/json", NULL, NULL);
        vk_http_stream_write(req, "{\"type\":\"ADDED\"}\n", 17);
        vk_http_stream_write(req, "", 0);
        vk_http_stream_end(req);
        return;
    }
    /* Exercise the accessors on whatever arrived. */
    const char *ls = vk_http_query(req, "labelSelector");
    const char *w = vk_http_query(req, "watch");
    const char *ct = vk_http_header(req, "content-type");
    char *body = vk_xasprintf("path=%s ls=%s watch=%s ct=%s user=%s auth=%d len=%zu", req->path,
                              ls ? ls : "-", w ? w : "-", ct ? ct : "-", req->user.name,
                              req->user.authenticated, req->body_len);
    vk_http_add_header(req, "X-Bad", "a\r\nInjected: yes"); /* must be dropped */
    vk_http_respond(req, 200, "text/plain", body, strlen(body));
    free(body);
}

/* Checks that out is a sequence of complete HTTP/1.1 responses; returns the
 * number of responses, or -1 if malformed. statuses[] gets the first few codes. */
static int check_framing(const char *out, size_t len, int *statuses, int max)
{
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 12 || memcmp(out + off, "HTTP/1.1 ", 9)) return -1;
        int status = atoi(out + off + 9);
        if (n < max) statuses[n] = status;
        n++;
        const char *end = memmem(out + off, len - off, "\r\n\r\n", 4);
        if (!end) return -1;
        size_t hlen = (size_t)(end - (out + off)) + 4;
        char *head = vk_xstrndup(out + off, hlen);
        if (strstr(head, "Injected:")) {
            free(head);
            return -1;
        }
        off += hlen;
        char *cl = strcasestr(head, "\r\nContent-Length: ");
        if (strcasestr(head, "\r\nTransfer-Encoding: chunked")) {
            for (;;) {
                char *e;
                unsigned long sz = strtoul(out + off, &e, 16);
                if (e == out + off || (size_t)(e - out) + 2 > len || memcmp(e, "\r\n", 2)) {
                    free(head);
                    return -1;
                }
                off = (size_t)(e - out) + 2 + sz + 2;
                if (off > len) {
                    free(head);
                    return -1;
                }
                if (!sz) break;
            }
        } else if (cl) {
            size_t blen = strtoul(cl + 18, NULL, 10);
            if (off + blen > len) {
                free(head);
                return -1;
            }
            off += blen;
        } else if (status != 204 && status != 304 && status >= 200) {
            free(head);
            return -1;
        }
        free(head);
    }
    return n;
}

static vk_http_config_t config(int *count)
{
    vk_http_config_t cfg = {.max_header_bytes = 2048, .max_body_bytes = 1024,
                            .tokens_file = tokens_path, .handler = handler, .ctx = count};
    return cfg;
}

static int run_one(const char *data, size_t len, int *statuses, int max, int *handled)
{
    int count = 0;
    vk_http_config_t cfg = config(&count);
    char *out;
    size_t out_len;
    int finished = vk_http_feed_for_test(&cfg, data, len, &out, &out_len);
    int n = check_framing(out, out_len, statuses, max);
    free(out);
    if (handled) *handled = count;
    if (finished < 0) return -2;
    return n;
}

static void load_corpus(void)
{
    const char *root = getenv("VKUBE_ROOT");
    char *dir = vk_xasprintf("%s/tests/http/corpus", root ? root : ".");
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) && ncorpus < 64) {
        if (e->d_name[0] == '.') continue;
        char *p = vk_xasprintf("%s/%s", dir, e->d_name);
        input_t *in = &corpus[ncorpus];
        if (vk_cert_read_file(p, &in->data, &in->len) == 0) {
            in->name = vk_xstrdup(e->d_name);
            ncorpus++;
        }
        free(p);
    }
    closedir(d);
    free(dir);
}

TEST(corpus_expectations)
{
    CHECK(ncorpus >= 10);
    for (size_t i = 0; i < ncorpus; i++) {
        int st[8] = {0};
        int handled = 0;
        int n = run_one(corpus[i].data, corpus[i].len, st, 8, &handled);
        if (n < 1) fprintf(stderr, "  %s: malformed or no output (%d)\n", corpus[i].name, n);
        CHECK(n >= 1);
        if (!strncmp(corpus[i].name, "ok-", 3)) {
            for (int k = 0; k < n && k < 8; k++) {
                if (st[k] != 200) fprintf(stderr, "  %s: response %d is %d\n", corpus[i].name, k, st[k]);
                CHECK_EQ_INT(st[k], 200);
            }
            CHECK(handled >= 1);
        } else {
            if (st[n - 1] < 400 || st[n - 1] > 499)
                fprintf(stderr, "  %s: last status %d\n", corpus[i].name, st[n - 1]);
            CHECK(st[n - 1] >= 400 && st[n - 1] <= 499);
        }
    }
}

TEST(pipelined_count_and_token)
{
    for (size_t i = 0; i < ncorpus; i++) {
        int st[8];
        int handled;
        if (!strcmp(corpus[i].name, "ok-pipelined.http")) {
            CHECK_EQ_INT(run_one(corpus[i].data, corpus[i].len, st, 8, &handled), 3);
            CHECK_EQ_INT(handled, 3);
        }
        if (!strcmp(corpus[i].name, "ok-token.http")) {
            int count = 0;
            vk_http_config_t cfg = config(&count);
            char *out;
            size_t ol;
            vk_http_feed_for_test(&cfg, corpus[i].data, corpus[i].len, &out, &ol);
            CHECK(strstr(out, "user=fuzzer auth=1") != NULL);
            free(out);
        }
    }
}

TEST(header_limit)
{
    size_t n = 4096;
    char *big = vk_xmalloc(n + 64);
    int l = sprintf(big, "GET / HTTP/1.1\r\nX: ");
    memset(big + l, 'a', n);
    memcpy(big + l + n, "\r\n\r\n", 5);
    int st[2] = {0};
    CHECK_EQ_INT(run_one(big, strlen(big), st, 2, NULL), 1);
    CHECK_EQ_INT(st[0], 431);
    free(big);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TEST(mutations_and_random_bytes)
{
    static const char *const tokens[] = {"\r\n", "\r\n\r\n", ":", " ", "Content-Length: 5\r\n",
                                         "Transfer-Encoding: chunked\r\n", "0\r\n\r\n", "%",
                                         "%zz", "?", "&", "=", "\x00", "\xff", "HTTP/1.1",
                                         "Connection: close\r\n", "Upgrade: x\r\n"};
    int iterations = getenv("VKUBE_FUZZ_ITERS") ? atoi(getenv("VKUBE_FUZZ_ITERS")) : 20000;
    int bad = 0;
    for (int it = 0; it < iterations && ncorpus; it++) {
        const input_t *src = &corpus[rnd() % ncorpus];
        size_t cap = src->len * 2 + 64;
        char *buf = vk_xmalloc(cap);
        size_t len = src->len;
        memcpy(buf, src->data, len);
        int muts = 1 + (int)(rnd() % 6);
        for (int m = 0; m < muts; m++) {
            switch (rnd() % 5) {
            case 0: /* flip a byte */
                if (len) buf[rnd() % len] = (char)rnd();
                break;
            case 1: /* truncate */
                if (len) len = rnd() % len;
                break;
            case 2: { /* insert a token */
                const char *t = tokens[rnd() % (sizeof tokens / sizeof tokens[0])];
                size_t tl = strlen(t) ? strlen(t) : 1;
                if (len + tl < cap) {
                    size_t at = len ? rnd() % len : 0;
                    memmove(buf + at + tl, buf + at, len - at);
                    memcpy(buf + at, t, tl);
                    len += tl;
                }
                break;
            }
            case 3: { /* splice the tail of another input */
                const input_t *o = &corpus[rnd() % ncorpus];
                size_t at = len ? rnd() % len : 0, from = o->len ? rnd() % o->len : 0;
                size_t k = o->len - from;
                if (at + k > cap) k = cap - at;
                memcpy(buf + at, o->data + from, k);
                len = at + k;
                break;
            }
            default: /* delete a range */
                if (len > 2) {
                    size_t a = rnd() % len, b = a + rnd() % (len - a);
                    memmove(buf + a, buf + b, len - b);
                    len -= b - a;
                }
            }
        }
        int st[4];
        int n = run_one(buf, len, st, 4, NULL);
        if (n < 0 && bad++ < 3) {
            fprintf(stderr, "  malformed output for input of %zu bytes:\n", len);
            fwrite(buf, 1, len, stderr);
            fprintf(stderr, "\n");
        }
        free(buf);
    }
    for (int it = 0; it < iterations / 10; it++) {
        size_t len = rnd() % 600;
        char *buf = vk_xmalloc(len + 1);
        for (size_t i = 0; i < len; i++) buf[i] = (char)rnd();
        if (len > 4 && (it & 1)) memcpy(buf, "GET ", 4);
        int st[4];
        if (run_one(buf, len, st, 4, NULL) < 0) bad++;
        free(buf);
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    vk_log_set_level(VK_LOG_ERROR); /* log lines per input would drown the output */
    load_corpus();
    snprintf(tokens_path, sizeof tokens_path, "/tmp/vk-fuzz-tokens-%d.csv", (int)getpid());
    vk_cert_write_file(tokens_path, "tok-fuzz,fuzzer,u1,\"g1,g2\"\n", 0600);
    RUN(corpus_expectations);
    RUN(pipelined_count_and_token);
    RUN(header_limit);
    RUN(mutations_and_random_bytes);
    unlink(tokens_path);
    for (size_t i = 0; i < ncorpus; i++) {
        free(corpus[i].name);
        free(corpus[i].data);
    }
    TEST_EXIT();
}
