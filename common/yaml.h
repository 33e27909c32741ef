/* yaml: YAML <-> JSON (jansson) conversion with Kubernetes' rules. Parsing
 * follows sigs.k8s.io/yaml (go-yaml v2 resolution): quoted scalars stay
 * strings; plain scalars become null (~, null, empty), booleans (true/false,
 * yes/no, on/off, y/n in their three casings), integers (decimal, 0x, 0o, 0b,
 * leading-0 octal, '_' separators) or floats; anchors, aliases and `<<` merge
 * keys are expanded; non-string keys become their text ("1", "true").
 * Used by the CLI and the syncer (Tenant manifests, `-f` files), and by
 * kubeconfig loading. Emission writes block-style YAML that parses back to the
 * same JSON. */
#ifndef VK_YAML_H
#define VK_YAML_H

#include <jansson.h>
#include <stddef.h>

/* Hard limits against hostile input: nesting depth and the number of nodes a
 * parse may produce (alias expansion included, against "billion laughs"). */
#define VK_YAML_MAX_DEPTH 256
#define VK_YAML_MAX_NODES 1000000

/* Parses every document of text[0..len) into *docs, a new JSON array (caller
 * frees with json_decref); an empty document is JSON null. Returns 0, or
 * VK_EINVALID with a message ("yaml: line 3 column 5: ...") in err. */
int vk_yaml_parse_all(const char *text, size_t len, json_t **docs, char *err, size_t errlen);

/* Parses a single-document stream into *out (new reference). More than one
 * non-empty document is an error; an empty stream gives JSON null. */
int vk_yaml_parse(const char *text, size_t len, json_t **out, char *err, size_t errlen);

/* Writes v as a block-style YAML document (no leading "---"). Strings that
 * would read back as another type are quoted. Caller frees *out with free().
 * Returns 0, or VK_EINVALID for values JSON cannot hold (NaN/Inf reals). */
int vk_yaml_emit(const json_t *v, char **out);

/* Writes each element of the array docs as a document, separated by "---".
 * Caller frees *out with free(). */
int vk_yaml_emit_all(const json_t *docs, char **out);

#endif
