/* operator/operator: the running operator. Two loops: the main loop holds
 * the Tenant watch, the pass timer, the signal handlers and the supervised
 * `vkube serve` children; a reconcile pass runs from a timer callback and
 * talks to the host synchronously through a second client on a private loop
 * (sync_loop), run to completion for each request. Passes are therefore
 * serialised (one worker, like a controller with MaxConcurrentReconciles=1)
 * and written as straight-line code; each request has a timeout, which
 * bounds how long the main loop is held. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <uv.h>

#include "common/cert.h"
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/tenantdir.h"
#include "common/yaml.h"
#include "operator/operator.h"

#define TENANTS_PATH "/apis/vkube.io/v1alpha1/tenants"
#define REQ_TIMEOUT_MS 15000
#define REQUEUE_MS 300
#define MAX_BACKOFF_MS 30000

typedef struct op op_t;

/* One tenant's supervised `vkube serve` (--local). Freed when both handles
 * are closed and it is no longer wanted. */
typedef struct child {
    op_t *op;
    char *name;
    uv_process_t proc;
    uv_timer_t timer;   /* restart backoff */
    int running;        /* proc (or the adopted process) is alive */
    pid_t adopted;      /* a leftover process of an earlier operator we watch by polling */
    int proc_open;      /* proc handle not yet closed */
    int handles;        /* open handles (timer, proc) */
    int want;           /* keep it running */
    int backoff_ms;
    uint64_t started_ms;
    int restarts;
    struct child *next;
} child_t;

struct op {
    vk_operator_opts_t opts;
    char *bin;             /* vkube binary for children */
    vk_kubeconfig_t kc;    /* host credentials */
    uv_loop_t loop;
    uv_loop_t sync_loop;
    vk_httpc_t *watch_c;   /* on loop */
    vk_httpc_t *sync_c;    /* on sync_loop */
    vk_httpc_req_t *watch_req;
    uv_timer_t pass_timer, watch_timer;
    uv_signal_t sigterm, sigint;
    child_t *children;
    json_t *applied;       /* tenant name -> generation applied by this process */
    uint64_t last_full_ms; /* last pass that re-applied everything */
    uint64_t rng;
    int stopping;
    int crd_missing_logged;
};

/* ---- synchronous requests on sync_loop ---- */

typedef struct sync_res {
    int done, err, status;
    json_t *json;
    char *body;
} sync_res_t;

static void sync_done(int err, const vk_httpc_resp_t *r, void *data)
{
    sync_res_t *s = data;
    s->done = 1;
    s->err = err;
    if (r) {
        s->status = r->status;
        s->json = json_incref(r->json);
        s->body = vk_xstrndup(r->body ? r->body : "", r->body_len);
    }
}

/* Runs one request to completion. Returns the HTTP status (>0) or a negative
 * error. *out (may be NULL) gets the JSON body (caller decrefs; may be NULL).
 * On a non-2xx status, msg (may be NULL) gets the Status message. */
static int sreq_on(vk_httpc_t *c, uv_loop_t *loop, const char *method, const char *path,
                   const char *ctype, const json_t *body, json_t **out, char *msg, size_t msglen)
{
    sync_res_t s = {0};
    vk_httpc_call_t call = {.method = method, .path = path, .body_json = body,
                            .content_type = ctype, .timeout_ms = REQ_TIMEOUT_MS,
                            .done_cb = sync_done, .data = &s};
    int rc = vk_httpc_send(c, &call, NULL);
    if (rc) return rc;
    while (!s.done) uv_run(loop, UV_RUN_ONCE);
    if (msg && msglen) {
        if (s.err)
            snprintf(msg, msglen, "%s %s: %s", method, path, vk_err_name(s.err));
        else if (s.status >= 300) {
            const char *m = json_string_value(json_object_get(s.json, "message"));
            snprintf(msg, msglen, "%s %s: HTTP %d: %s", method, path, s.status,
                     m ? m : (s.body ? s.body : ""));
        } else
            msg[0] = 0;
    }
    free(s.body);
    if (out)
        *out = s.json;
    else
        json_decref(s.json);
    return s.err ? s.err : s.status;
}

static int sreq(op_t *op, const char *method, const char *path, const char *ctype,
                const json_t *body, json_t **out, char *msg, size_t msglen)
{
    return sreq_on(op->sync_c, &op->sync_loop, method, path, ctype, body, out, msg, msglen);
}

static void closed_flag(void *data) { *(int *)data = 1; }

static void sync_client_close(op_t *op, vk_httpc_t *c)
{
    int closed = 0;
    vk_httpc_close(c, closed_flag, &closed);
    while (!closed) uv_run(&op->sync_loop, UV_RUN_ONCE);
}

/* Server-side apply of obj (create or update by name, fields owned by us). */
static int apply(op_t *op, const json_t *obj, char *msg, size_t msglen)
{
    char *path = vk_operator_object_path(obj);
    if (!path) {
        snprintf(msg, msglen, "internal error: no REST path for an object");
        return VK_EINTERNAL;
    }
    char *full = vk_xasprintf("%s?fieldManager=%s&force=true", path, VK_OPERATOR_FIELD_MANAGER);
    int st = sreq(op, "PATCH", full, "application/apply-patch+yaml", obj, NULL, msg, msglen);
    free(full);
    free(path);
    return st >= 200 && st < 300 ? 0 : (st < 0 ? st : VK_EUNAVAILABLE);
}

/* ---- small helpers ---- */

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    return json_string_value(v);
}

static void now_rfc3339(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int has_finalizer(const json_t *t)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(json_object_get(t, "metadata"), "finalizers"), i, f)
        if (json_string_value(f) && !strcmp(json_string_value(f), VK_OPERATOR_FINALIZER)) return 1;
    return 0;
}

/* Adds (add=1) or removes our finalizer with a JSON patch that first tests
 * the list it read, so that a concurrent change of the finalizers gives 422
 * and the next pass retries (status updates in between do not conflict). */
static int set_finalizer(op_t *op, const json_t *t, int add)
{
    const json_t *meta = json_object_get(t, "metadata");
    const json_t *cur = json_object_get(meta, "finalizers");
    json_t *list = json_array();
    size_t i;
    json_t *f;
    json_array_foreach(cur, i, f)
        if (strcmp(json_string_value(f) ? json_string_value(f) : "", VK_OPERATOR_FINALIZER))
            json_array_append(list, f);
    if (add) json_array_append_new(list, json_string(VK_OPERATOR_FINALIZER));
    json_t *patch = cur ? json_pack("[{s:s,s:s,s:O},{s:s,s:s,s:o}]", "op", "test", "path",
                                    "/metadata/finalizers", "value", cur, "op", "replace", "path",
                                    "/metadata/finalizers", "value", list)
                        : json_pack("[{s:s,s:s,s:o}]", "op", "add", "path", "/metadata/finalizers",
                                    "value", list);
    char *path = vk_xasprintf(TENANTS_PATH "/%s", str_at(meta, "name", NULL));
    char msg[512];
    int st = sreq(op, "PATCH", path, "application/json-patch+json", patch, NULL, msg, sizeof msg);
    if (st != 200) vk_log_warn("operator: %s finalizer: %s", add ? "adding" : "removing", msg);
    free(path);
    json_decref(patch);
    return st == 200 ? 0 : -1;
}

/* Patches status when it differs from the current one (lastTransitionTime
 * already carried over by vk_operator_condition). Takes ownership of status. */
static void set_status(op_t *op, const json_t *t, json_t *status)
{
    const json_t *old = json_object_get(t, "status");
    if (old && json_equal(old, status)) {
        json_decref(status);
        return;
    }
    const char *name = str_at(t, "metadata", "name");
    const char *phase = json_string_value(json_object_get(status, "phase"));
    const char *oldphase = json_string_value(json_object_get(old, "phase"));
    if (!oldphase || strcmp(oldphase, phase))
        vk_log_info("operator: tenant %s: phase %s", name, phase);
    json_t *patch = json_pack("{s:o}", "status", status);
    char *path = vk_xasprintf(TENANTS_PATH "/%s/status", name);
    char msg[512];
    int st = sreq(op, "PATCH", path, "application/merge-patch+json", patch, NULL, msg, sizeof msg);
    if (st != 200) vk_log_warn("operator: tenant %s: status: %s", name, msg);
    free(path);
    json_decref(patch);
}

/* A status with one Ready condition (and its reason/message) and a phase. */
static json_t *simple_status(const json_t *t, const char *phase, const char *reason,
                             const char *message)
{
    char now[32];
    now_rfc3339(now, sizeof now);
    const json_t *old = json_object_get(json_object_get(t, "status"), "conditions");
    json_t *st = json_pack("{s:s,s:I,s:[o]}", "phase", phase, "observedGeneration",
                           json_integer_value(json_object_get(json_object_get(t, "metadata"), "generation")),
                           "conditions",
                           vk_operator_condition(old, "Ready", 0, reason, message, now));
    return st;
}

/* ---- children (--local) ---- */

static void schedule_pass(op_t *op, uint64_t ms);

static child_t *child_find(op_t *op, const char *name)
{
    for (child_t *c = op->children; c; c = c->next)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}

static void child_handle_closed(uv_handle_t *h)
{
    child_t *c = h->data;
    if ((uv_handle_t *)&c->proc == h) c->proc_open = 0;
    if (--c->handles > 0) return;
    free(c->name);
    free(c);
}

/* Unlinks c and closes its handles; it is freed when they are closed. */
static void child_release(child_t *c)
{
    op_t *op = c->op;
    for (child_t **p = &op->children; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    uv_close((uv_handle_t *)&c->timer, child_handle_closed);
}

static char *pid_path(op_t *op, const char *name)
{
    return vk_xasprintf("%s/%s.pid", op->opts.data_dir, name);
}

/* The pid of a live `vkube serve` of this tenant started by an earlier
 * operator (from DIR/NAME.pid, checked against /proc/PID/cmdline so that a
 * reused pid is never taken for it), or 0. */
static pid_t leftover_pid(op_t *op, const char *name)
{
    char *pp = pid_path(op, name);
    char *txt = NULL;
    pid_t found = 0;
    if (vk_cert_read_file(pp, &txt, NULL) == 0) {
        pid_t pid = (pid_t)atoi(txt);
        char cpath[64];
        snprintf(cpath, sizeof cpath, "/proc/%d/cmdline", (int)pid);
        char *cmd = NULL;
        size_t len = 0;
        if (pid > 1 && vk_cert_read_file(cpath, &cmd, &len) == 0) {
            for (size_t i = 0; i + 1 < len; i++)
                if (!cmd[i]) cmd[i] = ' ';
            char *want = vk_xasprintf("serve --data-dir %s --tenant %s", op->opts.data_dir, name);
            size_t wl = strlen(want);
            /* cmdline ends with the tenant name (and a NUL turned into nothing). */
            char *at = strstr(cmd, want);
            if (at && (at[wl] == 0 || at[wl] == ' ')) found = pid;
            free(want);
        }
        free(cmd);
    }
    free(txt);
    free(pp);
    return found;
}

/* A leftover that must go before we start our own (it holds the port). */
static void kill_stale(op_t *op, const char *name)
{
    pid_t pid = leftover_pid(op, name);
    if (pid) {
        vk_log_info("operator: tenant %s: stopping a leftover control plane (pid %d)", name, (int)pid);
        kill(pid, SIGTERM);
        for (int i = 0; i < 50 && leftover_pid(op, name) == pid; i++) usleep(100 * 1000);
        if (leftover_pid(op, name) == pid) kill(pid, SIGKILL);
    }
    char *pp = pid_path(op, name);
    unlink(pp);
    free(pp);
}

static void child_spawn(child_t *c);

static void child_restart_cb(uv_timer_t *t)
{
    child_t *c = t->data;
    if (c->proc_open) { /* previous process handle still closing */
        uv_timer_start(&c->timer, child_restart_cb, 50, 0);
        return;
    }
    if (c->want && !c->op->stopping) child_spawn(c);
}

static void child_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    child_t *c = p->data;
    op_t *op = c->op;
    c->running = 0;
    uv_close((uv_handle_t *)&c->proc, child_handle_closed);
    char *pp = pid_path(op, c->name);
    unlink(pp);
    free(pp);
    if (!c->want || op->stopping) {
        vk_log_info("operator: tenant %s: control plane stopped", c->name);
        child_release(c);
        return;
    }
    uint64_t ran = uv_now(&op->loop) - c->started_ms;
    c->backoff_ms = ran > 10000 ? 500 : (c->backoff_ms ? c->backoff_ms * 2 : 500);
    if (c->backoff_ms > MAX_BACKOFF_MS) c->backoff_ms = MAX_BACKOFF_MS;
    c->restarts++;
    vk_log_warn("operator: tenant %s: control plane exited (status %lld, signal %d); restart %d "
                "in %d ms",
                c->name, (long long)status, sig, c->restarts, c->backoff_ms);
    uv_timer_start(&c->timer, child_restart_cb, (uint64_t)c->backoff_ms, 0);
    schedule_pass(op, REQUEUE_MS); /* status: not ready until it answers again */
}

static int open_log(op_t *op, const char *name)
{
    char *lp = vk_xasprintf("%s/%s.log", op->opts.data_dir, name);
    int fd = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    free(lp);
    return fd;
}

static void child_spawn(child_t *c)
{
    op_t *op = c->op;
    kill_stale(op, c->name);
    /* With host credentials the tenant's syncer runs inside `vkube serve`. */
    char *hostkc = vk_xasprintf("%s/%s/host.kubeconfig", op->opts.data_dir, c->name);
    char *args[] = {op->bin, "serve", "--data-dir", (char *)op->opts.data_dir, "--tenant", c->name,
                    access(hostkc, R_OK) == 0 ? "--host-kubeconfig" : NULL, hostkc, NULL};
    int fd = open_log(op, c->name);
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd},
                                     {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd}};
    uv_process_options_t po = {.exit_cb = child_exit_cb, .file = op->bin, .args = args,
                               .stdio_count = 3, .stdio = stdio};
    c->proc.data = c;
    int rc = uv_spawn(&op->loop, &c->proc, &po);
    free(hostkc);
    if (fd >= 0) close(fd);
    if (rc) {
        /* uv_spawn leaves an initialised handle even on failure: close it. */
        c->handles++;
        c->proc_open = 1;
        uv_close((uv_handle_t *)&c->proc, child_handle_closed);
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 500;
        if (c->backoff_ms > MAX_BACKOFF_MS) c->backoff_ms = MAX_BACKOFF_MS;
        vk_log_error("operator: tenant %s: cannot start %s: %s", c->name, op->bin, uv_strerror(rc));
        uv_timer_start(&c->timer, child_restart_cb, (uint64_t)c->backoff_ms, 0);
        return;
    }
    c->handles++;
    c->proc_open = 1;
    c->running = 1;
    c->started_ms = uv_now(&op->loop);
    char *pp = pid_path(op, c->name);
    FILE *f = fopen(pp, "w");
    if (f) {
        fprintf(f, "%d\n", c->proc.pid);
        fclose(f);
    }
    free(pp);
    vk_log_info("operator: tenant %s: control plane started (pid %d)", c->name, c->proc.pid);
}

/* Watches an adopted process (not our child: no exit callback) by polling. */
static void adopted_poll_cb(uv_timer_t *t)
{
    child_t *c = t->data;
    if (leftover_pid(c->op, c->name) == c->adopted) return;
    uv_timer_stop(&c->timer);
    c->adopted = 0;
    c->running = 0;
    if (!c->want || c->op->stopping) {
        vk_log_info("operator: tenant %s: control plane stopped", c->name);
        child_release(c);
        return;
    }
    c->restarts++;
    vk_log_warn("operator: tenant %s: adopted control plane exited; restart %d", c->name,
                c->restarts);
    child_spawn(c);
    schedule_pass(c->op, REQUEUE_MS); /* status: not ready until it answers again */
}

static child_t *child_ensure(op_t *op, const char *name)
{
    child_t *c = child_find(op, name);
    if (c) {
        c->want = 1;
        return c;
    }
    c = vk_xcalloc(1, sizeof *c);
    c->op = op;
    c->name = vk_xstrdup(name);
    c->want = 1;
    uv_timer_init(&op->loop, &c->timer);
    c->timer.data = c;
    c->handles = 1;
    c->next = op->children;
    op->children = c;
    pid_t pid = leftover_pid(op, name);
    if (pid) {
        /* Keep serving without a gap across operator restarts. */
        c->adopted = pid;
        c->running = 1;
        c->started_ms = uv_now(&op->loop);
        vk_log_info("operator: tenant %s: adopted the running control plane (pid %d)", name, (int)pid);
        uv_timer_start(&c->timer, adopted_poll_cb, 500, 500);
        return c;
    }
    child_spawn(c);
    return c;
}

/* Asks c to stop (once: a second SIGTERM makes `vkube serve` exit without
 * draining); it is released when it has exited. */
static void child_stop(child_t *c)
{
    if (!c->want) return;
    c->want = 0;
    if (c->adopted) {
        kill(c->adopted, SIGTERM); /* adopted_poll_cb releases it once gone */
        return;
    }
    uv_timer_stop(&c->timer);
    if (c->running)
        uv_process_kill(&c->proc, SIGTERM); /* child_exit_cb releases it */
    else
        child_release(c); /* a proc handle still closing keeps c alive until then */
}

/* Restarts a running control plane (its configuration changed). */
static void child_restart(child_t *c)
{
    if (c->adopted)
        kill(c->adopted, SIGTERM); /* adopted_poll_cb starts ours */
    else if (c->running)
        uv_process_kill(&c->proc, SIGTERM); /* child_exit_cb restarts it */
}

/* ---- local control planes ---- */

typedef struct exit_res {
    int done;
    int64_t status;
    int sig;
} exit_res_t;

static void sync_exit_cb(uv_process_t *p, int64_t status, int sig)
{
    exit_res_t *r = p->data;
    r->done = 1;
    r->status = status;
    r->sig = sig;
    uv_close((uv_handle_t *)p, NULL);
}

/* Runs bin with args on sync_loop to completion, output to the tenant's log.
 * Returns its exit status (or -1). */
static int run_sync(op_t *op, const char *name, char **args)
{
    int fd = open_log(op, name);
    uv_stdio_container_t stdio[3] = {{.flags = UV_IGNORE},
                                     {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd},
                                     {.flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE, .data.fd = fd}};
    exit_res_t r = {0};
    uv_process_t p;
    p.data = &r;
    uv_process_options_t po = {.exit_cb = sync_exit_cb, .file = op->bin, .args = args,
                               .stdio_count = 3, .stdio = stdio};
    int rc = uv_spawn(&op->sync_loop, &p, &po);
    if (fd >= 0) close(fd);
    if (rc) {
        uv_close((uv_handle_t *)&p, NULL);
        uv_run(&op->sync_loop, UV_RUN_NOWAIT);
        return -1;
    }
    while (!r.done) uv_run(&op->sync_loop, UV_RUN_ONCE);
    uv_run(&op->sync_loop, UV_RUN_NOWAIT); /* the close callback */
    return r.sig ? -1 : (int)r.status;
}

/* A port in 20000-32767 (below the ephemeral range) free on 127.0.0.1 now. */
static int pick_port(op_t *op)
{
    for (int tries = 0; tries < 200; tries++) {
        op->rng ^= op->rng << 13;
        op->rng ^= op->rng >> 7;
        op->rng ^= op->rng << 17;
        int port = 20000 + (int)(op->rng % 12768);
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) return -1;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
        close(s);
        if (ok) return port;
    }
    return -1;
}

/* The Tenant as the control plane reads it (DIR/NAME/tenant.yaml): apiVersion,
 * kind, name and spec only. Caller frees; NULL on failure. */
static char *manifest_yaml(const json_t *t)
{
    json_t *spec = json_object_get(t, "spec");
    json_t *m = json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", "vkube.io/v1alpha1", "kind",
                          "Tenant", "metadata", "name", str_at(t, "metadata", "name"), "spec",
                          spec ? json_incref(spec) : json_object());
    char *yaml = NULL;
    if (vk_yaml_emit(m, &yaml)) yaml = NULL;
    json_decref(m);
    return yaml;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
    char *tmp = vk_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int ok = fd >= 0;
    if (ok) {
        size_t n = strlen(text);
        ok = write(fd, text, n) == (ssize_t)n;
        ok = (close(fd) == 0) && ok;
    }
    if (ok) ok = rename(tmp, path) == 0;
    if (!ok) unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Keeps DIR/NAME/tenant.yaml equal to the spec and gives the syncer host
 * credentials of its own: a token of the namespace's vkube-syncer
 * ServiceAccount (TokenRequest, one year) in DIR/NAME/host.kubeconfig.
 * Returns 1 if the control plane must restart to see a change, 0, or -1
 * with msg set. */
static int sync_local_files(op_t *op, const json_t *t, const vk_tenant_config_t *cfg,
                            const vk_tenantdir_t *td, char *msg, size_t msglen)
{
    int changed = 0;
    char *yaml = manifest_yaml(t);
    char *mpath = vk_xasprintf("%s/tenant.yaml", td->dir);
    char *cur = NULL;
    if (vk_cert_read_file(mpath, &cur, NULL) || !yaml || strcmp(cur, yaml)) {
        if (!yaml || write_file(mpath, yaml, 0600)) {
            snprintf(msg, msglen, "cannot write %s", mpath);
            changed = -1;
        } else {
            changed = 1;
        }
    }
    free(cur);
    free(yaml);
    free(mpath);
    if (changed < 0) return -1;

    char *kpath = vk_xasprintf("%s/host.kubeconfig", td->dir);
    if (access(kpath, R_OK) != 0 && op->kc.ca_pem) {
        char *path = vk_xasprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token",
                                  cfg->host_namespace, VK_OPERATOR_SYNCER);
        json_t *req = json_pack("{s:s,s:s,s:{s:i}}", "apiVersion", "authentication.k8s.io/v1",
                                "kind", "TokenRequest", "spec", "expirationSeconds", 31536000);
        json_t *resp = NULL;
        int st = sreq(op, "POST", path, NULL, req, &resp, msg, msglen);
        const char *token = json_string_value(json_object_get(json_object_get(resp, "status"), "token"));
        char *kc = NULL;
        if (st == 201 || st == 200) {
            if (token && vk_kubeconfig_render("host", op->kc.server, op->kc.ca_pem, NULL, NULL,
                                              token, &kc) == 0 &&
                write_file(kpath, kc, 0600) == 0)
                changed = 1;
            else
                snprintf(msg, msglen, "cannot write %s", kpath);
        }
        if (!changed) changed = -1;
        free(kc);
        json_decref(resp);
        json_decref(req);
        free(path);
    }
    free(kpath);
    return changed;
}

/* Creates DIR/NAME with `vkube tenant create` unless it exists. The manifest
 * goes in with -f when the CLI supports it, else the tenant is created from
 * flags (name and address). 0, or -1 with msg set. */
static int ensure_tenant_dir(op_t *op, const json_t *t, const vk_tenantdir_t *td, char *msg,
                             size_t msglen)
{
    if (vk_tenantdir_exists(td)) return 0;
    const char *name = str_at(t, "metadata", "name");
    int port = pick_port(op);
    if (port < 0) {
        snprintf(msg, msglen, "no free loopback port for the API server");
        return -1;
    }
    char listen[32];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    char *yaml = manifest_yaml(t);
    char *mpath = vk_xasprintf("%s/%s.tenant.yaml", op->opts.data_dir, name);
    int wrote = 0;
    if (yaml) {
        FILE *f = fopen(mpath, "w");
        if (f) {
            wrote = fputs(yaml, f) >= 0;
            wrote = (fclose(f) == 0) && wrote;
        }
    }
    free(yaml);
    int rc = -1;
    if (wrote) {
        char *args[] = {op->bin, "tenant", "create", (char *)name, "-f", mpath, "--data-dir",
                        (char *)op->opts.data_dir, "--listen", listen, NULL};
        rc = run_sync(op, name, args);
    }
    if (rc != 0 && !vk_tenantdir_exists(td)) {
        char *args[] = {op->bin, "tenant", "create", (char *)name, "--data-dir",
                        (char *)op->opts.data_dir, "--listen", listen, NULL};
        rc = run_sync(op, name, args);
    }
    free(mpath);
    /* A create of an earlier operator killed meanwhile may have won the race. */
    if (rc != 0 && !vk_tenantdir_exists(td)) {
        snprintf(msg, msglen, "vkube tenant create %s failed (exit %d); see %s/%s.log", name, rc,
                 op->opts.data_dir, name);
        return -1;
    }
    vk_log_info("operator: tenant %s: created %s (API server %s)", name, td->dir, listen);
    return 0;
}

/* 1 if the tenant's API server answers /readyz with 200 using its own admin
 * kubeconfig. */
static int api_ready(op_t *op, const vk_tenantdir_t *td)
{
    vk_kubeconfig_t kc;
    char err[256];
    if (vk_kubeconfig_load(td->kubeconfig, &kc, err, sizeof err)) return 0;
    vk_httpc_t *c = NULL;
    vk_httpc_opts_t ho = {.max_conns = 1, .connect_timeout_ms = 2000};
    int ready = 0;
    if (vk_httpc_new(&op->sync_loop, &kc, &ho, &c, err, sizeof err) == 0) {
        ready = sreq_on(c, &op->sync_loop, "GET", "/readyz", NULL, NULL, NULL, NULL, 0) == 200;
        sync_client_close(op, c);
    }
    vk_kubeconfig_free(&kc);
    return ready;
}

/* The status of a tenant whose host objects are applied; ready says whether
 * its API server answers. New reference. */
static json_t *provisioned_status(const json_t *t, const vk_tenant_config_t *cfg, json_int_t gen,
                                  const char *endpoint, int ready, const char *cpmsg)
{
    char now[32];
    now_rfc3339(now, sizeof now);
    const json_t *oldc = json_object_get(json_object_get(t, "status"), "conditions");
    char *secret = vk_operator_secret_name(cfg->name);
    json_t *conds = json_pack(
        "[o,o,o]",
        vk_operator_condition(oldc, "HostNamespaceReady", 1, "Applied",
                              "namespace, quota, limit range, network policy and syncer RBAC applied", now),
        vk_operator_condition(oldc, "ControlPlaneReady", ready, ready ? "Running" : "Starting", cpmsg, now),
        vk_operator_condition(oldc, "Ready", ready, ready ? "Ready" : "ControlPlaneStarting",
                              ready ? "the tenant's kubeconfig is in the Secret in status.kubeconfigSecret" : cpmsg, now));
    json_t *status = json_pack("{s:s,s:I,s:s,s:s,s:{s:s,s:s},s:o}", "phase",
                               ready ? "Ready" : "Provisioning", "observedGeneration", gen,
                               "endpoint", endpoint, "hostNamespace", cfg->host_namespace,
                               "kubeconfigSecret", "name", secret, "namespace", cfg->host_namespace,
                               "conditions", conds);
    free(secret);
    return status;
}

/* Applies every object of the array objs in order; 0 or an error in msg. */
static int apply_all(op_t *op, const json_t *objs, char *msg, size_t msglen)
{
    size_t i;
    json_t *o;
    json_array_foreach(objs, i, o) if (apply(op, o, msg, msglen)) return -1;
    return 0;
}

static char *b64enc(const char *p, size_t n)
{
    char *b = vk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b, (const unsigned char *)p, (int)n);
    return b;
}

/* Decodes standard base64; caller frees. NULL if invalid. */
static char *b64dec(const char *b)
{
    size_t n = strlen(b);
    if (n % 4) return NULL;
    char *out = vk_xmalloc(n / 4 * 3 + 1);
    int m = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b, (int)n);
    if (m < 0) {
        free(out);
        return NULL;
    }
    if (n >= 1 && b[n - 1] == '=') m--;
    if (n >= 2 && b[n - 2] == '=') m--;
    out[m] = 0;
    return out;
}

/* In-cluster: the certificate seed Secret, made once with `vkube tenant
 * create` in a scratch directory (serving SANs: the Service's names). */
static int ensure_seed(op_t *op, const vk_tenant_config_t *cfg, char *msg, size_t msglen)
{
    char *path = vk_xasprintf("/api/v1/namespaces/%s/secrets/%s", cfg->host_namespace,
                              VK_OPERATOR_SEED_SECRET);
    int st = sreq(op, "GET", path, NULL, NULL, NULL, msg, msglen);
    free(path);
    if (st == 200) return 0;
    if (st != 404) return -1;
    char *tmpl = vk_xasprintf("%s/seed-XXXXXX", op->opts.data_dir);
    if (!mkdtemp(tmpl)) {
        snprintf(msg, msglen, "mkdtemp %s: %s", tmpl, strerror(errno));
        free(tmpl);
        return -1;
    }
    char *san1 = vk_xasprintf("%s.%s.svc", VK_OPERATOR_API_NAME, cfg->host_namespace);
    char *san2 = vk_xasprintf("%s.%s.svc.cluster.local", VK_OPERATOR_API_NAME, cfg->host_namespace);
    char *san3 = vk_xasprintf("%s.%s", VK_OPERATOR_API_NAME, cfg->host_namespace);
    char listen[32];
    snprintf(listen, sizeof listen, "0.0.0.0:%d", VK_OPERATOR_API_PORT);
    char *args[] = {op->bin, "tenant", "create", cfg->name, "--data-dir", tmpl, "--listen", listen,
                    "--san", san1, "--san", san2, "--san", san3, NULL};
    int rc = run_sync(op, cfg->name, args);
    vk_tenantdir_t td;
    vk_tenantdir_paths(tmpl, cfg->name, &td);
    if (rc != 0) {
        snprintf(msg, msglen, "vkube tenant create %s (certificates) failed (exit %d)", cfg->name, rc);
    } else {
        static const char *const files[] = {"ca.crt", "ca.key", "serving.crt", "serving.key",
                                            "admin.crt", "admin.key", "sa.key", "sa.pub",
                                            "tokens.csv", "listen", "kubeconfig", NULL};
        json_t *data = json_object();
        for (int i = 0; files[i] && rc == 0; i++) {
            char *f = vk_xasprintf("%s/%s", td.dir, files[i]);
            char *txt = NULL;
            size_t len = 0;
            if (vk_cert_read_file(f, &txt, &len)) {
                snprintf(msg, msglen, "cannot read %s", f);
                rc = -1;
            } else {
                char *b = b64enc(txt, len);
                json_object_set_new(data, files[i], json_string(b));
                free(b);
            }
            free(txt);
            free(f);
        }
        if (rc == 0) {
            json_t *sec = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:s,s:o}", "apiVersion", "v1",
                                    "kind", "Secret", "metadata", "name", VK_OPERATOR_SEED_SECRET,
                                    "namespace", cfg->host_namespace, "labels",
                                    VK_OPERATOR_LABEL_TENANT, cfg->name, VK_OPERATOR_LABEL_MANAGED,
                                    "vkube", "type", "Opaque", "data", data);
            rc = apply(op, sec, msg, msglen) ? -1 : 0;
            json_decref(sec);
        } else {
            json_decref(data);
        }
    }
    vk_tenantdir_remove(&td);
    vk_tenantdir_free(&td);
    rmdir(tmpl);
    free(tmpl);
    free(san1);
    free(san2);
    free(san3);
    return rc ? -1 : 0;
}

/* In-cluster: the tenant's admin kubeconfig rendered from the seed Secret,
 * with the Service's cluster DNS name as server. Caller frees *out. */
static int cluster_kubeconfig(op_t *op, const vk_tenant_config_t *cfg, char **out, char *msg,
                              size_t msglen)
{
    char *path = vk_xasprintf("/api/v1/namespaces/%s/secrets/%s", cfg->host_namespace,
                              VK_OPERATOR_SEED_SECRET);
    json_t *sec = NULL;
    int st = sreq(op, "GET", path, NULL, NULL, &sec, msg, msglen);
    free(path);
    int rc = -1;
    if (st == 200) {
        json_t *d = json_object_get(sec, "data");
        const char *ca = json_string_value(json_object_get(d, "ca.crt"));
        const char *crt = json_string_value(json_object_get(d, "admin.crt"));
        const char *key = json_string_value(json_object_get(d, "admin.key"));
        char *pca = ca ? b64dec(ca) : NULL, *pcrt = crt ? b64dec(crt) : NULL;
        char *pkey = key ? b64dec(key) : NULL;
        if (pca && pcrt && pkey) {
            char *server = vk_xasprintf("https://%s.%s.svc:443", VK_OPERATOR_API_NAME,
                                        cfg->host_namespace);
            rc = vk_kubeconfig_render(cfg->name, server, pca, pcrt, pkey, NULL, out) ? -1 : 0;
            free(server);
        }
        if (rc) snprintf(msg, msglen, "the Secret %s lacks the CA or admin credentials", VK_OPERATOR_SEED_SECRET);
        free(pca);
        free(pcrt);
        free(pkey);
    }
    json_decref(sec);
    return rc;
}

/* In-cluster control plane: seed Secret, kubeconfig Secret, Service,
 * StatefulSet; Ready when the StatefulSet has a ready replica. Returns 1
 * while not ready. */
static int reconcile_cluster(op_t *op, const json_t *t, const vk_tenant_config_t *cfg,
                             json_int_t gen, int need_apply)
{
    char msg[1024] = "";
    int failed = 0;
    if (need_apply) {
        json_t *objs = vk_operator_desired(cfg, NULL, 0);
        failed = apply_all(op, objs, msg, sizeof msg);
        json_decref(objs);
        if (!failed) failed = ensure_seed(op, cfg, msg, sizeof msg);
        if (!failed) {
            char *kc = NULL;
            failed = cluster_kubeconfig(op, cfg, &kc, msg, sizeof msg);
            if (!failed) {
                json_t *sec = vk_operator_kubeconfig_secret(cfg, kc);
                failed = apply(op, sec, msg, sizeof msg) != 0;
                json_decref(sec);
            }
            free(kc);
        }
        if (!failed) {
            json_t *cp = vk_operator_control_plane(cfg, op->opts.image);
            failed = apply_all(op, cp, msg, sizeof msg);
            json_decref(cp);
        }
        if (failed) {
            vk_log_warn("operator: tenant %s: %s", cfg->name, msg);
            set_status(op, t, simple_status(t, "Provisioning", "HostObjectsFailed", msg));
            return 1;
        }
        json_object_set_new(op->applied, cfg->name, json_integer(gen));
    }
    char *path = vk_xasprintf("/apis/apps/v1/namespaces/%s/statefulsets/%s", cfg->host_namespace,
                              VK_OPERATOR_API_NAME);
    json_t *sts = NULL;
    sreq(op, "GET", path, NULL, NULL, &sts, NULL, 0);
    free(path);
    json_int_t readyn = json_integer_value(json_object_get(json_object_get(sts, "status"), "readyReplicas"));
    json_decref(sts);
    int ready = readyn >= 1;
    char *endpoint = vk_xasprintf("https://%s.%s.svc:443", VK_OPERATOR_API_NAME, cfg->host_namespace);
    char cpmsg[256];
    snprintf(cpmsg, sizeof cpmsg, "StatefulSet %s: %lld/1 replicas ready", VK_OPERATOR_API_NAME,
             (long long)readyn);
    set_status(op, t, provisioned_status(t, cfg, gen, endpoint, ready, cpmsg));
    free(endpoint);
    /* Not ready: look again at the next resync rather than spin (pods may wait
     * for a volume for a long time). */
    return 0;
}

/* ---- reconcile ---- */

/* Host namespace ownership: 0 ours or absent, 1 terminating, -1 someone else's. */
static int namespace_state(op_t *op, const char *ns, const char *name, int *exists)
{
    char *path = vk_xasprintf("/api/v1/namespaces/%s", ns);
    json_t *obj = NULL;
    int st = sreq(op, "GET", path, NULL, NULL, &obj, NULL, 0);
    free(path);
    int r = 0;
    *exists = st == 200;
    if (st == 200) {
        const char *owner = str_at(json_object_get(obj, "metadata"), "labels", VK_OPERATOR_LABEL_TENANT);
        if (!owner || strcmp(owner, name))
            r = -1;
        else if (str_at(obj, "metadata", "deletionTimestamp"))
            r = 1;
    } else if (st != 404)
        r = 1; /* unknown: try again */
    json_decref(obj);
    return r;
}

/* Deletes an object only if it carries our label for this tenant. Returns 1
 * while it still exists, 0 once gone (or not ours). */
static int delete_owned(op_t *op, const char *path, const char *name)
{
    json_t *obj = NULL;
    int st = sreq(op, "GET", path, NULL, NULL, &obj, NULL, 0);
    int r = 0;
    if (st == 200) {
        const char *owner = str_at(json_object_get(obj, "metadata"), "labels", VK_OPERATOR_LABEL_TENANT);
        if (owner && !strcmp(owner, name)) {
            r = 1;
            if (!str_at(obj, "metadata", "deletionTimestamp")) {
                const char *uid = str_at(obj, "metadata", "uid");
                json_t *opts = json_pack("{s:s,s:s,s:s,s:{s:s}}", "kind", "DeleteOptions",
                                         "apiVersion", "v1", "propagationPolicy", "Background",
                                         "preconditions", "uid", uid ? uid : "");
                char msg[512];
                int d = sreq(op, "DELETE", path, NULL, opts, NULL, msg, sizeof msg);
                json_decref(opts);
                if (d == 404) r = 0;
                else if (d >= 300 || d < 0) vk_log_warn("operator: %s", msg);
            }
        }
    } else if (st != 404)
        r = 1;
    json_decref(obj);
    return r;
}

/* Removes everything this tenant got, then the finalizer. 1: call again. */
static int finalize(op_t *op, const json_t *t, const json_t *owners)
{
    const char *name = str_at(t, "metadata", "name");
    if (!has_finalizer(t)) return 0;
    set_status(op, t, simple_status(t, "Terminating", "Deleting", "removing the tenant's host objects and control plane"));
    child_t *c = child_find(op, name);
    if (c) {
        child_stop(c);
        return 1;
    }
    int pending = 0;
    char *crb = vk_xasprintf("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/vkube-syncer-%s", name);
    pending |= delete_owned(op, crb, name);
    free(crb);
    const char *owner = json_string_value(json_object_get(owners, name));
    if (owner && !strcmp(owner, name)) {
        const char *ns = str_at(t, "spec", "hostNamespace");
        char *nsname = ns && *ns ? vk_xstrdup(ns) : vk_xasprintf("vkube-%s", name);
        char *path = vk_xasprintf("/api/v1/namespaces/%s", nsname);
        pending |= delete_owned(op, path, name);
        free(path);
        free(nsname);
    }
    if (pending) return 1;
    if (op->opts.local) {
        vk_tenantdir_t td;
        vk_tenantdir_paths(op->opts.data_dir, name, &td);
        vk_tenantdir_remove(&td);
        vk_tenantdir_free(&td);
        char *p = vk_xasprintf("%s/%s.tenant.yaml", op->opts.data_dir, name);
        unlink(p);
        free(p);
        p = pid_path(op, name);
        unlink(p);
        free(p);
        p = vk_xasprintf("%s/%s.log", op->opts.data_dir, name);
        unlink(p);
        free(p);
    }
    json_object_del(op->applied, name);
    if (set_finalizer(op, t, 0)) return 1;
    vk_log_info("operator: tenant %s: deleted", name);
    return 0;
}

/* Converges one Tenant. Returns 1 when it should be looked at again soon. */
static int reconcile(op_t *op, json_t *t, const json_t *owners, int full)
{
    const char *name = str_at(t, "metadata", "name");
    if (!name) return 0;
    if (str_at(t, "metadata", "deletionTimestamp")) return finalize(op, t, owners);
    if (!has_finalizer(t)) {
        if (set_finalizer(op, t, 1) == 0 && !json_object_get(t, "status"))
            set_status(op, t, simple_status(t, "Pending", "Accepted", "provisioning starts"));
        return 1; /* the next pass works on the updated object */
    }
    char err[2048];
    vk_tenant_config_t cfg;
    json_object_set_new(t, "apiVersion", json_string("vkube.io/v1alpha1"));
    json_object_set_new(t, "kind", json_string("Tenant"));
    if (vk_tenant_config_from_json(t, &cfg, err, sizeof err)) {
        set_status(op, t, simple_status(t, "Failed", "InvalidSpec", err));
        return 0;
    }
    int again = 0;
    const char *owner = json_string_value(json_object_get(owners, name));
    int exists = 0;
    int nsst = 0;
    if (owner && strcmp(owner, name)) {
        snprintf(err, sizeof err, "host namespace %s is already used by Tenant %s; choose another "
                 "spec.hostNamespace", cfg.host_namespace, owner);
        set_status(op, t, simple_status(t, "Failed", "HostNamespaceConflict", err));
        goto out;
    }
    nsst = namespace_state(op, cfg.host_namespace, name, &exists);
    if (nsst < 0) {
        snprintf(err, sizeof err, "namespace %s exists on the host and is not managed by vkube for "
                 "this tenant; choose another spec.hostNamespace", cfg.host_namespace);
        set_status(op, t, simple_status(t, "Failed", "HostNamespaceNotOwned", err));
        goto out;
    }
    if (nsst > 0) {
        snprintf(err, sizeof err, "namespace %s is still terminating", cfg.host_namespace);
        set_status(op, t, simple_status(t, "Provisioning", "HostNamespaceTerminating", err));
        again = 1;
        goto out;
    }
    json_int_t gen = json_integer_value(json_object_get(json_object_get(t, "metadata"), "generation"));
    json_t *seen = json_object_get(op->applied, name);
    int need_apply = full || !exists || !seen || json_integer_value(seen) != gen;
    if (!op->opts.local) {
        again = reconcile_cluster(op, t, &cfg, gen, need_apply);
        goto out;
    }

    vk_tenantdir_t td;
    vk_tenantdir_paths(op->opts.data_dir, name, &td);
    char msg[1024] = "";
    char *listen = NULL;
    if (ensure_tenant_dir(op, t, &td, msg, sizeof msg) || vk_tenantdir_listen(&td, &listen)) {
        if (!msg[0]) snprintf(msg, sizeof msg, "cannot read %s", td.listen_file);
        set_status(op, t, simple_status(t, "Failed", "ControlPlaneFailed", msg));
        goto out_td;
    }
    char host[64] = "127.0.0.1";
    int port = 0;
    const char *colon = strrchr(listen, ':');
    if (colon) {
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = atoi(colon + 1);
    }
    if (need_apply) {
        json_t *objs = vk_operator_desired(&cfg, host, port);
        size_t i;
        json_t *o;
        int failed = 0;
        json_array_foreach(objs, i, o) {
            if (apply(op, o, msg, sizeof msg)) {
                failed = 1;
                break;
            }
        }
        json_decref(objs);
        if (!failed) {
            char *kc = NULL;
            if (vk_cert_read_file(td.kubeconfig, &kc, NULL)) {
                snprintf(msg, sizeof msg, "cannot read %s", td.kubeconfig);
                failed = 1;
            } else {
                json_t *sec = vk_operator_kubeconfig_secret(&cfg, kc);
                failed = apply(op, sec, msg, sizeof msg) != 0;
                json_decref(sec);
                free(kc);
            }
        }
        if (failed) {
            vk_log_warn("operator: tenant %s: %s", name, msg);
            set_status(op, t, simple_status(t, "Provisioning", "HostObjectsFailed", msg));
            again = 1;
            goto out_td;
        }
        json_object_set_new(op->applied, name, json_integer(gen));
    }
    int files = sync_local_files(op, t, &cfg, &td, msg, sizeof msg);
    if (files < 0) {
        vk_log_warn("operator: tenant %s: %s", name, msg);
        set_status(op, t, simple_status(t, "Provisioning", "HostCredentialsFailed", msg));
        again = 1;
        goto out_td;
    }
    child_t *c = child_find(op, name);
    if (files > 0 && c && c->want) {
        vk_log_info("operator: tenant %s: configuration changed; restarting its control plane", name);
        child_restart(c);
    }
    c = child_ensure(op, name);
    int ready = c->running && api_ready(op, &td);
    again = !ready;

    char *endpoint = vk_xasprintf("https://%s", listen);
    char cpmsg[256];
    if (ready)
        snprintf(cpmsg, sizeof cpmsg, "API server answers at %s", endpoint);
    else
        snprintf(cpmsg, sizeof cpmsg, "waiting for the API server at %s (restarts: %d)", endpoint,
                 c->restarts);
    json_t *status = provisioned_status(t, &cfg, gen, endpoint, ready, cpmsg);
    free(endpoint);
    set_status(op, t, status);
out_td:
    free(listen);
    vk_tenantdir_free(&td);
out:
    vk_tenant_config_free(&cfg);
    return again;
}

static void pass_cb(uv_timer_t *h);

static void schedule_pass(op_t *op, uint64_t ms)
{
    if (op->stopping) return;
    uint64_t due = uv_timer_get_due_in(&op->pass_timer);
    if (uv_is_active((uv_handle_t *)&op->pass_timer) && due <= ms) return;
    uv_timer_start(&op->pass_timer, pass_cb, ms, 0);
}

static void pass_cb(uv_timer_t *h)
{
    op_t *op = h->data;
    uint64_t resync = op->opts.resync_ms > 0 ? (uint64_t)op->opts.resync_ms : 30000;
    uv_update_time(&op->loop);
    int full = uv_now(&op->loop) - op->last_full_ms >= resync || !op->last_full_ms;
    json_t *list = NULL;
    char msg[512];
    int st = sreq(op, "GET", TENANTS_PATH, NULL, NULL, &list, msg, sizeof msg);
    if (st != 200) {
        if (st == 404 && !op->crd_missing_logged++)
            vk_log_warn("operator: the Tenant CRD (tenants.vkube.io) is not installed; waiting "
                        "(kubectl apply -f manifests/crd-tenant.yaml)");
        else if (st != 404)
            vk_log_warn("operator: listing Tenants: %s", msg);
        json_decref(list);
        schedule_pass(op, 1000);
        return;
    }
    op->crd_missing_logged = 0;
    if (full) op->last_full_ms = uv_now(&op->loop);
    json_t *items = json_object_get(list, "items");
    json_t *owners = vk_operator_namespace_owners(items);
    int again = 0;
    size_t i;
    json_t *t;
    json_array_foreach(items, i, t) again |= reconcile(op, t, owners, full);
    /* Children whose Tenant is gone without our finalizer (force-removed). */
    for (child_t *c = op->children, *next; c; c = next) {
        next = c->next;
        if (!c->want) continue;
        if (!json_object_get(owners, c->name)) {
            vk_log_info("operator: tenant %s: no longer exists; stopping its control plane", c->name);
            child_stop(c);
        }
    }
    json_decref(owners);
    json_decref(list);
    schedule_pass(op, again ? REQUEUE_MS : resync);
}

/* ---- watch ---- */

static void watch_start(op_t *op);

static void watch_timer_cb(uv_timer_t *h) { watch_start(h->data); }

static void watch_line(const char *line, size_t len, void *data)
{
    (void)line;
    (void)len;
    schedule_pass(data, 50);
}

static void watch_done(int err, const vk_httpc_resp_t *r, void *data)
{
    op_t *op = data;
    op->watch_req = NULL;
    if (op->stopping) return;
    if (err && err != -ECANCELED) vk_log_debug("operator: watch ended: %s", vk_err_name(err));
    else if (r && r->status != 200) vk_log_debug("operator: watch: HTTP %d", r->status);
    uv_timer_start(&op->watch_timer, watch_timer_cb, r && r->status == 200 ? 100 : 1000, 0);
}

static void watch_start(op_t *op)
{
    if (op->stopping) return;
    vk_httpc_call_t call = {.method = "GET",
                            .path = TENANTS_PATH "?watch=1&timeoutSeconds=300",
                            .line_cb = watch_line,
                            .done_cb = watch_done,
                            .data = op};
    if (vk_httpc_send(op->watch_c, &call, &op->watch_req))
        uv_timer_start(&op->watch_timer, watch_timer_cb, 2000, 0);
    /* Events since the last pass may have been missed while the watch was down. */
    schedule_pass(op, 50);
}

/* ---- lifecycle ---- */

static void on_signal(uv_signal_t *h, int signum)
{
    op_t *op = h->data;
    if (op->stopping) return;
    op->stopping = 1;
    vk_log_info("operator: %s: stopping control planes", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_timer_stop(&op->pass_timer);
    uv_timer_stop(&op->watch_timer);
    if (op->watch_req) vk_httpc_cancel(op->watch_req);
    vk_httpc_close(op->watch_c, NULL, NULL);
    op->watch_c = NULL;
    for (child_t *c = op->children, *next; c; c = next) {
        next = c->next;
        child_stop(c);
    }
    uv_close((uv_handle_t *)&op->pass_timer, NULL);
    uv_close((uv_handle_t *)&op->watch_timer, NULL);
    uv_close((uv_handle_t *)&op->sigterm, NULL);
    uv_close((uv_handle_t *)&op->sigint, NULL);
}

int vk_operator_run(const vk_operator_opts_t *opts)
{
    op_t *op = vk_xcalloc(1, sizeof *op);
    op->opts = *opts;
    char err[512];
    int rc = opts->in_cluster ? vk_kubeconfig_in_cluster(&op->kc, err, sizeof err)
                              : vk_kubeconfig_load(opts->host_kubeconfig, &op->kc, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vkube operator: host credentials: %s\n", err);
        free(op);
        return rc;
    }
    if (opts->vkube_bin) {
        op->bin = vk_xstrdup(opts->vkube_bin);
    } else {
        char buf[4096];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        op->bin = vk_xstrdup(buf);
    }
    /* A peer closing a connection mid-write must be an error, not death:
     * vk_operator_run owns the process (like `vkube serve`). */
    signal(SIGPIPE, SIG_IGN);
    op->applied = json_object();
    op->rng = (uv_hrtime() ^ ((uint64_t)getpid() << 32)) | 1;
    uv_loop_init(&op->loop);
    uv_loop_init(&op->sync_loop);
    vk_httpc_opts_t ho = {.max_conns = 2, .user_agent = "vkube-operator"};
    rc = vk_httpc_new(&op->sync_loop, &op->kc, &ho, &op->sync_c, err, sizeof err);
    if (!rc) rc = vk_httpc_new(&op->loop, &op->kc, &ho, &op->watch_c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vkube operator: %s\n", err);
        if (op->sync_c) sync_client_close(op, op->sync_c);
        uv_loop_close(&op->loop);
        uv_loop_close(&op->sync_loop);
        vk_kubeconfig_free(&op->kc);
        json_decref(op->applied);
        free(op->bin);
        free(op);
        return rc;
    }
    uv_timer_init(&op->loop, &op->pass_timer);
    uv_timer_init(&op->loop, &op->watch_timer);
    op->pass_timer.data = op->watch_timer.data = op;
    uv_signal_init(&op->loop, &op->sigterm);
    uv_signal_init(&op->loop, &op->sigint);
    op->sigterm.data = op->sigint.data = op;
    uv_signal_start(&op->sigterm, on_signal, SIGTERM);
    uv_signal_start(&op->sigint, on_signal, SIGINT);
    vk_log_info("operator: watching Tenants on %s (%s mode, data in %s)", op->kc.server,
                opts->local ? "local" : "cluster", opts->local ? opts->data_dir : "-");
    watch_start(op);
    uv_run(&op->loop, UV_RUN_DEFAULT);
    sync_client_close(op, op->sync_c);
    uv_run(&op->sync_loop, UV_RUN_DEFAULT);
    int lc = uv_loop_close(&op->loop) | uv_loop_close(&op->sync_loop);
    if (lc) vk_log_warn("operator: a loop still had handles at exit");
    vk_kubeconfig_free(&op->kc);
    json_decref(op->applied);
    free(op->bin);
    free(op);
    vk_log_info("operator: stopped");
    return 0;
}
