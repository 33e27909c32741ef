/* The CRD functions together with the modules the API server already has,
 * the way the wiring note says to call them: rows into the resource table,
 * OpenAPI documents with the CRD schema (kubectl explain / validation), the
 * server-side apply schema callback over the CRD schema, the strict error. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "proxy/crd.h"
#include "proxy/crdschema.h"
#include "proxy/openapi.h"
#include "proxy/patch.h"
#include "proxy/resources.h"
#include "tests/test.h"

static json_t *load_probe(void)
{
    char path[512];
    const char *root = getenv("VKUBE_ROOT");
    snprintf(path, sizeof path, "%s/tests/crd/ref/probe-crd.json", root ? root : ".");
    return json_load_file(path, 0, NULL);
}

TEST(openapi_documents)
{
    json_t *crd = load_probe();
    CHECK(crd != NULL);
    if (!crd)
        return;
    vk_resources_t *t = vk_resources_new();
    json_t *st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", NULL);
    json_object_set_new(crd, "status", st);
    CHECK_EQ_INT(vk_crd_rows_add(crd, t), 0);
    vk_openapi_t *o = vk_openapi_new_from_resources(t, "v1.33.0");
    CHECK_EQ_INT(vk_crd_openapi_apply(crd, o), 0);
    const char *body, *etag;
    size_t len;
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/zzcrdprobe.vk.example.com/v1", &body, &len,
                                &etag),
                 0);
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_t *s = json_object_get(schemas, "com.example.vk.zzcrdprobe.v1.Probe");
    CHECK(s != NULL);
    /* The CRD's own schema is what kubectl explain reads. */
    json_t *color = json_object_get(
        json_object_get(json_object_get(json_object_get(s, "properties"), "spec"), "properties"),
        "color");
    json_t *want_enum = json_pack("[s,s]", "red", "blue");
    CHECK(json_equal(json_object_get(color, "enum"), want_enum));
    json_decref(want_enum);
    CHECK(json_object_get(json_object_get(s, "properties"), "metadata") != NULL);
    /* PATCH with fieldValidation (kubectl's server-side validation check),
     * and status/scale paths. */
    json_t *paths = json_object_get(doc, "paths");
    json_t *item = json_object_get(paths, "/apis/zzcrdprobe.vk.example.com/v1/namespaces/"
                                          "{namespace}/probes/{name}");
    CHECK(json_object_get(item, "patch") != NULL);
    char *pd = json_dumps(json_object_get(item, "patch"), JSON_COMPACT);
    CHECK(pd && strstr(pd, "\"fieldValidation\"") && !strstr(pd, "strategic-merge-patch"));
    free(pd);
    CHECK(json_object_get(paths, "/apis/zzcrdprobe.vk.example.com/v1/namespaces/{namespace}/"
                                 "probes/{name}/scale") != NULL);
    CHECK(json_object_get(paths, "/apis/zzcrdprobe.vk.example.com/v1/namespaces/{namespace}/"
                                 "probes/{name}/status") != NULL);
    json_decref(doc);
    /* ...and in v2. */
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v2", &body, &len, &etag), 0);
    doc = json_loadb(body, len, 0, NULL);
    CHECK(json_object_get(json_object_get(doc, "definitions"), "com.example.vk.zzcrdprobe.v1.Probe"));
    json_decref(doc);
    vk_openapi_free(o);
    /* Deleting the CRD: rows go. */
    CHECK_EQ_INT(vk_crd_rows_remove(crd, t), 1);
    CHECK(vk_resources_find(t, "zzcrdprobe.vk.example.com", "v1", "probes") == NULL);
    vk_resources_free(t);
    json_decref(crd);
}

TEST(apply_schema_callback)
{
    json_t *crd = json_pack(
        "{s:{s:[{s:s,s:b,s:b,s:{s:{s:s,s:{s:{s:s,s:{s:{s:s,s:s,s:[s],s:{s:s,s:{s:{s:s}}}}}}}}}}]}}",
        "spec", "versions", "name", "v1", "served", 1, "storage", 1, "schema", "openAPIV3Schema",
        "type", "object", "properties", "spec", "type", "object", "properties", "ports", "type",
        "array", "x-kubernetes-list-type", "map", "x-kubernetes-list-map-keys", "port", "items",
        "type", "object", "properties", "port", "type", "integer");
    vk_pool_t *pool = vk_pool_new();
    vk_patch_openapi_t ctx = {vk_crd_schema(crd, "v1"), pool};
    const char *path[] = {"spec", "ports"};
    vk_patch_field_t f;
    memset(&f, 0, sizeof f);
    CHECK_EQ_INT(vk_patch_schema_openapi(&ctx, path, 2, &f), 0);
    CHECK_EQ_INT(f.list_type, VK_PATCH_LIST_MAP);
    CHECK_EQ_STR(f.list_map_keys, "port");
    vk_pool_free(pool);
    json_decref(crd);
}

TEST(strict_error)
{
    json_t *p = json_pack("[s,s]", "spec.objs[0].x", "spec.unknownf");
    char *m = vk_crd_strict_error("Probe", "v1", p);
    /* As kube-apiserver 1.36 (tests/crd/ref/expect/obj-bad1-strict.json). */
    CHECK_EQ_STR(m, "Probe in version \"v1\" cannot be handled as a Probe: strict decoding error: "
                    "unknown field \"spec.objs[0].x\", unknown field \"spec.unknownf\"");
    free(m);
    json_decref(p);
}

int main(void)
{
    RUN(openapi_documents);
    RUN(apply_schema_callback);
    RUN(strict_error);
    TEST_EXIT();
}
