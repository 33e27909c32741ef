/* Fuzz smoke test for proxy/selector: the corpus in tests/selector/corpus/
 * plus a few thousand deterministic mutations through the label, field and
 * LabelSelector-object parsers. Must never crash under ASan/UBSan; a parse
 * either succeeds with a 0/1 matcher or fails with a message. */
#include "proxy/selector.h"

#include "common/err.h"
#include "tests/selector/fuzz.h"
#include "tests/test.h"

static json_t *labels_, *obj_;
static size_t bad_;

static void one_label(const char *d, size_t len) {
    (void)len;
    vk_selector_label_t *s = NULL;
    char *err = NULL;
    int rc = vk_selector_label_parse(d, &s, &err);
    if (rc == 0) {
        int m = vk_selector_label_match(s, labels_);
        if (m != 0 && m != 1)
            bad_++;
        vk_selector_label_free(s);
    } else if (rc != VK_EBADREQUEST || !err || !*err) {
        bad_++;
    }
    free(err);
}

static void one_field(const char *d, size_t len) {
    (void)len;
    vk_selector_field_t *s = NULL;
    char *err = NULL;
    int rc = vk_selector_field_parse(d, &s, &err);
    if (rc == 0) {
        const char *sup[] = {"spec.nodeName", NULL};
        char *e2 = NULL;
        vk_selector_field_check(s, sup, &e2);
        free(e2);
        int m = vk_selector_field_match(s, obj_, NULL, NULL);
        if (m != 0 && m != 1)
            bad_++;
        vk_selector_field_exact(s, "metadata.name");
        vk_selector_field_free(s);
    } else if (rc != VK_EBADREQUEST || !err || !*err) {
        bad_++;
    }
    free(err);
}

static void one_object(const char *d, size_t len) {
    json_t *sel = json_loadb(d, len, JSON_DECODE_ANY, NULL);
    if (!sel)
        return;
    char *err = NULL;
    int m = vk_selector_object_match(sel, labels_, &err);
    if (!(m == 0 || m == 1 || (m == VK_EINVALID && err)))
        bad_++;
    free(err);
    json_decref(sel);
}

static void run(const char *dir, fuzz_one_fn fn, const char *const *tokens) {
    fuzz_corpus_t c = {0};
    size_t n = fuzz_load(&c, dir);
    CHECK(n >= 2);
    bad_ = 0;
    fuzz_run(&c, 4000, tokens, fn);
    CHECK_EQ_INT(bad_, 0);
    fuzz_free(&c);
}

static const char *const label_tokens[] = {
    "=", "==", "!=", "!", "(", ")", ",", " in ", " notin ", ">", "<", "/", " ", "\t", "-", ".",
    "a", "example.com/", "\xff", "9999999999999999999999", NULL};
static const char *const field_tokens[] = {"=", "==", "!=", ",", "\\", "\\,", "\\=", "\\\\",
                                           "metadata.name", ".", "", NULL};
static const char *const object_tokens[] = {
    "{", "}", "[", "]", ",", ":", "\"", "null", "1", "\"In\"", "\"Exists\"", "\"values\"",
    "\"matchLabels\"", "\"matchExpressions\"", "\"key\"", "\"operator\"", "[]", "{}", NULL};

TEST(fuzz_label_selector) { run("tests/selector/corpus/label", one_label, label_tokens); }
TEST(fuzz_field_selector) { run("tests/selector/corpus/field", one_field, field_tokens); }
TEST(fuzz_selector_object) { run("tests/selector/corpus/object", one_object, object_tokens); }

int main(void) {
    labels_ = json_pack("{s:s,s:s,s:s}", "app", "web", "env", "", "n", "7");
    obj_ = json_loads("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"nodeName\":\"n\",\"b\":true}}",
                      0, NULL);
    RUN(fuzz_label_selector);
    RUN(fuzz_field_selector);
    RUN(fuzz_selector_object);
    json_decref(labels_);
    json_decref(obj_);
    TEST_EXIT();
}
