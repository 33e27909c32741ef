/* qcanon: prints, for each line of standard input taken as a JSON string
 * quantity, vkube's canonical form (proxy/quantity.h) or "ERR <message>";
 * the same output format as tests/protobuf/gen/qcanon (the apimachinery
 * reference), so tests/suites/27-quantity.sh can compare the two. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/quantity.h"

int main(void)
{
    static char line[1 << 20];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        json_t *v = json_stringn(line, n);
        char *out = NULL;
        const char *why = "";
        if (v && vk_quantity_canonical_json(v, &out, &why) == 0)
            printf("%s\n", out);
        else
            printf("ERR %s\n", why);
        free(out);
        json_decref(v);
    }
    return 0;
}
