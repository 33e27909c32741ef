/* Unit tests of proxy/quantity.c: canonical forms (the expected values are
 * what apimachinery's ParseQuantity + MarshalJSON give; tests/suites/
 * 27-quantity.sh checks the whole table and random inputs against it and the
 * real kube-apiserver), ResourceList rounding, the object walker and the
 * protobuf decoder using the same canonicaliser. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/protobuf.h"
#include "proxy/quantity.h"
#include "tests/test.h"

static char got[128];

static const char *canon(const char *in)
{
    char *out = NULL;
    const char *why = NULL;
    if (vk_quantity_canonical(in, strlen(in), &out, &why) != 0) {
        snprintf(got, sizeof got, "ERR %s", why ? why : "?");
    } else {
        snprintf(got, sizeof got, "%s", out);
        free(out);
    }
    return got;
}

TEST(canonical_forms)
{
    static const char *const cases[][2] = {
        {"0", "0"},          {"0.5", "500m"},     {"1000m", "1"},      {"1Gi", "1Gi"},
        {"1024Mi", "1Gi"},   {"1e3", "1e3"},      {"1000", "1k"},      {"1.5", "1500m"},
        {"1.500", "1.500"},  {"+1", "+1"},        {"01", "01"},        {"1024Ki", "1Mi"},
        {"0.1", "100m"},     {"0.0000000001", "1n"}, {"-0.0000000001", "-1n"},
        {"1.5n", "2n"},      {"0.5Ki", "512"},    {"0.1Ki", "102400m"}, {"2048Ki", "2Mi"},
        {"1000E", "1"},      {"8Ei", "9223372036854775807"}, {"10e2", "1e3"},
        {"5e-1", "500e-3"},  {"1e-10", "1e-9"},   {"-0.0", "0"},       {".", "0"},
        {"5.", "5."},        {"1.5Gi", "1536Mi"}, {"0.001Ki", "1024m"}, {"500000u", "500m"},
        {"12345678901234567890", "12345678901234567890"},
        {"1.23456789012345678901234", "1234567891n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ_STR(canon(cases[i][0]), cases[i][1]);
}

TEST(errors)
{
    CHECK(!strncmp(canon("abc"), "ERR quantities must match", 25));
    CHECK(!strncmp(canon(""), "ERR quantities must match", 25));
    CHECK(!strncmp(canon("1 Ki"), "ERR quantities must match", 25));
    CHECK_EQ_STR(canon("1ki"), "ERR unable to parse quantity's suffix");
    CHECK_EQ_STR(canon("1e"), "ERR unable to parse quantity's suffix");
    CHECK_EQ_STR(canon("Pi"), "ERR unable to parse numeric part of quantity");
    /* Protobuf strings are not trimmed; JSON ones are. */
    CHECK(!strncmp(canon(" 2"), "ERR", 3));
    json_t *v = json_string("  2Ki ");
    char *out = NULL;
    CHECK_EQ_INT(vk_quantity_canonical_json(v, &out, NULL), 0);
    CHECK_EQ_STR(out, "2Ki");
    free(out);
    json_decref(v);
}

TEST(json_numbers)
{
    json_t *v = json_loads("[0.5, 1000, 1, null, true]", 0, NULL);
    const char *want[] = {"500m", "1k", "1", "0"};
    for (size_t i = 0; i < 4; i++) {
        char *out = NULL;
        CHECK_EQ_INT(vk_quantity_canonical_json(json_array_get(v, i), &out, NULL), 0);
        CHECK_EQ_STR(out, want[i]);
        free(out);
    }
    char *out = NULL;
    CHECK_EQ_INT(vk_quantity_canonical_json(json_array_get(v, 4), &out, NULL), VK_EBADREQUEST);
    CHECK(out == NULL);
    json_decref(v);
}

TEST(object_walk)
{
    json_t *pod = json_loads(
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"labels\":"
        "{\"cpu\":\"0.5\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
        "{\"cpu\":\"1000m\",\"memory\":\"1024Mi\"},\"requests\":{\"cpu\":\"1n\",\"x\":null}}}],"
        "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{\"sizeLimit\":\"1n\"}}],\"overhead\":"
        "{\"cpu\":0.25}}}",
        0, NULL);
    CHECK(pod != NULL);
    char *msg = (char *)1;
    CHECK_EQ_INT(vk_quantity_canon_object("", "v1", "Pod", pod, &msg), 0);
    CHECK(msg == NULL);
    json_t *c = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    json_t *res = json_object_get(c, "resources");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(res, "limits"), "cpu")), "1");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(res, "limits"), "memory")),
                 "1Gi");
    /* ResourceList values are rounded up to 1m; a plain Quantity is not. */
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(res, "requests"), "cpu")), "1m");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(res, "requests"), "x")), "0");
    json_t *vol = json_array_get(json_object_get(json_object_get(pod, "spec"), "volumes"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(vol, "emptyDir"), "sizeLimit")),
                 "1n");
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(pod, "spec"),
                                                                   "overhead"),
                                                   "cpu")),
                 "250m");
    /* Labels are strings, not quantities. */
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(pod, "metadata"),
                                                                   "labels"),
                                                   "cpu")),
                 "0.5");
    /* Idempotent. */
    char *before = json_dumps(pod, JSON_SORT_KEYS);
    CHECK_EQ_INT(vk_quantity_canon_object("", "v1", "Pod", pod, NULL), 0);
    char *after = json_dumps(pod, JSON_SORT_KEYS);
    CHECK_EQ_STR(after, before);
    free(before);
    free(after);
    json_decref(pod);
}

TEST(object_walk_errors_and_other_groups)
{
    json_t *q = json_loads("{\"spec\":{\"hard\":{\"cpu\":\"abc\",\"memory\":\"2048Mi\"}}}", 0, NULL);
    char *msg = NULL;
    CHECK_EQ_INT(vk_quantity_canon_object("", "v1", "ResourceQuota", q, &msg), VK_EBADREQUEST);
    CHECK(msg && strstr(msg, "ResourceQuota in version \"v1\" cannot be handled as a ResourceQuota: "
                             "quantities must match") == msg);
    free(msg);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(q, "spec"),
                                                                   "hard"),
                                                   "memory")),
                 "2Gi");
    json_decref(q);
    /* A pod template in apps/v1. */
    json_t *d = json_loads("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"resources\":"
                           "{\"limits\":{\"cpu\":\"0.1\"}}}]}}}}",
                           0, NULL);
    CHECK_EQ_INT(vk_quantity_canon_object("apps", "v1", "Deployment", d, NULL), 0);
    json_t *cpu = json_object_get(
        json_object_get(
            json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(
                                                               json_object_get(d, "spec"),
                                                               "template"),
                                                           "spec"),
                                                           "containers"),
                                           0),
                            "resources"),
            "limits"),
        "cpu");
    CHECK_EQ_STR(json_string_value(cpu), "100m");
    json_decref(d);
    /* Custom resources (no schema) are untouched. */
    json_t *x = json_loads("{\"spec\":{\"cpu\":\"0.5\"}}", 0, NULL);
    CHECK_EQ_INT(vk_quantity_canon_object("example.com", "v1", "Foo", x, NULL), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(x, "spec"), "cpu")), "0.5");
    json_decref(x);
}

/* A protobuf ResourceQuota body whose spec.hard.cpu is q (hand-built: a Go
 * client always sends canonical strings, other clients need not). */
static size_t quota_body(const char *q, unsigned char *b)
{
    size_t ql = strlen(q), n = 0;
    unsigned char quantity[64], entry[96], spec[128], raw[160];
    size_t nq = 0, ne = 0, ns = 0, nr = 0;
    quantity[nq++] = 0x0a;
    quantity[nq++] = (unsigned char)ql;
    memcpy(quantity + nq, q, ql);
    nq += ql;
    entry[ne++] = 0x0a;
    entry[ne++] = 3;
    memcpy(entry + ne, "cpu", 3);
    ne += 3;
    entry[ne++] = 0x12;
    entry[ne++] = (unsigned char)nq;
    memcpy(entry + ne, quantity, nq);
    ne += nq;
    spec[ns++] = 0x0a;
    spec[ns++] = (unsigned char)ne;
    memcpy(spec + ns, entry, ne);
    ns += ne;
    memcpy(raw, "\x0a\x03\x0a\x01q", 5);
    nr = 5;
    raw[nr++] = 0x12;
    raw[nr++] = (unsigned char)ns;
    memcpy(raw + nr, spec, ns);
    nr += ns;
    memcpy(b, "k8s\0\x0a\x13\x0a\x02v1\x12\x0dResourceQuota", 25);
    n = 25;
    b[n++] = 0x12;
    b[n++] = (unsigned char)nr;
    memcpy(b + n, raw, nr);
    return n + nr;
}

TEST(protobuf_uses_canonicaliser)
{
    unsigned char body[256];
    size_t n = quota_body("0.5", body);
    json_t *o = NULL;
    char err[256];
    CHECK_EQ_INT(vk_pb_decode(body, n, &o, err, sizeof err), 0);
    CHECK_EQ_STR(json_string_value(
                     json_object_get(json_object_get(json_object_get(o, "spec"), "hard"), "cpu")),
                 "500m");
    json_decref(o);
    o = NULL;
    n = quota_body("1ki", body);
    CHECK_EQ_INT(vk_pb_decode(body, n, &o, err, sizeof err), VK_EBADREQUEST);
    CHECK(o == NULL);
    CHECK_EQ_STR(err, "ResourceQuota in version \"v1\" cannot be handled as a ResourceQuota: "
                      "unable to parse quantity's suffix");
}

int main(void)
{
    RUN(canonical_forms);
    RUN(errors);
    RUN(json_numbers);
    RUN(object_walk);
    RUN(object_walk_errors_and_other_groups);
    RUN(protobuf_uses_canonicaliser);
    TEST_EXIT();
}
