/* Unit tests of proxy/crd: status and name conflicts, resource rows,
 * conversion, JSONPath subset, tables, scale, warnings, OpenAPI schemas and
 * update rules. Upstream-captured cases are in test_reference.c. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/crd.h"
#include "proxy/resources.h"
#include "tests/test.h"

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "  bad test JSON: %s\n", e.text);
    return j;
}

/* A widgets.example.com CRD: v1 (served, storage, status + scale, columns),
 * v2 (served), v0 (not served). */
static json_t *widget_crd(void)
{
    return J("{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
             "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
             "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\","
             "\"kind\":\"Widget\",\"listKind\":\"WidgetList\",\"shortNames\":[\"wd\",\"wdg\"],"
             "\"categories\":[\"all\",\"toys\"]},\"conversion\":{\"strategy\":\"None\"},"
             "\"versions\":["
             "{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":"
             "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":"
             "{\"replicas\":{\"type\":\"integer\"},\"size\":{\"type\":\"string\",\"nullable\":true},"
             "\"port\":{\"x-kubernetes-int-or-string\":true,\"anyOf\":[{\"type\":\"integer\"},"
             "{\"type\":\"string\"}]}}},\"status\":{\"type\":\"object\",\"properties\":{"
             "\"replicas\":{\"type\":\"integer\"},\"sel\":{\"type\":\"string\"}}}}}},"
             "\"subresources\":{\"status\":{},\"scale\":{\"specReplicasPath\":\".spec.replicas\","
             "\"statusReplicasPath\":\".status.replicas\",\"labelSelectorPath\":\".status.sel\"}},"
             "\"additionalPrinterColumns\":[{\"name\":\"Replicas\",\"type\":\"integer\","
             "\"jsonPath\":\".spec.replicas\"},{\"name\":\"Ready\",\"type\":\"boolean\","
             "\"jsonPath\":\".status.ready\",\"priority\":1,\"description\":\"is it\"},"
             "{\"name\":\"Born\",\"type\":\"date\",\"jsonPath\":\".metadata.creationTimestamp\"},"
             "{\"name\":\"First\",\"type\":\"string\",\"jsonPath\":\".spec.tags[0].name\"}]},"
             "{\"name\":\"v2\",\"served\":true,\"storage\":false,\"schema\":{\"openAPIV3Schema\":"
             "{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}},"
             "{\"name\":\"v0\",\"served\":false,\"storage\":false,\"schema\":{\"openAPIV3Schema\":"
             "{\"type\":\"object\"}}}]}}");
}

static int cond(const json_t *st, const char *type, const char *status, const char *reason)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type))
            return !strcmp(json_string_value(json_object_get(c, "status")), status) &&
                   !strcmp(json_string_value(json_object_get(c, "reason")), reason);
    }
    return 0;
}

static const char *cond_msg(const json_t *st, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "type")), type))
            return json_string_value(json_object_get(c, "message"));
    }
    return NULL;
}

TEST(status_accepted_and_rows)
{
    json_t *crd = widget_crd();
    vk_resources_t *t = vk_resources_new();
    int ok = 0;
    json_t *st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", &ok);
    CHECK_EQ_INT(ok, 1);
    CHECK(cond(st, "NamesAccepted", "True", "NoConflicts"));
    CHECK(cond(st, "Established", "True", "InitialNamesAccepted"));
    CHECK(cond_msg(st, "UnsupportedFeatures") == NULL);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(st, "storedVersions"), 0)), "v1");
    json_object_set_new(crd, "status", st);
    size_t before = vk_resources_count(t);
    CHECK_EQ_INT(vk_crd_rows_add(crd, t), 0);
    CHECK_EQ_INT(vk_resources_count(t), before + 2); /* v0 is not served */
    const vk_resource_t *r = vk_resources_find(t, "example.com", "v1", "widgets");
    CHECK(r != NULL);
    if (r) {
        CHECK_EQ_STR(r->kind, "Widget");
        CHECK_EQ_STR(r->singular, "widget");
        CHECK_EQ_STR(r->short_names, "wd,wdg");
        CHECK_EQ_STR(r->categories, "all,toys");
        CHECK(r->flags & VK_RES_NAMESPACED);
        CHECK(r->flags & VK_RES_STATUS);
        CHECK(r->flags & VK_RES_SCALE);
        CHECK(r->flags & VK_RES_CUSTOM);
        CHECK_EQ_INT(r->verbs, VK_VERBS_ALL);
    }
    r = vk_resources_find(t, "example.com", "v2", "widgets");
    CHECK(r && !(r->flags & VK_RES_STATUS) && !(r->flags & VK_RES_SCALE));
    CHECK(vk_resources_find(t, "example.com", "v0", "widgets") == NULL);
    /* Adding twice fails and leaves the table as it was. */
    CHECK_EQ_INT(vk_crd_rows_add(crd, t), VK_EEXIST);
    CHECK_EQ_INT(vk_resources_count(t), before + 2);
    CHECK_EQ_INT(vk_crd_rows_remove(crd, t), 2);
    CHECK_EQ_INT(vk_resources_count(t), before);
    vk_resources_free(t);
    json_decref(crd);
}

TEST(status_conflicts)
{
    vk_resources_t *t = vk_resources_new();
    /* Another CRD of the group already serves "widgets" with kind Gadget. */
    vk_resource_t other = {"example.com", "v1", "Gadget", "widgets", "gadget", "gd", "", 
                           VK_RES_CUSTOM | VK_RES_NAMESPACED, VK_VERBS_ALL};
    CHECK_EQ_INT(vk_resources_add(t, &other), 0);
    json_t *crd = widget_crd();
    int ok = 1;
    json_t *st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", &ok);
    CHECK_EQ_INT(ok, 0);
    CHECK(cond(st, "NamesAccepted", "False", "PluralConflict"));
    CHECK_EQ_STR(cond_msg(st, "NamesAccepted"), "\"widgets\" is already in use");
    CHECK(cond(st, "Established", "False", "NotAccepted"));
    json_decref(st);
    /* Same plural is fine in another group; kind and short names conflict. */
    vk_resources_remove(t, "example.com", "v1", "widgets");
    vk_resource_t k = {"example.com", "v1", "Widget", "things", "thing", "", "", VK_RES_CUSTOM,
                       VK_VERBS_ALL};
    vk_resources_add(t, &k);
    st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", &ok);
    CHECK(cond(st, "NamesAccepted", "False", "KindConflict"));
    json_decref(st);
    vk_resources_remove(t, "example.com", "v1", "things");
    vk_resource_t s = {"example.com", "v1", "Thing", "things", "thing", "th,wdg", "",
                       VK_RES_CUSTOM, VK_VERBS_ALL};
    vk_resources_add(t, &s);
    st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", &ok);
    CHECK(cond(st, "NamesAccepted", "False", "ShortNamesConflict"));
    CHECK_EQ_STR(cond_msg(st, "NamesAccepted"), "\"wdg\" is already in use");
    json_decref(st);
    /* A built-in group: pods in the core group conflicts with a core plural. */
    json_t *names = json_object_get(json_object_get(crd, "spec"), "names");
    json_object_set_new(json_object_get(crd, "spec"), "group", json_string(""));
    json_object_set_new(names, "plural", json_string("pods"));
    st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", &ok);
    CHECK(cond(st, "NamesAccepted", "False", "PluralConflict"));
    json_decref(st);
    json_decref(crd);
    vk_resources_free(t);
}

TEST(status_keeps_times_and_old_names)
{
    json_t *crd = widget_crd();
    vk_resources_t *t = vk_resources_new();
    json_t *st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", NULL);
    json_object_set_new(crd, "status", st);
    /* Later: the same names, a new time: times stay. */
    json_t *st2 = vk_crd_status(crd, t, "2026-02-02T00:00:00Z", NULL);
    json_t *c0 = json_array_get(json_object_get(st2, "conditions"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(c0, "lastTransitionTime")),
                 "2026-01-01T00:00:00Z");
    json_decref(st2);
    /* A new storage version is added to storedVersions, the old one kept. */
    json_t *vs = json_object_get(json_object_get(crd, "spec"), "versions");
    json_object_set_new(json_array_get(vs, 0), "storage", json_false());
    json_object_set_new(json_array_get(vs, 1), "storage", json_true());
    /* And the plural now conflicts: the accepted names stay (upstream keeps serving them). */
    vk_resource_t other = {"example.com", "v1", "Gadget", "widgets", "gadget", "", "",
                           VK_RES_CUSTOM, VK_VERBS_ALL};
    vk_resources_add(t, &other);
    int ok = 0;
    st2 = vk_crd_status(crd, t, "2026-02-02T00:00:00Z", &ok);
    CHECK_EQ_INT(ok, 1);
    CHECK(cond(st2, "NamesAccepted", "False", "PluralConflict"));
    CHECK(cond(st2, "Established", "True", "InitialNamesAccepted"));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(st2, "acceptedNames"), "kind")),
                 "Widget");
    json_t *sv = json_object_get(st2, "storedVersions");
    CHECK_EQ_INT(json_array_size(sv), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(sv, 1)), "v2");
    json_decref(st2);
    vk_resources_free(t);
    json_decref(crd);
}

TEST(unsupported_features_said)
{
    json_t *crd = widget_crd();
    json_t *spec = json_object_get(crd, "spec");
    json_t *v1s = json_object_get(
        json_object_get(json_array_get(json_object_get(spec, "versions"), 0), "schema"),
        "openAPIV3Schema");
    json_object_set_new(json_object_get(json_object_get(v1s, "properties"), "spec"),
                        "x-kubernetes-validations", J("[{\"rule\":\"self.replicas < 10\"}]"));
    json_t *w = vk_crd_warnings(crd);
    CHECK_EQ_INT(json_array_size(w), 1);
    CHECK(strstr(json_string_value(json_array_get(w, 0)),
                 "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations: "
                 "x-kubernetes-validations (CEL) rules are not enforced") != NULL);
    json_decref(w);
    vk_resources_t *t = vk_resources_new();
    json_t *st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", NULL);
    CHECK(cond(st, "UnsupportedFeatures", "True", "ValidationRulesNotEnforced"));
    CHECK(cond(st, "Established", "True", "InitialNamesAccepted"));
    json_decref(st);
    json_object_set_new(spec, "conversion",
                        J("{\"strategy\":\"Webhook\",\"webhook\":{\"conversionReviewVersions\":"
                          "[\"v1\"],\"clientConfig\":{\"url\":\"https://x\"}}}"));
    w = vk_crd_warnings(crd);
    CHECK_EQ_INT(json_array_size(w), 2);
    json_decref(w);
    st = vk_crd_status(crd, t, "2026-01-01T00:00:00Z", NULL);
    CHECK(cond(st, "UnsupportedFeatures", "True", "ValidationRulesAndWebhookConversion"));
    json_decref(st);
    vk_resources_free(t);
    json_decref(crd);
}

TEST(conversion)
{
    json_t *crd = widget_crd();
    json_t *o = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"spec\":{}}");
    char *err = NULL;
    CHECK_EQ_INT(vk_crd_convert(crd, o, "v2", &err), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(o, "apiVersion")), "example.com/v2");
    CHECK_EQ_INT(vk_crd_convert(crd, o, "v9", &err), VK_ENOTFOUND);
    free(err);
    err = NULL;
    json_object_set_new(json_object_get(crd, "spec"), "conversion",
                        J("{\"strategy\":\"Webhook\"}"));
    CHECK_EQ_INT(vk_crd_convert(crd, o, "v2", &err), 0); /* already v2 */
    CHECK_EQ_INT(vk_crd_convert(crd, o, "v1", &err), VK_EINTERNAL);
    CHECK(err && strstr(err, "conversion webhook for example.com/v1, Kind=Widget failed") == err);
    free(err);
    CHECK_EQ_STR(vk_crd_storage_version(crd), "v1");
    CHECK(vk_crd_schema(crd, "v2") != NULL);
    CHECK(vk_crd_version(crd, "v3") == NULL);
    json_decref(o);
    json_decref(crd);
}

static const char *jp1(const json_t *obj, const char *path, char *buf, size_t n)
{
    json_t *out = json_array();
    int rc = vk_crd_jsonpath(obj, path, out);
    char *s = json_dumps(out, JSON_COMPACT);
    snprintf(buf, n, "%d %s", rc, s);
    free(s);
    json_decref(out);
    return buf;
}

TEST(jsonpath_subset)
{
    char b[256];
    json_t *o = J("{\"a\":{\"b\":1,\"x.y\":2,\"l\":[{\"n\":\"p\"},{\"n\":\"q\"},{\"m\":1}]}}");
    CHECK_EQ_STR(jp1(o, ".a.b", b, sizeof b), "0 [1]");
    CHECK_EQ_STR(jp1(o, "{.a.b}", b, sizeof b), "0 [1]");
    CHECK_EQ_STR(jp1(o, ".a['x.y']", b, sizeof b), "0 [2]");
    CHECK_EQ_STR(jp1(o, ".a.l[1].n", b, sizeof b), "0 [\"q\"]");
    CHECK_EQ_STR(jp1(o, ".a.l[-1].m", b, sizeof b), "0 [1]");
    CHECK_EQ_STR(jp1(o, ".a.l[*].n", b, sizeof b), "0 [\"p\",\"q\"]");
    CHECK_EQ_STR(jp1(o, ".a.missing", b, sizeof b), "0 []");
    CHECK_EQ_STR(jp1(o, "a.b", b, sizeof b), "-1005 []");
    CHECK_EQ_STR(jp1(o, ".a.l[x]", b, sizeof b), "-1005 []");
    CHECK_EQ_STR(jp1(o, ".a.l[0", b, sizeof b), "-1005 []");
    json_decref(o);
}

TEST(table)
{
    json_t *crd = widget_crd();
    json_t *cols = vk_crd_table_columns(crd, "v1");
    CHECK_EQ_INT(json_array_size(cols), 5);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "Name");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 2), "description")),
                 "is it");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(cols, 2), "priority")), 1);
    json_decref(cols);
    /* No printer columns: Name and Age. */
    cols = vk_crd_table_columns(crd, "v2");
    CHECK_EQ_INT(json_array_size(cols), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "Age");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 1), "type")), "date");
    json_decref(cols);
    json_t *o = J("{\"metadata\":{\"name\":\"w1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
                  "\"spec\":{\"replicas\":2.0,\"tags\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
                  "\"status\":{\"ready\":\"yes\"}}");
    int64_t now = 1767225600 + 3 * 3600 + 120; /* 2026-01-01T03:02:00Z */
    json_t *row = vk_crd_table_row(crd, "v1", o, now);
    char *s = json_dumps(json_object_get(row, "cells"), JSON_COMPACT);
    /* integer from 2.0; "yes" is no boolean -> null; the date as an age; first tag. */
    CHECK_EQ_STR(s, "[\"w1\",2,null,\"3h2m\",\"a\"]");
    free(s);
    json_decref(row);
    row = vk_crd_table_row(crd, "v2", o, now);
    s = json_dumps(json_object_get(row, "cells"), JSON_COMPACT);
    CHECK_EQ_STR(s, "[\"w1\",\"3h2m\"]");
    free(s);
    json_decref(row);
    json_decref(o);
    json_decref(crd);
}

TEST(scale)
{
    json_t *crd = widget_crd();
    json_t *o = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
                  "\"w\",\"namespace\":\"ns\",\"uid\":\"u\",\"resourceVersion\":\"5\","
                  "\"generation\":3},\"spec\":{\"replicas\":3},\"status\":{\"replicas\":2,"
                  "\"sel\":\"app=w\"}}");
    json_t *sc = NULL;
    CHECK_EQ_INT(vk_crd_scale_get(crd, "v1", o, &sc), 0);
    json_t *want = J("{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":"
                     "\"w\",\"namespace\":\"ns\",\"uid\":\"u\",\"resourceVersion\":\"5\"},"
                     "\"spec\":{\"replicas\":3},\"status\":{\"replicas\":2,\"selector\":"
                     "\"app=w\"}}");
    CHECK(json_equal(sc, want));
    json_decref(want);
    json_decref(sc);
    CHECK_EQ_INT(vk_crd_scale_get(crd, "v2", o, &sc), VK_ENOTFOUND);
    json_t *causes = json_array();
    json_t *req = J("{\"spec\":{\"replicas\":7}}");
    CHECK_EQ_INT(vk_crd_scale_set(crd, "v1", o, req, causes), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "spec"), "replicas")), 7);
    json_decref(req);
    req = J("{\"spec\":{\"replicas\":-1}}");
    CHECK_EQ_INT(vk_crd_scale_set(crd, "v1", o, req, causes), VK_EINVALID);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(causes, 0), "message")),
                 "Invalid value: -1: must be greater than or equal to 0");
    json_decref(req);
    /* scale set creates the path when spec is missing */
    json_t *bare = J("{\"metadata\":{\"name\":\"b\"}}");
    req = J("{\"spec\":{\"replicas\":1}}");
    CHECK_EQ_INT(vk_crd_scale_set(crd, "v1", bare, req, causes), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(bare, "spec"), "replicas")), 1);
    json_decref(req);
    json_decref(bare);
    json_array_clear(causes);
    /* validation of the replica paths on writes */
    json_object_set_new(json_object_get(o, "status"), "replicas", json_string("two"));
    CHECK_EQ_INT(vk_crd_scale_validate(crd, "v1", o, causes), 1);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(causes, 0), "message")),
                 "Invalid value: 0: .status.replicas accessor error: two is of the type string, "
                 "expected int64");
    json_decref(causes);
    json_decref(o);
    json_decref(crd);
}

TEST(openapi_schema)
{
    json_t *crd = widget_crd();
    json_t *v3 = vk_crd_openapi_schema(crd, "v1", 0);
    json_t *spec3 = json_object_get(json_object_get(v3, "properties"), "spec");
    CHECK(json_object_get(json_object_get(json_object_get(spec3, "properties"), "port"), "anyOf"));
    json_t *v2 = vk_crd_openapi_schema(crd, "v1", 1);
    json_t *p2 = json_object_get(json_object_get(v2, "properties"), "spec");
    json_t *port = json_object_get(json_object_get(p2, "properties"), "port");
    json_t *size = json_object_get(json_object_get(p2, "properties"), "size");
    CHECK(port && !json_object_get(port, "anyOf") && !json_object_get(port, "type"));
    CHECK(size && !json_object_get(size, "nullable") && !json_object_get(size, "type"));
    /* The CRD itself is not changed. */
    CHECK(json_equal(vk_crd_schema(crd, "v1"), v3));
    CHECK(vk_crd_openapi_schema(crd, "nope", 0) == NULL);
    json_decref(v2);
    json_decref(v3);
    json_decref(crd);
}

TEST(update_rules)
{
    json_t *old = widget_crd(), *crd = widget_crd();
    json_t *st = J("{\"storedVersions\":[\"v1\",\"v0\"]}");
    json_object_set_new(old, "status", st);
    json_t *causes = json_array();
    CHECK_EQ_INT(vk_crd_validate(crd, old, causes), 0);
    /* Dropping a stored version from spec.versions, changing the group. */
    json_array_remove(json_object_get(json_object_get(crd, "spec"), "versions"), 2);
    json_object_set_new(json_object_get(crd, "spec"), "group", json_string("other.com"));
    json_object_set_new(json_object_get(crd, "metadata"), "name", json_string("widgets.other.com"));
    CHECK_EQ_INT(vk_crd_validate(crd, old, causes), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(causes, 0), "field")),
                 "spec.group");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(causes, 1), "message")),
                 "Invalid value: \"v0\": must appear in spec.versions");
    json_decref(causes);
    json_decref(old);
    json_decref(crd);
}

TEST(version_order)
{
    const char *sorted[] = {"v10", "v2", "v1", "v11beta2", "v10beta3", "v3beta1", "v12alpha1",
                            "v11alpha2", "foo1", "foo10"};
    size_t n = sizeof sorted / sizeof sorted[0];
    for (size_t i = 0; i + 1 < n; i++) {
        if (vk_crd_version_cmp(sorted[i], sorted[i + 1]) >= 0) {
            fprintf(stderr, "  %s should sort before %s\n", sorted[i], sorted[i + 1]);
            CHECK(0);
        }
        CHECK(vk_crd_version_cmp(sorted[i + 1], sorted[i]) > 0);
    }
    CHECK_EQ_INT(vk_crd_version_cmp("v1", "v1"), 0);
}

/* Rows (so discovery's versions, the first preferred) come in version
 * priority order, not spec order. */
TEST(rows_in_version_order)
{
    json_t *crd = J("{\"spec\":{\"group\":\"example.com\",\"scope\":\"Cluster\","
                    "\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},\"versions\":["
                    "{\"name\":\"zeta\",\"served\":true},{\"name\":\"v1alpha1\",\"served\":true},"
                    "{\"name\":\"v1\",\"served\":true,\"storage\":true},"
                    "{\"name\":\"v2beta1\",\"served\":true},{\"name\":\"alpha\",\"served\":true},"
                    "{\"name\":\"v3\",\"served\":false}]}}");
    vk_crd_rows_t *r = vk_crd_rows(crd);
    const char *want[] = {"v1", "v2beta1", "v1alpha1", "alpha", "zeta"};
    CHECK_EQ_INT((int)r->n, 5);
    for (size_t i = 0; i < r->n && i < 5; i++) CHECK_EQ_STR(r->rows[i].version, want[i]);
    vk_crd_rows_free(r);
    json_decref(crd);
}

TEST(prepare_create)
{
    json_t *crd = widget_crd();
    vk_crd_prepare_create(crd);
    json_t *want = J("{\"acceptedNames\":{\"plural\":\"\",\"kind\":\"\"},\"storedVersions\":"
                     "[\"v1\"]}");
    CHECK(json_equal(json_object_get(crd, "status"), want));
    json_decref(want);
    json_decref(crd);
}

TEST(write_and_read_pipeline)
{
    json_t *crd = widget_crd();
    /* An update at v2 (storage v1) of an object stored at v1. */
    json_t *old = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                    "{\"name\":\"w\",\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{\"replicas\":"
                    "1},\"status\":{\"replicas\":1}}");
    json_t *obj = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":"
                    "{\"name\":\"w\",\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{\"replicas\":"
                    "2,\"bogus\":1},\"status\":{\"replicas\":9}}");
    vk_crd_write_result_t res;
    /* main resource: status from old, bogus pruned (reported), stored at v1 */
    CHECK_EQ_INT(vk_crd_write(crd, "v1", obj, old, VK_CRD_WRITE_MAIN_STATUS, &res), 0);
    CHECK_EQ_INT(json_array_size(res.pruned), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(res.pruned, 0)), "spec.bogus");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(obj, "status"), "replicas")), 1);
    json_decref(res.pruned);
    /* strict: 400 with the upstream text */
    json_object_set_new(json_object_get(obj, "spec"), "bogus", json_integer(1));
    CHECK_EQ_INT(vk_crd_write(crd, "v1", obj, old, VK_CRD_WRITE_STRICT, &res), VK_EBADREQUEST);
    CHECK_EQ_STR(res.message, "Widget in version \"v1\" cannot be handled as a Widget: strict "
                              "decoding error: unknown field \"spec.bogus\"");
    json_decref(res.pruned);
    free(res.message);
    json_decref(obj);
    /* /status: spec comes from old; a negative status.replicas is refused. */
    obj = J("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
            "\"w\",\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{\"replicas\":5},"
            "\"status\":{\"replicas\":-2}}");
    CHECK_EQ_INT(vk_crd_write(crd, "v1", obj, old, VK_CRD_WRITE_STATUS_ONLY, &res), VK_EINVALID);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(obj, "spec"), "replicas")), 1);
    CHECK(res.message && strstr(res.message, "Widget.example.com \"w\" is invalid: .status.replicas: "
                                             "Invalid value: -2: should be a non-negative integer"));
    json_decref(res.pruned);
    json_decref(res.causes);
    free(res.message);
    json_decref(obj);
    /* A write at v2 is stored at v1; a read at v2 converts back. */
    obj = J("{\"apiVersion\":\"example.com/v2\",\"kind\":\"Widget\",\"metadata\":{\"name\":"
            "\"w2\",\"namespace\":\"ns\"},\"anything\":{\"goes\":1}}");
    CHECK_EQ_INT(vk_crd_write(crd, "v2", obj, NULL, 0, &res), 0);
    CHECK_EQ_INT(json_array_size(res.pruned), 0); /* v2 preserves unknown fields */
    CHECK_EQ_STR(json_string_value(json_object_get(obj, "apiVersion")), "example.com/v1");
    json_decref(res.pruned);
    char *err = NULL;
    CHECK_EQ_INT(vk_crd_read(crd, "v2", obj, &err), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(obj, "apiVersion")), "example.com/v2");
    json_decref(obj);
    /* An unknown version */
    obj = J("{}");
    CHECK_EQ_INT(vk_crd_write(crd, "v7", obj, NULL, 0, &res), VK_ENOTFOUND);
    json_decref(res.pruned);
    json_decref(obj);
    json_decref(old);
    json_decref(crd);
}

int main(void)
{
    RUN(status_accepted_and_rows);
    RUN(status_conflicts);
    RUN(status_keeps_times_and_old_names);
    RUN(unsupported_features_said);
    RUN(conversion);
    RUN(jsonpath_subset);
    RUN(table);
    RUN(scale);
    RUN(openapi_schema);
    RUN(update_rules);
    RUN(version_order);
    RUN(rows_in_version_order);
    RUN(prepare_create);
    RUN(write_and_read_pipeline);
    TEST_EXIT();
}
