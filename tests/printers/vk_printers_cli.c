/* Helper for comparing with a real kube-apiserver: reads a meta.k8s.io/v1
 * Table fetched with includeObject=Object on stdin and checks that
 * proxy/printers gives the same column names/types/priorities and, for every
 * row's object, the same cells. Prints "ok"/"not ok" lines.
 * Usage: vk_printers_cli GROUP RESOURCE NOW_UNIX < table.json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/printers.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s GROUP RESOURCE NOW < table.json\n", argv[0]);
        return 2;
    }
    const char *group = argv[1][0] == '-' ? "" : argv[1];
    const char *res = argv[2];
    int64_t now = strtoll(argv[3], NULL, 10);
    json_error_t e;
    json_t *t = json_loadf(stdin, 0, &e);
    if (!t) {
        fprintf(stderr, "bad json: %s\n", e.text);
        return 2;
    }
    int bad = 0;
    json_t *cols = vk_printers_columns(group, res);
    json_t *rcols = json_object_get(t, "columnDefinitions");
    size_t i;
    json_t *c;
    int colsok = json_array_size(cols) == json_array_size(rcols);
    json_array_foreach(rcols, i, c)
    {
        json_t *o = json_array_get(cols, i);
        const char *keys[] = {"name", "type", "format", "priority"};
        for (int k = 0; k < 4; k++) {
            if (!o || !json_equal(json_object_get(o, keys[k]), json_object_get(c, keys[k]))) {
                colsok = 0;
                char *a = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
                char *b = o ? json_dumps(o, JSON_COMPACT) : strdup("null");
                printf("  column %zu: real %.200s\n  ours %.200s\n", i, a, b);
                free(a);
                free(b);
                break;
            }
        }
    }
    printf("%s printers:%s/%s:columns\n", colsok ? "ok" : "not ok", *group ? group : "core", res);
    bad |= !colsok;
    json_t *row;
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        json_t *obj = json_object_get(row, "object");
        /* The server's clock read may be a second off ours: try now-1..now+1. */
        json_t *mine = NULL, *cells = NULL, *rcells = json_object_get(row, "cells");
        int ok = 0;
        for (int64_t d = 0; d < 3 && !ok; d++) {
            json_decref(mine);
            mine = vk_printers_row(group, res, obj, now + (d == 0 ? 0 : d == 1 ? 1 : -1));
            cells = json_object_get(mine, "cells");
            ok = json_equal(cells, rcells);
        }
        const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        if (!ok) {
            char *a = json_dumps(rcells, JSON_COMPACT), *b = json_dumps(cells, JSON_COMPACT);
            printf("  real %s\n  ours %s\n", a, b);
            free(a);
            free(b);
        }
        printf("%s printers:%s/%s:%s\n", ok ? "ok" : "not ok", *group ? group : "core", res, name ? name : "?");
        bad |= !ok;
        json_decref(mine);
    }
    json_decref(cols);
    json_decref(t);
    return bad;
}
