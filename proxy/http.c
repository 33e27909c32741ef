/* http: HTTPS/1.1 transport for the tenant API server.
 *
 * One conn_t per TCP connection. Bytes from the socket go through an OpenSSL
 * memory-BIO pair (rbio: ciphertext in, wbio: ciphertext out), the plaintext is
 * buffered in conn->in and parsed by llhttp. The parser is paused at the end
 * of every request, so at most one request per connection is owned by the
 * handler at a time (pipelined requests wait in conn->in). A connection is
 * freed only after both of its libuv handles are closed and its active request
 * (if any) has been finished by the handler. */
#include "proxy/http.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <llhttp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"

#define HIGH_WATER (256 * 1024) /* unsent bytes above which stream writes say VK_EAGAIN */
#define LOW_WATER (64 * 1024)   /* on_drain fires when unsent bytes fall to this */
#define IN_PAUSE (256 * 1024)   /* stop reading when this much plaintext waits unparsed */
#define PIPELINE_MAX (1024 * 1024) /* stop answering pipelined requests above this many unsent bytes */
#define LINGER_MS 2000          /* after our FIN, how long we drain the client's bytes */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        b->p = vk_xrealloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_adds(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_free(buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

typedef struct hdr {
    char *name, *value; /* pool-owned */
} hdr_t;

enum { R_PARSING, R_HANDLER, R_STREAM, R_HIJACK };

typedef struct conn conn_t;

/* The private request; pub must stay first (vk_http_req_t * is cast back). */
typedef struct ireq {
    vk_http_req_t pub;
    conn_t *c;
    hdr_t *hdrs; /* malloc'd array, freed with the request */
    size_t nhdrs, caphdrs;
    buf_t resp_hdrs; /* "Name: value\r\n" lines added by the handler */
    int state;
    int keep_alive;
    int head;            /* HEAD request: no response body */
    int upgrade;         /* the parser stopped at an Upgrade/CONNECT */
    int stream_closed;   /* writes fail with VK_ECLOSED (client gone or refused) */
    int close_pending;   /* on_close must still run (deferred) */
    int close_notified;  /* on_close already ran */
    int drain_pending;   /* on_drain requested */
    int data_pending;    /* hijack: buffered client bytes must be delivered */
    vk_http_stream_cb on_close, on_drain;
    void *close_arg, *drain_arg;
    vk_http_raw_data_cb on_data;
    void *data_arg;
    int status;
    size_t bytes_out;
    vk_http_local_t *local; /* a local request (no connection): output goes to its sink */
    int local_cancelled;    /* the local client cancelled: no more sink callbacks */
    int *local_done;        /* set to 1 when a local request is freed */
} ireq_t;

enum { T_NONE, T_IDLE, T_REQUEST, T_LINGER };

typedef struct tokrec {
    char *token, *user, *uid;
    char **groups; /* NULL-terminated, includes system:authenticated */
} tokrec_t;

struct conn {
    vk_http_server_t *srv;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shut;
    int timer_mode;
    int handles_open; /* libuv handles not yet closed */
    SSL *ssl;         /* NULL in test mode */
    BIO *rbio, *wbio;
    buf_t *memout; /* test mode: where output goes */
    llhttp_t parser;
    int handshake_done;
    int closing;        /* close_conn was called */
    int close_after_flush;
    int lingering;
    int peer_eof;       /* the client sent FIN / close_notify; we only write now */
    int reading;
    int in_process;
    int cert_state; /* 0 no certificate, 1 verified, -1 presented but not valid */
    char *cert_user;
    char **cert_groups; /* NULL-terminated */
    buf_t in;           /* plaintext not yet parsed */
    ireq_t *building;   /* request being parsed */
    buf_t url, field, value, body;
    int in_value;
    size_t hdr_bytes;
    int parse_status;   /* status the callbacks decided to answer with (413, 431) */
    ireq_t *active;     /* request owned by the handler, a stream or a hijack */
    size_t unsent;      /* bytes handed to uv_write and not yet written */
    char remote[64];
    char ip[48];
    conn_t *prev, *next;
};

struct vk_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t defer;     /* runs deferred stream callbacks on the next loop turn */
    int handles_open;     /* listener + defer while not closed */
    int handles_closing;
    size_t finished;      /* requests finished (for the test hook) */
    int in_defer;         /* on_defer is walking conns: do not free them */
    SSL_CTX *ctx;
    llhttp_settings_t settings;
    vk_http_config_t cfg; /* strings below are owned copies */
    int has_client_ca;
    char *tokens_path;          /* owned; NULL without a tokens file */
    struct timespec tokens_mtime; /* of the loaded version */
    off_t tokens_size;
    uint64_t tokens_checked_ns; /* last stat of the file (at most one a second) */
    tokrec_t *toks;
    size_t ntoks;
    char address[80];
    conn_t *conns;
    int stopping;
    void (*done_cb)(void *arg);
    void *done_arg;
};

static const char *const anon_groups[] = {"system:unauthenticated", NULL};

/* ---------------------------------------------------------------- helpers */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static const char *status_reason(int status)
{
    switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 408: return "Timeout";
    case 413: return "RequestEntityTooLarge";
    case 429: return "TooManyRequests";
    case 431: return "BadRequest";
    case 503: return "ServiceUnavailable";
    default: return "InternalError";
    }
}

/* A Kubernetes Status body for errors the transport answers itself. message
 * must not need JSON escaping (only our own constant texts are passed). */
static char *status_json(int code, const char *message, size_t *len)
{
    char *s = vk_xasprintf("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
                           "\"status\":\"Failure\",\"message\":\"%s\",\"reason\":\"%s\","
                           "\"code\":%d}\n",
                           message, status_reason(code), code);
    *len = strlen(s);
    return s;
}

static void http_date(char *out, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new pool string; plus_space turns '+' into ' '. */
static char *pct_decode(vk_pool_t *pool, const char *s, size_t n, int plus_space)
{
    char *out = vk_pool_alloc(pool, n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (plus_space && s[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return out;
}

/* ------------------------------------------------------------ tokens file */

/* Splits one CSV line into fields (quotes with "" escapes). Returns count. */
static size_t csv_fields(const char *line, char **fields, size_t max)
{
    size_t n = 0;
    const char *p = line;
    while (n < max) {
        buf_t f = {0};
        buf_add(&f, "", 0);
        if (*p == '"') {
            p++;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    buf_add(&f, "\"", 1);
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    buf_add(&f, p++, 1);
                }
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') buf_add(&f, p++, 1);
        }
        fields[n++] = f.p;
        if (*p != ',') break;
        p++;
    }
    return n;
}

static char **split_groups(const char *s, int add_authenticated)
{
    size_t cap = 4, n = 0;
    char **g = vk_xcalloc(cap, sizeof *g);
    const char *p = s;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && isspace((unsigned char)*p)) p++, len--;
        while (len && isspace((unsigned char)p[len - 1])) len--;
        if (len) {
            if (n + 2 >= cap) g = vk_xrealloc(g, (cap *= 2) * sizeof *g);
            g[n++] = vk_xstrndup(p, len);
        }
        p = e ? e + 1 : NULL;
    }
    if (add_authenticated) {
        if (n + 2 >= cap) g = vk_xrealloc(g, (cap *= 2) * sizeof *g);
        g[n++] = vk_xstrdup("system:authenticated");
    }
    g[n] = NULL;
    return g;
}

static void free_groups(char **g)
{
    if (!g) return;
    for (char **p = g; *p; p++) free(*p);
    free(g);
}

static void free_tokens(tokrec_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(toks[i].token);
        free(toks[i].user);
        free(toks[i].uid);
        free_groups(toks[i].groups);
    }
    free(toks);
}

/* Parses the tokens file into a new table (*out, *nout; freed with free_tokens). */
static int parse_tokens(const char *path, tokrec_t **out, size_t *nout, char *err, size_t errlen)
{
    tokrec_t *toks = NULL;
    size_t ntoks = 0;
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "tokens file %s: %s", path, strerror(errno));
        return -errno;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (!n || line[0] == '#') continue;
        char *fl[4] = {0};
        size_t nf = csv_fields(line, fl, 4);
        if (nf < 3 || !*fl[0] || !*fl[1]) {
            snprintf(err, errlen, "tokens file %s:%d: want token,user,uid[,\"groups\"]", path,
                     lineno);
            for (size_t i = 0; i < nf; i++) free(fl[i]);
            free(line);
            fclose(f);
            free_tokens(toks, ntoks);
            return VK_EINVALID;
        }
        toks = vk_xrealloc(toks, (ntoks + 1) * sizeof *toks);
        tokrec_t *t = &toks[ntoks++];
        t->token = fl[0];
        t->user = fl[1];
        t->uid = fl[2];
        t->groups = split_groups(nf > 3 ? fl[3] : "", 1);
        free(nf > 3 ? fl[3] : NULL);
    }
    free(line);
    fclose(f);
    *out = toks;
    *nout = ntoks;
    return 0;
}

/* Loads (or reloads) the tokens file; on failure the old table stays. */
static int load_tokens(vk_http_server_t *srv, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "tokens file %s: %s", path, strerror(errno));
        return -errno;
    }
    tokrec_t *toks;
    size_t n;
    int rc = parse_tokens(path, &toks, &n, err, errlen);
    if (rc) return rc;
    free_tokens(srv->toks, srv->ntoks);
    srv->toks = toks;
    srv->ntoks = n;
    srv->tokens_mtime = st.st_mtim;
    srv->tokens_size = st.st_size;
    if (!srv->tokens_path) srv->tokens_path = vk_xstrdup(path);
    return 0;
}

/* Re-reads the tokens file when it changed (checked at most once a second),
 * so tokens can be added or revoked without a restart. */
static void maybe_reload_tokens(vk_http_server_t *srv)
{
    if (!srv->tokens_path) return;
    uint64_t now = uv_hrtime();
    if (srv->tokens_checked_ns && now - srv->tokens_checked_ns < 1000000000ull) return;
    srv->tokens_checked_ns = now;
    struct stat st;
    if (stat(srv->tokens_path, &st) < 0) return;
    if (st.st_size == srv->tokens_size && st.st_mtim.tv_sec == srv->tokens_mtime.tv_sec &&
        st.st_mtim.tv_nsec == srv->tokens_mtime.tv_nsec)
        return;
    char err[256];
    if (load_tokens(srv, srv->tokens_path, err, sizeof err))
        vk_log_warn("http: keeping the previous tokens: %s", err);
    else
        vk_log_info("http: reloaded %zu tokens from %s", srv->ntoks, srv->tokens_path);
}

static const tokrec_t *find_token(const vk_http_server_t *srv, const char *tok)
{
    size_t tl = strlen(tok);
    const tokrec_t *found = NULL;
    for (size_t i = 0; i < srv->ntoks; i++) {
        const tokrec_t *t = &srv->toks[i];
        if (strlen(t->token) == tl && CRYPTO_memcmp(t->token, tok, tl) == 0 && !found) found = t;
    }
    return found;
}

/* ------------------------------------------------------------------ output */

typedef struct wreq {
    uv_write_t w;
    conn_t *c;
    size_t len;
    char data[];
} wreq_t;

static void close_conn(conn_t *c);
static void free_conn(conn_t *c);
static void process_input(conn_t *c);
static void read_start(conn_t *c);
static void finish_req(ireq_t *r);
static void begin_close(conn_t *c);
static void notify_close(ireq_t *r);

/* Deferred work for streams and hijacks (on_close for refused streams, on_drain
 * requested while already drained, buffered client bytes after a hijack): run
 * on a later loop turn so callers never see their callbacks re-entered. */
static void on_defer(uv_timer_t *t)
{
    vk_http_server_t *srv = t->data;
    /* Callbacks may finish requests; connections are not freed during the walk. */
    srv->in_defer = 1;
    for (conn_t *c = srv->conns; c; c = c->next) {
        ireq_t *r = c->active;
        if (!r) continue;
        if (r->close_pending) notify_close(r);
        if (c->active != r) continue;
        if (r->state == R_HIJACK && r->data_pending && !r->stream_closed) {
            r->data_pending = 0;
            if (c->in.len) {
                buf_t tmp = c->in;
                memset(&c->in, 0, sizeof c->in);
                r->on_data(r->data_arg, tmp.p, tmp.len);
                buf_free(&tmp);
            }
        }
        if (c->active == r && (r->state == R_STREAM || r->state == R_HIJACK) &&
            r->drain_pending && !r->stream_closed && c->unsent <= LOW_WATER) {
            r->drain_pending = 0;
            r->on_drain(r->drain_arg, &r->pub);
        }
    }
    srv->in_defer = 0;
    conn_t *next;
    for (conn_t *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->closing && !c->handles_open && !c->active) free_conn(c);
    }
}

static void schedule_defer(vk_http_server_t *srv)
{
    if (srv->loop && !srv->handles_closing) uv_timer_start(&srv->defer, on_defer, 0, 0);
}

static void set_timer(conn_t *c, int mode, uint64_t ms);

static void after_write(uv_write_t *w, int status)
{
    wreq_t *wr = (wreq_t *)w;
    conn_t *c = wr->c;
    c->unsent -= wr->len;
    free(wr);
    if (status < 0 && !c->closing) {
        close_conn(c);
        return;
    }
    if (c->close_after_flush && !c->unsent && !c->closing && !c->lingering) {
        begin_close(c);
        return;
    }
    ireq_t *r = c->active;
    if (r && (r->state == R_STREAM || r->state == R_HIJACK) && r->drain_pending &&
        c->unsent <= LOW_WATER && !r->stream_closed) {
        r->drain_pending = 0;
        r->on_drain(r->drain_arg, &r->pub);
        return;
    }
    if (!r && !c->closing && !c->close_after_flush && c->unsent <= LOW_WATER) {
        /* Pipelined requests held back by PIPELINE_MAX, or reading paused. */
        if (c->in.len) process_input(c);
        if (!c->closing && !c->active && c->in.len <= IN_PAUSE) read_start(c);
    }
}

/* Moves ciphertext from wbio to the socket. */
static void flush_wbio(conn_t *c)
{
    if (!c->ssl) return;
    size_t pending;
    while ((pending = BIO_ctrl_pending(c->wbio)) > 0) {
        wreq_t *wr = vk_xmalloc(sizeof *wr + pending);
        int n = BIO_read(c->wbio, wr->data, (int)pending);
        if (n <= 0) {
            free(wr);
            break;
        }
        if (c->closing) {
            free(wr);
            continue;
        }
        wr->c = c;
        wr->len = (size_t)n;
        uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
        c->unsent += wr->len;
        if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, after_write) < 0) {
            c->unsent -= wr->len;
            free(wr);
            close_conn(c);
            return;
        }
    }
}

enum { SEND_CHUNK = 64 * 1024 };

/* Sends plaintext bytes to the client (encrypted). */
static void send_plain(conn_t *c, const void *data, size_t len)
{
    if (c->closing) return;
    if (!c->ssl) {
        buf_add(c->memout, data, len);
        return;
    }
    /* In pieces of 64 KiB, each handed to the socket at once: one SSL_write
     * of a large body (a list of 1,000 pods is ~2 MB) grew the memory BIO by
     * repeated reallocations, each copying and wiping the old buffer (half
     * of a list's CPU). */
    const char *p = data;
    while (len) {
        int chunk = len > SEND_CHUNK ? SEND_CHUNK : (int)len;
        int n = SSL_write(c->ssl, p, chunk);
        if (n <= 0) {
            close_conn(c);
            return;
        }
        p += n;
        len -= (size_t)n;
        flush_wbio(c);
        if (c->closing) return;
    }
}

/* ------------------------------------------------------- connection close */

static void maybe_done(vk_http_server_t *srv);

static void free_conn(conn_t *c)
{
    vk_http_server_t *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else if (srv->conns == c)
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->ssl) SSL_free(c->ssl); /* frees both BIOs */
    free(c->cert_user);
    free_groups(c->cert_groups);
    buf_free(&c->in);
    buf_free(&c->url);
    buf_free(&c->field);
    buf_free(&c->value);
    buf_free(&c->body);
    if (c->building) {
        free(c->building->hdrs);
        buf_free(&c->building->resp_hdrs);
        vk_pool_free(c->building->pub.pool);
    }
    free(c);
    maybe_done(srv);
}

static void maybe_free(conn_t *c)
{
    if (c->srv->in_defer) return; /* on_defer frees it after its walk */
    if (c->closing && !c->handles_open && !c->active) free_conn(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    c->handles_open--;
    maybe_free(c);
}

/* Tells the active stream or hijack that the client is gone (once). */
static void notify_close(ireq_t *r)
{
    if (r->close_notified || !r->on_close) return;
    r->close_notified = 1;
    r->close_pending = 0;
    r->on_close(r->close_arg, &r->pub);
}

/* Closes the socket now. An active request stays alive until the handler
 * finishes it; streams and hijacks learn it through on_close. */
static void close_conn(conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    ireq_t *r = c->active;
    if (c->ssl) {
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    }
    if (r && (r->state == R_STREAM || r->state == R_HIJACK)) {
        /* Deferred: close_conn can run inside vk_http_stream_write, and the
         * producer must not see on_close re-entered from its own call. */
        r->stream_closed = 1;
        r->close_pending = 1;
        schedule_defer(c->srv);
    }
}

static void after_shutdown(uv_shutdown_t *s, int status)
{
    conn_t *c = s->data;
    if (c->closing) return;
    if (status < 0) {
        close_conn(c);
        return;
    }
    set_timer(c, T_LINGER, LINGER_MS);
}

/* Graceful close: TLS close_notify, flush, FIN, then drain what the client
 * still sends for a moment (so it reads our last response instead of a RST). */
static void begin_close(conn_t *c)
{
    if (c->closing) return;
    if (!c->ssl) {
        c->closing = 1;
        return;
    }
    if (!c->close_after_flush) {
        c->close_after_flush = 1;
        if (c->handshake_done) {
            SSL_shutdown(c->ssl);
            flush_wbio(c);
        }
    }
    if (c->unsent || c->lingering) return;
    if (c->peer_eof) {
        close_conn(c); /* nothing left to drain from the client */
        return;
    }
    c->lingering = 1;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, after_shutdown) < 0) close_conn(c);
}

/* ------------------------------------------------------------------ timers */

static void on_timer(uv_timer_t *t)
{
    conn_t *c = t->data;
    int mode = c->timer_mode;
    c->timer_mode = T_NONE;
    switch (mode) {
    case T_IDLE:
        begin_close(c);
        break;
    case T_REQUEST:
        if (c->building) {
            size_t len;
            char *body = status_json(408, "request did not arrive in time", &len);
            char hdr[256];
            char date[64];
            http_date(date, sizeof date);
            snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 408 Request Timeout\r\nDate: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     date, len);
            send_plain(c, hdr, strlen(hdr));
            send_plain(c, body, len);
            free(body);
            begin_close(c);
        } else {
            close_conn(c);
        }
        break;
    case T_LINGER:
        close_conn(c);
        break;
    default:
        break;
    }
}

static void set_timer(conn_t *c, int mode, uint64_t ms)
{
    if (!c->ssl || c->closing) return;
    c->timer_mode = mode;
    if (mode == T_NONE)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* --------------------------------------------------------------- parsing */

static conn_t *parser_conn(llhttp_t *p)
{
    return p->data;
}

static int count_header_bytes(conn_t *c, size_t n)
{
    c->hdr_bytes += n;
    if (c->hdr_bytes > c->srv->cfg.max_header_bytes) {
        c->parse_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(llhttp_t *p)
{
    conn_t *c = parser_conn(p);
    vk_pool_t *pool = vk_pool_new();
    ireq_t *r = vk_pool_alloc(pool, sizeof *r);
    r->pub.pool = pool;
    r->c = c;
    r->state = R_PARSING;
    c->building = r;
    c->url.len = c->field.len = c->value.len = c->body.len = 0;
    c->in_value = 0;
    c->hdr_bytes = 0;
    if (c->timer_mode != T_REQUEST)
        set_timer(c, T_REQUEST, (uint64_t)c->srv->cfg.request_timeout_ms);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    conn_t *c = parser_conn(p);
    if (count_header_bytes(c, n)) return -1;
    buf_add(&c->url, at, n);
    return 0;
}

static void push_header(conn_t *c)
{
    ireq_t *r = c->building;
    if (r->nhdrs == r->caphdrs) {
        r->caphdrs = r->caphdrs ? r->caphdrs * 2 : 16;
        r->hdrs = vk_xrealloc(r->hdrs, r->caphdrs * sizeof *r->hdrs);
    }
    r->hdrs[r->nhdrs].name = vk_pool_strdup(r->pub.pool, c->field.len ? c->field.p : "");
    r->hdrs[r->nhdrs].value = vk_pool_strdup(r->pub.pool, c->value.len ? c->value.p : "");
    r->nhdrs++;
    c->field.len = c->value.len = 0;
    c->in_value = 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    conn_t *c = parser_conn(p);
    if (count_header_bytes(c, n)) return -1;
    buf_add(&c->field, at, n);
    return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    conn_t *c = parser_conn(p);
    if (count_header_bytes(c, n)) return -1;
    buf_add(&c->value, at, n);
    c->in_value = 1;
    return 0;
}

static int on_header_value_complete(llhttp_t *p)
{
    conn_t *c = parser_conn(p);
    if (count_header_bytes(c, 4)) return -1;
    push_header(c);
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    conn_t *c = parser_conn(p);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->cfg.max_body_bytes) {
        c->parse_status = 413;
        return -1;
    }
    /* curl sends "Expect: 100-continue" before large bodies and would wait a
     * second for this interim answer. */
    ireq_t *r = c->building;
    for (size_t i = 0; r && i < r->nhdrs; i++) {
        if (!strcasecmp(r->hdrs[i].name, "Expect") &&
            !strcasecmp(r->hdrs[i].value, "100-continue")) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            send_plain(c, cont, sizeof cont - 1);
            break;
        }
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    conn_t *c = parser_conn(p);
    if (c->body.len + n > c->srv->cfg.max_body_bytes) {
        c->parse_status = 413;
        return -1;
    }
    buf_add(&c->body, at, n);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    return HPE_PAUSED;
}

/* ---------------------------------------------------------------- requests */

static void send_status_close(conn_t *c, int code, const char *message)
{
    size_t len;
    char *body = status_json(code, message, &len);
    char date[64];
    http_date(date, sizeof date);
    char *hdr = vk_xasprintf("HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                             code, reason_phrase(code), date, len);
    send_plain(c, hdr, strlen(hdr));
    send_plain(c, body, len);
    free(hdr);
    free(body);
    vk_log_info("%s - %d %zu", c->remote, code, len);
    begin_close(c);
}

/* Fills r->pub.user, or returns an error message for 401. */
static const char *authenticate(conn_t *c, ireq_t *r)
{
    vk_http_server_t *srv = c->srv;
    vk_http_user_t *u = &r->pub.user;
    if (c->cert_state == 1) {
        u->name = c->cert_user;
        u->uid = "";
        u->groups = (const char *const *)c->cert_groups;
        u->authenticated = 1;
        return NULL;
    }
    if (c->cert_state == -1) return "Unauthorized";
    const char *auth = vk_http_header(&r->pub, "Authorization");
    if (auth) {
        while (*auth == ' ') auth++;
        if (strncasecmp(auth, "Bearer ", 7) == 0) {
            const char *tok = auth + 7;
            while (*tok == ' ') tok++;
            size_t tl = strlen(tok);
            while (tl && tok[tl - 1] == ' ') tl--;
            char *t = vk_pool_alloc(r->pub.pool, tl + 1);
            memcpy(t, tok, tl);
            if (!tl) return "Unauthorized";
            maybe_reload_tokens(srv);
            const tokrec_t *rec = find_token(srv, t);
            if (rec) {
                /* Copied: a reload may free the table while the request lives. */
                vk_pool_t *pool = r->pub.pool;
                size_t ng = 0;
                while (rec->groups[ng]) ng++;
                const char **g = vk_pool_alloc(pool, (ng + 1) * sizeof *g);
                for (size_t i = 0; i < ng; i++) g[i] = vk_pool_strdup(pool, rec->groups[i]);
                u->name = vk_pool_strdup(pool, rec->user);
                u->uid = vk_pool_strdup(pool, rec->uid);
                u->groups = g;
                u->authenticated = 1;
                return NULL;
            }
            if (srv->cfg.token_cb) {
                vk_http_user_t tu = {0};
                if (srv->cfg.token_cb(srv->cfg.ctx, t, r->pub.pool, &tu) && tu.name) {
                    if (!tu.uid) tu.uid = "";
                    /* Make sure system:authenticated is there (as the header promises). */
                    size_t ng = 0;
                    int has = 0;
                    for (; tu.groups && tu.groups[ng]; ng++)
                        if (!strcmp(tu.groups[ng], "system:authenticated")) has = 1;
                    if (!has) {
                        const char **g = vk_pool_alloc(r->pub.pool, (ng + 2) * sizeof *g);
                        for (size_t i = 0; i < ng; i++) g[i] = tu.groups[i];
                        g[ng] = "system:authenticated";
                        tu.groups = g;
                    }
                    tu.authenticated = 1;
                    *u = tu;
                    return NULL;
                }
            }
            return "Unauthorized";
        }
        /* Other schemes (Basic) are not accepted: kube-apiserver answers 401 too. */
        return "Unauthorized";
    }
    u->name = "system:anonymous";
    u->uid = "";
    u->groups = anon_groups;
    u->authenticated = 0;
    return NULL;
}

/* Turns the parsed request into the public struct and gives it to the handler. */
static void dispatch(conn_t *c)
{
    ireq_t *r = c->building;
    c->building = NULL;
    vk_http_req_t *q = &r->pub;
    r->state = R_HANDLER;
    r->keep_alive = llhttp_should_keep_alive(&c->parser);
    r->upgrade = c->parser.upgrade;
    q->method = llhttp_method_name((llhttp_method_t)c->parser.method);
    r->head = !strcmp(q->method, "HEAD");
    const char *url = c->url.len ? c->url.p : "/";
    const char *qm = strchr(url, '?');
    size_t plen = qm ? (size_t)(qm - url) : strlen(url);
    const char *frag = strchr(qm ? qm : url, '#');
    q->path = pct_decode(q->pool, url, plen, 0);
    if (qm) {
        size_t qlen = frag ? (size_t)(frag - qm - 1) : strlen(qm + 1);
        char *qs = vk_pool_alloc(q->pool, qlen + 1);
        memcpy(qs, qm + 1, qlen);
        q->query = qs;
    } else {
        q->query = "";
    }
    char *body = vk_pool_alloc(q->pool, c->body.len + 1);
    if (c->body.len) memcpy(body, c->body.p, c->body.len);
    q->body = body;
    q->body_len = c->body.len;
    if (c->body.cap > 65536) buf_free(&c->body);
    q->remote = c->remote;
    q->conn = c;
    q->start_ns = uv_hrtime();
    c->active = r;
    set_timer(c, T_NONE, 0);
    const char *autherr = authenticate(c, r);
    if (autherr) {
        q->user.name = "system:anonymous";
        q->user.uid = "";
        q->user.groups = anon_groups;
        size_t len;
        char *b = status_json(401, "Unauthorized", &len);
        vk_http_respond(q, 401, "application/json", b, len);
        free(b);
        return;
    }
    c->srv->cfg.handler(c->srv->cfg.ctx, q);
}

static void process_input(conn_t *c)
{
    if (c->in_process) return;
    c->in_process = 1;
    /* A client that pipelines requests without reading the answers is not
     * served further until its unsent data drains (after_write resumes). */
    while (!c->active && !c->closing && !c->close_after_flush && c->in.len &&
           c->unsent <= PIPELINE_MAX) {
        enum llhttp_errno e = llhttp_execute(&c->parser, c->in.p, c->in.len);
        if (e == HPE_OK) {
            c->in.len = 0;
            break;
        }
        if ((e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) && c->building) {
            size_t used = (size_t)(llhttp_get_error_pos(&c->parser) - c->in.p);
            if (used > c->in.len) used = c->in.len;
            memmove(c->in.p, c->in.p + used, c->in.len - used);
            c->in.len -= used;
            if (!c->parser.upgrade) llhttp_resume(&c->parser);
            dispatch(c);
            continue;
        }
        int code = c->parse_status ? c->parse_status : 400;
        const char *msg = code == 413   ? "the request body is too large"
                          : code == 431 ? "the request headers are too large"
                                        : "malformed HTTP request";
        c->in.len = 0;
        send_status_close(c, code, msg);
        break;
    }
    c->in_process = 0;
    if (c->ssl && !c->closing && !c->close_after_flush) {
        if (!c->active && !c->building && !c->in.len && c->timer_mode != T_IDLE)
            set_timer(c, T_IDLE, (uint64_t)c->srv->cfg.idle_timeout_ms);
    }
}

static void log_request(ireq_t *r)
{
    if (vk_log_level() < VK_LOG_INFO) return;
    vk_http_req_t *q = &r->pub;
    double ms = (double)(uv_hrtime() - q->start_ns) / 1e6;
    vk_log_info("%s %s%s%s %d %zu %.1fms %s %s", q->method, q->path, *q->query ? "?" : "",
                q->query, r->status, r->bytes_out, ms, q->user.name, q->remote);
}

static void read_start(conn_t *c);

/* The handler is done with r: free it and move the connection on. */
static void finish_req(ireq_t *r)
{
    conn_t *c = r->c;
    assert(c->active == r);
    log_request(r);
    c->active = NULL;
    c->srv->finished++;
    int keep = r->keep_alive && !r->upgrade && r->state != R_HIJACK;
    free(r->hdrs);
    buf_free(&r->resp_hdrs);
    vk_pool_free(r->pub.pool);
    if (c->closing) {
        maybe_free(c);
        return;
    }
    if (!c->ssl) {
        if (!keep) c->closing = 1;
        return; /* test mode: the feeding loop continues */
    }
    if (!keep || c->srv->stopping) {
        begin_close(c);
        return;
    }
    read_start(c);
    process_input(c);
}

/* ---------------------------------------------------------------- sockets */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    b->base = vk_xmalloc(65536);
    b->len = 65536;
}

static void take_cert_identity(conn_t *c)
{
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (!peer) return;
    if (SSL_get_verify_result(c->ssl) != X509_V_OK || !c->srv->has_client_ca) {
        c->cert_state = -1;
        X509_free(peer);
        return;
    }
    X509_NAME *nm = X509_get_subject_name(peer);
    char buf[256];
    int cn = X509_NAME_get_text_by_NID(nm, NID_commonName, buf, sizeof buf);
    if (cn <= 0) {
        c->cert_state = -1;
        X509_free(peer);
        return;
    }
    c->cert_user = vk_xstrdup(buf);
    size_t cap = 4, n = 0;
    char **g = vk_xcalloc(cap, sizeof *g);
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(nm, NID_organizationName, idx)) >= 0) {
        ASN1_STRING *d = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx));
        unsigned char *u8 = NULL;
        int l = ASN1_STRING_to_UTF8(&u8, d);
        if (l < 0) continue;
        if (n + 2 >= cap) g = vk_xrealloc(g, (cap *= 2) * sizeof *g);
        g[n++] = vk_xstrndup((char *)u8, (size_t)l);
        OPENSSL_free(u8);
    }
    if (n + 2 >= cap) g = vk_xrealloc(g, (cap *= 2) * sizeof *g);
    g[n++] = vk_xstrdup("system:authenticated");
    g[n] = NULL;
    c->cert_groups = g;
    c->cert_state = 1;
    X509_free(peer);
}

/* The client finished sending (TCP FIN or TLS close_notify; clean is 0 for
 * errors and resets). A request still with the handler gets its response
 * (clients may half-close after sending), as do responses still being
 * written; streams and hijacks end. */
static void on_client_eof(conn_t *c, int clean)
{
    ireq_t *r = c->active;
    if (!clean || c->lingering || c->closing || (r && r->state != R_HANDLER) ||
        (!r && !c->unsent)) {
        close_conn(c);
        return;
    }
    c->peer_eof = 1;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    if (r) {
        r->keep_alive = 0;
        return;
    }
    begin_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    conn_t *c = s->data;
    if (nread < 0) {
        free(b->base);
        on_client_eof(c, nread == UV_EOF);
        return;
    }
    if (nread == 0 || c->closing || c->lingering) {
        free(b->base);
        return;
    }
    BIO_write(c->rbio, b->base, (int)nread);
    free(b->base);
    if (!c->handshake_done) {
        int rc = SSL_do_handshake(c->ssl);
        if (rc <= 0) {
            int e = SSL_get_error(c->ssl, rc);
            flush_wbio(c);
            if (e != SSL_ERROR_WANT_READ) {
                if (vk_log_level() >= VK_LOG_DEBUG) {
                    char eb[256];
                    ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
                    vk_log_debug("%s: TLS handshake failed: %s", c->remote, eb);
                }
                ERR_clear_error();
                close_conn(c);
            }
            return;
        }
        c->handshake_done = 1;
        take_cert_identity(c);
        flush_wbio(c);
        set_timer(c, T_IDLE, (uint64_t)c->srv->cfg.idle_timeout_ms);
    }
    ireq_t *r = c->active;
    char tmp[16384];
    int got_eof = 0;
    for (;;) {
        int n = SSL_read(c->ssl, tmp, sizeof tmp);
        if (n > 0) {
            buf_add(&c->in, tmp, (size_t)n);
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_WANT_READ) break;
        ERR_clear_error();
        got_eof = e == SSL_ERROR_ZERO_RETURN ? 1 : -1;
        break;
    }
    flush_wbio(c);
    if (c->closing) return;
    if (r && r->state == R_HIJACK) {
        if (c->in.len && !r->stream_closed) {
            buf_t t = c->in;
            memset(&c->in, 0, sizeof c->in);
            r->on_data(r->data_arg, t.p, t.len);
            buf_free(&t);
        }
    } else if (!r) {
        process_input(c);
    }
    if (c->in.len > IN_PAUSE && c->reading && !c->closing &&
        !(c->active && c->active->state == R_HIJACK)) {
        uv_read_stop(s); /* resumed by finish_req / after_write */
        c->reading = 0;
    }
    if (got_eof && !c->closing) on_client_eof(c, got_eof > 0);
}

static void read_start(conn_t *c)
{
    if (c->reading || c->closing || c->lingering || c->peer_eof) return;
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void on_connection(uv_stream_t *ls, int status)
{
    vk_http_server_t *srv = ls->data;
    if (status < 0 || srv->stopping) return;
    conn_t *c = vk_xcalloc(1, sizeof *c);
    c->srv = srv;
    uv_tcp_init(srv->loop, &c->tcp);
    uv_timer_init(srv->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    c->ssl = SSL_new(srv->ctx);
    c->rbio = BIO_new(BIO_s_mem());
    c->wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(c->ssl, c->rbio, c->wbio);
    SSL_set_accept_state(c->ssl);
    llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    strcpy(c->remote, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, c->ip, sizeof c->ip);
            snprintf(c->remote, sizeof c->remote, "[%s]:%d", c->ip, ntohs(a->sin6_port));
        } else {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, c->ip, sizeof c->ip);
            snprintf(c->remote, sizeof c->remote, "%s:%d", c->ip, ntohs(a->sin_port));
        }
    }
    set_timer(c, T_REQUEST, (uint64_t)srv->cfg.request_timeout_ms);
    read_start(c);
}

/* ------------------------------------------------------------ server setup */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    for (unsigned i = 0; i < inlen;) {
        unsigned l = in[i];
        if (i + 1 + l > inlen) break;
        if (l == 8 && !memcmp(in + i + 1, "http/1.1", 8)) {
            *out = in + i + 1;
            *outlen = (unsigned char)l;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + l;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* Accept any chain during the handshake; the result is checked afterwards so
 * that a bad certificate gives 401 (as kube-apiserver) instead of a TLS alert. */
static int verify_accept(int ok, X509_STORE_CTX *x)
{
    return 1;
}

static int ssl_error(char *err, size_t errlen, const char *what, const char *file)
{
    char eb[256];
    ERR_error_string_n(ERR_get_error(), eb, sizeof eb);
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, file ? file : "", eb);
    return VK_EINVALID;
}

static int make_ctx(vk_http_server_t *srv, const vk_http_config_t *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) return ssl_error(err, errlen, "SSL_CTX_new", NULL);
    srv->ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    /* No session resumption. kubectl, client-go and the Python client never
     * resume a session, while each TLS 1.3 ticket costs a copy of the session
     * (the client certificate decoded again) before the first response, and a
     * server-side cache of TLS 1.2 sessions grows with clients. */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (!cfg->cert_file || !cfg->key_file) {
        snprintf(err, errlen, "cert_file and key_file are required");
        return VK_EINVALID;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1)
        return ssl_error(err, errlen, "loading certificate", cfg->cert_file);
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1)
        return ssl_error(err, errlen, "loading key", cfg->key_file);
    if (SSL_CTX_check_private_key(ctx) != 1)
        return ssl_error(err, errlen, "key does not match certificate", cfg->key_file);
    if (cfg->client_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca_file, NULL) != 1)
            return ssl_error(err, errlen, "loading client CA", cfg->client_ca_file);
        /* The CA names sent in the CertificateRequest, from the certificates
         * just loaded rather than by decoding the file a second time. */
        STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
        for (int i = 0; names && i < sk_X509_OBJECT_num(objs); i++) {
            X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
            X509_NAME *n = x ? X509_NAME_dup(X509_get_subject_name(x)) : NULL;
            if (n && !sk_X509_NAME_push(names, n)) X509_NAME_free(n);
        }
        if (!names || !sk_X509_NAME_num(names)) {
            sk_X509_NAME_pop_free(names, X509_NAME_free);
            return ssl_error(err, errlen, "reading client CA names", cfg->client_ca_file);
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_accept);
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return 0;
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(listen, ':');
    if (!colon) return VK_EINVALID;
    char host[128];
    size_t hl = (size_t)(colon - listen);
    if (hl >= sizeof host) return VK_EINVALID;
    memcpy(host, listen, hl);
    host[hl] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1) return VK_EINVALID;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) ? VK_EINVALID : 0;
    }
    if (!strcmp(host, "localhost") || !*host) strcpy(host, "127.0.0.1");
    return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ? VK_EINVALID : 0;
}

static void init_settings(vk_http_server_t *srv)
{
    llhttp_settings_init(&srv->settings);
    srv->settings.on_message_begin = on_message_begin;
    srv->settings.on_url = on_url;
    srv->settings.on_header_field = on_header_field;
    srv->settings.on_header_value = on_header_value;
    srv->settings.on_header_value_complete = on_header_value_complete;
    srv->settings.on_headers_complete = on_headers_complete;
    srv->settings.on_body = on_body;
    srv->settings.on_message_complete = on_message_complete;
}

static void copy_config(vk_http_server_t *srv, const vk_http_config_t *cfg)
{
    srv->cfg = *cfg;
    if (!srv->cfg.max_header_bytes) srv->cfg.max_header_bytes = 1 << 20;
    if (!srv->cfg.max_body_bytes) srv->cfg.max_body_bytes = 3 << 20;
    if (srv->cfg.idle_timeout_ms <= 0) srv->cfg.idle_timeout_ms = 90000;
    if (srv->cfg.request_timeout_ms <= 0) srv->cfg.request_timeout_ms = 60000;
    if (!srv->cfg.max_streams_per_client) srv->cfg.max_streams_per_client = 500;
    /* The caller's strings are only used during start. */
    srv->has_client_ca = cfg->client_ca_file != NULL;
    srv->cfg.listen = NULL;
    srv->cfg.tokens_file = NULL;
    srv->cfg.cert_file = NULL;
    srv->cfg.key_file = NULL;
    srv->cfg.client_ca_file = NULL;
}

static void free_server(vk_http_server_t *srv)
{
    if (srv->ctx) SSL_CTX_free(srv->ctx);
    free_tokens(srv->toks, srv->ntoks);
    free(srv->tokens_path);
    free(srv);
}

static void on_srv_handle_closed(uv_handle_t *h)
{
    vk_http_server_t *srv = h->data;
    srv->handles_open--;
    maybe_done(srv);
}

int vk_http_server_start(uv_loop_t *loop, const vk_http_config_t *cfg, vk_http_server_t **out,
                         char *err, size_t errlen)
{
    *out = NULL;
    if (errlen) err[0] = 0;
    if (!cfg->handler || !cfg->listen) {
        snprintf(err, errlen, "handler and listen are required");
        return VK_EINVALID;
    }
    vk_http_server_t *srv = vk_xcalloc(1, sizeof *srv);
    srv->loop = loop;
    copy_config(srv, cfg);
    init_settings(srv);
    int rc = make_ctx(srv, cfg, err, errlen);
    if (!rc && cfg->tokens_file) rc = load_tokens(srv, cfg->tokens_file, err, errlen);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (!rc && parse_listen(cfg->listen, &ss)) {
        snprintf(err, errlen, "bad listen address \"%s\" (want IP:PORT)", cfg->listen);
        rc = VK_EINVALID;
    }
    if (rc) {
        free_server(srv);
        return rc;
    }
    uv_tcp_init(loop, &srv->listener);
    uv_timer_init(loop, &srv->defer);
    srv->listener.data = srv->defer.data = srv;
    srv->handles_open = 2;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&ss, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
    if (rc) {
        snprintf(err, errlen, "listen on %s: %s", cfg->listen, uv_strerror(rc));
        /* The handle must be closed before the server can be freed. */
        srv->stopping = 1;
        srv->done_cb = NULL;
        srv->handles_closing = 1;
        uv_close((uv_handle_t *)&srv->listener, on_srv_handle_closed);
        uv_close((uv_handle_t *)&srv->defer, on_srv_handle_closed);
        return rc;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &bl);
    char ip[48];
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        snprintf(srv->address, sizeof srv->address, "[%s]:%d", ip,
                 ntohs(((struct sockaddr_in6 *)&bound)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        snprintf(srv->address, sizeof srv->address, "%s:%d", ip,
                 ntohs(((struct sockaddr_in *)&bound)->sin_port));
    }
    *out = srv;
    return 0;
}

const char *vk_http_server_address(const vk_http_server_t *srv)
{
    return srv->address;
}

static void maybe_done(vk_http_server_t *srv)
{
    if (!srv->stopping || srv->conns) return;
    if (!srv->handles_closing) {
        srv->handles_closing = 1;
        uv_timer_stop(&srv->defer);
        uv_close((uv_handle_t *)&srv->defer, on_srv_handle_closed);
        return;
    }
    if (srv->handles_open) return;
    void (*cb)(void *) = srv->done_cb;
    void *arg = srv->done_arg;
    free_server(srv);
    if (cb) cb(arg);
}

void vk_http_server_stop(vk_http_server_t *srv, void (*done_cb)(void *arg), void *arg)
{
    assert(!srv->stopping);
    srv->stopping = 1;
    srv->done_cb = done_cb;
    srv->done_arg = arg;
    srv->handles_open++; /* keeps the server alive while we walk the connections */
    uv_close((uv_handle_t *)&srv->listener, on_srv_handle_closed);
    conn_t *c = srv->conns;
    while (c) {
        conn_t *next = c->next;
        ireq_t *r = c->active;
        if (!r) {
            if (c->handshake_done)
                begin_close(c);
            else
                close_conn(c);
        } else if (r->state == R_STREAM || r->state == R_HIJACK) {
            /* The stream stays writable so the producer can end it cleanly. */
            notify_close(r);
        }
        /* R_HANDLER: finish_req closes the connection because we are stopping. */
        c = next;
    }
    srv->handles_open--;
    maybe_done(srv);
}

/* ------------------------------------------------------------ request API */

const char *vk_http_header(const vk_http_req_t *req, const char *name)
{
    const ireq_t *r = (const ireq_t *)req;
    for (size_t i = 0; i < r->nhdrs; i++)
        if (!strcasecmp(r->hdrs[i].name, name)) return r->hdrs[i].value;
    return NULL;
}

const char *vk_http_header_nth(const vk_http_req_t *req, const char *name, size_t n)
{
    const ireq_t *r = (const ireq_t *)req;
    for (size_t i = 0; i < r->nhdrs; i++)
        if (!strcasecmp(r->hdrs[i].name, name) && n-- == 0) return r->hdrs[i].value;
    return NULL;
}

const char *vk_http_query(const vk_http_req_t *req, const char *key)
{
    const char *p = req->query;
    size_t kl = strlen(key);
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nl = eq ? (size_t)(eq - p) : len;
        char *k = pct_decode(req->pool, p, nl, 1);
        if (strlen(k) == kl && !memcmp(k, key, kl)) {
            if (!eq) return vk_pool_strdup(req->pool, "");
            return pct_decode(req->pool, eq + 1, len - nl - 1, 1);
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

void vk_http_add_header(vk_http_req_t *req, const char *name, const char *value)
{
    ireq_t *r = (ireq_t *)req;
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) {
        vk_log_warn("http: dropping response header %s with CR/LF", name);
        return;
    }
    buf_adds(&r->resp_hdrs, name);
    buf_adds(&r->resp_hdrs, ": ");
    buf_adds(&r->resp_hdrs, value);
    buf_adds(&r->resp_hdrs, "\r\n");
}

static void head_lines(ireq_t *r, buf_t *out, int status, const char *ctype)
{
    char line[256];
    char date[64];
    http_date(date, sizeof date);
    snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason_phrase(status),
             date);
    buf_adds(out, line);
    if (ctype) {
        buf_adds(out, "Content-Type: ");
        buf_adds(out, ctype);
        buf_adds(out, "\r\n");
    }
    if (r->resp_hdrs.len) buf_add(out, r->resp_hdrs.p, r->resp_hdrs.len);
    if (status != 101 && (!r->keep_alive || r->c->srv->stopping || r->upgrade))
        buf_adds(out, "Connection: close\r\n");
}

static void local_respond(ireq_t *r, int status, const void *body, size_t len);
static void local_stream_begin(ireq_t *r, int status);
static int local_stream_write(ireq_t *r, const void *data, size_t len);
static void local_finish(ireq_t *r);

void vk_http_respond(vk_http_req_t *req, int status, const char *content_type, const void *body,
                     size_t len)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    assert(r->state == R_HANDLER || r->state == R_STREAM);
    r->status = status;
    if (r->local) {
        local_respond(r, status, body, len);
        return;
    }
    if (!c->closing) {
        buf_t out = {0};
        head_lines(r, &out, status, content_type);
        int nobody = status == 204 || status == 304 || (status >= 100 && status < 200);
        if (!nobody) {
            char cl[64];
            snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", len);
            buf_adds(&out, cl);
        }
        buf_adds(&out, "\r\n");
        int with_body = !nobody && !r->head && len;
        /* A small body goes out with the head (one TLS record); a large one
         * is sent from where it is rather than copied behind the head. */
        if (with_body && len <= SEND_CHUNK) buf_add(&out, body, len);
        r->bytes_out = nobody ? 0 : len;
        send_plain(c, out.p, out.len);
        buf_free(&out);
        if (with_body && len > SEND_CHUNK) send_plain(c, body, len);
    }
    if (r->state == R_HANDLER) finish_req(r);
}

static size_t client_streams(vk_http_server_t *srv, const char *ip)
{
    size_t n = 0;
    for (conn_t *c = srv->conns; c; c = c->next)
        if (c->active && c->active->state == R_STREAM && !c->closing && !strcmp(c->ip, ip)) n++;
    return n;
}

void vk_http_stream_begin(vk_http_req_t *req, int status, const char *content_type,
                          vk_http_stream_cb on_close, void *arg)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    assert(r->state == R_HANDLER);
    r->on_close = on_close;
    r->close_arg = arg;
    if (r->local) {
        local_stream_begin(r, status);
        return;
    }
    if (c->ssl && client_streams(c->srv, c->ip) >= c->srv->cfg.max_streams_per_client) {
        /* Too many streams from this client: answer 429 and tell the producer
         * (on_close, on the next loop turn) that this stream is over. */
        r->state = R_STREAM;
        size_t len;
        char *b = status_json(429, "too many concurrent streams from this client", &len);
        vk_http_respond(req, 429, "application/json", b, len);
        free(b);
        r->stream_closed = 1;
        r->close_pending = 1;
        schedule_defer(c->srv);
        return;
    }
    r->state = R_STREAM;
    r->status = status;
    if (c->closing) {
        r->stream_closed = 1;
        r->close_pending = 1;
        schedule_defer(c->srv);
        return;
    }
    buf_t out = {0};
    head_lines(r, &out, status, content_type);
    buf_adds(&out, "Transfer-Encoding: chunked\r\n\r\n");
    send_plain(c, out.p, out.len);
    buf_free(&out);
}

int vk_http_stream_write(vk_http_req_t *req, const void *data, size_t len)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    assert(r->state == R_STREAM);
    if (r->local) return local_stream_write(r, data, len);
    if (r->stream_closed || c->closing) return VK_ECLOSED;
    if (!len) return c->unsent > HIGH_WATER ? VK_EAGAIN : 0;
    if (!r->head) {
        char hdr[32];
        int hl = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
        buf_t out = {0};
        buf_add(&out, hdr, (size_t)hl);
        buf_add(&out, data, len);
        buf_add(&out, "\r\n", 2);
        send_plain(c, out.p, out.len);
        buf_free(&out);
    }
    r->bytes_out += len;
    if (c->closing) return VK_ECLOSED;
    return c->unsent > HIGH_WATER ? VK_EAGAIN : 0;
}

void vk_http_stream_on_drain(vk_http_req_t *req, vk_http_stream_cb on_drain, void *arg)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    r->on_drain = on_drain;
    r->drain_arg = arg;
    r->drain_pending = 1;
    if (r->local) return; /* vk_http_local_resume runs it */
    if (c->unsent <= LOW_WATER) schedule_defer(c->srv);
}

void vk_http_stream_end(vk_http_req_t *req)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    assert(r->state == R_STREAM);
    if (r->local) {
        if (!r->local_cancelled && r->local->on_stream_end) r->local->on_stream_end(r->local->arg);
        local_finish(r);
        return;
    }
    if (!r->stream_closed && !c->closing && !r->head) send_plain(c, "0\r\n\r\n", 5);
    finish_req(r);
}

int vk_http_hijack(vk_http_req_t *req, vk_http_raw_data_cb on_data, vk_http_stream_cb on_close,
                   void *arg)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    if (r->state != R_HANDLER) return VK_EINVALID;
    if (r->local || c->closing || !c->ssl) return VK_ECLOSED;
    r->state = R_HIJACK;
    r->status = 101;
    r->on_data = on_data;
    r->data_arg = arg;
    r->on_close = on_close;
    r->close_arg = arg;
    read_start(c);
    if (c->in.len) {
        r->data_pending = 1;
        schedule_defer(c->srv);
    }
    return 0;
}

int vk_http_raw_write(vk_http_req_t *req, const void *data, size_t len)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    if (r->state != R_HIJACK) return VK_EINVALID;
    if (r->stream_closed || c->closing) return VK_ECLOSED;
    send_plain(c, data, len);
    r->bytes_out += len;
    if (c->closing) return VK_ECLOSED;
    return c->unsent > HIGH_WATER ? VK_EAGAIN : 0;
}

void vk_http_raw_pause(vk_http_req_t *req, int paused)
{
    ireq_t *r = (ireq_t *)req;
    conn_t *c = r->c;
    if (r->state != R_HIJACK || c->closing) return;
    if (!paused) {
        read_start(c);
        return;
    }
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void vk_http_raw_close(vk_http_req_t *req)
{
    ireq_t *r = (ireq_t *)req;
    assert(r->state == R_HIJACK);
    r->close_notified = 1; /* the owner closed it: no on_close */
    finish_req(r);
}

/* ----------------------------------------------------------- local requests */

static void local_finish(ireq_t *r)
{
    /* In-process requests (controllers, syncer) are logged at -v -v. */
    if (vk_log_level() >= VK_LOG_DEBUG) {
        vk_http_req_t *q = &r->pub;
        vk_log_debug("%s %s%s%s %d %.1fms %s local", q->method, q->path, *q->query ? "?" : "",
                     q->query, r->status, (double)(uv_hrtime() - q->start_ns) / 1e6,
                     q->user.name);
    }
    if (r->local_done) *r->local_done = 1;
    free(r->local);
    free(r->hdrs);
    buf_free(&r->resp_hdrs);
    vk_pool_free(r->pub.pool);
    free(r);
}

static void local_respond(ireq_t *r, int status, const void *body, size_t len)
{
    /* A 429-style answer inside a stream is not produced for local requests. */
    if (!r->local_cancelled && r->local->on_response)
        r->local->on_response(r->local->arg, status, body ? body : "", body ? len : 0);
    if (r->state == R_HANDLER) local_finish(r);
}

static void local_stream_begin(ireq_t *r, int status)
{
    r->state = R_STREAM;
    r->status = status;
    if (r->local->on_stream_begin) r->local->on_stream_begin(r->local->arg, status);
}

static int local_stream_write(ireq_t *r, const void *data, size_t len)
{
    if (r->local_cancelled) return VK_ECLOSED;
    r->bytes_out += len;
    if (!len || !r->local->on_chunk) return 0;
    return r->local->on_chunk(r->local->arg, data, len) == VK_EAGAIN ? VK_EAGAIN : 0;
}

static void local_add_header(ireq_t *r, const char *name, const char *value)
{
    r->hdrs = vk_xrealloc(r->hdrs, (r->nhdrs + 1) * sizeof *r->hdrs);
    r->hdrs[r->nhdrs].name = vk_pool_strdup(r->pub.pool, name);
    r->hdrs[r->nhdrs].value = vk_pool_strdup(r->pub.pool, value);
    r->nhdrs++;
}

vk_http_req_t *vk_http_local_request(const vk_http_local_t *spec, vk_http_handler_cb handler,
                                     void *ctx)
{
    ireq_t *r = vk_xcalloc(1, sizeof *r);
    vk_pool_t *pool = vk_pool_new();
    r->pub.pool = pool;
    r->local = vk_xmalloc(sizeof *r->local);
    *r->local = *spec;
    r->pub.method = vk_pool_strdup(pool, spec->method);
    r->pub.path = vk_pool_strdup(pool, spec->path);
    r->pub.query = vk_pool_strdup(pool, spec->query ? spec->query : "");
    char *b = vk_pool_alloc(pool, spec->body_len + 1);
    if (spec->body_len) memcpy(b, spec->body, spec->body_len);
    r->pub.body = b;
    r->pub.body_len = spec->body_len;
    size_t ng = 0;
    while (spec->groups && spec->groups[ng]) ng++;
    const char **g = vk_pool_alloc(pool, (ng + 2) * sizeof *g);
    for (size_t i = 0; i < ng; i++) g[i] = vk_pool_strdup(pool, spec->groups[i]);
    g[ng] = "system:authenticated";
    r->pub.user.name = vk_pool_strdup(pool, spec->user ? spec->user : "system:anonymous");
    r->pub.user.uid = "";
    r->pub.user.groups = g;
    r->pub.user.authenticated = 1;
    r->pub.remote = "local";
    r->pub.start_ns = uv_hrtime();
    r->local->body = NULL;
    r->local->method = r->local->path = r->local->query = NULL;
    if (spec->content_type) local_add_header(r, "Content-Type", spec->content_type);
    local_add_header(r, "Accept", "application/json");
    r->keep_alive = 1;
    r->state = R_HANDLER;
    int done = 0;
    r->local_done = &done;
    handler(ctx, &r->pub);
    if (done) return NULL;
    r->local_done = NULL;
    return &r->pub;
}

void vk_http_local_cancel(vk_http_req_t *req)
{
    ireq_t *r = (ireq_t *)req;
    assert(r->local && r->state == R_STREAM);
    if (r->local_cancelled) return;
    r->local_cancelled = 1;
    r->stream_closed = 1;
    if (!r->close_notified && r->on_close) {
        r->close_notified = 1;
        r->on_close(r->close_arg, req); /* the handler ends the stream, now or later */
    }
}

void vk_http_local_resume(vk_http_req_t *req)
{
    ireq_t *r = (ireq_t *)req;
    assert(r->local);
    if (!r->drain_pending || r->local_cancelled) return;
    r->drain_pending = 0;
    r->on_drain(r->drain_arg, req);
}

/* ---------------------------------------------------------------- test hook */

int vk_http_feed_for_test(const vk_http_config_t *cfg, const void *data, size_t len, char **out,
                          size_t *out_len)
{
    vk_http_server_t *srv = vk_xcalloc(1, sizeof *srv);
    copy_config(srv, cfg);
    init_settings(srv);
    char err[256];
    if (cfg->tokens_file && load_tokens(srv, cfg->tokens_file, err, sizeof err)) {
        free_server(srv);
        return VK_EINVALID;
    }
    buf_t mem = {0};
    buf_add(&mem, "", 0);
    conn_t *c = vk_xcalloc(1, sizeof *c);
    c->srv = srv;
    c->memout = &mem;
    strcpy(c->remote, "test:0");
    strcpy(c->ip, "test");
    c->handshake_done = 1;
    srv->conns = c;
    llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    buf_add(&c->in, data, len);
    for (;;) {
        process_input(c);
        ireq_t *r = c->active;
        if (!r) break;
        /* The test handler must answer synchronously; anything left is ended here. */
        if (r->state == R_STREAM)
            vk_http_stream_end(&r->pub);
        else
            vk_http_respond(&r->pub, 500, NULL, NULL, 0);
    }
    int finished = (int)srv->finished;
    free_conn(c);
    free_server(srv);
    *out = mem.p;
    *out_len = mem.len;
    return finished;
}
