/* Fuzz smoke test for proxy/patch: the patches in tests/patch/corpus/<type>/
 * plus a few thousand deterministic mutations, applied with each patch type
 * to a Deployment-like document (strategic ones with the fake schema and
 * with the real schema tables). Must
 * never crash under ASan/UBSan; every call either succeeds with an object or
 * fails with a message and a code that maps to an HTTP status. */
#include "proxy/patch.h"

#include "common/err.h"
#include "tests/patch/fake_schema.h"
#include "tests/selector/fuzz.h"
#include "tests/test.h"

static json_t *doc_;
static vk_patch_kind_t dep_ = {"apps", "v1", "Deployment"};
static int type_;
static size_t bad_, parsed_;

static void one(const char *d, size_t len) {
    json_t *p = json_loadb(d, len, JSON_DECODE_ANY, NULL);
    if (!p)
        return;
    parsed_++;
    json_t *out = NULL;
    char *err = NULL;
    int rc = type_ == 0   ? vk_patch_json(doc_, p, &out, &err)
             : type_ == 1 ? vk_patch_merge(doc_, p, &out, &err)
             : type_ == 2 ? vk_patch_strategic(doc_, p, fake_schema, NULL, &out, &err)
                          : vk_patch_strategic(doc_, p, vk_patch_schema_builtin, &dep_, &out, &err);
    if (rc == 0 && !out)
        bad_++;
    if (rc != 0 && (out || !err || vk_err_http_status(rc) < 400))
        bad_++;
    free(err);
    json_decref(out);
    json_decref(p);
}

static const char *const tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "0", "-1", "\"-\"", "\"/\"", "\"~1\"", "\"op\"",
    "\"add\"", "\"remove\"", "\"move\"", "\"copy\"", "\"test\"", "\"replace\"", "\"path\"",
    "\"from\"", "\"value\"", "\"$patch\"", "\"delete\"", "\"merge\"", "\"$retainKeys\"",
    "\"$setElementOrder/containers\"", "\"$deleteFromPrimitiveList/finalizers\"", "\"name\"",
    "\"containers\"", "\"spec\"", "\"template\"", "\"metadata\"", "\"finalizers\"", "[[]]",
    "{\"name\":\"web\"}", "{}", "[]", NULL};

static void run(const char *dir, int type) {
    fuzz_corpus_t c = {0};
    CHECK(fuzz_load(&c, dir) >= 5);
    type_ = type;
    bad_ = parsed_ = 0;
    fuzz_run(&c, 3000, tokens, one);
    CHECK_EQ_INT(bad_, 0);
    CHECK(parsed_ > 100); /* the mutations still reach the patch code */
    fuzz_free(&c);
}

TEST(fuzz_json_patch) { run("tests/patch/corpus/json", 0); }
TEST(fuzz_merge_patch) { run("tests/patch/corpus/merge", 1); }
TEST(fuzz_strategic_patch) { run("tests/patch/corpus/strategic", 2); }
TEST(fuzz_strategic_patch_builtin_schema) { run("tests/patch/corpus/strategic", 3); }

int main(void) {
    doc_ = json_loads(
        "{\"metadata\":{\"name\":\"web\",\"finalizers\":[\"a\",\"b\"],\"labels\":{\"x\":\"1\"}},"
        "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\"},\"template\":{\"spec\":"
        "{\"containers\":[{\"name\":\"web\",\"image\":\"1\",\"env\":[{\"name\":\"X\"}],"
        "\"ports\":[{\"containerPort\":80}]},{\"name\":\"side\"}],\"volumes\":[{\"name\":\"v\","
        "\"emptyDir\":{}}]}},\"list\":[1,2,3],\"objs\":[{\"a\":1}]},"
        "\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}",
        0, NULL);
    RUN(fuzz_json_patch);
    RUN(fuzz_merge_patch);
    RUN(fuzz_strategic_patch);
    RUN(fuzz_strategic_patch_builtin_schema);
    json_decref(doc_);
    TEST_EXIT();
}
