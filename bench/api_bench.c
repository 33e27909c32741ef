/* api_bench: a Kubernetes API load generator, run by bench/api.sh the same way
 * against vkube and against a real kube-apiserver + etcd, so that both see the
 * same client. Plain blocking OpenSSL clients, one thread and one keep-alive
 * TLS connection (client-certificate auth) per concurrent client; handshakes
 * happen before the clock starts.
 *
 *   api_bench run --port P --ca F --cert F --key F --results FILE
 *             [--secs S] [--pid NAME=PID]...
 *       create/get/update (ConfigMaps), list (1,000 pods), watch delivery
 *       (one writer, 1 and 64 watchers), each with 1 and 64 clients; then
 *       9,000 more pods (10,000 in all) created by 64 clients; RSS (VmRSS) of
 *       the given processes before anything and with the 10,000 pods stored
 *       (then VmHWM, the peak over the whole run).
 *       Appends one line per figure to FILE:
 *         OP CLIENTS REQ_PER_S P50_MS P99_MS COUNT ERRORS
 *         rss WHEN NAME KB
 *   api_bench coldstart --port P --ca F --cert F --key F [--runs N]
 *             [--keep PIDFILE] -- CMD ARGS...
 *       starts CMD N times and measures the time until GET /readyz answers
 *       200 (polled every 0.2 ms over a fresh TLS connection); SIGTERM after
 *       each run, except the last one with --keep (its PID goes to PIDFILE).
 *       Prints "coldstart MEDIAN_MS MIN_MS MAX_MS N (...)", with the CPU time
 *       the process used until ready (independent of other load).
 *   api_bench fill --port P --ca F --cert F --key F --ns NS --count N [--clients C]
 *       creates namespace NS and N pods in it (p-0 ...) with C clients
 *       (default 64), the pods of the run's 10,000-pod phase; for building a
 *       fixture or timing creates alone.
 *
 * Figures are printed, never asserted. The first unexpected response of each
 * phase is printed to stderr (status and the start of the body). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

enum { MAX_CLIENTS = 64, RBUF = 1 << 16, MAX_PIDS = 4, WATCH_CAP = 1 << 18 };

typedef struct target {
    int port;
    SSL_CTX *ctx;
} target_t;

typedef struct buf {
    char *p; /* owned, NUL-terminated when len > 0 */
    size_t len, cap;
} buf_t;

typedef struct conn {
    const target_t *t;
    int fd; /* -1 when closed */
    SSL *ssl;
    size_t roff, rlen; /* unread bytes are rbuf[roff..rlen) */
    char rbuf[RBUF];
} conn_t;

typedef struct resp {
    int status;
    int chunked;
    long clen; /* -1: none */
    int close;
} resp_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void buf_append(buf_t *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = vk_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* --- connection --------------------------------------------------------- */

static void conn_close(conn_t *c)
{
    if (c->ssl) SSL_free(c->ssl);
    if (c->fd >= 0) close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    c->roff = c->rlen = 0;
}

static int conn_open(conn_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->t->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -errno;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = -errno;
        conn_close(c);
        return e;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->ssl = SSL_new(c->t->ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
        conn_close(c);
        return -EPROTO;
    }
    return 0;
}

static conn_t *conn_new(const target_t *t)
{
    conn_t *c = vk_xcalloc(1, sizeof *c);
    c->t = t;
    c->fd = -1;
    return c;
}

static void conn_free(conn_t *c)
{
    conn_close(c);
    free(c);
}

static int conn_fill(conn_t *c)
{
    if (c->roff > 0) {
        memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
        c->rlen -= c->roff;
        c->roff = 0;
    }
    if (c->rlen == RBUF) return -EOVERFLOW;
    int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(RBUF - c->rlen));
    if (n <= 0) return -EIO;
    c->rlen += (size_t)n;
    return 0;
}

/* One line without its CRLF; *line points into the read buffer (borrowed,
 * valid until the next read). */
static int conn_line(conn_t *c, char **line)
{
    for (;;) {
        char *s = c->rbuf + c->roff;
        char *nl = memchr(s, '\n', c->rlen - c->roff);
        if (nl) {
            *nl = '\0';
            if (nl > s && nl[-1] == '\r') nl[-1] = '\0';
            c->roff += (size_t)(nl - s) + 1;
            *line = s;
            return 0;
        }
        int rc = conn_fill(c);
        if (rc) return rc;
    }
}

/* Reads n bytes, appended to out (or dropped when out is NULL). */
static int conn_read(conn_t *c, size_t n, buf_t *out)
{
    while (n > 0) {
        if (c->roff == c->rlen) {
            int rc = conn_fill(c);
            if (rc) return rc;
        }
        size_t k = c->rlen - c->roff < n ? c->rlen - c->roff : n;
        if (out) buf_append(out, c->rbuf + c->roff, k);
        c->roff += k;
        n -= k;
    }
    return 0;
}

static int read_head(conn_t *c, resp_t *r)
{
    char *line;
    int rc = conn_line(c, &line);
    if (rc) return rc;
    memset(r, 0, sizeof *r);
    r->clen = -1;
    if (sscanf(line, "HTTP/1.%*d %d", &r->status) != 1) return -EPROTO;
    for (;;) {
        if ((rc = conn_line(c, &line))) return rc;
        if (!*line) return 0;
        if (!strncasecmp(line, "content-length:", 15))
            r->clen = atol(line + 15);
        else if (!strncasecmp(line, "transfer-encoding:", 18) && strcasestr(line + 18, "chunked"))
            r->chunked = 1;
        else if (!strncasecmp(line, "connection:", 11) && strcasestr(line + 11, "close"))
            r->close = 1;
    }
}

/* One chunk of a chunked body appended to out; *n is its size (0: the body
 * ended, trailers read). */
static int read_chunk(conn_t *c, buf_t *out, size_t *n)
{
    char *line;
    int rc = conn_line(c, &line);
    if (rc) return rc;
    char *end;
    unsigned long size = strtoul(line, &end, 16);
    if (end == line) return -EPROTO;
    *n = size;
    if (size == 0) {
        do {
            if ((rc = conn_line(c, &line))) return rc;
        } while (*line);
        return 0;
    }
    if ((rc = conn_read(c, size, out))) return rc;
    if ((rc = conn_line(c, &line))) return rc;
    return *line ? -EPROTO : 0;
}

static int read_body(conn_t *c, const resp_t *r, buf_t *out)
{
    if (r->chunked) {
        size_t n;
        do {
            int rc = read_chunk(c, out, &n);
            if (rc) return rc;
        } while (n > 0);
        return 0;
    }
    if (r->clen >= 0) return conn_read(c, (size_t)r->clen, out);
    return r->status == 204 || r->status == 304 ? 0 : -EPROTO;
}

static int send_req(conn_t *c, const char *method, const char *path, const char *body)
{
    char head[1024];
    int n;
    if (body)
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: vkube-api-bench\r\n"
                     "Accept: application/json\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, c->t->port, strlen(body));
    else
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: vkube-api-bench\r\n"
                     "Accept: application/json\r\n\r\n",
                     method, path, c->t->port);
    if (n < 0 || (size_t)n >= sizeof head) return -E2BIG;
    buf_t b = {0};
    buf_append(&b, head, (size_t)n);
    if (body) buf_append(&b, body, strlen(body));
    int w = SSL_write(c->ssl, b.p, (int)b.len);
    free(b.p);
    return w == (int)b.len ? 0 : -EIO;
}

/* One request on a keep-alive connection (opened when needed, retried once on
 * a fresh connection if the old one failed). Returns the HTTP status or a
 * negative error; the body replaces out's contents (out may be NULL). */
static int http_do(conn_t *c, const char *method, const char *path, const char *body, buf_t *out)
{
    int rc = -EIO;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (out) out->len = 0;
        if (c->fd < 0 && (rc = conn_open(c))) continue;
        resp_t r;
        if (!(rc = send_req(c, method, path, body)) && !(rc = read_head(c, &r)))
            rc = read_body(c, &r, out);
        if (rc == 0) {
            if (r.close) conn_close(c);
            return r.status;
        }
        conn_close(c);
    }
    return rc;
}

/* --- phases -------------------------------------------------------------- */

enum op { OP_CREATE, OP_GET, OP_UPDATE, OP_LIST, OP_FILL };
static const char *const op_names[] = {"create", "get", "update", "list", "create-pod"};

typedef struct bench {
    target_t t;
    double secs;
    FILE *results;
    int created[2][MAX_CLIENTS]; /* ConfigMaps made by each create thread, [conc == 64][thread] */
} bench_t;

typedef struct lats {
    uint64_t *v; /* owned */
    size_t n, cap;
} lats_t;

static void lats_add(lats_t *l, uint64_t x)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->v = vk_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = x;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(lats_t *l, double p)
{
    if (!l->n) return 0;
    size_t i = (size_t)(p * (double)(l->n - 1) + 0.5);
    return (double)l->v[i] / 1e6;
}

typedef struct worker {
    bench_t *b;
    enum op op;
    int id, conc;
    const char *ns;               /* namespace of this phase */
    pthread_barrier_t *start;
    atomic_long *next;            /* OP_FILL: next pod index */
    long limit;                   /* OP_FILL: pods to create */
    conn_t *c;
    lats_t lats;
    long errors;
    int err_status;               /* first unexpected status (or negative error) */
    char err_body[400];
    char err_req[300];
} worker_t;

static void note_error(worker_t *w, const char *method, const char *path, int status, const buf_t *body)
{
    if (w->errors++ > 0) return;
    w->err_status = status;
    snprintf(w->err_req, sizeof w->err_req, "%s %s", method, path);
    snprintf(w->err_body, sizeof w->err_body, "%.*s", body->len > 300 ? 300 : (int)body->len,
             body->p ? body->p : "");
}

static void cm_body(char *out, size_t cap, const char *ns, const char *name, long v)
{
    snprintf(out, cap,
             "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"key\":\"value-%ld\","
             "\"text\":\"%0200d\"}}",
             name, ns, v, 0);
}

static void pod_body(char *out, size_t cap, const char *name)
{
    snprintf(out, cap,
             "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
             "\"labels\":{\"app\":\"bench\",\"tier\":\"web\"}},\"spec\":{\"containers\":[{"
             "\"name\":\"app\",\"image\":\"registry.example/app:1.0\",\"ports\":[{\"containerPort\":8080}],"
             "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}}}]}}",
             name);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    bench_t *b = w->b;
    int ci = w->conc == MAX_CLIENTS;
    char path[256], name[96], body[1024];
    buf_t out = {0};
    pthread_barrier_wait(w->start);
    uint64_t deadline = now_ns() + (uint64_t)(b->secs * 1e9);
    for (long i = 0;; i++) {
        if (w->op != OP_FILL && now_ns() >= deadline) break;
        const char *method = "GET";
        const char *payload = NULL;
        int want = 200;
        switch (w->op) {
        case OP_CREATE:
            snprintf(name, sizeof name, "cm-c%d-t%d-%ld", w->conc, w->id, i);
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps", w->ns);
            cm_body(body, sizeof body, w->ns, name, i);
            method = "POST", payload = body, want = 201;
            break;
        case OP_GET:
        case OP_UPDATE: {
            int n = b->created[ci][w->id];
            if (n == 0) {
                w->errors++;
                snprintf(w->err_req, sizeof w->err_req, "no ConfigMap was created by this client");
                goto done;
            }
            snprintf(name, sizeof name, "cm-c%d-t%d-%ld", w->conc, w->id, i % n);
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps/%s", w->ns, name);
            if (w->op == OP_UPDATE) {
                cm_body(body, sizeof body, w->ns, name, i + 1000000);
                method = "PUT", payload = body;
            }
            break;
        }
        case OP_LIST:
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", w->ns);
            break;
        case OP_FILL: {
            long k = atomic_fetch_add(w->next, 1);
            if (k >= w->limit) goto done;
            snprintf(name, sizeof name, "p-%ld", k);
            snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", w->ns);
            pod_body(body, sizeof body, name);
            method = "POST", payload = body, want = 201;
            break;
        }
        }
        uint64_t t0 = now_ns();
        int st = http_do(w->c, method, path, payload, &out);
        uint64_t t1 = now_ns();
        if (st != want) {
            note_error(w, method, path, st, &out);
            if (st < 0) usleep(1000);
            continue;
        }
        lats_add(&w->lats, t1 - t0);
        if (w->op == OP_CREATE) b->created[ci][w->id] = (int)(i + 1);
    }
done:
    free(out.p);
    return NULL;
}

typedef struct result {
    long n, errors;
    double rps, p50, p99;
} result_t;

static void report(bench_t *b, const char *op, int conc, const result_t *r, const char *note)
{
    printf("  %-10s %2d clients  %9.0f/s  p50 %8.2f ms  p99 %8.2f ms  n=%ld errors=%ld%s%s\n", op,
           conc, r->rps, r->p50, r->p99, r->n, r->errors, note ? "  " : "", note ? note : "");
    fflush(stdout);
    fprintf(b->results, "%s %d %.1f %.3f %.3f %ld %ld\n", op, conc, r->rps, r->p50, r->p99, r->n,
            r->errors);
    fflush(b->results);
}

/* Runs one phase with conc clients; fills *r. */
static void run_phase(bench_t *b, enum op op, int conc, const char *ns, long fill, result_t *r)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)conc + 1);
    atomic_long next = 0;
    worker_t *ws = vk_xcalloc((size_t)conc, sizeof *ws);
    pthread_t *th = vk_xcalloc((size_t)conc, sizeof *th);
    for (int i = 0; i < conc; i++) {
        worker_t *w = &ws[i];
        *w = (worker_t){.b = b, .op = op, .id = i, .conc = conc, .ns = ns, .start = &start,
                        .next = &next, .limit = fill, .c = conn_new(&b->t)};
        if (conn_open(w->c)) fprintf(stderr, "api_bench: connect failed (client %d)\n", i);
        pthread_create(&th[i], NULL, worker_main, w);
    }
    pthread_barrier_wait(&start);
    uint64_t t0 = now_ns();
    lats_t all = {0};
    memset(r, 0, sizeof *r);
    int shown = 0;
    for (int i = 0; i < conc; i++) {
        pthread_join(th[i], NULL);
        worker_t *w = &ws[i];
        for (size_t k = 0; k < w->lats.n; k++) lats_add(&all, w->lats.v[k]);
        r->errors += w->errors;
        if (w->errors && !shown++)
            fprintf(stderr, "api_bench: %s %d clients: %ld unexpected responses; first: %s -> %d %s\n",
                    op_names[op], conc, w->errors, w->err_req, w->err_status, w->err_body);
        free(w->lats.v);
        conn_free(w->c);
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    qsort(all.v, all.n, sizeof *all.v, cmp_u64);
    r->n = (long)all.n;
    r->rps = (double)all.n / secs;
    r->p50 = pct_ms(&all, 0.50);
    r->p99 = pct_ms(&all, 0.99);
    free(all.v);
    free(ws);
    free(th);
    pthread_barrier_destroy(&start);
}

/* --- watch delivery ---------------------------------------------------- */

typedef struct watchset {
    bench_t *b;
    const char *ns;
    char prefix[16];            /* names of the writer's objects: PREFIX<seq> */
    char rv[32];                /* watch from this resourceVersion */
    _Atomic uint64_t *sent;     /* sent[seq]: when the writer sent the create */
    atomic_int ready;           /* watchers that got their response head */
    atomic_int stop;
} watchset_t;

typedef struct watcher {
    watchset_t *ws;
    conn_t *c;
    lats_t lats;
    int status; /* response status of the watch request */
} watcher_t;

static void on_event_line(watcher_t *w, const char *line, uint64_t t)
{
    if (!strstr(line, "\"type\":\"ADDED\"")) return;
    char key[40];
    snprintf(key, sizeof key, "\"name\":\"%s", w->ws->prefix);
    const char *p = strstr(line, key);
    if (!p) return;
    long seq = strtol(p + strlen(key), NULL, 10);
    if (seq < 0 || seq >= WATCH_CAP) return;
    uint64_t s = atomic_load(&w->ws->sent[seq]);
    if (s) lats_add(&w->lats, t - s);
}

static void *watcher_main(void *arg)
{
    watcher_t *w = arg;
    char path[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps?watch=1&resourceVersion=%s",
             w->ws->ns, w->ws->rv);
    resp_t r;
    buf_t chunk = {0}, line = {0};
    if (send_req(w->c, "GET", path, NULL) || read_head(w->c, &r)) {
        w->status = -EIO;
        atomic_fetch_add(&w->ws->ready, 1);
        return NULL;
    }
    w->status = r.status;
    atomic_fetch_add(&w->ws->ready, 1);
    if (r.status != 200 || !r.chunked) return NULL;
    while (!atomic_load(&w->ws->stop)) {
        size_t n;
        chunk.len = 0;
        if (read_chunk(w->c, &chunk, &n) || n == 0) break;
        uint64_t t = now_ns();
        size_t off = 0;
        for (char *nl; (nl = memchr(chunk.p + off, '\n', chunk.len - off)); off = (size_t)(nl - chunk.p) + 1) {
            buf_append(&line, chunk.p + off, (size_t)(nl - chunk.p) - off);
            on_event_line(w, line.p, t);
            line.len = 0;
        }
        if (off < chunk.len) buf_append(&line, chunk.p + off, chunk.len - off);
    }
    free(chunk.p);
    free(line.p);
    return NULL;
}

/* resourceVersion of a list (from its metadata), or "" */
static void list_rv(bench_t *b, const char *path, char *rv, size_t cap)
{
    conn_t *c = conn_new(&b->t);
    buf_t out = {0};
    rv[0] = '\0';
    if (http_do(c, "GET", path, NULL, &out) == 200 && out.p) {
        const char *p = strstr(out.p, "\"resourceVersion\":\"");
        if (p) {
            p += 19;
            size_t n = strcspn(p, "\"");
            snprintf(rv, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
        }
    }
    free(out.p);
    conn_free(c);
}

/* One writer creates ConfigMaps one after the other for b->secs while nw
 * watchers watch the namespace; latency = writer sends the create -> a
 * watcher has read the ADDED event. */
static void run_watch(bench_t *b, int nw, const char *ns)
{
    watchset_t ws = {.b = b, .ns = ns};
    snprintf(ws.prefix, sizeof ws.prefix, "w%d-", nw);
    ws.sent = vk_xcalloc(WATCH_CAP, sizeof *ws.sent);
    char path[256];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps?limit=1", ns);
    list_rv(b, path, ws.rv, sizeof ws.rv);
    watcher_t *w = vk_xcalloc((size_t)nw, sizeof *w);
    pthread_t *th = vk_xcalloc((size_t)nw, sizeof *th);
    for (int i = 0; i < nw; i++) {
        w[i] = (watcher_t){.ws = &ws, .c = conn_new(&b->t)};
        if (conn_open(w[i].c)) fprintf(stderr, "api_bench: watcher %d: connect failed\n", i);
        pthread_create(&th[i], NULL, watcher_main, &w[i]);
    }
    while (atomic_load(&ws.ready) < nw) usleep(1000);
    usleep(100000);
    int bad = 0;
    for (int i = 0; i < nw; i++) bad += w[i].status != 200;
    if (bad) fprintf(stderr, "api_bench: watch %d: %d watch requests did not answer 200 (first %d)\n", nw,
                     bad, w[0].status);

    conn_t *c = conn_new(&b->t);
    conn_open(c);
    buf_t out = {0};
    lats_t wl = {0};
    long sent = 0, werr = 0;
    char name[64], body[1024];
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps", ns);
    uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)(b->secs * 1e9);
    while (now_ns() < deadline && sent < WATCH_CAP) {
        snprintf(name, sizeof name, "%s%ld", ws.prefix, sent);
        cm_body(body, sizeof body, ns, name, sent);
        uint64_t ts = now_ns();
        atomic_store(&ws.sent[sent], ts);
        int st = http_do(c, "POST", path, body, &out);
        if (st != 201) {
            if (!werr++)
                fprintf(stderr, "api_bench: watch writer: POST %s -> %d %.300s\n", path, st,
                        out.p ? out.p : "");
            atomic_store(&ws.sent[sent], 0);
            continue;
        }
        lats_add(&wl, now_ns() - ts);
        sent++;
    }
    double secs = (double)(now_ns() - t0) / 1e9;
    /* Wait (at most 5 s) for every watcher to have every event. */
    for (uint64_t end = now_ns() + 5000000000u; now_ns() < end;) {
        int done = 1;
        for (int i = 0; i < nw; i++) done &= w[i].lats.n >= (size_t)sent;
        if (done) break;
        usleep(2000);
    }
    atomic_store(&ws.stop, 1);
    for (int i = 0; i < nw; i++)
        if (w[i].c->fd >= 0) shutdown(w[i].c->fd, SHUT_RDWR);
    lats_t all = {0};
    for (int i = 0; i < nw; i++) {
        pthread_join(th[i], NULL);
        for (size_t k = 0; k < w[i].lats.n; k++) lats_add(&all, w[i].lats.v[k]);
        free(w[i].lats.v);
        conn_free(w[i].c);
    }
    qsort(all.v, all.n, sizeof *all.v, cmp_u64);
    qsort(wl.v, wl.n, sizeof *wl.v, cmp_u64);
    result_t r = {.n = (long)all.n, .rps = (double)all.n / secs, .p50 = pct_ms(&all, 0.5),
                  .p99 = pct_ms(&all, 0.99)};
    long expected = sent * nw;
    r.errors = werr + (expected > r.n ? expected - r.n : 0);
    char note[160];
    snprintf(note, sizeof note, "(events/s to all watchers; writer: %ld creates, p50 %.2f ms; %ld lost)",
             sent, pct_ms(&wl, 0.5), expected > r.n ? expected - r.n : 0);
    report(b, "watch", nw, &r, note);
    free(all.v);
    free(wl.v);
    free(out.p);
    conn_free(c);
    free(w);
    free(th);
    free(ws.sent);
}

/* --- setup, RSS --------------------------------------------------------- */

static int simple(bench_t *b, const char *method, const char *path, const char *body, int ok1, int ok2)
{
    conn_t *c = conn_new(&b->t);
    buf_t out = {0};
    int st = http_do(c, method, path, body, &out);
    if (st != ok1 && st != ok2)
        fprintf(stderr, "api_bench: %s %s -> %d %.300s\n", method, path, st, out.p ? out.p : "");
    free(out.p);
    conn_free(c);
    return st == ok1 || st == ok2 ? 0 : -1;
}

static void make_namespace(bench_t *b, const char *ns)
{
    char body[512], path[256];
    snprintf(body, sizeof body, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
    simple(b, "POST", "/api/v1/namespaces", body, 201, 409);
    /* kube-apiserver's ServiceAccount admission wants the default
     * ServiceAccount (made by kube-controller-manager, which the benchmark
     * does not run); vkube makes it with the namespace (409 here). */
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", ns);
    snprintf(body, sizeof body, "{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"default\"}}");
    simple(b, "POST", path, body, 201, 409);
}

/* VmRSS (or VmHWM, the peak, when hwm) of a process, in kB; -1 if unknown. */
static long rss_kb(int pid, int hwm)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, hwm ? "VmHWM:" : "VmRSS:", 6)) kb = atol(line + 6);
    fclose(f);
    return kb;
}

static void report_rss(bench_t *b, const char *when, char *const names[], const int pids[], int n)
{
    for (int i = 0; i < n; i++) {
        long kb = rss_kb(pids[i], !strcmp(when, "peak"));
        printf("  rss %-6s %-16s %8ld kB\n", when, names[i], kb);
        fprintf(b->results, "rss %s %s %ld\n", when, names[i], kb);
    }
    fflush(stdout);
    fflush(b->results);
}

static long count_items(bench_t *b, const char *path)
{
    conn_t *c = conn_new(&b->t);
    buf_t out = {0};
    long n = -1;
    if (http_do(c, "GET", path, NULL, &out) == 200 && out.p) {
        n = 0;
        for (const char *p = out.p; (p = strstr(p, "\"uid\":")); p++) n++;
    }
    free(out.p);
    conn_free(c);
    return n;
}

static int cmd_run(bench_t *b, char *names[], int pids[], int npids)
{
    result_t r;
    report_rss(b, "idle", names, pids, npids);
    const char *nss[] = {"bench", "bench-list", "bench-watch", "bench-fill"};
    for (size_t i = 0; i < sizeof nss / sizeof *nss; i++) make_namespace(b, nss[i]);
    static const int concs[] = {1, MAX_CLIENTS};
    static const enum op ops[] = {OP_CREATE, OP_GET, OP_UPDATE};
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++)
        for (int k = 0; k < 2; k++) {
            run_phase(b, ops[o], concs[k], "bench", 0, &r);
            report(b, op_names[ops[o]], concs[k], &r, NULL);
        }
    /* 1,000 pods to list (not reported: the 9,000 below are). */
    run_phase(b, OP_FILL, MAX_CLIENTS, "bench-list", 1000, &r);
    long items = count_items(b, "/api/v1/namespaces/bench-list/pods");
    if (items != 1000) fprintf(stderr, "api_bench: the list holds %ld pods, not 1000\n", items);
    for (int k = 0; k < 2; k++) {
        run_phase(b, OP_LIST, concs[k], "bench-list", 0, &r);
        report(b, "list", concs[k], &r, "(1,000 pods per list)");
    }
    run_watch(b, 1, "bench-watch");
    run_watch(b, MAX_CLIENTS, "bench-watch");
    /* Same stored data on both servers for the RSS figure: drop the
     * ConfigMaps (their number depends on throughput), keep 10,000 pods. */
    simple(b, "DELETE", "/api/v1/namespaces/bench/configmaps?labelSelector=app%3Dbench", NULL, 200, 200);
    simple(b, "DELETE", "/api/v1/namespaces/bench-watch/configmaps?labelSelector=app%3Dbench", NULL, 200, 200);
    run_phase(b, OP_FILL, MAX_CLIENTS, "bench-fill", 9000, &r);
    report(b, "create-pod", MAX_CLIENTS, &r, "(9,000 pods, 10,000 stored after)");
    sleep(1);
    report_rss(b, "10k", names, pids, npids);
    report_rss(b, "peak", names, pids, npids);
    items = count_items(b, "/api/v1/pods");
    printf("  pods stored: %ld\n", items);
    return 0;
}

/* --- cold start --------------------------------------------------------- */

static int readyz_once(const target_t *t)
{
    conn_t *c = conn_new(t);
    int st = -1;
    if (conn_open(c) == 0) st = http_do(c, "GET", "/readyz", NULL, NULL);
    conn_free(c);
    return st;
}

/* CPU time (user + system, all threads) a process has used so far, in ns,
 * from /proc/PID/task/TID/schedstat; 0 if unknown. */
static uint64_t cpu_ns(int pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    uint64_t sum = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char sp[300];
        snprintf(sp, sizeof sp, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(sp, "r");
        unsigned long long ns;
        if (f && fscanf(f, "%llu", &ns) == 1) sum += ns;
        if (f) fclose(f);
    }
    closedir(d);
    return sum;
}

static int cmd_coldstart(const target_t *t, int runs, const char *keep, char **argv)
{
    lats_t l = {0}, cpu = {0};
    for (int i = 0; i < runs; i++) {
        uint64_t t0 = now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stdout);
            execvp(argv[0], argv);
            _exit(127);
        }
        int st = -1;
        while ((st = readyz_once(t)) != 200) {
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                fprintf(stderr, "api_bench: %s exited before /readyz said 200\n", argv[0]);
                return 1;
            }
            if (now_ns() - t0 > 300000000000u) {
                fprintf(stderr, "api_bench: %s not ready after 300 s\n", argv[0]);
                kill(pid, SIGTERM);
                return 1;
            }
            usleep(200);
        }
        lats_add(&l, now_ns() - t0);
        lats_add(&cpu, cpu_ns(pid));
        if (keep && i == runs - 1) {
            FILE *f = fopen(keep, "w");
            if (f) {
                fprintf(f, "%d\n", (int)pid);
                fclose(f);
            }
        } else {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
    }
    double first = (double)l.v[0] / 1e6;
    qsort(l.v, l.n, sizeof *l.v, cmp_u64);
    qsort(cpu.v, cpu.n, sizeof *cpu.v, cmp_u64);
    printf("coldstart %.2f %.2f %.2f %zu (first run %.2f; CPU time until ready: median %.2f ms)\n",
           (double)l.v[l.n / 2] / 1e6, (double)l.v[0] / 1e6, (double)l.v[l.n - 1] / 1e6, l.n, first,
           (double)cpu.v[cpu.n / 2] / 1e6);
    free(l.v);
    free(cpu.v);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: api_bench run|coldstart|fill|create --port P --ca F --cert F --key F "
                    "[--results FILE] [--secs S] [--pid NAME=PID]... [--runs N] [--keep PIDFILE] "
                    "[--ns NS --count N --clients C] [-- CMD...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *mode = argv[1], *ca = NULL, *cert = NULL, *key = NULL, *results = NULL, *keep = NULL;
    bench_t b = {.secs = 2};
    int runs = 10, npids = 0, pids[MAX_PIDS];
    char *names[MAX_PIDS];
    char **cmd = NULL;
    const char *fill_ns = NULL;
    long fill_n = 0;
    int fill_c = MAX_CLIENTS;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            cmd = &argv[i + 1];
            break;
        }
        if (i + 1 >= argc) return usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--port")) b.t.port = atoi(v);
        else if (!strcmp(a, "--ca")) ca = v;
        else if (!strcmp(a, "--cert")) cert = v;
        else if (!strcmp(a, "--key")) key = v;
        else if (!strcmp(a, "--results")) results = v;
        else if (!strcmp(a, "--secs")) b.secs = atof(v);
        else if (!strcmp(a, "--runs")) runs = atoi(v);
        else if (!strcmp(a, "--keep")) keep = v;
        else if (!strcmp(a, "--ns")) fill_ns = v;
        else if (!strcmp(a, "--count")) fill_n = atol(v);
        else if (!strcmp(a, "--clients")) fill_c = atoi(v);
        else if (!strcmp(a, "--pid") && npids < MAX_PIDS && strchr(v, '=')) {
            names[npids] = strndup(v, (size_t)(strchr(v, '=') - v));
            pids[npids++] = atoi(strchr(v, '=') + 1);
        } else return usage();
    }
    if (!b.t.port || !ca || !cert || !key) return usage();
    signal(SIGPIPE, SIG_IGN);
    b.t.ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(b.t.ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(b.t.ctx, ca, NULL) != 1 ||
        SSL_CTX_use_certificate_chain_file(b.t.ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(b.t.ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "api_bench: cannot load %s / %s / %s\n", ca, cert, key);
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_verify(b.t.ctx, SSL_VERIFY_PEER, NULL);
    int rc;
    if (!strcmp(mode, "run")) {
        if (!results) return usage();
        b.results = fopen(results, "a");
        if (!b.results) {
            perror(results);
            return 1;
        }
        rc = cmd_run(&b, names, pids, npids);
        fclose(b.results);
    } else if (!strcmp(mode, "fill")) {
        if (!fill_ns || fill_n <= 0) return usage();
        result_t r;
        make_namespace(&b, fill_ns);
        run_phase(&b, OP_FILL, fill_c, fill_ns, fill_n, &r);
        printf("fill %ld pods, %d clients: %.0f/s p50 %.2f ms p99 %.2f ms, %ld errors\n", r.n,
               fill_c, r.rps, r.p50, r.p99, r.errors);
        rc = r.errors ? 1 : 0;
    } else if (!strcmp(mode, "create")) {
        /* One phase alone (for profiling): --clients C creates for --secs. */
        result_t r;
        make_namespace(&b, "bench");
        run_phase(&b, OP_CREATE, fill_c, "bench", 0, &r);
        printf("create, %d clients: %.0f/s p50 %.3f ms p99 %.3f ms, %ld errors\n", fill_c, r.rps,
               r.p50, r.p99, r.errors);
        rc = r.errors ? 1 : 0;
    } else if (!strcmp(mode, "coldstart")) {
        if (!cmd || !*cmd) return usage();
        rc = cmd_coldstart(&b.t, runs, keep, cmd);
    } else {
        return usage();
    }
    for (int i = 0; i < npids; i++) free(names[i]);
    SSL_CTX_free(b.t.ctx);
    return rc;
}
