/* syncer_bench: CPU cost of the syncer's pure parts: YAML parsing (a 500-pod
 * List), pod translation tenant -> host, and one reconcile pass over 500
 * tenant pods and their 500 host pods (in sync, so the pass only compares).
 * Figures are printed, never asserted. */
#include "common/yaml.h"
#include "syncer/reconcile.h"
#include "syncer/tenant.h"
#include "syncer/translate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *POD_FMT =
    "- apiVersion: v1\n  kind: Pod\n"
    "  metadata: {name: web-%d, namespace: team-%d, uid: uid-%d, labels: {app: web, pod-template-hash: 7c9f}}\n"
    "  spec:\n    serviceAccountName: builder\n"
    "    volumes: [{name: cfg, configMap: {name: app-config}}, {name: s, secret: {secretName: app-secret}}]\n"
    "    containers:\n    - name: app\n      image: nginx:1.25\n"
    "      env: [{name: A, value: '1'}, {name: P, valueFrom: {secretKeyRef: {name: app-secret, key: p}}}]\n"
    "      resources: {requests: {cpu: 100m, memory: 64Mi}}\n"
    "  status: {phase: Running}\n";

int main(void)
{
    const int N = 500;
    size_t cap = (size_t)N * 700, len = 0;
    char *y = malloc(cap);
    for (int i = 0; i < N; i++) len += (size_t)snprintf(y + len, cap - len, POD_FMT, i, i % 10, i);
    vk_tenant_config_t t;
    char err[512];
    const char *tm = "apiVersion: vkube.io/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
                     "spec: {isolation: {nodeSelector: {vkube.io/node-pool: acme}, tolerations: "
                     "[{key: vkube.io/tenant, operator: Equal, value: acme, effect: NoSchedule}], "
                     "runtimeClassName: kata-clh}}\n";
    if (vk_tenant_config_parse(tm, strlen(tm), &t, err, sizeof err)) return 1;
    vk_translate_ctx_t ctx = {&t, "10.96.0.1", "443"};

    json_t *pods = NULL;
    int reps = 20;
    double t0 = now();
    for (int r = 0; r < reps; r++) {
        json_decref(pods);
        vk_yaml_parse(y, len, &pods, err, sizeof err);
    }
    double dt = now() - t0;
    printf("yaml parse: %zu KiB, %d pods: %.1f MB/s, %.0f pods/s\n", len / 1024, N,
           (double)len * reps / dt / 1e6, (double)N * reps / dt);

    int M = 20000;
    t0 = now();
    for (int i = 0; i < M; i++) {
        json_t *h = NULL;
        vk_translate_pod_to_host(&ctx, json_array_get(pods, (size_t)(i % N)), &h, err, sizeof err);
        json_decref(h);
    }
    dt = now() - t0;
    printf("pod translate tenant->host: %.0f pods/s (%.1f us/pod)\n", M / dt, dt / M * 1e6);

    json_t *host = json_array();
    for (int i = 0; i < N; i++) {
        json_t *h = NULL;
        vk_translate_pod_to_host(&ctx, json_array_get(pods, (size_t)i), &h, err, sizeof err);
        json_object_set_new(h, "status", json_pack("{s:s}", "phase", "Running"));
        json_array_append_new(host, h);
    }
    int passes = 20;
    size_t actions = 0;
    t0 = now();
    for (int r = 0; r < passes; r++) {
        json_t *plan = vk_reconcile_pods(&ctx, pods, host);
        actions += json_array_size(plan);
        json_decref(plan);
    }
    dt = now() - t0;
    printf("reconcile pass, %d tenant pods vs %d host pods in sync: %.2f ms/pass (%zu actions)\n",
           N, N, dt / passes * 1e3, actions / (size_t)passes);
    json_decref(host), json_decref(pods);
    vk_tenant_config_free(&t);
    free(y);
    return 0;
}
