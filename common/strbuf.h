/* strbuf: a growable byte string, NUL-terminated after every write, for
 * building answers, messages and keys piece by piece. Used by proxy/fastjson.c
 * (list and watch bodies: vk_fastjson_buf_t is this type), proxy/apply.c
 * (path elements, one small buffer per list item) and proxy/patch.c (Go-style
 * error messages).
 *
 * A zeroed vk_strbuf_t is an empty buffer that allocates VK_STRBUF_MIN bytes
 * on its first write; vk_strbuf_init chooses that first size instead. p is
 * owned by the buffer until vk_strbuf_detach hands it over; it is NULL until
 * the first write. Allocation failure aborts (common/mem.h). */
#ifndef VK_STRBUF_H
#define VK_STRBUF_H

#include <stddef.h>

#define VK_STRBUF_MIN 64

typedef struct vk_strbuf {
    char *p;      /* the bytes, NUL-terminated once anything was written; owned */
    size_t len;   /* bytes written, without the NUL */
    size_t cap;   /* bytes allocated at p */
    size_t first; /* size of the first allocation; 0 means VK_STRBUF_MIN */
} vk_strbuf_t;

/* An empty buffer whose first allocation is `initial` bytes (0: the default).
 * Allocates nothing. */
void vk_strbuf_init(vk_strbuf_t *b, size_t initial);
/* Makes room for n more bytes (plus the NUL) without changing len: one
 * allocation instead of a chain of doublings when the size is known. */
void vk_strbuf_reserve(vk_strbuf_t *b, size_t n);
void vk_strbuf_put(vk_strbuf_t *b, const void *data, size_t n);
void vk_strbuf_puts(vk_strbuf_t *b, const char *s);
void vk_strbuf_putc(vk_strbuf_t *b, char c);
void vk_strbuf_printf(vk_strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hands over the string (never NULL: "" when nothing was written; caller
 * frees with free()), its length in *len when len is not NULL, and leaves b
 * empty with the same first size. */
char *vk_strbuf_detach(vk_strbuf_t *b, size_t *len);
/* Frees the bytes and leaves b empty (reusable). */
void vk_strbuf_free(vk_strbuf_t *b);

#endif
