/* Unit tests for proxy/fastjson: the spliced object must equal what jansson
 * gives (decode, set metadata.resourceVersion, encode), and anything that is
 * not a well-formed object with a metadata object is refused. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/fastjson.h"
#include "tests/test.h"

/* 1 if the fast path agrees with jansson on s, 0 if it refuses, -1 if they differ. */
static int agrees(const char *s, int64_t rev)
{
    vk_fastjson_buf_t b = {0};
    vk_fastjson_buf_puts(&b, "[");
    if (vk_fastjson_put_with_rv(&b, s, strlen(s), rev)) {
        int unchanged = b.len == 1;
        vk_fastjson_buf_free(&b);
        return unchanged ? 0 : -1;
    }
    json_t *want = json_loads(s, JSON_DECODE_ANY, NULL);
    json_t *got = json_loadb(b.p + 1, b.len - 1, 0, NULL);
    int ok = -1;
    if (json_is_object(want) && got) {
        char rv[32];
        snprintf(rv, sizeof rv, "%lld", (long long)rev);
        json_object_set_new(json_object_get(want, "metadata"), "resourceVersion",
                            json_string(rv));
        char *a = json_dumps(want, JSON_COMPACT), *g = json_dumps(got, JSON_COMPACT);
        ok = json_equal(want, got) && !strcmp(a, g) ? 1 : -1;
        free(a);
        free(g);
    }
    json_decref(want);
    json_decref(got);
    vk_fastjson_buf_free(&b);
    return ok;
}

TEST(splices_canonical_objects)
{
    CHECK_EQ_INT(agrees("{\"metadata\":{\"name\":\"a\"}}", 7), 1);
    CHECK_EQ_INT(agrees("{\"kind\":\"Pod\",\"metadata\":{},\"spec\":{\"x\":[1,-2.5e3,true,"
                        "null,false,\"q\\\"\\u00e9\\n\",{}]}}", 123456789012LL), 1);
    CHECK_EQ_INT(agrees("{\"a\":{\"metadata\":{\"resourceVersion\":\"1\"}},"
                        "\"metadata\":{\"labels\":{\"resourceVersion\":\"x\"}}}", 3), 1);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"name\":\"caf\xc3\xa9\"},\"data\":\"}{\"}", 1), 1);
}

TEST(refuses_other_layouts)
{
    CHECK_EQ_INT(agrees("{\"kind\":\"Pod\"}", 1), 0);
    CHECK_EQ_INT(agrees("{}", 1), 0);
    CHECK_EQ_INT(agrees("[]", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":[]}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"resourceVersion\":\"5\"}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{},\"metadata\":{}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{}} x", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":01}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":\"\\x\"}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":\"\\u12\"}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":tru}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":\"\x01\"}}", 1), 0);
    CHECK_EQ_INT(agrees("{\"metadata\":{\"a\":1,}}", 1), 0);
    CHECK_EQ_INT(agrees("", 1), 0);
}

/* Every truncation and single-byte change of a realistic object: the fast
 * path either refuses or gives exactly what jansson gives. */
TEST(mutations_never_disagree)
{
    const char *base = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p-1\","
                       "\"namespace\":\"default\",\"labels\":{\"app\":\"x\"},\"uid\":\"u\"},"
                       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":"
                       "[{\"containerPort\":80}],\"resources\":{\"requests\":{\"cpu\":\"1m\"}}}]"
                       ",\"n\":-0.5e+2},\"status\":{\"phase\":\"Pending\"}}";
    size_t n = strlen(base);
    char *s = malloc(n + 1);
    const char repl[] = "{}[]\",:0-e.tn\\ a";
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(s, base, n + 1);
        s[i] = 0;
        if (agrees(s, 9) < 0) bad++;
        for (size_t r = 0; r < sizeof repl - 1; r++) {
            memcpy(s, base, n + 1);
            s[i] = repl[r];
            if (agrees(s, 9) < 0) bad++;
        }
    }
    free(s);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(agrees(base, 9), 1);
}

int main(void)
{
    RUN(splices_canonical_objects);
    RUN(refuses_other_layouts);
    RUN(mutations_never_disagree);
    TEST_EXIT();
}
