/* patch_bench: per-request costs of proxy/selector, proxy/patch and
 * proxy/apply on a realistic Deployment with the real schema tables: label
 * and field selector parse+match (list filtering of 1,000 pods), the three
 * patch types as kubectl sends them, and server-side apply / update tracking.
 * Figures printed, never asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy/apply.h"
#include "proxy/patch.h"
#include "proxy/selector.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char DEPLOY[] =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
    "\"namespace\":\"default\",\"labels\":{\"app\":\"web\",\"tier\":\"front\"}},\"spec\":{"
    "\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{"
    "\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
    "\"nginx:1.25\",\"ports\":[{\"containerPort\":80},{\"containerPort\":443}],\"env\":[{\"name\":"
    "\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"}],\"resources\":{\"limits\":{\"cpu\":"
    "\"1\"}}},{\"name\":\"side\",\"image\":\"busybox\",\"args\":[\"sleep\",\"1d\"]}],\"volumes\":[{"
    "\"name\":\"v\",\"emptyDir\":{}}]}}}}";

#define RATE(name, n, t) printf("%-52s %10.0f ops/s  %8.2f us/op\n", name, (n) / (t), (t) / (n)*1e6)

int main(void) {
    json_t *dep = json_loads(DEPLOY, 0, NULL);
    vk_patch_kind_t kind = {"apps", "v1", "Deployment"};

    /* selectors: filter 1,000 pods */
    json_t *pods = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(
            pods, json_pack("{s:{s:s,s:{s:s,s:s}},s:{s:s},s:{s:s}}", "metadata", "name", "p",
                            "labels", "app", i % 3 ? "web" : "db", "env", i % 2 ? "prod" : "dev",
                            "spec", "nodeName", i % 5 ? "n1" : "n2", "status", "phase",
                            i % 7 ? "Running" : "Pending"));
    int n = 2000, matched = 0;
    double t0 = now();
    for (int r = 0; r < n; r++) {
        vk_selector_label_t *s;
        vk_selector_label_parse("app in (web,api),env!=dev,!canary", &s, NULL);
        vk_selector_label_free(s);
    }
    RATE("label selector parse (3 requirements)", n, now() - t0);
    vk_selector_label_t *ls;
    vk_selector_label_parse("app in (web,api),env!=dev,!canary", &ls, NULL);
    vk_selector_field_t *fs;
    vk_selector_field_parse("spec.nodeName=n1,status.phase!=Pending", &fs, NULL);
    n = 200;
    t0 = now();
    for (int r = 0; r < n; r++)
        for (size_t i = 0; i < 1000; i++) {
            json_t *p = json_array_get(pods, i);
            matched += vk_selector_label_match(
                           ls, json_object_get(json_object_get(p, "metadata"), "labels")) &&
                       vk_selector_field_match(fs, p, NULL, NULL);
        }
    double t = now() - t0;
    printf("%-52s %10.2f ms per list (%d matched)\n", "label+field match over 1,000 pods",
           t / n * 1e3, matched / n);
    vk_selector_label_free(ls);
    vk_selector_field_free(fs);

    /* patches */
    json_t *jp = json_loads("[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5},"
                            "{\"op\":\"add\",\"path\":\"/metadata/labels/x\",\"value\":\"y\"}]",
                            0, NULL);
    json_t *mp = json_loads("{\"metadata\":{\"labels\":{\"x\":\"y\"}}}", 0, NULL);
    json_t *sp = json_loads(
        "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"},"
        "{\"name\":\"side\"}],\"containers\":[{\"image\":\"nginx:1.26\",\"name\":\"web\"}]}}}}",
        0, NULL);
    n = 20000;
    struct {
        const char *name;
        int type;
        json_t *p;
    } ps[] = {{"JSON patch (2 operations)", 0, jp},
              {"merge patch (kubectl label)", 1, mp},
              {"strategic merge patch (kubectl set image)", 2, sp}};
    for (int k = 0; k < 3; k++) {
        t0 = now();
        for (int r = 0; r < n; r++) {
            json_t *out = NULL;
            char *err = NULL;
            if (ps[k].type == 0)
                vk_patch_json(dep, ps[k].p, &out, &err);
            else if (ps[k].type == 1)
                vk_patch_merge(dep, ps[k].p, &out, &err);
            else
                vk_patch_strategic(dep, ps[k].p, vk_patch_schema_builtin, &kind, &out, &err);
            free(err);
            json_decref(out);
        }
        RATE(ps[k].name, n, now() - t0);
    }

    /* server-side apply: re-apply of the same config, and update tracking */
    vk_apply_opts_t o = {.manager = "kubectl", .api_version = "apps/v1",
                         .now = "2026-11-25T21:00:00Z", .schema = vk_patch_schema_builtin,
                         .schema_ctx = &kind};
    json_t *live = NULL;
    char *err = NULL;
    vk_apply(NULL, dep, &o, &live, NULL, &err);
    n = 5000;
    t0 = now();
    for (int r = 0; r < n; r++) {
        json_t *out = NULL;
        vk_apply(live, dep, &o, &out, NULL, &err);
        json_decref(out);
    }
    RATE("server-side apply (re-apply, 1 manager)", n, now() - t0);
    t0 = now();
    for (int r = 0; r < n; r++) {
        json_t *nobj = json_deep_copy(live);
        json_object_set_new(json_object_get(nobj, "spec"), "replicas", json_integer(r));
        o.manager = "kubectl-scale";
        vk_apply_track(live, nobj, &o, &err);
        json_decref(nobj);
    }
    RATE("managedFields tracking of an update", n, now() - t0);
    t0 = now();
    for (int r = 0; r < n; r++) {
        json_t *nobj = json_deep_copy(dep);
        o.manager = "kubectl-create";
        vk_apply_track(NULL, nobj, &o, &err);
        json_decref(nobj);
    }
    RATE("managedFields tracking of a create", n, now() - t0);
    json_decref(live);
    json_decref(dep);
    json_decref(pods);
    json_decref(jp);
    json_decref(mp);
    json_decref(sp);
    return 0;
}
