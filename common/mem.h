/* mem: allocation helpers that abort on failure (allocation failure is not a
 * recoverable condition in vkube), plus a simple per-request pool. Used everywhere. */
#ifndef VK_MEM_H
#define VK_MEM_H

#include <stddef.h>

void *vk_xmalloc(size_t n);
void *vk_xcalloc(size_t n, size_t size);
void *vk_xrealloc(void *p, size_t n);
char *vk_xstrdup(const char *s);
char *vk_xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees with free(). */
char *vk_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A pool: many allocations freed together by vk_pool_free (request scope). */
typedef struct vk_pool vk_pool_t;
vk_pool_t *vk_pool_new(void);
void *vk_pool_alloc(vk_pool_t *p, size_t n);       /* zeroed, 16-byte aligned */
char *vk_pool_strdup(vk_pool_t *p, const char *s);
void vk_pool_free(vk_pool_t *p);                   /* frees the pool and everything in it */

#endif
