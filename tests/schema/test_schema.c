/* Unit tests for proxy/schema: kind lookup, field lookup and path info over
 * the generated tables. */
#include "proxy/schema.h"

#include <string.h>

#include "common/err.h"
#include "tests/test.h"

TEST(kind_lookup)
{
    const vk_schema_msg_t *m = vk_schema_kind("apps", "v1", "Deployment");
    CHECK(m != NULL);
    if (m)
        CHECK_EQ_STR(m->name, "io.k8s.api.apps.v1.Deployment");
    m = vk_schema_kind("", "v1", "Pod");
    CHECK(m && strcmp(m->name, "io.k8s.api.core.v1.Pod") == 0);
    m = vk_schema_kind("apiextensions.k8s.io", "v1", "CustomResourceDefinition");
    CHECK(m && strstr(m->name, "apiextensions-apiserver") != NULL);
    /* meta.k8s.io kinds are found under any group version. */
    m = vk_schema_kind("apps", "v1", "DeleteOptions");
    CHECK(m && strcmp(m->name, "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions") == 0);
    CHECK(vk_schema_kind("apps", "v1", "Pod") == NULL);
    CHECK(vk_schema_kind("", "v1", "NoSuchKind") == NULL);
    CHECK(vk_schema_msg_by_name("io.k8s.api.core.v1.PodSpec") != NULL);
    CHECK(vk_schema_msg_by_name("io.k8s.api.core.v1.Nope") == NULL);
}

TEST(fields)
{
    const vk_schema_msg_t *m = vk_schema_msg_by_name("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    CHECK(m != NULL);
    if (!m)
        return;
    const vk_schema_field_t *f = vk_schema_field_by_number(m, 8);
    CHECK(f && strcmp(f->json, "creationTimestamp") == 0);
    CHECK(f && vk_schema_msg(f->msg)->special == VK_SM_TIME);
    f = vk_schema_field_by_json(m, "labels");
    CHECK(f && (f->flags & VK_SF_MAP) && f->key_type == VK_SF_STRING && f->type == VK_SF_STRING);
    CHECK(f && f->number == 11);
    /* Inline fields are looked through: Volume embeds VolumeSource. */
    m = vk_schema_msg_by_name("io.k8s.api.core.v1.Volume");
    f = m ? vk_schema_field_by_json(m, "configMap") : NULL;
    CHECK(f && f->type == VK_SF_MESSAGE && (f->flags & VK_SF_POINTER));
    /* JSON names come from Go tags: JSONSchemaProps.$ref. */
    m = vk_schema_msg_by_name(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps");
    CHECK(m && vk_schema_field_by_json(m, "$ref") != NULL);
    CHECK(m && vk_schema_field_by_json(m, "x-kubernetes-preserve-unknown-fields") != NULL);
    /* Go +enum string types carry their values and the upstream doc suffix. */
    m = vk_schema_msg_by_name("io.k8s.api.core.v1.Container");
    f = m ? vk_schema_field_by_json(m, "imagePullPolicy") : NULL;
    CHECK(f && f->enum_values && !strcmp(f->enum_values, "Always\nIfNotPresent\nNever"));
    CHECK(f && f->doc && strstr(f->doc, "Possible enum values:\n - `\"Always\"` means that kubelet"));
    f = m ? vk_schema_field_by_json(m, "name") : NULL;
    CHECK(f && f->enum_values == NULL);
    /* Docs are present. */
    m = vk_schema_kind("", "v1", "Pod");
    CHECK(m && m->doc && strstr(m->doc, "collection of containers"));
}

TEST(path_info)
{
    vk_schema_field_info_t fi;
    const char *p1[] = {"spec", "template", "spec", "containers"};
    CHECK_EQ_INT(vk_schema_path_info("apps", "v1", "Deployment", p1, 4, &fi), 0);
    CHECK_EQ_STR(fi.patch_strategy, "merge");
    CHECK_EQ_STR(fi.patch_merge_key, "name");
    CHECK_EQ_STR(fi.list_type, "map");
    CHECK_EQ_STR(fi.list_map_keys, "name");
    CHECK(fi.is_list && fi.msg && strcmp(fi.msg->name, "io.k8s.api.core.v1.Container") == 0);

    const char *p2[] = {"spec", "containers", "0", "ports"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p2, 4, &fi), 0);
    CHECK_EQ_STR(fi.patch_merge_key, "containerPort");
    CHECK_EQ_STR(fi.list_map_keys, "containerPort,protocol");

    const char *p3[] = {"spec", "volumes", "3", "configMap", "items"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p3, 5, &fi), 0);
    CHECK_EQ_STR(fi.list_type, "atomic");
    CHECK(fi.patch_strategy == NULL);

    const char *p4[] = {"metadata", "finalizers"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "ConfigMap", p4, 2, &fi), 0);
    CHECK_EQ_STR(fi.patch_strategy, "merge");
    CHECK(fi.patch_merge_key == NULL);

    /* Through a map: resources.limits.<name> is a Quantity. */
    const char *p5[] = {"spec", "containers", "resources", "limits", "cpu"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p5, 5, &fi), 0);
    CHECK(fi.is_map);

    /* +mapType=atomic on PodSpec.nodeSelector, +structType=atomic on LabelSelector. */
    const char *p8[] = {"spec", "nodeSelector"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p8, 2, &fi), 0);
    CHECK_EQ_STR(fi.map_type, "atomic");
    const char *p9[] = {"spec", "selector"};
    CHECK_EQ_INT(vk_schema_path_info("apps", "v1", "Deployment", p9, 2, &fi), 0);
    CHECK_EQ_STR(fi.struct_type, "atomic");
    CHECK(fi.map_type == NULL);
    const char *p10[] = {"spec", "template"};
    CHECK_EQ_INT(vk_schema_path_info("apps", "v1", "Deployment", p10, 2, &fi), 0);
    CHECK(fi.struct_type == NULL);

    const char *p6[] = {"spec", "nosuchfield"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p6, 2, &fi), VK_ENOTFOUND);
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Nope", p6, 1, &fi), VK_ENOTFOUND);
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p6, 0, &fi), VK_ENOTFOUND);
    /* Beyond a scalar leaf. */
    const char *p7[] = {"metadata", "name", "x"};
    CHECK_EQ_INT(vk_schema_path_info("", "v1", "Pod", p7, 3, &fi), VK_ENOTFOUND);
}

TEST(tables_consistent)
{
    size_t n;
    const vk_schema_kind_t *k = vk_schema_kinds(&n);
    CHECK(n > 100);
    for (size_t i = 0; i < n; i++)
        CHECK(k[i].msg < vk_schema_gen_nmsgs);
    for (size_t i = 0; i + 1 < vk_schema_gen_nmsgs; i++)
        CHECK(strcmp(vk_schema_gen_msgs[i].name, vk_schema_gen_msgs[i + 1].name) < 0);
    for (size_t i = 0; i < vk_schema_gen_nmsgs; i++) {
        const vk_schema_msg_t *m = vk_schema_msg((uint32_t)i);
        for (size_t j = 0; j < m->nfields; j++) {
            const vk_schema_field_t *f = vk_schema_msg_field(m, j);
            if (f->type == VK_SF_MESSAGE)
                CHECK(f->msg < vk_schema_gen_nmsgs);
        }
    }
}

TEST(unknown_fields)
{
    json_t *o = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"bogus\":1,"
        "\"metadata\":{\"name\":\"x\",\"labels\":{\"any\":\"key\"},\"managedFields\":"
        "[{\"fieldsV1\":{\"f:anything\":{}}}]},"
        "\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"a\":\"b\"},\"x\":1},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"name\":\"d\",\"imagee\":\"n\","
        "\"resources\":{\"limits\":{\"cpu\":\"1\"}},\"ports\":[{\"containerPort\":1,\"hostIP\":\"\"}]}],"
        "\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\",\"nope\":true}}]}}}}",
        0, NULL);
    CHECK(o != NULL);
    char *paths[8] = {0};
    int n = vk_schema_unknown_fields("apps", "v1", "Deployment", o, paths, 8);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_STR(paths[0], "bogus");
    CHECK_EQ_STR(paths[1], "spec.selector.x");
    CHECK_EQ_STR(paths[2], "spec.template.spec.containers[1].imagee");
    CHECK_EQ_STR(paths[3], "spec.template.spec.volumes[0].configMap.nope");
    for (int i = 0; i < 8; i++)
        free(paths[i]);
    /* max bounds what is written, not what is counted. */
    n = vk_schema_unknown_fields("apps", "v1", "Deployment", o, paths, 1);
    CHECK_EQ_INT(n, 4);
    free(paths[0]);
    CHECK_EQ_INT(vk_schema_unknown_fields("example.com", "v1", "Widget", o, paths, 1), VK_ENOTFOUND);
    json_decref(o);
    o = json_loads("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"}}", 0, NULL);
    CHECK_EQ_INT(vk_schema_unknown_fields("", "v1", "ConfigMap", o, paths, 1), 0);
    json_decref(o);
    /* Message-valued map entries: CRD schema properties (JSONSchemaProps). */
    o = json_loads("{\"spec\":{\"versions\":[{\"name\":\"v1\",\"schema\":{\"openAPIV3Schema\":"
                   "{\"properties\":{\"size\":{\"type\":\"integer\",\"typo\":1}}}}}]}}",
                   0, NULL);
    CHECK_EQ_INT(vk_schema_unknown_fields("apiextensions.k8s.io", "v1", "CustomResourceDefinition",
                                          o, paths, 1), 1);
    CHECK_EQ_STR(paths[0], "spec.versions[0].schema.openAPIV3Schema.properties.size.typo");
    free(paths[0]);
    json_decref(o);
}

/* Beta and alpha versions are in the tables, and the quantity markers the
 * write path uses (proxy/quantity.c) are set where they belong. */
TEST(beta_kinds_and_quantity_markers)
{
    const vk_schema_msg_t *d = vk_schema_kind("apps", "v1beta1", "Deployment");
    CHECK(d != NULL);
    CHECK(d && !strcmp(d->name, "io.k8s.api.apps.v1beta1.Deployment"));
    CHECK(vk_schema_kind("batch", "v1beta1", "CronJob") != NULL);
    CHECK(vk_schema_kind("autoscaling", "v2", "HorizontalPodAutoscaler") != NULL);
    CHECK(vk_schema_kind("flowcontrol.apiserver.k8s.io", "v1beta3", "FlowSchema") != NULL);
    CHECK(vk_schema_kind("apps", "v1", "Deployment") != vk_schema_kind("apps", "v1beta2", "Deployment"));
    size_t nbeta = 0, n;
    const vk_schema_kind_t *k = vk_schema_kinds(&n);
    for (size_t i = 0; i < n; i++)
        nbeta += strstr(k[i].version, "beta") || strstr(k[i].version, "alpha");
    CHECK(nbeta >= 80);

    const vk_schema_msg_t *pod = vk_schema_kind("", "v1", "Pod");
    const vk_schema_msg_t *cm = vk_schema_kind("", "v1", "ConfigMap");
    CHECK(pod && pod->has_quantity);
    CHECK(cm && !cm->has_quantity);
    const vk_schema_msg_t *rr = vk_schema_msg_by_name("io.k8s.api.core.v1.ResourceRequirements");
    CHECK(rr && rr->has_quantity);
    const vk_schema_field_t *lim = rr ? vk_schema_field_by_json(rr, "limits") : NULL;
    CHECK(lim && (lim->flags & VK_SF_RESOURCELIST) && (lim->flags & VK_SF_MAP));
    const vk_schema_msg_t *ed = vk_schema_msg_by_name("io.k8s.api.core.v1.EmptyDirVolumeSource");
    const vk_schema_field_t *sl = ed ? vk_schema_field_by_json(ed, "sizeLimit") : NULL;
    CHECK(sl && !(sl->flags & VK_SF_RESOURCELIST));
    CHECK(sl && vk_schema_msg(sl->msg)->special == VK_SM_QUANTITY);
}

int main(void)
{
    RUN(unknown_fields);
    RUN(kind_lookup);
    RUN(fields);
    RUN(path_info);
    RUN(tables_consistent);
    RUN(beta_kinds_and_quantity_markers);
    TEST_EXIT();
}
