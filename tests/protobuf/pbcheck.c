/* pbcheck: helper for tests/suites/25-protobuf.sh. For each NAME.pb given,
 * decodes it with vk_pb_decode and compares (semantically) with NAME.json
 * next to it: the upstream k8s.io/api round-trip test data (every field of
 * every kind filled), read from the Go module cache at test time. Prints
 * "ok protobuf-upstream:<base>" or "not ok protobuf-upstream:<base> - <why>". */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "proxy/protobuf.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0, r;
    char *b = vk_xmalloc(cap);
    while ((r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap)
            b = vk_xrealloc(b, cap *= 2);
    }
    fclose(f);
    *len = n;
    return b;
}

/* Prints the first differing path (depth-first) between a and b. */
static int first_diff(const json_t *a, const json_t *b, char *path, size_t cap)
{
    if (json_equal(a, b))
        return 0;
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        size_t l = strlen(path);
        json_object_foreach((json_t *)a, k, v) {
            snprintf(path + l, cap - l, ".%s", k);
            json_t *w = json_object_get(b, k);
            if (!w)
                return 1;
            if (first_diff(v, w, path, cap))
                return 1;
        }
        json_object_foreach((json_t *)b, k, v) {
            if (!json_object_get(a, k)) {
                snprintf(path + l, cap - l, ".%s (missing)", k);
                return 1;
            }
        }
        path[l] = 0;
        return 1;
    }
    if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        size_t l = strlen(path);
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(path + l, cap - l, "[%zu]", i);
            if (first_diff(json_array_get(a, i), json_array_get(b, i), path, cap))
                return 1;
        }
        path[l] = 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        char *copy = vk_xstrdup(argv[i]);
        char *base = basename(copy);
        size_t plen;
        char *pb = slurp(argv[i], &plen);
        char *jpath = vk_xasprintf("%.*s.json", (int)(strlen(argv[i]) - 3), argv[i]);
        json_error_t je;
        json_t *want = json_load_file(jpath, JSON_DECODE_ANY, &je);
        json_t *got = NULL;
        char err[512] = "";
        int rc = pb ? vk_pb_decode(pb, plen, &got, err, sizeof err) : -1;
        if (!pb || !want) {
            printf("not ok protobuf-upstream:%s - cannot read %s or its .json\n", base, argv[i]);
            failed++;
        } else if (rc) {
            printf("not ok protobuf-upstream:%s - decode failed: %s\n", base, err);
            failed++;
        } else if (!json_equal(got, want)) {
            char path[1024] = "";
            first_diff(got, want, path, sizeof path);
            printf("not ok protobuf-upstream:%s - differs at %s\n", base, path[0] ? path : "(root)");
            failed++;
        } else {
            printf("ok protobuf-upstream:%s\n", base);
        }
        json_decref(got);
        json_decref(want);
        free(pb);
        free(jpath);
        free(copy);
    }
    return failed ? 1 : 0;
}
