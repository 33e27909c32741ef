/* vkube: the command-line entry point. Dispatches to subcommands and holds the
 * shared flag parser. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_operator(int argc, char **argv); /* cli/operator.c */

static int usage(FILE *f)
{
    fprintf(f, "Usage: vkube <command> [flags]\n\n"
               "Per-tenant virtual Kubernetes control planes.\n\n"
               "Commands:\n"
               "  tenant create NAME      create a tenant (store, CA, certificates, kubeconfig)\n"
               "  tenant kubeconfig NAME  print a tenant's admin kubeconfig\n"
               "  tenant list             list tenants in a data directory\n"
               "  tenant delete NAME      delete a tenant's directory\n"
               "  serve                   serve a tenant's Kubernetes API\n"
               "  operator                reconcile Tenant objects of a host cluster\n"
               "  version                 print the vkube version\n"
               "\nRun 'vkube <command> --help' for a command's flags.\n");
    return f == stderr ? 2 : 0;
}

void cli_print_flags(FILE *f, const cli_flag_t *flags)
{
    fprintf(f, "\nFlags:\n");
    for (const cli_flag_t *fl = flags; fl->name; fl++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s%s", fl->alias ? fl->alias : "", fl->alias ? ", " : "",
                 fl->name, fl->has_arg ? " VALUE" : "");
        fprintf(f, "  %-28s %s\n", left, fl->help);
    }
    fprintf(f, "  %-28s %s\n", "-h, --help", "show this help");
}

int cli_parse(const char *cmd, int argc, char **argv, const cli_flag_t *flags, const char **pos,
              int maxpos, int *npos)
{
    *npos = 0;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && (!strcmp(a, "--help") || !strcmp(a, "-h"))) return 1;
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (only_pos || a[0] != '-' || !a[1]) {
            if (*npos >= maxpos) {
                fprintf(stderr, "vkube %s: unexpected argument \"%s\"\n", cmd, a);
                return 2;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        const cli_flag_t *fl = flags;
        for (; fl->name; fl++)
            if ((strlen(fl->name) == nl && !strncmp(fl->name, a, nl)) ||
                (fl->alias && strlen(fl->alias) == nl && !strncmp(fl->alias, a, nl)))
                break;
        if (!fl->name) {
            fprintf(stderr, "vkube %s: unknown flag \"%.*s\" (see 'vkube %s --help')\n", cmd,
                    (int)nl, a, cmd);
            return 2;
        }
        const char *val = NULL;
        if (fl->has_arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "vkube %s: flag %s needs a value\n", cmd, fl->name);
                return 2;
            }
            if (!*val) {
                fprintf(stderr, "vkube %s: flag %s needs a non-empty value\n", cmd, fl->name);
                return 2;
            }
        } else if (eq) {
            fprintf(stderr, "vkube %s: flag %s takes no value\n", cmd, fl->name);
            return 2;
        }
        if (fl->count) (*fl->count)++;
        if (fl->value) *fl->value = val;
        if (fl->list) {
            int n = 0;
            while (fl->list[n]) n++;
            if (n >= fl->list_max) {
                fprintf(stderr, "vkube %s: too many %s flags (at most %d)\n", cmd, fl->name,
                        fl->list_max);
                return 2;
            }
            fl->list[n] = val;
            fl->list[n + 1] = NULL;
        }
    }
    return 0;
}

static int cmd_version(int argc, char **argv)
{
    static const cli_flag_t flags[] = {{0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("version", argc, argv, flags, pos, 0, &npos);
    if (rc == 1) {
        printf("Usage: vkube version\n\nPrints the vkube version.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    printf("vkube %s\n", VK_VERSION);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    signal(SIGPIPE, SIG_IGN); /* a closed connection is an error, not a death */
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) return usage(stdout);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc - 2, argv + 2);
    if (!strcmp(cmd, "tenant")) return cli_tenant(argc - 2, argv + 2);
    if (!strcmp(cmd, "serve")) return cli_serve(argc - 2, argv + 2);
    if (!strcmp(cmd, "operator")) return cli_operator(argc - 2, argv + 2);
    fprintf(stderr, "vkube: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
