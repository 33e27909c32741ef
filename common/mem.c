/* mem: aborting allocators and the request pool. */
#include "mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "vkube: out of memory allocating %zu bytes\n", n);
    abort();
}

void *vk_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *vk_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *vk_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *vk_xstrdup(const char *s)
{
    return vk_xstrndup(s, strlen(s));
}

char *vk_xstrndup(const char *s, size_t n)
{
    char *p = vk_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *vk_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) oom(0);
    char *p = vk_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

struct chunk {
    struct chunk *next;
    size_t used, size;
    _Alignas(16) unsigned char data[];
};

struct vk_pool {
    struct chunk *head;
};

vk_pool_t *vk_pool_new(void)
{
    return vk_xcalloc(1, sizeof(vk_pool_t));
}

void *vk_pool_alloc(vk_pool_t *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct chunk *c = p->head;
    if (!c || c->size - c->used < n) {
        size_t size = n > 3072 ? n : 4096 - sizeof(struct chunk);
        c = vk_xmalloc(sizeof(struct chunk) + size);
        c->used = 0;
        c->size = size;
        c->next = p->head;
        p->head = c;
    }
    void *r = c->data + c->used;
    c->used += n;
    memset(r, 0, n);
    return r;
}

char *vk_pool_strdup(vk_pool_t *p, const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = vk_pool_alloc(p, n);
    memcpy(r, s, n);
    return r;
}

void vk_pool_free(vk_pool_t *p)
{
    if (!p) return;
    for (struct chunk *c = p->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(p);
}
