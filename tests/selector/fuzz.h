/* fuzz: a tiny deterministic mutation fuzzer shared by the test_fuzz_*.c smoke
 * tests of proxy/selector, proxy/patch and proxy/apply. Each driver gives a
 * corpus folder and a function that feeds one input to the parser; this runs
 * every corpus file, then `rounds` mutations of them (byte flips, inserted
 * tokens, truncation, splicing), with a fixed seed so a crash reproduces.
 * A crash is found by ASan/UBSan, which abort the program. */
#ifndef VK_TEST_FUZZ_H
#define VK_TEST_FUZZ_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*fuzz_one_fn)(const char *data, size_t len);

typedef struct {
    char **items;
    size_t *lens;
    size_t n;
} fuzz_corpus_t;

static uint64_t fuzz_rand_(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Loads every regular file of dir (relative to the repository root, where
 * tests/run starts tests). Returns the number loaded. */
static size_t fuzz_load(fuzz_corpus_t *c, const char *dir) {
    const char *root = getenv("VKUBE_ROOT");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root ? root : ".", dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char fp[8192];
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        FILE *f = fopen(fp, "rb");
        if (!f)
            continue;
        char *buf = NULL;
        size_t len = 0, cap = 0;
        char tmp[4096];
        size_t r;
        while ((r = fread(tmp, 1, sizeof tmp, f)) > 0) {
            if (len + r + 1 > cap) {
                cap = (len + r + 1) * 2;
                buf = realloc(buf, cap);
            }
            memcpy(buf + len, tmp, r);
            len += r;
        }
        fclose(f);
        if (!buf)
            buf = calloc(1, 1);
        buf[len] = 0;
        c->items = realloc(c->items, (c->n + 1) * sizeof *c->items);
        c->lens = realloc(c->lens, (c->n + 1) * sizeof *c->lens);
        c->items[c->n] = buf;
        c->lens[c->n++] = len;
    }
    closedir(d);
    return c->n;
}

static void fuzz_free(fuzz_corpus_t *c) {
    for (size_t i = 0; i < c->n; i++)
        free(c->items[i]);
    free(c->items);
    free(c->lens);
}

/* Runs the corpus and `rounds` mutations through one(); `tokens` are
 * interesting strings to splice in (NULL-terminated). Inputs passed to one()
 * are NUL-terminated at len. Returns the number of inputs run. */
static size_t fuzz_run(const fuzz_corpus_t *c, size_t rounds, const char *const *tokens,
                       fuzz_one_fn one) {
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    size_t ntok = 0;
    while (tokens && tokens[ntok])
        ntok++;
    size_t runs = 0;
    for (size_t i = 0; i < c->n; i++, runs++)
        one(c->items[i], c->lens[i]);
    if (!c->n)
        return runs;
    for (size_t r = 0; r < rounds; r++, runs++) {
        size_t pick = fuzz_rand_(&seed) % c->n;
        size_t len = c->lens[pick], cap = len * 2 + 256;
        char *buf = malloc(cap);
        memcpy(buf, c->items[pick], len);
        int nmut = 1 + (int)(fuzz_rand_(&seed) % 4);
        for (int m = 0; m < nmut; m++) {
            uint64_t k = fuzz_rand_(&seed);
            size_t pos = len ? (size_t)(fuzz_rand_(&seed) % (len + 1)) : 0;
            switch (k % 6) {
            case 0: /* flip a byte */
                if (len)
                    buf[pos % len] ^= (char)(1u << (fuzz_rand_(&seed) % 8));
                break;
            case 1: /* delete a run */
                if (len) {
                    size_t n = 1 + fuzz_rand_(&seed) % 8;
                    if (pos + n > len)
                        n = len - pos;
                    memmove(buf + pos, buf + pos + n, len - pos - n);
                    len -= n;
                }
                break;
            case 2: /* truncate */
                len = pos;
                break;
            case 3: /* insert a token */
            case 4:
                if (ntok) {
                    const char *t = tokens[fuzz_rand_(&seed) % ntok];
                    size_t tl = strlen(t);
                    if (len + tl + 1 > cap) {
                        cap = (len + tl + 1) * 2;
                        buf = realloc(buf, cap);
                    }
                    memmove(buf + pos + tl, buf + pos, len - pos);
                    memcpy(buf + pos, t, tl);
                    len += tl;
                }
                break;
            default: { /* splice another corpus item's tail */
                size_t o = fuzz_rand_(&seed) % c->n;
                size_t from = c->lens[o] ? fuzz_rand_(&seed) % c->lens[o] : 0;
                size_t tl = c->lens[o] - from;
                if (pos + tl + 1 > cap) {
                    cap = (pos + tl + 1) * 2;
                    buf = realloc(buf, cap);
                }
                memcpy(buf + pos, c->items[o] + from, tl);
                len = pos + tl;
            }
            }
        }
        buf[len] = 0;
        one(buf, len);
        free(buf);
    }
    return runs;
}

#endif
