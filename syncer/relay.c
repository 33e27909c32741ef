/* relay: tenant pod logs relayed to the host pod. See relay.h. */
#include "syncer/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "syncer/translate.h"

typedef struct op op_t;

struct vk_relay {
    vk_httpc_t *host;                  /* borrowed */
    const vk_tenant_config_t *tenant;  /* borrowed */
    op_t *ops;                         /* requests in flight */
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

void vk_relay_free(vk_relay_t *r)
{
    if (!r) return;
    while (r->ops) vk_httpc_cancel(r->ops->hreq); /* done_cb unlinks */
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
