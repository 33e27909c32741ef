/* httpc: HTTPS/1.1 client with a keep-alive pool, on libuv + OpenSSL memory
 * BIOs + llhttp. Lifetimes: a request lives from vk_httpc_send until its
 * timer handle is closed (after done_cb); a connection until both its
 * handles are closed; the client until every such handle is closed. */
#include "httpc.h"

#include "err.h"
#include "log.h"
#include "mem.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <llhttp.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADER_BYTES (1u << 20)
#define MAX_LINE_BYTES (64u << 20)

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sbuf_add(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = vk_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sbuf_free(sbuf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

typedef struct conn conn_t;

enum { C_CONNECTING, C_HANDSHAKE, C_READY, C_BUSY, C_CLOSING };

struct conn {
    vk_httpc_t *c;
    conn_t *next, *prev;
    uv_tcp_t tcp;
    uv_timer_t timer; /* connect timeout, and deferred failures */
    uv_connect_t connect_req;
    int handles;      /* open handles; freed at 0 */
    int state;
    int used;         /* completed a response: reused connections may be stale */
    int pending_err;  /* failure to report from the timer (never from a caller's stack) */
    int cb_err;       /* error set inside an llhttp callback */
    SSL *ssl;
    BIO *rbio, *wbio; /* network -> SSL, SSL -> network */
    llhttp_t parser;
    vk_httpc_req_t *req;
    vk_httpc_tunnel_t *tun; /* an upgrade connection's tunnel (NULL once it ended) */
    int detached;     /* not in the pool list (upgrade connections) */
    char rbuf[65536];
};

#define TUNNEL_HIGH_WATER (1u << 20)
#define TUNNEL_LOW_WATER (256u << 10)

/* An upgrade request and then its tunnel. Freed when it ends (the connection
 * closes on its own schedule afterwards). */
struct vk_httpc_tunnel {
    vk_httpc_t *c;
    conn_t *conn;
    vk_httpc_tunnel_t *next, *prev; /* c->tunnels */
    vk_httpc_upgrade_t u;           /* callbacks (the strings are not kept) */
    int open;                       /* the server answered 101 */
    int want_drain;
};

struct vk_httpc_req {
    vk_httpc_t *c;
    conn_t *conn;            /* while attached */
    vk_httpc_req_t *next, *prev; /* waiting queue */
    int queued, done, complete, retried, streaming;
    char *wire;              /* request bytes */
    size_t wire_len;
    uv_timer_t timer;
    vk_httpc_line_cb line_cb;
    vk_httpc_done_cb done_cb;
    void *data;
    int status;
    char **hdrs;             /* name, value pairs */
    size_t nhdrs, caphdrs, hdr_bytes;
    int last_was_value;
    size_t got_bytes;        /* plaintext response bytes seen */
    sbuf_t body, line;
};

struct vk_httpc {
    uv_loop_t *loop;
    SSL_CTX *ctx;
    char *host;              /* for Host:, SNI and verification */
    char *hostport;          /* Host header value */
    char *prefix;            /* server URL path prefix, "" usually */
    char *auth;              /* "Bearer ..." or NULL */
    char *user_agent;
    struct sockaddr_storage addr;
    int host_is_ip;
    vk_httpc_opts_t opts;
    conn_t *conns;
    int nconns;
    uint64_t opened;
    vk_httpc_req_t *qhead, *qtail;
    vk_httpc_tunnel_t *tunnels; /* upgrade requests and open tunnels */
    int closing;
    int handles;             /* open handles of the client, its conns and reqs */
    uv_timer_t close_handle; /* closed last, so that close_cb always runs from the loop */
    void (*close_cb)(void *);
    void *close_data;
};

static void pump(vk_httpc_t *c);
static void conn_close(conn_t *conn);
static void tunnel_end(vk_httpc_tunnel_t *t, int notify, int err);

/* ---- client teardown ---- */

static void maybe_free_client(vk_httpc_t *c)
{
    if (!c->closing || c->handles > 0) return;
    void (*cb)(void *) = c->close_cb;
    void *data = c->close_data;
    SSL_CTX_free(c->ctx);
    free(c->host), free(c->hostport), free(c->prefix), free(c->auth), free(c->user_agent);
    free(c);
    if (cb) cb(data);
}

static void client_handle_closed(uv_handle_t *h)
{
    vk_httpc_t *c = h->data;
    c->handles--;
    maybe_free_client(c);
}

/* ---- requests ---- */

static void req_handle_closed(uv_handle_t *h)
{
    vk_httpc_req_t *req = h->data;
    vk_httpc_t *c = req->c;
    for (size_t i = 0; i < req->nhdrs; i++) free(req->hdrs[i]);
    free(req->hdrs);
    free(req->wire);
    sbuf_free(&req->body);
    sbuf_free(&req->line);
    free(req);
    c->handles--;
    maybe_free_client(c);
}

static void unqueue(vk_httpc_req_t *req)
{
    vk_httpc_t *c = req->c;
    if (!req->queued) return;
    if (req->prev) req->prev->next = req->next;
    else c->qhead = req->next;
    if (req->next) req->next->prev = req->prev;
    else c->qtail = req->prev;
    req->next = req->prev = NULL;
    req->queued = 0;
}

static void enqueue(vk_httpc_req_t *req, int at_head)
{
    vk_httpc_t *c = req->c;
    assert(!req->queued);
    req->queued = 1;
    if (at_head) {
        req->next = c->qhead;
        if (c->qhead) c->qhead->prev = req;
        else c->qtail = req;
        c->qhead = req;
    } else {
        req->prev = c->qtail;
        if (c->qtail) c->qtail->next = req;
        else c->qhead = req;
        c->qtail = req;
    }
}

/* Ends a request: detached from queue and connection (the caller deals with
 * the connection), done_cb runs, memory released from the loop. */
static void finish_req(vk_httpc_req_t *req, int err)
{
    assert(!req->done);
    req->done = 1;
    unqueue(req);
    if (req->conn && req->conn->req == req) req->conn->req = NULL;
    req->conn = NULL;
    uv_timer_stop(&req->timer);
    if (err == 0) {
        vk_httpc_resp_t resp = {0};
        resp.status = req->status;
        if (req->nhdrs == req->caphdrs) {
            req->caphdrs = req->caphdrs ? req->caphdrs * 2 : 2;
            req->hdrs = vk_xrealloc(req->hdrs, req->caphdrs * sizeof *req->hdrs);
        }
        req->hdrs[req->nhdrs] = NULL;
        resp.headers = (const char *const *)req->hdrs;
        if (!req->body.p) sbuf_add(&req->body, "", 0);
        resp.body = req->body.p;
        resp.body_len = req->body.len;
        json_t *json = NULL;
        for (size_t i = 0; i + 1 < req->nhdrs; i += 2)
            if (strcmp(req->hdrs[i], "content-type") == 0 && strstr(req->hdrs[i + 1], "json"))
                json = json_loadb(req->body.p, req->body.len, JSON_DECODE_ANY, NULL);
        resp.json = json;
        req->done_cb(0, &resp, req->data);
        json_decref(json);
    } else {
        req->done_cb(err, NULL, req->data);
    }
    uv_close((uv_handle_t *)&req->timer, req_handle_closed);
}

static void on_req_timeout(uv_timer_t *t)
{
    vk_httpc_req_t *req = t->data;
    vk_httpc_t *c = req->c;
    conn_t *conn = req->conn;
    if (conn) {
        conn->req = NULL;
        conn_close(conn);
    }
    finish_req(req, VK_ETIMEOUT);
    pump(c);
}

void vk_httpc_cancel(vk_httpc_req_t *req)
{
    if (!req || req->done) return;
    vk_httpc_t *c = req->c;
    conn_t *conn = req->conn;
    if (conn) {
        conn->req = NULL;
        conn_close(conn);
    }
    finish_req(req, -ECANCELED);
    pump(c);
}

/* ---- connections ---- */

static void conn_handle_closed(uv_handle_t *h)
{
    conn_t *conn = h->data;
    vk_httpc_t *c = conn->c;
    if (--conn->handles == 0) {
        SSL_free(conn->ssl); /* frees both BIOs */
        free(conn);
    }
    c->handles--;
    maybe_free_client(c);
}

static void conn_close(conn_t *conn)
{
    if (conn->state == C_CLOSING) return;
    vk_httpc_t *c = conn->c;
    conn->state = C_CLOSING;
    if (!conn->detached) {
        if (conn->prev) conn->prev->next = conn->next;
        else c->conns = conn->next;
        if (conn->next) conn->next->prev = conn->prev;
        c->nconns--;
    }
    uv_close((uv_handle_t *)&conn->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, conn_handle_closed);
}

/* Closes conn and fails its request (or retries it once when a reused
 * connection turned out stale before any response byte). */
static void conn_fail(conn_t *conn, int err, const char *why)
{
    vk_httpc_t *c = conn->c;
    if (conn->tun && conn->tun->open) {
        vk_log_warn("httpc: %s: tunnel: %s", c->hostport, why);
        tunnel_end(conn->tun, 1, err);
        return;
    }
    vk_httpc_req_t *req = conn->req;
    conn->req = NULL;
    int was_used = conn->used;
    conn_close(conn);
    if (req) {
        req->conn = NULL;
        if (was_used && req->got_bytes == 0 && !req->retried && !c->closing) {
            vk_log_debug("httpc: %s: stale keep-alive connection (%s), retrying", c->hostport, why);
            req->retried = 1;
            enqueue(req, 1);
        } else {
            vk_log_warn("httpc: %s: %s", c->hostport, why);
            finish_req(req, err);
        }
    }
    pump(c);
}

static void on_conn_timer(uv_timer_t *t)
{
    conn_t *conn = t->data;
    if (conn->pending_err) conn_fail(conn, conn->pending_err, "connection failed");
    else conn_fail(conn, VK_ETIMEOUT, "connect/TLS handshake timed out");
}

/* Reports err from the loop rather than from the current call stack. */
static void conn_defer_fail(conn_t *conn, int err)
{
    if (conn->state == C_CLOSING) return;
    conn->pending_err = err;
    uv_timer_start(&conn->timer, on_conn_timer, 0, 0);
}

static void on_write(uv_write_t *w, int status)
{
    uv_stream_t *s = w->handle;
    free(w->data);
    free(w);
    conn_t *conn = s->data;
    vk_httpc_tunnel_t *t = conn->tun;
    if (status == 0 && t && t->want_drain && conn->state != C_CLOSING &&
        uv_stream_get_write_queue_size(s) <= TUNNEL_LOW_WATER) {
        t->want_drain = 0;
        if (t->u.drain_cb) t->u.drain_cb(t->u.data);
    }
}

/* Sends what SSL wrote into wbio. 0 or a libuv error. */
static int flush(conn_t *conn)
{
    size_t n;
    while ((n = (size_t)BIO_ctrl_pending(conn->wbio)) > 0) {
        char *buf = vk_xmalloc(n);
        int got = BIO_read(conn->wbio, buf, (int)n);
        if (got <= 0) {
            free(buf);
            return UV_EIO;
        }
        uv_write_t *w = vk_xmalloc(sizeof *w);
        w->data = buf;
        uv_buf_t b = uv_buf_init(buf, (unsigned)got);
        int rc = uv_write(w, (uv_stream_t *)&conn->tcp, &b, 1, on_write);
        if (rc) {
            free(buf), free(w);
            return rc;
        }
    }
    return 0;
}

/* ---- response parsing ---- */

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    conn_t *conn = p->data;
    vk_httpc_req_t *req = conn->req;
    req->hdr_bytes += len;
    if (req->hdr_bytes > MAX_HEADER_BYTES) return conn->cb_err = VK_ETOOLARGE, -1;
    if (req->nhdrs == 0 || req->last_was_value) {
        if (req->nhdrs + 3 > req->caphdrs) {
            req->caphdrs = req->caphdrs ? req->caphdrs * 2 : 16;
            req->hdrs = vk_xrealloc(req->hdrs, req->caphdrs * sizeof *req->hdrs);
        }
        req->hdrs[req->nhdrs++] = vk_xstrdup("");
        req->hdrs[req->nhdrs++] = vk_xstrdup("");
        req->last_was_value = 0;
    }
    char **name = &req->hdrs[req->nhdrs - 2];
    size_t old = strlen(*name);
    *name = vk_xrealloc(*name, old + len + 1);
    for (size_t i = 0; i < len; i++) {
        char ch = at[i];
        (*name)[old + i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    (*name)[old + len] = 0;
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    conn_t *conn = p->data;
    vk_httpc_req_t *req = conn->req;
    req->hdr_bytes += len;
    if (req->hdr_bytes > MAX_HEADER_BYTES) return conn->cb_err = VK_ETOOLARGE, -1;
    if (req->nhdrs == 0) return 0;
    char **val = &req->hdrs[req->nhdrs - 1];
    size_t old = strlen(*val);
    *val = vk_xrealloc(*val, old + len + 1);
    memcpy(*val + old, at, len);
    (*val)[old + len] = 0;
    req->last_was_value = 1;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    vk_httpc_req_t *req = conn->req;
    req->status = p->status_code;
    req->streaming = req->line_cb && req->status >= 200 && req->status < 300;
    return 0;
}

/* Delivers every complete line in req->line; 0, or -1 when the request
 * ended inside the callback. */
static int deliver_lines(vk_httpc_req_t *req, int final)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(req->line.p + start, '\n', req->line.len - start);
        size_t end = nl ? (size_t)(nl - req->line.p) : req->line.len;
        if (!nl && (!final || end == start)) break;
        size_t len = end - start;
        if (len > 0 && req->line.p[start + len - 1] == '\r') len--;
        char saved = req->line.p[start + len];
        req->line.p[start + len] = 0;
        if (len > 0) req->line_cb(req->line.p + start, len, req->data);
        if (req->done) return -1;
        req->line.p[start + len] = saved;
        start = nl ? end + 1 : end;
        if (!nl) break;
    }
    memmove(req->line.p, req->line.p + start, req->line.len - start);
    req->line.len -= start;
    req->line.p[req->line.len] = 0;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    conn_t *conn = p->data;
    vk_httpc_req_t *req = conn->req;
    if (req->streaming) {
        if (req->line.len + len > MAX_LINE_BYTES) return conn->cb_err = VK_ETOOLARGE, -1;
        sbuf_add(&req->line, at, len);
        return deliver_lines(req, 0);
    }
    if (req->body.len + len > req->c->opts.max_body_bytes) return conn->cb_err = VK_ETOOLARGE, -1;
    sbuf_add(&req->body, at, len);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    conn_t *conn = p->data;
    vk_httpc_req_t *req = conn->req;
    if (req->streaming && req->line.len > 0 && deliver_lines(req, 1) != 0) return -1;
    req->complete = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t *settings(void)
{
    static const llhttp_settings_t s = {
        .on_header_field = on_header_field,
        .on_header_value = on_header_value,
        .on_headers_complete = on_headers_complete,
        .on_body = on_body,
        .on_message_complete = on_message_complete,
    };
    return &s;
}

static void complete_request(conn_t *conn)
{
    vk_httpc_t *c = conn->c;
    vk_httpc_req_t *req = conn->req;
    int keep = llhttp_should_keep_alive(&conn->parser);
    conn->req = NULL;
    conn->used = 1;
    if (keep && !c->closing) conn->state = C_READY;
    else conn_close(conn);
    finish_req(req, 0);
    pump(c);
}

static void start_request(conn_t *conn, vk_httpc_req_t *req)
{
    conn->state = C_BUSY;
    conn->req = req;
    req->conn = conn;
    conn->cb_err = 0;
    llhttp_init(&conn->parser, HTTP_RESPONSE, settings());
    conn->parser.data = conn;
    if (SSL_write(conn->ssl, req->wire, (int)req->wire_len) != (int)req->wire_len ||
        flush(conn) != 0)
        conn_defer_fail(conn, VK_EUNAVAILABLE);
}

static void tunnel_head(conn_t *conn, vk_httpc_req_t *req, enum llhttp_errno e, const char *d,
                        size_t n);

static void feed(conn_t *conn, const char *d, size_t n)
{
    if (conn->tun && conn->tun->open) {
        conn->tun->u.data_cb(d, n, conn->tun->u.data);
        return;
    }
    vk_httpc_req_t *req = conn->req;
    if (!req) { /* data on an idle connection: nothing sensible to do with it */
        conn_close(conn);
        return;
    }
    req->got_bytes += n;
    enum llhttp_errno e = llhttp_execute(&conn->parser, d, n);
    if (req->done) return; /* a callback cancelled it or closed the client */
    if (req->complete && conn->tun) {
        tunnel_head(conn, req, e, d, n);
        return;
    }
    if (req->complete) {
        complete_request(conn);
        return;
    }
    if (e != HPE_OK) {
        char why[160];
        if (conn->cb_err == VK_ETOOLARGE) snprintf(why, sizeof why, "response too large");
        else snprintf(why, sizeof why, "bad response: %s", llhttp_errno_name(e));
        conn_fail(conn, conn->cb_err ? conn->cb_err : VK_EUNAVAILABLE, why);
    }
}

static void on_eof(conn_t *conn)
{
    if (conn->tun && conn->tun->open) {
        tunnel_end(conn->tun, 1, 0);
        return;
    }
    vk_httpc_req_t *req = conn->req;
    if (req && req->got_bytes > 0) {
        llhttp_finish(&conn->parser); /* completes a read-until-close body */
        if (req->done) return;
        if (req->complete) {
            complete_request(conn);
            return;
        }
    }
    if (req) conn_fail(conn, VK_EUNAVAILABLE, "connection closed before the response ended");
    else conn_close(conn);
}

static void ssl_failed(conn_t *conn, const char *what)
{
    char why[300];
    unsigned long e = ERR_get_error();
    long vr = SSL_get_verify_result(conn->ssl);
    if (vr != X509_V_OK)
        snprintf(why, sizeof why, "%s: certificate verify failed: %s", what,
                 X509_verify_cert_error_string(vr));
    else
        snprintf(why, sizeof why, "%s: %s", what, e ? ERR_reason_error_string(e) : "TLS error");
    ERR_clear_error();
    conn_fail(conn, VK_EUNAVAILABLE, why);
}

static void read_plain(conn_t *conn)
{
    char buf[16384];
    while (conn->state != C_CLOSING) {
        int n = SSL_read(conn->ssl, buf, sizeof buf);
        if (n > 0) {
            feed(conn, buf, (size_t)n);
            continue;
        }
        int e = SSL_get_error(conn->ssl, n);
        if (e == SSL_ERROR_WANT_READ) break;
        if (e == SSL_ERROR_ZERO_RETURN) on_eof(conn);
        else ssl_failed(conn, "TLS read");
        return;
    }
    if (conn->state != C_CLOSING && flush(conn) != 0) conn_fail(conn, VK_EUNAVAILABLE, "write failed");
}

static void handshake(conn_t *conn)
{
    int r = SSL_do_handshake(conn->ssl);
    if (flush(conn) != 0) {
        conn_fail(conn, VK_EUNAVAILABLE, "write failed");
        return;
    }
    if (r == 1) {
        uv_timer_stop(&conn->timer);
        conn->state = C_READY;
        vk_httpc_req_t *req = conn->req;
        if (req) start_request(conn, req);
        else pump(conn->c);
        if (conn->state != C_CLOSING) read_plain(conn); /* early application data */
        return;
    }
    if (SSL_get_error(conn->ssl, r) == SSL_ERROR_WANT_READ) return;
    ssl_failed(conn, "TLS handshake");
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *conn = h->data;
    *buf = uv_buf_init(conn->rbuf, sizeof conn->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *conn = s->data;
    if (conn->state == C_CLOSING) return;
    if (nread == UV_EOF) {
        on_eof(conn);
        return;
    }
    if (nread < 0) {
        conn_fail(conn, VK_EUNAVAILABLE, uv_strerror((int)nread));
        return;
    }
    if (nread == 0) return;
    BIO_write(conn->rbio, buf->base, (int)nread);
    if (conn->state == C_HANDSHAKE) handshake(conn);
    else read_plain(conn);
}

static void on_connect(uv_connect_t *cr, int status)
{
    conn_t *conn = cr->data;
    if (conn->state == C_CLOSING) return;
    if (status < 0) {
        char why[160];
        snprintf(why, sizeof why, "connect: %s", uv_strerror(status));
        conn_fail(conn, VK_EUNAVAILABLE, why);
        return;
    }
    conn->state = C_HANDSHAKE;
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
    if (rc) {
        conn_fail(conn, VK_EUNAVAILABLE, uv_strerror(rc));
        return;
    }
    handshake(conn);
}

static conn_t *conn_new(vk_httpc_t *c, int detached)
{
    conn_t *conn = vk_xcalloc(1, sizeof *conn);
    conn->c = c;
    conn->state = C_CONNECTING;
    uv_tcp_init(c->loop, &conn->tcp);
    uv_timer_init(c->loop, &conn->timer);
    conn->tcp.data = conn->timer.data = conn->connect_req.data = conn;
    conn->handles = 2;
    c->handles += 2;
    conn->detached = detached;
    if (!detached) {
        conn->next = c->conns;
        if (c->conns) c->conns->prev = conn;
        c->conns = conn;
        c->nconns++;
    }
    c->opened++;
    conn->ssl = SSL_new(c->ctx);
    conn->rbio = BIO_new(BIO_s_mem());
    conn->wbio = BIO_new(BIO_s_mem());
    if (!conn->ssl || !conn->rbio || !conn->wbio) abort();
    BIO_set_mem_eof_return(conn->rbio, -1);
    SSL_set_bio(conn->ssl, conn->rbio, conn->wbio);
    SSL_set_connect_state(conn->ssl);
    if (c->host_is_ip) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(conn->ssl), c->host);
    } else {
        SSL_set_tlsext_host_name(conn->ssl, c->host);
        SSL_set1_host(conn->ssl, c->host);
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    int rc = uv_tcp_connect(&conn->connect_req, &conn->tcp, (struct sockaddr *)&c->addr, on_connect);
    if (rc) conn_defer_fail(conn, VK_EUNAVAILABLE);
    else uv_timer_start(&conn->timer, on_conn_timer, c->opts.connect_timeout_ms, 0);
    return conn;
}

/* Gives waiting requests to idle connections, opening new ones up to the limit. */
static void pump(vk_httpc_t *c)
{
    while (c->qhead && !c->closing) {
        conn_t *ready = NULL;
        for (conn_t *k = c->conns; k; k = k->next)
            if (k->state == C_READY && !k->req) {
                ready = k;
                break;
            }
        if (ready) {
            vk_httpc_req_t *req = c->qhead;
            unqueue(req);
            start_request(ready, req);
            continue;
        }
        if (c->nconns >= c->opts.max_conns) break;
        vk_httpc_req_t *req = c->qhead;
        unqueue(req);
        conn_t *conn = conn_new(c, 0);
        conn->req = req;
        req->conn = conn;
    }
}

/* ---- public ---- */

static int bad(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return VK_EINVALID;
}

static int load_pem_certs(const char *pem, X509_STORE *store)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    int n = 0;
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
        X509_STORE_add_cert(store, x);
        X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(b);
    return n;
}

static int client_cert(SSL_CTX *ctx, const char *cert_pem, const char *key_pem)
{
    BIO *b = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    int ok = x && SSL_CTX_use_certificate(ctx, x) == 1;
    X509_free(x);
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        if (SSL_CTX_add_extra_chain_cert(ctx, extra) != 1) X509_free(extra);
    BIO_free(b);
    if (!ok) return 0;
    b = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    ok = k && SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(k);
    ERR_clear_error();
    return ok;
}

int vk_httpc_new(uv_loop_t *loop, const vk_kubeconfig_t *kc, const vk_httpc_opts_t *opts,
                 vk_httpc_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!kc || !kc->server || strncmp(kc->server, "https://", 8) != 0)
        return bad(err, errlen, "httpc: server must be an https:// URL (got %s)",
                   kc && kc->server ? kc->server : "nothing");
    const char *h = kc->server + 8;
    char host[256], port[16] = "443";
    const char *end;
    if (*h == '[') {
        end = strchr(h, ']');
        if (!end || (size_t)(end - h - 1) >= sizeof host)
            return bad(err, errlen, "httpc: bad server URL %s", kc->server);
        memcpy(host, h + 1, (size_t)(end - h - 1));
        host[end - h - 1] = 0;
        end++;
    } else {
        end = h + strcspn(h, ":/");
        if (end == h || (size_t)(end - h) >= sizeof host)
            return bad(err, errlen, "httpc: bad server URL %s", kc->server);
        memcpy(host, h, (size_t)(end - h));
        host[end - h] = 0;
    }
    if (*end == ':') {
        size_t pl = strcspn(end + 1, "/");
        if (pl == 0 || pl >= sizeof port) return bad(err, errlen, "httpc: bad port in %s", kc->server);
        memcpy(port, end + 1, pl);
        port[pl] = 0;
        end += 1 + pl;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, errlen, "httpc: cannot resolve %s: %s", host, gai_strerror(gai));
        return VK_EINVALID;
    }
    vk_httpc_t *c = vk_xcalloc(1, sizeof *c);
    memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    unsigned char tmp[16];
    c->host_is_ip = inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
    c->loop = loop;
    c->host = vk_xstrdup(host);
    c->hostport = strchr(host, ':') ? vk_xasprintf("[%s]:%s", host, port)
                                    : vk_xasprintf("%s:%s", host, port);
    c->prefix = vk_xstrdup(end);
    size_t pl = strlen(c->prefix);
    while (pl > 0 && c->prefix[pl - 1] == '/') c->prefix[--pl] = 0;
    if (opts) c->opts = *opts;
    if (c->opts.max_conns <= 0) c->opts.max_conns = 8;
    if (!c->opts.connect_timeout_ms) c->opts.connect_timeout_ms = 10000;
    if (!c->opts.max_body_bytes) c->opts.max_body_bytes = 64u << 20;
    c->user_agent = vk_xstrdup(c->opts.user_agent ? c->opts.user_agent : "vkube");
    c->opts.user_agent = NULL;
    if (kc->token) c->auth = vk_xasprintf("Bearer %s", kc->token);

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx) abort();
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    /* Up to max_conns keep-alive connections wait idle most of the time: their
     * TLS record buffers (~50 KB each) are freed between reads and writes. */
    SSL_CTX_set_mode(c->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_protos(c->ctx, (const unsigned char *)"\x08http/1.1", 9);
    int rc = 0;
    if (kc->insecure) {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
        if (kc->ca_pem) {
            if (load_pem_certs(kc->ca_pem, SSL_CTX_get_cert_store(c->ctx)) == 0)
                rc = bad(err, errlen, "httpc: %s", "no certificate in the CA data");
        } else {
            SSL_CTX_set_default_verify_paths(c->ctx);
        }
    }
    if (!rc && kc->client_cert_pem && kc->client_key_pem &&
        !client_cert(c->ctx, kc->client_cert_pem, kc->client_key_pem))
        rc = bad(err, errlen, "httpc: %s", "bad client certificate or key (or they do not match)");
    if (rc) {
        SSL_CTX_free(c->ctx);
        free(c->host), free(c->hostport), free(c->prefix), free(c->auth), free(c->user_agent);
        free(c);
        return rc;
    }
    uv_timer_init(loop, &c->close_handle);
    c->close_handle.data = c;
    c->handles = 1;
    *out = c;
    return 0;
}

static int has_crlf(const char *s)
{
    return s && strpbrk(s, "\r\n") != NULL;
}

/* The request bytes of call in *w (caller frees w->p). 0 or VK_EINVALID.
 * upgrade: only the caller's headers (no default Accept, no body headers). */
static int build_wire(vk_httpc_t *c, const vk_httpc_call_t *call, int upgrade, sbuf_t *w_out)
{
    if (!call->method || !call->path || call->path[0] != '/' || !call->done_cb ||
        has_crlf(call->method) || has_crlf(call->path) || strchr(call->path, ' ') ||
        strchr(call->method, ' '))
        return VK_EINVALID;
    for (const char *const *h = call->headers; h && *h; h += 2)
        if (!h[1] || has_crlf(h[0]) || has_crlf(h[1]) || strchr(h[0], ':')) return VK_EINVALID;
    if (has_crlf(call->content_type)) return VK_EINVALID;
    char *json = NULL;
    const char *body = call->body;
    size_t body_len = call->body_len;
    if (call->body_json) {
        json = json_dumps(call->body_json, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!json) return VK_EINVALID;
        body = json;
        body_len = strlen(json);
    }
    sbuf_t w = {0};
    char line[512];
    sbuf_add(&w, call->method, strlen(call->method));
    sbuf_add(&w, " ", 1);
    sbuf_add(&w, c->prefix, strlen(c->prefix));
    sbuf_add(&w, call->path, strlen(call->path));
    snprintf(line, sizeof line, " HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", c->hostport,
             c->user_agent);
    sbuf_add(&w, line, strlen(line));
    int has_accept = 0;
    for (const char *const *h = call->headers; h && *h; h += 2) {
        if (strcasecmp(h[0], "accept") == 0) has_accept = 1;
        sbuf_add(&w, h[0], strlen(h[0]));
        sbuf_add(&w, ": ", 2);
        sbuf_add(&w, h[1], strlen(h[1]));
        sbuf_add(&w, "\r\n", 2);
    }
    if (!has_accept && !upgrade) sbuf_add(&w, "Accept: application/json\r\n", 26);
    if (c->auth) {
        sbuf_add(&w, "Authorization: ", 15);
        sbuf_add(&w, c->auth, strlen(c->auth));
        sbuf_add(&w, "\r\n", 2);
    }
    int with_body = upgrade ? 0 : body != NULL || strcmp(call->method, "POST") == 0 ||
                    strcmp(call->method, "PUT") == 0 || strcmp(call->method, "PATCH") == 0;
    if (with_body) {
        const char *ct = call->content_type ? call->content_type : "application/json";
        snprintf(line, sizeof line, "Content-Type: %s\r\nContent-Length: %zu\r\n", ct,
                 body ? body_len : 0);
        sbuf_add(&w, line, strlen(line));
    }
    sbuf_add(&w, "\r\n", 2);
    if (body && body_len) sbuf_add(&w, body, body_len);
    free(json);
    *w_out = w;
    return 0;
}

/* A request for call with its wire bytes (taken), timer running. */
static vk_httpc_req_t *req_new(vk_httpc_t *c, const vk_httpc_call_t *call, sbuf_t *w)
{
    vk_httpc_req_t *req = vk_xcalloc(1, sizeof *req);
    req->c = c;
    req->wire = w->p;
    req->wire_len = w->len;
    req->line_cb = call->line_cb;
    req->done_cb = call->done_cb;
    req->data = call->data;
    uv_timer_init(c->loop, &req->timer);
    req->timer.data = req;
    c->handles++;
    if (call->timeout_ms) uv_timer_start(&req->timer, on_req_timeout, call->timeout_ms, 0);
    return req;
}

int vk_httpc_send(vk_httpc_t *c, const vk_httpc_call_t *call, vk_httpc_req_t **out)
{
    if (out) *out = NULL;
    if (c->closing) return VK_ECLOSED;
    sbuf_t w = {0};
    int rc = build_wire(c, call, 0, &w);
    if (rc) return rc;
    vk_httpc_req_t *req = req_new(c, call, &w);
    enqueue(req, 0);
    pump(c);
    if (out) *out = req;
    return 0;
}

void vk_httpc_close(vk_httpc_t *c, void (*close_cb)(void *data), void *data)
{
    if (c->closing) return;
    c->closing = 1;
    c->close_cb = close_cb;
    c->close_data = data;
    while (c->qhead) finish_req(c->qhead, VK_ECLOSED);
    while (c->tunnels) {
        vk_httpc_tunnel_t *t = c->tunnels;
        vk_httpc_req_t *req = t->conn ? t->conn->req : NULL;
        if (req) { /* still waiting for the answer: response_cb ends it */
            t->conn->req = NULL;
            conn_close(t->conn);
            finish_req(req, VK_ECLOSED);
        } else {
            tunnel_end(t, 1, VK_ECLOSED);
        }
    }
    while (c->conns) {
        conn_t *conn = c->conns;
        vk_httpc_req_t *req = conn->req;
        conn->req = NULL;
        conn_close(conn);
        if (req) finish_req(req, VK_ECLOSED);
    }
    uv_close((uv_handle_t *)&c->close_handle, client_handle_closed);
}

uv_loop_t *vk_httpc_loop(const vk_httpc_t *c)
{
    return c->loop;
}

uint64_t vk_httpc_conns_opened(const vk_httpc_t *c)
{
    return c->opened;
}

int vk_httpc_conns_open(const vk_httpc_t *c)
{
    return c->nconns;
}

/* ---- upgraded connections ---- */

static void tunnel_unlink(vk_httpc_tunnel_t *t)
{
    vk_httpc_t *c = t->c;
    if (t->prev) t->prev->next = t->next;
    else c->tunnels = t->next;
    if (t->next) t->next->prev = t->prev;
}

/* Ends an open tunnel (or one whose request is already finished): closes its
 * connection, frees it and, when notify, tells the owner through close_cb. */
static void tunnel_end(vk_httpc_tunnel_t *t, int notify, int err)
{
    vk_httpc_upgrade_t u = t->u;
    if (t->conn) {
        t->conn->tun = NULL;
        conn_close(t->conn);
    }
    tunnel_unlink(t);
    free(t);
    if (notify && u.close_cb) u.close_cb(err, u.data);
}

/* done_cb of the upgrade request: opens the tunnel on 101, else ends it. */
static void tunnel_req_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    vk_httpc_tunnel_t *t = data;
    if (!err && resp->status == 101 && t->conn && t->conn->state != C_CLOSING) {
        t->open = 1;
        t->u.response_cb(0, resp, t->u.data);
        return;
    }
    vk_httpc_upgrade_t u = t->u;
    tunnel_end(t, 0, 0);
    u.response_cb(err, resp, u.data);
}

static void ignore_done(int err, const vk_httpc_resp_t *resp, void *data)
{
}

/* The response head of an upgrade request arrived (parsing paused after it):
 * report it, and pass on what followed the head in d when the tunnel opened. */
static void tunnel_head(conn_t *conn, vk_httpc_req_t *req, enum llhttp_errno e, const char *d,
                        size_t n)
{
    size_t used = n;
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&conn->parser);
        if (pos && pos >= d && pos <= d + n) used = (size_t)(pos - d);
    }
    vk_httpc_tunnel_t *t = conn->tun;
    int upgraded = req->status == 101;
    conn->req = NULL;
    if (!upgraded) conn_close(conn);
    finish_req(req, 0); /* tunnel_req_done */
    if (!upgraded || conn->state == C_CLOSING || conn->tun != t || !t->open) return;
    if (used < n) t->u.data_cb(d + used, n - used, t->u.data);
}

int vk_httpc_upgrade(vk_httpc_t *c, const vk_httpc_upgrade_t *u, vk_httpc_tunnel_t **out)
{
    *out = NULL;
    if (c->closing) return VK_ECLOSED;
    if (!u->response_cb || !u->data_cb) return VK_EINVALID;
    vk_httpc_tunnel_t *t = vk_xcalloc(1, sizeof *t);
    vk_httpc_call_t call = {
        .method = u->method,
        .path = u->path,
        .headers = u->headers,
        .timeout_ms = u->timeout_ms ? u->timeout_ms : 30000,
        .done_cb = tunnel_req_done,
        .data = t,
    };
    sbuf_t w = {0};
    int rc = build_wire(c, &call, 1, &w);
    if (rc) {
        free(t);
        return rc;
    }
    t->c = c;
    t->u = *u;
    t->u.method = t->u.path = NULL;
    t->u.headers = NULL;
    t->next = c->tunnels;
    if (c->tunnels) c->tunnels->prev = t;
    c->tunnels = t;
    vk_httpc_req_t *req = req_new(c, &call, &w);
    conn_t *conn = conn_new(c, 1);
    conn->tun = t;
    conn->req = req;
    req->conn = conn;
    t->conn = conn;
    *out = t;
    return 0;
}

int vk_httpc_tunnel_write(vk_httpc_tunnel_t *t, const void *bytes, size_t len)
{
    conn_t *conn = t->conn;
    if (!t->open || !conn || conn->state == C_CLOSING || conn->pending_err) return VK_ECLOSED;
    const char *p = bytes;
    while (len) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        int n = SSL_write(conn->ssl, p, chunk);
        if (n <= 0) {
            ERR_clear_error();
            conn_defer_fail(conn, VK_EUNAVAILABLE);
            return 0; /* close_cb reports it */
        }
        p += n;
        len -= (size_t)n;
    }
    if (flush(conn) != 0) {
        conn_defer_fail(conn, VK_EUNAVAILABLE);
        return 0;
    }
    if (uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp) > TUNNEL_HIGH_WATER) {
        t->want_drain = 1;
        return VK_EAGAIN;
    }
    return 0;
}

void vk_httpc_tunnel_pause(vk_httpc_tunnel_t *t, int paused)
{
    conn_t *conn = t->conn;
    if (!t->open || !conn || conn->state == C_CLOSING) return;
    if (paused) uv_read_stop((uv_stream_t *)&conn->tcp);
    else uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
}

void vk_httpc_tunnel_close(vk_httpc_tunnel_t *t)
{
    if (!t) return;
    vk_httpc_req_t *req = t->conn ? t->conn->req : NULL;
    if (req && !t->open) {
        req->done_cb = ignore_done;
        t->conn->req = NULL;
        tunnel_end(t, 0, 0);
        finish_req(req, -ECANCELED);
        return;
    }
    tunnel_end(t, 0, 0);
}
