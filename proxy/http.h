/* http: the tenant API server's HTTPS/1.1 transport (libuv + OpenSSL + llhttp).
 *
 * Accepts TLS 1.2+ connections (ALPN offers only http/1.1), authenticates each
 * request (client certificate: CN = user, O = groups; or a bearer token from the
 * tokens file; else system:anonymous), parses it with llhttp, enforces limits
 * (header and body size, idle and slow-client timeouts) and hands complete
 * requests to one handler callback. Responses are plain (Content-Length) or
 * chunked streams with flow control; keep-alive and pipelining are handled here.
 *
 * Called by proxy/server (the REST layer) on the tenant's loop thread. Every
 * function here must be called on that thread. */
#ifndef VK_HTTP_H
#define VK_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/mem.h"

typedef struct vk_http_server vk_http_server_t;
typedef struct vk_http_req vk_http_req_t;

typedef struct vk_http_user {
    const char *name;          /* "system:anonymous" when not authenticated */
    const char *uid;           /* may be "" */
    const char *const *groups; /* NULL-terminated; includes system:authenticated when authenticated */
    int authenticated;         /* 1 if a client certificate or token identified the user */
} vk_http_user_t;

struct vk_http_req {
    vk_pool_t *pool;      /* request-scoped memory, freed after the response ends */
    const char *method;   /* "GET", "POST", ... */
    const char *path;     /* percent-decoded path, without the query */
    const char *query;    /* raw query string without '?', "" if none */
    const char *body;     /* NUL-terminated for convenience; body_len bytes */
    size_t body_len;
    vk_http_user_t user;
    const char *remote;   /* "ip:port" of the client */
    uint64_t start_ns;    /* uv_hrtime() when the request was complete */
    void *conn;           /* private to http.c */
};

/* Token authentication callback: returns 1 and fills *user (strings allocated
 * from pool) if token is valid, else 0. Lets the REST layer also accept
 * service-account JWTs. May be NULL (only the tokens file is used). */
typedef int (*vk_http_token_cb)(void *ctx, const char *token, vk_pool_t *pool,
                                vk_http_user_t *user);
typedef void (*vk_http_handler_cb)(void *ctx, vk_http_req_t *req);

typedef struct vk_http_config {
    const char *listen;          /* "127.0.0.1:6443" (port 0: pick a free one) */
    const char *cert_file;       /* serving certificate (PEM) */
    const char *key_file;        /* its private key (PEM) */
    const char *client_ca_file;  /* CA that signs client certificates */
    const char *tokens_file;     /* optional: CSV lines "token,user,uid[,\"group1,group2\"]" */
    size_t max_header_bytes;     /* 0: 1 MiB */
    size_t max_body_bytes;       /* 0: 3 MiB (kube-apiserver's limit) */
    int idle_timeout_ms;         /* keep-alive idle (0: 90000) */
    int request_timeout_ms;      /* slow client: whole request must arrive within (0: 60000) */
    size_t max_streams_per_client; /* concurrent streaming responses per client IP (0: 500) */
    vk_http_handler_cb handler;
    vk_http_token_cb token_cb;
    void *ctx;                   /* passed to handler and token_cb */
} vk_http_config_t;

/* Loads certificates, binds and listens. 0 or a negative error; a message in err.
 * After a failed bind the loop must run once more to release the listener. */
int vk_http_server_start(uv_loop_t *loop, const vk_http_config_t *cfg, vk_http_server_t **out,
                         char *err, size_t errlen);
/* The bound address "127.0.0.1:PORT" (borrowed). */
const char *vk_http_server_address(const vk_http_server_t *srv);
/* Stops accepting, lets in-flight plain responses finish, ends streams (their
 * close callbacks run), closes connections; done_cb runs when all handles are
 * closed and the server is freed. */
void vk_http_server_stop(vk_http_server_t *srv, void (*done_cb)(void *arg), void *arg);

/* ---- Reading a request ---- */
/* Header value (case-insensitive name), borrowed; NULL if absent. */
const char *vk_http_header(const vk_http_req_t *req, const char *name);
/* The n-th (from 0) value of a header that may repeat (X-Stream-Protocol-Version),
 * borrowed; NULL when there are fewer. */
const char *vk_http_header_nth(const vk_http_req_t *req, const char *name, size_t n);
/* Percent-decoded query parameter (first occurrence), pool-owned; NULL if absent. */
const char *vk_http_query(const vk_http_req_t *req, const char *key);

/* ---- Plain responses ---- */
/* Adds a response header (copied); call before vk_http_respond / stream_begin. */
void vk_http_add_header(vk_http_req_t *req, const char *name, const char *value);
/* Sends the whole response and finishes the request (req is invalid afterwards). */
void vk_http_respond(vk_http_req_t *req, int status, const char *content_type, const void *body,
                     size_t len);

/* ---- Streaming responses (watch, logs) ---- */
typedef void (*vk_http_stream_cb)(void *arg, vk_http_req_t *req);
/* Starts a chunked response. on_close runs once if the client goes away or the
 * server stops; the producer must then stop and call vk_http_stream_end. */
void vk_http_stream_begin(vk_http_req_t *req, int status, const char *content_type,
                          vk_http_stream_cb on_close, void *arg);
/* Queues one chunk and flushes it. Returns 0, or VK_EAGAIN when the client's
 * unsent data is above the high-water mark (the data is still queued; wait for
 * on_drain before writing more), or VK_ECLOSED if the client is gone. */
int vk_http_stream_write(vk_http_req_t *req, const void *data, size_t len);
/* on_drain runs once when unsent data falls below the low-water mark. */
void vk_http_stream_on_drain(vk_http_req_t *req, vk_http_stream_cb on_drain, void *arg);
/* Ends the chunked response and finishes the request (req invalid afterwards). */
void vk_http_stream_end(vk_http_req_t *req);

/* ---- Connection upgrade (exec/attach/port-forward relay) ---- */
/* Takes the raw connection after the request (for a relay that answers 101
 * itself): bytes written with vk_http_raw_write go to the client verbatim
 * (TLS-encrypted), bytes the client sends arrive at on_data; on_close when the
 * client goes. Returns 0 or an error. */
typedef void (*vk_http_raw_data_cb)(void *arg, const void *data, size_t len);
int vk_http_hijack(vk_http_req_t *req, vk_http_raw_data_cb on_data, vk_http_stream_cb on_close,
                   void *arg);
/* 0, or VK_EAGAIN when the client's unsent data is above the high-water mark
 * (queued anyway; vk_http_stream_on_drain works on a hijacked request too), or
 * VK_ECLOSED. */
int vk_http_raw_write(vk_http_req_t *req, const void *data, size_t len);
/* Stops (paused 1) or resumes (0) reading from the client: flow control. */
void vk_http_raw_pause(vk_http_req_t *req, int paused);
/* Ends the hijacked connection (after what was written is sent); req is
 * invalid afterwards and on_close does not run. */
void vk_http_raw_close(vk_http_req_t *req);

/* ---- Local requests (in-process clients: controllers) ---- */
/* A request with no connection, for code inside the tenant process that must go
 * through the same handler as network requests (routing, authorization,
 * admission, validation, store, watches). Responses go to the sink callbacks
 * instead of a socket; a callback may run before vk_http_local_request returns
 * (a handler that answers synchronously). After on_response or on_stream_end
 * the request is gone. */
typedef struct vk_http_local {
    const char *method, *path;      /* "GET", "/api/v1/namespaces/x/pods" */
    const char *query;              /* raw query without '?', or NULL */
    const char *body;               /* may be NULL; copied */
    size_t body_len;
    const char *content_type;       /* request Content-Type, or NULL */
    const char *user;               /* user name */
    const char *const *groups;      /* NULL-terminated, or NULL */
    void (*on_response)(void *arg, int status, const char *body, size_t len);
    void (*on_stream_begin)(void *arg, int status);
    /* One chunk; return 0, or VK_EAGAIN to make the producer wait until
     * vk_http_local_resume (the data is taken either way). */
    int (*on_chunk)(void *arg, const char *data, size_t len);
    void (*on_stream_end)(void *arg);
    void *arg;
} vk_http_local_t;

/* Builds the request from spec (copied) and runs handler(ctx, req) on it.
 * Returns NULL if the request already finished (its response was delivered),
 * else the request: valid until its response or stream ends; use it only for
 * the two calls below while a stream is open. */
vk_http_req_t *vk_http_local_request(const vk_http_local_t *spec, vk_http_handler_cb handler,
                                     void *ctx);
/* Ends an open stream from the client side: the handler's on_close runs and no
 * sink callback runs afterwards; the request is freed when the handler ends it. */
void vk_http_local_cancel(vk_http_req_t *req);
/* After on_chunk returned VK_EAGAIN: the sink is ready again (runs on_drain). */
void vk_http_local_resume(vk_http_req_t *req);

/* ---- Test hook (added for the fuzzer and unit tests) ---- */
/* Runs the plaintext request path (llhttp parsing, size limits, token
 * authentication, dispatch to cfg->handler, response framing) over data as if
 * it had arrived on one connection, without sockets or TLS; cert/key/listen are
 * ignored. The handler should answer synchronously (a request it leaves open is
 * answered 500 / its stream ended). *out gets every byte that would have been
 * sent (NUL-terminated, caller frees with free()). Returns the number of
 * requests finished, or a negative error (bad tokens file). */
int vk_http_feed_for_test(const vk_http_config_t *cfg, const void *data, size_t len, char **out,
                          size_t *out_len);

#endif
