/* Unit tests of common/strbuf.c. */
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "tests/test.h"

TEST(zeroed_buffer)
{
    vk_strbuf_t b = {0};
    CHECK(b.p == NULL);
    vk_strbuf_puts(&b, "ab");
    vk_strbuf_putc(&b, 'c');
    vk_strbuf_put(&b, "d\0e", 3);
    CHECK_EQ_INT(b.len, 6);
    CHECK_EQ_INT(b.cap, VK_STRBUF_MIN);
    CHECK(!memcmp(b.p, "abcd\0e", 7)); /* NUL-terminated */
    vk_strbuf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
}

TEST(initial_size_and_growth)
{
    vk_strbuf_t b;
    vk_strbuf_init(&b, 8);
    CHECK(b.p == NULL);
    vk_strbuf_puts(&b, "x");
    CHECK_EQ_INT(b.cap, 8);
    char big[1000];
    memset(big, 'y', sizeof big);
    vk_strbuf_put(&b, big, sizeof big);
    CHECK_EQ_INT(b.len, 1001);
    CHECK_EQ_INT(b.cap, 1024); /* doubled from 8 */
    CHECK_EQ_INT(b.p[1001], 0);
    vk_strbuf_free(&b);
    vk_strbuf_puts(&b, "z"); /* reusable, same first size */
    CHECK_EQ_INT(b.cap, 8);
    vk_strbuf_free(&b);
}

TEST(reserve_keeps_len)
{
    vk_strbuf_t b = {0};
    vk_strbuf_puts(&b, "head");
    vk_strbuf_reserve(&b, 5000);
    CHECK_EQ_INT(b.len, 4);
    CHECK(b.cap >= 5005);
    size_t cap = b.cap;
    char *p = b.p;
    for (int i = 0; i < 1000; i++)
        vk_strbuf_puts(&b, "12345");
    CHECK(b.p == p && b.cap == cap); /* no reallocation within the reserve */
    CHECK_EQ_INT(b.len, 5004);
    vk_strbuf_free(&b);
}

TEST(printf_and_detach)
{
    vk_strbuf_t b;
    vk_strbuf_init(&b, 4);
    vk_strbuf_printf(&b, "%s=%d", "answer", 42);
    vk_strbuf_printf(&b, "; %0300d", 7); /* longer than the buffer */
    CHECK_EQ_INT(b.len, 9 + 302);
    CHECK(!strncmp(b.p, "answer=42; 000", 14));
    CHECK_EQ_INT(b.p[b.len - 1], '7');
    size_t len = 0;
    char *s = vk_strbuf_detach(&b, &len);
    CHECK_EQ_INT(len, 311);
    CHECK_EQ_INT(strlen(s), 311);
    CHECK(b.p == NULL && b.len == 0 && b.first == 4);
    free(s);
    s = vk_strbuf_detach(&b, NULL); /* nothing written: "" */
    CHECK_EQ_STR(s, "");
    free(s);
}

int main(void)
{
    RUN(zeroed_buffer);
    RUN(initial_size_and_growth);
    RUN(reserve_keeps_len);
    RUN(printf_and_detach);
    TEST_EXIT();
}
