/* Unit tests for common/err and common/mem. */
#include "common/err.h"
#include "common/mem.h"
#include "tests/test.h"

#include <errno.h>
#include <stdint.h>

TEST(err_table_maps_status_and_reason)
{
    CHECK_EQ_INT(vk_err_http_status(VK_ENOTFOUND), 404);
    CHECK_EQ_STR(vk_err_reason(VK_ENOTFOUND), "NotFound");
    CHECK_EQ_INT(vk_err_http_status(VK_ECONFLICT), 409);
    CHECK_EQ_STR(vk_err_reason(VK_ECONFLICT), "Conflict");
    CHECK_EQ_INT(vk_err_http_status(VK_EEXPIRED), 410);
    CHECK_EQ_STR(vk_err_name(VK_EINVALID), "VK_EINVALID");
    CHECK_EQ_INT(vk_err_http_status(-ENOMEM), 500);
    CHECK_EQ_STR(vk_err_reason(-ENOMEM), "InternalError");
}

TEST(pool_allocations_are_zeroed_and_aligned)
{
    vk_pool_t *p = vk_pool_new();
    for (int i = 0; i < 1000; i++) {
        unsigned char *a = vk_pool_alloc(p, (size_t)(i % 97) + 1);
        CHECK(((uintptr_t)a & 15) == 0);
        CHECK(a[0] == 0);
        a[0] = 1;
    }
    char *big = vk_pool_alloc(p, 100000);
    CHECK(big[99999] == 0);
    CHECK_EQ_STR(vk_pool_strdup(p, "abc"), "abc");
    vk_pool_free(p);
}

TEST(asprintf_formats)
{
    char *s = vk_xasprintf("%s-%d", "a", 42);
    CHECK_EQ_STR(s, "a-42");
    free(s);
}

int main(void)
{
    RUN(err_table_maps_status_and_reason);
    RUN(pool_allocations_are_zeroed_and_aligned);
    RUN(asprintf_formats);
    TEST_EXIT();
}
