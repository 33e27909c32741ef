/* Unit tests for proxy/selector: label selector grammar and errors as
 * k8s.io/apimachinery/pkg/labels words them, field selectors, LabelSelector objects. */
#include "proxy/selector.h"

#include "common/err.h"
#include "tests/test.h"

static json_t *J(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", s, e.text);
    return j;
}

/* Parses sel and matches it against the labels JSON; -1 on a parse error. */
static int lmatch(const char *sel, const char *labels) {
    vk_selector_label_t *s;
    char *err = NULL;
    if (vk_selector_label_parse(sel, &s, &err) != 0) {
        fprintf(stderr, "  parse %s: %s\n", sel, err);
        free(err);
        return -1;
    }
    json_t *l = labels ? J(labels) : NULL;
    int m = vk_selector_label_match(s, l);
    json_decref(l);
    vk_selector_label_free(s);
    return m;
}

/* The parse error message for sel (caller frees), or NULL when it parses. */
static char *lerr(const char *sel) {
    vk_selector_label_t *s = NULL;
    char *err = NULL;
    int rc = vk_selector_label_parse(sel, &s, &err);
    if (rc == 0) {
        vk_selector_label_free(s);
        return NULL;
    }
    if (rc != VK_EBADREQUEST) {
        free(err);
        return strdup("wrong code");
    }
    return err;
}

#define CHECK_LERR(sel, msg)                                                                       \
    do {                                                                                           \
        char *e_ = lerr(sel);                                                                      \
        CHECK_EQ_STR(e_, msg);                                                                     \
        free(e_);                                                                                  \
    } while (0)

TEST(label_equality)
{
    const char *l = "{\"app\":\"web\",\"tier\":\"front\"}";
    CHECK_EQ_INT(lmatch("app=web", l), 1);
    CHECK_EQ_INT(lmatch("app==web", l), 1);
    CHECK_EQ_INT(lmatch("app=db", l), 0);
    CHECK_EQ_INT(lmatch("app!=db", l), 1);
    CHECK_EQ_INT(lmatch("app!=web", l), 0);
    CHECK_EQ_INT(lmatch("missing!=x", l), 1); /* != matches absent labels */
    CHECK_EQ_INT(lmatch("app=web,tier=front", l), 1);
    CHECK_EQ_INT(lmatch("app=web,tier=back", l), 0);
    CHECK_EQ_INT(lmatch(" app = web , tier = front ", l), 1);
    CHECK_EQ_INT(lmatch("app=", "{\"app\":\"\"}"), 1);
    CHECK_EQ_INT(lmatch("app=", l), 0);
    CHECK_EQ_INT(lmatch("app=web", NULL), 0);
    CHECK_EQ_INT(lmatch("app!=web", NULL), 1);
}

TEST(label_sets_and_existence)
{
    const char *l = "{\"env\":\"prod\",\"in\":\"notin\"}";
    CHECK_EQ_INT(lmatch("env in (prod,dev)", l), 1);
    CHECK_EQ_INT(lmatch("env in (dev)", l), 0);
    CHECK_EQ_INT(lmatch("env notin (dev,qa)", l), 1);
    CHECK_EQ_INT(lmatch("env notin (prod)", l), 0);
    CHECK_EQ_INT(lmatch("zone notin (a)", l), 1);
    CHECK_EQ_INT(lmatch("zone in (a)", l), 0);
    CHECK_EQ_INT(lmatch("env", l), 1);
    CHECK_EQ_INT(lmatch("zone", l), 0);
    CHECK_EQ_INT(lmatch("!zone", l), 1);
    CHECK_EQ_INT(lmatch("!env", l), 0);
    CHECK_EQ_INT(lmatch("env,!zone", l), 1);
    /* "in" and "notin" are identifiers where a value is expected. */
    CHECK_EQ_INT(lmatch("in in (notin)", l), 1);
    CHECK_EQ_INT(lmatch("in=notin", l), 1);
    /* "()" and "(,)" mean the empty value. */
    CHECK_EQ_INT(lmatch("env in ()", "{\"env\":\"\"}"), 1);
    CHECK_EQ_INT(lmatch("env in (,prod)", l), 1);
    CHECK_EQ_INT(lmatch("env in (a,,b)", "{\"env\":\"\"}"), 1);
    CHECK_EQ_INT(lmatch("example.com/role in (x)", "{\"example.com/role\":\"x\"}"), 1);
    CHECK_EQ_INT(lmatch("", l), 1);
    CHECK_EQ_INT(lmatch("   ", l), 1);
}

TEST(label_gt_lt)
{
    CHECK_EQ_INT(lmatch("n>5", "{\"n\":\"7\"}"), 1);
    CHECK_EQ_INT(lmatch("n>5", "{\"n\":\"5\"}"), 0);
    CHECK_EQ_INT(lmatch("n<5", "{\"n\":\"3\"}"), 1);
    CHECK_EQ_INT(lmatch("n<5", "{\"n\":\"x\"}"), 0);
    CHECK_EQ_INT(lmatch("n<5", "{}"), 0);
    CHECK_LERR("n>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', "
                      "'Lt' operators, the value must be an integer");
}

TEST(label_parse_errors_worded_as_upstream)
{
    CHECK_LERR("a in", "unable to parse requirement: found '' expected: '('");
    CHECK_LERR("a in (b", "unable to parse requirement: found '', expected: ',' or ')'");
    CHECK_LERR("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'");
    CHECK_LERR("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or "
                           "identifier");
    CHECK_LERR("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, "
                      "gt, lt");
    CHECK_LERR("a=b,", "found '', expected: identifier after ','");
    CHECK_LERR("a=b c", "found 'c', expected: ',' or 'end of string'");
    CHECK_LERR("=a", "found '=', expected: !, identifier, or 'end of string'");
    CHECK_LERR("!a=b", "found '=', expected: ',' or 'end of string'");
    CHECK_LERR("a==(", "unable to parse requirement: found '(', expected: identifier");
    CHECK_LERR("!", "unable to parse requirement: found '', expected: identifier");
    CHECK_LERR("a=b c", "found 'c', expected: ',' or 'end of string'");
    CHECK_LERR("-a=b",
               "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must "
               "consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
               "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
               "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    CHECK_LERR("Ex.com/a=b",
               "unable to parse requirement: <nil>: Invalid value: \"Ex.com/a\": prefix part a "
               "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
               "'-' or '.', and must start and end with an alphanumeric character (e.g. "
               "'example.com', regex used for validation is "
               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    CHECK_LERR("a=-b",
               "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label "
               "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
               "and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
               "'my_value',  or '12345', regex used for validation is "
               "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    char longv[80];
    memset(longv, 'v', 70);
    longv[70] = 0;
    char sel[100];
    snprintf(sel, sizeof sel, "a=%s", longv);
    char *e = lerr(sel);
    CHECK(e && strstr(e, "values[0][a]: Invalid value:") && strstr(e, "must be no more than 63 "
                                                                      "bytes"));
    free(e);
    snprintf(sel, sizeof sel, "%s=a", longv);
    e = lerr(sel);
    CHECK(e && strstr(e, "name part must be no more than 63 bytes"));
    free(e);
    e = lerr("a/b/c");
    CHECK(e && strstr(e, "a valid label key must consist"));
    free(e);
}

TEST(field_selectors)
{
    json_t *pod = J("{\"metadata\":{\"name\":\"p1\",\"namespace\":\"ns\"},"
                    "\"spec\":{\"nodeName\":\"n1\",\"unschedulable\":true,\"prio\":7},"
                    "\"status\":{\"phase\":\"Running\"}}");
    json_t *pending = J("{\"metadata\":{\"name\":\"p2\",\"namespace\":\"ns\"},"
                        "\"status\":{\"phase\":\"Pending\"}}");
    struct {
        const char *sel;
        int m1, m2;
    } cases[] = {
        {"", 1, 1},
        {"metadata.name=p1", 1, 0},
        {"metadata.name==p1", 1, 0},
        {"metadata.name!=p1", 0, 1},
        {"metadata.namespace=ns,status.phase=Running", 1, 0},
        {"status.phase!=Running,status.phase!=Succeeded", 0, 1},
        {"spec.nodeName=", 0, 1}, /* absent fields compare as "" */
        {"spec.nodeName!=", 1, 0},
        {"spec.unschedulable=true", 1, 0},
        {"spec.prio=7", 1, 0},
        {"metadata.name=p1,", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vk_selector_field_t *s;
        char *err = NULL;
        int rc = vk_selector_field_parse(cases[i].sel, &s, &err);
        CHECK_EQ_INT(rc, 0);
        if (rc)
            continue;
        CHECK_EQ_INT(vk_selector_field_match(s, pod, NULL, NULL), cases[i].m1);
        CHECK_EQ_INT(vk_selector_field_match(s, pending, NULL, NULL), cases[i].m2);
        vk_selector_field_free(s);
    }
    json_decref(pod);
    json_decref(pending);
}

TEST(field_selector_escapes_and_errors)
{
    vk_selector_field_t *s;
    char *err = NULL;
    CHECK_EQ_INT(vk_selector_field_parse("metadata.name=a\\,b\\=c\\\\", &s, &err), 0);
    CHECK_EQ_STR(vk_selector_field_exact(s, "metadata.name"), "a,b=c\\");
    CHECK(vk_selector_field_exact(s, "metadata.namespace") == NULL);
    vk_selector_field_free(s);

    CHECK_EQ_INT(vk_selector_field_parse("metadata.name", &s, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    free(err);
    CHECK_EQ_INT(vk_selector_field_parse("a=b,c", &s, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "invalid selector: 'a=b,c'; can't understand 'c'");
    free(err);
    CHECK_EQ_INT(vk_selector_field_parse("a=b=c", &s, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "invalid field selector: unescaped character in value: 61");
    free(err);
    CHECK_EQ_INT(vk_selector_field_parse("a=b\\x", &s, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "invalid field selector: invalid escape sequence: \\x");
    free(err);

    CHECK_EQ_INT(vk_selector_field_parse("metadata.name=x,spec.nodeName=n", &s, &err), 0);
    const char *pods[] = {"spec.nodeName", "status.phase", NULL};
    const char *cms[] = {NULL};
    CHECK_EQ_INT(vk_selector_field_check(s, pods, &err), 0);
    CHECK_EQ_INT(vk_selector_field_check(s, cms, &err), VK_EBADREQUEST);
    CHECK_EQ_STR(err, "field label not supported: spec.nodeName");
    free(err);
    vk_selector_field_free(s);
}

static const char *phase_cb(void *ctx, const json_t *obj, const char *field, char *buf,
                            size_t cap) {
    int *calls = ctx;
    (*calls)++;
    if (strcmp(field, "status.phase") == 0) {
        snprintf(buf, cap, "Computed");
        return buf;
    }
    return vk_selector_field_value(NULL, obj, field, buf, cap);
}

TEST(field_selector_custom_extractor)
{
    vk_selector_field_t *s;
    CHECK_EQ_INT(vk_selector_field_parse("status.phase=Computed,metadata.name=a", &s, NULL), 0);
    json_t *o = J("{\"metadata\":{\"name\":\"a\"}}");
    int calls = 0;
    CHECK_EQ_INT(vk_selector_field_match(s, o, phase_cb, &calls), 1);
    CHECK_EQ_INT(calls, 2);
    CHECK_EQ_INT(vk_selector_field_match(s, o, NULL, NULL), 0);
    json_decref(o);
    vk_selector_field_free(s);
}

static int omatch(const char *sel, const char *labels, char **err) {
    json_t *s = sel ? J(sel) : NULL, *l = J(labels);
    int m = vk_selector_object_match(s, l, err);
    json_decref(s);
    json_decref(l);
    return m;
}

TEST(label_selector_objects)
{
    const char *l = "{\"app\":\"web\",\"env\":\"prod\"}";
    char *err = NULL;
    CHECK_EQ_INT(omatch("{}", l, NULL), 1);
    CHECK_EQ_INT(omatch(NULL, l, NULL), 0);
    CHECK_EQ_INT(omatch("{\"matchLabels\":{\"app\":\"web\"}}", l, NULL), 1);
    CHECK_EQ_INT(omatch("{\"matchLabels\":{\"app\":\"db\"}}", l, NULL), 0);
    CHECK_EQ_INT(omatch("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"env\","
                        "\"operator\":\"In\",\"values\":[\"prod\",\"qa\"]}]}",
                        l, NULL),
                 1);
    CHECK_EQ_INT(omatch("{\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"NotIn\","
                        "\"values\":[\"prod\"]}]}",
                        l, NULL),
                 0);
    CHECK_EQ_INT(omatch("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"DoesNotExist\"},"
                        "{\"key\":\"app\",\"operator\":\"Exists\"}]}",
                        l, NULL),
                 1);
    CHECK_EQ_INT(omatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Bogus\"}]}", l,
                        &err),
                 VK_EINVALID);
    CHECK_EQ_STR(err, "\"Bogus\" is not a valid label selector operator");
    free(err);
    CHECK_EQ_INT(omatch("{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"In\","
                        "\"values\":[]}]}",
                        l, &err),
                 VK_EINVALID);
    CHECK(err && strstr(err, "values set can't be empty"));
    free(err);
    CHECK_EQ_INT(omatch("{\"matchLabels\":{\"app\":\"-bad\"}}", l, &err), VK_EINVALID);
    CHECK(err && strstr(err, "a valid label must be"));
    free(err);
}

int main(void) {
    RUN(label_equality);
    RUN(label_sets_and_existence);
    RUN(label_gt_lt);
    RUN(label_parse_errors_worded_as_upstream);
    RUN(field_selectors);
    RUN(field_selector_escapes_and_errors);
    RUN(field_selector_custom_extractor);
    RUN(label_selector_objects);
    TEST_EXIT();
}
