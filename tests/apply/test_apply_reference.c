/* Replays tests/apply/reference/cases.tsv through proxy/apply with the
 * built-in schema and compares every step with expected.txt, which
 * tests/apply/refgen produced with apimachinery's managedfields and
 * structured-merge-diff (the code kube-apiserver runs). One line per step. */
#include "proxy/apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static char *read_file(const char *rel) {
    const char *root = getenv("VKUBE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t r = fread(buf, 1, (size_t)n, f);
    buf[r] = 0;
    fclose(f);
    return buf;
}

static void strip_times(json_t *o) {
    json_t *mf = json_object_get(json_object_get(o, "metadata"), "managedFields");
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e) json_object_del(e, "time");
}

int main(void) {
    char *cases = read_file("tests/apply/reference/cases.tsv");
    char *want = read_file("tests/apply/reference/expected.txt");
    if (!cases || !want) {
        printf("not ok tests/apply/test_apply_reference.c:load - reference files missing\n");
        return 1;
    }
    json_t *live = NULL;
    char grp[64] = "", ver[64] = "v1", kind[64] = "", apiv[160];
    vk_patch_kind_t k = {grp, ver, kind};
    int failed = 0, step = 0;
    char *cs, *ws;
    char *w = strtok_r(want, "\n", &ws);
    for (char *line = strtok_r(cases, "\n", &cs); line; line = strtok_r(NULL, "\n", &cs)) {
        char *f[4] = {0}, *sp;
        int nf = 0;
        for (char *t = strtok_r(line, "\t", &sp); t && nf < 4; t = strtok_r(NULL, "\t", &sp))
            f[nf++] = t;
        if (strcmp(f[0], "RESET") == 0) {
            json_decref(live);
            live = NULL;
            char *slash = strchr(f[1], '/');
            if (slash) {
                snprintf(grp, sizeof grp, "%.*s", (int)(slash - f[1]), f[1]);
                snprintf(ver, sizeof ver, "%s", slash + 1);
            } else {
                grp[0] = 0;
                snprintf(ver, sizeof ver, "%s", f[1]);
            }
            snprintf(kind, sizeof kind, "%s", f[2]);
            continue;
        }
        step++;
        if (!w) {
            printf("not ok tests/apply/test_apply_reference.c:count - expected.txt too short\n");
            failed++;
            break;
        }
        snprintf(apiv, sizeof apiv, "%s%s%s", grp, *grp ? "/" : "", ver);
        json_t *obj = json_loads(f[3], 0, NULL);
        vk_apply_opts_t o = {.manager = f[1],
                             .api_version = apiv,
                             .now = "2026-01-01T00:00:00Z",
                             .force = strcmp(f[2], "force") == 0,
                             .schema = vk_patch_schema_builtin,
                             .schema_ctx = &k};
        char *err = NULL, *got = NULL;
        int rc;
        if (strcmp(f[0], "APPLY") == 0) {
            json_t *out = NULL, *causes = NULL;
            rc = vk_apply(live, obj, &o, &out, &causes, &err);
            json_decref(causes);
            json_decref(obj);
            if (rc == 0) {
                json_decref(live);
                live = out;
            }
        } else {
            rc = vk_apply_track(live, obj, &o, &err);
            if (rc == 0) {
                json_decref(live);
                live = obj;
            } else {
                json_decref(obj);
            }
        }
        int ok;
        if (rc != 0) {
            /* expected text has newlines escaped */
            size_t n = strlen(err);
            char *esc = malloc(n * 2 + 8), *q = esc;
            q += sprintf(q, "ERR: ");
            for (char *c = err; *c; c++) {
                if (*c == '\n') {
                    *q++ = '\\';
                    *q++ = 'n';
                } else {
                    *q++ = *c;
                }
            }
            *q = 0;
            ok = strcmp(esc, w) == 0;
            got = esc;
        } else {
            json_t *c = json_deep_copy(live), *wj = json_loads(w, 0, NULL);
            strip_times(c);
            ok = wj && json_equal(c, wj);
            got = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(c);
            json_decref(wj);
        }
        if (ok) {
            printf("ok tests/apply/test_apply_reference.c:step_%d_%s_%s\n", step, kind, f[0]);
        } else {
            failed++;
            printf("not ok tests/apply/test_apply_reference.c:step_%d_%s_%s - differs from "
                   "upstream\n",
                   step, kind, f[0]);
            fprintf(stderr, "  want: %s\n  got:  %s\n", w, got);
        }
        free(got);
        free(err);
        w = strtok_r(NULL, "\n", &ws);
    }
    json_decref(live);
    free(cases);
    free(want);
    return failed ? 1 : 0;
}
