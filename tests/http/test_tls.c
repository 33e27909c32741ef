/* Tests for proxy/http's TLS setup (make_ctx): the CA names a server asks
 * client certificates from, and no session resumption (no TLS 1.3 tickets, no
 * TLS 1.2 session IDs). A blocking OpenSSL client in this thread against a
 * vk_http server on a libuv loop in a second thread. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "../test.h"
#include "common/cert.h"
#include "common/mem.h"
#include "proxy/http.h"

static char tmpdir[64], ca_file[128], cert_file[128], key_file[128], admin_crt[128],
    admin_key[128];

static void put(char *path, size_t size, const char *name, const char *data)
{
    snprintf(path, size, "%s/%s", tmpdir, name);
    if (vk_cert_write_file(path, data, 0600)) exit(1);
}

/* Two CAs in the client CA file; the admin certificate comes from the first. */
static void make_fixtures(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vk-test-tls-XXXXXX");
    if (!mkdtemp(tmpdir)) exit(1);
    vk_cert_pem_t ca, ca2, srv, admin;
    const char *masters[] = {"system:masters", NULL};
    if (vk_cert_make_ca("tls-test-ca", 1, &ca) || vk_cert_make_ca("tls-second-ca", 1, &ca2) ||
        vk_cert_make_serving(&ca, "srv", NULL, 1, &srv) ||
        vk_cert_make_client(&ca, "admin", masters, 1, &admin))
        exit(1);
    char *both = vk_xasprintf("%s%s", ca.cert, ca2.cert);
    put(ca_file, sizeof ca_file, "ca.crt", both);
    put(cert_file, sizeof cert_file, "srv.crt", srv.cert);
    put(key_file, sizeof key_file, "srv.key", srv.key);
    put(admin_crt, sizeof admin_crt, "admin.crt", admin.cert);
    put(admin_key, sizeof admin_key, "admin.key", admin.key);
    free(both);
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&ca2);
    vk_cert_pem_free(&srv);
    vk_cert_pem_free(&admin);
}

static void remove_fixtures(void)
{
    const char *files[] = {ca_file, cert_file, key_file, admin_crt, admin_key};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) unlink(files[i]);
    rmdir(tmpdir);
}

/* ---- the server, on its own thread ---- */

typedef struct tserver {
    uv_loop_t loop;
    uv_async_t stop;
    vk_http_server_t *srv;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started, start_rc, port, loop_close_rc;
} tserver_t;

static void handler(void *ctx, vk_http_req_t *req)
{
    const char *who = req->user.authenticated ? req->user.name : "anonymous";
    vk_http_respond(req, 200, "text/plain", who, strlen(who));
}

static void on_stopped(void *arg)
{
    tserver_t *ts = arg;
    uv_close((uv_handle_t *)&ts->stop, NULL);
}

static void on_stop(uv_async_t *a)
{
    tserver_t *ts = a->data;
    vk_http_server_stop(ts->srv, on_stopped, ts);
}

static void *server_thread(void *arg)
{
    tserver_t *ts = arg;
    vk_http_config_t cfg = {.listen = "127.0.0.1:0", .cert_file = cert_file,
                            .key_file = key_file, .client_ca_file = ca_file,
                            .handler = handler, .ctx = ts};
    uv_loop_init(&ts->loop);
    uv_async_init(&ts->loop, &ts->stop, on_stop);
    ts->stop.data = ts;
    char err[256];
    int rc = vk_http_server_start(&ts->loop, &cfg, &ts->srv, err, sizeof err);
    if (rc) fprintf(stderr, "server start: %s\n", err);
    pthread_mutex_lock(&ts->mu);
    ts->start_rc = rc;
    if (!rc) ts->port = atoi(strrchr(vk_http_server_address(ts->srv), ':') + 1);
    ts->started = 1;
    pthread_cond_signal(&ts->cv);
    pthread_mutex_unlock(&ts->mu);
    if (rc) uv_close((uv_handle_t *)&ts->stop, NULL);
    uv_run(&ts->loop, UV_RUN_DEFAULT);
    ts->loop_close_rc = uv_loop_close(&ts->loop);
    return NULL;
}

static void server_start(tserver_t *ts)
{
    memset(ts, 0, sizeof *ts);
    pthread_mutex_init(&ts->mu, NULL);
    pthread_cond_init(&ts->cv, NULL);
    pthread_create(&ts->thread, NULL, server_thread, ts);
    pthread_mutex_lock(&ts->mu);
    while (!ts->started) pthread_cond_wait(&ts->cv, &ts->mu);
    pthread_mutex_unlock(&ts->mu);
}

static int server_stop(tserver_t *ts)
{
    uv_async_send(&ts->stop);
    pthread_join(ts->thread, NULL);
    pthread_mutex_destroy(&ts->mu);
    pthread_cond_destroy(&ts->cv);
    return ts->loop_close_rc;
}

/* ---- the client ---- */

typedef struct client {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    int new_sessions; /* sessions the client could resume (tickets, TLS 1.2 IDs) */
    char reply[512];  /* the whole response */
} client_t;

static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    client_t *c = SSL_get_app_data(ssl);
    if (SSL_SESSION_is_resumable(sess)) c->new_sessions++;
    return 0; /* not kept */
}

/* One connection with the admin certificate, TLS version `version`, one GET
 * read to the end (so tickets sent after the handshake have arrived). 0 or -1. */
static int client_get(client_t *c, int port, int version)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa)) return -1;
    c->ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c->ctx, version);
    SSL_CTX_set_max_proto_version(c->ctx, version);
    SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_use_certificate_file(c->ctx, admin_crt, SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(c->ctx, admin_key, SSL_FILETYPE_PEM);
    SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(c->ctx, on_new_session);
    c->ssl = SSL_new(c->ctx);
    SSL_set_app_data(c->ssl, c);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) return -1;
    const char *req = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    if (SSL_write(c->ssl, req, (int)strlen(req)) <= 0) return -1;
    size_t len = 0;
    int n;
    while (len < sizeof c->reply - 1 &&
           (n = SSL_read(c->ssl, c->reply + len, (int)(sizeof c->reply - 1 - len))) > 0)
        len += (size_t)n;
    c->reply[len] = 0;
    return 0;
}

static void client_close(client_t *c)
{
    if (c->ssl) SSL_free(c->ssl);
    if (c->ctx) SSL_CTX_free(c->ctx);
    if (c->fd > 0) close(c->fd);
}

/* ---- tests ---- */

static tserver_t server;

static int has_name(const STACK_OF(X509_NAME) * names, const char *cn)
{
    for (int i = 0; names && i < sk_X509_NAME_num(names); i++) {
        char buf[128];
        if (X509_NAME_get_text_by_NID(sk_X509_NAME_value(names, i), NID_commonName, buf,
                                      sizeof buf) > 0 &&
            !strcmp(buf, cn))
            return 1;
    }
    return 0;
}

TEST(client_ca_names_are_every_ca_of_the_file)
{
    client_t c;
    CHECK(client_get(&c, server.port, TLS1_2_VERSION) == 0);
    const STACK_OF(X509_NAME) *names = SSL_get_client_CA_list(c.ssl);
    CHECK_EQ_INT(names ? sk_X509_NAME_num(names) : -1, 2);
    CHECK(has_name(names, "tls-test-ca"));
    CHECK(has_name(names, "tls-second-ca"));
    CHECK(strstr(c.reply, "200 OK") && strstr(c.reply, "\r\n\r\nadmin"));
    client_close(&c);
}

TEST(tls13_sends_no_session_ticket)
{
    client_t c;
    CHECK(client_get(&c, server.port, TLS1_3_VERSION) == 0);
    CHECK_EQ_INT(SSL_version(c.ssl), TLS1_3_VERSION);
    CHECK(strstr(c.reply, "\r\n\r\nadmin") != NULL);
    CHECK_EQ_INT(c.new_sessions, 0);
    CHECK_EQ_INT(SSL_SESSION_is_resumable(SSL_get_session(c.ssl)), 0);
    client_close(&c);
}

TEST(tls12_gives_no_session_id_or_ticket)
{
    client_t c;
    CHECK(client_get(&c, server.port, TLS1_2_VERSION) == 0);
    CHECK_EQ_INT(SSL_version(c.ssl), TLS1_2_VERSION);
    CHECK(strstr(c.reply, "\r\n\r\nadmin") != NULL);
    CHECK_EQ_INT(c.new_sessions, 0);
    unsigned int idlen = 99;
    SSL_SESSION_get_id(SSL_get_session(c.ssl), &idlen);
    CHECK_EQ_INT(idlen, 0);
    CHECK_EQ_INT(SSL_SESSION_has_ticket(SSL_get_session(c.ssl)), 0);
    client_close(&c);
}

int main(void)
{
    make_fixtures();
    server_start(&server);
    if (server.start_rc) {
        printf("not ok tests/http/test_tls.c:server_start - %d\n", server.start_rc);
        return 1;
    }
    RUN(client_ca_names_are_every_ca_of_the_file);
    RUN(tls13_sends_no_session_ticket);
    RUN(tls12_gives_no_session_id_or_ticket);
    int closed = server_stop(&server);
    remove_fixtures();
    if (closed) {
        printf("not ok tests/http/test_tls.c:loop_close - handles left open\n");
        return 1;
    }
    TEST_EXIT();
}
