/* cli: the `vkube` command's internal interface between its files (main.c
 * dispatches; tenant.c and serve.c implement subcommands). Not a library. */
#ifndef VK_CLI_H
#define VK_CLI_H

#include <stdio.h>

#define VK_VERSION "v0.1.0"

/* A command-line flag: "--name VALUE", "--name=VALUE", or a switch. */
typedef struct cli_flag {
    const char *name;  /* "--data-dir"; a second spelling may go in alias */
    const char *alias; /* "-v" or NULL */
    int has_arg;       /* 1: takes a value; 0: a switch */
    const char **value; /* where a value goes (last one wins) */
    int *count;        /* incremented for each occurrence (switches, repeatable flags) */
    const char **list; /* repeatable value flags: up to list_max values, NULL-terminated */
    int list_max;
    const char *help;  /* one line for --help */
} cli_flag_t;

/* Parses argv[0..argc) (after the command words) into flags and up to maxpos
 * positional arguments. Returns 0, 1 if --help/-h was given (usage printed to
 * stdout by the caller), or 2 after printing an error to stderr. */
int cli_parse(const char *cmd, int argc, char **argv, const cli_flag_t *flags, const char **pos,
              int maxpos, int *npos);
/* Prints the flag table (for --help). */
void cli_print_flags(FILE *f, const cli_flag_t *flags);

int cli_tenant(int argc, char **argv);

/* hosttenant.c: the tenant commands through the host's Tenant objects
 * (--host-kubeconfig). Each returns the process exit code. wait: follow the
 * operator's progress until Ready / gone, at most timeout_s. */
int cli_host_tenant_create(const char *kubeconfig, const char *file, const char *name, int wait,
                           int timeout_s);
int cli_host_tenant_delete(const char *kubeconfig, const char *name, int wait, int timeout_s);
int cli_host_tenant_list(const char *kubeconfig);
int cli_host_tenant_kubeconfig(const char *kubeconfig, const char *name);
/* A local tenant's state for `tenant list`: phase "Running" (its API answers),
 * "Stopped" or "Error", and its pod count ("-" when not running). */
void cli_tenant_probe(const char *kubeconfig, char *phase, size_t phase_len, char *pods,
                      size_t pods_len);
int cli_serve(int argc, char **argv);

#endif
