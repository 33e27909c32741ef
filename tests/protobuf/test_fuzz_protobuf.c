/* Fuzz smoke test for proxy/protobuf: random bodies and mutations of the real
 * fixtures (tests/protobuf/fixtures.txt) must decode or fail cleanly, never
 * crash or leak (run under ASan+UBSan). Deterministic seed; short. */
#include "proxy/protobuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tests/test.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

typedef struct {
    uint8_t *b;
    size_t n;
} blob_t;

static size_t load_corpus(blob_t *out, size_t max)
{
    const char *root = getenv("VKUBE_ROOT");
    char *path = vk_xasprintf("%s/tests/protobuf/fixtures.txt", root ? root : ".");
    FILE *fp = fopen(path, "r");
    free(path);
    if (!fp)
        return 0;
    char *line = NULL;
    size_t cap = 0, k = 0;
    while (k < max && getline(&line, &cap, fp) > 0) {
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2)
            continue;
        size_t n = (size_t)(t2 - t1 - 1), o = 0;
        uint8_t *b = vk_xmalloc(n);
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n; i++) {
            int v = b64val((unsigned char)t1[1 + i]);
            if (v < 0)
                continue;
            acc = (acc << 6) | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                b[o++] = (uint8_t)(acc >> bits);
            }
        }
        out[k].b = b;
        out[k].n = o;
        k++;
    }
    free(line);
    fclose(fp);
    return k;
}

static int decode_ok(const uint8_t *b, size_t n)
{
    json_t *out = NULL;
    char err[128];
    int rc = vk_pb_decode(b, n, &out, err, sizeof err);
    int good = (rc == 0 && out && json_is_object(out)) ||
               ((rc == VK_EBADREQUEST || rc == VK_EUNSUPPORTEDMEDIA) && !out && err[0]);
    if (out) {
        /* The result must serialize (valid UTF-8 everywhere). */
        char *s = json_dumps(out, JSON_COMPACT);
        good = good && s != NULL;
        free(s);
    }
    json_decref(out);
    return good;
}

TEST(random_bodies)
{
    uint8_t buf[512];
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = rnd() % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd();
        if (n >= 4 && (i & 1))
            memcpy(buf, "k8s\0", 4);
        bad += !decode_ok(buf, n);
    }
    CHECK_EQ_INT(bad, 0);
}

TEST(mutated_corpus)
{
    blob_t corpus[64];
    size_t nc = load_corpus(corpus, 64);
    CHECK(nc >= 10);
    int bad = 0, decoded = 0;
    for (int i = 0; i < 6000 && nc; i++) {
        blob_t *c = &corpus[rnd() % nc];
        uint8_t *b = vk_xmalloc(c->n + 16);
        memcpy(b, c->b, c->n);
        size_t n = c->n;
        int muts = 1 + (int)(rnd() % 4);
        for (int m = 0; m < muts && n > 4; m++) {
            size_t pos = 4 + rnd() % (n - 4);
            switch (rnd() % 4) {
            case 0: b[pos] = (uint8_t)rnd(); break;
            case 1: b[pos] ^= (uint8_t)(1u << (rnd() % 8)); break;
            case 2: n = pos; break; /* truncate */
            case 3: memmove(b + pos + 1, b + pos, n - pos); b[pos] = (uint8_t)rnd(); n++; break;
            }
        }
        json_t *out = NULL;
        if (vk_pb_decode(b, n, &out, NULL, 0) == 0)
            decoded++;
        json_decref(out);
        bad += !decode_ok(b, n);
        free(b);
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(decoded > 0); /* some mutations stay decodable: the corpus was used */
    for (size_t i = 0; i < nc; i++)
        free(corpus[i].b);
}

int main(void)
{
    RUN(random_bodies);
    RUN(mutated_corpus);
    TEST_EXIT();
}
