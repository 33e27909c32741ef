/* Helper for comparing with a real kube-apiserver: reads a Pod (JSON) on
 * stdin and prints the 403 message proxy/podsecurity gives at LEVEL, or
 * "ALLOWED". Usage: vk_podsecurity_cli LEVEL < pod.json */
#include <stdio.h>
#include <stdlib.h>

#include "proxy/podsecurity.h"

int main(int argc, char **argv)
{
    vk_podsecurity_level_t level;
    if (argc < 2 || vk_podsecurity_parse_level(argv[1], &level) != 0) {
        fprintf(stderr, "usage: %s privileged|baseline|restricted < pod.json\n", argv[0]);
        return 2;
    }
    json_error_t e;
    json_t *pod = json_loadf(stdin, 0, &e);
    if (!pod) {
        fprintf(stderr, "bad json: %s\n", e.text);
        return 2;
    }
    char *v = vk_podsecurity_check_object(level, "", "Pod", pod);
    if (v) {
        const char *name = json_string_value(json_object_get(json_object_get(pod, "metadata"), "name"));
        char *m = vk_podsecurity_forbidden_message(level, "pods", name ? name : "", v);
        printf("%s\n", m);
        free(m);
        free(v);
    } else {
        printf("ALLOWED\n");
    }
    json_decref(pod);
    return 0;
}
