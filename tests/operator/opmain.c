/* A helper: the operator (--local) built with ASan+UBSan, so that tests can
 * run the real reconcile loop under the sanitizers (leaks reported at exit).
 *   opmain HOST_KUBECONFIG DATA_DIR VKUBE_BIN [RESYNC_SECONDS] */
#include <stdio.h>
#include <stdlib.h>

#include "operator/operator.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: opmain HOST_KUBECONFIG DATA_DIR VKUBE_BIN [RESYNC_SECONDS]\n");
        return 2;
    }
    vk_operator_opts_t o = {.host_kubeconfig = argv[1], .local = 1, .data_dir = argv[2],
                            .vkube_bin = argv[3], .resync_ms = argc > 4 ? atoi(argv[4]) * 1000 : 0};
    return vk_operator_run(&o) ? 1 : 0;
}
