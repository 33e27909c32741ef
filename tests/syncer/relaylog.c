/* relaylog: e2e helper for e2e/suites/46-relay.sh. Checks syncer/relay
 * (tenant pods/log relayed to the host pod) against the REAL host cluster:
 * makes a tenant pod's host pod (syncer/translate), waits until it runs, then
 * sends tenant log requests as local requests (proxy/http.h) whose handler is
 * vk_relay_pod_log, and compares what they return with the host's own answer
 * to the same query: whole log, tailLines=1, follow (a line appended to the
 * host pod log file arrives, then the client goes away), a missing pod (404)
 * and an unknown container (400). One ok / not ok line per check.
 *   relaylog --kubeconfig FILE --tenant FILE --pod-log FILE [--prefix P] */
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/yaml.h"
#include "proxy/http.h"
#include "syncer/relay.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static int failures;
static char prefix[64] = "";

static void result(int ok, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void result(int ok, const char *name, const char *fmt, ...)
{
    char why[600] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (ok) printf("ok %s%s\n", prefix, name);
    else printf("not ok %s%s - %s\n", prefix, name, why), failures++;
    fflush(stdout);
}

static uv_loop_t *L;
static vk_httpc_t *C;

typedef struct {
    int done, status;
    char *body;
    size_t len;
    json_t *json;
} sync_t;

static void sync_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    sync_t *s = data;
    s->done = 1;
    s->status = err ? err : resp->status;
    if (resp) {
        s->body = strndup(resp->body, resp->body_len);
        s->len = resp->body_len;
        s->json = resp->json ? json_incref(resp->json) : NULL;
    }
}

static int call(const char *method, const char *path, const json_t *body, sync_t *s)
{
    memset(s, 0, sizeof *s);
    vk_httpc_call_t c = {.method = method, .path = path, .body_json = body,
                         .timeout_ms = 30000, .done_cb = sync_done, .data = s};
    if (vk_httpc_send(C, &c, NULL)) return -1;
    while (!s->done) uv_run(L, UV_RUN_ONCE);
    return s->status;
}

static void sync_free(sync_t *s)
{
    free(s->body);
    json_decref(s->json);
}

/* ---- tenant side: local requests answered by the relay ---- */

typedef struct {
    vk_relay_t *relay;
    const char *name; /* tenant pod name the handler relays */
} handler_ctx_t;

static void handler(void *ctx, vk_http_req_t *req)
{
    handler_ctx_t *h = ctx;
    vk_relay_pod_log(h->relay, req, "default", h->name);
}

typedef struct {
    int done, status, ended;
    char *buf;
    size_t len;
} sink_t;

static void on_response(void *arg, int status, const char *body, size_t len)
{
    sink_t *s = arg;
    s->status = status;
    s->buf = strndup(body ? body : "", len);
    s->len = len;
    s->done = 1;
}

static void on_stream_begin(void *arg, int status)
{
    sink_t *s = arg;
    s->status = status;
    s->buf = strdup("");
}

static int on_chunk(void *arg, const char *data, size_t len)
{
    sink_t *s = arg;
    s->buf = realloc(s->buf, s->len + len + 1);
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    s->buf[s->len] = 0;
    return 0;
}

static void on_stream_end(void *arg)
{
    sink_t *s = arg;
    s->done = s->ended = 1;
}

static vk_http_req_t *tenant_log(handler_ctx_t *h, const char *query, sink_t *s)
{
    memset(s, 0, sizeof *s);
    char path[300];
    snprintf(path, sizeof path, "/api/v1/namespaces/default/pods/%s/log", h->name);
    vk_http_local_t spec = {.method = "GET", .path = path, .query = query, .user = "admin",
                            .on_response = on_response, .on_stream_begin = on_stream_begin,
                            .on_chunk = on_chunk, .on_stream_end = on_stream_end, .arg = s};
    return vk_http_local_request(&spec, handler, h);
}

static void wake(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static int run_until(int (*cond)(void *), void *arg, int ms)
{
    uv_timer_t t;
    int fired = 0;
    uv_timer_init(L, &t);
    t.data = &fired;
    uv_timer_start(&t, wake, (uint64_t)ms, 0);
    int ok;
    while (!(ok = cond(arg)) && !fired) uv_run(L, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(L, UV_RUN_NOWAIT);
    return ok;
}

static int sink_done(void *arg)
{
    return ((sink_t *)arg)->done;
}

static const char *MARK;
static int sink_has_mark(void *arg)
{
    sink_t *s = arg;
    return s->buf && strstr(s->buf, MARK) != NULL;
}

static int host_pod_running(void *arg)
{
    sync_t s;
    call("GET", arg, NULL, &s);
    const char *ph = json_string_value(json_object_get(json_object_get(s.json, "status"), "phase"));
    int ok = ph && !strcmp(ph, "Running");
    sync_free(&s);
    return ok;
}

/* Relay answer vs the host's own answer to the same query. */
static void compare(handler_ctx_t *h, const char *hpath, const char *query, const char *name)
{
    sink_t s;
    tenant_log(h, query, &s);
    run_until(sink_done, &s, 30000);
    char path[600];
    snprintf(path, sizeof path, "%s%s%s", hpath, query ? "?" : "", query ? query : "");
    sync_t d;
    int st = call("GET", path, NULL, &d);
    /* 2xx: the same non-empty bytes; errors: the same status and reason. */
    const char *rr = NULL, *hr = json_string_value(json_object_get(d.json, "reason"));
    json_t *rj = s.buf && st >= 300 ? json_loads(s.buf, 0, NULL) : NULL;
    rr = json_string_value(json_object_get(rj, "reason"));
    int same = st < 300 ? d.body && s.buf && d.len > 0 && s.len == d.len && !memcmp(s.buf, d.body, d.len)
                        : rr && hr && !strcmp(rr, hr);
    json_decref(rj);
    result(s.done && s.status == st && same,
           name, "relay %d (%zu bytes: %.80s) host %d (%zu bytes: %.80s)", s.status, s.len,
           s.buf ? s.buf : "", st, d.len, d.body ? d.body : "");
    free(s.buf);
    sync_free(&d);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    const char *kcpath = NULL, *tpath = NULL, *logpath = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--kubeconfig")) kcpath = argv[i + 1];
        else if (!strcmp(argv[i], "--tenant")) tpath = argv[i + 1];
        else if (!strcmp(argv[i], "--pod-log")) logpath = argv[i + 1];
        else if (!strcmp(argv[i], "--prefix")) snprintf(prefix, sizeof prefix, "%s", argv[i + 1]);
    }
    if (!kcpath || !tpath || !logpath) return 2;
    char err[1024];
    vk_kubeconfig_t kc;
    vk_tenant_config_t tenant;
    FILE *f = fopen(tpath, "r");
    char tbuf[8192] = "";
    size_t tl = f ? fread(tbuf, 1, sizeof tbuf - 1, f) : 0;
    if (f) fclose(f);
    if (vk_kubeconfig_load(kcpath, &kc, err, sizeof err) ||
        vk_tenant_config_parse(tbuf, tl, &tenant, err, sizeof err)) {
        result(0, "relaylog-setup", "%s", err);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    L = &loop;
    if (vk_httpc_new(&loop, &kc, NULL, &C, err, sizeof err)) {
        result(0, "relaylog-setup", "%s", err);
        return 1;
    }
    vk_kubeconfig_free(&kc);
    const char *hns = tenant.host_namespace;
    vk_translate_ctx_t tc = {&tenant, "127.0.0.1", "6443"};
    char path[600];
    sync_t s;

    json_t *o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace", "metadata", "name", hns);
    int st1 = call("POST", "/api/v1/namespaces", o, &s);
    sync_free(&s);
    json_decref(o);
    o = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ServiceAccount", "metadata", "name",
                  VK_TRANSLATE_WORKLOAD_SA);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/serviceaccounts", hns);
    int st2 = call("POST", path, o, &s);
    sync_free(&s);
    json_decref(o);
    json_t *tp = NULL, *hp = NULL;
    const char *py = "metadata: {name: logger, namespace: default, uid: uid-logger}\n"
                     "spec: {containers: [{name: app, image: busybox}]}\n";
    vk_yaml_parse(py, strlen(py), &tp, err, sizeof err);
    int trc = vk_translate_pod_to_host(&tc, tp, &hp, err, sizeof err);
    snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods", hns);
    int st3 = trc ? trc : call("POST", path, hp, &s);
    if (!trc) sync_free(&s);
    json_decref(tp), json_decref(hp);
    char *hname = vk_translate_host_name("logger", "default", tenant.name);
    char hpod[600];
    snprintf(hpod, sizeof hpod, "/api/v1/namespaces/%s/pods/%s", hns, hname);
    int up = (st1 == 201 || st1 == 409) && (st2 == 201 || st2 == 409) && (st3 == 201 || st3 == 409) &&
             run_until(host_pod_running, hpod, 60000);
    result(up, "relaylog-host-pod-running", "namespace %d sa %d pod %d", st1, st2, st3);
    if (!up) return 1;

    vk_relay_t *relay = vk_relay_new(C, &tenant);
    handler_ctx_t h = {relay, "logger"};
    char hlog[700];
    snprintf(hlog, sizeof hlog, "%s/log", hpod);
    compare(&h, hlog, NULL, "relaylog-whole-log-matches-host");
    compare(&h, hlog, "tailLines=1", "relaylog-tail-matches-host");
    compare(&h, hlog, "container=app&timestamps=true", "relaylog-container-timestamps-match-host");
    compare(&h, hlog, "container=nope", "relaylog-unknown-container-error-relayed");
    handler_ctx_t missing = {relay, "no-such-pod"};
    sink_t m;
    tenant_log(&missing, NULL, &m);
    run_until(sink_done, &m, 30000);
    result(m.done && m.status == 404, "relaylog-missing-host-pod-404", "status %d: %.200s", m.status,
           m.buf ? m.buf : "");
    free(m.buf);

    /* follow: a line appended to the host pod log arrives through the relay. */
    sink_t fs;
    vk_http_req_t *freq = tenant_log(&h, "follow=true", &fs);
    char mark[64];
    snprintf(mark, sizeof mark, "relay-follow-%ld", (long)time(NULL));
    MARK = mark;
    uv_sleep(1000);
    uv_run(L, UV_RUN_NOWAIT);
    FILE *lf = fopen(logpath, "a");
    if (lf) {
        fprintf(lf, "2026-11-25T22:00:00.000000000Z stdout F %s\n", mark);
        fclose(lf);
    }
    int got = run_until(sink_has_mark, &fs, 20000);
    result(lf && got && !fs.ended, "relaylog-follow-streams-new-lines", "status %d, %zu bytes, ended %d",
           fs.status, fs.len, fs.ended);
    if (freq && !fs.ended) vk_http_local_cancel(freq);
    uv_run(L, UV_RUN_NOWAIT);
    free(fs.buf);

    vk_relay_free(relay);
    o = json_pack("{s:s,s:s,s:i}", "apiVersion", "v1", "kind", "DeleteOptions", "gracePeriodSeconds", 0);
    call("DELETE", hpod, o, &s);
    sync_free(&s);
    json_decref(o);
    free(hname);
    vk_httpc_close(C, NULL, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    result(uv_loop_close(L) == 0, "relaylog-loop-closed", "handles left");
    vk_tenant_config_free(&tenant);
    return failures ? 1 : 0;
}
