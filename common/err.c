/* err: lookups over the VK_ERRORS table. */
#include "err.h"

#include <string.h>

const char *vk_err_name(int err)
{
    switch (err) {
#define X(name, value, status, reason)                                                             \
    case value:                                                                                    \
        return #name;
        VK_ERRORS(X)
#undef X
    }
    if (err < 0 && err > -4096) return strerror(-err);
    return "unknown error";
}

int vk_err_http_status(int err)
{
    switch (err) {
#define X(name, value, status, reason)                                                             \
    case value:                                                                                    \
        return status;
        VK_ERRORS(X)
#undef X
    }
    return 500;
}

const char *vk_err_reason(int err)
{
    switch (err) {
#define X(name, value, status, reason)                                                             \
    case value:                                                                                    \
        return reason;
        VK_ERRORS(X)
#undef X
    }
    return "InternalError";
}
