/* Compares proxy/selector with apimachinery's labels.Parse and
 * fields.ParseSelector on tests/selector/reference/cases.tsv (hand-picked
 * selectors and deterministic mutations of them): the same match result, or
 * the same error message, as expected.txt (written by tests/selector/refgen).
 * One line per case. */
#include "proxy/selector.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Field values come from a flat {"field": "value"} set. */
static const char *flat(void *ctx, const json_t *obj, const char *field, char *buf, size_t cap) {
    (void)ctx;
    (void)buf;
    (void)cap;
    return json_string_value(json_object_get(obj, field));
}

int main(void) {
    char *cases = read_file("tests/selector/reference/cases.tsv");
    char *want = read_file("tests/selector/reference/expected.txt");
    if (!cases || !want) {
        printf("not ok tests/selector/test_selector_reference.c:load - reference files missing\n");
        return 1;
    }
    int failed = 0, n = 0;
    char *cs, *ws;
    char *c = strtok_r(cases, "\n", &cs), *w = strtok_r(want, "\n", &ws);
    for (; c && w; c = strtok_r(NULL, "\n", &cs), w = strtok_r(NULL, "\n", &ws)) {
        n++;
        char *sel = strchr(c, '\t');
        char *set = sel ? strrchr(c, '\t') : NULL;
        if (!sel || set == sel)
            continue;
        *sel++ = 0;
        *set++ = 0;
        json_t *js = json_loads(set, 0, NULL);
        char *err = NULL, got[64];
        int m = -1;
        if (c[0] == 'L') {
            vk_selector_label_t *s;
            if (vk_selector_label_parse(sel, &s, &err) == 0) {
                m = vk_selector_label_match(s, js);
                vk_selector_label_free(s);
            }
        } else {
            vk_selector_field_t *s;
            if (vk_selector_field_parse(sel, &s, &err) == 0) {
                m = vk_selector_field_match(s, js, flat, NULL);
                vk_selector_field_free(s);
            }
        }
        const char *res = got;
        char *errline = NULL;
        if (m < 0) {
            errline = malloc(strlen(err ? err : "") + 8);
            sprintf(errline, "ERR: %s", err ? err : "");
            res = errline;
        } else {
            snprintf(got, sizeof got, "%s", m ? "match" : "nomatch");
        }
        if (strcmp(res, w) == 0) {
            printf("ok tests/selector/test_selector_reference.c:case_%d_%s\n", n, c);
        } else {
            failed++;
            printf("not ok tests/selector/test_selector_reference.c:case_%d_%s - differs from "
                   "upstream\n",
                   n, c);
            fprintf(stderr, "  selector: %s\n  want: %s\n  got:  %s\n", sel, w, res);
        }
        free(errline);
        free(err);
        json_decref(js);
    }
    if (c || w || n == 0) {
        printf("not ok tests/selector/test_selector_reference.c:count - cases and expected "
               "differ\n");
        failed++;
    }
    free(cases);
    free(want);
    return failed ? 1 : 0;
}
