/* relay: tenant pod logs, exec, attach and port-forward relayed to the host
 * pod. See relay.h. */
#include "syncer/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "syncer/translate.h"

typedef struct op op_t;

typedef struct sop sop_t;

struct vk_relay {
    vk_httpc_t *host;                  /* borrowed */
    const vk_tenant_config_t *tenant;  /* borrowed */
    op_t *ops;                         /* log requests in flight */
    sop_t *streams;                    /* upgrade requests and relayed streams */
};

/* One exec/attach/port-forward: the tenant request and the host tunnel. */
struct sop {
    vk_relay_t *r;
    vk_http_req_t *req;     /* the tenant request (hijacked once the host said 101) */
    vk_httpc_tunnel_t *t;   /* the host side; NULL once it ended */
    int hijacked;
    char sub[16];
    sop_t *prev, *next;
};

struct op {
    vk_relay_t *r;
    vk_http_req_t *req;     /* the tenant request */
    vk_httpc_req_t *hreq;   /* the host request; NULL once done */
    int begun;              /* tenant stream started */
    op_t *prev, *next;
};

/* Query parameters passed on to the host. */
static const char *const PASS[] = {"container", "follow",    "previous",   "timestamps",
                                   "tailLines", "sinceSeconds", "sinceTime", "limitBytes",
                                   NULL};

vk_relay_t *vk_relay_new(vk_httpc_t *host, const vk_tenant_config_t *tenant)
{
    vk_relay_t *r = vk_xcalloc(1, sizeof *r);
    r->host = host;
    r->tenant = tenant;
    return r;
}

static void end_stream(sop_t *op);

void vk_relay_free(vk_relay_t *r)
{
    if (!r) return;
    while (r->ops) vk_httpc_cancel(r->ops->hreq); /* done_cb unlinks */
    while (r->streams) end_stream(r->streams);
    free(r);
}

static void unlink_op(op_t *op)
{
    if (op->prev) op->prev->next = op->next;
    else op->r->ops = op->next;
    if (op->next) op->next->prev = op->prev;
}

static void respond_status(vk_http_req_t *req, int code, const char *reason, const char *msg)
{
    json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message", msg, "reason", reason,
                           "code", code);
    char *s = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    vk_http_respond(req, code, "application/json", s, strlen(s));
    free(s);
}

static void on_tenant_close(void *arg, vk_http_req_t *req)
{
    op_t *op = arg;
    if (op->hreq) vk_httpc_cancel(op->hreq); /* done_cb ends the stream */
}

static void begin(op_t *op)
{
    if (op->begun) return;
    op->begun = 1;
    vk_http_stream_begin(op->req, 200, "text/plain", on_tenant_close, op);
}

static void on_line(const char *line, size_t len, void *data)
{
    op_t *op = data;
    begin(op);
    char *buf = vk_xmalloc(len + 1);
    memcpy(buf, line, len);
    buf[len] = '\n';
    vk_http_stream_write(op->req, buf, len + 1); /* VK_EAGAIN: queued anyway */
    free(buf);
}

static void on_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    op_t *op = data;
    op->hreq = NULL;
    unlink_op(op);
    if (op->begun) {
        if (!err && resp->body_len) vk_http_stream_write(op->req, resp->body, resp->body_len);
        vk_http_stream_end(op->req);
    } else if (err) {
        char msg[256];
        snprintf(msg, sizeof msg, "the host cluster did not answer the log request: %s",
                 vk_err_name(err));
        respond_status(op->req, 503, "ServiceUnavailable", msg);
    } else if (resp->status >= 200 && resp->status < 300) {
        vk_http_respond(op->req, resp->status, "text/plain", resp->body, resp->body_len);
    } else {
        /* The host's Status (it names the host pod; the code and reason are what matter). */
        const char *msg = json_string_value(json_object_get(resp->json, "message"));
        const char *reason = json_string_value(json_object_get(resp->json, "reason"));
        char buf[1024];
        snprintf(buf, sizeof buf, "host: %s", msg ? msg : "log request failed");
        respond_status(op->req, resp->status, reason ? reason : "InternalError", buf);
    }
    free(op);
}

/* Appends "&key=value" with value percent-encoded. */
static void add_param(char **q, const char *key, const char *v)
{
    size_t n = strlen(*q), vl = strlen(v);
    *q = vk_xrealloc(*q, n + strlen(key) + 3 * vl + 3);
    char *p = *q + n;
    p += sprintf(p, "%s%s=", n ? "&" : "", key);
    for (const unsigned char *s = (const unsigned char *)v; *s; s++) {
        if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
            *s == '-' || *s == '_' || *s == '.' || *s == '~')
            *p++ = (char)*s;
        else p += sprintf(p, "%%%02X", *s);
    }
    *p = 0;
}

void vk_relay_pod_log(vk_relay_t *r, vk_http_req_t *req, const char *ns, const char *name)
{
    char *q = vk_xstrdup("");
    for (int i = 0; PASS[i]; i++) {
        const char *v = vk_http_query(req, PASS[i]);
        if (v) add_param(&q, PASS[i], v);
    }
    char *hname = vk_translate_host_name(name, ns, r->tenant->name);
    char *path = vk_xasprintf("/api/v1/namespaces/%s/pods/%s/log%s%s", r->tenant->host_namespace,
                              hname, *q ? "?" : "", q);
    free(hname);
    free(q);
    const char *follow = vk_http_query(req, "follow");
    int streaming = follow && (!strcmp(follow, "true") || !strcmp(follow, "1"));
    op_t *op = vk_xcalloc(1, sizeof *op);
    op->r = r;
    op->req = req;
    vk_httpc_call_t call = {
        .method = "GET",
        .path = path,
        .timeout_ms = streaming ? 0 : 60000,
        .line_cb = on_line,
        .done_cb = on_done,
        .data = op,
    };
    int rc = vk_httpc_send(r->host, &call, &op->hreq);
    free(path);
    if (rc) {
        free(op);
        respond_status(req, 503, "ServiceUnavailable", "the host cluster cannot be reached");
        return;
    }
    op->next = r->ops;
    if (r->ops) r->ops->prev = op;
    r->ops = op;
}

/* ---- exec / attach / port-forward ---- */

/* Tenant request headers passed on to the host (every occurrence). */
static const char *const UP_HEADERS[] = {"Upgrade",
                                         "Sec-WebSocket-Key",
                                         "Sec-WebSocket-Version",
                                         "Sec-WebSocket-Protocol",
                                         "X-Stream-Protocol-Version",
                                         NULL};
/* Host 101 headers passed back to the tenant (lower-case as httpc gives them). */
static const char *const DOWN_HEADERS[] = {"upgrade", "Upgrade",
                                           "sec-websocket-accept", "Sec-WebSocket-Accept",
                                           "sec-websocket-protocol", "Sec-WebSocket-Protocol",
                                           "sec-websocket-extensions", "Sec-WebSocket-Extensions",
                                           "x-stream-protocol-version", "X-Stream-Protocol-Version",
                                           NULL};

char *vk_relay_stream_path(const char *host_ns, const char *host_name, const char *sub,
                           const char *query)
{
    if (strcmp(sub, "exec") && strcmp(sub, "attach") && strcmp(sub, "portforward")) return NULL;
    for (const unsigned char *p = (const unsigned char *)(query ? query : ""); *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '#') return NULL;
    return vk_xasprintf("/api/v1/namespaces/%s/pods/%s/%s%s%s", host_ns, host_name, sub,
                        query && *query ? "?" : "", query ? query : "");
}

char *vk_relay_switching_head(const char *const *h)
{
    size_t cap = 256, len = 0;
    char *out = vk_xmalloc(cap);
    len = (size_t)sprintf(out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n");
    for (size_t i = 0; h && h[i] && h[i + 1]; i += 2) {
        const char *canon = NULL;
        for (size_t k = 0; DOWN_HEADERS[k]; k += 2)
            if (!strcmp(h[i], DOWN_HEADERS[k])) canon = DOWN_HEADERS[k + 1];
        if (!canon || strpbrk(h[i + 1], "\r\n")) continue;
        size_t need = strlen(canon) + strlen(h[i + 1]) + 5;
        if (len + need + 3 > cap) out = vk_xrealloc(out, cap = (len + need + 3) * 2);
        len += (size_t)sprintf(out + len, "%s: %s\r\n", canon, h[i + 1]);
    }
    if (len + 3 > cap) out = vk_xrealloc(out, len + 3);
    memcpy(out + len, "\r\n", 3);
    return out;
}

static void unlink_stream(sop_t *op)
{
    if (op->prev) op->prev->next = op->next;
    else op->r->streams = op->next;
    if (op->next) op->next->prev = op->prev;
}

/* Ends both sides (relay shutting down) and frees op. */
static void end_stream(sop_t *op)
{
    unlink_stream(op);
    if (op->t) vk_httpc_tunnel_close(op->t);
    if (op->hijacked) vk_http_raw_close(op->req);
    else respond_status(op->req, 503, "ServiceUnavailable", "the server is shutting down");
    free(op);
}

/* The tenant client went away. */
static void on_client_close(void *arg, vk_http_req_t *req)
{
    sop_t *op = arg;
    unlink_stream(op);
    if (op->t) vk_httpc_tunnel_close(op->t);
    vk_http_raw_close(op->req);
    free(op);
}

static void on_client_drain(void *arg, vk_http_req_t *req)
{
    sop_t *op = arg;
    if (op->t) vk_httpc_tunnel_pause(op->t, 0);
}

/* Tenant -> host. */
static void on_client_data(void *arg, const void *data, size_t len)
{
    sop_t *op = arg;
    if (!op->t) return;
    if (vk_httpc_tunnel_write(op->t, data, len) == VK_EAGAIN) vk_http_raw_pause(op->req, 1);
}

static void on_host_drain(void *data)
{
    sop_t *op = data;
    vk_http_raw_pause(op->req, 0);
}

/* Host -> tenant. */
static void on_host_data(const void *bytes, size_t len, void *data)
{
    sop_t *op = data;
    if (vk_http_raw_write(op->req, bytes, len) == VK_EAGAIN) {
        vk_httpc_tunnel_pause(op->t, 1);
        vk_http_stream_on_drain(op->req, on_client_drain, op);
    }
}

/* The host ended the stream (after its last bytes) or the connection failed. */
static void on_host_close(int err, void *data)
{
    sop_t *op = data;
    op->t = NULL;
    if (err) vk_log_debug("relay: pods/%s host stream ended: %s", op->sub, vk_err_name(err));
    unlink_stream(op);
    vk_http_raw_close(op->req);
    free(op);
}

static void on_host_response(int err, const vk_httpc_resp_t *resp, void *data)
{
    sop_t *op = data;
    if (err || resp->status != 101) {
        op->t = NULL;
        unlink_stream(op);
        if (err) {
            char msg[256];
            snprintf(msg, sizeof msg, "the host cluster did not answer the %s request: %s",
                     op->sub, vk_err_name(err));
            respond_status(op->req, err == VK_ETIMEOUT ? 504 : 503,
                           err == VK_ETIMEOUT ? "Timeout" : "ServiceUnavailable", msg);
        } else {
            const char *msg = json_string_value(json_object_get(resp->json, "message"));
            const char *reason = json_string_value(json_object_get(resp->json, "reason"));
            char buf[1024];
            if (msg) snprintf(buf, sizeof buf, "host: %s", msg);
            else snprintf(buf, sizeof buf, "host: %s request failed: %.200s", op->sub, resp->body);
            respond_status(op->req, resp->status >= 400 ? resp->status : 502,
                           reason ? reason : "InternalError", buf);
        }
        free(op);
        return;
    }
    int rc = vk_http_hijack(op->req, on_client_data, on_client_close, op);
    if (rc) {
        /* A local (in-process) request or a client already gone. */
        vk_httpc_tunnel_close(op->t);
        op->t = NULL;
        unlink_stream(op);
        respond_status(op->req, 400, "BadRequest",
                       "this connection cannot be upgraded (in-process request or client gone)");
        free(op);
        return;
    }
    op->hijacked = 1;
    char *head = vk_relay_switching_head(resp->headers);
    vk_http_raw_write(op->req, head, strlen(head));
    free(head);
}

void vk_relay_pod_stream(vk_relay_t *r, vk_http_req_t *req, const char *sub, const char *ns,
                         const char *name)
{
    const char *up = vk_http_header(req, "Upgrade");
    if (!up || !*up) {
        respond_status(req, 400, "BadRequest", "Upgrade request required");
        return;
    }
    char *hname = vk_translate_host_name(name, ns, r->tenant->name);
    char *path = vk_relay_stream_path(r->tenant->host_namespace, hname, sub, req->query);
    free(hname);
    if (!path) {
        respond_status(req, 400, "BadRequest", "the request's query cannot be relayed");
        return;
    }
    /* name, value pairs: Connection + every occurrence of UP_HEADERS. */
    size_t n = 2, cap = 16;
    const char **h = vk_xcalloc(cap + 1, sizeof *h);
    h[0] = "Connection";
    h[1] = "Upgrade";
    for (size_t i = 0; UP_HEADERS[i]; i++) {
        const char *v;
        for (size_t k = 0; (v = vk_http_header_nth(req, UP_HEADERS[i], k)); k++) {
            if (n + 3 > cap) h = vk_xrealloc(h, ((cap *= 2) + 1) * sizeof *h);
            h[n++] = UP_HEADERS[i];
            h[n++] = v;
        }
    }
    h[n] = NULL;
    sop_t *op = vk_xcalloc(1, sizeof *op);
    op->r = r;
    op->req = req;
    snprintf(op->sub, sizeof op->sub, "%s", sub);
    vk_httpc_upgrade_t u = {
        .method = req->method,
        .path = path,
        .headers = h,
        .timeout_ms = 30000,
        .response_cb = on_host_response,
        .data_cb = on_host_data,
        .close_cb = on_host_close,
        .drain_cb = on_host_drain,
        .data = op,
    };
    int rc = vk_httpc_upgrade(r->host, &u, &op->t);
    free(h);
    free(path);
    if (rc) {
        free(op);
        respond_status(req, 503, "ServiceUnavailable", "the host cluster cannot be reached");
        return;
    }
    op->next = r->streams;
    if (r->streams) r->streams->prev = op;
    r->streams = op;
}
