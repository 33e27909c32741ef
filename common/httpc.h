/* httpc: an HTTPS/1.1 client on a libuv loop (OpenSSL memory BIOs + llhttp),
 * for talking to a Kubernetes API server. One client serves one server (the
 * kubeconfig's): it keeps a pool of keep-alive connections, verifies the
 * server against the kubeconfig's CA (or the system store; or not at all when
 * insecure), authenticates with the client certificate or bearer token, and
 * runs requests with a callback for the whole response, or a callback per
 * line for streaming responses (watch). Requests have timeouts and can be
 * cancelled. Used by the syncer and the operator to reach the host cluster.
 *
 * All functions must be called on the loop's thread. Callbacks run on it. */
#ifndef VK_HTTPC_H
#define VK_HTTPC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/kubeconfig.h"

typedef struct vk_httpc vk_httpc_t;
typedef struct vk_httpc_req vk_httpc_req_t;

typedef struct vk_httpc_opts {
    int max_conns;             /* connections to the server (0: 8); more requests wait */
    uint64_t connect_timeout_ms; /* TCP + TLS handshake (0: 10000) */
    size_t max_body_bytes;     /* non-streaming response limit (0: 64 MiB) */
    const char *user_agent;    /* NULL: "vkube" */
} vk_httpc_opts_t;

/* A response, valid only during the done callback. Header names lower-case. */
typedef struct vk_httpc_resp {
    int status;                /* HTTP status code */
    const char *const *headers; /* name0, value0, name1, value1, ..., NULL */
    const char *body;          /* NUL-terminated; for streams, what was not
                                  delivered by line_cb (non-2xx bodies) */
    size_t body_len;
    json_t *json;              /* body parsed when it is JSON, else NULL; borrowed */
} vk_httpc_resp_t;

/* Called exactly once per request sent successfully: err 0 and resp for a
 * complete response (any status); or err < 0 and resp NULL: VK_ETIMEOUT,
 * -ECANCELED (vk_httpc_cancel), VK_ECLOSED (client closed), VK_ETOOLARGE,
 * VK_EUNAVAILABLE (connect/TLS/protocol failure; details at log level warn). */
typedef void (*vk_httpc_done_cb)(int err, const vk_httpc_resp_t *resp, void *data);
/* Streaming: one complete line of a 2xx body, without its "\n". */
typedef void (*vk_httpc_line_cb)(const char *line, size_t len, void *data);

typedef struct vk_httpc_call {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* path and query, e.g. "/api/v1/namespaces/x/pods?watch=1" */
    const json_t *body_json;   /* sent as application/json unless content_type is set */
    const char *body;          /* or raw body bytes (body_json NULL) */
    size_t body_len;
    const char *content_type;  /* e.g. "application/merge-patch+json"; NULL: json */
    const char *const *headers; /* extra request headers: name, value, ..., NULL */
    uint64_t timeout_ms;       /* whole request (0: none; set one except for watches) */
    vk_httpc_line_cb line_cb;  /* non-NULL: stream the body line by line */
    vk_httpc_done_cb done_cb;  /* required */
    void *data;                /* passed to the callbacks */
} vk_httpc_call_t;

/* Creates a client for kc's server on loop (kc is copied; not kept). opts may
 * be NULL. 0, or VK_EINVALID with a message in err (bad URL, bad PEM). Caller
 * closes it with vk_httpc_close. */
int vk_httpc_new(uv_loop_t *loop, const vk_kubeconfig_t *kc, const vk_httpc_opts_t *opts,
                 vk_httpc_t **out, char *err, size_t errlen);

/* Starts a request (the call struct and its strings are copied). On success
 * returns 0, sets *req (may be NULL) to a handle valid until done_cb runs, and
 * done_cb will run once, never from inside this function. On failure returns
 * a negative error and no callback runs. */
int vk_httpc_send(vk_httpc_t *c, const vk_httpc_call_t *call, vk_httpc_req_t **req);

/* Cancels a request: its done_cb runs (before this returns) with -ECANCELED;
 * a connection it was using is closed. Only valid before done_cb ran. */
void vk_httpc_cancel(vk_httpc_req_t *req);

/* Fails every request with VK_ECLOSED (callbacks run before this returns),
 * closes the connections and frees the client; close_cb (may be NULL) runs
 * from the loop when everything is released. Safe inside a done_cb. */
void vk_httpc_close(vk_httpc_t *c, void (*close_cb)(void *data), void *data);

/* The loop the client runs on (borrowed). */
uv_loop_t *vk_httpc_loop(const vk_httpc_t *c);

/* Statistics for tests and benchmarks: connections opened so far, open now. */
uint64_t vk_httpc_conns_opened(const vk_httpc_t *c);
int vk_httpc_conns_open(const vk_httpc_t *c);

/* ---- Upgraded connections (exec/attach/port-forward relay) ----
 * A request with "Connection: Upgrade" on a connection of its own (never one
 * of the keep-alive pool, and not counted in max_conns). When the server
 * answers 101 the connection becomes a raw byte tunnel: bytes written go to
 * the server verbatim (TLS-encrypted), bytes it sends arrive at data_cb. */
typedef struct vk_httpc_tunnel vk_httpc_tunnel_t;

typedef struct vk_httpc_upgrade {
    const char *method;        /* "GET" (WebSocket) or "POST" (SPDY) */
    const char *path;          /* path and query */
    const char *const *headers; /* name, value, ..., NULL: must carry Connection
                                  and Upgrade (and the protocol's own headers) */
    uint64_t timeout_ms;       /* until the response head (0: 30000) */
    /* Once, never from inside vk_httpc_upgrade: err < 0 (resp NULL: as for
     * vk_httpc_done_cb), or the response. The tunnel is open only when err is
     * 0 and resp->status is 101 (resp->body may then hold nothing); in every
     * other case the tunnel handle is invalid once this returns. */
    void (*response_cb)(int err, const vk_httpc_resp_t *resp, void *data);
    /* Bytes from the server after the 101 (borrowed for the call). */
    void (*data_cb)(const void *bytes, size_t len, void *data);
    /* The server closed (err 0) or the connection failed (err < 0); the
     * handle is invalid once this returns. Not called after
     * vk_httpc_tunnel_close. */
    void (*close_cb)(int err, void *data);
    /* Once after vk_httpc_tunnel_write returned VK_EAGAIN, when the unsent
     * bytes fell below the low-water mark. May be NULL. */
    void (*drain_cb)(void *data);
    void *data;
} vk_httpc_upgrade_t;

/* Opens a new connection and sends the upgrade request (u and its strings are
 * copied). 0 and *out (a handle valid until response_cb says it is not, or
 * close_cb ran, or vk_httpc_tunnel_close), or a negative error and no callback
 * runs. */
int vk_httpc_upgrade(vk_httpc_t *c, const vk_httpc_upgrade_t *u, vk_httpc_tunnel_t **out);
/* Sends bytes through an open tunnel. 0, or VK_EAGAIN when more than 1 MiB is
 * unsent (the bytes are queued anyway; drain_cb runs later), or VK_ECLOSED. */
int vk_httpc_tunnel_write(vk_httpc_tunnel_t *t, const void *bytes, size_t len);
/* Stops (paused 1) or resumes (0) reading from the server: flow control. */
void vk_httpc_tunnel_pause(vk_httpc_tunnel_t *t, int paused);
/* Closes the tunnel (or abandons the upgrade still waiting for its answer);
 * no callback runs afterwards and t is invalid. */
void vk_httpc_tunnel_close(vk_httpc_tunnel_t *t);

#endif
