/* selector: Kubernetes label and field selectors. Parses the `labelSelector`
 * and `fieldSelector` query parameters the way kube-apiserver does (same
 * grammar, same error texts), matches them against objects, and matches the
 * LabelSelector objects found in workloads (matchLabels + matchExpressions).
 *
 * Pure functions over jansson values, no I/O. Called by the REST layer
 * (proxy/apiserver.c) for list/watch/deletecollection and by controllers that
 * select pods. A parse error returns VK_EBADREQUEST and a message the caller
 * puts in a 400 Status (kube-apiserver wraps it as
 * `Unable to find "<gvr>" that match label selector "...", field selector "...": <msg>`). */
#ifndef VK_SELECTOR_H
#define VK_SELECTOR_H

#include <jansson.h>
#include <stddef.h>

/* ---- label selectors ---------------------------------------------------- */

typedef struct vk_selector_label vk_selector_label_t;

/* Parses a label selector string ("a=b,c!=d,e in (x,y),!f,g", also gt/lt as
 * upstream's `>`/`<`). NULL or "" gives a selector matching everything.
 * On success returns 0 and *out (caller frees with vk_selector_label_free).
 * On failure returns VK_EBADREQUEST and, if err is not NULL, *err gets the
 * upstream-worded message (caller frees with free()). */
int vk_selector_label_parse(const char *s, vk_selector_label_t **out, char **err);
/* 1 if `labels` (a JSON object of string values, or NULL for none) matches. */
int vk_selector_label_match(const vk_selector_label_t *sel, const json_t *labels);
/* 1 if the selector has no requirements (matches everything). */
int vk_selector_label_empty(const vk_selector_label_t *sel);
void vk_selector_label_free(vk_selector_label_t *sel);

/* Matches a metav1.LabelSelector object ({matchLabels, matchExpressions}) against
 * `labels`. Returns 1 match, 0 no match, VK_EINVALID if the selector object is
 * malformed (then *err, if err is not NULL, says why; caller frees with free()).
 * A NULL selector matches nothing; an empty object matches everything (as
 * metav1.LabelSelectorAsSelector). */
int vk_selector_object_match(const json_t *selector, const json_t *labels, char **err);

/* ---- field selectors ---------------------------------------------------- */

typedef struct vk_selector_field vk_selector_field_t;

/* Parses a field selector ("metadata.name=x,status.phase!=Running", `==` too,
 * `\,` `\=` `\\` escapes in values). NULL or "" matches everything. Same
 * return/ownership conventions as vk_selector_label_parse. */
int vk_selector_field_parse(const char *s, vk_selector_field_t **out, char **err);

/* Checks every field the selector names against `supported` (a NULL-terminated
 * list of the kind's field labels, e.g. {"spec.nodeName", "status.phase", NULL};
 * metadata.name and metadata.namespace are always supported). Returns 0, or
 * VK_EBADREQUEST with *err = `field label not supported: <field>` (caller frees). */
int vk_selector_field_check(const vk_selector_field_t *sel, const char *const *supported,
                            char **err);

/* Extracts the value of `field` from `obj` for matching. Returns a string
 * borrowed from obj, or written into buf (cap bytes), or NULL when the field
 * is absent (matched as ""). */
typedef const char *(*vk_selector_field_cb)(void *ctx, const json_t *obj, const char *field,
                                            char *buf, size_t cap);

/* The default extractor: follows the dotted path in obj; strings as they are,
 * booleans as "true"/"false", integers in decimal, anything else absent. */
const char *vk_selector_field_value(void *ctx, const json_t *obj, const char *field, char *buf,
                                    size_t cap);

/* 1 if obj matches every term. cb NULL means vk_selector_field_value. */
int vk_selector_field_match(const vk_selector_field_t *sel, const json_t *obj,
                            vk_selector_field_cb cb, void *ctx);
/* The value of an `=`/`==` term on `field` (e.g. "metadata.name", to turn a
 * list into a get), borrowed from sel, or NULL if there is none. */
const char *vk_selector_field_exact(const vk_selector_field_t *sel, const char *field);
int vk_selector_field_empty(const vk_selector_field_t *sel);
void vk_selector_field_free(vk_selector_field_t *sel);

#endif
