/* Unit tests of syncer/relay's exec/attach/port-forward relay, on loopback
 * with no cluster: a tenant-side vk_http server whose handler calls
 * vk_relay_pod_stream, a fake host (another vk_http server that hijacks
 * upgrade requests and echoes, or refuses), and a client made with
 * vk_httpc_upgrade. Covers the upgrade head both ways, the translated path and
 * forwarded headers, that tenant credentials never reach the host, 2 MiB
 * echoed through both tunnels (above the 1 MiB flow-control mark), the
 * host's refusal and unreachable host as Status answers, the host ending the
 * stream, the client leaving mid-stream, and the path/head helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "../test.h"
#include "common/cert.h"
#include "common/err.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "proxy/http.h"
#include "syncer/relay.h"

static char dir[64], ca_file[128], crt_file[128], key_file[128], tokens_file[128];
static char *ca_pem;

/* ---- the fake host ---- */

typedef struct {
    char path[128], query[128], auth[64], xspv[128];
    int upgrades, closed, refused;
    vk_http_req_t *req; /* the hijacked request */
    size_t echoed;
} host_t;

static void host_data(void *arg, const void *data, size_t len)
{
    host_t *h = arg;
    h->echoed += len;
    vk_http_raw_write(h->req, data, len); /* echo; backpressure left to the relay */
}

static void host_close(void *arg, vk_http_req_t *req)
{
    host_t *h = arg;
    h->closed++;
    vk_http_raw_close(req);
    h->req = NULL;
}

static void host_handler(void *ctx, vk_http_req_t *req)
{
    host_t *h = ctx;
    snprintf(h->path, sizeof h->path, "%s", req->path);
    snprintf(h->query, sizeof h->query, "%s", req->query);
    const char *a = vk_http_header(req, "Authorization");
    snprintf(h->auth, sizeof h->auth, "%s", a ? a : "");
    h->xspv[0] = 0;
    const char *v;
    for (size_t i = 0; (v = vk_http_header_nth(req, "X-Stream-Protocol-Version", i)); i++)
        snprintf(h->xspv + strlen(h->xspv), sizeof h->xspv - strlen(h->xspv), "%s%s", i ? "," : "",
                 v);
    size_t n = strlen(req->path);
    if (n > 7 && !strcmp(req->path + n - 7, "/attach")) {
        h->refused++;
        const char *b = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                        "\"message\":\"pods \\\"x\\\" is forbidden: nope\",\"reason\":\"Forbidden\","
                        "\"code\":403}";
        vk_http_respond(req, 403, "application/json", b, strlen(b));
        return;
    }
    if (vk_http_hijack(req, host_data, host_close, h)) {
        vk_http_respond(req, 500, "text/plain", "no hijack", 9);
        return;
    }
    h->upgrades++;
    h->req = req;
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                               "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                               "X-Not-Passed: secret\r\n\r\nHELLO";
    vk_http_raw_write(req, head, sizeof head - 1);
    if (n > 12 && !strcmp(req->path + n - 12, "/portforward")) {
        /* The host ends the stream right after its greeting. */
        vk_http_raw_close(req);
        h->req = NULL;
    }
}

/* ---- the tenant side ---- */

typedef struct {
    vk_relay_t *relay;
} tenant_t;

static void tenant_handler(void *ctx, vk_http_req_t *req)
{
    tenant_t *t = ctx;
    const char *sub = strrchr(req->path, '/');
    vk_relay_pod_stream(t->relay, req, sub ? sub + 1 : "", "default", "box");
}

/* ---- the client ---- */

typedef struct {
    int responded, status, err, closed, close_err;
    char upgrade[64], xspv[64], notpassed[64];
    char *body;
    char *got;
    size_t got_len, got_cap;
} client_t;

static void cl_response(int err, const vk_httpc_resp_t *resp, void *data)
{
    client_t *c = data;
    c->responded = 1;
    c->err = err;
    if (err) return;
    c->status = resp->status;
    for (size_t i = 0; resp->headers[i]; i += 2) {
        if (!strcmp(resp->headers[i], "upgrade"))
            snprintf(c->upgrade, sizeof c->upgrade, "%s", resp->headers[i + 1]);
        if (!strcmp(resp->headers[i], "x-stream-protocol-version"))
            snprintf(c->xspv, sizeof c->xspv, "%s", resp->headers[i + 1]);
        if (!strcmp(resp->headers[i], "x-not-passed"))
            snprintf(c->notpassed, sizeof c->notpassed, "%s", resp->headers[i + 1]);
    }
    c->body = vk_xstrndup(resp->body, resp->body_len);
}

static void cl_data(const void *bytes, size_t len, void *data)
{
    client_t *c = data;
    if (c->got_len + len + 1 > c->got_cap)
        c->got = vk_xrealloc(c->got, c->got_cap = (c->got_len + len + 1) * 2);
    memcpy(c->got + c->got_len, bytes, len);
    c->got_len += len;
}

static void cl_close(int err, void *data)
{
    client_t *c = data;
    c->closed = 1;
    c->close_err = err;
}

static void client_free(client_t *c)
{
    free(c->body);
    free(c->got);
}

/* ---- loop helpers ---- */

static uv_loop_t loop;

static void wake(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static int run_until(int (*cond)(void *), void *arg, int ms)
{
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(&loop, &t);
    t.data = &fired;
    uv_timer_start(&t, wake, (uint64_t)ms, 0);
    int ok;
    while (!(ok = cond(arg)) && !fired) uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    return ok;
}

static int responded(void *a)
{
    return ((client_t *)a)->responded;
}
static int closed(void *a)
{
    return ((client_t *)a)->closed;
}
static size_t want_len;
static int got_enough(void *a)
{
    return ((client_t *)a)->got_len >= want_len || ((client_t *)a)->closed;
}
static int host_saw_close(void *a)
{
    return ((host_t *)a)->closed > 0;
}

static void setup_certs(void)
{
    snprintf(dir, sizeof dir, "/tmp/vk-test-relay-XXXXXX");
    if (!mkdtemp(dir)) abort();
    vk_cert_pem_t ca, srv;
    if (vk_cert_make_ca("relay-test-ca", 1, &ca) || vk_cert_make_serving(&ca, "srv", NULL, 1, &srv))
        abort();
    snprintf(ca_file, sizeof ca_file, "%s/ca.crt", dir);
    snprintf(crt_file, sizeof crt_file, "%s/srv.crt", dir);
    snprintf(key_file, sizeof key_file, "%s/srv.key", dir);
    snprintf(tokens_file, sizeof tokens_file, "%s/tokens.csv", dir);
    if (vk_cert_write_file(tokens_file, "host-token,host-admin,u1\ntenant-secret,alice,u2\n", 0600) ||
        vk_cert_write_file(ca_file, ca.cert, 0600) || vk_cert_write_file(crt_file, srv.cert, 0600) ||
        vk_cert_write_file(key_file, srv.key, 0600))
        abort();
    ca_pem = vk_xstrdup(ca.cert);
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&srv);
}

static vk_http_server_t *start_server(vk_http_handler_cb handler, void *ctx)
{
    vk_http_config_t cfg = {
        .listen = "127.0.0.1:0",
        .cert_file = crt_file,
        .key_file = key_file,
        .client_ca_file = ca_file,
        .tokens_file = tokens_file,
        .handler = handler,
        .ctx = ctx,
    };
    vk_http_server_t *s = NULL;
    char err[256];
    if (vk_http_server_start(&loop, &cfg, &s, err, sizeof err)) {
        fprintf(stderr, "server: %s\n", err);
        abort();
    }
    return s;
}

static vk_httpc_t *client_for(const char *addr, const char *token)
{
    char url[128];
    snprintf(url, sizeof url, "https://%s", addr);
    vk_kubeconfig_t kc = {.server = url, .ca_pem = ca_pem, .token = (char *)token};
    vk_httpc_t *c = NULL;
    char err[256];
    if (vk_httpc_new(&loop, &kc, NULL, &c, err, sizeof err)) {
        fprintf(stderr, "httpc: %s\n", err);
        abort();
    }
    return c;
}

static const char *const SPDY_HEADERS[] = {"Upgrade", "SPDY/3.1",
                                           "X-Stream-Protocol-Version", "v4.channel.k8s.io",
                                           "X-Stream-Protocol-Version", "v3.channel.k8s.io",
                                           "Connection", "Upgrade",
                                           NULL};

static int upgrade(vk_httpc_t *c, const char *method, const char *path, const char *const *hdrs,
                   client_t *cl, vk_httpc_tunnel_t **t)
{
    vk_httpc_upgrade_t u = {
        .method = method,
        .path = path,
        .headers = hdrs,
        .timeout_ms = 10000,
        .response_cb = cl_response,
        .data_cb = cl_data,
        .close_cb = cl_close,
        .data = cl,
    };
    return vk_httpc_upgrade(c, &u, t);
}

static void stopped(void *arg)
{
    (*(int *)arg)++;
}
static void closed_cb(void *arg)
{
    (*(int *)arg)++;
}

TEST(relay_exec_echo_refusal_and_ends)
{
    uv_loop_init(&loop);
    host_t host = {0};
    vk_http_server_t *hs = start_server(host_handler, &host);
    vk_httpc_t *hc = client_for(vk_http_server_address(hs), "host-token");
    vk_tenant_config_t tc = {.name = "t1", .host_namespace = "vkube-t1"};
    tenant_t ten = {vk_relay_new(hc, &tc)};
    vk_http_server_t *ts = start_server(tenant_handler, &ten);
    vk_httpc_t *tcl = client_for(vk_http_server_address(ts), "tenant-secret");

    /* exec: 101 passed back, then the host's greeting and a 2 MiB echo. */
    client_t c = {0};
    vk_httpc_tunnel_t *t = NULL;
    CHECK_EQ_INT(upgrade(tcl, "POST", "/api/v1/namespaces/default/pods/box/exec?command=echo&command=hi&stdout=true",
                         SPDY_HEADERS, &c, &t),
                 0);
    CHECK(run_until(responded, &c, 10000));
    CHECK_EQ_INT(c.err, 0);
    CHECK_EQ_INT(c.status, 101);
    CHECK_EQ_STR(c.upgrade, "SPDY/3.1");
    CHECK_EQ_STR(c.xspv, "v4.channel.k8s.io");
    CHECK_EQ_STR(c.notpassed, ""); /* only the upgrade headers are passed back */
    CHECK_EQ_STR(host.path, "/api/v1/namespaces/vkube-t1/pods/box-x-default-x-t1/exec");
    CHECK_EQ_STR(host.query, "command=echo&command=hi&stdout=true");
    CHECK_EQ_STR(host.xspv, "v4.channel.k8s.io,v3.channel.k8s.io");
    CHECK_EQ_STR(host.auth, "Bearer host-token");
    want_len = 5;
    CHECK(run_until(got_enough, &c, 10000));
    CHECK(c.got_len >= 5 && !memcmp(c.got, "HELLO", 5));
    size_t big = 2u << 20;
    unsigned char *payload = vk_xmalloc(big);
    for (size_t i = 0; i < big; i++) payload[i] = (unsigned char)(i * 2654435761u >> 13);
    if (c.status == 101) {
        for (size_t off = 0; off < big; off += 65536) {
            size_t n = big - off < 65536 ? big - off : 65536;
            vk_httpc_tunnel_write(t, payload + off, n); /* VK_EAGAIN: queued anyway */
        }
        want_len = 5 + big;
        CHECK(run_until(got_enough, &c, 30000));
        CHECK_EQ_INT((long)c.got_len, (long)(5 + big));
        CHECK(c.got_len == 5 + big && !memcmp(c.got + 5, payload, big));
        CHECK_EQ_INT(c.closed, 0);
        /* The client leaves: the relay closes the host side too. */
        vk_httpc_tunnel_close(t);
        CHECK(run_until(host_saw_close, &host, 10000));
    }
    free(payload);
    client_free(&c);

    /* attach: the host's 403 comes back as a Status, nothing upgraded. */
    client_t a = {0};
    CHECK_EQ_INT(upgrade(tcl, "GET", "/api/v1/namespaces/default/pods/box/attach?stdout=true",
                         SPDY_HEADERS, &a, &t),
                 0);
    CHECK(run_until(responded, &a, 10000));
    CHECK_EQ_INT(a.status, 403);
    CHECK(a.body && strstr(a.body, "\"reason\":\"Forbidden\"") && strstr(a.body, "host: pods"));
    CHECK_EQ_INT(host.refused, 1);
    client_free(&a);

    /* portforward: the host ends the stream after its greeting; the client
     * gets the greeting and then a clean close. */
    client_t p = {0};
    CHECK_EQ_INT(upgrade(tcl, "GET", "/api/v1/namespaces/default/pods/box/portforward?ports=80",
                         SPDY_HEADERS, &p, &t),
                 0);
    CHECK(run_until(closed, &p, 10000));
    CHECK_EQ_INT(p.status, 101);
    CHECK(p.got_len == 5 && !memcmp(p.got, "HELLO", 5));
    CHECK_EQ_INT(p.close_err, 0);
    client_free(&p);

    /* No Upgrade header: 400 from the relay, the host is not asked. */
    client_t n = {0};
    int before = host.upgrades + host.refused;
    const char *const plain[] = {"Connection", "keep-alive", NULL};
    CHECK_EQ_INT(upgrade(tcl, "POST", "/api/v1/namespaces/default/pods/box/exec", plain, &n, &t), 0);
    CHECK(run_until(responded, &n, 10000));
    CHECK_EQ_INT(n.status, 400);
    CHECK(n.body && strstr(n.body, "Upgrade request required"));
    CHECK_EQ_INT(host.upgrades + host.refused, before);
    client_free(&n);

    /* An unknown subresource never becomes a host path. */
    client_t u = {0};
    CHECK_EQ_INT(upgrade(tcl, "POST", "/api/v1/namespaces/default/pods/box/log", SPDY_HEADERS, &u, &t), 0);
    CHECK(run_until(responded, &u, 10000));
    CHECK_EQ_INT(u.status, 400);
    client_free(&u);

    /* Host unreachable: 503. */
    int dead_port;
    {
        uv_tcp_t tmp;
        struct sockaddr_in sa;
        uv_ip4_addr("127.0.0.1", 0, &sa);
        uv_tcp_init(&loop, &tmp);
        uv_tcp_bind(&tmp, (struct sockaddr *)&sa, 0);
        int sl = sizeof sa;
        uv_tcp_getsockname(&tmp, (struct sockaddr *)&sa, &sl);
        dead_port = ntohs(sa.sin_port);
        uv_close((uv_handle_t *)&tmp, NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", dead_port);
    vk_httpc_t *dc = client_for(dead, "host-token");
    vk_relay_t *dead_relay = vk_relay_new(dc, &tc);
    vk_relay_t *live = ten.relay;
    ten.relay = dead_relay;
    client_t d = {0};
    CHECK_EQ_INT(upgrade(tcl, "POST", "/api/v1/namespaces/default/pods/box/exec", SPDY_HEADERS, &d, &t), 0);
    CHECK(run_until(responded, &d, 15000));
    CHECK_EQ_INT(d.status, 503);
    CHECK(d.body && strstr(d.body, "did not answer the exec request"));
    client_free(&d);
    ten.relay = live;

    int done = 0;
    vk_httpc_close(tcl, closed_cb, &done);
    vk_http_server_stop(ts, stopped, &done);
    vk_relay_free(dead_relay);
    vk_relay_free(live);
    vk_httpc_close(dc, closed_cb, &done);
    vk_httpc_close(hc, closed_cb, &done);
    vk_http_server_stop(hs, stopped, &done);
    for (int i = 0; i < 200 && done < 5; i++) uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ_INT(done, 5);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(uv_loop_close(&loop), 0);
}

TEST(stream_path)
{
    char *p = vk_relay_stream_path("vkube-a", "box-x-default-x-a", "exec", "command=ls&stdin=true");
    CHECK_EQ_STR(p, "/api/v1/namespaces/vkube-a/pods/box-x-default-x-a/exec?command=ls&stdin=true");
    free(p);
    p = vk_relay_stream_path("vkube-a", "b", "portforward", "");
    CHECK_EQ_STR(p, "/api/v1/namespaces/vkube-a/pods/b/portforward");
    free(p);
    p = vk_relay_stream_path("vkube-a", "b", "attach", NULL);
    CHECK_EQ_STR(p, "/api/v1/namespaces/vkube-a/pods/b/attach");
    free(p);
    CHECK(vk_relay_stream_path("vkube-a", "b", "log", "") == NULL);
    CHECK(vk_relay_stream_path("vkube-a", "b", "exec/../../secrets", "") == NULL);
    CHECK(vk_relay_stream_path("vkube-a", "b", "exec", "a=b c") == NULL);
    CHECK(vk_relay_stream_path("vkube-a", "b", "exec", "a=b#frag") == NULL);
    CHECK(vk_relay_stream_path("vkube-a", "b", "exec", "a=\r\nX: y") == NULL);
}

TEST(switching_head)
{
    const char *const h[] = {"upgrade", "websocket",
                             "sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                             "sec-websocket-protocol", "v5.channel.k8s.io",
                             "set-cookie", "x=y",
                             "x-stream-protocol-version", "bad\r\nInjected: 1",
                             "content-length", "0",
                             NULL};
    char *s = vk_relay_switching_head(h);
    CHECK_EQ_STR(s, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                    "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n");
    free(s);
    s = vk_relay_switching_head(NULL);
    CHECK_EQ_STR(s, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n");
    free(s);
}

int main(void)
{
    setup_certs();
    RUN(stream_path);
    RUN(switching_head);
    RUN(relay_exec_echo_refusal_and_ends);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "cannot remove %s\n", dir);
    free(ca_pem);
    TEST_EXIT();
}
