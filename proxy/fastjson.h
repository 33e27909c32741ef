/* fastjson: byte-level answers built from stored objects without parsing them
 * into jansson trees. Stored values are our own compact JSON (json_dumps
 * JSON_COMPACT) without metadata.resourceVersion; the REST read paths (list,
 * get, watch in proxy/rest.c and proxy/watch.c) splice those bytes into the
 * response and add the resourceVersion by byte surgery. The scanner checks the
 * whole value is one well-formed JSON object (structure, strings, numbers,
 * literals; not UTF-8) and refuses anything else, so callers fall back to
 * jansson (vk_rest_decode) when a value does not have the expected layout. */
#ifndef VK_PROXY_FASTJSON_H
#define VK_PROXY_FASTJSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

/* Response bodies are built in common/strbuf.h buffers; a zeroed one starts
 * at VK_FASTJSON_BUF_FIRST bytes here (bodies are rarely smaller). p is owned
 * (free with vk_fastjson_buf_free). */
typedef vk_strbuf_t vk_fastjson_buf_t;
#define VK_FASTJSON_BUF_FIRST 4096

void vk_fastjson_buf_put(vk_fastjson_buf_t *b, const void *data, size_t n);
void vk_fastjson_buf_puts(vk_fastjson_buf_t *b, const char *s);
/* Makes room for n more bytes without changing len (one allocation instead of
 * a chain of doublings when the size is known). */
void vk_fastjson_buf_reserve(vk_fastjson_buf_t *b, size_t n);
void vk_fastjson_buf_free(vk_fastjson_buf_t *b);

/* Appends val[0..len) (a stored object) to b with "resourceVersion":"<rev>"
 * added as the last member of its top-level "metadata" object. Returns 0, or
 * -1 with b unchanged when val is not a single well-formed JSON object, has no
 * top-level metadata object, or its metadata already holds resourceVersion. */
int vk_fastjson_put_with_rv(vk_fastjson_buf_t *b, const char *val, size_t len, int64_t rev);

#endif
