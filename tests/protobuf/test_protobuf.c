/* Unit tests for proxy/protobuf: decodes real client-go protobuf bodies
 * (tests/protobuf/fixtures.txt, written by tests/protobuf/gen with the
 * apimachinery protobuf serializer) and compares with Go's JSON of the same
 * objects; plus hand-built edge cases and malformed input. */
#include "proxy/protobuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "tests/test.h"

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static size_t b64decode(const char *s, size_t n, uint8_t *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static char *fixtures_path(void)
{
    const char *root = getenv("VKUBE_ROOT");
    return vk_xasprintf("%s/tests/protobuf/fixtures.txt", root ? root : ".");
}

static int fixtures_seen;

static void check_fixture(const char *name, const char *b64, const char *js)
{
    size_t n = strlen(b64);
    uint8_t *body = vk_xmalloc(n);
    size_t blen = b64decode(b64, n, body);
    json_t *got = NULL;
    char err[256];
    int rc = vk_pb_decode(body, blen, &got, err, sizeof err);
    if (rc)
        fprintf(stderr, "  %s: %s\n", name, err);
    CHECK_EQ_INT(rc, 0);
    json_error_t je;
    json_t *want = json_loads(js, 0, &je);
    CHECK(want != NULL);
    if (got && want && !json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fprintf(stderr, "  %s differs:\n   got  %s\n   want %s\n", name, g, w);
        free(g);
        free(w);
        CHECK(!"decoded JSON equals Go's JSON");
    }
    /* Truncating the body anywhere must fail cleanly or decode, never crash. */
    for (size_t cut = 0; cut < blen; cut += 1 + blen / 64) {
        json_t *t = NULL;
        int r = vk_pb_decode(body, cut, &t, err, sizeof err);
        CHECK(r == 0 || r == VK_EBADREQUEST || r == VK_EUNSUPPORTEDMEDIA);
        CHECK((r == 0) == (t != NULL));
        json_decref(t);
    }
    json_decref(got);
    json_decref(want);
    free(body);
}

TEST(real_fixtures)
{
    char *path = fixtures_path();
    FILE *fp = fopen(path, "r");
    CHECK(fp != NULL);
    free(path);
    if (!fp)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = 0;
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        CHECK(t1 && t2);
        if (!t1 || !t2)
            continue;
        *t1 = 0;
        *t2 = 0;
        check_fixture(line, t1 + 1, t2 + 1);
        fixtures_seen++;
    }
    free(line);
    fclose(fp);
    CHECK(fixtures_seen >= 15);
}

/* The worked example of API-NOTES.md (kubectl 1.33 create configmap). */
TEST(configmap_worked_example)
{
    static const uint8_t body[] = {
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0f, 0x0a, 0x02, 'v', '1', 0x12, 0x09, 'C', 'o', 'n', 'f',
        'i', 'g', 'M', 'a', 'p', 0x12, 0x1b, 0x0a, 0x11, 0x0a, 0x01, 'x', 0x12, 0x00, 0x1a, 0x00,
        0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x06, 0x0a, 0x01, 'a',
        0x12, 0x01, 'b', 0x1a, 0x00, 0x22, 0x00};
    json_t *got = NULL;
    char err[128];
    CHECK_EQ_INT(vk_pb_decode(body, sizeof body, &got, err, sizeof err), 0);
    json_t *want = json_loads("{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":"
                              "\"x\",\"creationTimestamp\":null},\"data\":{\"a\":\"b\"}}",
                              0, NULL);
    CHECK(got && json_equal(got, want));
    /* kind and apiVersion come first, as in Go's output. */
    void *it = got ? json_object_iter(got) : NULL;
    CHECK(it && strcmp(json_object_iter_key(it), "kind") == 0);
    json_decref(got);
    json_decref(want);
}

static json_t *decode_raw(const char *msgname, const uint8_t *b, size_t n, int *rc)
{
    json_t *out = NULL;
    char err[128];
    *rc = vk_pb_decode_message(vk_schema_msg_by_name(msgname), b, n, &out, err, sizeof err);
    return out;
}

TEST(special_types)
{
    int rc;
    /* Duration 90m = 5400e9 ns: field 1 varint. */
    uint8_t dur[16] = {0x08};
    uint64_t ns = 5400000000000ULL;
    size_t k = 1;
    do {
        dur[k++] = (uint8_t)((ns & 0x7f) | (ns > 0x7f ? 0x80 : 0));
        ns >>= 7;
    } while (ns);
    json_t *j = decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.Duration", dur, k, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(json_string_value(j), "1h30m0s");
    json_decref(j);
    /* 1.5 ms */
    static const uint8_t dms[] = {0x08, 0xe0, 0xc6, 0x5b};
    j = decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.Duration", dms, sizeof dms, &rc);
    CHECK_EQ_STR(json_string_value(j), "1.5ms");
    json_decref(j);
    /* IntOrString: type 0, intVal 8080. */
    static const uint8_t ios[] = {0x08, 0x00, 0x10, 0x90, 0x3f};
    j = decode_raw("io.k8s.apimachinery.pkg.util.intstr.IntOrString", ios, sizeof ios, &rc);
    CHECK(json_is_integer(j) && json_integer_value(j) == 8080);
    json_decref(j);
    /* Time: seconds 0 is the epoch, not Go's zero time. */
    static const uint8_t t0[] = {0x08, 0x00};
    j = decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.Time", t0, sizeof t0, &rc);
    CHECK_EQ_STR(json_string_value(j), "1970-01-01T00:00:00Z");
    json_decref(j);
    j = decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.Time", t0, 0, &rc);
    CHECK(json_is_null(j));
    json_decref(j);
    /* RawExtension with invalid JSON is refused. */
    static const uint8_t rawbad[] = {0x0a, 0x02, '{', 'x'};
    j = decode_raw("io.k8s.apimachinery.pkg.runtime.RawExtension", rawbad, sizeof rawbad, &rc);
    CHECK_EQ_INT(rc, VK_EBADREQUEST);
    CHECK(j == NULL);
    /* Invalid UTF-8 in a string becomes U+FFFD, as Go's encoder does. */
    static const uint8_t badutf[] = {0x0a, 0x03, 'a', 0xff, 'b'};
    j = decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", badutf, sizeof badutf, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(json_string_value(json_object_get(j, "name")), "a\xef\xbf\xbd" "b");
    json_decref(j);
}

TEST(errors)
{
    json_t *out = NULL;
    char err[160];
    CHECK_EQ_INT(vk_pb_decode("{}", 2, &out, err, sizeof err), VK_EBADREQUEST);
    CHECK(out == NULL && strstr(err, "magic"));
    /* Unknown kind: 415 with a clear message. */
    static const uint8_t unk[] = {0x6b, 0x38, 0x73, 0x00, 0x0a, 0x0d, 0x0a, 0x06, 'x', '.', 'i',
                                  'o', '/', '1', 0x12, 0x03, 'F', 'o', 'o'};
    CHECK_EQ_INT(vk_pb_decode(unk, sizeof unk, &out, err, sizeof err), VK_EUNSUPPORTEDMEDIA);
    CHECK(strstr(err, "Foo") != NULL);
    /* Wrong wire type for ObjectMeta.name (varint instead of bytes). */
    static const uint8_t wt[] = {0x08, 0x01};
    int rc;
    CHECK(decode_raw("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", wt, sizeof wt, &rc) ==
          NULL);
    CHECK_EQ_INT(rc, VK_EBADREQUEST);
    /* Deep nesting is bounded: JSONSchemaProps.not nested 200 times. */
    const vk_schema_msg_t *jsp = vk_schema_msg_by_name(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps");
    const vk_schema_field_t *notf = jsp ? vk_schema_field_by_json(jsp, "not") : NULL;
    CHECK(notf != NULL);
    if (notf) {
        /* Build not{not{not{...}}} 200 deep from the inside out. */
        size_t cap = 4096, n = 0;
        uint8_t *buf = vk_xmalloc(cap);
        uint32_t tag = notf->number << 3 | 2;
        for (int i = 0; i < 200; i++) {
            uint8_t *nb = vk_xmalloc(cap);
            size_t o = 0;
            for (uint32_t t = tag; ; t >>= 7) {
                nb[o++] = (uint8_t)((t & 0x7f) | (t > 0x7f ? 0x80 : 0));
                if (t <= 0x7f)
                    break;
            }
            size_t l = n;
            do {
                nb[o++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
                l >>= 7;
            } while (l);
            memcpy(nb + o, buf, n);
            free(buf);
            buf = nb;
            n += o;
        }
        json_t *j = NULL;
        rc = vk_pb_decode_message(jsp, buf, n, &j, err, sizeof err);
        CHECK_EQ_INT(rc, VK_EBADREQUEST);
        CHECK(j == NULL && strstr(err, "nesting"));
        free(buf);
    }
}

TEST(amplification_bounded)
{
    /* 60,000 empty containers in a PodSpec: 2 bytes each on the wire, many
     * JSON values each once expanded to Go zero values. */
    const vk_schema_msg_t *ps = vk_schema_msg_by_name("io.k8s.api.core.v1.PodSpec");
    const vk_schema_field_t *c = ps ? vk_schema_field_by_json(ps, "containers") : NULL;
    CHECK(c != NULL);
    if (!c)
        return;
    size_t n = 120000;
    uint8_t *buf = vk_xmalloc(n);
    for (size_t i = 0; i < n; i += 2) {
        buf[i] = (uint8_t)(c->number << 3 | 2);
        buf[i + 1] = 0;
    }
    json_t *j = NULL;
    char err[128];
    int rc = vk_pb_decode_message(ps, buf, n, &j, err, sizeof err);
    CHECK_EQ_INT(rc, VK_EBADREQUEST);
    CHECK(j == NULL && strstr(err, "too large"));
    free(buf);
}

int main(void)
{
    RUN(real_fixtures);
    RUN(configmap_worked_example);
    RUN(special_types);
    RUN(errors);
    RUN(amplification_bounded);
    TEST_EXIT();
}
