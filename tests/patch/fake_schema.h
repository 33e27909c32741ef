/* A fake vk_patch_schema_cb for the patch and apply tests: a small table of
 * the merge keys, strategies and list types of core/v1 Pod and Service and
 * apps/v1 Deployment (as their +patchMergeKey/+patchStrategy/+listType/
 * +listMapKey markers in k8s.io/api say), so those tests do not depend on
 * the generated schema tables. */
#ifndef VK_TEST_FAKE_SCHEMA_H
#define VK_TEST_FAKE_SCHEMA_H

#include <string.h>

#include "common/err.h"
#include "proxy/patch.h"

typedef struct {
    const char *path; /* dotted, list indices skipped */
    unsigned strategy;
    const char *merge_key;
    int list_type;
    const char *map_keys;
    int primitive;
    int is_map;
    int zero_present;
} fake_field_t;

#define M VK_PATCH_STRATEGY_MERGE
#define RK VK_PATCH_STRATEGY_RETAIN_KEYS
#define LMAP VK_PATCH_LIST_MAP
#define LSET VK_PATCH_LIST_SET
#define LATOM VK_PATCH_LIST_ATOMIC
/* Pod spec fields, also found under spec.template.spec (Deployment). */
#define POD_SPEC_FIELDS(p)                                                                         \
    {p "containers", M, "name", LMAP, "name", 0, 0, 1},                                           \
    {p "initContainers", M, "name", LMAP, "name", 0, 0, 0},                                             \
    {p "containers.ports", M, "containerPort", LMAP, "containerPort,protocol", 0, 0, 0},            \
    {p "containers.env", M, "name", LMAP, "name", 0, 0, 0},                                             \
    {p "containers.volumeMounts", M, "mountPath", LMAP, "mountPath", 0, 0, 0},                          \
    {p "containers.args", 0, NULL, LATOM, NULL, 1, 0, 0},                                               \
    {p "containers.command", 0, NULL, LATOM, NULL, 1, 0, 0},                                            \
    {p "volumes", M | RK, "name", LMAP, "name", 0, 0, 0},                                               \
    {p "imagePullSecrets", M, "name", LMAP, "name", 0, 0, 0},                                           \
    {p "tolerations", 0, NULL, LATOM, NULL, 0, 0, 0},

static const fake_field_t fake_fields[] = {
    {"metadata.finalizers", M, NULL, LSET, NULL, 1, 0, 0},
    {"metadata.ownerReferences", M, "uid", LMAP, "uid", 0, 0, 0},
    {"metadata.managedFields", 0, NULL, LATOM, NULL, 0, 0, 0},
    {"status.conditions", M, "type", LMAP, "type", 0, 0, 0},
    {"spec.ports", M, "port", LMAP, "port,protocol", 0, 0, 0}, /* Service */
    {"spec.strategy", RK, NULL, 0, NULL, 0, 0, 0},             /* Deployment */
    {"metadata.labels", 0, NULL, 0, NULL, 0, 1, 0},
    {"metadata.annotations", 0, NULL, 0, NULL, 0, 1, 0},
    {"data", 0, NULL, 0, NULL, 0, 1, 0}, /* ConfigMap */
    {"spec.template.metadata.labels", 0, NULL, 0, NULL, 0, 1, 0},
    {"spec.nodeSelector", 0, NULL, 0, NULL, 0, 1, 0},
    POD_SPEC_FIELDS("spec.")
    POD_SPEC_FIELDS("spec.template.spec.")
};
#undef M
#undef RK
#undef LMAP
#undef LSET
#undef LATOM

static int fake_schema(void *ctx, const char *const *path, size_t depth, vk_patch_field_t *out) {
    (void)ctx;
    char buf[512];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < depth; i++) {
        size_t l = strlen(path[i]);
        if (n + l + 2 > sizeof buf)
            return VK_ENOTFOUND;
        if (i)
            buf[n++] = '.';
        memcpy(buf + n, path[i], l);
        n += l;
        buf[n] = 0;
    }
    for (size_t i = 0; i < sizeof fake_fields / sizeof fake_fields[0]; i++) {
        if (strcmp(fake_fields[i].path, buf) == 0) {
            memset(out, 0, sizeof *out);
            out->strategy = fake_fields[i].strategy;
            out->merge_key = fake_fields[i].merge_key;
            out->list_type = fake_fields[i].list_type;
            out->list_map_keys = fake_fields[i].map_keys;
            out->is_list = fake_fields[i].list_type != 0;
            out->primitive_list = fake_fields[i].primitive;
            out->is_map = fake_fields[i].is_map;
            out->zero_present = fake_fields[i].zero_present;
            return 0;
        }
    }
    return VK_ENOTFOUND;
}

#endif
