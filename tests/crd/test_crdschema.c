/* Unit tests of proxy/crdschema: regular expressions, formats, numbers,
 * maps, embedded resources, int-or-string, junctors, pruning paths,
 * defaulting rules and the schema checks not covered by test_reference. */
#include <stdlib.h>
#include <string.h>

#include "proxy/crdschema.h"
#include "tests/test.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "  bad test JSON: %s: %s\n", s, e.text);
    return j;
}

/* Validates value against schema at path "x"; returns the causes. */
static json_t *val(const char *schema, const char *value)
{
    json_t *s = J(schema), *v = J(value), *c = json_array();
    vk_crdschema_validate_value(s, v, "x", c);
    json_decref(s);
    json_decref(v);
    return c;
}

static int nerr(const char *schema, const char *value)
{
    json_t *c = val(schema, value);
    int n = (int)json_array_size(c);
    json_decref(c);
    return n;
}

/* 1 when validating value gives exactly one cause reading want
 * ("<field>: <message>"), or, for want "(N causes)", N causes. */
static int msg_is(const char *schema, const char *value, const char *want)
{
    char got[1024];
    json_t *c = val(schema, value);
    if (json_array_size(c) == 1) {
        json_t *e = json_array_get(c, 0);
        snprintf(got, sizeof got, "%s: %s", json_string_value(json_object_get(e, "field")),
                 json_string_value(json_object_get(e, "message")));
    } else if (json_array_size(c) == 0) {
        got[0] = 0;
    } else {
        snprintf(got, sizeof got, "(%zu causes)", json_array_size(c));
    }
    json_decref(c);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "  got  %s\n  want %s\n", got, want);
        return 0;
    }
    return 1;
}

TEST(patterns)
{
    const char *s = "{\"type\":\"string\",\"pattern\":\"^\\\\d{3}-[\\\\w.-]+$\"}";
    CHECK_EQ_INT(nerr(s, "\"123-ab_c.d-e\""), 0);
    CHECK_EQ_INT(nerr(s, "\"12-ab\""), 1);
    CHECK_EQ_INT(nerr(s, "\"123-a b\""), 1);
    CHECK(msg_is(s, "\"x\"", "x: Invalid value: \"x\": x in body should match '^\\d{3}-[\\w.-]+$'"));
    /* (?:...) and lazy quantifiers */
    s = "{\"type\":\"string\",\"pattern\":\"^(?:ab)+?c\\\\.$\"}";
    CHECK_EQ_INT(nerr(s, "\"ababc.\""), 0);
    CHECK_EQ_INT(nerr(s, "\"abc\""), 1);
    /* \s and \S */
    s = "{\"type\":\"string\",\"pattern\":\"^\\\\S+\\\\s\\\\S+$\"}";
    CHECK_EQ_INT(nerr(s, "\"a b\""), 0);
    CHECK_EQ_INT(nerr(s, "\"ab\""), 1);
    /* POSIX classes inside brackets, escaped ] and - */
    s = "{\"type\":\"string\",\"pattern\":\"^[[:alpha:]_][[:alnum:]\\\\-]*$\"}";
    CHECK_EQ_INT(nerr(s, "\"_a-1\""), 0);
    CHECK_EQ_INT(nerr(s, "\"1a\""), 1);
    /* A pattern the translation cannot express is refused on the CRD. */
    json_t *bad = J("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
                    "\"pattern\":\"^(?=x)\"}}}");
    json_t *c = json_array();
    CHECK_EQ_INT(vk_crdschema_check(bad, "s", c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")),
                 "s.properties[a].pattern");
    json_decref(c);
    json_decref(bad);
    /* Counts over 1000 are invalid for RE2, so refused as well. */
    bad = J("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\","
            "\"pattern\":\"^a{2,1001}$\"}}}");
    c = json_array();
    CHECK_EQ_INT(vk_crdschema_check(bad, "s", c), 1);
    json_decref(c);
    json_decref(bad);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"pattern\":\"^a{2,3}$\"}", "\"aaa\""), 0);
    /* ...and never silently passes at validation either. */
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"pattern\":\"\\\\bx\"}", "\"x\""), 1);
}

TEST(formats)
{
    const char *dt = "{\"type\":\"string\",\"format\":\"date-time\"}";
    CHECK_EQ_INT(nerr(dt, "\"2024-01-01T00:00:00Z\""), 0);
    CHECK_EQ_INT(nerr(dt, "\"2024-01-01T10:00:00.123+02:00\""), 0);
    CHECK_EQ_INT(nerr(dt, "\"2024-13-01T00:00:00Z\""), 1);
    CHECK_EQ_INT(nerr(dt, "\"2024-01-01\""), 1);
    CHECK_EQ_INT(nerr(dt, "\"2024-01-01 00:00:00Z\""), 1); /* as 1.36 */
    CHECK_EQ_INT(nerr(dt, "\"2024-01-01 00:00:00Z\""), 1); /* as 1.36 */
    CHECK(msg_is(dt, "\"no\"", "x: Invalid value: \"no\": x in body must be of type date-time: \"no\""));
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"date\"}", "\"2024-02-03\""), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"byte\"}", "\"aGk=\""), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"byte\"}", "\"aGk\""), 1);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"uuid\"}",
                      "\"123e4567-e89b-12d3-a456-426614174000\""),
                 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"uuid\"}", "\"123\""), 1);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"ipv4\"}", "\"10.0.0.1\""), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"ipv4\"}", "\"10.0.0\""), 1);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"ipv6\"}", "\"::1\""), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"cidr\"}", "\"10.0.0.0/8\""), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"cidr\"}", "\"10.0.0.0/33\""), 1);
    /* Unknown formats pass, as upstream. */
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"format\":\"whatever\"}", "\"x\""), 0);
    /* int32 range; int64 any integer */
    CHECK_EQ_INT(nerr("{\"type\":\"integer\",\"format\":\"int32\"}", "2147483647"), 0);
    CHECK(msg_is("{\"type\":\"integer\",\"format\":\"int32\"}", "2147483648", "<nil>: Invalid value: \"\": Checked value must be of type integer with format "
                 "int32 in x"));
    CHECK_EQ_INT(nerr("{\"type\":\"integer\",\"format\":\"int64\"}", "2147483648"), 0);
}

TEST(numbers)
{
    /* Limits and values as kube-apiserver 1.36 prints them. */
    CHECK(msg_is("{\"type\":\"number\",\"maximum\":1000000}", "2000000",
                 "x: Invalid value: 2000000: x in body should be less than or equal to 1000000"));
    CHECK(msg_is("{\"type\":\"number\",\"minimum\":0.00001}", "0.000001",
                 "x: Invalid value: 1e-06: x in body should be greater than or equal to 1e-05"));
    CHECK(msg_is("{\"type\":\"number\",\"minimum\":0.5,\"exclusiveMinimum\":true}", "0.5", "x: Invalid value: 0.5: x in body should be greater than 0.5"));
    CHECK(msg_is("{\"type\":\"number\",\"multipleOf\":3}", "7", "x: Invalid value: 7: x in body should be a multiple of 3"));
    CHECK_EQ_INT(nerr("{\"type\":\"number\",\"multipleOf\":0.1}", "0.3"), 0);
    /* An integral float is an integer (JSON 2.0). */
    CHECK_EQ_INT(nerr("{\"type\":\"integer\"}", "2.0"), 0);
    CHECK_EQ_INT(nerr("{\"type\":\"integer\"}", "2.5"), 2);
    CHECK_EQ_INT(nerr("{\"type\":\"number\"}", "2"), 0);
    CHECK(msg_is("{\"type\":\"integer\",\"enum\":[1,2]}", "3", "x: Unsupported value: 3: supported values: 1, 2"));
}

TEST(types_and_nulls)
{
    CHECK(msg_is("{\"type\":\"boolean\"}", "\"true\"", "x: Invalid value: \"string\": x in body must be of type boolean: \"string\""));
    CHECK_EQ_INT(nerr("{\"type\":\"string\",\"nullable\":true}", "null"), 0);
    CHECK(msg_is("{\"type\":\"string\"}", "null", "x: Invalid value: \"null\": x in body must be of type string: \"null\""));
    /* int-or-string */
    const char *ios = "{\"x-kubernetes-int-or-string\":true}";
    CHECK_EQ_INT(nerr(ios, "5"), 0);
    CHECK_EQ_INT(nerr(ios, "\"50%\""), 0);
    CHECK(msg_is(ios, "true", "x: Invalid value: \"boolean\": x in body must be of type integer,string: "
                 "\"boolean\""));
    /* preserve-unknown-fields without type accepts anything */
    CHECK_EQ_INT(nerr("{\"x-kubernetes-preserve-unknown-fields\":true}", "[1,{\"a\":2}]"), 0);
}

TEST(objects_maps_arrays)
{
    const char *m = "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\","
                    "\"minimum\":0}}";
    CHECK_EQ_INT(nerr(m, "{\"a\":1,\"b\":2}"), 0);
    CHECK(msg_is(m, "{\"a\":-1}", "x.a: Invalid value: -1: x.a in body should be greater than or equal to 0"));
    const char *o = "{\"type\":\"object\",\"required\":[\"n\"],\"properties\":{\"n\":{\"type\":"
                    "\"string\",\"maxLength\":1}}}";
    CHECK(msg_is(o, "{}", "x.n: Required value"));
    CHECK(msg_is(o, "{\"n\":\"\\u00e9\"}", "")); /* one rune, two bytes: valid */
    CHECK(msg_is(o, "{\"n\":\"ab\"}", "x.n: Too long: may not be more than 1 byte"));
    const char *a = "{\"type\":\"array\",\"uniqueItems\":true,\"maxItems\":3,\"items\":{\"type\":"
                    "\"string\",\"enum\":[\"a\",\"b\"]}}";
    CHECK(msg_is(a, "[\"a\",\"c\"]", "x[1]: Unsupported value: \"c\": supported values: \"a\", \"b\""));
    CHECK(msg_is(a, "[\"a\",\"a\"]", "x[1]: Duplicate value: \"a\""));
    CHECK(msg_is(a, "[\"a\",\"b\",\"a\",\"b\"]", "(3 causes)")); /* too many, and two duplicates */
}

TEST(embedded_resource)
{
    const char *e = "{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,"
                    "\"x-kubernetes-preserve-unknown-fields\":true}";
    json_t *c = val(e, "{\"metadata\":{\"labels\":{\"ok\":\"v\"}}}");
    CHECK_EQ_INT(json_array_size(c), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")), "x.apiVersion");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 1), "field")), "x.kind");
    json_decref(c);
    c = val(e, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{\"a b\":"
               "\"v\"}}}");
    CHECK_EQ_INT(json_array_size(c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")),
                 "x.metadata.annotations");
    json_decref(c);
}

TEST(junctors)
{
    const char *one = "{\"type\":\"object\",\"oneOf\":[{\"required\":[\"a\"]},{\"required\":"
                      "[\"b\"]}]}";
    CHECK_EQ_INT(nerr(one, "{\"a\":1}"), 0);
    CHECK(msg_is(one, "{\"a\":1,\"b\":2}", "<nil>: Invalid value: \"\": \"x\" must validate one and only one schema "
                 "(oneOf). Found 2 valid alternatives"));
    const char *not = "{\"type\":\"string\",\"not\":{\"enum\":[\"no\"]}}";
    CHECK_EQ_INT(nerr(not, "\"yes\""), 0);
    CHECK(msg_is(not, "\"no\"", "<nil>: Invalid value: \"\": \"x\" must not validate the schema (not)"));
    const char *all = "{\"type\":\"integer\",\"allOf\":[{\"minimum\":1},{\"maximum\":3}]}";
    CHECK_EQ_INT(nerr(all, "2"), 0);
    CHECK_EQ_INT(nerr(all, "4"), 1);
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{"
    "\"spec\":{\"type\":\"object\",\"properties\":{"
    "  \"a\":{\"type\":\"string\",\"default\":\"d\"},"
    "  \"n\":{\"type\":\"string\",\"nullable\":true,\"default\":\"nd\"},"
    "  \"z\":{\"type\":\"string\"},"
    "  \"o\":{\"type\":\"object\",\"default\":{},\"properties\":{\"p\":{\"type\":\"integer\","
    "\"default\":7}}},"
    "  \"l\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"k\":{\"type\":"
    "\"string\",\"default\":\"kk\"}}}},"
    "  \"m\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"object\",\"properties\":"
    "{\"v\":{\"type\":\"integer\"}}}},"
    "  \"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true,"
    "\"properties\":{\"known\":{\"type\":\"object\",\"properties\":{}}}},"
    "  \"emb\":{\"type\":\"object\",\"x-kubernetes-embedded-resource\":true,\"properties\":{"
    "\"spec\":{\"type\":\"object\"}}}"
    "}}}}";

TEST(defaulting)
{
    json_t *s = J(SCHEMA);
    json_t *o = J("{\"apiVersion\":\"g/v1\",\"kind\":\"K\",\"metadata\":{\"name\":\"x\"},"
                  "\"spec\":{\"n\":null,\"z\":null,\"l\":[{},{\"k\":\"set\"}],\"a\":null}}");
    vk_crdschema_default(s, o);
    json_t *want = J("{\"apiVersion\":\"g/v1\",\"kind\":\"K\",\"metadata\":{\"name\":\"x\"},"
                     "\"spec\":{\"a\":\"d\",\"n\":null,\"o\":{\"p\":7},"
                     "\"l\":[{\"k\":\"kk\"},{\"k\":\"set\"}]}}");
    CHECK(json_equal(o, want));
    json_decref(want);
    json_decref(o);
    /* No spec: nothing is invented at the root. */
    o = J("{\"apiVersion\":\"g/v1\",\"kind\":\"K\"}");
    vk_crdschema_default(s, o);
    CHECK_EQ_INT(json_object_size(o), 2);
    json_decref(o);
    json_decref(s);
}

TEST(pruning)
{
    json_t *s = J(SCHEMA);
    json_t *o = J("{\"apiVersion\":\"g/v1\",\"kind\":\"K\",\"metadata\":{\"name\":\"x\","
                  "\"junk\":1},\"top\":1,\"spec\":{\"a\":\"x\",\"b\":1,"
                  "\"l\":[{\"k\":\"1\",\"q\":2}],\"m\":{\"key\":{\"v\":1,\"w\":2}},"
                  "\"free\":{\"any\":{\"deep\":1},\"known\":{\"gone\":1}},"
                  "\"emb\":{\"apiVersion\":\"v1\",\"kind\":\"X\",\"metadata\":{\"name\":\"e\","
                  "\"bad\":1},\"spec\":{},\"other\":1}}}");
    json_t *pruned = json_array();
    size_t n = vk_crdschema_prune(s, o, pruned);
    CHECK_EQ_INT(n, 8);
    const char *want[] = {"metadata.junk",          "spec.b",          "spec.emb.metadata.bad",
                          "spec.emb.other",         "spec.free.known.gone", "spec.l[0].q",
                          "spec.m.key.w",           "top"};
    CHECK_EQ_INT(json_array_size(pruned), 8);
    for (size_t i = 0; i < 8 && i < json_array_size(pruned); i++)
        CHECK_EQ_STR(json_string_value(json_array_get(pruned, i)), want[i]);
    CHECK(json_object_get(json_object_get(json_object_get(o, "spec"), "free"), "any") != NULL);
    CHECK(json_object_get(json_object_get(o, "spec"), "b") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(
                     json_object_get(o, "spec"), "emb"), "metadata"), "name")),
                 "e");
    json_decref(pruned);
    /* Idempotent: a second pass prunes nothing. */
    CHECK_EQ_INT(vk_crdschema_prune(s, o, NULL), 0);
    json_decref(o);
    json_decref(s);
}

TEST(cel_rules_listed)
{
    json_t *s = J("{\"type\":\"object\",\"x-kubernetes-validations\":[{\"rule\":\"true\"}],"
                  "\"properties\":{\"spec\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
                  "\"x-kubernetes-validations\":[{\"rule\":\"self != ''\"}]}}}}");
    json_t *paths = json_array();
    CHECK_EQ_INT(vk_crdschema_cel_rules(s, "p", paths), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(paths, 0)), "p.x-kubernetes-validations");
    CHECK_EQ_STR(json_string_value(json_array_get(paths, 1)),
                 "p.properties[spec].items.x-kubernetes-validations");
    /* A schema with rules is otherwise valid. */
    json_t *c = json_array();
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 0);
    json_decref(c);
    json_decref(paths);
    json_decref(s);
}

TEST(check_rules)
{
    json_t *c = json_array();
    json_t *s = J("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\","
                  "\"x-kubernetes-list-type\":\"bag\",\"items\":{\"type\":\"string\"}}}}");
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "message")),
                 "Unsupported value: \"bag\": supported values: \"atomic\", \"map\", \"set\"");
    json_decref(s);
    json_array_clear(c);
    s = J("{\"type\":\"object\",\"properties\":{\"l\":{\"type\":\"array\","
          "\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"nope\"],"
          "\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}}}}");
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")),
                 "p.properties[l].x-kubernetes-list-map-keys");
    json_decref(s);
    json_array_clear(c);
    /* root type */
    s = J("{\"type\":\"array\",\"items\":{\"type\":\"string\"}}");
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "message")),
                 "Invalid value: \"array\": must be object at the root");
    json_decref(s);
    json_array_clear(c);
    /* kubebuilder's IntOrString: types inside anyOf are allowed there only */
    s = J("{\"type\":\"object\",\"properties\":{\"p\":{\"x-kubernetes-int-or-string\":true,"
          "\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]},\"q\":{\"type\":"
          "\"string\",\"anyOf\":[{\"type\":\"string\"}]}}}");
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")),
                 "p.properties[q].anyOf[0].type");
    json_decref(s);
    json_array_clear(c);
    /* a valid default inside a valid schema */
    s = J("{\"type\":\"object\",\"properties\":{\"r\":{\"type\":\"integer\",\"default\":3}}}");
    CHECK_EQ_INT(vk_crdschema_check(s, "p", c), 0);
    json_decref(s);
    json_decref(c);
}

TEST(ratcheting)
{
    json_t *s = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
                  "\"properties\":{\"a\":{\"type\":\"string\",\"maxLength\":2},\"b\":{"
                  "\"type\":\"integer\"},\"l\":{\"type\":\"array\",\"x-kubernetes-list-type\":"
                  "\"map\",\"x-kubernetes-list-map-keys\":[\"name\"],\"items\":{\"type\":"
                  "\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"v\":{\"type\":"
                  "\"string\",\"enum\":[\"ok\"]}}}},\"plain\":{\"type\":\"array\",\"items\":"
                  "{\"type\":\"string\",\"enum\":[\"ok\"]}}}}}}");
    json_t *old = J("{\"spec\":{\"a\":\"long\",\"b\":1,\"l\":[{\"name\":\"x\",\"v\":\"bad\"}],"
                    "\"plain\":[\"bad\"]}}");
    json_t *c = json_array();
    /* b changes; the too long a, the bad list item and list stay: accepted. */
    json_t *o = J("{\"spec\":{\"a\":\"long\",\"b\":2,\"l\":[{\"name\":\"x\",\"v\":\"bad\"}],"
                  "\"plain\":[\"bad\"]}}");
    CHECK_EQ_INT(vk_crdschema_validate_update(s, o, old, c), 0);
    CHECK_EQ_INT(vk_crdschema_validate(s, o, c), 3); /* on create all count */
    json_decref(o);
    json_array_clear(c);
    /* a changes (still too long), a new bad map item before the old one, and a
     * plain (atomic) list that changed: its old bad element counts again. */
    o = J("{\"spec\":{\"a\":\"longer\",\"b\":1,\"l\":[{\"name\":\"y\",\"v\":\"bad\"},"
          "{\"name\":\"x\",\"v\":\"bad\"}],\"plain\":[\"bad\",\"ok\"]}}");
    CHECK_EQ_INT(vk_crdschema_validate_update(s, o, old, c), 3);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "field")), "spec.a");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 1), "field")), "spec.l[0].v");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 2), "field")), "spec.plain[0]");
    json_decref(o);
    json_decref(c);
    json_decref(old);
    json_decref(s);
}

int main(void)
{
    RUN(patterns);
    RUN(formats);
    RUN(numbers);
    RUN(types_and_nulls);
    RUN(objects_maps_arrays);
    RUN(embedded_resource);
    RUN(junctors);
    RUN(defaulting);
    RUN(pruning);
    RUN(cel_rules_listed);
    RUN(check_rules);
    RUN(ratcheting);
    TEST_EXIT();
}
