/* schema: lookups over the generated schema tables (see schema.h). */
#include "proxy/schema.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

const vk_schema_msg_t *vk_schema_msg(uint32_t index)
{
    return index < vk_schema_gen_nmsgs ? &vk_schema_gen_msgs[index] : NULL;
}

static int cmp_msg_name(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const vk_schema_msg_t *)elem)->name);
}

const vk_schema_msg_t *vk_schema_msg_by_name(const char *name)
{
    return bsearch(name, vk_schema_gen_msgs, vk_schema_gen_nmsgs, sizeof vk_schema_gen_msgs[0],
                   cmp_msg_name);
}

uint32_t vk_schema_msg_index(const vk_schema_msg_t *m)
{
    return (uint32_t)(m - vk_schema_gen_msgs);
}

const vk_schema_field_t *vk_schema_msg_field(const vk_schema_msg_t *m, size_t i)
{
    return &vk_schema_gen_fields[m->first_field + i];
}

const vk_schema_field_t *vk_schema_field_by_number(const vk_schema_msg_t *m, uint32_t num)
{
    for (size_t i = 0; i < m->nfields; i++) {
        const vk_schema_field_t *f = vk_schema_msg_field(m, i);
        if (f->number == num)
            return f;
    }
    return NULL;
}

static const vk_schema_field_t *field_by_json(const vk_schema_msg_t *m, const char *json, int depth)
{
    if (depth > 8)
        return NULL;
    for (size_t i = 0; i < m->nfields; i++) {
        const vk_schema_field_t *f = vk_schema_msg_field(m, i);
        if (f->flags & VK_SF_INLINE) {
            if (f->type != VK_SF_MESSAGE)
                continue;
            const vk_schema_field_t *in = field_by_json(vk_schema_msg(f->msg), json, depth + 1);
            if (in)
                return in;
        } else if (strcmp(f->json, json) == 0) {
            return f;
        }
    }
    return NULL;
}

const vk_schema_field_t *vk_schema_field_by_json(const vk_schema_msg_t *m, const char *json)
{
    return field_by_json(m, json, 0);
}

typedef struct {
    const char *group, *version, *kind;
} kind_key_t;

static int cmp_kind(const void *key, const void *elem)
{
    const kind_key_t *k = key;
    const vk_schema_kind_t *e = elem;
    int c = strcmp(k->group, e->group);
    if (!c)
        c = strcmp(k->version, e->version);
    if (!c)
        c = strcmp(k->kind, e->kind);
    return c;
}

const vk_schema_msg_t *vk_schema_kind(const char *group, const char *version, const char *kind)
{
    kind_key_t k = {group ? group : "", version, kind};
    const vk_schema_kind_t *e = bsearch(&k, vk_schema_gen_kinds, vk_schema_gen_nkinds,
                                        sizeof vk_schema_gen_kinds[0], cmp_kind);
    if (!e) {
        kind_key_t meta = {"meta.k8s.io", "v1", kind};
        e = bsearch(&meta, vk_schema_gen_kinds, vk_schema_gen_nkinds,
                    sizeof vk_schema_gen_kinds[0], cmp_kind);
    }
    return e ? vk_schema_msg(e->msg) : NULL;
}

const vk_schema_kind_t *vk_schema_kinds(size_t *n)
{
    *n = vk_schema_gen_nkinds;
    return vk_schema_gen_kinds;
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int vk_schema_path_info(const char *group, const char *version, const char *kind,
                        const char *const *path, size_t depth, vk_schema_field_info_t *out)
{
    memset(out, 0, sizeof *out);
    const vk_schema_msg_t *m = vk_schema_kind(group, version, kind);
    if (!m || depth == 0)
        return VK_ENOTFOUND;
    const vk_schema_field_t *f = NULL;
    int expect_key = 0; /* the previous element was a map field: this one is a key */
    for (size_t i = 0; i < depth; i++) {
        if (f && (f->flags & VK_SF_REPEATED) && all_digits(path[i]))
            continue;
        if (expect_key) {
            expect_key = 0;
            continue;
        }
        if (!m)
            return VK_ENOTFOUND;
        f = vk_schema_field_by_json(m, path[i]);
        if (!f)
            return VK_ENOTFOUND;
        expect_key = (f->flags & VK_SF_MAP) != 0;
        m = f->type == VK_SF_MESSAGE ? vk_schema_msg(f->msg) : NULL;
        if (m && m->special != VK_SM_NONE)
            m = NULL; /* opaque leaf (Time, Quantity, RawExtension...) */
    }
    out->field = f;
    out->msg = f->type == VK_SF_MESSAGE ? vk_schema_msg(f->msg) : NULL;
    out->patch_strategy = f->patch_strategy;
    out->patch_merge_key = f->patch_merge_key;
    out->list_type = f->list_type;
    out->list_map_keys = f->list_map_keys;
    out->map_type = f->map_type;
    out->struct_type = out->msg ? out->msg->struct_type : NULL;
    out->is_list = (f->flags & VK_SF_REPEATED) != 0;
    out->is_map = (f->flags & VK_SF_MAP) != 0;
    return 0;
}

typedef struct {
    char **paths;
    size_t max, n;
} unknown_t;

static void add_unknown(unknown_t *u, const char *prefix, const char *key)
{
    if (u->n < u->max)
        u->paths[u->n] = prefix[0] ? vk_xasprintf("%s.%s", prefix, key) : vk_xstrdup(key);
    u->n++;
}

static void walk_unknown(unknown_t *u, const vk_schema_msg_t *m, const json_t *obj,
                         const char *prefix, int depth)
{
    if (depth > 64 || !json_is_object(obj) || m->special != VK_SM_NONE)
        return;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (depth == 0 && (!strcmp(key, "apiVersion") || !strcmp(key, "kind")))
            continue;
        const vk_schema_field_t *f = vk_schema_field_by_json(m, key);
        if (!f) {
            add_unknown(u, prefix, key);
            continue;
        }
        if (f->type != VK_SF_MESSAGE)
            continue;
        const vk_schema_msg_t *sub = vk_schema_msg(f->msg);
        if (!sub || sub->special != VK_SM_NONE)
            continue;
        char *p = prefix[0] ? vk_xasprintf("%s.%s", prefix, key) : vk_xstrdup(key);
        if ((f->flags & VK_SF_REPEATED) && json_is_array(v)) {
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                char *pi = vk_xasprintf("%s[%zu]", p, i);
                walk_unknown(u, sub, e, pi, depth + 1);
                free(pi);
            }
        } else if ((f->flags & VK_SF_MAP) && json_is_object(v)) {
            const char *k;
            json_t *e;
            json_object_foreach(v, k, e) {
                char *pk = vk_xasprintf("%s.%s", p, k);
                walk_unknown(u, sub, e, pk, depth + 1);
                free(pk);
            }
        } else if (!(f->flags & (VK_SF_REPEATED | VK_SF_MAP))) {
            walk_unknown(u, sub, v, p, depth + 1);
        }
        free(p);
    }
}

int vk_schema_unknown_fields(const char *group, const char *version, const char *kind,
                             const json_t *obj, char **paths, size_t max)
{
    const vk_schema_msg_t *m = vk_schema_kind(group, version, kind);
    if (!m)
        return VK_ENOTFOUND;
    unknown_t u = {paths, max, 0};
    walk_unknown(&u, m, obj, "", 0);
    return (int)u.n;
}
