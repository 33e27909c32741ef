/* Fuzz smoke: random JSON values through pruning, defaulting, validation
 * and schema checks (ASan/UBSan catch crashes and leaks), random patterns
 * through the regular expression translation, random paths through the
 * JSONPath subset. Deterministic (a fixed-seed generator), so a failure
 * reproduces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/crd.h"
#include "proxy/crdschema.h"
#include "tests/test.h"

typedef struct rng {
    uint64_t s;
} rng_t;

static uint32_t next(rng_t *r)
{
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(r->s >> 33);
}

static const char *const KEYS[] = {
    "spec", "status", "metadata", "apiVersion", "kind", "replicas", "color", "name", "items",
    "objs", "m", "ios", "any", "emb", "free", "nm", "type", "properties", "additionalProperties",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "default", "enum",
    "x-kubernetes-embedded-resource", "nullable", "required", "anyOf", "oneOf", "not", "allOf",
    "pattern", "format", "minimum", "maxLength", "x-kubernetes-list-type", "labels", "a"};
static const char *const STRS[] = {"object", "string", "integer", "array", "number", "boolean",
                                   "red", "", "v1", "map", "set", "^[a-z]+$", "date-time",
                                   "int32", "byte", "(", "[", "a{2}", "\\d"};

static json_t *gen(rng_t *r, int depth)
{
    uint32_t k = next(r) % (depth > 4 ? 6 : 9);
    switch (k) {
    case 0: return json_null();
    case 1: return json_integer((json_int_t)(next(r) % 2000) - 1000);
    case 2: return json_real((double)(next(r) % 1000) / 7.0 - 50);
    case 3: return json_boolean(next(r) & 1);
    case 4:
    case 5: return json_string(STRS[next(r) % (sizeof STRS / sizeof STRS[0])]);
    case 6: {
        json_t *a = json_array();
        for (uint32_t i = 0, n = next(r) % 4; i < n; i++)
            json_array_append_new(a, gen(r, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (uint32_t i = 0, n = next(r) % 5; i < n; i++)
            json_object_set_new(o, KEYS[next(r) % (sizeof KEYS / sizeof KEYS[0])],
                                gen(r, depth + 1));
        return o;
    }
    }
}

static json_t *load_probe(void)
{
    char path[512];
    const char *root = getenv("VKUBE_ROOT");
    snprintf(path, sizeof path, "%s/tests/crd/ref/probe-crd.json", root ? root : ".");
    return json_load_file(path, 0, NULL);
}

TEST(objects_against_probe_schema)
{
    json_t *crd = load_probe();
    CHECK(crd != NULL);
    if (!crd)
        return;
    const json_t *schema = vk_crd_schema(crd, "v1");
    rng_t r = {42};
    for (int i = 0; i < 3000; i++) {
        json_t *o = gen(&r, 0);
        json_t *old = gen(&r, 0);
        if (json_is_object(o) && (next(&r) & 1)) {
            json_t *spec = gen(&r, 1);
            json_object_set_new(o, "spec", spec);
        }
        json_t *pruned = json_array(), *c = json_array();
        vk_crdschema_prune(schema, o, pruned);
        vk_crdschema_default(schema, o);
        vk_crdschema_validate_update(schema, o, old, c);
        vk_crd_scale_validate(crd, "v1", o, c);
        json_t *row = vk_crd_table_row(crd, "v1", o, 1800000000);
        json_t *sc = NULL;
        if (json_is_object(o) && vk_crd_scale_get(crd, "v1", o, &sc) == 0)
            json_decref(sc);
        /* Pruning is idempotent. */
        CHECK_EQ_INT(vk_crdschema_prune(schema, o, NULL), 0);
        json_decref(row);
        json_decref(pruned);
        json_decref(c);
        json_decref(o);
        json_decref(old);
    }
    json_decref(crd);
}

TEST(random_schemas)
{
    rng_t r = {7};
    for (int i = 0; i < 3000; i++) {
        json_t *s = gen(&r, 0);
        json_t *v = gen(&r, 0);
        json_t *c = json_array(), *paths = json_array();
        vk_crdschema_check(s, "s", c);
        vk_crdschema_cel_rules(s, "s", paths);
        vk_crdschema_validate_value(s, v, "x", c);
        if (json_is_object(v)) {
            vk_crdschema_prune(s, v, paths);
            vk_crdschema_default(s, v);
        }
        json_decref(c);
        json_decref(paths);
        json_decref(s);
        json_decref(v);
    }
}

TEST(random_patterns_and_paths)
{
    static const char ALPHA[] = "ab\\dws.*+?()[]{}^$|-:,0123456789=!<>pP";
    rng_t r = {99};
    json_t *obj = json_pack("{s:{s:[{s:i},{s:s}],s:{s:b}}}", "a", "l", "n", 1, "n", "x", "m",
                            "k", 1);
    for (int i = 0; i < 5000; i++) {
        char pat[24];
        size_t n = next(&r) % (sizeof pat - 1);
        for (size_t j = 0; j < n; j++)
            pat[j] = ALPHA[next(&r) % (sizeof ALPHA - 1)];
        pat[n] = 0;
        json_t *s = json_pack("{s:s,s:s}", "type", "string", "pattern", pat);
        json_t *v = json_string("ab1");
        json_t *c = json_array();
        vk_crdschema_validate_value(s, v, "x", c);
        vk_crdschema_check(s, "s", c);
        json_t *out = json_array();
        vk_crd_jsonpath(obj, pat, out);
        json_decref(out);
        json_decref(c);
        json_decref(v);
        json_decref(s);
    }
    json_decref(obj);
}

int main(void)
{
    RUN(objects_against_probe_schema);
    RUN(random_schemas);
    RUN(random_patterns_and_paths);
    TEST_EXIT();
}
