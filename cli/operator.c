/* cli/operator: `vkube operator`, the Tenant operator (operator/). */
#include <stdio.h>

int cli_operator(int argc, char **argv);

int cli_operator(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "vkube operator: not implemented yet\n");
    return 1;
}
