/* Unit tests for common/httpc against a small blocking TLS server running in
 * threads of this test (OpenSSL), and, when VKUBE_HOST_KUBECONFIG names a
 * kubeconfig of a running cluster, against that real kube-apiserver. */
#include "common/cert.h"
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the test server ---- */

#define MAX_CONNS 64

typedef struct {
    SSL_CTX *ctx;
    int lfd;
    int port;
    pthread_t accept_thread;
    pthread_t threads[MAX_CONNS];
    int fds[MAX_CONNS];
    atomic_int nconns;
    atomic_int stopping;
    pthread_mutex_t mu;
} server_t;

typedef struct {
    server_t *s;
    int fd;
} conn_arg_t;

static int ssl_write_all(SSL *ssl, const char *p, size_t n)
{
    while (n > 0) {
        int w = SSL_write(ssl, p, (int)n);
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static void respond(SSL *ssl, int status, const char *extra, const char *body)
{
    char head[512];
    snprintf(head, sizeof head,
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
             status, strlen(body), extra);
    ssl_write_all(ssl, head, strlen(head));
    ssl_write_all(ssl, body, strlen(body));
}

static char *json_escape(const char *s)
{
    json_t *j = json_string(s ? s : "");
    char *out = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return out;
}

static void *conn_main(void *arg)
{
    conn_arg_t *a = arg;
    server_t *s = a->s;
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, a->fd);
    if (SSL_accept(ssl) != 1) goto out;
    char cn[128] = "";
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof cn);
        X509_free(peer);
    }
    char buf[65536];
    size_t len = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, len, "\r\n\r\n", 4))) {
            if (len >= sizeof buf - 1) goto out;
            int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
            if (n <= 0) goto out;
            len += (size_t)n;
        }
        buf[len] = 0;
        size_t hlen = (size_t)(end - buf) + 4;
        char method[16] = "", path[1024] = "";
        sscanf(buf, "%15s %1023s", method, path);
        char auth[512] = "";
        char *h = strcasestr(buf, "\r\nAuthorization: ");
        if (h && h < end) sscanf(h + 17, "%511[^\r]", auth);
        size_t clen = 0;
        h = strcasestr(buf, "\r\nContent-Length: ");
        if (h && h < end) clen = strtoul(h + 18, NULL, 10);
        while (len < hlen + clen) {
            int n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len));
            if (n <= 0) goto out;
            len += (size_t)n;
        }
        char *body = strndup(buf + hlen, clen);
        memmove(buf, buf + hlen + clen, len - hlen - clen);
        len -= hlen + clen;
        if (strcmp(path, "/slow") == 0) {
            free(body);
            while (!atomic_load(&s->stopping) && SSL_read(ssl, buf, 1) > 0) {
            }
            goto out;
        }
        if (strcmp(path, "/stream") == 0) {
            /* Three lines, split across chunks at awkward places. */
            const char *chunks[] = {"{\"type\":\"ADDED\",", "\"n\":1}\n{\"type\":\"MODI",
                                    "FIED\",\"n\":2}\n", "{\"type\":\"DELETED\",\"n\":3}\n"};
            const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
            ssl_write_all(ssl, head, strlen(head));
            for (int i = 0; i < 4; i++) {
                char sz[32];
                snprintf(sz, sizeof sz, "%zx\r\n", strlen(chunks[i]));
                ssl_write_all(ssl, sz, strlen(sz));
                ssl_write_all(ssl, chunks[i], strlen(chunks[i]));
                ssl_write_all(ssl, "\r\n", 2);
                usleep(2000);
            }
            ssl_write_all(ssl, "0\r\n\r\n", 5);
            free(body);
            continue;
        }
        if (strcmp(path, "/missing") == 0) {
            respond(ssl, 404, "", "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
            free(body);
            continue;
        }
        if (strcmp(path, "/eof-body") == 0) {
            const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                            "until the end";
            ssl_write_all(ssl, r, strlen(r));
            free(body);
            goto out;
        }
        if (strcmp(path, "/big") == 0) {
            size_t n = 2u << 20;
            char head[200];
            snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
            ssl_write_all(ssl, head, strlen(head));
            char *z = calloc(1, n);
            memset(z, 'z', n);
            ssl_write_all(ssl, z, n);
            free(z);
            free(body);
            continue;
        }
        char *ea = json_escape(auth), *eb = json_escape(body), *ep = json_escape(path),
             *ec = json_escape(cn), *em = json_escape(method);
        char out[8192];
        snprintf(out, sizeof out, "{\"method\":%s,\"path\":%s,\"auth\":%s,\"cn\":%s,\"body\":%s}",
                 em, ep, ea, ec, eb);
        free(ea), free(eb), free(ep), free(ec), free(em), free(body);
        int close_after = strcmp(path, "/close") == 0;
        int drop_idle = strcmp(path, "/drop-idle") == 0;
        respond(ssl, 200, close_after ? "Connection: close\r\n" : "", out);
        if (close_after) goto out;
        if (drop_idle) { /* keep-alive promised, then the idle connection is dropped */
            usleep(50000);
            goto out;
        }
    }
out:
    SSL_shutdown(ssl);
    SSL_free(ssl);
    shutdown(a->fd, SHUT_RDWR);
    free(a);
    return NULL;
}

static void *accept_main(void *arg)
{
    server_t *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;
        if (atomic_load(&s->stopping)) {
            close(fd);
            break;
        }
        pthread_mutex_lock(&s->mu);
        int i = atomic_load(&s->nconns);
        if (i >= MAX_CONNS) {
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        conn_arg_t *a = malloc(sizeof *a);
        a->s = s, a->fd = fd;
        s->fds[i] = fd;
        pthread_create(&s->threads[i], NULL, conn_main, a);
        atomic_store(&s->nconns, i + 1);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static vk_cert_pem_t g_ca, g_srv, g_client, g_other_ca;

static int server_start(server_t *s, const char *ip)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->ctx = SSL_CTX_new(TLS_server_method());
    BIO *b = BIO_new_mem_buf(g_srv.cert, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(g_srv.key, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    SSL_CTX_use_certificate(s->ctx, x);
    SSL_CTX_use_PrivateKey(s->ctx, k);
    X509_free(x);
    EVP_PKEY_free(k);
    b = BIO_new_mem_buf(g_ca.cert, -1);
    x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(s->ctx), x);
    X509_free(x);
    SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, ip, &a.sin_addr);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 64) != 0) return -1;
    socklen_t al = sizeof a;
    getsockname(s->lfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->accept_thread, NULL, accept_main, s);
    return 0;
}

static void server_stop(server_t *s)
{
    atomic_store(&s->stopping, 1);
    shutdown(s->lfd, SHUT_RDWR);
    close(s->lfd);
    pthread_join(s->accept_thread, NULL);
    int n = atomic_load(&s->nconns);
    for (int i = 0; i < n; i++) shutdown(s->fds[i], SHUT_RDWR);
    for (int i = 0; i < n; i++) {
        pthread_join(s->threads[i], NULL);
        close(s->fds[i]);
    }
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
}

/* ---- client side helpers ---- */

typedef struct {
    int done, err, status;
    char *body;
    json_t *json;
    int lines;
    char line[8][128];
    int closed;
} result_t;

static void done_cb(int err, const vk_httpc_resp_t *resp, void *data)
{
    result_t *r = data;
    r->done++;
    r->err = err;
    if (resp) {
        r->status = resp->status;
        r->body = strndup(resp->body, resp->body_len);
        r->json = resp->json ? json_incref(resp->json) : NULL;
    }
}

static void line_cb(const char *line, size_t len, void *data)
{
    result_t *r = data;
    if (r->lines < 8) snprintf(r->line[r->lines], sizeof r->line[0], "%.*s", (int)len, line);
    r->lines++;
}

static void result_free(result_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static void kc_for(vk_kubeconfig_t *kc, const char *host, int port, const char *ca, int cert,
                   const char *token)
{
    memset(kc, 0, sizeof *kc);
    char url[128];
    snprintf(url, sizeof url, "https://%s:%d", host, port);
    kc->server = strdup(url);
    kc->ca_pem = ca ? strdup(ca) : NULL;
    kc->insecure = ca == NULL;
    if (cert) {
        kc->client_cert_pem = strdup(g_client.cert);
        kc->client_key_pem = strdup(g_client.key);
    }
    kc->token = token ? strdup(token) : NULL;
}

static void run_until(uv_loop_t *loop, const int *flag, int want)
{
    while (*flag < want && uv_run(loop, UV_RUN_ONCE)) {
    }
}

static void closed_cb(void *data)
{
    (*(int *)data)++;
}

/* Closes the client and checks that the loop ends with nothing left open. */
static void finish(uv_loop_t *loop, vk_httpc_t *c)
{
    int closed = 0;
    vk_httpc_close(c, closed_cb, &closed);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(uv_loop_close(loop), 0);
}

static vk_httpc_t *client(uv_loop_t *loop, vk_kubeconfig_t *kc, int max_conns)
{
    vk_httpc_t *c = NULL;
    char err[256];
    vk_httpc_opts_t o = {.max_conns = max_conns};
    int rc = vk_httpc_new(loop, kc, &o, &c, err, sizeof err);
    if (rc) fprintf(stderr, "  vk_httpc_new: %s\n", err);
    CHECK_EQ_INT(rc, 0);
    vk_kubeconfig_free(kc);
    return c;
}

/* Starts loop and a client of it for a kubeconfig of kc_for(host, port, ca,
 * cert, token); NULL (with a failed CHECK) when the client cannot be made. */
static vk_httpc_t *open_client(uv_loop_t *loop, const char *host, int port, const char *ca,
                               int cert, const char *token, int max_conns)
{
    vk_kubeconfig_t kc;
    uv_loop_init(loop);
    kc_for(&kc, host, port, ca, cert, token);
    return client(loop, &kc, max_conns);
}

/* Sends call (its done_cb fills r) and runs the loop until it is answered. */
static int send_wait(uv_loop_t *loop, vk_httpc_t *c, vk_httpc_call_t *call, result_t *r)
{
    int rc = vk_httpc_send(c, call, NULL);
    if (!rc) run_until(loop, &r->done, 1);
    return rc;
}

static server_t g_srv1;

TEST(json_request_with_token_and_body)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_ca.cert, 0, "tok-1", 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/json?x=1", .timeout_ms = 10000,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), 0);
    CHECK_EQ_INT(r.done, 0); /* never from inside send */
    run_until(&loop, &r.done, 1);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.json != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "auth")), "Bearer tok-1");
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "path")), "/json?x=1");
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "cn")), "");
    result_free(&r);

    json_t *body = json_pack("{s:s}", "kind", "Pod");
    call = (vk_httpc_call_t){.method = "POST", .path = "/json", .body_json = body,
                             .timeout_ms = 10000, .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), 0);
    json_decref(body);
    run_until(&loop, &r.done, 1);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "method")), "POST");
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "body")), "{\"kind\":\"Pod\"}");
    result_free(&r);

    call = (vk_httpc_call_t){.method = "GET", .path = "/missing", .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "reason")), "NotFound");
    result_free(&r);
    CHECK_EQ_INT(vk_httpc_conns_opened(c), 1); /* all three over one keep-alive connection */
    finish(&loop, c);
}

TEST(client_certificate_identifies_user)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "localhost", g_srv1.port, g_ca.cert, 1, NULL, 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/json", .timeout_ms = 10000,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "cn")), "alice");
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "auth")), "");
    result_free(&r);
    finish(&loop, c);
}

typedef struct {
    vk_httpc_t *c;
    int remaining, ok;
} chain_t;

static void chain_cb(int err, const vk_httpc_resp_t *resp, void *data)
{
    chain_t *ch = data;
    if (err == 0 && resp->status == 200) ch->ok++;
    if (--ch->remaining > 0) {
        vk_httpc_call_t call = {.method = "GET", .path = "/json", .done_cb = chain_cb, .data = ch};
        vk_httpc_send(ch->c, &call, NULL); /* from inside a callback */
    }
}

TEST(keep_alive_and_connection_limit)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_ca.cert, 0, "t", 2);
    if (!c) return;
    chain_t ch = {c, 10, 0};
    chain_cb(1, NULL, &ch); /* starts the chain without counting */
    ch.remaining = 10;
    while (ch.remaining > 0 && uv_run(&loop, UV_RUN_ONCE)) {
    }
    CHECK_EQ_INT(ch.ok, 10);
    CHECK_EQ_INT(vk_httpc_conns_opened(c), 1);
    /* Twelve at once over at most two connections. */
    result_t r[12] = {{0}};
    int total = 0;
    for (int i = 0; i < 12; i++) {
        vk_httpc_call_t call = {.method = "GET", .path = "/json", .timeout_ms = 20000,
                                .done_cb = done_cb, .data = &r[i]};
        CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), 0);
    }
    while (total < 12 && uv_run(&loop, UV_RUN_ONCE)) {
        total = 0;
        for (int i = 0; i < 12; i++) total += r[i].done;
    }
    for (int i = 0; i < 12; i++) {
        CHECK_EQ_INT(r[i].status, 200);
        result_free(&r[i]);
    }
    CHECK(vk_httpc_conns_opened(c) <= 2);
    CHECK(vk_httpc_conns_open(c) <= 2);
    finish(&loop, c);
}

TEST(streaming_lines_from_chunks)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_ca.cert, 0, "t", 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/stream", .line_cb = line_cb,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.lines, 3);
    CHECK_EQ_STR(r.line[0], "{\"type\":\"ADDED\",\"n\":1}");
    CHECK_EQ_STR(r.line[1], "{\"type\":\"MODIFIED\",\"n\":2}");
    CHECK_EQ_STR(r.line[2], "{\"type\":\"DELETED\",\"n\":3}");
    CHECK_EQ_INT(r.body ? strlen(r.body) : 99, 0);
    result_free(&r);
    /* A non-2xx answer to a streaming request arrives as a whole body. */
    call.path = "/missing";
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK_EQ_INT(r.lines, 0);
    CHECK(r.json != NULL);
    result_free(&r);
    finish(&loop, c);
}

static void cancel_timer_cb(uv_timer_t *t)
{
    vk_httpc_cancel(t->data);
}

TEST(timeout_cancel_close_and_body_until_eof)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_ca.cert, 0, "t", 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/slow", .timeout_ms = 100,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, VK_ETIMEOUT);
    result_free(&r);

    vk_httpc_req_t *req = NULL;
    call.timeout_ms = 0;
    CHECK_EQ_INT(vk_httpc_send(c, &call, &req), 0);
    uv_timer_t t;
    uv_timer_init(&loop, &t);
    t.data = req;
    uv_timer_start(&t, cancel_timer_cb, 50, 0);
    run_until(&loop, &r.done, 1);
    CHECK_EQ_INT(r.err, -ECANCELED);
    CHECK_EQ_INT(r.done, 1);
    result_free(&r);
    uv_close((uv_handle_t *)&t, NULL);

    call = (vk_httpc_call_t){.method = "GET", .path = "/eof-body", .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "until the end");
    result_free(&r);

    /* Closing the client with a request in flight fails it with VK_ECLOSED. */
    call = (vk_httpc_call_t){.method = "GET", .path = "/slow", .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    int closed = 0;
    vk_httpc_close(c, closed_cb, &closed);
    CHECK_EQ_INT(r.done, 1);
    CHECK_EQ_INT(r.err, VK_ECLOSED);
    call.path = "/json";
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), VK_ECLOSED);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(closed, 1);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    result_free(&r);
}

TEST(stale_keep_alive_connection_is_retried)
{
    uv_loop_t loop;
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_ca.cert, 0, "t", 1);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/drop-idle", .timeout_ms = 10000,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    result_free(&r);
    /* Send right away: the server drops the connection soon after. */
    call.path = "/json";
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.status, 200);
    result_free(&r);
    CHECK_EQ_INT(vk_httpc_conns_opened(c), 2);
    finish(&loop, c);
}

TEST(tls_verification_and_connect_errors)
{
    uv_loop_t loop;
    /* Wrong CA: refused. */
    vk_httpc_t *c = open_client(&loop, "127.0.0.1", g_srv1.port, g_other_ca.cert, 0, "t", 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/json", .timeout_ms = 10000,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, VK_EUNAVAILABLE);
    result_free(&r);
    finish(&loop, c);

    /* Insecure: accepted without a CA. */
    c = open_client(&loop, "127.0.0.1", g_srv1.port, NULL, 0, "t", 0);
    if (!c) return;
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    result_free(&r);
    finish(&loop, c);

    /* The right CA but an address the certificate does not name. */
    server_t other;
    if (server_start(&other, "127.0.0.2") == 0) {
        c = open_client(&loop, "127.0.0.2", other.port, g_ca.cert, 0, "t", 0);
        if (c) {
            CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
            CHECK_EQ_INT(r.err, VK_EUNAVAILABLE);
            result_free(&r);
            finish(&loop, c);
        }
        server_stop(&other);
    }

    /* Nothing listening. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    c = open_client(&loop, "127.0.0.1", ntohs(a.sin_port), g_ca.cert, 0, "t", 0);
    if (!c) return;
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, VK_EUNAVAILABLE);
    result_free(&r);
    finish(&loop, c);
}

TEST(bad_arguments_and_limits)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_httpc_t *c = NULL;
    char err[256];
    vk_kubeconfig_t kc = {.server = "http://127.0.0.1:1"};
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err), VK_EINVALID);
    CHECK(strstr(err, "https://") != NULL);
    kc.server = "https://127.0.0.1:1";
    kc.ca_pem = "not a pem";
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err), VK_EINVALID);
    CHECK(c == NULL);
    kc.ca_pem = g_ca.cert;
    kc.client_cert_pem = g_client.cert;
    kc.client_key_pem = g_srv.key; /* does not match */
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err), VK_EINVALID);
    CHECK(strstr(err, "client certificate") != NULL);
    kc.client_cert_pem = kc.client_key_pem = NULL;
    char url[64];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", g_srv1.port);
    kc.server = url;
    vk_httpc_opts_t o = {.max_body_bytes = 1u << 20};
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, &o, &c, err, sizeof err), 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "no-slash", .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), VK_EINVALID);
    call.path = "/x\r\nEvil: 1";
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), VK_EINVALID);
    const char *hdrs[] = {"X-Bad", "a\nb", NULL};
    call.path = "/json";
    call.headers = hdrs;
    CHECK_EQ_INT(vk_httpc_send(c, &call, NULL), VK_EINVALID);
    call.headers = NULL;
    call.path = "/big"; /* 2 MiB against a 1 MiB limit */
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, VK_ETOOLARGE);
    result_free(&r);
    finish(&loop, c);
}

/* ---- the real host cluster, when one is given ---- */

TEST(real_apiserver_version_list_and_watch)
{
    const char *path = getenv("VKUBE_HOST_KUBECONFIG");
    if (!path || !*path) {
        fprintf(stderr, "  (VKUBE_HOST_KUBECONFIG not set: real API server part not run)\n");
        return;
    }
    vk_kubeconfig_t kc;
    char err[256];
    int rc = vk_kubeconfig_load(path, &kc, err, sizeof err);
    if (rc) fprintf(stderr, "  %s\n", err);
    CHECK_EQ_INT(rc, 0);
    if (rc) return;
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_httpc_t *c = client(&loop, &kc, 0);
    if (!c) return;
    result_t r = {0};
    vk_httpc_call_t call = {.method = "GET", .path = "/version", .timeout_ms = 10000,
                            .done_cb = done_cb, .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_string_value(json_object_get(r.json, "gitVersion")) != NULL);
    result_free(&r);
    call.path = "/api/v1/namespaces?limit=1";
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(json_string_value(json_object_get(r.json, "kind")), "NamespaceList");
    result_free(&r);
    /* A watch with a server-side timeout streams at least the initial ADDED events. */
    call = (vk_httpc_call_t){.method = "GET",
                             .path = "/api/v1/namespaces?watch=1&timeoutSeconds=1",
                             .line_cb = line_cb, .timeout_ms = 30000, .done_cb = done_cb,
                             .data = &r};
    CHECK_EQ_INT(send_wait(&loop, c, &call, &r), 0);
    CHECK_EQ_INT(r.err, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(r.lines >= 1);
    CHECK(strstr(r.line[0], "\"type\":\"ADDED\"") != NULL);
    result_free(&r);
    finish(&loop, c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as in vkube itself: peers that hang up are not fatal */
    const char *client_groups[] = {"devs", NULL};
    if (vk_cert_make_ca("test-ca", 1, &g_ca) || vk_cert_make_ca("other-ca", 1, &g_other_ca) ||
        vk_cert_make_serving(&g_ca, "server", NULL, 1, &g_srv) ||
        vk_cert_make_client(&g_ca, "alice", client_groups, 1, &g_client)) {
        printf("not ok test_httpc:setup - cannot make certificates\n");
        return 1;
    }
    if (server_start(&g_srv1, "127.0.0.1") != 0) {
        printf("not ok test_httpc:setup - cannot start the TLS server\n");
        return 1;
    }
    RUN(json_request_with_token_and_body);
    RUN(client_certificate_identifies_user);
    RUN(keep_alive_and_connection_limit);
    RUN(streaming_lines_from_chunks);
    RUN(timeout_cancel_close_and_body_until_eof);
    RUN(stale_keep_alive_connection_is_retried);
    RUN(tls_verification_and_connect_errors);
    RUN(bad_arguments_and_limits);
    RUN(real_apiserver_version_list_and_watch);
    server_stop(&g_srv1);
    vk_cert_pem_free(&g_ca);
    vk_cert_pem_free(&g_other_ca);
    vk_cert_pem_free(&g_srv);
    vk_cert_pem_free(&g_client);
    TEST_EXIT();
}
