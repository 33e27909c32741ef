/* Unit tests for syncer/informer against a scripted fake API server (TLS, in
 * threads of this test): paged list, watch with events and bookmarks, resume
 * after a watch ends, relist after "410 Gone" with the differences delivered
 * as events, retry after a 500, label selector escaping, stop. */
#include "common/cert.h"
#include "common/err.h"
#include "common/httpc.h"
#include "syncer/informer.h"
#include "tests/test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static vk_cert_pem_t g_ca, g_srv;

typedef struct {
    SSL_CTX *ctx;
    int lfd, port;
    pthread_t accept_thread, threads[32];
    int fds[32];
    atomic_int nconns, stopping;
    pthread_mutex_t mu;
    char paths[32][512]; /* requests seen, in order */
    int npaths;
    int lists, watch20;
} server_t;

static int wr(SSL *ssl, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        int w = SSL_write(ssl, s, (int)n);
        if (w <= 0) return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

static void json_resp(SSL *ssl, int status, const char *body)
{
    char head[256];
    snprintf(head, sizeof head, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             status, strlen(body));
    wr(ssl, head);
    wr(ssl, body);
}

static void chunk(SSL *ssl, const char *line)
{
    char sz[32];
    snprintf(sz, sizeof sz, "%zx\r\n", strlen(line) + 1);
    wr(ssl, sz);
    wr(ssl, line);
    wr(ssl, "\n\r\n");
}

#define POD(n, rv) "{\"metadata\":{\"name\":\"" n "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}"
#define EV(t, obj) "{\"type\":\"" t "\",\"object\":" obj "}"

/* Answers one request; returns 0 to keep the connection, -1 to close it. */
static int handle(server_t *s, SSL *ssl, const char *path)
{
    pthread_mutex_lock(&s->mu);
    if (s->npaths < 32) snprintf(s->paths[s->npaths++], sizeof s->paths[0], "%.500s", path);
    int is_watch = strstr(path, "watch=1") != NULL;
    int lists = is_watch ? s->lists : ++s->lists;
    int w20 = is_watch && strstr(path, "resourceVersion=20") ? ++s->watch20 : 0;
    pthread_mutex_unlock(&s->mu);
    if (!is_watch) {
        if (strstr(path, "continue=c1"))
            json_resp(ssl, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"10\"},"
                                "\"items\":[" POD("c", "3") "]}");
        else if (lists == 1)
            json_resp(ssl, 200, "{\"kind\":\"PodList\",\"metadata\":{\"continue\":\"c1\"},"
                                "\"items\":[" POD("a", "1") "," POD("b", "2") "]}");
        else
            json_resp(ssl, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"20\"},"
                                "\"items\":[" POD("a", "12") "," POD("c", "3") "," POD("e", "15") "]}");
        return 0;
    }
    if (w20 == 1) {
        json_resp(ssl, 500, "{\"kind\":\"Status\",\"code\":500}");
        return 0;
    }
    wr(ssl, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    if (strstr(path, "resourceVersion=10")) {
        chunk(ssl, EV("ADDED", POD("d", "11")));
        chunk(ssl, EV("MODIFIED", POD("a", "12")));
        chunk(ssl, EV("DELETED", POD("b", "13")));
        chunk(ssl, EV("BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"14\"}}"));
        wr(ssl, "0\r\n\r\n");
        return 0;
    }
    if (strstr(path, "resourceVersion=14")) {
        chunk(ssl, EV("ERROR", "{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}"));
        wr(ssl, "0\r\n\r\n");
        return 0;
    }
    /* resourceVersion=20 the second time: stay open until the client goes. */
    char b;
    while (!atomic_load(&s->stopping) && SSL_read(ssl, &b, 1) > 0) {
    }
    return -1;
}

static void *conn_main(void *arg)
{
    server_t *s = ((void **)arg)[0];
    int fd = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    SSL *ssl = SSL_new(s->ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) == 1) {
        char buf[8192];
        size_t len = 0;
        for (;;) {
            char *end;
            int n = 0;
            while (!(end = memmem(buf, len, "\r\n\r\n", 4)) && len < sizeof buf - 1 &&
                   (n = SSL_read(ssl, buf + len, (int)(sizeof buf - 1 - len))) > 0)
                len += (size_t)n;
            if (!end) break;
            buf[len] = 0;
            char path[1024] = "";
            sscanf(buf, "%*s %1023s", path);
            size_t used = (size_t)(end - buf) + 4;
            memmove(buf, buf + used, len - used);
            len -= used;
            if (handle(s, ssl, path) != 0) break;
        }
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    shutdown(fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    server_t *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0 || atomic_load(&s->stopping)) {
            if (fd >= 0) close(fd);
            break;
        }
        int i = atomic_load(&s->nconns);
        if (i >= 32) {
            close(fd);
            continue;
        }
        void **a = malloc(2 * sizeof *a);
        a[0] = s, a[1] = (void *)(intptr_t)fd;
        s->fds[i] = fd;
        pthread_create(&s->threads[i], NULL, conn_main, a);
        atomic_store(&s->nconns, i + 1);
    }
    return NULL;
}

static int server_start(server_t *s)
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
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) || listen(s->lfd, 16)) return -1;
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

#define LOGSZ 1024
typedef struct {
    char *log; /* LOGSZ bytes */
    int synced;
    vk_informer_t *inf;
} obs_t;

static void on_event(void *data, const char *type, const json_t *obj, const json_t *old)
{
    obs_t *o = data;
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    size_t n = strlen(o->log);
    snprintf(o->log + n, LOGSZ - n, "%s%s %s", n ? "," : "", type, name ? name : "?");
    /* old is the previous version for MODIFIED, NULL for ADDED. */
    if (!strcmp(type, "ADDED") && old) strcat(o->log, "(old!)");
    if (!strcmp(type, "MODIFIED") && !old) strcat(o->log, "(no old!)");
}

static void on_synced(void *data)
{
    obs_t *o = data;
    o->synced++;
    strcat(o->log, o->log[0] ? ",SYNCED" : "SYNCED");
}

TEST(list_watch_resume_relist_retry)
{
    server_t s;
    CHECK_EQ_INT(server_start(&s), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], err[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    vk_kubeconfig_t kc = {.server = url, .ca_pem = g_ca.cert, .token = "t"};
    vk_httpc_t *c = NULL;
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err), 0);
    if (!c) return;
    obs_t o = {.log = calloc(1, LOGSZ)};
    vk_informer_config_t cfg = {.path = "/api/v1/namespaces/ns/pods",
                                .label_selector = "app in (a,b)",
                                .page_size = 2,
                                .watch_timeout_s = 30,
                                .retry_min_ms = 10,
                                .retry_max_ms = 50,
                                .event_cb = on_event,
                                .synced_cb = on_synced,
                                .data = &o};
    vk_informer_t *inf = NULL;
    CHECK_EQ_INT(vk_informer_start(c, &cfg, &inf), 0);
    CHECK_EQ_STR(o.log, ""); /* nothing from inside start */
    /* Run until the informer sits in its final watch (resourceVersion 20, second try). */
    for (int i = 0; i < 100000 && !(s.watch20 >= 2 && o.synced >= 2); i++) uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ_STR(o.log, "ADDED a,ADDED b,ADDED c,SYNCED,ADDED d,MODIFIED a,DELETED b,"
                        "ADDED e,DELETED d,SYNCED");
    CHECK_EQ_INT(vk_informer_lists(inf), 2);
    CHECK(vk_informer_watches(inf) >= 4);
    CHECK(vk_informer_synced(inf));
    CHECK(vk_informer_get(inf, "ns/a") != NULL && vk_informer_get(inf, "ns/e") != NULL);
    CHECK(vk_informer_get(inf, "ns/b") == NULL && vk_informer_get(inf, "ns/d") == NULL);
    json_t *all = vk_informer_list(inf);
    CHECK_EQ_INT(json_array_size(all), 3);
    json_decref(all);
    pthread_mutex_lock(&s.mu);
    CHECK(s.npaths >= 7);
    CHECK(strstr(s.paths[0], "limit=2") && strstr(s.paths[0], "labelSelector=app%20in%20%28a%2Cb%29"));
    CHECK(strstr(s.paths[1], "continue=c1") != NULL);
    CHECK(strstr(s.paths[2], "watch=1") && strstr(s.paths[2], "resourceVersion=10") &&
          strstr(s.paths[2], "allowWatchBookmarks=true"));
    CHECK(strstr(s.paths[3], "resourceVersion=14") != NULL); /* resumed from the bookmark */
    CHECK(strstr(s.paths[4], "watch=1") == NULL);            /* relist after 410 */
    CHECK(strstr(s.paths[5], "resourceVersion=20") && strstr(s.paths[6], "resourceVersion=20"));
    pthread_mutex_unlock(&s.mu);
    vk_informer_stop(inf);
    int closed = 0;
    vk_httpc_close(c, NULL, &closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    server_stop(&s);
    free(o.log);
}

static void stop_in_cb(void *data, const char *type, const json_t *obj, const json_t *old)
{
    obs_t *o = data;
    on_event(data, type, obj, old);
    vk_informer_stop(o->inf);
}

TEST(stop_inside_a_callback)
{
    server_t s;
    CHECK_EQ_INT(server_start(&s), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64], err[256];
    snprintf(url, sizeof url, "https://127.0.0.1:%d", s.port);
    vk_kubeconfig_t kc = {.server = url, .ca_pem = g_ca.cert};
    vk_httpc_t *c = NULL;
    CHECK_EQ_INT(vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err), 0);
    if (!c) return;
    obs_t o = {.log = calloc(1, LOGSZ)};
    vk_informer_config_t cfg = {.path = "/api/v1/namespaces/ns/pods", .page_size = 2,
                                .event_cb = stop_in_cb, .data = &o};
    CHECK_EQ_INT(vk_informer_start(c, &cfg, &o.inf), 0);
    for (int i = 0; i < 1000 && !o.log[0]; i++) uv_run(&loop, UV_RUN_ONCE);
    for (int i = 0; i < 20; i++) uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ_STR(o.log, "ADDED a"); /* nothing after stop */
    vk_httpc_close(c, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
    server_stop(&s);
    free(o.log);
    vk_informer_config_t bad = {.path = "no-slash", .event_cb = on_event};
    vk_informer_t *inf;
    CHECK_EQ_INT(vk_informer_start((vk_httpc_t *)&bad, &bad, &inf), VK_EINVALID);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (vk_cert_make_ca("test-ca", 1, &g_ca) || vk_cert_make_serving(&g_ca, "server", NULL, 1, &g_srv)) {
        printf("not ok test_informer:setup - certificates\n");
        return 1;
    }
    RUN(list_watch_resume_relist_retry);
    RUN(stop_inside_a_callback);
    vk_cert_pem_free(&g_ca);
    vk_cert_pem_free(&g_srv);
    TEST_EXIT();
}
