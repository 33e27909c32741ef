/* template_hash: reads a pod template (JSON) on stdin and prints the
 * pod-template-hash vkube computes for it; with -d, first the hash printer's
 * text. Exit 2 if the printer could not reproduce the template exactly.
 * Used by e2e/suites/55-controllers-host.sh to compare with a real
 * kube-controller-manager. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controllers/controllers.h"

int main(int argc, char **argv)
{
    json_error_t e;
    json_t *t = json_loadf(stdin, 0, &e);
    if (!t) {
        fprintf(stderr, "template_hash: %s\n", e.text);
        return 1;
    }
    int exact = 0;
    char *d = vk_controllers_template_dump(t, &exact);
    if (argc > 1 && !strcmp(argv[1], "-d")) printf("%s\n", d);
    char h[16];
    vk_controllers_template_hash(t, -1, h);
    printf("%s\n", h);
    free(d);
    json_decref(t);
    return exact ? 0 : 2;
}
