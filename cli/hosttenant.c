/* cli/hosttenant: `vkube tenant create|delete|list|kubeconfig --host-kubeconfig FILE`:
 * the same commands, done through the host cluster's Tenant objects
 * (vkube.io/v1alpha1) that the operator reconciles. Synchronous: each request
 * runs a private libuv loop until its answer arrives. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "cli/cli.h"
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/mem.h"
#include "common/yaml.h"

#define TENANTS "/apis/vkube.io/v1alpha1/tenants"
#define REQUEST_TIMEOUT_MS 30000

typedef struct host {
    uv_loop_t loop;
    vk_httpc_t *c;
    const char *cmd; /* "tenant list", for messages */
} host_t;

typedef struct answer {
    int done;
    int err;
    int status;
    json_t *json; /* owned */
    char *body;   /* owned */
} answer_t;

static void on_done(int err, const vk_httpc_resp_t *resp, void *data)
{
    answer_t *a = data;
    a->done = 1;
    a->err = err;
    if (resp) {
        a->status = resp->status;
        a->json = resp->json ? json_incref(resp->json) : NULL;
        a->body = vk_xstrndup(resp->body, resp->body_len);
    }
}

static int host_open(host_t *h, const char *cmd, const char *kubeconfig)
{
    h->cmd = cmd;
    vk_kubeconfig_t kc;
    char err[512];
    if (vk_kubeconfig_load(kubeconfig, &kc, err, sizeof err)) {
        fprintf(stderr, "vkube %s: %s\n", cmd, err);
        return 1;
    }
    uv_loop_init(&h->loop);
    vk_httpc_opts_t opts = {.max_conns = 2, .user_agent = "vkube-cli/" VK_VERSION};
    int rc = vk_httpc_new(&h->loop, &kc, &opts, &h->c, err, sizeof err);
    vk_kubeconfig_free(&kc);
    if (rc) {
        fprintf(stderr, "vkube %s: %s: %s\n", cmd, kubeconfig, err);
        uv_loop_close(&h->loop);
        return 1;
    }
    return 0;
}

static void host_close(host_t *h)
{
    vk_httpc_close(h->c, NULL, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
}

/* One request; the answer's json/body are owned by the caller (answer_free).
 * Returns 0 when an HTTP answer came back (any status), else prints why and
 * returns 1. */
static int host_call(host_t *h, const char *method, const char *path, const json_t *body,
                     const char *content_type, answer_t *a)
{
    memset(a, 0, sizeof *a);
    vk_httpc_call_t call = {.method = method,
                            .path = path,
                            .body_json = body,
                            .content_type = content_type,
                            .timeout_ms = REQUEST_TIMEOUT_MS,
                            .done_cb = on_done,
                            .data = a};
    int rc = vk_httpc_send(h->c, &call, NULL);
    if (rc) a->err = rc;
    while (!rc && !a->done) uv_run(&h->loop, UV_RUN_ONCE);
    if (a->err) {
        fprintf(stderr, "vkube %s: cannot reach the host API server: %s\n", h->cmd,
                vk_err_name(a->err));
        return 1;
    }
    return 0;
}

static void answer_free(answer_t *a)
{
    json_decref(a->json);
    free(a->body);
    a->json = NULL;
    a->body = NULL;
}

/* The message of a Status answer, or its body. */
static const char *answer_message(const answer_t *a)
{
    const char *m = json_string_value(json_object_get(a->json, "message"));
    return m ? m : (a->body && *a->body ? a->body : "no message");
}

/* Prints a failed answer; 1 for the exit code. A 404 on the collection means
 * the Tenant CRD is not installed. */
static int answer_fail(const host_t *h, const answer_t *a, const char *what)
{
    if (a->status == 404 && !json_object_get(json_object_get(a->json, "details"), "name"))
        fprintf(stderr,
                "vkube %s: the host cluster does not serve tenants.vkube.io (apply "
                "manifests/crd-tenant.yaml or manifests/install.yaml first)\n",
                h->cmd);
    else
        fprintf(stderr, "vkube %s: %s: %s (HTTP %d)\n", h->cmd, what, answer_message(a), a->status);
    return 1;
}

static const char *jstr(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    return json_string_value(v);
}

static const char *condition_message(const json_t *t, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(t, "status"), "conditions"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "type")) ?: "", type))
            return json_string_value(json_object_get(c, "message"));
    return NULL;
}

/* Waits for the Tenant to reach Ready (0) or Failed (1), printing each new
 * phase; 1 after timeout_s. */
static int wait_ready(host_t *h, const char *name, int timeout_s)
{
    char path[512];
    snprintf(path, sizeof path, TENANTS "/%s", name);
    char last[64] = "";
    time_t end = time(NULL) + timeout_s;
    for (;;) {
        answer_t a;
        if (host_call(h, "GET", path, NULL, NULL, &a)) return 1;
        if (a.status != 200) {
            int rc = answer_fail(h, &a, "reading the tenant");
            answer_free(&a);
            return rc;
        }
        const char *phase = jstr(a.json, "status", "phase");
        if (!phase) phase = "Pending";
        if (strcmp(phase, last)) {
            const char *why = condition_message(a.json, "Ready");
            fprintf(stderr, "tenant %s: %s%s%s\n", name, phase, why ? " - " : "", why ? why : "");
            snprintf(last, sizeof last, "%s", phase);
        }
        if (!strcmp(phase, "Ready")) {
            const char *ep = jstr(a.json, "status", "endpoint");
            printf("tenant %s is Ready%s%s\nkubeconfig: vkube tenant kubeconfig %s "
                   "--host-kubeconfig FILE\n",
                   name, ep ? " at " : "", ep ? ep : "", name);
            answer_free(&a);
            return 0;
        }
        if (!strcmp(phase, "Failed")) {
            fprintf(stderr, "vkube %s: tenant %s failed: %s\n", h->cmd, name,
                    condition_message(a.json, "Ready") ?: "see its status.conditions");
            answer_free(&a);
            return 1;
        }
        answer_free(&a);
        if (time(NULL) >= end) {
            fprintf(stderr,
                    "vkube %s: tenant %s is not Ready after %d s (phase %s); is the operator "
                    "running?\n",
                    h->cmd, name, timeout_s, last);
            return 1;
        }
        usleep(250 * 1000);
    }
}

int cli_host_tenant_create(const char *kubeconfig, const char *file, const char *name, int wait,
                           int timeout_s)
{
    const char *cmd = "tenant create";
    if (!file) {
        fprintf(stderr, "vkube %s: with --host-kubeconfig a Tenant manifest (-f FILE) is required\n",
                cmd);
        return 2;
    }
    FILE *f = !strcmp(file, "-") ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "vkube %s: cannot open %s\n", cmd, file);
        return 1;
    }
    size_t cap = 4096, n = 0, got;
    char *text = vk_xmalloc(cap);
    while ((got = fread(text + n, 1, cap - n - 1, f)) > 0)
        if ((n += got) + 1 >= cap) text = vk_xrealloc(text, cap *= 2);
    if (f != stdin) fclose(f);
    text[n] = 0;
    json_t *t = NULL;
    char err[512];
    int rc = vk_yaml_parse(text, n, &t, err, sizeof err);
    free(text);
    if (rc || !json_is_object(t)) {
        fprintf(stderr, "vkube %s: %s: %s\n", cmd, file, rc ? err : "not a YAML object");
        json_decref(t);
        return 1;
    }
    const char *mname = jstr(t, "metadata", "name");
    if (!mname || strcmp(mname, name)) {
        fprintf(stderr, "vkube %s: %s: metadata.name \"%s\" does not match the tenant name \"%s\"\n",
                cmd, file, mname ? mname : "", name);
        json_decref(t);
        return 2;
    }
    host_t h;
    if (host_open(&h, cmd, kubeconfig)) {
        json_decref(t);
        return 1;
    }
    answer_t a;
    rc = host_call(&h, "POST", TENANTS "?fieldManager=vkube-cli", t, NULL, &a);
    json_decref(t);
    if (!rc && a.status != 201 && a.status != 200)
        rc = answer_fail(&h, &a, "creating the Tenant");
    else if (!rc)
        fprintf(stderr, "tenant %s created on the host; the operator provisions it\n", name);
    answer_free(&a);
    if (!rc && wait) rc = wait_ready(&h, name, timeout_s);
    host_close(&h);
    return rc;
}

int cli_host_tenant_delete(const char *kubeconfig, const char *name, int wait, int timeout_s)
{
    const char *cmd = "tenant delete";
    host_t h;
    if (host_open(&h, cmd, kubeconfig)) return 1;
    char path[512];
    snprintf(path, sizeof path, TENANTS "/%s", name);
    answer_t a;
    int rc = host_call(&h, "DELETE", path, NULL, NULL, &a);
    if (!rc && a.status == 404 && json_object_get(json_object_get(a.json, "details"), "name")) {
        fprintf(stderr, "vkube %s: tenant \"%s\" not found on the host\n", cmd, name);
        rc = 1;
    } else if (!rc && a.status != 200 && a.status != 202) {
        rc = answer_fail(&h, &a, "deleting the Tenant");
    }
    answer_free(&a);
    if (!rc && wait) {
        fprintf(stderr, "tenant %s: deleting (the operator removes its host objects)\n", name);
        time_t end = time(NULL) + timeout_s;
        for (;;) {
            if (host_call(&h, "GET", path, NULL, NULL, &a)) {
                rc = 1;
                break;
            }
            int st = a.status;
            answer_free(&a);
            if (st == 404) break;
            if (time(NULL) >= end) {
                fprintf(stderr, "vkube %s: tenant %s still exists after %d s; is the operator running?\n",
                        cmd, name, timeout_s);
                rc = 1;
                break;
            }
            usleep(250 * 1000);
        }
    }
    if (!rc) printf("tenant %s deleted\n", name);
    host_close(&h);
    return rc;
}

/* "3d4h"-style age of an RFC 3339 timestamp, as kubectl prints it. */
static void format_age(const char *ts, char *out, size_t n)
{
    struct tm tm = {0};
    if (!ts || !strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
        snprintf(out, n, "<unknown>");
        return;
    }
    long s = (long)(time(NULL) - timegm(&tm));
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, n, "%lds", s);
    else if (s < 600) snprintf(out, n, "%ldm%lds", s / 60, s % 60);
    else if (s < 3 * 3600) snprintf(out, n, "%ldm", s / 60);
    else if (s < 8 * 3600) snprintf(out, n, "%ldh%ldm", s / 3600, (s % 3600) / 60);
    else if (s < 48 * 3600) snprintf(out, n, "%ldh", s / 3600);
    else if (s < 8 * 86400) snprintf(out, n, "%ldd%ldh", s / 86400, (s % 86400) / 3600);
    else snprintf(out, n, "%ldd", s / 86400);
}

/* Tenant pods on the host: pods in its host namespace that the syncer made. */
static void count_pods(host_t *h, const char *host_ns, char *out, size_t n)
{
    snprintf(out, n, "-");
    if (!host_ns) return;
    char path[512];
    snprintf(path, sizeof path,
             "/api/v1/namespaces/%s/pods?labelSelector=vkube.io%%2Fmanaged-by", host_ns);
    answer_t a;
    if (host_call(h, "GET", path, NULL, NULL, &a)) return;
    if (a.status == 200) snprintf(out, n, "%zu", json_array_size(json_object_get(a.json, "items")));
    answer_free(&a);
}

int cli_host_tenant_list(const char *kubeconfig)
{
    host_t h;
    if (host_open(&h, "tenant list", kubeconfig)) return 1;
    answer_t a;
    int rc = host_call(&h, "GET", TENANTS, NULL, NULL, &a);
    if (!rc && a.status != 200) rc = answer_fail(&h, &a, "listing Tenants");
    if (!rc) {
        printf("%-24s %-13s %-34s %-5s %s\n", "NAME", "PHASE", "ENDPOINT", "PODS", "AGE");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(a.json, "items"), i, t) {
            char age[32], pods[32];
            format_age(jstr(t, "metadata", "creationTimestamp"), age, sizeof age);
            const char *ns = jstr(t, "status", "hostNamespace");
            if (!ns) ns = jstr(t, "spec", "hostNamespace");
            count_pods(&h, ns, pods, sizeof pods);
            const char *phase = jstr(t, "status", "phase");
            const char *ep = jstr(t, "status", "endpoint");
            printf("%-24s %-13s %-34s %-5s %s\n", jstr(t, "metadata", "name") ?: "?",
                   phase ? phase : "Pending", ep ? ep : "<none>", pods, age);
        }
    }
    answer_free(&a);
    host_close(&h);
    return rc;
}

int cli_host_tenant_kubeconfig(const char *kubeconfig, const char *name)
{
    const char *cmd = "tenant kubeconfig";
    host_t h;
    if (host_open(&h, cmd, kubeconfig)) return 1;
    char path[512];
    snprintf(path, sizeof path, TENANTS "/%s", name);
    answer_t a;
    int rc = host_call(&h, "GET", path, NULL, NULL, &a);
    if (!rc && a.status == 404 && json_object_get(json_object_get(a.json, "details"), "name")) {
        fprintf(stderr, "vkube %s: tenant \"%s\" not found on the host\n", cmd, name);
        rc = 1;
    } else if (!rc && a.status != 200) {
        rc = answer_fail(&h, &a, "reading the Tenant");
    }
    char *sname = NULL, *sns = NULL;
    if (!rc) {
        const char *n = jstr(json_object_get(a.json, "status"), "kubeconfigSecret", "name");
        const char *ns = jstr(json_object_get(a.json, "status"), "kubeconfigSecret", "namespace");
        if (!n || !ns) {
            fprintf(stderr,
                    "vkube %s: tenant %s has no kubeconfig yet (phase %s); wait until it is "
                    "Ready\n",
                    cmd, name, jstr(a.json, "status", "phase") ?: "Pending");
            rc = 1;
        } else {
            sname = vk_xstrdup(n);
            sns = vk_xstrdup(ns);
        }
    }
    answer_free(&a);
    if (!rc) {
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/secrets/%s", sns, sname);
        rc = host_call(&h, "GET", path, NULL, NULL, &a);
        if (!rc && a.status != 200) rc = answer_fail(&h, &a, "reading the kubeconfig Secret");
        const char *b64 = rc ? NULL : jstr(json_object_get(a.json, "data"), "kubeconfig", NULL);
        if (!rc && !b64) {
            fprintf(stderr, "vkube %s: Secret %s/%s has no data.kubeconfig\n", cmd, sns, sname);
            rc = 1;
        }
        if (!rc) {
            size_t len = strlen(b64);
            unsigned char *out = vk_xmalloc(len / 4 * 3 + 4);
            int m = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)len);
            if (m < 0) {
                fprintf(stderr, "vkube %s: Secret %s/%s: data.kubeconfig is not base64\n", cmd,
                        sns, sname);
                rc = 1;
            } else {
                while (len && b64[len - 1] == '=' && m > 0) len--, m--; /* padding */
                fwrite(out, 1, (size_t)m, stdout);
            }
            free(out);
        }
        answer_free(&a);
    }
    free(sname);
    free(sns);
    host_close(&h);
    return rc;
}

void cli_tenant_probe(const char *kubeconfig, char *phase, size_t phase_len, char *pods,
                      size_t pods_len)
{
    snprintf(phase, phase_len, "Stopped");
    snprintf(pods, pods_len, "-");
    vk_kubeconfig_t kc;
    char err[512];
    if (vk_kubeconfig_load(kubeconfig, &kc, err, sizeof err)) return;
    host_t h = {.cmd = "tenant list"};
    uv_loop_init(&h.loop);
    vk_httpc_opts_t opts = {.max_conns = 1, .connect_timeout_ms = 1000};
    int rc = vk_httpc_new(&h.loop, &kc, &opts, &h.c, err, sizeof err);
    vk_kubeconfig_free(&kc);
    if (rc) {
        uv_loop_close(&h.loop);
        return;
    }
    answer_t a = {0};
    vk_httpc_call_t call = {.method = "GET",
                            .path = "/api/v1/pods?limit=1",
                            .timeout_ms = 3000,
                            .done_cb = on_done,
                            .data = &a};
    if (!vk_httpc_send(h.c, &call, NULL)) {
        while (!a.done) uv_run(&h.loop, UV_RUN_ONCE);
        if (!a.err && a.status == 200) {
            snprintf(phase, phase_len, "Running");
            json_t *md = json_object_get(a.json, "metadata");
            json_int_t more = json_integer_value(json_object_get(md, "remainingItemCount"));
            snprintf(pods, pods_len, "%lld",
                     (long long)(json_array_size(json_object_get(a.json, "items")) + more));
        } else if (!a.err) {
            snprintf(phase, phase_len, "Error");
        }
    }
    answer_free(&a);
    host_close(&h);
}
