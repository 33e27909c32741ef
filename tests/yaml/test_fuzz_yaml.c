/* Fuzz smoke test for common/yaml: random mutations of the corpus in
 * tests/yaml/corpus (and a few built-in seeds) must never crash or leak, and
 * whatever parses must emit and parse back to the same JSON. Deterministic
 * (fixed seed) so a failure reproduces; VKUBE_FUZZ_ITERS overrides the count. */
#include "common/yaml.h"
#include "tests/test.h"

#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const SEEDS[] = {
    "a: 1\nb: [x, 'y', \"z\"]\nc: {d: e}\n",
    "- &a {k: v}\n- *a\n- <<: *a\n  k2: v2\n",
    "s: |\n  one\n  two\nf: >-\n  folded\n",
    "? complex\n: value\n!!str 12: !!int '3'\n",
    "%YAML 1.1\n---\n--- !tag\n...\n",
    "{\"json\": [1, 2.5e3, null, true, \"\\u00e9\"]}",
};

static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *len = fread(b, 1, (size_t)n, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

static const char ALPHABET[] = ":-?[]{},&*!|>'\"%@`#\n\t ~<.0123456789abcxyz\\\x80\xc3\xa9";

static int parsed_ok, parsed_err;

static void one(const char *in, size_t len)
{
    json_t *docs = NULL;
    char err[256];
    int rc = vk_yaml_parse_all(in, len, &docs, err, sizeof err);
    if (rc != 0) {
        parsed_err++;
        CHECK(docs == NULL);
        CHECK(strncmp(err, "yaml", 4) == 0);
        return;
    }
    parsed_ok++;
    char *y = NULL;
    if (vk_yaml_emit_all(docs, &y) == 0) {
        json_t *back = NULL;
        int rc2 = vk_yaml_parse_all(y, strlen(y), &back, err, sizeof err);
        CHECK_EQ_INT(rc2, 0);
        if (rc2 == 0 && !json_equal(docs, back)) {
            char *a = json_dumps(docs, JSON_COMPACT), *b = json_dumps(back, JSON_COMPACT);
            fprintf(stderr, "  round trip differs:\n  %s\n  %s\n---\n%s", a, b, y);
            free(a), free(b);
            CHECK(json_equal(docs, back));
        }
        json_decref(back);
    }
    free(y);
    json_decref(docs);
}

TEST(mutated_corpus_never_crashes)
{
    char *inputs[64];
    size_t lens[64];
    int n = 0;
    for (size_t i = 0; i < sizeof SEEDS / sizeof *SEEDS; i++) {
        inputs[n] = strdup(SEEDS[i]);
        lens[n++] = strlen(SEEDS[i]);
    }
    const char *root = getenv("VKUBE_ROOT");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/yaml/corpus", root ? root : ".");
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *de;
    while (d && (de = readdir(d)) && n < 64) {
        if (de->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len;
        char *b = read_all(path, &len);
        if (b) inputs[n] = b, lens[n++] = len;
    }
    if (d) closedir(d);
    const char *it = getenv("VKUBE_FUZZ_ITERS");
    long iters = it ? atol(it) : 20000;
    uint64_t s = 0x9e3779b97f4a7c15ull;
    char buf[8192];
    for (long i = 0; i < iters; i++) {
        int k = (int)(next(&s) % (uint64_t)n);
        size_t len = lens[k] < sizeof buf ? lens[k] : sizeof buf;
        memcpy(buf, inputs[k], len);
        int muts = 1 + (int)(next(&s) % 8);
        for (int m = 0; m < muts && len > 0; m++) {
            size_t pos = next(&s) % len;
            switch (next(&s) % 4) {
            case 0: buf[pos] = ALPHABET[next(&s) % (sizeof ALPHABET - 1)]; break;
            case 1: memmove(buf + pos, buf + pos + 1, len - pos - 1), len--; break;
            case 2:
                if (len < sizeof buf - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = ALPHABET[next(&s) % (sizeof ALPHABET - 1)];
                    len++;
                }
                break;
            default: { /* duplicate a span: repeats anchors, aliases, nesting */
                size_t span = 1 + next(&s) % 32;
                if (pos + span <= len && len + span < sizeof buf) {
                    memmove(buf + pos + span, buf + pos, len - pos);
                    len += span;
                }
            }
            }
        }
        one(buf, len);
    }
    for (int i = 0; i < n; i++) free(inputs[i]);
    fprintf(stderr, "  fuzz: %ld inputs, %d parsed, %d rejected\n", iters, parsed_ok, parsed_err);
    CHECK(parsed_ok > 0 && parsed_err > 0);
}

int main(void)
{
    RUN(mutated_corpus_never_crashes);
    TEST_EXIT();
}
