/* crdschema: the structural OpenAPI v3 schemas of CustomResourceDefinitions
 * (a version's schema.openAPIV3Schema), as kube-apiserver's apiextensions
 * uses them:
 *   - checking a schema when a CRD is created or updated (structural rules,
 *     unsupported constructs, defaults that do not validate or are not pruned),
 *   - pruning unknown fields of custom objects (and reporting their paths for
 *     fieldValidation=Strict|Warn),
 *   - defaulting (`default`, and dropping nulls of non-nullable fields),
 *   - validating custom objects, with causes worded as upstream's
 *     ("spec.replicas: Invalid value: \"string\": spec.replicas in body must
 *     be of type integer: \"string\"").
 * x-kubernetes-validations (CEL) rules are NOT evaluated here:
 * vk_crdschema_cel_rules lists them so proxy/crd.c can say so on the CRD.
 *
 * Pure functions over jansson values, no I/O, no global state. Called by
 * proxy/crd.c (schema checks) and by the REST layer for custom objects, in
 * the order upstream uses on every write: prune, default, validate. On read
 * from storage: default only. */
#ifndef VK_CRDSCHEMA_H
#define VK_CRDSCHEMA_H

#include <jansson.h>
#include <stddef.h>

/* Checks a CRD version's openAPIV3Schema (borrowed). fpath is the field path
 * of the schema in the CRD ("spec.validation.openAPIV3Schema" when all
 * versions share one schema, as upstream reports it, else
 * "spec.versions[0].schema.openAPIV3Schema"). Appends causes
 * ({reason, message, field}, the format of proxy/validate.h) to causes.
 * Returns the number of causes appended. */
size_t vk_crdschema_check(const json_t *schema, const char *fpath, json_t *causes);

/* Appends to paths (a JSON array) one string per x-kubernetes-validations
 * list in schema, the field path of the list
 * ("<fpath>.properties[spec].x-kubernetes-validations"). Returns how many. */
size_t vk_crdschema_cel_rules(const json_t *schema, const char *fpath, json_t *paths);

/* Prunes, in place, the fields of obj (a whole custom object) that schema
 * does not declare. apiVersion, kind and metadata are always kept at the
 * root and in x-kubernetes-embedded-resource objects; unknown members of
 * metadata (fields not in ObjectMeta) are pruned too. When pruned is not
 * NULL, appends the path of each pruned field, sorted, in the format of
 * upstream's strict decoding errors ("spec.foo", "spec.items[0].bar",
 * "spec.map.key.bar"). Returns the number of pruned fields. */
size_t vk_crdschema_prune(const json_t *schema, json_t *obj, json_t *pruned);

/* Applies defaults in place: a missing property with a `default` gets a
 * copy of it (then defaults inside it); a null property that is not
 * nullable gets its default, or is removed when it has none. */
void vk_crdschema_default(const json_t *schema, json_t *obj);

/* Validates obj (a whole custom object, borrowed) against schema. Appends
 * causes as proxy/validate.h does; returns the number appended (0: valid).
 * Metadata of x-kubernetes-embedded-resource objects gets upstream's checks
 * (labels, annotations); the root object's metadata is the REST layer's
 * (vk_validate_object). */
size_t vk_crdschema_validate(const json_t *schema, const json_t *obj, json_t *causes);

/* The same on update, with upstream's validation ratcheting: values equal
 * to their counterpart in old (the stored object, borrowed) are not
 * validated again (objects by property, list-type map items by their keys,
 * set items by value), so objects stored under an older schema can still
 * be updated elsewhere. old NULL: vk_crdschema_validate. */
size_t vk_crdschema_validate_update(const json_t *schema, const json_t *obj, const json_t *old,
                                    json_t *causes);

/* Validates a value at field path `path` ("" for the root) against a schema
 * node: the same as vk_crdschema_validate for any subtree (used for
 * `default` values). */
size_t vk_crdschema_validate_value(const json_t *schema, const json_t *value, const char *path,
                                   json_t *causes);

#endif
