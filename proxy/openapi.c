/* openapi: OpenAPI v3 / v2 documents from the schema tables (see openapi.h). */
#include "proxy/openapi.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/resources.h"
#include "proxy/schema.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define OPENAPI_FORMAT 1

typedef struct {
    char *group, *version, *kind, *plural;
    int namespaced, has_status, has_scale;
    char **verbs; /* NULL-terminated */
} res_t;

typedef struct {
    char *path;  /* request path served */
    char *body;  /* serialized document, NULL until built */
    size_t len;
    char etag[129];
    char *group, *version; /* for group-version documents */
    int kind;              /* 0 index, 1 group-version, 2 v2 */
} doc_t;

struct vk_openapi {
    res_t *res;
    size_t nres;
    vk_openapi_resource_t *views; /* res as vk_openapi_resource_t */
    json_t **schemas;             /* per row: custom resource schema (owned) or NULL */
    char *kube_version;
    doc_t *docs;
    size_t ndocs;
    uint8_t *v2pb; /* v2 in protobuf, built on first use */
    size_t v2pb_len;
};

/* ---- schema building ---- */

typedef struct {
    int v3;
    const char *refprefix;   /* "#/components/schemas/" or "#/definitions/" */
    json_t *schemas;         /* name -> schema */
    uint8_t *queued;         /* per message index */
    uint32_t *work;          /* messages to add */
    size_t nwork;
    const vk_openapi_resource_t *res;
    size_t nres;
    const char *group, *version; /* the document's group version; NULL for v2 (all) */
} bld_t;

static json_t *ref_to(bld_t *b, const char *name)
{
    char *s = vk_xasprintf("%s%s", b->refprefix, name);
    json_t *r = json_pack("{s:s}", "$ref", s);
    free(s);
    return r;
}

static json_t *msg_ref(bld_t *b, uint32_t idx)
{
    if (!b->queued[idx]) {
        b->queued[idx] = 1;
        b->work[b->nwork++] = idx;
    }
    return ref_to(b, vk_schema_msg(idx)->name);
}

/* A reference carrying sibling keywords: v3 wraps $ref in allOf (siblings of
 * $ref are ignored in OpenAPI 3.0), as upstream does. */
static json_t *wrapped_ref(bld_t *b, uint32_t idx)
{
    json_t *r = msg_ref(b, idx);
    if (!b->v3)
        return r;
    json_t *w = json_object();
    json_object_set_new(w, "allOf", json_pack("[o]", r));
    return w;
}

static json_t *scalar_schema(uint8_t type)
{
    switch (type) {
    case VK_SF_STRING: return json_pack("{s:s}", "type", "string");
    case VK_SF_BYTES: return json_pack("{s:s,s:s}", "type", "string", "format", "byte");
    case VK_SF_BOOL: return json_pack("{s:s}", "type", "boolean");
    case VK_SF_INT32:
    case VK_SF_UINT32: return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
    case VK_SF_INT64:
    case VK_SF_UINT64: return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
    case VK_SF_DOUBLE: return json_pack("{s:s,s:s}", "type", "number", "format", "double");
    case VK_SF_FLOAT: return json_pack("{s:s,s:s}", "type", "number", "format", "float");
    default: return json_object();
    }
}

static json_t *field_schema(bld_t *b, const vk_schema_field_t *f)
{
    json_t *s;
    if (f->flags & (VK_SF_MAP | VK_SF_REPEATED)) {
        json_t *elem = f->type == VK_SF_MESSAGE ? wrapped_ref(b, f->msg) : scalar_schema(f->type);
        if (f->flags & VK_SF_MAP)
            s = json_pack("{s:s,s:o}", "type", "object", "additionalProperties", elem);
        else
            s = json_pack("{s:s,s:o}", "type", "array", "items", elem);
    } else if (f->type == VK_SF_MESSAGE) {
        s = wrapped_ref(b, f->msg);
    } else {
        s = scalar_schema(f->type);
    }
    if (f->doc)
        json_object_set_new(s, "description", json_string(f->doc));
    if (f->enum_values) {
        json_t *vals = json_array();
        for (const char *p = f->enum_values; *p;) {
            size_t n = strcspn(p, "\n");
            json_array_append_new(vals, json_stringn(p, n));
            p += n + (p[n] ? 1 : 0);
        }
        json_t *target = (f->flags & VK_SF_REPEATED) ? json_object_get(s, "items") : s;
        json_object_set_new(target ? target : s, "enum", vals);
    }
    if (f->patch_strategy)
        json_object_set_new(s, "x-kubernetes-patch-strategy", json_string(f->patch_strategy));
    if (f->patch_merge_key)
        json_object_set_new(s, "x-kubernetes-patch-merge-key", json_string(f->patch_merge_key));
    if (f->list_type)
        json_object_set_new(s, "x-kubernetes-list-type", json_string(f->list_type));
    if (f->map_type)
        json_object_set_new(s, "x-kubernetes-map-type", json_string(f->map_type));
    if (f->list_map_keys) {
        json_t *keys = json_array();
        const char *p = f->list_map_keys;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t n = c ? (size_t)(c - p) : strlen(p);
            json_array_append_new(keys, json_stringn(p, n));
            p += n + (c ? 1 : 0);
        }
        json_object_set_new(s, "x-kubernetes-list-map-keys", keys);
    }
    return s;
}

/* Adds m's fields (looking through inline fields) to props / required. */
static void add_fields(bld_t *b, const vk_schema_msg_t *m, json_t *props, json_t *required,
                       int depth)
{
    if (depth > 8)
        return;
    for (size_t i = 0; i < m->nfields; i++) {
        const vk_schema_field_t *f = vk_schema_msg_field(m, i);
        if (f->flags & VK_SF_INLINE) {
            if (f->type == VK_SF_MESSAGE)
                add_fields(b, vk_schema_msg(f->msg), props, required, depth + 1);
            continue;
        }
        json_object_set_new(props, f->json, field_schema(b, f));
        if (!(f->flags & (VK_SF_OMITEMPTY | VK_SF_OPTIONAL | VK_SF_POINTER)))
            json_array_append_new(required, json_string(f->json));
    }
}

static const char *const APIVERSION_DOC =
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#resources";
static const char *const KIND_DOC =
    "Kind is a string value representing the REST resource this object represents. Servers may "
    "infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/"
    "api-conventions.md#types-kinds";

static json_t *gvk_obj(const char *g, const char *v, const char *k)
{
    return json_pack("{s:s,s:s,s:s}", "group", g, "kind", k, "version", v);
}

static json_t *msg_schema(bld_t *b, uint32_t idx)
{
    const vk_schema_msg_t *m = vk_schema_msg(idx);
    json_t *s;
    switch (m->special) {
    case VK_SM_TIME:
    case VK_SM_MICROTIME:
        s = json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
        break;
    case VK_SM_DURATION:
        s = json_pack("{s:s}", "type", "string");
        break;
    case VK_SM_QUANTITY:
        s = b->v3 ? json_pack("{s:[{s:s},{s:s}]}", "oneOf", "type", "string", "type", "number")
                  : json_pack("{s:s}", "type", "string");
        break;
    case VK_SM_INTORSTRING:
        s = b->v3 ? json_pack("{s:b,s:[{s:s},{s:s}]}", "x-kubernetes-int-or-string", 1, "anyOf",
                              "type", "integer", "type", "string")
                  : json_pack("{s:s,s:s}", "type", "string", "format", "int-or-string");
        break;
    case VK_SM_RAWEXT:
    case VK_SM_RAWJSON:
        s = json_pack("{s:s}", "type", "object");
        break;
    case VK_SM_WRAPLIST: {
        const vk_schema_field_t *f = m->nfields ? vk_schema_msg_field(m, 0) : NULL;
        s = json_pack("{s:s,s:o}", "type", "array", "items",
                      f && f->type != VK_SF_MESSAGE ? scalar_schema(f->type) : json_object());
        break;
    }
    case VK_SM_SCHEMA_OR_BOOL:
    case VK_SM_SCHEMA_OR_ARRAY:
    case VK_SM_SCHEMA_OR_STRINGS:
        s = json_object();
        break;
    default: {
        s = json_pack("{s:s}", "type", "object");
        json_t *props = json_object(), *required = json_array();
        /* Kinds carry TypeMeta (not in the protobuf schema). */
        size_t nk;
        const vk_schema_kind_t *kinds = vk_schema_kinds(&nk);
        int is_kind = 0;
        for (size_t i = 0; i < nk && !is_kind; i++)
            is_kind = kinds[i].msg == idx;
        if (is_kind) {
            json_object_set_new(props, "apiVersion", json_pack("{s:s,s:s}", "description",
                                                               APIVERSION_DOC, "type", "string"));
            json_object_set_new(props, "kind",
                                json_pack("{s:s,s:s}", "description", KIND_DOC, "type", "string"));
        }
        add_fields(b, m, props, required, 0);
        json_object_set_new(s, "properties", props);
        if (json_array_size(required))
            json_object_set_new(s, "required", required);
        else
            json_decref(required);
        /* The kinds of this document (all kinds for v2) stored in this message. */
        json_t *gvks = json_array();
        for (size_t i = 0; i < nk; i++) {
            if (kinds[i].msg != idx)
                continue;
            if (b->group && (strcmp(kinds[i].group, b->group) || strcmp(kinds[i].version, b->version)))
                continue;
            if (!strcmp(kinds[i].group, "meta.k8s.io"))
                continue;
            json_array_append_new(gvks, gvk_obj(kinds[i].group, kinds[i].version, kinds[i].kind));
        }
        if (json_array_size(gvks))
            json_object_set_new(s, "x-kubernetes-group-version-kind", gvks);
        else
            json_decref(gvks);
    }
    }
    if (m->doc)
        json_object_set_new(s, "description", json_string(m->doc));
    if (m->struct_type)
        json_object_set_new(s, "x-kubernetes-map-type", json_string(m->struct_type));
    return s;
}

/* Adds every queued message (and those they reference) to b->schemas. */
static void drain(bld_t *b)
{
    while (b->nwork) {
        uint32_t idx = b->work[--b->nwork];
        json_object_set_new(b->schemas, vk_schema_msg(idx)->name, msg_schema(b, idx));
    }
}

/* Component name for a kind without a schema (custom resources):
 * reversed group + version + kind, as upstream names CRD schemas. */
static char *synthetic_name(const char *group, const char *version, const char *kind)
{
    char *out = vk_xstrdup("");
    const char *end = group + strlen(group);
    while (end > group) {
        const char *dot = end;
        while (dot > group && dot[-1] != '.')
            dot--;
        char *n = vk_xasprintf("%s%.*s.", out, (int)(end - dot), dot);
        free(out);
        out = n;
        end = dot > group ? dot - 1 : group;
    }
    char *n = vk_xasprintf("%s%s.%s", out, version, kind);
    free(out);
    return n;
}

/* The schema reference for a resource's kind, adding its component. */
static json_t *kind_ref(bld_t *b, const char *group, const char *version, const char *kind,
                        const json_t *crd_schema)
{
    const vk_schema_msg_t *m = vk_schema_kind(group, version, kind);
    if (m)
        return msg_ref(b, vk_schema_msg_index(m));
    char *name = synthetic_name(group, version, kind);
    if (!json_object_get(b->schemas, name) && json_is_object(crd_schema)) {
        /* A custom resource with its schema: ours for TypeMeta and metadata. */
        json_t *s = json_deep_copy(crd_schema);
        json_t *props = json_object_get(s, "properties");
        if (!json_is_object(props)) {
            props = json_object();
            json_object_set_new(s, "properties", props);
        }
        if (!json_object_get(s, "type"))
            json_object_set_new(s, "type", json_string("object"));
        json_object_set_new(props, "apiVersion", json_pack("{s:s,s:s}", "description",
                                                           APIVERSION_DOC, "type", "string"));
        json_object_set_new(props, "kind",
                            json_pack("{s:s,s:s}", "description", KIND_DOC, "type", "string"));
        const vk_schema_msg_t *om = vk_schema_msg_by_name(META "ObjectMeta");
        if (om)
            json_object_set_new(props, "metadata", wrapped_ref(b, vk_schema_msg_index(om)));
        json_object_set_new(s, "x-kubernetes-group-version-kind",
                            json_pack("[o]", gvk_obj(group, version, kind)));
        json_object_set_new(b->schemas, name, s);
    }
    if (!json_object_get(b->schemas, name)) {
        json_t *props = json_object();
        json_object_set_new(props, "apiVersion", json_pack("{s:s}", "type", "string"));
        json_object_set_new(props, "kind", json_pack("{s:s}", "type", "string"));
        const vk_schema_msg_t *om = vk_schema_msg_by_name(META "ObjectMeta");
        if (om)
            json_object_set_new(props, "metadata", wrapped_ref(b, vk_schema_msg_index(om)));
        json_object_set_new(b->schemas, name,
                            json_pack("{s:s,s:o,s:b,s:[o]}", "type", "object", "properties", props,
                                      "x-kubernetes-preserve-unknown-fields", 1,
                                      "x-kubernetes-group-version-kind",
                                      gvk_obj(group, version, kind)));
    }
    json_t *r = ref_to(b, name);
    free(name);
    return r;
}

static json_t *meta_ref(bld_t *b, const char *name)
{
    char *full = vk_xasprintf(META "%s", name);
    const vk_schema_msg_t *m = vk_schema_msg_by_name(full);
    free(full);
    return m ? msg_ref(b, vk_schema_msg_index(m)) : json_object();
}

/* ---- paths ---- */

static json_t *param(bld_t *b, const char *name, const char *in, const char *type,
                     const char *doc)
{
    json_t *p = json_pack("{s:s,s:s,s:s}", "name", name, "in", in, "description", doc);
    if (!strcmp(in, "path"))
        json_object_set_new(p, "required", json_true());
    if (b->v3)
        json_object_set_new(p, "schema", json_pack("{s:s,s:b}", "type", type, "uniqueItems", 1));
    else {
        json_object_set_new(p, "type", json_string(type));
        json_object_set_new(p, "uniqueItems", json_true());
    }
    return p;
}

static const char *const DRYRUN_DOC =
    "When present, indicates that modifications should not be persisted. An invalid or "
    "unrecognized dryRun directive will result in an error response and no further processing "
    "of the request. Valid values are: - All: all dry run stages will be processed";
static const char *const FIELDMANAGER_DOC =
    "fieldManager is a name associated with the actor or entity that is making these changes.";
static const char *const FIELDVALIDATION_DOC =
    "fieldValidation instructs the server on how to handle objects in the request "
    "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: "
    "unknown fields are dropped silently. - Warn: a warning is returned for each unknown field. "
    "- Strict: the request fails with a BadRequest error on any unknown field.";

static void write_params(bld_t *b, json_t *params)
{
    json_array_append_new(params, param(b, "dryRun", "query", "string", DRYRUN_DOC));
    json_array_append_new(params, param(b, "fieldManager", "query", "string", FIELDMANAGER_DOC));
    json_array_append_new(params,
                          param(b, "fieldValidation", "query", "string", FIELDVALIDATION_DOC));
}

static void list_params(bld_t *b, json_t *params)
{
    static const char *const names[][2] = {
        {"allowWatchBookmarks", "boolean"}, {"continue", "string"},
        {"fieldSelector", "string"},        {"labelSelector", "string"},
        {"limit", "integer"},               {"resourceVersion", "string"},
        {"resourceVersionMatch", "string"}, {"sendInitialEvents", "boolean"},
        {"timeoutSeconds", "integer"},      {"watch", "boolean"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        json_array_append_new(params, param(b, names[i][0], "query", names[i][1], names[i][0]));
}

typedef enum { OP_LIST, OP_CREATE, OP_DELETECOLLECTION, OP_GET, OP_UPDATE, OP_PATCH, OP_DELETE } op_t;

static json_t *body_content(bld_t *b, json_t *schema, int patch, int smp)
{
    json_t *c = json_object();
    if (patch) {
        const char *types[] = {"application/apply-patch+yaml", "application/json-patch+json",
                               "application/merge-patch+json",
                               "application/strategic-merge-patch+json"};
        for (size_t i = 0; i < 4; i++) {
            if (i == 3 && !smp)
                break;
            json_object_set_new(c, types[i], json_pack("{s:O}", "schema", schema));
        }
    } else {
        json_object_set_new(c, "*/*", json_pack("{s:O}", "schema", schema));
    }
    json_decref(schema);
    return c;
}

static json_t *operation(bld_t *b, op_t op, const vk_openapi_resource_t *r, const char *sub,
                         const char *g, const char *v, const char *k, json_t *schema, int smp)
{
    static const char *const actions[] = {"list", "post", "deletecollection", "get",
                                          "put",  "patch", "delete"};
    static const char *const what[] = {"list or watch objects of kind",
                                       "create",
                                       "delete collection of",
                                       "read the specified",
                                       "replace the specified",
                                       "partially update the specified",
                                       "delete"};
    json_t *o = json_object();
    char *desc = vk_xasprintf("%s %s%s%s", what[op], k, sub ? " " : "", sub ? sub : "");
    json_object_set_new(o, "description", json_string(desc));
    free(desc);
    char *opid = vk_xasprintf("%s%s%s%s%s%s", actions[op], r->namespaced ? "Namespaced" : "", k,
                              sub ? "_" : "", sub ? sub : "", "");
    json_object_set_new(o, "operationId", json_string(opid));
    free(opid);
    json_t *params = json_array();
    switch (op) {
    case OP_LIST: list_params(b, params); break;
    case OP_CREATE:
    case OP_UPDATE: write_params(b, params); break;
    case OP_PATCH:
        write_params(b, params);
        json_array_append_new(params, param(b, "force", "query", "boolean",
                                            "Force is going to \"force\" Apply requests."));
        break;
    case OP_DELETE:
    case OP_DELETECOLLECTION:
        json_array_append_new(params, param(b, "dryRun", "query", "string", DRYRUN_DOC));
        json_array_append_new(params, param(b, "gracePeriodSeconds", "query", "integer",
                                            "The duration in seconds before the object should be "
                                            "deleted."));
        json_array_append_new(params, param(b, "propagationPolicy", "query", "string",
                                            "Whether and how garbage collection will be "
                                            "performed."));
        if (op == OP_DELETECOLLECTION)
            list_params(b, params);
        break;
    default: break;
    }
    json_t *resp_schema = json_incref(schema);
    if (op == OP_LIST || op == OP_DELETECOLLECTION) {
        /* Lists answer <Kind>List when known. */
        char *lk = vk_xasprintf("%sList", k);
        const vk_schema_msg_t *lm = vk_schema_kind(g, v, lk);
        free(lk);
        json_decref(resp_schema);
        resp_schema = lm ? msg_ref(b, vk_schema_msg_index(lm)) : json_incref(schema);
        if (op == OP_DELETECOLLECTION) {
            json_decref(resp_schema);
            resp_schema = meta_ref(b, "Status");
        }
    } else if (op == OP_DELETE) {
        json_decref(resp_schema);
        resp_schema = meta_ref(b, "Status");
    }
    if (b->v3) {
        if (op == OP_PATCH)
            json_object_set_new(o, "requestBody",
                                json_pack("{s:o,s:b}", "content",
                                          body_content(b, meta_ref(b, "Patch"), 1, smp),
                                          "required", 1));
        else if (op == OP_CREATE || op == OP_UPDATE)
            json_object_set_new(o, "requestBody",
                                json_pack("{s:o,s:b}", "content",
                                          body_content(b, json_incref(schema), 0, 0), "required",
                                          1));
        json_object_set_new(
            o, "responses",
            json_pack("{s:{s:s,s:{s:{s:o}}},s:{s:s}}", "200", "description", "OK", "content",
                      "application/json", "schema", resp_schema, "401", "description",
                      "Unauthorized"));
    } else {
        if (op == OP_PATCH) {
            json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:o}", "name", "body", "in",
                                                    "body", "required", 1, "schema",
                                                    meta_ref(b, "Patch")));
            json_t *consumes = json_pack("[s,s,s]", "application/json-patch+json",
                                         "application/merge-patch+json",
                                         "application/apply-patch+yaml");
            if (smp)
                json_array_append_new(consumes,
                                      json_string("application/strategic-merge-patch+json"));
            json_object_set_new(o, "consumes", consumes);
        } else if (op == OP_CREATE || op == OP_UPDATE) {
            json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:O}", "name", "body", "in",
                                                    "body", "required", 1, "schema", schema));
        }
        json_object_set_new(o, "responses",
                            json_pack("{s:{s:s,s:o},s:{s:s}}", "200", "description", "OK",
                                      "schema", resp_schema, "401", "description",
                                      "Unauthorized"));
        json_object_set_new(o, "produces", json_pack("[s]", "application/json"));
    }
    json_object_set_new(o, "parameters", params);
    json_object_set_new(o, "x-kubernetes-action", json_string(actions[op]));
    json_object_set_new(o, "x-kubernetes-group-version-kind", gvk_obj(g, v, k));
    json_decref(schema);
    return o;
}

static int has_verb(const vk_openapi_resource_t *r, const char *verb)
{
    for (const char *const *v = r->verbs; v && *v; v++)
        if (!strcmp(*v, verb))
            return 1;
    return 0;
}

static json_t *path_item(bld_t *b, json_t *paths, const char *path, int with_name, int with_ns)
{
    json_t *item = json_object_get(paths, path);
    if (item)
        return item;
    item = json_object();
    json_t *params = json_array();
    if (with_name)
        json_array_append_new(params, param(b, "name", "path", "string", "name of the resource"));
    if (with_ns)
        json_array_append_new(params, param(b, "namespace", "path", "string",
                                            "object name and auth scope, such as for teams and "
                                            "projects"));
    json_array_append_new(params, param(b, "pretty", "query", "string",
                                        "If 'true', then the output is pretty printed."));
    json_object_set_new(item, "parameters", params);
    json_object_set_new(paths, path, item);
    return item;
}

static void add_resource_paths(bld_t *b, json_t *paths, const vk_openapi_resource_t *r,
                               const json_t *schema)
{
    char *base = r->group[0] ? vk_xasprintf("/apis/%s/%s", r->group, r->version)
                             : vk_xasprintf("/api/%s", r->version);
    char *coll = r->namespaced ? vk_xasprintf("%s/namespaces/{namespace}/%s", base, r->plural)
                               : vk_xasprintf("%s/%s", base, r->plural);
    char *item = vk_xasprintf("%s/{name}", coll);
    const char *g = r->group, *v = r->version, *k = r->kind;
    int smp = vk_schema_kind(g, v, k) != NULL;
    json_t *pi;
#define KREF() kind_ref(b, g, v, k, schema)
    if (has_verb(r, "list") || has_verb(r, "create") || has_verb(r, "deletecollection")) {
        pi = path_item(b, paths, coll, 0, r->namespaced);
        if (has_verb(r, "list"))
            json_object_set_new(pi, "get", operation(b, OP_LIST, r, NULL, g, v, k, KREF(), smp));
        if (has_verb(r, "create"))
            json_object_set_new(pi, "post", operation(b, OP_CREATE, r, NULL, g, v, k, KREF(), smp));
        if (has_verb(r, "deletecollection"))
            json_object_set_new(pi, "delete",
                                operation(b, OP_DELETECOLLECTION, r, NULL, g, v, k, KREF(), smp));
    }
    if (has_verb(r, "get") || has_verb(r, "update") || has_verb(r, "patch") ||
        has_verb(r, "delete")) {
        pi = path_item(b, paths, item, 1, r->namespaced);
        if (has_verb(r, "get"))
            json_object_set_new(pi, "get", operation(b, OP_GET, r, NULL, g, v, k, KREF(), smp));
        if (has_verb(r, "update"))
            json_object_set_new(pi, "put", operation(b, OP_UPDATE, r, NULL, g, v, k, KREF(), smp));
        if (has_verb(r, "patch"))
            json_object_set_new(pi, "patch", operation(b, OP_PATCH, r, NULL, g, v, k, KREF(), smp));
        if (has_verb(r, "delete"))
            json_object_set_new(pi, "delete",
                                operation(b, OP_DELETE, r, NULL, g, v, k, KREF(), smp));
    }
    if (r->namespaced && has_verb(r, "list")) {
        char *all = vk_xasprintf("%s/%s", base, r->plural);
        pi = path_item(b, paths, all, 0, 0);
        json_object_set_new(pi, "get", operation(b, OP_LIST, r, NULL, g, v, k, KREF(), smp));
        free(all);
    }
    if (r->has_status) {
        char *st = vk_xasprintf("%s/status", item);
        pi = path_item(b, paths, st, 1, r->namespaced);
        json_object_set_new(pi, "get", operation(b, OP_GET, r, "status", g, v, k, KREF(), smp));
        json_object_set_new(pi, "put", operation(b, OP_UPDATE, r, "status", g, v, k, KREF(), smp));
        json_object_set_new(pi, "patch", operation(b, OP_PATCH, r, "status", g, v, k, KREF(), smp));
        free(st);
    }
    if (r->has_scale) {
        char *sc = vk_xasprintf("%s/scale", item);
        pi = path_item(b, paths, sc, 1, r->namespaced);
        const char *sg = "autoscaling", *sv = "v1", *sk = "Scale";
#define SREF() kind_ref(b, sg, sv, sk, NULL)
        json_object_set_new(pi, "get", operation(b, OP_GET, r, "scale", sg, sv, sk, SREF(), 1));
        json_object_set_new(pi, "put", operation(b, OP_UPDATE, r, "scale", sg, sv, sk, SREF(), 1));
        json_object_set_new(pi, "patch", operation(b, OP_PATCH, r, "scale", sg, sv, sk, SREF(), 1));
#undef SREF
        free(sc);
    }
#undef KREF
    free(item);
    free(coll);
    free(base);
}

/* schemas: per row, a custom resource schema or NULL; may be NULL. */
static json_t *build(const vk_openapi_resource_t *res, size_t n, json_t *const *schemas,
                     const char *group, const char *version, const char *kube_version, int v3)
{
    bld_t b = {0};
    b.v3 = v3;
    b.refprefix = v3 ? "#/components/schemas/" : "#/definitions/";
    b.schemas = json_object();
    b.queued = vk_xcalloc(vk_schema_gen_nmsgs, 1);
    b.work = vk_xcalloc(vk_schema_gen_nmsgs, sizeof *b.work);
    b.group = group;
    b.version = version;
    json_t *paths = json_object();
    for (size_t i = 0; i < n; i++) {
        if (group && (strcmp(res[i].group, group) || strcmp(res[i].version, version)))
            continue;
        add_resource_paths(&b, paths, &res[i], schemas ? schemas[i] : NULL);
    }
    /* Commonly referenced meta types. */
    json_decref(meta_ref(&b, "DeleteOptions"));
    json_decref(meta_ref(&b, "Status"));
    json_decref(meta_ref(&b, "WatchEvent"));
    drain(&b);
    json_t *doc;
    json_t *info = json_pack("{s:s,s:s}", "title", "Kubernetes", "version",
                             kube_version ? kube_version : "unversioned");
    if (v3)
        doc = json_pack("{s:s,s:o,s:o,s:{s:o,s:{s:{s:s,s:s,s:s}}}}", "openapi", "3.0.0", "info",
                        info, "paths", paths, "components", "schemas", b.schemas,
                        "securitySchemes", "BearerToken", "type", "apiKey", "name",
                        "authorization", "in", "header");
    else
        doc = json_pack("{s:s,s:o,s:o,s:o,s:{s:{s:s,s:s,s:s}},s:[{s:[]}]}", "swagger", "2.0",
                        "info", info, "paths", paths, "definitions", b.schemas,
                        "securityDefinitions", "BearerToken", "type", "apiKey", "name",
                        "authorization", "in", "header", "security", "BearerToken");
    free(b.queued);
    free(b.work);
    return doc;
}

json_t *vk_openapi_v3_gv(const vk_openapi_resource_t *res, size_t n, const char *group,
                         const char *version, const char *kube_version)
{
    return build(res, n, NULL, group ? group : "", version, kube_version, 1);
}

json_t *vk_openapi_v2(const vk_openapi_resource_t *res, size_t n, const char *kube_version)
{
    return build(res, n, NULL, NULL, NULL, kube_version, 0);
}


/* ---- v2 in the gnostic protobuf encoding (openapi_v2.Document) ----
 * Field numbers are those of gnostic's OpenAPIv2.proto (wire format facts).
 * Vendor extensions carry their value as YAML text; JSON is valid YAML. */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} pbuf_t;

static void pb_raw(pbuf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = vk_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void pb_varint(pbuf_t *b, uint64_t v)
{
    uint8_t t[10];
    size_t n = 0;
    do {
        t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_raw(b, t, n);
}

static void pb_bytes(pbuf_t *b, unsigned field, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, d, n);
}

static void pb_str(pbuf_t *b, unsigned field, const char *s)
{
    if (s && *s)
        pb_bytes(b, field, s, strlen(s));
}

static void pb_bool(pbuf_t *b, unsigned field, int v)
{
    if (v) {
        pb_varint(b, (uint64_t)field << 3);
        pb_varint(b, 1);
    }
}

/* Appends child as a length-delimited field and frees it. */
static void pb_msg(pbuf_t *b, unsigned field, pbuf_t *child)
{
    pb_bytes(b, field, child->p ? child->p : (uint8_t *)"", child->len);
    free(child->p);
    *child = (pbuf_t){0};
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* NamedAny {name, Any {yaml}} for every "x-" key of o. */
static void pb_vendor(pbuf_t *b, unsigned field, json_t *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (strncmp(k, "x-", 2))
            continue;
        char *yaml = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        pbuf_t any = {0}, named = {0};
        pb_str(&any, 2, yaml);
        pb_str(&named, 1, k);
        pb_msg(&named, 2, &any);
        pb_msg(b, field, &named);
        free(yaml);
    }
}

static void pb_schema(pbuf_t *b, json_t *s, int depth);

static void pb_named_schemas(pbuf_t *b, unsigned field, json_t *obj, int depth)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        pbuf_t named = {0}, sch = {0};
        pb_str(&named, 1, k);
        pb_schema(&sch, v, depth + 1);
        pb_msg(&named, 2, &sch);
        pb_msg(b, field, &named);
    }
}

static void pb_schema(pbuf_t *b, json_t *s, int depth)
{
    if (depth > 64)
        return;
    pb_str(b, 1, jstr(s, "$ref"));
    pb_str(b, 2, jstr(s, "format"));
    pb_str(b, 4, jstr(s, "description"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(s, "required"), i, v) pb_str(b, 19, json_string_value(v));
    json_t *ap = json_object_get(s, "additionalProperties");
    if (ap) {
        pbuf_t item = {0};
        if (json_is_object(ap)) {
            pbuf_t sch = {0};
            pb_schema(&sch, ap, depth + 1);
            pb_msg(&item, 1, &sch);
        } else {
            pb_bool(&item, 2, json_is_true(ap));
        }
        pb_msg(b, 21, &item);
    }
    if (jstr(s, "type")) {
        pbuf_t t = {0};
        pb_str(&t, 1, jstr(s, "type"));
        pb_msg(b, 22, &t);
    }
    json_t *items = json_object_get(s, "items");
    if (json_is_object(items)) {
        pbuf_t it = {0}, sch = {0};
        pb_schema(&sch, items, depth + 1);
        pb_msg(&it, 1, &sch);
        pb_msg(b, 23, &it);
    }
    json_array_foreach(json_object_get(s, "allOf"), i, v)
    {
        pbuf_t sch = {0};
        pb_schema(&sch, v, depth + 1);
        pb_msg(b, 24, &sch);
    }
    json_t *props = json_object_get(s, "properties");
    if (json_is_object(props)) {
        pbuf_t p = {0};
        pb_named_schemas(&p, 1, props, depth);
        pb_msg(b, 25, &p);
    }
    pb_vendor(b, 31, s);
}

static void pb_parameter(pbuf_t *b, unsigned field, json_t *p)
{
    pbuf_t param = {0}, item = {0};
    const char *in = jstr(p, "in");
    if (in && !strcmp(in, "body")) {
        pbuf_t body = {0}, sch = {0};
        pb_str(&body, 1, jstr(p, "description"));
        pb_str(&body, 2, jstr(p, "name"));
        pb_str(&body, 3, in);
        pb_bool(&body, 4, json_is_true(json_object_get(p, "required")));
        pb_schema(&sch, json_object_get(p, "schema"), 0);
        pb_msg(&body, 5, &sch);
        pb_msg(&param, 1, &body);
    } else {
        int path = in && !strcmp(in, "path");
        pbuf_t sub = {0}, nb = {0};
        pb_bool(&sub, 1, json_is_true(json_object_get(p, "required")));
        pb_str(&sub, 2, in);
        pb_str(&sub, 3, jstr(p, "description"));
        pb_str(&sub, 4, jstr(p, "name"));
        pb_str(&sub, path ? 5 : 6, jstr(p, "type"));
        pb_bool(&sub, path ? 19 : 20, json_is_true(json_object_get(p, "uniqueItems")));
        pb_msg(&nb, path ? 4 : 3, &sub);
        pb_msg(&param, 2, &nb);
    }
    pb_msg(&item, 1, &param);
    pb_msg(b, field, &item);
}

static void pb_parameters(pbuf_t *b, unsigned field, json_t *arr)
{
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p) pb_parameter(b, field, p);
}

static void pb_strings(pbuf_t *b, unsigned field, json_t *arr)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) pb_str(b, field, json_string_value(v));
}

static void pb_operation(pbuf_t *b, json_t *op)
{
    pb_str(b, 3, jstr(op, "description"));
    pb_str(b, 5, jstr(op, "operationId"));
    pb_strings(b, 6, json_object_get(op, "produces"));
    pb_strings(b, 7, json_object_get(op, "consumes"));
    pb_parameters(b, 8, json_object_get(op, "parameters"));
    json_t *resps = json_object_get(op, "responses");
    if (resps) {
        pbuf_t rs = {0};
        const char *code;
        json_t *r;
        json_object_foreach(resps, code, r) {
            pbuf_t named = {0}, value = {0}, resp = {0};
            pb_str(&named, 1, code);
            pb_str(&resp, 1, jstr(r, "description"));
            json_t *sch = json_object_get(r, "schema");
            if (sch) {
                pbuf_t si = {0}, s = {0};
                pb_schema(&s, sch, 0);
                pb_msg(&si, 1, &s);
                pb_msg(&resp, 2, &si);
            }
            pb_msg(&value, 1, &resp);
            pb_msg(&named, 2, &value);
            pb_msg(&rs, 1, &named);
        }
        pb_msg(b, 9, &rs);
    }
    pb_vendor(b, 13, op);
}

/* The v2 JSON document in gnostic's protobuf encoding. Caller frees *out. */
static void v2_to_protobuf(json_t *doc, uint8_t **out, size_t *len)
{
    pbuf_t b = {0};
    pb_str(&b, 1, jstr(doc, "swagger"));
    json_t *info = json_object_get(doc, "info");
    pbuf_t ib = {0};
    pb_str(&ib, 1, jstr(info, "title"));
    pb_str(&ib, 2, jstr(info, "version"));
    pb_msg(&b, 2, &ib);
    pbuf_t paths = {0};
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        static const struct {
            const char *name;
            unsigned field;
        } methods[] = {{"get", 2}, {"put", 3}, {"post", 4}, {"delete", 5}, {"patch", 8}};
        pbuf_t named = {0}, pi = {0};
        pb_str(&named, 1, path);
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            json_t *op = json_object_get(item, methods[m].name);
            if (!op)
                continue;
            pbuf_t ob = {0};
            pb_operation(&ob, op);
            pb_msg(&pi, methods[m].field, &ob);
        }
        pb_parameters(&pi, 9, json_object_get(item, "parameters"));
        pb_msg(&named, 2, &pi);
        pb_msg(&paths, 2, &named);
    }
    pb_msg(&b, 8, &paths);
    pbuf_t defs = {0};
    pb_named_schemas(&defs, 1, json_object_get(doc, "definitions"), 0);
    pb_msg(&b, 9, &defs);
    *out = b.p ? b.p : vk_xmalloc(1);
    *len = b.len;
}

/* ---- cache ---- */

static void sha512_hex(const char *data, size_t len, char out[129])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha512(), NULL);
    for (unsigned i = 0; i < mdlen && i < 64; i++)
        snprintf(out + 2 * i, 3, "%02X", md[i]);
    out[128] = 0;
}

/* A hash of everything a group-version document is built from. */
static void gv_hash(const vk_openapi_t *o, const char *group, const char *version, char out[129])
{
    size_t cap = 256 + strlen(o->kube_version), len = 0;
    char *buf = vk_xmalloc(cap);
    /* OPENAPI_FORMAT: bump when this file changes what the documents contain,
     * so clients caching documents by their hash URL refetch them. */
    len = (size_t)snprintf(buf, cap, "%d|%s|%s|", OPENAPI_FORMAT, o->kube_version,
                           vk_schema_gen_digest);
    for (size_t i = 0; i < o->nres; i++) {
        const res_t *r = &o->res[i];
        if (group && (strcmp(r->group, group) || strcmp(r->version, version)))
            continue;
        char *line = vk_xasprintf("%s/%s/%s/%s/%d%d%d:", r->group, r->version, r->kind, r->plural,
                                  r->namespaced, r->has_status, r->has_scale);
        size_t ll = strlen(line);
        for (char **v = r->verbs; *v; v++) {
            char *l2 = vk_xasprintf("%s%s,", line, *v);
            free(line);
            line = l2;
        }
        if (o->schemas[i]) {
            char *js = json_dumps(o->schemas[i], JSON_COMPACT | JSON_SORT_KEYS);
            char *l2 = vk_xasprintf("%s%s", line, js ? js : "");
            free(js);
            free(line);
            line = l2;
        }
        ll = strlen(line);
        if (len + ll + 1 > cap) {
            cap = (len + ll + 1) * 2;
            buf = vk_xrealloc(buf, cap);
        }
        memcpy(buf + len, line, ll);
        len += ll;
        free(line);
    }
    sha512_hex(buf, len, out);
    free(buf);
}

vk_openapi_t *vk_openapi_new(const vk_openapi_resource_t *res, size_t n, const char *kube_version)
{
    vk_openapi_t *o = vk_xcalloc(1, sizeof *o);
    o->kube_version = vk_xstrdup(kube_version ? kube_version : "unversioned");
    o->res = vk_xcalloc(n ? n : 1, sizeof *o->res);
    o->views = vk_xcalloc(n ? n : 1, sizeof *o->views);
    o->schemas = vk_xcalloc(n ? n : 1, sizeof *o->schemas);
    o->nres = n;
    o->docs = vk_xcalloc(n + 2, sizeof *o->docs);
    /* docs[0] = index, docs[1] = v2, then one per group version. */
    o->docs[0].path = vk_xstrdup("/openapi/v3");
    o->docs[0].kind = 0;
    o->docs[1].path = vk_xstrdup("/openapi/v2");
    o->docs[1].kind = 2;
    o->ndocs = 2;
    for (size_t i = 0; i < n; i++) {
        res_t *r = &o->res[i];
        r->group = vk_xstrdup(res[i].group ? res[i].group : "");
        r->version = vk_xstrdup(res[i].version);
        r->kind = vk_xstrdup(res[i].kind);
        r->plural = vk_xstrdup(res[i].plural);
        r->namespaced = res[i].namespaced;
        r->has_status = res[i].has_status;
        r->has_scale = res[i].has_scale;
        size_t nv = 0;
        while (res[i].verbs && res[i].verbs[nv])
            nv++;
        r->verbs = vk_xcalloc(nv + 1, sizeof *r->verbs);
        for (size_t k = 0; k < nv; k++)
            r->verbs[k] = vk_xstrdup(res[i].verbs[k]);
        o->views[i] = (vk_openapi_resource_t){r->group, r->version, r->kind, r->plural,
                                              r->namespaced, (const char *const *)r->verbs,
                                              r->has_status, r->has_scale};
        char *path = r->group[0] ? vk_xasprintf("/openapi/v3/apis/%s/%s", r->group, r->version)
                                 : vk_xasprintf("/openapi/v3/api/%s", r->version);
        size_t d;
        for (d = 2; d < o->ndocs; d++)
            if (!strcmp(o->docs[d].path, path))
                break;
        if (d < o->ndocs) {
            free(path);
            continue;
        }
        doc_t *doc = &o->docs[o->ndocs++];
        doc->path = path;
        doc->group = r->group;
        doc->version = r->version;
        doc->kind = 1;
    }
    for (size_t d = 2; d < o->ndocs; d++)
        gv_hash(o, o->docs[d].group, o->docs[d].version, o->docs[d].etag);
    gv_hash(o, NULL, NULL, o->docs[1].etag);
    return o;
}

vk_openapi_t *vk_openapi_new_from_resources(const vk_resources_t *t, const char *kube_version)
{
    static const char *const verb_names[VK_VERB_COUNT] = {
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
    size_t n = vk_resources_count(t);
    vk_openapi_resource_t *rs = vk_xcalloc(n ? n : 1, sizeof *rs);
    const char **verbs = vk_xcalloc((n ? n : 1) * (VK_VERB_COUNT + 1), sizeof *verbs);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        const char **v = verbs + i * (VK_VERB_COUNT + 1);
        size_t k = 0;
        for (int b = 0; b < VK_VERB_COUNT; b++)
            if (r->verbs & (1u << b))
                v[k++] = verb_names[b];
        rs[i] = (vk_openapi_resource_t){r->group, r->version, r->kind, r->plural,
                                        (r->flags & VK_RES_NAMESPACED) != 0, v,
                                        (r->flags & VK_RES_STATUS) != 0,
                                        (r->flags & VK_RES_SCALE) != 0};
    }
    vk_openapi_t *o = vk_openapi_new(rs, n, kube_version);
    free(verbs);
    free(rs);
    return o;
}

void vk_openapi_free(vk_openapi_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->ndocs; i++) {
        free(o->docs[i].path);
        free(o->docs[i].body);
    }
    for (size_t i = 0; i < o->nres; i++) {
        free(o->res[i].group);
        free(o->res[i].version);
        free(o->res[i].kind);
        free(o->res[i].plural);
        for (char **v = o->res[i].verbs; *v; v++)
            free(*v);
        free(o->res[i].verbs);
        json_decref(o->schemas[i]);
    }
    free(o->schemas);
    free(o->res);
    free(o->views);
    free(o->docs);
    free(o->v2pb);
    free(o->kube_version);
    free(o);
}

static void set_body(doc_t *d, json_t *doc)
{
    d->body = json_dumps(doc, JSON_COMPACT);
    d->len = d->body ? strlen(d->body) : 0;
    json_decref(doc);
}

int vk_openapi_get(vk_openapi_t *o, const char *path, const char **body, size_t *len,
                   const char **etag)
{
    doc_t *d = NULL;
    for (size_t i = 0; i < o->ndocs && !d; i++)
        if (!strcmp(o->docs[i].path, path))
            d = &o->docs[i];
    if (!d)
        return VK_ENOTFOUND;
    if (!d->body) {
        if (d->kind == 0) {
            json_t *paths = json_object();
            for (size_t i = 2; i < o->ndocs; i++) {
                char *url = vk_xasprintf("%s?hash=%s", o->docs[i].path, o->docs[i].etag);
                json_object_set_new(paths, o->docs[i].path + strlen("/openapi/v3/"),
                                    json_pack("{s:s}", "serverRelativeURL", url));
                free(url);
            }
            char *all = json_dumps(paths, JSON_COMPACT | JSON_SORT_KEYS);
            sha512_hex(all ? all : "", all ? strlen(all) : 0, d->etag);
            free(all);
            set_body(d, json_pack("{s:o}", "paths", paths));
        } else if (d->kind == 1) {
            set_body(d, build(o->views, o->nres, o->schemas, d->group, d->version,
                              o->kube_version, 1));
        } else {
            set_body(d, build(o->views, o->nres, o->schemas, NULL, NULL, o->kube_version, 0));
        }
        if (!d->body)
            return VK_EINTERNAL;
    }
    *body = d->body;
    *len = d->len;
    if (etag)
        *etag = d->etag;
    return 0;
}

int vk_openapi_get_v2_protobuf(vk_openapi_t *o, const char **body, size_t *len, const char **etag)
{
    if (!o->v2pb) {
        json_t *doc = build(o->views, o->nres, o->schemas, NULL, NULL, o->kube_version, 0);
        v2_to_protobuf(doc, &o->v2pb, &o->v2pb_len);
        json_decref(doc);
    }
    *body = (const char *)o->v2pb;
    *len = o->v2pb_len;
    if (etag)
        *etag = o->docs[1].etag;
    return 0;
}

int vk_openapi_set_schema(vk_openapi_t *o, const char *group, const char *version,
                          const char *kind, const json_t *schema)
{
    int found = 0;
    for (size_t i = 0; i < o->nres; i++) {
        res_t *r = &o->res[i];
        if (strcmp(r->group, group) || strcmp(r->version, version) || strcmp(r->kind, kind))
            continue;
        json_decref(o->schemas[i]);
        o->schemas[i] = schema ? json_deep_copy(schema) : NULL;
        found = 1;
    }
    if (!found)
        return VK_ENOTFOUND;
    /* The group version's document, the index (its hash) and v2 change. */
    for (size_t d = 0; d < o->ndocs; d++) {
        doc_t *doc = &o->docs[d];
        if (doc->kind == 1 && (strcmp(doc->group, group) || strcmp(doc->version, version)))
            continue;
        free(doc->body);
        doc->body = NULL;
        if (doc->kind == 1)
            gv_hash(o, doc->group, doc->version, doc->etag);
    }
    gv_hash(o, NULL, NULL, o->docs[1].etag);
    free(o->v2pb);
    o->v2pb = NULL;
    return 0;
}
