/* Fuzz smoke test for proxy/apply: applied configurations from
 * tests/apply/corpus/config and managedFields lists from corpus/managed, plus
 * a few thousand deterministic mutations, through vk_apply and
 * vk_apply_track on a Deployment (fake schema). Must never crash under
 * ASan/UBSan; results are objects, errors come with a message. */
#include "proxy/apply.h"

#include "common/err.h"
#include "tests/patch/fake_schema.h"
#include "tests/selector/fuzz.h"
#include "tests/test.h"

static json_t *live_;
static vk_patch_schema_cb schema_ = fake_schema;
static vk_patch_kind_t dep_ = {"apps", "v1", "Deployment"};
static void *schema_ctx_;
static size_t bad_, parsed_;

static void check_result(int rc, json_t *out, char *err) {
    if (rc == 0 && !json_is_object(out))
        bad_++;
    if (rc != 0 && (!err || !*err))
        bad_++;
}

static void one_config(const char *d, size_t len) {
    json_t *c = json_loadb(d, len, 0, NULL);
    if (!c)
        return;
    parsed_++;
    for (int force = 0; force < 2; force++) {
        vk_apply_opts_t o = {.manager = force ? "forcer" : "fuzz", .api_version = "apps/v1",
                             .now = "2026-01-01T00:00:00Z", .force = force,
                             .schema = schema_, .schema_ctx = schema_ctx_};
        json_t *out = NULL, *causes = NULL;
        char *err = NULL;
        int rc = vk_apply(live_, c, &o, &out, &causes, &err);
        check_result(rc, out, err);
        if (rc == VK_ECONFLICT && !json_is_array(causes))
            bad_++;
        free(err);
        json_decref(causes);
        json_decref(out);
    }
    json_t *n = json_deep_copy(c);
    vk_apply_opts_t o = {.manager = "upd", .api_version = "apps/v1", .now = "x",
                         .schema = schema_, .schema_ctx = schema_ctx_};
    char *err = NULL;
    int rc = vk_apply_track(live_, n, &o, &err);
    check_result(rc, n, err);
    free(err);
    json_decref(n);
    json_decref(c);
}

static void one_managed(const char *d, size_t len) {
    json_t *mf = json_loadb(d, len, JSON_DECODE_ANY, NULL);
    if (!mf)
        return;
    parsed_++;
    json_t *l = json_deep_copy(live_);
    json_object_set_new(json_object_get(l, "metadata"), "managedFields", mf);
    json_t *c = json_loads("{\"spec\":{\"replicas\":3,\"template\":{\"spec\":{\"containers\":[{"
                           "\"name\":\"web\",\"image\":\"z\"}]}}}}",
                           0, NULL);
    vk_apply_opts_t o = {.manager = "kubectl", .api_version = "apps/v1", .now = "t",
                         .schema = schema_, .schema_ctx = schema_ctx_};
    json_t *out = NULL, *causes = NULL;
    char *err = NULL;
    int rc = vk_apply(l, c, &o, &out, &causes, &err);
    check_result(rc, out, err);
    free(err);
    json_decref(causes);
    json_decref(out);
    json_t *n = json_deep_copy(l);
    json_object_set_new(n, "data", json_string("changed"));
    err = NULL;
    rc = vk_apply_track(l, n, &o, &err);
    check_result(rc, n, err);
    free(err);
    json_decref(n);
    json_decref(c);
    json_decref(l);
}

static const char *const tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "0", "\"f:spec\"", "\"k:{\\\"name\\\":\\\"web\\\"}\"",
    "\"v:1\"", "\"i:0\"", "\".\"", "{}", "[]", "\"containers\"", "\"name\"", "\"image\"",
    "\"metadata\"", "\"labels\"", "\"finalizers\"", "\"ports\"", "\"containerPort\"", "80",
    "\"managedFields\"", "\"fieldsV1\"", "\"operation\"", "\"Apply\"", "\"Update\"", NULL};

static void run(const char *dir, fuzz_one_fn fn) {
    fuzz_corpus_t c = {0};
    CHECK(fuzz_load(&c, dir) >= 2);
    bad_ = parsed_ = 0;
    fuzz_run(&c, 2500, tokens, fn);
    CHECK_EQ_INT(bad_, 0);
    CHECK(parsed_ > 100);
    fuzz_free(&c);
}

TEST(fuzz_apply_config) { run("tests/apply/corpus/config", one_config); }
TEST(fuzz_apply_managed_fields) { run("tests/apply/corpus/managed", one_managed); }
TEST(fuzz_apply_config_builtin_schema) {
    schema_ = vk_patch_schema_builtin;
    schema_ctx_ = &dep_;
    run("tests/apply/corpus/config", one_config);
    schema_ = fake_schema;
    schema_ctx_ = NULL;
}

int main(void) {
    live_ = json_loads(
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\","
        "\"labels\":{\"app\":\"d\"},\"finalizers\":[\"x\"],\"managedFields\":[{\"manager\":"
        "\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"apps/v1\",\"fieldsType\":"
        "\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:replicas\":{}}}},{\"manager\":\"edit\","
        "\"operation\":\"Update\",\"apiVersion\":\"apps/v1\",\"fieldsType\":\"FieldsV1\","
        "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}}}}]},"
        "\"spec\":{\"replicas\":1,\"template\":{\"spec\":{\"containers\":[{\"name\":\"web\","
        "\"image\":\"a\",\"ports\":[{\"containerPort\":80}]},{\"image\":\"nokey\"}]}}}}",
        0, NULL);
    RUN(fuzz_apply_config);
    RUN(fuzz_apply_managed_fields);
    RUN(fuzz_apply_config_builtin_schema);
    json_decref(live_);
    TEST_EXIT();
}
