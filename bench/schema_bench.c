/* schema_bench: throughput of proxy/protobuf decoding (the real client-go
 * bodies of tests/protobuf/fixtures.txt) and the cost of building the OpenAPI
 * documents for the server's resource table. Figures printed, never asserted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "proxy/openapi.h"
#include "proxy/protobuf.h"
#include "proxy/resources.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t b64decode(const char *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+') v = 62;
        else if (c == '/') v = 63;
        else continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static void bench_decode(const char *name, const uint8_t *b, size_t n)
{
    int iters = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 200; i++) {
            json_t *o = NULL;
            if (vk_pb_decode(b, n, &o, NULL, 0)) {
                printf("protobuf decode %-12s failed\n", name);
                return;
            }
            json_decref(o);
        }
        iters += 200;
        t = now() - t0;
    } while (t < 0.3);
    printf("protobuf decode %-12s %5zu bytes: %8.0f decodes/s, %6.1f MB/s, %6.2f us each\n",
           name, n, iters / t, (double)n * iters / t / 1e6, t / iters * 1e6);
}

int main(void)
{
    FILE *fp = fopen("tests/protobuf/fixtures.txt", "r");
    if (!fp) {
        printf("tests/protobuf/fixtures.txt not found (run from the repository root)\n");
        return 1;
    }
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        *t1 = 0;
        if (strcmp(line, "pod") && strcmp(line, "deployment") && strcmp(line, "configmap") &&
            strcmp(line, "node"))
            continue;
        uint8_t *b = vk_xmalloc((size_t)(t2 - t1));
        size_t n = b64decode(t1 + 1, (size_t)(t2 - t1 - 1), b);
        bench_decode(line, b, n);
        free(b);
    }
    free(line);
    fclose(fp);

    vk_resources_t *t = vk_resources_new();
    double t0 = now();
    vk_openapi_t *o = vk_openapi_new_from_resources(t, "v1.33.0");
    const char *body;
    size_t len, total = 0;
    const char *paths[] = {"/openapi/v3", "/openapi/v3/api/v1", "/openapi/v3/apis/apps/v1",
                           "/openapi/v3/apis/batch/v1", "/openapi/v2"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        double s = now();
        if (vk_openapi_get(o, paths[i], &body, &len, NULL) == 0) {
            printf("openapi %-28s %8zu bytes, built in %6.1f ms\n", paths[i], len,
                   (now() - s) * 1e3);
            total += len;
        }
    }
    double s = now();
    vk_openapi_get_v2_protobuf(o, &body, &len, NULL);
    printf("openapi %-28s %8zu bytes, built in %6.1f ms\n", "/openapi/v2 (protobuf)", len,
           (now() - s) * 1e3);
    s = now();
    vk_openapi_get(o, "/openapi/v3/api/v1", &body, &len, NULL);
    printf("openapi cached lookup: %.1f us; total %.1f ms for %zu bytes\n", (now() - s) * 1e6,
           (now() - t0) * 1e3, total + len);
    vk_openapi_free(o);
    vk_resources_free(t);
    return 0;
}
