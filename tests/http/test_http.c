/* Tests for proxy/http: a real OpenSSL TLS client (blocking sockets, this
 * thread) against vk_http servers running on a libuv loop in a second thread. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "../test.h"
#include "common/cert.h"
#include "common/err.h"
#include "common/mem.h"
#include "proxy/http.h"

/* ------------------------------------------------------------ fixtures */

static char tmpdir[256];
static char ca_file[300], cert_file[300], key_file[300], admin_crt[300], admin_key[300],
    other_crt[300], other_key[300], bob_crt[300], bob_key[300], tokens_file[300];

static void write_or_die(const char *path, const char *data)
{
    if (vk_cert_write_file(path, data, 0600)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void make_fixtures(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vk-test-http-XXXXXX");
    if (!mkdtemp(tmpdir)) exit(1);
    vk_cert_pem_t ca, srv, admin, other_ca, other, bob;
    const char *sans[] = {"api.example.test", NULL};
    const char *masters[] = {"system:masters", NULL};
    const char *devs[] = {"dev", "ops", NULL};
    if (vk_cert_make_ca("test-ca", 1, &ca) || vk_cert_make_serving(&ca, "srv", sans, 1, &srv) ||
        vk_cert_make_client(&ca, "admin", masters, 1, &admin) ||
        vk_cert_make_client(&ca, "bob", devs, 1, &bob) ||
        vk_cert_make_ca("other-ca", 1, &other_ca) ||
        vk_cert_make_client(&other_ca, "mallory", masters, 1, &other))
        exit(1);
#define F(var, name, data)                                                                         \
    snprintf(var, sizeof var, "%s/%s", tmpdir, name);                                              \
    write_or_die(var, data)
    F(ca_file, "ca.crt", ca.cert);
    F(cert_file, "srv.crt", srv.cert);
    F(key_file, "srv.key", srv.key);
    F(admin_crt, "admin.crt", admin.cert);
    F(admin_key, "admin.key", admin.key);
    F(bob_crt, "bob.crt", bob.cert);
    F(bob_key, "bob.key", bob.key);
    F(other_crt, "other.crt", other.cert);
    F(other_key, "other.key", other.key);
    F(tokens_file, "tokens.csv",
      "# comment\ntok-alice,alice,uid-1,\"team-a,team b\"\ntok-carol,carol,uid-3\n");
#undef F
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&srv);
    vk_cert_pem_free(&admin);
    vk_cert_pem_free(&other_ca);
    vk_cert_pem_free(&other);
    vk_cert_pem_free(&bob);
}

static void remove_fixtures(void)
{
    const char *files[] = {ca_file,   cert_file, key_file,  admin_crt, admin_key,  bob_crt,
                           bob_key,   other_crt, other_key, tokens_file};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    rmdir(tmpdir);
}

/* ------------------------------------------------- server on a loop thread */

typedef struct tserver {
    vk_http_config_t cfg;
    uv_loop_t loop;
    uv_async_t stop_async;
    vk_http_server_t *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, start_rc;
    int port;
    int loop_close_rc;
    /* Observed on the loop thread; read by the test after join (or atomically). */
    atomic_int eagain, drains, closes, stream_done, done_cb_ran, hijack_bytes, big_served;
} tserver_t;

typedef struct streamer {
    tserver_t *ts;
    vk_http_req_t *req;
    int left;
    size_t size;
    char *chunk;
} streamer_t;

static void streamer_free(streamer_t *st)
{
    free(st->chunk);
    free(st);
}

static void stream_on_drain(void *arg, vk_http_req_t *req);

static void stream_pump(streamer_t *st)
{
    while (st->left > 0) {
        st->left--;
        int rc = vk_http_stream_write(st->req, st->chunk, st->size);
        if (rc == VK_ECLOSED) return; /* on_close will end it */
        if (rc == VK_EAGAIN) {
            atomic_fetch_add(&st->ts->eagain, 1);
            vk_http_stream_on_drain(st->req, stream_on_drain, st);
            return;
        }
    }
    atomic_fetch_add(&st->ts->stream_done, 1);
    vk_http_stream_end(st->req);
    streamer_free(st);
}

static void stream_on_drain(void *arg, vk_http_req_t *req)
{
    streamer_t *st = arg;
    atomic_fetch_add(&st->ts->drains, 1);
    stream_pump(st);
}

static void stream_on_close(void *arg, vk_http_req_t *req)
{
    streamer_t *st = arg;
    atomic_fetch_add(&st->ts->closes, 1);
    vk_http_stream_end(req);
    streamer_free(st);
}

static void hijack_data(void *arg, const void *data, size_t len)
{
    vk_http_req_t *req = arg;
    vk_http_raw_write(req, data, len); /* echo */
}

static void hijack_close(void *arg, vk_http_req_t *req)
{
    vk_http_raw_close(req);
}

typedef struct slow {
    uv_timer_t timer;
    vk_http_req_t *req;
} slow_t;

static void slow_closed(uv_handle_t *h)
{
    free(h->data);
}

static void slow_fire(uv_timer_t *t)
{
    slow_t *sl = t->data;
    vk_http_respond(sl->req, 200, "text/plain", "slow done", 9);
    uv_close((uv_handle_t *)t, slow_closed);
}

/* Test handler: /slow answers after 100 ms; /echo answers a description of the request; /stream?n=&size=
 * streams n chunks with flow control; /watch opens a stream that stays open
 * until the client or the server ends it; /upgrade hijacks and echoes. */
static void handler(void *ctx, vk_http_req_t *req)
{
    tserver_t *ts = ctx;
    if (!strcmp(req->path, "/slow")) {
        slow_t *sl = vk_xcalloc(1, sizeof *sl);
        sl->req = req;
        uv_timer_init(&ts->loop, &sl->timer);
        sl->timer.data = sl;
        uv_timer_start(&sl->timer, slow_fire, 100, 0);
        return;
    }
    if (!strcmp(req->path, "/stream") || !strcmp(req->path, "/watch")) {
        streamer_t *st = vk_xcalloc(1, sizeof *st);
        st->ts = ts;
        st->req = req;
        const char *n = vk_http_query(req, "n");
        const char *size = vk_http_query(req, "size");
        st->left = n ? atoi(n) : 0;
        st->size = size ? (size_t)atol(size) : 16;
        st->chunk = vk_xmalloc(st->size);
        memset(st->chunk, 'w', st->size);
        vk_http_stream_begin(req, 200, "application/json", stream_on_close, st);
        if (!strcmp(req->path, "/stream")) stream_pump(st);
        return;
    }
    if (!strcmp(req->path, "/big")) {
        static char big[1 << 20];
        memset(big, 'b', sizeof big);
        atomic_fetch_add(&ts->big_served, 1);
        vk_http_respond(req, 200, "text/plain", big, sizeof big);
        return;
    }
    if (!strcmp(req->path, "/upgrade")) {
        if (vk_http_hijack(req, hijack_data, hijack_close, req) == 0) {
            static const char sw[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                                     "Connection: Upgrade\r\n\r\n";
            vk_http_raw_write(req, sw, sizeof sw - 1);
        } else {
            vk_http_respond(req, 500, "text/plain", "no", 2);
        }
        return;
    }
    char groups[512] = "";
    for (const char *const *g = req->user.groups; g && *g; g++) {
        strncat(groups, *g, sizeof groups - strlen(groups) - 2);
        strcat(groups, ";");
    }
    const char *x = vk_http_query(req, "x");
    const char *xt = vk_http_header(req, "x-test");
    char *body = vk_xasprintf("method=%s path=%s x=%s user=%s uid=%s groups=%s auth=%d "
                              "body=%zu xtest=%s",
                              req->method, req->path, x ? x : "-", req->user.name, req->user.uid,
                              groups, req->user.authenticated, req->body_len, xt ? xt : "-");
    vk_http_add_header(req, "X-Reply", "yes");
    vk_http_respond(req, 200, "text/plain", body, strlen(body));
    free(body);
}

static int token_cb(void *ctx, const char *token, vk_pool_t *pool, vk_http_user_t *user)
{
    if (strcmp(token, "sa-jwt")) return 0;
    user->name = vk_pool_strdup(pool, "system:serviceaccount:default:builder");
    user->uid = "sa-uid";
    const char **g = vk_pool_alloc(pool, 2 * sizeof *g);
    g[0] = "system:serviceaccounts"; /* the transport adds system:authenticated */
    user->groups = g;
    return 1;
}

static void on_stopped(void *arg)
{
    tserver_t *ts = arg;
    atomic_store(&ts->done_cb_ran, 1);
    uv_close((uv_handle_t *)&ts->stop_async, NULL);
}

static void on_stop_async(uv_async_t *a)
{
    tserver_t *ts = a->data;
    vk_http_server_stop(ts->srv, on_stopped, ts);
}

static void *server_thread(void *arg)
{
    tserver_t *ts = arg;
    uv_loop_init(&ts->loop);
    uv_async_init(&ts->loop, &ts->stop_async, on_stop_async);
    ts->stop_async.data = ts;
    char err[256];
    int rc = vk_http_server_start(&ts->loop, &ts->cfg, &ts->srv, err, sizeof err);
    if (rc) fprintf(stderr, "server start: %s\n", err);
    pthread_mutex_lock(&ts->mu);
    ts->start_rc = rc;
    if (!rc) {
        const char *a = vk_http_server_address(ts->srv);
        ts->port = atoi(strrchr(a, ':') + 1);
    }
    ts->started = 1;
    pthread_cond_signal(&ts->cv);
    pthread_mutex_unlock(&ts->mu);
    if (rc) uv_close((uv_handle_t *)&ts->stop_async, NULL);
    uv_run(&ts->loop, UV_RUN_DEFAULT);
    ts->loop_close_rc = uv_loop_close(&ts->loop);
    return NULL;
}

/* Starts a server; cfg fields left 0 take the defaults, except these set here. */
static tserver_t *server_start(vk_http_config_t cfg)
{
    tserver_t *ts = vk_xcalloc(1, sizeof *ts);
    cfg.listen = "127.0.0.1:0";
    cfg.cert_file = cert_file;
    cfg.key_file = key_file;
    cfg.client_ca_file = ca_file;
    cfg.tokens_file = tokens_file;
    cfg.handler = handler;
    cfg.token_cb = token_cb;
    cfg.ctx = ts;
    ts->cfg = cfg;
    pthread_mutex_init(&ts->mu, NULL);
    pthread_cond_init(&ts->cv, NULL);
    pthread_create(&ts->thread, NULL, server_thread, ts);
    pthread_mutex_lock(&ts->mu);
    while (!ts->started) pthread_cond_wait(&ts->cv, &ts->mu);
    pthread_mutex_unlock(&ts->mu);
    return ts;
}

/* Stops the server and joins its thread; returns 1 if the loop closed clean. */
static int server_stop(tserver_t *ts)
{
    uv_async_send(&ts->stop_async);
    pthread_join(ts->thread, NULL);
    int ok = ts->loop_close_rc == 0 && atomic_load(&ts->done_cb_ran);
    pthread_mutex_destroy(&ts->mu);
    pthread_cond_destroy(&ts->cv);
    return ok;
}

/* ------------------------------------------------------------ TLS client */

typedef struct client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char alpn[32];
} client_t;

/* Connects with TLS. cert/key may be NULL; alpn is wire-format (may be NULL);
 * max_version 0 for the default. Returns 0 or -1 (handshake failed). */
static int client_open(client_t *c, int port, const char *cert, const char *key,
                       const unsigned char *alpn, unsigned alpn_len, int max_version)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = 20};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if (max_version) {
        SSL_CTX_set_min_proto_version(c->ctx, 0);
        SSL_CTX_set_max_proto_version(c->ctx, max_version);
        SSL_CTX_set_security_level(c->ctx, 0);
    }
    if (cert) {
        SSL_CTX_use_certificate_file(c->ctx, cert, SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM);
    }
    if (alpn) SSL_CTX_set_alpn_protos(c->ctx, alpn, alpn_len);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    SSL_set1_host(c->ssl, "127.0.0.1");
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        return -1;
    }
    const unsigned char *sel;
    unsigned sl;
    SSL_get0_alpn_selected(c->ssl, &sel, &sl);
    if (sl && sl < sizeof c->alpn) memcpy(c->alpn, sel, sl);
    return 0;
}

static void client_close(client_t *c)
{
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd > 0) close(c->fd);
    ERR_clear_error();
    memset(c, 0, sizeof *c);
}

static int client_send(client_t *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        int n = SSL_write(c->ssl, data + off, (int)(len - off));
        if (n <= 0) return -1;
        off += (size_t)n;
    }
    return 0;
}

static int client_sends(client_t *c, const char *s)
{
    return client_send(c, s, strlen(s));
}

typedef struct resp {
    int status;
    char headers[4096];
    char *body;
    size_t body_len;
    int chunked;
    int chunks;  /* chunks received */
    int eof;     /* connection closed after the response */
} resp_t;

/* Buffered reads from the TLS connection. */
typedef struct rbuf {
    char data[65536];
    size_t len, off;
} rbuf_t;

static int fill(client_t *c, rbuf_t *b)
{
    if (b->off == b->len) b->off = b->len = 0;
    if (b->len == sizeof b->data) return 1;
    int n = SSL_read(c->ssl, b->data + b->len, (int)(sizeof b->data - b->len));
    if (n <= 0) return 0;
    b->len += (size_t)n;
    return 1;
}

/* Reads one line (without CRLF) into out; 0 at EOF. */
static int read_line(client_t *c, rbuf_t *b, char *out, size_t outlen)
{
    size_t n = 0;
    for (;;) {
        while (b->off < b->len) {
            char ch = b->data[b->off++];
            if (ch == '\n') {
                if (n && out[n - 1] == '\r') n--;
                out[n] = 0;
                return 1;
            }
            if (n + 1 < outlen) out[n++] = ch;
        }
        if (!fill(c, b)) return 0;
    }
}

static int read_exact(client_t *c, rbuf_t *b, char *out, size_t len)
{
    size_t got = 0;
    while (got < len) {
        if (b->off == b->len && !fill(c, b)) return 0;
        size_t k = b->len - b->off;
        if (k > len - got) k = len - got;
        memcpy(out + got, b->data + b->off, k);
        b->off += k;
        got += k;
    }
    return 1;
}

/* Reads one response. Returns 0 on success, -1 if the connection ended first. */
static int read_response(client_t *c, rbuf_t *b, resp_t *r)
{
    memset(r, 0, sizeof *r);
    char line[8192];
    if (!read_line(c, b, line, sizeof line)) return -1;
    if (sscanf(line, "HTTP/1.1 %d", &r->status) != 1) return -1;
    long clen = -1;
    for (;;) {
        if (!read_line(c, b, line, sizeof line)) return -1;
        if (!line[0]) break;
        strncat(r->headers, line, sizeof r->headers - strlen(r->headers) - 3);
        strcat(r->headers, "\n");
        if (!strncasecmp(line, "content-length:", 15)) clen = atol(line + 15);
        if (!strncasecmp(line, "transfer-encoding:", 18) && strstr(line, "chunked")) r->chunked = 1;
    }
    if (r->status == 101) return 0;
    if (r->chunked) {
        for (;;) {
            if (!read_line(c, b, line, sizeof line)) return -1;
            size_t n = strtoul(line, NULL, 16);
            if (!n) {
                read_line(c, b, line, sizeof line);
                break;
            }
            r->body = vk_xrealloc(r->body, r->body_len + n + 1);
            if (!read_exact(c, b, r->body + r->body_len, n)) return -1;
            r->body_len += n;
            r->chunks++;
            read_line(c, b, line, sizeof line);
        }
    } else if (clen >= 0) {
        r->body = vk_xmalloc((size_t)clen + 1);
        if (!read_exact(c, b, r->body, (size_t)clen)) return -1;
        r->body_len = (size_t)clen;
    }
    if (!r->body) r->body = vk_xcalloc(1, 1);
    r->body[r->body_len] = 0;
    return 0;
}

/* 1 if the server closes the connection (read returns 0/error) with no more data. */
static int at_eof(client_t *c, rbuf_t *b)
{
    if (b->off < b->len) return 0;
    char x;
    int n = SSL_read(c->ssl, &x, 1);
    return n <= 0;
}

static int do_get(tserver_t *ts, const char *cert, const char *key, const char *extra,
                  const char *path, resp_t *r)
{
    client_t c;
    if (client_open(&c, ts->port, cert, key, NULL, 0, 0)) return -1;
    char *req = vk_xasprintf("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path,
                             extra ? extra : "");
    client_sends(&c, req);
    free(req);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    int rc = read_response(&c, b, r);
    if (!rc) r->eof = at_eof(&c, b);
    free(b);
    client_close(&c);
    return rc;
}

static const unsigned char alpn_h2_h1[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h2[] = "\x02h2";

static tserver_t *main_srv;

/* ------------------------------------------------------------------ tests */

TEST(tls_handshake_and_alpn)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, NULL, NULL, alpn_h2_h1, sizeof alpn_h2_h1 - 1, 0),
                 0);
    CHECK_EQ_STR(c.alpn, "http/1.1");
    client_close(&c);
    /* A client offering only h2 gets no ALPN protocol, never h2. */
    CHECK_EQ_INT(client_open(&c, main_srv->port, NULL, NULL, alpn_h2, sizeof alpn_h2 - 1, 0), 0);
    CHECK_EQ_STR(c.alpn, "");
    client_close(&c);
    /* TLS 1.1 is refused. */
    CHECK(client_open(&c, main_srv->port, NULL, NULL, NULL, 0, TLS1_1_VERSION) != 0);
    client_close(&c);
}

TEST(client_cert_identity)
{
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, admin_crt, admin_key, NULL, "/echo?x=a%20b+c", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "user=admin ") != NULL);
    CHECK(strstr(r.body, "groups=system:masters;system:authenticated;") != NULL);
    CHECK(strstr(r.body, "auth=1") != NULL);
    CHECK(strstr(r.body, "x=a b c ") != NULL);
    CHECK(strstr(r.headers, "X-Reply: yes") != NULL);
    free(r.body);
    CHECK_EQ_INT(do_get(main_srv, bob_crt, bob_key, NULL, "/echo", &r), 0);
    CHECK(strstr(r.body, "user=bob ") != NULL);
    CHECK(strstr(r.body, "groups=dev;ops;system:authenticated;") != NULL);
    free(r.body);
}

TEST(cert_from_other_ca_is_401)
{
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, other_crt, other_key, NULL, "/echo", &r), 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK(strstr(r.body, "\"kind\":\"Status\"") != NULL);
    CHECK(strstr(r.body, "\"code\":401") != NULL);
    free(r.body);
}

TEST(bearer_tokens)
{
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer tok-alice\r\n", "/echo", &r),
                 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "user=alice uid=uid-1 groups=team-a;team b;system:authenticated; auth=1") !=
          NULL);
    free(r.body);
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer tok-carol\r\n", "/echo", &r),
                 0);
    CHECK(strstr(r.body, "user=carol uid=uid-3 groups=system:authenticated; auth=1") != NULL);
    free(r.body);
    /* The token callback (service-account JWTs in the REST layer). */
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer sa-jwt\r\n", "/echo", &r), 0);
    CHECK(strstr(r.body, "user=system:serviceaccount:default:builder uid=sa-uid "
                         "groups=system:serviceaccounts;system:authenticated; auth=1") != NULL);
    CHECK(strstr(r.body, "auth=1") != NULL);
    free(r.body);
    /* An unknown token is 401 even where anonymous would be allowed. */
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer nope\r\n", "/healthz", &r), 0);
    CHECK_EQ_INT(r.status, 401);
    CHECK(strstr(r.body, "\"reason\":\"Unauthorized\"") != NULL);
    free(r.body);
}

TEST(tokens_file_reloads)
{
    /* Add dave, revoke alice; the server notices the change without a restart. */
    CHECK_EQ_INT(vk_cert_write_file(tokens_file, "tok-dave,dave,uid-4,\"ops\"\n", 0600), 0);
    int status = 0;
    for (int i = 0; i < 200 && status != 200; i++) {
        resp_t r;
        if (do_get(main_srv, NULL, NULL, "Authorization: Bearer tok-dave\r\n", "/echo", &r)) break;
        status = r.status;
        if (status == 200) CHECK(strstr(r.body, "user=dave uid=uid-4 groups=ops;") != NULL);
        free(r.body);
        if (status != 200) usleep(50000);
    }
    CHECK_EQ_INT(status, 200);
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer tok-alice\r\n", "/echo", &r),
                 0);
    CHECK_EQ_INT(r.status, 401);
    free(r.body);
    /* A broken file keeps the previous tokens. */
    CHECK_EQ_INT(vk_cert_write_file(tokens_file, "only-one-field\n", 0600), 0);
    usleep(1100000);
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, "Authorization: Bearer tok-dave\r\n", "/echo", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
    vk_cert_write_file(tokens_file,
                       "# comment\ntok-alice,alice,uid-1,\"team-a,team b\"\ntok-carol,carol,uid-3\n",
                       0600);
}

TEST(anonymous)
{
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, NULL, "/healthz", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "user=system:anonymous ") != NULL);
    CHECK(strstr(r.body, "groups=system:unauthenticated;") != NULL);
    CHECK(strstr(r.body, "auth=0") != NULL);
    CHECK(r.eof); /* Connection: close honoured */
    free(r.body);
}

TEST(keep_alive_and_pipelining)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    client_sends(&c, "GET /echo?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "x=1 ") != NULL);
    free(r.body);
    client_sends(&c, "POST /echo?x=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "method=POST path=/echo x=2 ") != NULL);
    CHECK(strstr(r.body, "body=5") != NULL);
    free(r.body);
    /* Two pipelined requests in one write, answered in order. */
    client_sends(&c, "GET /echo?x=3 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /echo?x=4 HTTP/1.1\r\nHost: x\r\nX-Test: t4\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "x=3 ") != NULL);
    free(r.body);
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "x=4 ") != NULL);
    CHECK(strstr(r.body, "xtest=t4") != NULL);
    free(r.body);
    /* Chunked request body. */
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "body=7") != NULL);
    free(r.body);
    /* Expect: 100-continue gets the interim answer before the body is sent. */
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                     "Expect: 100-continue\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 100);
    free(r.body);
    client_sends(&c, "abc");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "body=3") != NULL);
    free(r.body);
    free(b);
    client_close(&c);
}

TEST(pipelining_without_reading_is_held_back)
{
    /* 40 pipelined requests for 1 MiB each, not read: socket buffers cannot
     * hold 40 MiB, so the server must stop answering until we read. */
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    int before = atomic_load(&main_srv->big_served);
    char *reqs = vk_xmalloc(40 * 40);
    size_t len = 0;
    for (int i = 0; i < 40; i++) len += (size_t)sprintf(reqs + len, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    client_send(&c, reqs, len);
    free(reqs);
    /* Wait until the server stops making progress (no time is asserted). */
    int served = -1;
    for (int i = 0; i < 100; i++) {
        usleep(200000);
        int now = atomic_load(&main_srv->big_served) - before;
        if (now == served || now == 40) break;
        served = now;
    }
    served = atomic_load(&main_srv->big_served) - before;
    CHECK(served < 40);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    int got = 0;
    for (int i = 0; i < 40; i++) {
        resp_t r;
        if (read_response(&c, b, &r)) break;
        if (r.status == 200 && r.body_len == (1 << 20)) got++;
        free(r.body);
    }
    CHECK_EQ_INT(got, 40);
    CHECK_EQ_INT(atomic_load(&main_srv->big_served) - before, 40);
    free(b);
    client_close(&c);
}

TEST(chunked_stream_with_flow_control)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    int eagain0 = atomic_load(&main_srv->eagain), drains0 = atomic_load(&main_srv->drains);
    /* 64 chunks of 64 KiB: far above the high-water mark, so the producer must
     * pause and be resumed by on_drain while we read. */
    client_sends(&c, "GET /stream?n=64&size=65536 HTTP/1.1\r\nHost: x\r\n\r\n");
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.chunked);
    CHECK_EQ_INT(r.body_len, 64 * 65536);
    CHECK(atomic_load(&main_srv->eagain) > eagain0);
    CHECK(atomic_load(&main_srv->drains) > drains0);
    free(r.body);
    /* The connection is still usable after the stream ended. */
    client_sends(&c, "GET /echo?x=after HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK(strstr(r.body, "x=after ") != NULL);
    free(r.body);
    free(b);
    client_close(&c);
}

TEST(client_going_away_closes_stream)
{
    int closes0 = atomic_load(&main_srv->closes);
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    client_sends(&c, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    char line[256];
    CHECK(read_line(&c, b, line, sizeof line));
    CHECK(strstr(line, "200") != NULL);
    client_close(&c);
    free(b);
    /* on_close must run; wait for it without asserting a time. */
    for (int i = 0; i < 2000 && atomic_load(&main_srv->closes) == closes0; i++) usleep(5000);
    CHECK(atomic_load(&main_srv->closes) > closes0);
}

TEST(client_half_close_still_gets_response)
{
    /* TLS 1.3 close_notify after the request, while the handler is still working. */
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    client_sends(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    SSL_shutdown(c.ssl);
    shutdown(c.fd, SHUT_WR);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    int rc = read_response(&c, b, &r);
    CHECK_EQ_INT(rc, 0);
    if (rc) { /* no response at all: stop here */
        free(b);
        client_close(&c);
        return;
    }
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "slow done");
    CHECK(strstr(r.headers, "Connection: close") != NULL);
    CHECK(at_eof(&c, b));
    free(r.body);
    client_close(&c);
    /* TLS 1.2 and a plain TCP half-close (no close_notify). */
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, TLS1_2_VERSION), 0);
    client_sends(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(c.fd, SHUT_WR);
    b->len = b->off = 0;
    rc = read_response(&c, b, &r);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body, "slow done");
        free(r.body);
    }
    free(b);
    client_close(&c);
}

TEST(body_too_large_is_413_status)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK(strstr(r.body, "\"kind\":\"Status\"") != NULL);
    CHECK(strstr(r.body, "\"code\":413") != NULL);
    CHECK(at_eof(&c, b));
    free(r.body);
    client_close(&c);
    /* Chunked bodies are counted as they arrive. */
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    b->len = b->off = 0;
    client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[1100];
    memset(chunk, 'a', sizeof chunk);
    memcpy(chunk, "400\r\n", 5);
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    for (int i = 0; i < 5; i++) client_send(&c, chunk, 5 + 1024 + 2);
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 413);
    CHECK(strstr(r.body, "\"code\":413") != NULL);
    free(r.body);
    free(b);
    client_close(&c);
}

TEST(header_too_large_is_431_status)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    size_t n = 9000;
    char *big = vk_xmalloc(n + 64);
    int l = sprintf(big, "GET /echo HTTP/1.1\r\nX-Big: ");
    memset(big + l, 'h', n);
    strcpy(big + l + n, "\r\n\r\n");
    client_sends(&c, big);
    free(big);
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 431);
    CHECK(strstr(r.body, "\"kind\":\"Status\"") != NULL);
    free(r.body);
    free(b);
    client_close(&c);
}

TEST(garbage_is_400_not_a_crash)
{
    const char *inputs[] = {"\x16\x03\x01garbage\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
                            "HELLO WORLD\r\n\r\n", "GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"};
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        client_t c;
        CHECK_EQ_INT(client_open(&c, main_srv->port, NULL, NULL, NULL, 0, 0), 0);
        client_sends(&c, inputs[i]);
        rbuf_t *b = vk_xcalloc(1, sizeof *b);
        resp_t r;
        CHECK_EQ_INT(read_response(&c, b, &r), 0);
        CHECK_EQ_INT(r.status, 400);
        CHECK(strstr(r.body, "\"reason\":\"BadRequest\"") != NULL);
        free(r.body);
        free(b);
        client_close(&c);
    }
    /* Plain HTTP (no TLS) on the TLS port: the handshake fails, the server lives on. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)main_srv->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK_EQ_INT(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    CHECK(write(fd, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    char buf[256];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
    resp_t r;
    CHECK_EQ_INT(do_get(main_srv, NULL, NULL, NULL, "/echo", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
}

TEST(upgrade_hijack_echo)
{
    client_t c;
    CHECK_EQ_INT(client_open(&c, main_srv->port, admin_crt, admin_key, NULL, 0, 0), 0);
    client_sends(&c, "GET /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n"
                     "early");
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 101);
    char got[16] = {0};
    CHECK(read_exact(&c, b, got, 5));
    CHECK_EQ_STR(got, "early");
    client_sends(&c, "ping!");
    memset(got, 0, sizeof got);
    CHECK(read_exact(&c, b, got, 5));
    CHECK_EQ_STR(got, "ping!");
    free(r.body);
    free(b);
    client_close(&c);
}

TEST(slow_client_and_idle_timeouts)
{
    vk_http_config_t cfg = {.request_timeout_ms = 200, .idle_timeout_ms = 200};
    tserver_t *ts = server_start(cfg);
    CHECK_EQ_INT(ts->start_rc, 0);
    client_t c;
    /* A request that never completes gets 408 and the connection closes. */
    CHECK_EQ_INT(client_open(&c, ts->port, NULL, NULL, NULL, 0, 0), 0);
    client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n");
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    resp_t r;
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 408);
    CHECK(strstr(r.body, "\"kind\":\"Status\"") != NULL);
    CHECK(at_eof(&c, b));
    free(r.body);
    client_close(&c);
    /* An idle keep-alive connection is closed by the server. */
    CHECK_EQ_INT(client_open(&c, ts->port, NULL, NULL, NULL, 0, 0), 0);
    b->len = b->off = 0;
    client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(read_response(&c, b, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
    CHECK(at_eof(&c, b));
    client_close(&c);
    free(b);
    CHECK(server_stop(ts));
    free(ts);
}

TEST(streams_per_client_limit_429)
{
    vk_http_config_t cfg = {.max_streams_per_client = 2};
    tserver_t *ts = server_start(cfg);
    client_t c[3];
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    char line[256];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(client_open(&c[i], ts->port, admin_crt, admin_key, NULL, 0, 0), 0);
        client_sends(&c[i], "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
        b->len = b->off = 0;
        CHECK(read_line(&c[i], b, line, sizeof line));
        CHECK(strstr(line, " 200 ") != NULL);
    }
    CHECK_EQ_INT(client_open(&c[2], ts->port, admin_crt, admin_key, NULL, 0, 0), 0);
    client_sends(&c[2], "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
    resp_t r;
    b->len = b->off = 0;
    CHECK_EQ_INT(read_response(&c[2], b, &r), 0);
    CHECK_EQ_INT(r.status, 429);
    CHECK(strstr(r.body, "\"code\":429") != NULL);
    free(r.body);
    /* The refused stream's producer was told through on_close. */
    for (int i = 0; i < 2000 && atomic_load(&ts->closes) < 1; i++) usleep(5000);
    CHECK_EQ_INT(atomic_load(&ts->closes), 1);
    for (int i = 0; i < 3; i++) client_close(&c[i]);
    free(b);
    CHECK(server_stop(ts));
    free(ts);
}

TEST(graceful_stop_with_open_stream)
{
    vk_http_config_t cfg = {0};
    tserver_t *ts = server_start(cfg);
    client_t c;
    CHECK_EQ_INT(client_open(&c, ts->port, admin_crt, admin_key, NULL, 0, 0), 0);
    client_sends(&c, "GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
    rbuf_t *b = vk_xcalloc(1, sizeof *b);
    char line[256];
    CHECK(read_line(&c, b, line, sizeof line));
    CHECK(strstr(line, " 200 ") != NULL);
    /* An idle second connection too. */
    client_t idle;
    CHECK_EQ_INT(client_open(&idle, ts->port, NULL, NULL, NULL, 0, 0), 0);
    uv_async_send(&ts->stop_async);
    /* The watch ends cleanly: the rest of the headers, then the last chunk, then EOF. */
    resp_t dummy;
    (void)dummy;
    int saw_last_chunk = 0;
    while (read_line(&c, b, line, sizeof line)) {
        if (!strcmp(line, "0")) saw_last_chunk = 1;
    }
    CHECK(saw_last_chunk);
    rbuf_t *b2 = vk_xcalloc(1, sizeof *b2);
    CHECK(at_eof(&idle, b2));
    pthread_join(ts->thread, NULL);
    CHECK_EQ_INT(ts->loop_close_rc, 0);
    CHECK(atomic_load(&ts->done_cb_ran));
    CHECK_EQ_INT(atomic_load(&ts->closes), 1);
    client_close(&c);
    client_close(&idle);
    free(b);
    free(b2);
    free(ts);
}

TEST(start_errors)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_http_server_t *srv = NULL;
    char err[256];
    vk_http_config_t cfg = {.listen = "127.0.0.1:0", .cert_file = "/nonexistent.crt",
                            .key_file = key_file, .handler = handler};
    CHECK(vk_http_server_start(&loop, &cfg, &srv, err, sizeof err) < 0);
    CHECK(strstr(err, "nonexistent") != NULL);
    cfg.cert_file = cert_file;
    cfg.listen = "not-an-address";
    CHECK(vk_http_server_start(&loop, &cfg, &srv, err, sizeof err) < 0);
    cfg.listen = "127.0.0.1:0";
    cfg.key_file = admin_key; /* does not match the certificate */
    CHECK(vk_http_server_start(&loop, &cfg, &srv, err, sizeof err) < 0);
    /* A port in use. */
    cfg.key_file = key_file;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", main_srv->port);
    cfg.listen = addr;
    CHECK(vk_http_server_start(&loop, &cfg, &srv, err, sizeof err) < 0);
    CHECK(srv == NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

int main(void)
{
    make_fixtures();
    vk_http_config_t cfg = {.max_body_bytes = 4096, .max_header_bytes = 8192};
    main_srv = server_start(cfg);
    if (main_srv->start_rc) {
        printf("not ok test_http:start - server did not start\n");
        return 1;
    }
    RUN(tls_handshake_and_alpn);
    RUN(client_cert_identity);
    RUN(cert_from_other_ca_is_401);
    RUN(bearer_tokens);
    RUN(tokens_file_reloads);
    RUN(anonymous);
    RUN(keep_alive_and_pipelining);
    RUN(pipelining_without_reading_is_held_back);
    RUN(chunked_stream_with_flow_control);
    RUN(client_going_away_closes_stream);
    RUN(client_half_close_still_gets_response);
    RUN(body_too_large_is_413_status);
    RUN(header_too_large_is_431_status);
    RUN(garbage_is_400_not_a_crash);
    RUN(upgrade_hijack_echo);
    RUN(slow_client_and_idle_timeouts);
    RUN(streams_per_client_limit_429);
    RUN(graceful_stop_with_open_stream);
    RUN(start_errors);
    int clean = server_stop(main_srv);
    free(main_srv);
    if (!clean) {
        printf("not ok test_http:main_server_stop - loop did not close cleanly\n");
        vk_test_total_failed_++;
    } else {
        printf("ok test_http:main_server_stop\n");
    }
    remove_fixtures();
    TEST_EXIT();
}
