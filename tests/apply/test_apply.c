/* Unit tests for proxy/apply with the fake schema of tests/patch/fake_schema.h:
 * FieldsV1 shapes, the conflict Status (message and causes), force, pruning of
 * fields an applier stops sending, ownership for ordinary updates, and the
 * shape kube-apiserver writes for a typed create (kubectl create deployment). */
#include "proxy/apply.h"

#include "common/err.h"
#include "common/mem.h"
#include "tests/patch/fake_schema.h"
#include "tests/test.h"

static json_t *J(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", s, e.text);
    return j;
}

static vk_apply_opts_t opts(const char *manager, int force) {
    vk_apply_opts_t o = {.manager = manager,
                         .api_version = "v1",
                         .now = "2026-11-25T21:00:00Z",
                         .force = force,
                         .schema = fake_schema};
    return o;
}

/* Applies config (JSON text) as manager onto *live, replacing it on success. */
static int do_apply(json_t **live, const char *config, const char *manager, int force,
                    char **err, json_t **causes) {
    json_t *c = J(config), *out = NULL;
    vk_apply_opts_t o = opts(manager, force);
    int rc = vk_apply(*live, c, &o, &out, causes, err);
    json_decref(c);
    if (rc == 0) {
        json_decref(*live);
        *live = out;
    }
    return rc;
}

static int do_update(json_t **live, const char *obj, const char *manager) {
    json_t *o = J(obj);
    vk_apply_opts_t op = opts(manager, 0);
    char *err = NULL;
    int rc = vk_apply_track(*live, o, &op, &err);
    free(err);
    if (rc == 0) {
        json_decref(*live);
        *live = o;
    } else {
        json_decref(o);
    }
    return rc;
}

/* The managedFields entry of manager (borrowed) or NULL. */
static json_t *entry(json_t *obj, const char *manager, const char *op) {
    json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
    size_t i;
    json_t *e;
    json_array_foreach(mf, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "manager")), manager) == 0 &&
            strcmp(json_string_value(json_object_get(e, "operation")), op) == 0)
            return e;
    }
    return NULL;
}

static char *fields(json_t *obj, const char *manager, const char *op) {
    json_t *e = entry(obj, manager, op);
    return e ? json_dumps(json_object_get(e, "fieldsV1"), JSON_COMPACT | JSON_SORT_KEYS)
             : strdup("(none)");
}

#define CHECK_FIELDS(obj, manager, op, want)                                                       \
    do {                                                                                           \
        char *f_ = fields(obj, manager, op);                                                       \
        CHECK_EQ_STR(f_, want);                                                                    \
        free(f_);                                                                                  \
    } while (0)

#define CM(data) "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":" data "}"

TEST(apply_create_and_entry_shape)
{
    json_t *live = NULL;
    char *err = NULL;
    CHECK_EQ_INT(do_apply(&live, CM("{\"a\":\"1\",\"b\":\"2\"}"), "kubectl", 0, &err, NULL), 0);
    json_t *e = entry(live, "kubectl", "Apply");
    CHECK(e != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(e, "apiVersion")), "v1");
    CHECK_EQ_STR(json_string_value(json_object_get(e, "fieldsType")), "FieldsV1");
    CHECK_EQ_STR(json_string_value(json_object_get(e, "time")), "2026-11-25T21:00:00Z");
    CHECK_FIELDS(live, "kubectl", "Apply", "{\"f:data\":{\"f:a\":{},\"f:b\":{}}}");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(live, "data"), "b")), "2");
    /* managedFields in an applied configuration are refused */
    json_t *out = NULL;
    json_t *bad = J("{\"metadata\":{\"managedFields\":[]}}");
    vk_apply_opts_t o = opts("x", 0);
    CHECK_EQ_INT(vk_apply(live, bad, &o, &out, NULL, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "metadata.managedFields must be nil");
    free(err);
    json_decref(bad);
    json_decref(live);
}

TEST(apply_conflicts_and_force)
{
    json_t *live = NULL;
    char *err = NULL;
    json_t *causes = NULL;
    CHECK_EQ_INT(do_apply(&live, CM("{\"x\":\"1\"}"), "kubectl", 0, &err, NULL), 0);
    CHECK_EQ_INT(do_update(&live, CM("{\"x\":\"1\",\"a\":\"1\"}"), "kubectl-client-side-apply"),
                 0);
    CHECK_EQ_INT(do_apply(&live, CM("{\"x\":\"1\",\"a\":\"2\"}"), "kubectl", 0, &err, &causes),
                 VK_ECONFLICT);
    CHECK_EQ_STR(err, "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" "
                      "using v1: .data.a");
    CHECK_EQ_INT(json_array_size(causes), 1);
    json_t *c0 = json_array_get(causes, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(c0, "reason")), "FieldManagerConflict");
    CHECK_EQ_STR(json_string_value(json_object_get(c0, "message")),
                 "conflict with \"kubectl-client-side-apply\" using v1");
    CHECK_EQ_STR(json_string_value(json_object_get(c0, "field")), ".data.a");
    free(err);
    json_decref(causes);
    /* the live object is untouched by a failed apply */
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(live, "data"), "a")), "1");
    /* force takes the field over */
    CHECK_EQ_INT(do_apply(&live, CM("{\"x\":\"1\",\"a\":\"2\"}"), "kubectl", 1, &err, NULL), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(live, "data"), "a")), "2");
    CHECK_FIELDS(live, "kubectl", "Apply", "{\"f:data\":{\"f:a\":{},\"f:x\":{}}}");
    CHECK(entry(live, "kubectl-client-side-apply", "Update") == NULL);
    json_decref(live);
}

TEST(apply_prunes_what_the_applier_dropped)
{
    json_t *live = NULL;
    char *err = NULL;
    CHECK_EQ_INT(do_apply(&live,
                          "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":\"1\",\"b\":\"2\"},"
                          "\"annotations\":{\"n\":\"1\"}},\"data\":{\"k\":\"v\"}}",
                          "one", 0, &err, NULL),
                 0);
    CHECK_EQ_INT(do_apply(&live, "{\"metadata\":{\"name\":\"c\",\"labels\":{\"b\":\"2\"}}}",
                          "two", 0, &err, NULL),
                 0);
    /* "one" stops applying labels.b (still owned by two), annotations and data */
    CHECK_EQ_INT(do_apply(&live, "{\"metadata\":{\"name\":\"c\",\"labels\":{\"a\":\"1\"}}}",
                          "one", 0, &err, NULL),
                 0);
    json_t *meta = json_object_get(live, "metadata");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(meta, "labels"), "b")), "2");
    CHECK(json_object_get(meta, "annotations") == NULL); /* emptied maps go too */
    CHECK(json_object_get(live, "data") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(meta, "name")), "c");
    json_decref(live);
}

#define POD(spec) "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":" spec "}"

TEST(apply_lists_by_key_and_sets)
{
    json_t *live = NULL;
    char *err = NULL;
    CHECK_EQ_INT(do_apply(&live,
                          POD("{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"ports\":[{"
                              "\"containerPort\":80}]}],\"tolerations\":[{\"key\":\"t\"}]}"),
                          "m1", 0, &err, NULL),
                 0);
    CHECK_FIELDS(live, "m1", "Apply",
                 "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"a\\\"}\":{\".\":{},"
                 "\"f:image\":{},\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":80,"
                 "\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:containerPort\":{}}}}},"
                 "\"f:tolerations\":{}}}");
    /* a second manager adds a container: merged by key, both kept */
    CHECK_EQ_INT(do_apply(&live, POD("{\"containers\":[{\"name\":\"b\",\"image\":\"2\"}]}"), "m2",
                          0, &err, NULL),
                 0);
    json_t *cs = json_object_get(json_object_get(live, "spec"), "containers");
    CHECK_EQ_INT(json_array_size(cs), 2);
    /* conflicting on an atomic list names the list itself */
    CHECK_EQ_INT(do_apply(&live, POD("{\"tolerations\":[{\"key\":\"u\"}]}"), "m2", 0, &err, NULL),
                 VK_ECONFLICT);
    CHECK_EQ_STR(err, "Apply failed with 1 conflict: conflict with \"m1\": .spec.tolerations");
    free(err);
    /* key-less item in an associative list */
    CHECK_EQ_INT(do_apply(&live, POD("{\"containers\":[{\"image\":\"x\"}]}"), "m3", 0, &err,
                          NULL),
                 VK_EINVALID);
    CHECK_EQ_STR(err, ".spec.containers: element 0: associative list with keys has an element "
                      "that omits key field \"name\" (and doesn't have default value)");
    free(err);
    /* set lists use v: elements */
    json_t *l2 = NULL;
    CHECK_EQ_INT(do_apply(&l2, "{\"metadata\":{\"name\":\"p\",\"finalizers\":[\"x\",\"y\"]}}",
                          "f", 0, &err, NULL),
                 0);
    CHECK_FIELDS(l2, "f", "Apply",
                 "{\"f:metadata\":{\"f:finalizers\":{\"v:\\\"x\\\"\":{},\"v:\\\"y\\\"\":{}}}}");
    json_decref(l2);
    json_decref(live);
}

TEST(track_create_like_a_typed_server)
{
    /* kubectl create deployment: struct fields of the zero object (spec,
     * template, containers) carry no "." of their own; added maps and items do */
    json_t *live = NULL;
    CHECK_EQ_INT(do_update(&live,
                           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
                           "\"name\":\"d\",\"labels\":{\"app\":\"d\"}},\"spec\":{\"replicas\":1,"
                           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
                           "\"nginx\",\"resources\":{}}]}}}}",
                           "kubectl-create"),
                 0);
    CHECK_FIELDS(live, "kubectl-create", "Update",
                 "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},\"f:spec\":{"
                 "\"f:replicas\":{},\"f:template\":{\"f:spec\":{\"f:containers\":{"
                 "\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{},"
                 "\"f:resources\":{}}}}}}}");
    /* kubectl set image: the image moves to the new manager */
    CHECK_EQ_INT(do_update(&live,
                           "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
                           "\"name\":\"d\",\"labels\":{\"app\":\"d\"}},\"spec\":{\"replicas\":1,"
                           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
                           "\"nginx:2\",\"resources\":{}}]}}}}",
                           "kubectl-set"),
                 0);
    CHECK_FIELDS(live, "kubectl-set", "Update",
                 "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{"
                 "\"k:{\\\"name\\\":\\\"web\\\"}\":{\"f:image\":{}}}}}}}");
    char *f = fields(live, "kubectl-create", "Update");
    CHECK(f && !strstr(f, "f:image"));
    free(f);
    /* an update that changes nothing adds no entry */
    json_t *copy = json_deep_copy(live);
    char *s = json_dumps(copy, 0);
    CHECK_EQ_INT(do_update(&live, s, "noop"), 0);
    CHECK(entry(live, "noop", "Update") == NULL);
    free(s);
    json_decref(copy);
    json_decref(live);
}

TEST(ignored_fields_are_not_tracked)
{
    json_t *live = NULL, *c = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"a\":1},\"status\":{"
                                "\"phase\":\"Running\"}}"),
           *out = NULL;
    const char *ign[] = {"status", NULL};
    vk_apply_opts_t o = opts("m", 0);
    o.ignored = ign;
    char *err = NULL;
    CHECK_EQ_INT(vk_apply(live, c, &o, &out, NULL, &err), 0);
    CHECK_FIELDS(out, "m", "Apply", "{\"f:spec\":{\"f:a\":{}}}");
    json_decref(c);
    json_decref(out);
}

static const char CRD_SCHEMA[] =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
    "\"ports\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"port\",\"protocol\"],\"items\":{\"type\":\"object\","
    "\"properties\":{\"port\":{\"type\":\"integer\"},\"protocol\":{\"type\":\"string\"},"
    "\"name\":{\"type\":\"string\"}}}},"
    "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{\"type\":"
    "\"string\"}},"
    "\"args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"sel\":{\"type\":\"object\",\"x-kubernetes-map-type\":\"atomic\","
    "\"additionalProperties\":{\"type\":\"string\"}}}}}}";

TEST(custom_resource_schema_from_openapi)
{
    json_t *schema = J(CRD_SCHEMA);
    vk_pool_t *pool = vk_pool_new();
    vk_patch_openapi_t ctx = {schema, pool};
    vk_apply_opts_t o = {.manager = "a", .api_version = "example.com/v1", .now = "t",
                         .schema = vk_patch_schema_openapi, .schema_ctx = &ctx};
    json_t *c1 = J("{\"spec\":{\"ports\":[{\"port\":80,\"protocol\":\"TCP\",\"name\":\"h\"}],"
                   "\"tags\":[\"x\"],\"args\":[\"1\"],\"sel\":{\"k\":\"v\"}}}");
    json_t *live = NULL, *out = NULL;
    char *err = NULL;
    CHECK_EQ_INT(vk_apply(NULL, c1, &o, &live, NULL, &err), 0);
    CHECK_FIELDS(live, "a", "Apply",
                 "{\"f:spec\":{\"f:args\":{},\"f:ports\":{\"k:{\\\"port\\\":80,"
                 "\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},\"f:name\":{},\"f:port\":{},"
                 "\"f:protocol\":{}}},\"f:sel\":{},\"f:tags\":{\"v:\\\"x\\\"\":{}}}}");
    /* another manager adds a port and a tag: merged, no conflict */
    json_t *c2 = J("{\"spec\":{\"ports\":[{\"port\":81,\"protocol\":\"UDP\"}],\"tags\":[\"y\"]}}");
    o.manager = "b";
    CHECK_EQ_INT(vk_apply(live, c2, &o, &out, NULL, &err), 0);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(out, "spec"), "ports")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(out, "spec"), "tags")), 2);
    json_decref(out);
    /* atomic map and atomic list conflict as a whole */
    json_t *c3 = J("{\"spec\":{\"sel\":{\"k\":\"v\",\"j\":\"w\"}}}");
    CHECK_EQ_INT(vk_apply(live, c3, &o, &out, NULL, &err), VK_ECONFLICT);
    CHECK_EQ_STR(err, "Apply failed with 1 conflict: conflict with \"a\": .spec.sel");
    free(err);
    json_decref(c1);
    json_decref(c2);
    json_decref(c3);
    json_decref(live);
    json_decref(schema);
    vk_pool_free(pool);
}

int main(void) {
    RUN(apply_create_and_entry_shape);
    RUN(apply_conflicts_and_force);
    RUN(apply_prunes_what_the_applier_dropped);
    RUN(apply_lists_by_key_and_sets);
    RUN(track_create_like_a_typed_server);
    RUN(ignored_fields_are_not_tracked);
    RUN(custom_resource_schema_from_openapi);
    TEST_EXIT();
}
