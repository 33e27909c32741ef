/* cli/operator: `vkube operator`, the Tenant operator (operator/operator.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/log.h"
#include "operator/operator.h"

int cli_operator(int argc, char **argv);

int cli_operator(int argc, char **argv)
{
    const char *kc = NULL, *data_dir = NULL, *resync = NULL, *bin = NULL, *image = NULL;
    int local = 0, in_cluster = 0, verbose = 0;
    const cli_flag_t flags[] = {
        {"--host-kubeconfig", NULL, 1, &kc, NULL, NULL, 0, "kubeconfig of the host cluster"},
        {"--in-cluster", NULL, 0, NULL, &in_cluster, NULL, 0,
         "use the pod's service account to reach the host"},
        {"--local", NULL, 0, NULL, &local, NULL, 0,
         "run each tenant's 'vkube serve' as a supervised child process"},
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0,
         "--local: directory for tenants (DIR/NAME); in-cluster: scratch (default /tmp)"},
        {"--image", NULL, 1, &image, NULL, NULL, 0,
         "without --local: the vkube image the control-plane StatefulSets run"},
        {"--resync", NULL, 1, &resync, NULL, NULL, 0, "full reconcile period in seconds (default 30)"},
        {"--vkube-bin", NULL, 1, &bin, NULL, NULL, 0, "vkube binary for children (default: this one)"},
        {"--verbose", "-v", 0, NULL, &verbose, NULL, 0, "debug logging"},
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("operator", argc, argv, flags, pos, 0, &npos);
    if (rc == 1) {
        printf("Usage: vkube operator (--host-kubeconfig FILE | --in-cluster)\n"
               "                      (--local --data-dir DIR | --image IMAGE)\n\n"
               "Watches Tenant objects (tenants.vkube.io) on the host cluster and provisions\n"
               "each: host namespace with quota, limit range, network policy and syncer RBAC,\n"
               "the tenant's API server (--local: a child process; else a StatefulSet with a\n"
               "PVC and a Service), its admin kubeconfig in a Secret, and status. Runs\n"
               "until SIGTERM/SIGINT, then stops the control planes it started.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (!kc == !in_cluster) {
        fprintf(stderr, "vkube operator: give exactly one of --host-kubeconfig FILE and --in-cluster\n");
        return 2;
    }
    if (!local && !image) {
        fprintf(stderr, "vkube operator: without --local the control planes are StatefulSets: "
                        "--image IMAGE is required\n");
        return 2;
    }
    if (!data_dir) data_dir = getenv("VKUBE_DATA_DIR");
    if (!local && (!data_dir || !*data_dir)) data_dir = "/tmp";
    if (!data_dir || !*data_dir) {
        fprintf(stderr, "vkube operator: --local needs --data-dir DIR (or VKUBE_DATA_DIR)\n");
        return 2;
    }
    mkdir(data_dir, 0700);
    if (verbose) vk_log_set_level(VK_LOG_DEBUG);
    vk_operator_opts_t o = {.host_kubeconfig = kc, .in_cluster = in_cluster, .local = local,
                            .data_dir = data_dir, .vkube_bin = bin, .image = image,
                            .resync_ms = resync ? atoi(resync) * 1000 : 0};
    return vk_operator_run(&o) ? 1 : 0;
}
