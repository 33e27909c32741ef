/* http_bench: throughput of the proxy/http transport alone (a trivial handler
 * answering 200 with a small JSON body), measured with OpenSSL client threads:
 *   - keep-alive GETs on 1 and 4 connections (requests/s)
 *   - a new TLS connection per request (handshakes/s)
 *   - one chunked stream of 64 KiB chunks (MB/s, exercising flow control)
 * Figures are printed, never asserted. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common/cert.h"
#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/http.h"

static char ca_path[256], crt_path[256], key_path[256];
static int port;
static uv_loop_t loop;
static uv_async_t stop_async;
static vk_http_server_t *srv;

typedef struct streamer {
    vk_http_req_t *req;
    long left;
    char chunk[65536];
} streamer_t;

static void pump(streamer_t *st);
static void on_drain(void *arg, vk_http_req_t *req)
{
    pump(arg);
}
static void on_close(void *arg, vk_http_req_t *req)
{
    vk_http_stream_end(req);
    free(arg);
}
static void pump(streamer_t *st)
{
    while (st->left > 0) {
        st->left--;
        int rc = vk_http_stream_write(st->req, st->chunk, sizeof st->chunk);
        if (rc == VK_ECLOSED) return;
        if (rc == VK_EAGAIN) {
            vk_http_stream_on_drain(st->req, on_drain, st);
            return;
        }
    }
    vk_http_stream_end(st->req);
    free(st);
}

static void handler(void *ctx, vk_http_req_t *req)
{
    if (!strcmp(req->path, "/stream")) {
        streamer_t *st = vk_xcalloc(1, sizeof *st);
        st->req = req;
        st->left = atol(vk_http_query(req, "n"));
        memset(st->chunk, 'x', sizeof st->chunk);
        vk_http_stream_begin(req, 200, "application/json", on_close, st);
        pump(st);
        return;
    }
    static const char body[] = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Success\"}";
    vk_http_respond(req, 200, "application/json", body, sizeof body - 1);
}

static void on_stop(uv_async_t *a)
{
    vk_http_server_stop(srv, NULL, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void *server_main(void *arg)
{
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

typedef struct client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} client_t;

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, ca_path, NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

static int client_open(client_t *c, SSL_CTX *ctx)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as Go clients do */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void client_close(client_t *c)
{
    SSL_free(c->ssl);
    close(c->fd);
}

/* Sends one GET and reads the whole (Content-Length) response. */
static int one_get(client_t *c, const char *req, size_t reqlen)
{
    if (SSL_write(c->ssl, req, (int)reqlen) <= 0) return -1;
    char buf[4096];
    size_t got = 0;
    for (;;) {
        int n = SSL_read(c->ssl, buf + got, (int)(sizeof buf - got - 1));
        if (n <= 0) return -1;
        got += (size_t)n;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        char *cl = strstr(buf, "Content-Length: ");
        if (end && cl && got >= (size_t)(end + 4 - buf) + (size_t)atol(cl + 16)) return 0;
    }
}

typedef struct job {
    int requests;
    int new_conn_each;
    int errors;
} job_t;

static void *client_main(void *arg)
{
    job_t *j = arg;
    SSL_CTX *ctx = client_ctx();
    static const char req[] = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n";
    client_t c;
    if (!j->new_conn_each && client_open(&c, ctx)) {
        j->errors++;
        SSL_CTX_free(ctx);
        return NULL;
    }
    for (int i = 0; i < j->requests; i++) {
        if (j->new_conn_each && client_open(&c, ctx)) {
            j->errors++;
            break;
        }
        if (one_get(&c, req, sizeof req - 1)) j->errors++;
        if (j->new_conn_each) client_close(&c);
    }
    if (!j->new_conn_each) client_close(&c);
    SSL_CTX_free(ctx);
    return NULL;
}

static double now(void)
{
    return (double)uv_hrtime() / 1e9;
}

static void run_clients(const char *what, int nclients, int per_client, int new_conn)
{
    pthread_t t[16];
    job_t jobs[16];
    double t0 = now();
    for (int i = 0; i < nclients; i++) {
        jobs[i] = (job_t){.requests = per_client, .new_conn_each = new_conn};
        pthread_create(&t[i], NULL, client_main, &jobs[i]);
    }
    int errors = 0;
    for (int i = 0; i < nclients; i++) {
        pthread_join(t[i], NULL);
        errors += jobs[i].errors;
    }
    double dt = now() - t0;
    int total = nclients * per_client;
    printf("%-44s %8.0f req/s  (%d requests, %.2fs, %d errors)\n", what, total / dt, total, dt,
           errors);
}

static void run_stream(int chunks)
{
    SSL_CTX *ctx = client_ctx();
    client_t c;
    if (client_open(&c, ctx)) {
        printf("stream: connect failed\n");
        return;
    }
    char req[128];
    int l = snprintf(req, sizeof req, "GET /stream?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", chunks);
    double t0 = now();
    SSL_write(c.ssl, req, l);
    size_t total = 0;
    char buf[65536];
    for (;;) {
        int n = SSL_read(c.ssl, buf, sizeof buf);
        if (n <= 0) break;
        total += (size_t)n;
        if (total > 5 && !memcmp(buf + n - 5, "0\r\n\r\n", 5)) break;
    }
    double dt = now() - t0;
    printf("%-44s %8.1f MB/s (%.1f MB, %.2fs)\n", "chunked stream, 64 KiB chunks, 1 conn",
           total / dt / 1e6, total / 1e6, dt);
    client_close(&c);
    SSL_CTX_free(ctx);
}

int main(int argc, char **argv)
{
    vk_log_set_level(VK_LOG_WARN);
    char dir[] = "/tmp/vk-http-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    vk_cert_pem_t ca, s;
    if (vk_cert_make_ca("bench-ca", 1, &ca) || vk_cert_make_serving(&ca, "srv", NULL, 1, &s))
        return 1;
    snprintf(ca_path, sizeof ca_path, "%s/ca.crt", dir);
    snprintf(crt_path, sizeof crt_path, "%s/srv.crt", dir);
    snprintf(key_path, sizeof key_path, "%s/srv.key", dir);
    vk_cert_write_file(ca_path, ca.cert, 0600);
    vk_cert_write_file(crt_path, s.cert, 0600);
    vk_cert_write_file(key_path, s.key, 0600);
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&s);

    uv_loop_init(&loop);
    uv_async_init(&loop, &stop_async, on_stop);
    vk_http_config_t cfg = {.listen = "127.0.0.1:0", .cert_file = crt_path, .key_file = key_path,
                            .client_ca_file = ca_path, .handler = handler};
    char err[256];
    if (vk_http_server_start(&loop, &cfg, &srv, err, sizeof err)) {
        fprintf(stderr, "start: %s\n", err);
        return 1;
    }
    port = atoi(strrchr(vk_http_server_address(srv), ':') + 1);
    pthread_t st;
    pthread_create(&st, NULL, server_main, NULL);

    int scale = argc > 1 ? atoi(argv[1]) : 1;
    printf("proxy/http over TLS on loopback (server: 1 loop thread; clients: OpenSSL threads)\n");
    const char *only = argc > 2 ? argv[2] : "";
    if (!*only || !strcmp(only, "get")) {
        run_clients("keep-alive GET, 1 connection", 1, 20000 * scale, 0);
        run_clients("keep-alive GET, 4 connections", 4, 10000 * scale, 0);
    }
    if (!*only || !strcmp(only, "tls")) {
        run_clients("new TLS connection per GET, 1 client", 1, 500 * scale, 1);
        run_clients("new TLS connection per GET, 4 clients", 4, 250 * scale, 1);
    }
    if (!*only || !strcmp(only, "stream")) run_stream(2000 * scale);

    uv_async_send(&stop_async);
    pthread_join(st, NULL);
    uv_loop_close(&loop);
    unlink(ca_path);
    unlink(crt_path);
    unlink(key_path);
    rmdir(dir);
    return 0;
}
