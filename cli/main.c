/* vkube: the command-line entry point. Dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

static int usage(FILE *f)
{
    fprintf(f, "Usage: vkube <command> [flags]\n\n"
               "Per-tenant virtual Kubernetes control planes.\n\n"
               "Commands:\n"
               "  version     print the vkube version\n"
               "\nRun 'vkube <command> --help' for a command's flags.\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
        return usage(stdout);
    if (!strcmp(argv[1], "version")) {
        printf("vkube v0.1.0\n");
        return 0;
    }
    fprintf(stderr, "vkube: unknown command \"%s\"\n", argv[1]);
    return usage(stderr);
}
