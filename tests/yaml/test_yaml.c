/* Unit tests for common/yaml: Kubernetes-style scalar typing, anchors,
 * merges, multi-document streams, malformed input, and emit round trips. */
#include "common/err.h"
#include "common/yaml.h"
#include "tests/test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parses one document and returns its compact, key-sorted JSON (caller frees). */
static char *to_json(const char *y)
{
    json_t *v = NULL;
    char err[256];
    int rc = vk_yaml_parse(y, strlen(y), &v, err, sizeof err);
    if (rc) {
        fprintf(stderr, "  parse error: %s\n", err);
        return strdup("ERROR");
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

#define CHECK_YAML(y, expect)                                                                      \
    do {                                                                                           \
        char *got_ = to_json(y);                                                                   \
        CHECK_EQ_STR(got_, expect);                                                                \
        free(got_);                                                                                \
    } while (0)

TEST(scalars_typed_like_k8s)
{
    CHECK_YAML("a: 1", "{\"a\":1}");
    CHECK_YAML("a: -17", "{\"a\":-17}");
    CHECK_YAML("a: \"1\"", "{\"a\":\"1\"}");
    CHECK_YAML("a: '1'", "{\"a\":\"1\"}");
    CHECK_YAML("a: 0x1F", "{\"a\":31}");
    CHECK_YAML("a: 0o17", "{\"a\":15}");
    CHECK_YAML("a: 017", "{\"a\":15}");
    CHECK_YAML("a: 0b101", "{\"a\":5}");
    CHECK_YAML("a: 1_000", "{\"a\":1000}");
    CHECK_YAML("a: 09", "{\"a\":9}"); /* not octal: a float 9.0, an integral JSON number */
    CHECK_YAML("a: 1.5", "{\"a\":1.5}");
    CHECK_YAML("a: 1e3", "{\"a\":1000}");
    CHECK_YAML("a: .5", "{\"a\":0.5}");
    CHECK_YAML("a: true\nb: False\nc: yes\nd: No\ne: on\nf: OFF\ng: y\nh: n",
               "{\"a\":true,\"b\":false,\"c\":true,\"d\":false,\"e\":true,\"f\":false,\"g\":true,"
               "\"h\":false}");
    CHECK_YAML("a: 'yes'\nb: \"true\"", "{\"a\":\"yes\",\"b\":\"true\"}");
    CHECK_YAML("a: ~\nb: null\nc:\nd: Null", "{\"a\":null,\"b\":null,\"c\":null,\"d\":null}");
    CHECK_YAML("a: 16Gi\nb: 1.2.3\nc: 2001-12-14\nd: 1:20\ne: -x\nf: 0x",
               "{\"a\":\"16Gi\",\"b\":\"1.2.3\",\"c\":\"2001-12-14\",\"d\":\"1:20\",\"e\":\"-x\","
               "\"f\":\"0x\"}");
    CHECK_YAML("a: 9223372036854775807", "{\"a\":9223372036854775807}");
    CHECK_YAML("a: !!str 12\nb: !!int \"7\"", "{\"a\":\"12\",\"b\":7}");
}

TEST(keys_become_strings)
{
    /* go-yaml v2 reads the key y (and n, on, off, yes, no) as a boolean. */
    CHECK_YAML("y: 1\nx: 2", "{\"true\":1,\"x\":2}");
    CHECK_YAML("1: a\ntrue: b\non: c\n~: d\n1.5: e",
               "{\"1\":\"a\",\"1.5\":\"e\",\"null\":\"d\",\"true\":\"c\"}");
}

TEST(structures_and_block_scalars)
{
    CHECK_YAML("spec:\n  containers:\n  - name: a\n    args: [x, \"2\", 3]\n  - {name: b}\n",
               "{\"spec\":{\"containers\":[{\"args\":[\"x\",\"2\",3],\"name\":\"a\"},{\"name\":\"b\"}]}}");
    CHECK_YAML("s: |\n  line1\n  line2\nf: >\n  folded\n  text\n",
               "{\"f\":\"folded text\\n\",\"s\":\"line1\\nline2\\n\"}");
    CHECK_YAML("{\"json\": [1, 2.5, null, true]}", "{\"json\":[1,2.5,null,true]}");
    CHECK_YAML("a: {}\nb: []", "{\"a\":{},\"b\":[]}");
    CHECK_YAML("", "null");
    CHECK_YAML("# only a comment\n", "null");
}

TEST(anchors_aliases_and_merge)
{
    CHECK_YAML("base: &b {x: 1, w: 2}\nc: *b\n", "{\"base\":{\"w\":2,\"x\":1},\"c\":{\"w\":2,\"x\":1}}");
    CHECK_YAML("base: &b {x: 1, w: 2}\nc:\n  <<: *b\n  w: 3\n",
               "{\"base\":{\"w\":2,\"x\":1},\"c\":{\"w\":3,\"x\":1}}");
    CHECK_YAML("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nc:\n  v: 0\n  <<: [*a, *b]\n",
               "{\"a\":{\"x\":1},\"b\":{\"x\":2,\"z\":2},\"c\":{\"v\":0,\"x\":1,\"z\":2}}");
    CHECK_YAML("v: &v 5\nlist: [*v, *v]", "{\"list\":[5,5],\"v\":5}");
    CHECK_YAML("\"<<\": literal", "{\"<<\":\"literal\"}");
    /* Aliased copies are independent objects. */
    json_t *v;
    char err[256];
    CHECK_EQ_INT(vk_yaml_parse("a: &x {k: 1}\nb: *x\n", 18, &v, err, sizeof err), 0);
    json_object_set_new(json_object_get(v, "b"), "k", json_integer(2));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(v, "a"), "k")), 1);
    json_decref(v);
}

TEST(multi_document_streams)
{
    const char *y = "a: 1\n---\n---\nkind: B\n...\n---\n- 1\n";
    json_t *docs;
    char err[256];
    CHECK_EQ_INT(vk_yaml_parse_all(y, strlen(y), &docs, err, sizeof err), 0);
    CHECK_EQ_INT(json_array_size(docs), 4);
    CHECK(json_is_null(json_array_get(docs, 1)));
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(docs, 2), "kind")), "B");
    json_decref(docs);
    json_t *one;
    CHECK_EQ_INT(vk_yaml_parse(y, strlen(y), &one, err, sizeof err), VK_EINVALID);
    CHECK(strstr(err, "one document") != NULL);
    CHECK(one == NULL);
}

static void check_error(const char *y, const char *needle)
{
    json_t *v = (json_t *)1;
    char err[256] = "";
    int rc = vk_yaml_parse_all(y, strlen(y), &v, err, sizeof err);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK(v == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "  error for %s was: %s\n", y, err);
        CHECK(strstr(err, needle) != NULL);
    }
}

TEST(malformed_input_gives_clear_errors)
{
    check_error("a: [1, 2\n", "line 2");
    check_error("a: b: c\n", "line 1 column 5");
    check_error("a: *nope\n", "unknown anchor 'nope'");
    check_error("? [a, b]\n: c\n", "unsupported map key");
    check_error("a:\n\t- b\n", "yaml: line 2");
    check_error("a: .inf\n", "cannot be represented in JSON");
    check_error("a: &x 1\n<<: *x\n", "map merge");
    check_error("a: !!int abc\n", "cannot decode");
    check_error("\"unterminated\n", "yaml: line");
    check_error("a: &a [*a]\n", "unknown anchor");
    char deep[4000];
    int n = 0;
    for (int i = 0; i < 1000; i++) deep[n++] = '[';
    deep[n] = 0;
    check_error(deep, "yaml");
    for (int i = 0; i < 300; i++) deep[i] = '[';
    for (int i = 0; i < 300; i++) deep[300 + i] = ']';
    deep[600] = 0;
    check_error(deep, "nesting deeper than");
}

TEST(billion_laughs_is_refused)
{
    const char *y = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
                    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    check_error(y, "too large");
}

/* Emits v, parses it back, and checks equality. */
static void check_roundtrip(const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
    CHECK(v != NULL);
    if (!v) return;
    char *y = NULL;
    CHECK_EQ_INT(vk_yaml_emit(v, &y), 0);
    json_t *back = NULL;
    char err[256];
    CHECK_EQ_INT(vk_yaml_parse(y ? y : "", y ? strlen(y) : 0, &back, err, sizeof err), 0);
    if (!json_equal(v, back)) {
        fprintf(stderr, "  round trip of %s via\n%s\n", json, y ? y : "(null)");
        CHECK(json_equal(v, back));
    }
    free(y);
    json_decref(v);
    json_decref(back);
}

TEST(emit_round_trips)
{
    check_roundtrip("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"}}");
    check_roundtrip("{\"s\":[\"true\",\"yes\",\"1\",\"0x10\",\"null\",\"\",\"~\",\"1.5\",\"<<\","
                    "\"a: b\",\"- x\",\"#c\",\" lead\",\"trail \",\"multi\\nline\\n\","
                    "\"no-trailing\\nnewline\",\"tab\\there\",\"quote\\\"s\",\"@at\",\"16Gi\"]}");
    check_roundtrip("{\"n\":[1,-2,2.5,1e300,0.1,true,false,null],\"e\":{},\"a\":[],\"u\":\"\\u00e9\\u4e2d\"}");
    check_roundtrip("[[1,[2,[3]]],{\"k\":{\"k\":{}}}]");
    check_roundtrip("\"just a string\"");
    char *y = NULL;
    json_t *v = json_pack("{s:s,s:i}", "name", "web", "replicas", 3);
    CHECK_EQ_INT(vk_yaml_emit(v, &y), 0);
    CHECK_EQ_STR(y, "name: web\nreplicas: 3\n");
    free(y);
    json_decref(v);
    CHECK_EQ_INT(vk_yaml_emit(NULL, &y), VK_EINVALID);
    CHECK(y == NULL);
}

TEST(emit_all_documents)
{
    json_t *docs = json_pack("[{s:i},{s:i}]", "a", 1, "b", 2);
    char *y = NULL;
    CHECK_EQ_INT(vk_yaml_emit_all(docs, &y), 0);
    json_t *back = NULL;
    char err[256];
    CHECK_EQ_INT(vk_yaml_parse_all(y, strlen(y), &back, err, sizeof err), 0);
    CHECK(json_equal(docs, back));
    CHECK(strstr(y, "---") != NULL);
    free(y);
    json_decref(docs);
    json_decref(back);
}

int main(void)
{
    RUN(scalars_typed_like_k8s);
    RUN(keys_become_strings);
    RUN(structures_and_block_scalars);
    RUN(anchors_aliases_and_merge);
    RUN(multi_document_streams);
    RUN(malformed_input_gives_clear_errors);
    RUN(billion_laughs_is_refused);
    RUN(emit_round_trips);
    RUN(emit_all_documents);
    TEST_EXIT();
}
