/* quantity: resource.Quantity values ("500m", "1Gi", "2e3") canonicalised
 * exactly as kube-apiserver returns them after decoding a request body: the
 * string is parsed as apimachinery's ParseQuantity does (a value already in
 * canonical form, and a few spellings the parser keeps verbatim such as "+1",
 * are returned unchanged; anything else is rewritten: "0.5" -> "500m",
 * "1000m" -> "1", "1024Mi" -> "1Gi", values finer than 1n rounded up to 1n,
 * binary values capped at 2^63-1).
 *
 * The one canonicaliser for both request encodings: proxy/protobuf.c calls
 * vk_quantity_canonical on every Quantity it decodes, and the JSON write path
 * (proxy/defaults.c, vk_defaults_apply) calls vk_quantity_canon_object on
 * every built-in object. Pure functions, thread-safe. */
#ifndef VK_QUANTITY_H
#define VK_QUANTITY_H

#include <jansson.h>
#include <stddef.h>

/* Canonical form of the quantity s[0..len) (no surrounding white space
 * allowed, as in protobuf bodies). On success *out is a new NUL-terminated
 * string (caller frees with free()) and 0 is returned. On failure returns
 * VK_EBADREQUEST, leaves *out NULL and, when why is not NULL, points *why at
 * kube-apiserver's message for the error (static). */
int vk_quantity_canonical(const char *s, size_t len, char **out, const char **why);

/* The canonical form of a quantity as it appears in a JSON body: a string
 * (surrounding white space trimmed, as Quantity.UnmarshalJSON does), a number
 * (its decimal text) or null (the zero quantity, "0"). Same results as
 * vk_quantity_canonical; *out is a new string the caller frees with free(). */
int vk_quantity_canonical_json(const json_t *v, char **out, const char **why);

/* Rewrites, in place, every valid quantity in obj (borrowed, modified), an
 * object of the built-in kind group/version/kind, to its canonical form,
 * following the schema tables (proxy/schema.h): resource lists, limits,
 * capacities, size limits... Values of core/v1 ResourceList fields are then
 * rounded up to 1m as kube-apiserver's defaulting does ("1n" -> "1m").
 * Kinds without a schema (custom resources) are left alone. Values that do
 * not parse are left as they are and make it return VK_EBADREQUEST with, when
 * msg is not NULL, kube-apiserver's decoding error in *msg ("Pod in version
 * \"v1\" cannot be handled as a Pod: quantities must match ...", a new
 * string the caller frees with free()); otherwise 0 and *msg NULL.
 * Idempotent: the REST layer may call it on a JSON body before defaulting to
 * answer 400 as kube-apiserver does (vk_defaults_apply calls it again and
 * ignores errors, leaving them to validation). */
int vk_quantity_canon_object(const char *group, const char *version, const char *kind,
                             json_t *obj, char **msg);

#endif
