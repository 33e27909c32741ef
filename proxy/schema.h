/* schema: the schemas of the built-in Kubernetes kinds (k8s.io/api, every
 * version: GA, beta and alpha; apimachinery meta/v1, runtime, resource, intstr, and
 * apiextensions/v1), as static tables generated at build time by
 * tools/k8s-schema/gen.py from the upstream generated.proto files and Go
 * struct tags (never committed). Per message: fields with protobuf number,
 * JSON name, type, Go JSON encoding flags, documentation and the markers
 * (+patchStrategy, +patchMergeKey, +listType, +listMapKey, +mapType,
 * +structType, +optional).
 *
 * Used by proxy/protobuf.c (decoding request bodies), strategic merge patch
 * and server-side apply (merge keys, list types, via vk_schema_path_info) and
 * proxy/openapi.c (OpenAPI documents for kubectl apply/explain).
 * Everything here is read-only static data: no allocation, thread-safe. */
#ifndef VK_SCHEMA_H
#define VK_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Field value types (the element type for repeated fields, the value type for maps). */
enum {
    VK_SF_STRING = 1,
    VK_SF_INT32,
    VK_SF_INT64,
    VK_SF_UINT32,
    VK_SF_UINT64,
    VK_SF_BOOL,
    VK_SF_DOUBLE,
    VK_SF_FLOAT,
    VK_SF_BYTES,
    VK_SF_MESSAGE,
};

/* Field flags. */
enum {
    VK_SF_REPEATED = 1 << 0,  /* a list */
    VK_SF_MAP = 1 << 1,       /* map<key_type, type> */
    VK_SF_POINTER = 1 << 2,   /* Go pointer: absent means omitted, present zero is kept */
    VK_SF_OMITEMPTY = 1 << 3, /* Go json omitempty */
    VK_SF_INLINE = 1 << 4,    /* Go embedded json:",inline": fields merge into the parent */
    VK_SF_OPTIONAL = 1 << 5,  /* +optional marker */
    VK_SF_RESOURCELIST = 1 << 6, /* a core/v1 ResourceList: defaulting rounds values up to 1m */
};

/* Messages whose JSON form is special (custom Go MarshalJSON). */
enum {
    VK_SM_NONE = 0,
    VK_SM_TIME,        /* metav1.Time: RFC3339 seconds, null when zero */
    VK_SM_MICROTIME,   /* metav1.MicroTime: RFC3339 with microseconds */
    VK_SM_DURATION,    /* metav1.Duration: Go duration string ("1h2m3s") */
    VK_SM_QUANTITY,    /* resource.Quantity: its string */
    VK_SM_INTORSTRING, /* intstr.IntOrString: number or string */
    VK_SM_RAWEXT,      /* runtime.RawExtension: embedded JSON bytes */
    VK_SM_RAWJSON,     /* FieldsV1, apiextensions JSON: embedded JSON bytes */
    VK_SM_WRAPLIST,    /* Go `type X []T` wrapped as message {repeated items = 1} */
    VK_SM_SCHEMA_OR_BOOL,
    VK_SM_SCHEMA_OR_ARRAY,
    VK_SM_SCHEMA_OR_STRINGS,
};

typedef struct vk_schema_field {
    const char *json;            /* JSON name (for inline fields: the proto name) */
    const char *doc;             /* documentation, or NULL */
    const char *patch_strategy;  /* "merge", "retainKeys", "merge,retainKeys" or NULL */
    const char *patch_merge_key; /* or NULL */
    const char *list_type;       /* "atomic", "set", "map" or NULL */
    const char *list_map_keys;   /* comma-separated, or NULL */
    uint32_t number;             /* protobuf field number */
    uint32_t msg;                /* message index when type is VK_SF_MESSAGE */
    uint8_t type;                /* VK_SF_STRING... */
    uint8_t key_type;            /* map key type, 0 when not a map */
    uint16_t flags;              /* VK_SF_REPEATED... */
    const char *map_type;        /* +mapType: "atomic", "granular" or NULL */
    const char *enum_values;     /* Go +enum string type: values, '\n'-separated; or NULL */
} vk_schema_field_t;

typedef struct vk_schema_msg {
    const char *name;     /* OpenAPI definition name, "io.k8s.api.core.v1.Pod" */
    const char *doc;      /* or NULL */
    uint32_t first_field; /* index into the field table */
    uint16_t nfields;
    uint8_t special;      /* VK_SM_... */
    const char *struct_type; /* +structType: "atomic", "granular" or NULL */
    uint8_t has_quantity;    /* 1 when a resource.Quantity is reachable from here */
} vk_schema_msg_t;

typedef struct vk_schema_kind {
    const char *group; /* "" for core */
    const char *version;
    const char *kind;
    uint32_t msg;
} vk_schema_kind_t;

/* The generated tables (build/gen/proxy/schema_gen.c). Messages are sorted by
 * name, kinds by (group, version, kind). Prefer the functions below. */
extern const vk_schema_field_t vk_schema_gen_fields[];
extern const vk_schema_msg_t vk_schema_gen_msgs[];
extern const size_t vk_schema_gen_nmsgs;
extern const vk_schema_kind_t vk_schema_gen_kinds[];
extern const size_t vk_schema_gen_nkinds;
extern const char vk_schema_gen_digest[]; /* hex sha256 of the generated tables */

/* Message by index (borrowed static data; NULL when out of range). */
const vk_schema_msg_t *vk_schema_msg(uint32_t index);
/* Message by OpenAPI name ("io.k8s.api.apps.v1.Deployment"), or NULL. */
const vk_schema_msg_t *vk_schema_msg_by_name(const char *name);
/* Index of a message returned by the functions here. */
uint32_t vk_schema_msg_index(const vk_schema_msg_t *m);
/* The i-th field of m (0 <= i < m->nfields). */
const vk_schema_field_t *vk_schema_msg_field(const vk_schema_msg_t *m, size_t i);
/* The field with protobuf number num, or NULL. */
const vk_schema_field_t *vk_schema_field_by_number(const vk_schema_msg_t *m, uint32_t num);
/* The field with JSON name `json`, looking through inline (embedded) fields;
 * NULL if none. */
const vk_schema_field_t *vk_schema_field_by_json(const vk_schema_msg_t *m, const char *json);

/* The message of a kind. Kinds of meta.k8s.io/v1 (DeleteOptions, Status...)
 * are found for any group/version when the group has no kind of that name.
 * NULL when unknown. */
const vk_schema_msg_t *vk_schema_kind(const char *group, const char *version, const char *kind);
/* All kinds (borrowed static table), *n set to its length. */
const vk_schema_kind_t *vk_schema_kinds(size_t *n);

typedef struct vk_schema_field_info {
    const vk_schema_field_t *field; /* the field itself */
    const vk_schema_msg_t *msg;     /* message of the value (list element / map value), or NULL */
    const char *patch_strategy;     /* or NULL */
    const char *patch_merge_key;    /* or NULL */
    const char *list_type;          /* or NULL */
    const char *list_map_keys;      /* comma-separated, or NULL */
    const char *map_type;           /* +mapType of a map field ("atomic") or NULL */
    const char *struct_type;        /* +structType of msg ("atomic") or NULL */
    int is_list;                    /* 1 for repeated fields */
    int is_map;                     /* 1 for map fields */
} vk_schema_field_info_t;

/* Describes the field at a JSON path ("spec", "template", "spec",
 * "containers") inside an object of (group, version, kind). Path elements that
 * are list indices (all digits) after a list field, and map keys after a map
 * field, are skipped. depth 0 is invalid. 0 on success, VK_ENOTFOUND when the
 * kind or a path element is unknown. */
int vk_schema_path_info(const char *group, const char *version, const char *kind,
                        const char *const *path, size_t depth, vk_schema_field_info_t *out);

/* Strict field validation (fieldValidation=Strict|Warn): writes to paths the
 * JSON paths of the members of obj that the schema of (group, version, kind)
 * does not declare, in document order, formatted as kube-apiserver's strict
 * decoding reports them ("bogusField", "spec.template.spec.containers[0].foo";
 * inside message-valued map entries "spec.x.key.foo"; map keys themselves
 * are free; the format of sigs.k8s.io/json, which kube-apiserver reports as
 * `strict decoding error: unknown field "<path>", unknown field ...`). apiVersion and kind are declared at the top level; free-form values
 * (RawExtension, FieldsV1, apiextensions JSON) are not inspected. At most max
 * paths are written, each a new string the caller frees with free(). Returns
 * the number of unknown fields found (may exceed max), or VK_ENOTFOUND when
 * the kind has no schema here (custom resources). */
int vk_schema_unknown_fields(const char *group, const char *version, const char *kind,
                             const json_t *obj, char **paths, size_t max);

#endif
