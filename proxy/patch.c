/* patch: JSON patch, merge patch and strategic merge patch (see patch.h).
 * Behaviour and error texts follow gopkg.in/evanphx/json-patch.v4 and
 * k8s.io/apimachinery/pkg/util/strategicpatch as kube-apiserver runs them. */
#include "proxy/patch.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/err.h"
#include "common/mem.h"
#include "common/strbuf.h"
#include "proxy/schema.h"

#define MAX_JSON_PATCH_OPS 10000
#define MAX_DEPTH 128

static void set_err(char **err, char *msg) {
    if (err)
        *err = msg;
    else
        free(msg);
}

vk_patch_type_t vk_patch_type_from_content_type(const char *ct) {
    if (!ct)
        return VK_PATCH_NONE;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const struct {
        const char *name;
        vk_patch_type_t t;
    } tab[] = {
        {"application/json-patch+json", VK_PATCH_JSON},
        {"application/merge-patch+json", VK_PATCH_MERGE},
        {"application/strategic-merge-patch+json", VK_PATCH_STRATEGIC},
        {"application/apply-patch+yaml", VK_PATCH_APPLY},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (strlen(tab[i].name) == n && strncasecmp(ct, tab[i].name, n) == 0)
            return tab[i].t;
    return VK_PATCH_NONE;
}

/* ---- schema adapter -------------------------------------------------------- */

int vk_patch_schema_builtin(void *ctx, const char *const *path, size_t depth,
                            vk_patch_field_t *out) {
    const vk_patch_kind_t *k = ctx;
    memset(out, 0, sizeof *out);
    vk_schema_field_info_t info;
    int rc = vk_schema_path_info(k->group, k->version, k->kind, path, depth, &info);
    if (rc != 0)
        return VK_ENOTFOUND;
    const char *s = info.patch_strategy;
    while (s && *s) {
        size_t n = strcspn(s, ",");
        if (n == 5 && strncmp(s, "merge", 5) == 0)
            out->strategy |= VK_PATCH_STRATEGY_MERGE;
        else if (n == 10 && strncmp(s, "retainKeys", 10) == 0)
            out->strategy |= VK_PATCH_STRATEGY_RETAIN_KEYS;
        else if (n == 7 && strncmp(s, "replace", 7) == 0)
            out->strategy |= VK_PATCH_STRATEGY_REPLACE;
        s += n;
        if (*s == ',')
            s++;
    }
    out->merge_key = info.patch_merge_key;
    if (info.list_type) {
        if (strcmp(info.list_type, "map") == 0)
            out->list_type = VK_PATCH_LIST_MAP;
        else if (strcmp(info.list_type, "set") == 0)
            out->list_type = VK_PATCH_LIST_SET;
        else if (strcmp(info.list_type, "atomic") == 0)
            out->list_type = VK_PATCH_LIST_ATOMIC;
    }
    out->list_map_keys = info.list_map_keys;
    out->is_map = info.is_map;
    /* +mapType=atomic maps of the built-in kinds: PodSpec.nodeSelector,
     * ServiceSpec.selector, ReplicationControllerSpec.selector, RuntimeClass
     * scheduling.nodeSelector. */
    if (info.is_map && depth > 0 &&
        (strcmp(path[depth - 1], "nodeSelector") == 0 || strcmp(path[depth - 1], "selector") == 0))
        out->atomic = 1;
    if (info.msg && !info.is_list && !info.is_map) {
        /* +structType=atomic messages (k8s.io/api and meta/v1 markers) */
        static const char *const atomic_structs[] = {
            "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
            "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
            "io.k8s.api.core.v1.ConfigMapKeySelector",
            "io.k8s.api.core.v1.EndpointAddress",
            "io.k8s.api.core.v1.EndpointPort",
            "io.k8s.api.core.v1.FileKeySelector",
            "io.k8s.api.core.v1.LocalObjectReference",
            "io.k8s.api.core.v1.NodeSelector",
            "io.k8s.api.core.v1.NodeSelectorTerm",
            "io.k8s.api.core.v1.ObjectFieldSelector",
            "io.k8s.api.core.v1.ObjectReference",
            "io.k8s.api.core.v1.ResourceFieldSelector",
            "io.k8s.api.core.v1.ScopeSelector",
            "io.k8s.api.core.v1.SecretKeySelector",
            "io.k8s.api.core.v1.SecretReference",
            "io.k8s.api.core.v1.TopologySelectorTerm",
            "io.k8s.api.core.v1.TypedLocalObjectReference",
            "io.k8s.api.autoscaling.v1.CrossVersionObjectReference",
            "io.k8s.api.discovery.v1.EndpointPort",
            "io.k8s.api.networking.v1.ServiceBackendPort",
            "io.k8s.api.rbac.v1.RoleRef",
            "io.k8s.api.rbac.v1.Subject",
            "io.k8s.api.admissionregistration.v1.MatchResources",
            "io.k8s.api.admissionregistration.v1.NamedRuleWithOperations",
            "io.k8s.api.admissionregistration.v1.ParamKind",
            "io.k8s.api.admissionregistration.v1.ParamRef",
            "io.k8s.api.admissionregistration.v1.Variable",
            NULL,
        };
        for (size_t i = 0; atomic_structs[i]; i++)
            if (info.msg->name && strcmp(info.msg->name, atomic_structs[i]) == 0)
                out->atomic = 1;
    }
    if (info.field) {
        unsigned fl = info.field->flags;
        out->zero_present =
            !(fl & VK_SF_OMITEMPTY) ||
            (info.field->type == VK_SF_MESSAGE && !(fl & (VK_SF_POINTER | VK_SF_REPEATED | VK_SF_MAP)));
    }
    out->is_list = info.is_list;
    out->primitive_list = info.is_list && info.msg == NULL;
    return 0;
}

int vk_patch_schema_openapi(void *ctx, const char *const *path, size_t depth,
                            vk_patch_field_t *out) {
    const vk_patch_openapi_t *o = ctx;
    memset(out, 0, sizeof *out);
    const json_t *node = o->schema;
    for (size_t i = 0; i < depth && node; i++) {
        /* list fields: the next element names a field of the items */
        while (json_is_object(node) && json_is_string(json_object_get(node, "type")) &&
               strcmp(json_string_value(json_object_get(node, "type")), "array") == 0)
            node = json_object_get(node, "items");
        if (!json_is_object(node))
            return VK_ENOTFOUND;
        node = json_object_get(json_object_get(node, "properties"), path[i]);
    }
    if (!json_is_object(node))
        return VK_ENOTFOUND;
    const char *type = json_string_value(json_object_get(node, "type"));
    if (type && strcmp(type, "array") == 0) {
        out->is_list = 1;
        const char *lt = json_string_value(json_object_get(node, "x-kubernetes-list-type"));
        out->list_type = !lt                       ? VK_PATCH_LIST_ATOMIC
                         : strcmp(lt, "map") == 0 ? VK_PATCH_LIST_MAP
                         : strcmp(lt, "set") == 0 ? VK_PATCH_LIST_SET
                                                  : VK_PATCH_LIST_ATOMIC;
        json_t *keys = json_object_get(node, "x-kubernetes-list-map-keys");
        size_t len = 0;
        for (size_t i = 0; i < json_array_size(keys); i++)
            len += json_string_length(json_array_get(keys, i)) + 1;
        if (len && o->pool) {
            char *joined = vk_pool_alloc(o->pool, len + 1), *w = joined;
            for (size_t i = 0; i < json_array_size(keys); i++) {
                const char *k = json_string_value(json_array_get(keys, i));
                if (!k)
                    continue;
                if (w != joined)
                    *w++ = ',';
                size_t n = strlen(k);
                memcpy(w, k, n);
                w += n;
            }
            *w = 0;
            out->list_map_keys = joined;
        }
        const char *it = json_string_value(json_object_get(json_object_get(node, "items"), "type"));
        out->primitive_list = !it || (strcmp(it, "object") != 0 && strcmp(it, "array") != 0);
    } else if (type && strcmp(type, "object") == 0) {
        json_t *ap = json_object_get(node, "additionalProperties");
        out->is_map = !json_object_get(node, "properties") && json_is_object(ap);
        const char *mt = json_string_value(json_object_get(node, "x-kubernetes-map-type"));
        out->atomic = mt && strcmp(mt, "atomic") == 0;
    }
    return 0;
}

/* ---- shared helpers -------------------------------------------------------- */

/* json-patch's test equality: structural for objects and arrays; scalars by
 * their text, so 1 and 1.0 differ (jansson's integer/real types do that). */
static bool json_same(const json_t *a, const json_t *b) {
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (!w || !json_same(v, w))
                return false;
        }
        return true;
    }
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}


static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Formats v as Go's %v of the decoded interface{} (maps with sorted keys). */
static void go_fmt(vk_strbuf_t *b, const json_t *v, int depth) {
    char tmp[64];
    if (depth > 32) {
        vk_strbuf_puts(b, "...");
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = vk_xcalloc(n ? n : 1, sizeof *keys);
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) keys[i++] = k;
        qsort(keys, n, sizeof *keys, cmp_cstr);
        vk_strbuf_puts(b, "map[");
        for (i = 0; i < n; i++) {
            if (i)
                vk_strbuf_puts(b, " ");
            vk_strbuf_puts(b, keys[i]);
            vk_strbuf_puts(b, ":");
            go_fmt(b, json_object_get(v, keys[i]), depth + 1);
        }
        vk_strbuf_puts(b, "]");
        free(keys);
        break;
    }
    case JSON_ARRAY:
        vk_strbuf_puts(b, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                vk_strbuf_puts(b, " ");
            go_fmt(b, json_array_get(v, i), depth + 1);
        }
        vk_strbuf_puts(b, "]");
        break;
    case JSON_STRING: vk_strbuf_put(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER:
        snprintf(tmp, sizeof tmp, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        vk_strbuf_puts(b, tmp);
        break;
    case JSON_REAL:
        snprintf(tmp, sizeof tmp, "%g", json_real_value(v));
        vk_strbuf_puts(b, tmp);
        break;
    case JSON_TRUE: vk_strbuf_puts(b, "true"); break;
    case JSON_FALSE: vk_strbuf_puts(b, "false"); break;
    case JSON_NULL: vk_strbuf_puts(b, "<nil>"); break;
    }
}

static const char *go_type(const json_t *v) {
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: return "map[string]interface {}";
    case JSON_ARRAY: return "[]interface {}";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "int64";
    case JSON_REAL: return "float64";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    default: return "%!s(<nil>)";
    }
}

/* Go-style quoting of a string ("x" with \" and \\ escaped). */
static void sb_quote(vk_strbuf_t *b, const char *s) {
    vk_strbuf_puts(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            vk_strbuf_put(b, "\\", 1);
        vk_strbuf_put(b, s, 1);
    }
    vk_strbuf_puts(b, "\"");
}

/* strconv.Atoi with its error text (caller frees *msg). */
static bool go_atoi(const char *s, long long *out, char **msg) {
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    bool ok = *p != 0;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            ok = false;
    vk_strbuf_t b = {0};
    vk_strbuf_puts(&b, "strconv.Atoi: parsing ");
    sb_quote(&b, s);
    if (!ok) {
        vk_strbuf_puts(&b, ": invalid syntax");
        *msg = b.p;
        return false;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        vk_strbuf_puts(&b, ": value out of range");
        *msg = b.p;
        return false;
    }
    free(b.p);
    *out = v;
    return true;
}

/* ---- JSON patch (RFC 6902) --------------------------------------------- */

typedef struct {
    json_t *root; /* the document being patched (owned) */
    char *err;
} jp_t;

/* RFC 6901 unescaping: "~1" -> "/", "~0" -> "~", in one pass. */
static char *decode_key(const char *s, size_t n) {
    char *out = vk_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~' && i + 1 < n && s[i + 1] == '1') {
            *o++ = '/';
            i++;
        } else if (s[i] == '~' && i + 1 < n && s[i + 1] == '0') {
            *o++ = '~';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

/* Array index for get/replace/remove (negative counts from the end). NULL
 * error means ok; otherwise the inner error (caller frees). */
static char *array_index(json_t *a, const char *key, size_t extra, size_t *idx) {
    long long i;
    char *msg = NULL;
    if (!go_atoi(key, &i, &msg))
        return msg;
    long long len = (long long)json_array_size(a) + (long long)extra;
    if (i < 0) {
        if (i < -len)
            return vk_xasprintf("Unable to access invalid index: %lld: invalid index referenced", i);
        i += len;
    }
    if (i >= len)
        return vk_xasprintf("Unable to access invalid index: %lld: invalid index referenced", i);
    *idx = (size_t)i;
    return NULL;
}

/* evanphx findObject: the container holding the last segment of path, or
 * NULL; *key gets the decoded last segment (caller frees). */
static json_t *find_object(json_t *root, const char *path, char **key) {
    *key = NULL;
    const char *first = strchr(path, '/');
    if (!first)
        return NULL;
    json_t *doc = root;
    const char *seg = first + 1;
    for (;;) {
        const char *slash = strchr(seg, '/');
        if (!slash) {
            *key = decode_key(seg, strlen(seg));
            return doc;
        }
        char *part = decode_key(seg, (size_t)(slash - seg));
        json_t *next = NULL;
        if (json_is_object(doc)) {
            next = json_object_get(doc, part);
        } else if (json_is_array(doc)) {
            size_t idx;
            char *e = array_index(doc, part, 0, &idx);
            if (e)
                free(e);
            else
                next = json_array_get(doc, idx);
        }
        free(part);
        if (!next || !(json_is_object(next) || json_is_array(next)))
            return NULL;
        doc = next;
        seg = slash + 1;
    }
}

/* container.get: *val borrowed or NULL (missing object key); inner error otherwise. */
static char *con_get(json_t *con, const char *key, json_t **val) {
    *val = NULL;
    if (json_is_object(con)) {
        json_t *v = json_object_get(con, key);
        *val = json_is_null(v) ? NULL : v;
        return NULL;
    }
    size_t idx;
    char *e = array_index(con, key, 0, &idx);
    if (!e)
        *val = json_array_get(con, idx);
    return e;
}

/* container.add, stealing val. */
static char *con_add(json_t *con, const char *key, json_t *val) {
    if (json_is_object(con)) {
        json_object_set_new(con, key, val);
        return NULL;
    }
    if (strcmp(key, "-") == 0) {
        json_array_append_new(con, val);
        return NULL;
    }
    long long i;
    char *msg = NULL;
    if (!go_atoi(key, &i, &msg)) {
        char *m = vk_xasprintf("value was not a proper array index: '%s': %s", key, msg);
        free(msg);
        json_decref(val);
        return m;
    }
    long long len = (long long)json_array_size(con) + 1;
    if (i >= len || i < -len) {
        json_decref(val);
        return vk_xasprintf("Unable to access invalid index: %lld: invalid index referenced", i);
    }
    if (i < 0)
        i += len;
    json_array_insert_new(con, (size_t)i, val);
    return NULL;
}

static char *con_remove(json_t *con, const char *key) {
    if (json_is_object(con)) {
        if (!json_object_get(con, key))
            return vk_xasprintf("Unable to remove nonexistent key: %s: missing value", key);
        json_object_del(con, key);
        return NULL;
    }
    long long i;
    char *msg = NULL;
    if (!go_atoi(key, &i, &msg))
        return msg;
    long long len = (long long)json_array_size(con);
    if (i >= len || i < -len)
        return vk_xasprintf("Unable to access invalid index: %lld: invalid index referenced", i);
    if (i < 0)
        i += len;
    json_array_remove(con, (size_t)i);
    return NULL;
}

/* The string member `name` of op, or NULL if absent / not a string. */
static const char *op_str(const json_t *op, const char *name) {
    return json_string_value(json_object_get(op, name));
}

/* op.value(): absent or null give NULL (Go's nil RawMessage). */
static json_t *op_value(const json_t *op) {
    json_t *v = json_object_get(op, "value");
    return json_is_null(v) ? NULL : v;
}

static json_t *value_copy(const json_t *v) { return v ? json_deep_copy(v) : json_null(); }

static bool jp_add(jp_t *j, const json_t *op) {
    const char *path = op_str(op, "path");
    if (!path) {
        j->err = vk_xstrdup("add operation failed to decode path: missing value");
        return false;
    }
    char *key;
    json_t *con = find_object(j->root, path, &key);
    if (!con) {
        j->err = vk_xasprintf("add operation does not apply: doc is missing path: \"%s\": missing "
                              "value",
                              path);
        return false;
    }
    char *e = con_add(con, key, value_copy(op_value(op)));
    free(key);
    if (e) {
        j->err = vk_xasprintf("error in add for path: '%s': %s", path, e);
        free(e);
        return false;
    }
    return true;
}

static bool jp_remove(jp_t *j, const json_t *op) {
    const char *path = op_str(op, "path");
    if (!path) {
        j->err = vk_xstrdup("remove operation failed to decode path: missing value");
        return false;
    }
    char *key;
    json_t *con = find_object(j->root, path, &key);
    if (!con) {
        j->err = vk_xasprintf("remove operation does not apply: doc is missing path: \"%s\": "
                              "missing value",
                              path);
        return false;
    }
    char *e = con_remove(con, key);
    free(key);
    if (e) {
        j->err = vk_xasprintf("error in remove for path: '%s': %s", path, e);
        free(e);
        return false;
    }
    return true;
}

static bool jp_replace(jp_t *j, const json_t *op) {
    const char *path = op_str(op, "path");
    if (!path) {
        j->err = vk_xstrdup("replace operation failed to decode path: missing value");
        return false;
    }
    json_t *val = op_value(op);
    if (!*path) {
        if (!json_is_object(val) && !json_is_array(val)) {
            j->err = vk_xstrdup("replace operation value must be object or array");
            return false;
        }
        json_decref(j->root);
        j->root = json_deep_copy(val);
        return true;
    }
    char *key;
    json_t *con = find_object(j->root, path, &key);
    if (!con) {
        j->err = vk_xasprintf("replace operation does not apply: doc is missing path: %s: missing "
                              "value",
                              path);
        return false;
    }
    json_t *cur;
    char *e = con_get(con, key, &cur);
    if (e) {
        free(e);
        free(key);
        j->err = vk_xasprintf("replace operation does not apply: doc is missing key: %s: missing "
                              "value",
                              path);
        return false;
    }
    if (json_is_object(con)) {
        json_object_set_new(con, key, value_copy(val));
    } else {
        size_t idx;
        char *e2 = array_index(con, key, 0, &idx);
        if (e2) { /* unreachable: con_get succeeded */
            free(e2);
        } else {
            json_array_set_new(con, idx, value_copy(val));
        }
    }
    free(key);
    return true;
}

static bool jp_move(jp_t *j, const json_t *op) {
    const char *from = op_str(op, "from");
    if (!from) {
        j->err = vk_xstrdup("move operation failed to decode from: operation, missing from field: "
                            "missing value");
        return false;
    }
    char *key;
    json_t *con = find_object(j->root, from, &key);
    if (!con) {
        j->err = vk_xasprintf("move operation does not apply: doc is missing from path: %s: "
                              "missing value",
                              from);
        return false;
    }
    json_t *val;
    char *e = con_get(con, key, &val);
    if (!e) {
        if (val)
            json_incref(val);
        e = con_remove(con, key);
        if (e)
            json_decref(val);
    }
    if (e) {
        j->err = vk_xasprintf("error in move for path: '%s': %s", key, e);
        free(e);
        free(key);
        return false;
    }
    free(key);
    const char *path = op_str(op, "path");
    if (!path) {
        json_decref(val);
        j->err = vk_xstrdup("move operation failed to decode path: operation missing path field: "
                            "missing value");
        return false;
    }
    con = find_object(j->root, path, &key);
    if (!con) {
        json_decref(val);
        j->err = vk_xasprintf("move operation does not apply: doc is missing destination path: %s: "
                              "missing value",
                              path);
        return false;
    }
    e = con_add(con, key, val ? val : json_null());
    free(key);
    if (e) {
        j->err = vk_xasprintf("error in move for path: '%s': %s", path, e);
        free(e);
        return false;
    }
    return true;
}

static bool jp_test(jp_t *j, const json_t *op) {
    const char *path = op_str(op, "path");
    if (!path) {
        j->err = vk_xstrdup("test operation failed to decode path: operation missing path field: "
                            "missing value");
        return false;
    }
    json_t *want = op_value(op);
    if (!*path) {
        if (want && json_same(j->root, want))
            return true;
        j->err = vk_xasprintf("testing value %s failed: test failed", path);
        return false;
    }
    char *key;
    json_t *con = find_object(j->root, path, &key);
    if (!con) {
        j->err = vk_xasprintf("test operation does not apply: is missing path: %s: missing value",
                              path);
        return false;
    }
    json_t *val;
    char *e = con_get(con, key, &val);
    free(key);
    if (e) {
        j->err = vk_xasprintf("error in test for path: '%s': %s", path, e);
        free(e);
        return false;
    }
    if (!val && !want)
        return true;
    if (val && want && json_same(val, want))
        return true;
    j->err = vk_xasprintf("testing value %s failed: test failed", path);
    return false;
}

static bool jp_copy(jp_t *j, const json_t *op) {
    const char *from = op_str(op, "from");
    if (!from) {
        j->err = vk_xstrdup("copy operation failed to decode from: operation, missing from field: "
                            "missing value");
        return false;
    }
    char *key;
    json_t *con = find_object(j->root, from, &key);
    if (!con) {
        j->err = vk_xasprintf("copy operation does not apply: doc is missing from path: %s: "
                              "missing value",
                              from);
        return false;
    }
    json_t *val;
    char *e = con_get(con, key, &val);
    free(key);
    if (e) {
        j->err = vk_xasprintf("error in copy for from: '%s': %s", from, e);
        free(e);
        return false;
    }
    const char *path = op_str(op, "path");
    if (!path) {
        j->err = vk_xstrdup("copy operation failed to decode path: missing value");
        return false;
    }
    con = find_object(j->root, path, &key);
    if (!con) {
        j->err = vk_xasprintf("copy operation does not apply: doc is missing destination path: %s: "
                              "missing value",
                              path);
        return false;
    }
    e = con_add(con, key, value_copy(val));
    free(key);
    if (e) {
        j->err = vk_xasprintf("error while adding value during copy: %s", e);
        free(e);
        return false;
    }
    return true;
}

int vk_patch_json(const json_t *doc, const json_t *patch, json_t **out, char **err) {
    *out = NULL;
    if (err)
        *err = NULL;
    if (!json_is_array(patch)) {
        set_err(err, vk_xasprintf("json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
                                  json_is_object(patch)   ? "object"
                                  : json_is_string(patch) ? "string"
                                  : json_is_number(patch) ? "number"
                                                          : "bool"));
        return VK_EBADREQUEST;
    }
    size_t n = json_array_size(patch);
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get(patch, i);
        if (!json_is_object(op) && !json_is_null(op)) {
            set_err(err, vk_xasprintf("json: cannot unmarshal %s into Go value of type "
                                      "jsonpatch.Operation",
                                      json_is_array(op) ? "array"
                                      : json_is_string(op) ? "string"
                                      : json_is_number(op) ? "number"
                                                           : "bool"));
            return VK_EBADREQUEST;
        }
    }
    if (n > MAX_JSON_PATCH_OPS) {
        set_err(err, vk_xasprintf("The allowed maximum operations in a JSON patch is %d, got %zu",
                                  MAX_JSON_PATCH_OPS, n));
        return VK_ETOOLARGE;
    }
    jp_t j = {.root = json_deep_copy(doc)};
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get(patch, i);
        const char *kind = json_is_object(op) ? op_str(op, "op") : NULL;
        bool ok;
        if (!kind)
            kind = "unknown";
        if (strcmp(kind, "add") == 0)
            ok = jp_add(&j, op);
        else if (strcmp(kind, "remove") == 0)
            ok = jp_remove(&j, op);
        else if (strcmp(kind, "replace") == 0)
            ok = jp_replace(&j, op);
        else if (strcmp(kind, "move") == 0)
            ok = jp_move(&j, op);
        else if (strcmp(kind, "test") == 0)
            ok = jp_test(&j, op);
        else if (strcmp(kind, "copy") == 0)
            ok = jp_copy(&j, op);
        else {
            j.err = vk_xasprintf("Unexpected kind: %s", kind);
            ok = false;
        }
        if (!ok) {
            json_decref(j.root);
            set_err(err, j.err);
            return VK_EINVALID;
        }
    }
    *out = j.root;
    return 0;
}

/* ---- JSON merge patch (RFC 7386) ----------------------------------------- */

void vk_patch_prune_nulls(json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            if (json_is_null(x))
                json_object_del(v, k);
            else
                vk_patch_prune_nulls(x);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            vk_patch_prune_nulls(json_array_get(v, i));
    }
}

static void merge_docs(json_t *doc, const json_t *patch) {
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)patch, k, pv) {
        if (json_is_null(pv)) {
            json_object_del(doc, k);
            continue;
        }
        json_t *cur = json_object_get(doc, k);
        if (!cur || json_is_null(cur) || !json_is_object(cur)) {
            json_t *c = json_deep_copy(pv);
            vk_patch_prune_nulls(c);
            json_object_set_new(doc, k, c);
        } else if (!json_is_object(pv)) {
            json_object_set_new(doc, k, json_deep_copy(pv));
        } else {
            merge_docs(cur, pv);
        }
    }
}

int vk_patch_merge(const json_t *doc, const json_t *patch, json_t **out, char **err) {
    *out = NULL;
    if (err)
        *err = NULL;
    if (!json_is_object(patch)) {
        set_err(err, vk_xstrdup("Invalid JSON Patch"));
        return VK_EBADREQUEST;
    }
    json_t *res = json_is_object(doc) ? json_deep_copy(doc) : json_object();
    merge_docs(res, patch);
    *out = res;
    return 0;
}

/* ---- strategic merge patch ------------------------------------------------ */

static const char DIRECTIVE[] = "$patch";
static const char RETAIN_KEYS[] = "$retainKeys";
static const char DELETE_PREFIX[] = "$deleteFromPrimitiveList";
static const char ORDER_PREFIX[] = "$setElementOrder";

typedef struct {
    vk_patch_schema_cb cb;
    void *ctx;
    const char *path[MAX_DEPTH];
    size_t depth;
    int code;  /* first error */
    char *err; /* its message */
} smp_t;

static json_t *smp_fail(smp_t *s, int code, char *msg) {
    if (!s->err) {
        s->code = code;
        s->err = msg;
    } else {
        free(msg);
    }
    return NULL;
}

static json_t *fail_bad_arg(smp_t *s, const char *expected, const json_t *actual) {
    return smp_fail(s, VK_EINTERNAL,
                    vk_xasprintf("expected a %s, but received a %s", expected, go_type(actual)));
}

static json_t *fail_no_merge_key(smp_t *s, const json_t *m, const char *key) {
    vk_strbuf_t b = {0};
    vk_strbuf_puts(&b, "map: ");
    go_fmt(&b, m, 0);
    vk_strbuf_puts(&b, " does not contain declared merge key: ");
    vk_strbuf_puts(&b, key);
    return smp_fail(s, VK_EINTERNAL, b.p);
}

/* Schema of the child `key` of the current path. */
static void lookup(smp_t *s, const char *key, vk_patch_field_t *f) {
    memset(f, 0, sizeof *f);
    if (!s->cb || s->depth >= MAX_DEPTH)
        return;
    s->path[s->depth] = key;
    if (s->cb(s->ctx, s->path, s->depth + 1, f) != 0)
        memset(f, 0, sizeof *f);
}

static bool push(smp_t *s, const char *key) {
    if (s->depth >= MAX_DEPTH) {
        smp_fail(s, VK_EBADREQUEST, vk_xstrdup("patch nesting too deep"));
        return false;
    }
    s->path[s->depth++] = key;
    return true;
}

/* Strips "$patch" maps (returns false: drop the value) and, in kept maps,
 * the other directive keys, which have no meaning in added values. */
static bool remove_directives(json_t *v) {
    if (json_is_object(v)) {
        if (json_object_get(v, DIRECTIVE))
            return false;
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            if (strcmp(k, RETAIN_KEYS) == 0 || strncmp(k, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0 ||
                strncmp(k, DELETE_PREFIX, strlen(DELETE_PREFIX)) == 0 || !remove_directives(x))
                json_object_del(v, k);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v);) {
            if (!remove_directives(json_array_get(v, i)))
                json_array_remove(v, i);
            else
                i++;
        }
    }
    return true;
}

static void discard_nulls(json_t *v) { vk_patch_prune_nulls(v); }

/* extractKey: the field name after "<prefix>/", or NULL. */
static const char *extract_key(const char *k, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(k, prefix, n) != 0 || k[n] != '/')
        return NULL;
    return k + n + 1;
}

/* Element kinds for sliceElementType. */
static int elem_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_TRUE:
    case JSON_FALSE: return JSON_TRUE;
    default: return (int)json_typeof(v);
    }
}

/* sliceElementType over a and b (either may be NULL); -1 with error set. */
static int slice_kind(smp_t *s, const json_t *a, const json_t *b) {
    int kind = -1;
    const json_t *lists[2] = {a, b};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l] && i < json_array_size(lists[l]); i++) {
            const json_t *v = json_array_get(lists[l], i);
            int k = elem_kind(v);
            if (kind < 0) {
                if (k == JSON_ARRAY) {
                    smp_fail(s, VK_EINVALID, vk_xstrdup("lists of lists are not supported"));
                    return -1;
                }
                if (k == JSON_NULL) {
                    smp_fail(s, VK_EINTERNAL, vk_xstrdup("list element types are not identical"));
                    return -1;
                }
                kind = k;
            } else if (k != kind) {
                vk_strbuf_t m = {0};
                vk_strbuf_puts(&m, "list element types are not identical: [");
                if (a)
                    go_fmt(&m, a, 0);
                else
                    vk_strbuf_puts(&m, "[]");
                vk_strbuf_puts(&m, " ");
                if (b)
                    go_fmt(&m, b, 0);
                else
                    vk_strbuf_puts(&m, "[]");
                vk_strbuf_puts(&m, "]");
                smp_fail(s, VK_EINTERNAL, m.p);
                return -1;
            }
        }
    }
    if (kind < 0)
        smp_fail(s, VK_EINTERNAL, vk_xstrdup("no elements in any of the given slices"));
    return kind;
}

/* The merge-key value of item (maps) or the item itself (scalars). */
static const json_t *order_val(const json_t *item, const char *mk, bool maps) {
    if (!maps)
        return item;
    return json_is_object(item) ? json_object_get(item, mk) : NULL;
}

/* index(): position of item in list by merge key / value, or -1. Go compares
 * with ==, so a missing key (nil) matches another missing key. */
static long index_of(const json_t *list, const json_t *item, const char *mk, bool maps) {
    const json_t *want = order_val(item, mk, maps);
    for (size_t i = 0; list && i < json_array_size(list); i++) {
        const json_t *have = order_val(json_array_get(list, i), mk, maps);
        if ((!want && !have) || (want && have && json_equal((json_t *)want, (json_t *)have)))
            return (long)i;
    }
    return -1;
}

static bool check_merge_keys(smp_t *s, const json_t *list, const char *mk) {
    for (size_t i = 0; list && i < json_array_size(list); i++) {
        const json_t *it = json_array_get(list, i);
        if (!json_is_object(it)) {
            fail_bad_arg(s, "map[string]interface {}", it);
            return false;
        }
        if (!json_object_get(it, mk)) {
            fail_no_merge_key(s, it, mk);
            return false;
        }
    }
    return true;
}

static bool is_delete_item(const json_t *v) {
    const char *d = json_string_value(json_object_get(v, DIRECTIVE));
    return d && strcmp(d, "delete") == 0;
}

/* normalizeSliceOrder: a new array, `to_sort` stably sorted by position in `order`. */
static json_t *sort_by_order(smp_t *s, const json_t *to_sort, const json_t *order, const char *mk,
                             bool maps) {
    json_t *dels = json_array();
    json_t *res = json_array();
    if (maps) {
        if (!check_merge_keys(s, to_sort, mk) || !check_merge_keys(s, order, mk)) {
            json_decref(dels);
            json_decref(res);
            return NULL;
        }
    }
    for (size_t i = 0; i < json_array_size(to_sort); i++) {
        json_t *v = json_array_get(to_sort, i);
        json_array_append(maps && is_delete_item(v) ? dels : res, v);
    }
    /* Insertion sort as Go's sort.SliceStable does for short lists; an item
     * missing from `order` counts as "less". */
    size_t n = json_array_size(res);
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            json_t *a = json_array_get(res, j), *b = json_array_get(res, j - 1);
            long ia = index_of(order, a, mk, maps), ib = index_of(order, b, mk, maps);
            bool less = (ia >= 0 && ib >= 0) ? ia < ib : true;
            if (!less)
                break;
            json_incref(a);
            json_incref(b);
            json_array_set_new(res, j, b);
            json_array_set_new(res, j - 1, a);
        }
    }
    json_array_extend(res, dels);
    json_decref(dels);
    return res;
}

/* normalizeElementOrder + mergeSortedSlice. Returns a new array or NULL. */
static json_t *normalize_order(smp_t *s, const json_t *patch_items, const json_t *server_only,
                               const json_t *patch_order, const json_t *server_order,
                               const char *mk, bool maps) {
    json_t *right = sort_by_order(s, patch_items, patch_order, mk, maps);
    if (!right)
        return NULL;
    json_t *left = sort_by_order(s, server_only, server_order, mk, maps);
    if (!left) {
        json_decref(right);
        return NULL;
    }
    json_t *res = json_array();
    size_t i = 0, j = 0, nl = json_array_size(left), nr = json_array_size(right);
    while (i < nl || j < nr) {
        if (i >= nl) {
            json_array_append(res, json_array_get(right, j++));
        } else if (j >= nr) {
            json_array_append(res, json_array_get(left, i++));
        } else {
            long li = index_of(server_order, json_array_get(left, i), mk, maps);
            long ri = index_of(server_order, json_array_get(right, j), mk, maps);
            if (li >= 0 && ri >= 0 && li < ri)
                json_array_append(res, json_array_get(left, i++));
            else
                json_array_append(res, json_array_get(right, j++));
        }
    }
    json_decref(left);
    json_decref(right);
    return res;
}

/* Splits merged into items present in `by` and the rest (server-only). */
static bool partition(smp_t *s, const json_t *merged, const json_t *by, const char *mk, bool maps,
                      json_t **in, json_t **rest) {
    *in = json_array();
    *rest = json_array();
    for (size_t i = 0; i < json_array_size(merged); i++) {
        json_t *v = json_array_get(merged, i);
        bool found = false;
        if (maps) {
            if (!json_is_object(v)) {
                fail_bad_arg(s, "map[string]interface {}", v);
                goto fail;
            }
            json_t *kv = json_object_get(v, mk);
            if (!kv) {
                fail_no_merge_key(s, v, mk);
                goto fail;
            }
            for (size_t j = 0; by && j < json_array_size(by) && !found; j++) {
                json_t *b = json_array_get(by, j);
                if (!json_is_object(b)) {
                    smp_fail(s, VK_EINTERNAL,
                             vk_xasprintf("value for key %zu is not a map", j));
                    goto fail;
                }
                json_t *bk = json_object_get(b, mk);
                found = bk && json_equal(bk, kv);
            }
        } else {
            found = index_of(by, v, NULL, false) >= 0;
        }
        json_array_append(found ? *in : *rest, v);
    }
    return true;
fail:
    json_decref(*in);
    json_decref(*rest);
    return false;
}

static json_t *merge_map(smp_t *s, json_t *orig, json_t *patch);

/* Finds the map in list whose mk equals value; index or -1 (-2 on error). */
static long find_by_key(smp_t *s, const json_t *list, const char *mk, const json_t *value) {
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *v = json_array_get(list, i);
        if (!json_is_object(v)) {
            smp_fail(s, VK_EINTERNAL, vk_xasprintf("value for key %zu is not a map", i));
            return -2;
        }
        const json_t *kv = json_object_get(v, mk);
        if (kv && json_equal((json_t *)kv, (json_t *)value))
            return (long)i;
    }
    return -1;
}

/* mergeSlice: orig and patch are borrowed arrays; returns a new array or NULL. */
static json_t *merge_slice(smp_t *s, const json_t *orig_in, const json_t *patch_in,
                           const char *mk, bool is_delete_list) {
    if (json_array_size(orig_in) == 0 && json_array_size(patch_in) == 0)
        return json_incref((json_t *)orig_in);
    int kind = slice_kind(s, orig_in, patch_in);
    if (kind < 0)
        return NULL;
    bool maps = kind == JSON_OBJECT;
    json_t *merged, *orig, *patch;
    if (!maps) {
        if (is_delete_list) {
            json_t *res = json_array();
            for (size_t i = 0; i < json_array_size(orig_in); i++) {
                json_t *v = json_array_get(orig_in, i);
                if (index_of(patch_in, v, NULL, false) < 0)
                    json_array_append(res, v);
            }
            return res;
        }
        /* append, then Go's swap-with-last deduplication */
        merged = json_array();
        json_array_extend(merged, (json_t *)orig_in);
        json_array_extend(merged, (json_t *)patch_in);
        size_t length = json_array_size(merged);
        for (size_t i = 0; length && i + 1 < length; i++) {
            for (size_t j = i + 1; j < length; j++) {
                if (json_equal(json_array_get(merged, i), json_array_get(merged, j))) {
                    json_array_set(merged, j, json_array_get(merged, length - 1));
                    json_array_remove(merged, length - 1);
                    length--;
                    j--;
                }
            }
        }
        orig = json_incref((json_t *)orig_in);
        patch = json_incref((json_t *)patch_in);
        mk = NULL;
    } else {
        if (!mk || !*mk) {
            vk_strbuf_t b = {0};
            vk_strbuf_puts(&b, "cannot merge lists without merge key for ");
            for (size_t i = 0; i < s->depth; i++) {
                if (i)
                    vk_strbuf_puts(&b, ".");
                vk_strbuf_puts(&b, s->path[i]);
            }
            return smp_fail(s, VK_EINTERNAL, b.p);
        }
        /* mergeSliceWithSpecialElements */
        orig = json_array();
        json_array_extend(orig, (json_t *)orig_in);
        patch = json_array();
        bool replace = false;
        for (size_t i = 0; i < json_array_size(patch_in); i++) {
            json_t *v = json_array_get(patch_in, i);
            json_t *d = json_object_get(v, DIRECTIVE);
            if (!d) {
                json_array_append(patch, v);
                continue;
            }
            const char *ds = json_string_value(d);
            if (ds && strcmp(ds, "delete") == 0) {
                json_t *kv = json_object_get(v, mk);
                if (!kv) {
                    fail_no_merge_key(s, v, mk);
                    goto fail_op;
                }
                long at;
                while ((at = find_by_key(s, orig, mk, kv)) >= 0)
                    json_array_remove(orig, (size_t)at);
                if (at == -2)
                    goto fail_op;
            } else if (ds && strcmp(ds, "replace") == 0) {
                replace = true;
            } else if (ds && strcmp(ds, "merge") == 0) {
                smp_fail(s, VK_EINTERNAL,
                         vk_xstrdup("merging lists cannot yet be specified in the patch"));
                goto fail_op;
            } else {
                vk_strbuf_t b = {0};
                vk_strbuf_puts(&b, "unknown patch type: ");
                go_fmt(&b, d, 0);
                vk_strbuf_puts(&b, " in map: ");
                go_fmt(&b, v, 0);
                smp_fail(s, VK_EINTERNAL, b.p);
                goto fail_op;
            }
        }
        if (replace) {
            json_decref(orig);
            orig = patch;
            patch = json_array();
        }
        /* mergeSliceWithoutSpecialElements: merge or append into orig */
        /* A separate array: `orig` stays the server order without appended items. */
        merged = json_array();
        json_array_extend(merged, orig);
        for (size_t i = 0; i < json_array_size(patch); i++) {
            json_t *v = json_array_get(patch, i);
            json_t *kv = json_object_get(v, mk);
            if (!kv) {
                fail_no_merge_key(s, v, mk);
                json_decref(merged);
                goto fail_op;
            }
            long at = find_by_key(s, merged, mk, kv);
            if (at == -2) {
                json_decref(merged);
                goto fail_op;
            }
            if (at >= 0) {
                json_t *m = merge_map(s, json_array_get(merged, (size_t)at), v);
                if (!m) {
                    json_decref(merged);
                    goto fail_op;
                }
                json_array_set_new(merged, (size_t)at, m);
            } else {
                /* Upstream appends the raw item; its nulls and directives
                 * vanish when it is decoded into the typed object. */
                json_t *c = json_deep_copy(v);
                discard_nulls(c);
                remove_directives(c);
                json_array_append_new(merged, c);
            }
        }
    }
    /* enforce the order */
    json_t *in, *rest, *res = NULL;
    if (partition(s, merged, patch, mk, maps, &in, &rest)) {
        res = normalize_order(s, in, rest, patch, orig, mk, maps);
        json_decref(in);
        json_decref(rest);
    }
    json_decref(merged);
    json_decref(orig);
    json_decref(patch);
    return res;
fail_op:
    json_decref(orig);
    json_decref(patch);
    return NULL;
}

/* mergeSliceHandler: a new array or NULL. */
static json_t *merge_slice_handler(smp_t *s, const json_t *orig, const json_t *patch,
                                   const vk_patch_field_t *f, bool is_delete_list) {
    if ((f->strategy & VK_PATCH_STRATEGY_MERGE) || is_delete_list)
        return merge_slice(s, orig, patch, f->merge_key, is_delete_list);
    return json_incref((json_t *)patch);
}

/* applyRetainKeysDirective (merging a patch into an object). */
static bool apply_retain_keys(smp_t *s, json_t *orig, json_t *patch) {
    json_t *rk = json_object_get(patch, RETAIN_KEYS);
    if (!rk)
        return true;
    json_incref(rk);
    json_object_del(patch, RETAIN_KEYS);
    bool ok = false;
    if (!json_is_array(rk))
        goto bad;
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v) {
        if (json_is_null(v) || strncmp(k, DELETE_PREFIX, strlen(DELETE_PREFIX)) == 0 ||
            strncmp(k, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < json_array_size(rk) && !found; i++)
            found = json_is_string(json_array_get(rk, i)) &&
                    strcmp(json_string_value(json_array_get(rk, i)), k) == 0;
        if (!found)
            goto bad;
    }
    void *tmp;
    json_object_foreach_safe(orig, tmp, k, v) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(rk) && !found; i++)
            found = json_is_string(json_array_get(rk, i)) &&
                    strcmp(json_string_value(json_array_get(rk, i)), k) == 0;
        if (!found)
            json_object_del(orig, k);
    }
    ok = true;
bad:
    if (!ok)
        smp_fail(s, VK_EBADREQUEST, vk_xstrdup("invalid patch format of retainKeys"));
    json_decref(rk);
    return ok;
}

/* validatePatchWithSetOrderList */
static bool validate_order(smp_t *s, const json_t *plist, const json_t *order, const char *mk) {
    if (!plist || json_array_size(order) == 0 || json_array_size(plist) == 0)
        return true;
    json_t *nondel = json_array();
    for (size_t i = 0; i < json_array_size(plist); i++) {
        json_t *v = json_array_get(plist, i);
        if (mk && *mk) {
            if (!json_is_object(v)) {
                fail_bad_arg(s, "map[string]interface {}", v);
                json_decref(nondel);
                return false;
            }
            if (is_delete_item(v))
                continue;
        }
        json_array_append(nondel, v);
    }
    size_t pi = 0, oi = 0, np = json_array_size(nondel), no = json_array_size(order);
    while (pi < np && oi < no) {
        json_t *p = json_array_get(nondel, pi), *o = json_array_get(order, oi);
        if (json_is_object(p) && json_object_get(p, DIRECTIVE)) {
            pi++;
            continue;
        }
        bool eq;
        if (!mk || !*mk) {
            eq = json_equal(p, o);
        } else {
            if (!json_is_object(o)) {
                fail_bad_arg(s, "map[string]interface {}", o);
                json_decref(nondel);
                return false;
            }
            json_t *a = json_object_get(p, mk), *b = json_object_get(o, mk);
            if (!a || !b) {
                fail_no_merge_key(s, a ? o : p, mk);
                json_decref(nondel);
                return false;
            }
            eq = json_equal(a, b);
        }
        if (eq)
            pi++;
        oi++;
    }
    json_decref(nondel);
    if (pi < np && oi >= no) {
        vk_strbuf_t b = {0};
        vk_strbuf_puts(&b, "The order in patch list:\n");
        go_fmt(&b, plist, 0);
        vk_strbuf_puts(&b, "\n doesn't match $setElementOrder list:\n");
        go_fmt(&b, order, 0);
        vk_strbuf_puts(&b, "\n");
        smp_fail(s, VK_EINTERNAL, b.p);
        return false;
    }
    return true;
}

/* mergePatchIntoOriginal: handles every $setElementOrder/<field>. */
static bool merge_set_element_order(smp_t *s, json_t *orig, json_t *patch) {
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v) n++;
    char **keys = vk_xcalloc(n ? n : 1, sizeof *keys);
    size_t nk = 0;
    json_object_foreach(patch, k, v) {
        if (strncmp(k, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0)
            keys[nk++] = vk_xstrdup(k);
    }
    bool ok = true;
    for (size_t i = 0; i < nk && ok; i++) {
        json_t *order = json_incref(json_object_get(patch, keys[i]));
        json_object_del(patch, keys[i]);
        ok = false;
        const char *field = extract_key(keys[i], ORDER_PREFIX);
        json_t *olist = NULL, *plist = NULL, *merged = NULL;
        if (!json_is_array(order)) {
            fail_bad_arg(s, "[]interface {}", order);
            goto next;
        }
        if (!field) {
            smp_fail(s, VK_EBADREQUEST, vk_xstrdup("invalid patch format of setElementOrder list"));
            goto next;
        }
        olist = json_object_get(orig, field);
        plist = json_object_get(patch, field);
        if (olist && !json_is_array(olist)) {
            fail_bad_arg(s, "[]interface {}", olist);
            goto next;
        }
        if (plist && !json_is_array(plist)) {
            fail_bad_arg(s, "[]interface {}", plist);
            goto next;
        }
        vk_patch_field_t f;
        lookup(s, field, &f);
        const char *mk = f.merge_key && *f.merge_key ? f.merge_key : NULL;
        if (!validate_order(s, plist, order, mk))
            goto next;
        if (olist && !plist) {
            merged = json_incref(olist);
        } else if (!olist && plist) {
            merged = json_deep_copy(plist);
            remove_directives(merged);
        } else if (olist && plist) {
            if (!push(s, field))
                goto next;
            merged = merge_slice_handler(s, olist, plist, &f, false);
            s->depth--;
            if (!merged)
                goto next;
        } else {
            ok = true;
            goto next;
        }
        {
            bool maps = mk != NULL;
            json_t *in, *rest;
            json_t *olist_keep = json_incref(olist); /* may be replaced below */
            if (partition(s, merged, order, mk, maps, &in, &rest)) {
                int kind = slice_kind(s, olist_keep, plist);
                if (kind >= 0) {
                    json_t *both =
                        normalize_order(s, in, rest, order, olist_keep, mk, kind == JSON_OBJECT);
                    if (both) {
                        json_object_set_new(orig, field, both);
                        json_object_del(patch, field);
                        ok = true;
                    }
                }
                json_decref(in);
                json_decref(rest);
            }
            json_decref(olist_keep);
        }
    next:
        json_decref(merged);
        json_decref(order);
    }
    for (size_t i = 0; i < nk; i++)
        free(keys[i]);
    free(keys);
    return ok;
}

/* mergeMap: merges patch (borrowed, mutable) into orig (borrowed, mutable,
 * or NULL). Returns a new reference to the result, or NULL on error. */
static json_t *merge_map(smp_t *s, json_t *orig, json_t *patch) {
    json_t *d = json_object_get(patch, DIRECTIVE);
    if (d) {
        const char *ds = json_string_value(d);
        if (ds && strcmp(ds, "replace") == 0) {
            json_object_del(patch, DIRECTIVE);
            return json_incref(patch);
        }
        if (ds && strcmp(ds, "delete") == 0)
            return json_object();
        vk_strbuf_t b = {0};
        vk_strbuf_puts(&b, "unknown patch type: ");
        go_fmt(&b, d, 0);
        vk_strbuf_puts(&b, " in map: ");
        go_fmt(&b, patch, 0);
        return smp_fail(s, VK_EINTERNAL, b.p);
    }
    if (orig)
        json_incref(orig);
    else
        orig = json_object();
    if (!apply_retain_keys(s, orig, patch) || !merge_set_element_order(s, orig, patch)) {
        json_decref(orig);
        return NULL;
    }
    const char *k;
    json_t *pv;
    void *tmp;
    json_object_foreach_safe(patch, tmp, k, pv) {
        const char *key = k;
        bool is_delete_list = false;
        if (strncmp(k, DELETE_PREFIX, strlen(DELETE_PREFIX)) == 0) {
            key = extract_key(k, DELETE_PREFIX);
            if (!key) {
                smp_fail(s, VK_EBADREQUEST, vk_xstrdup("invalid patch format of primitive list"));
                json_decref(orig);
                return NULL;
            }
            is_delete_list = true;
        }
        if (json_is_null(pv)) {
            json_object_del(orig, key);
            continue;
        }
        json_t *ov = json_object_get(orig, key);
        bool same = ov && ((json_is_object(ov) && json_is_object(pv)) ||
                           (json_is_array(ov) && json_is_array(pv)));
        if (!same) {
            if (!is_delete_list) {
                json_t *c = json_deep_copy(pv);
                discard_nulls(c);
                if (remove_directives(c))
                    json_object_set_new(orig, key, c);
                else {
                    json_decref(c);
                    json_object_del(orig, key);
                }
            }
            continue;
        }
        vk_patch_field_t f;
        lookup(s, key, &f);
        if (!push(s, key)) {
            json_decref(orig);
            return NULL;
        }
        json_t *res;
        if (json_is_object(ov)) {
            if (f.strategy & VK_PATCH_STRATEGY_REPLACE)
                res = json_incref(pv);
            else
                res = merge_map(s, ov, pv);
        } else {
            res = merge_slice_handler(s, ov, pv, &f, is_delete_list);
        }
        s->depth--;
        if (!res) {
            json_decref(orig);
            return NULL;
        }
        json_object_set_new(orig, key, res);
    }
    return orig;
}

/* Upstream decodes the merged map into the typed object, which drops null
 * fields and directive keys left in replaced values; do the same. */
static void clean_result(json_t *v) {
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, x) {
            if (json_is_null(x) || strcmp(k, DIRECTIVE) == 0 || strcmp(k, RETAIN_KEYS) == 0 ||
                strncmp(k, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0 ||
                strncmp(k, DELETE_PREFIX, strlen(DELETE_PREFIX)) == 0)
                json_object_del(v, k);
            else
                clean_result(x);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            clean_result(json_array_get(v, i));
    }
}

int vk_patch_strategic(const json_t *doc, const json_t *patch, vk_patch_schema_cb cb, void *ctx,
                       json_t **out, char **err) {
    *out = NULL;
    if (err)
        *err = NULL;
    if (!json_is_object(patch)) {
        set_err(err, vk_xasprintf("json: cannot unmarshal %s into Go value of type "
                                  "map[string]interface {}",
                                  json_is_array(patch)    ? "array"
                                  : json_is_string(patch) ? "string"
                                  : json_is_number(patch) ? "number"
                                  : json_is_null(patch)   ? "null"
                                                          : "bool"));
        return VK_EBADREQUEST;
    }
    smp_t s = {.cb = cb, .ctx = ctx};
    json_t *o = json_is_object(doc) ? json_deep_copy(doc) : json_object();
    json_t *p = json_deep_copy(patch);
    json_t *res = merge_map(&s, o, p);
    json_decref(o);
    json_decref(p);
    if (!res) {
        set_err(err, s.err ? s.err : vk_xstrdup("strategic merge patch failed"));
        return s.code ? s.code : VK_EINTERNAL;
    }
    free(s.err);
    /* The result may share nodes with the patch copy; make it independent. */
    *out = json_deep_copy(res);
    json_decref(res);
    clean_result(*out);
    return 0;
}
