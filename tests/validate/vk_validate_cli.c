/* Helper for comparing with a real kube-apiserver: reads one object (JSON) on
 * stdin, applies proxy/defaults and proxy/validate as the REST layer would on
 * create (or on update when an old object file is given), and prints either
 * the 422 message or the defaulted object (compact, sorted keys).
 * Usage: vk_validate_cli GROUP KIND [OLD.json] < obj.json */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/defaults.h"
#include "proxy/validate.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s GROUP KIND [OLD.json] < obj.json\n", argv[0]);
        return 2;
    }
    const char *group = argv[1][0] == '-' ? "" : argv[1];
    json_error_t e;
    json_t *obj = json_loadf(stdin, 0, &e);
    if (!obj) {
        fprintf(stderr, "bad json: %s\n", e.text);
        return 2;
    }
    json_t *old = NULL;
    if (argc > 3 && !(old = json_load_file(argv[3], 0, &e))) {
        fprintf(stderr, "bad json in %s: %s\n", argv[3], e.text);
        return 2;
    }
    /* The REST layer assigns the uid before defaulting (Job selectors use it). */
    json_t *meta = json_object_get(obj, "metadata");
    if (json_is_object(meta) && !json_object_get(meta, "uid"))
        json_object_set_new(meta, "uid", json_string("00000000-0000-0000-0000-000000000001"));
    vk_defaults_apply(group, "v1", argv[2], obj);
    if (old)
        vk_defaults_keep_allocated(group, argv[2], obj, old);
    else if (!*group && !strcmp(argv[2], "Pod"))
    {
        vk_defaults_pod_admission(obj);
        vk_defaults_pod_token_volume(obj, getenv("VK_TOKEN_SUFFIX") ? getenv("VK_TOKEN_SUFFIX") : "xxxxx", 1);
    }
    json_t *causes = json_array();
    int rc = vk_validate_object(group, argv[2], obj, old, causes);
    if (rc) {
        const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        char *m = vk_validate_message(group, argv[2], name ? name : "", causes);
        printf("%s\n", m);
        free(m);
    } else {
        char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
    }
    json_decref(causes);
    json_decref(obj);
    json_decref(old);
    return rc ? 1 : 0;
}
