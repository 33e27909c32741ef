/* strbuf: growable byte strings (see strbuf.h). */
#include "common/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void vk_strbuf_init(vk_strbuf_t *b, size_t initial)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->first = initial;
}

void vk_strbuf_reserve(vk_strbuf_t *b, size_t n)
{
    if (b->len + n + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : (b->first ? b->first : VK_STRBUF_MIN);
    while (cap < b->len + n + 1)
        cap *= 2;
    b->p = vk_xrealloc(b->p, cap);
    b->cap = cap;
}

void vk_strbuf_put(vk_strbuf_t *b, const void *data, size_t n)
{
    vk_strbuf_reserve(b, n);
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = 0;
}

void vk_strbuf_puts(vk_strbuf_t *b, const char *s)
{
    vk_strbuf_put(b, s, strlen(s));
}

void vk_strbuf_putc(vk_strbuf_t *b, char c)
{
    vk_strbuf_put(b, &c, 1);
}

void vk_strbuf_printf(vk_strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[1];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    vk_strbuf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *vk_strbuf_detach(vk_strbuf_t *b, size_t *len)
{
    if (!b->p) {
        vk_strbuf_reserve(b, 0);
        b->p[0] = 0;
    }
    char *p = b->p;
    if (len)
        *len = b->len;
    vk_strbuf_init(b, b->first);
    return p;
}

void vk_strbuf_free(vk_strbuf_t *b)
{
    free(b->p);
    vk_strbuf_init(b, b->first);
}
