/* Reference cases: CRDs and custom objects whose kube-apiserver 1.36 answers
 * were captured by tests/crd/ref/capture.py into tests/crd/ref/expect/.
 * Each case runs our pipeline (defaults + vk_crd_validate for CRDs; prune,
 * default, validate, scale checks for objects) and compares the causes as
 * sets (upstream's order follows Go map iteration), the pruned field paths
 * with the strict decoding error, defaulted objects, the Table and Scale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/crd.h"
#include "proxy/crdschema.h"
#include "proxy/defaults.h"
#include "proxy/validate.h"
#include "tests/test.h"

static json_t *load(const char *rel)
{
    char path[512];
    const char *root = getenv("VKUBE_ROOT");
    snprintf(path, sizeof path, "%s/tests/crd/ref/%s", root ? root : ".", rel);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fprintf(stderr, "  cannot load %s: %s\n", path, e.text);
    return j;
}

/* The part of a message compared: for spec.versions upstream prints its
 * internal Go structs; only the text after the value is compared. */
static const char *cmp_part(const char *field, const char *msg)
{
    if (!strcmp(field, "spec.versions")) {
        const char *p = strstr(msg, "]: ");
        return p ? p + 3 : msg;
    }
    return msg;
}

static int has(const json_t *list, const json_t *c)
{
    const char *f = json_string_value(json_object_get(c, "field"));
    const char *m = json_string_value(json_object_get(c, "message"));
    const char *r = json_string_value(json_object_get(c, "reason"));
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        const char *xf = json_string_value(json_object_get(x, "field"));
        const char *xm = json_string_value(json_object_get(x, "message"));
        const char *xr = json_string_value(json_object_get(x, "reason"));
        if (f && xf && !strcmp(f, xf) && r && xr && !strcmp(r, xr) && m && xm &&
            !strcmp(cmp_part(f, m), cmp_part(xf, xm)))
            return 1;
    }
    return 0;
}

/* Both directions; prints what differs. Returns 1 when equal as sets. */
static int same_causes(const char *name, const json_t *got, const json_t *want)
{
    int ok = 1;
    size_t i;
    json_t *c;
    json_array_foreach(want, i, c)
    {
        if (!has(got, c)) {
            fprintf(stderr, "  %s: missing %s | %s | %s\n", name,
                    json_string_value(json_object_get(c, "field")),
                    json_string_value(json_object_get(c, "reason")),
                    json_string_value(json_object_get(c, "message")));
            ok = 0;
        }
    }
    json_array_foreach(got, i, c)
    {
        if (!has(want, c)) {
            fprintf(stderr, "  %s: extra %s | %s | %s\n", name,
                    json_string_value(json_object_get(c, "field")),
                    json_string_value(json_object_get(c, "reason")),
                    json_string_value(json_object_get(c, "message")));
            ok = 0;
        }
    }
    return ok;
}

static void crd_case(const char *name)
{
    char p[128];
    snprintf(p, sizeof p, "crds/%s.json", name);
    json_t *crd = load(p);
    snprintf(p, sizeof p, "expect/crd-%s.json", name);
    json_t *exp = load(p);
    CHECK(crd && exp);
    if (!crd || !exp)
        goto out;
    vk_defaults_apply("apiextensions.k8s.io", "v1", "CustomResourceDefinition", crd);
    json_t *causes = json_array();
    vk_crd_validate(crd, NULL, causes);
    json_int_t code = json_integer_value(json_object_get(exp, "code"));
    if (code == 201) {
        json_t *empty = json_array();
        CHECK(same_causes(name, causes, empty));
        json_decref(empty);
        /* The status stored with a new CRD. */
        vk_crd_prepare_create(crd);
        json_t *want = json_object_get(json_object_get(exp, "body"), "status");
        json_t *got = json_object_get(crd, "status");
        CHECK(json_equal(json_object_get(got, "acceptedNames"),
                         json_object_get(want, "acceptedNames")));
        CHECK(json_equal(json_object_get(got, "storedVersions"),
                         json_object_get(want, "storedVersions")));
    } else {
        CHECK_EQ_INT(code, 422);
        json_t *want = json_object_get(json_object_get(json_object_get(exp, "body"), "details"),
                                       "causes");
        CHECK(same_causes(name, causes, want));
    }
    json_decref(causes);
out:
    json_decref(crd);
    json_decref(exp);
}

TEST(crd_names) { crd_case("c1-names"); }
TEST(crd_structural) { crd_case("c2-structural"); }
TEST(crd_defaults) { crd_case("c3-defaults"); }
TEST(crd_noschema) { crd_case("c4-noschema"); }
TEST(crd_storage) { crd_case("c5-storage"); }
TEST(crd_misc) { crd_case("c6-misc"); }
TEST(crd_ok_webhook) { crd_case("c7-ok-webhook"); }
TEST(crd_protected) { crd_case("c8-protected"); }
TEST(crd_protected_unapproved) { crd_case("c9-protected-unapproved"); }
TEST(crd_protected_bad) { crd_case("c10-protected-bad"); }

/* Runs the write pipeline the REST layer runs on create. */
static json_t *pipeline(const json_t *crd, json_t *obj, json_t *pruned)
{
    const json_t *schema = vk_crd_schema(crd, "v1");
    vk_crdschema_prune(schema, obj, pruned);
    vk_crdschema_default(schema, obj);
    json_object_del(obj, "status"); /* create with a status subresource */
    json_t *causes = json_array();
    vk_validate_object("zzcrdprobe.vk.example.com", "Probe", obj, NULL, causes);
    vk_crdschema_validate(schema, obj, causes);
    vk_crd_scale_validate(crd, "v1", obj, causes);
    return causes;
}

/* The unknown field paths named in a strict decoding error message. */
static json_t *strict_paths(const char *msg)
{
    json_t *out = json_array();
    const char *p = msg;
    while ((p = strstr(p, "unknown field \"")) != NULL) {
        p += 15;
        const char *e = strchr(p, '"');
        if (!e)
            break;
        char *s = vk_xstrndup(p, (size_t)(e - p));
        json_array_append_new(out, json_string(s));
        free(s);
        p = e;
    }
    return out;
}

static int same_strings(const json_t *a, const json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return 0;
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x)
    {
        int found = 0;
        json_array_foreach(b, j, y) if (json_equal(x, y)) found = 1;
        if (!found)
            return 0;
    }
    return 1;
}

static void obj_case(const char *name)
{
    char p[128];
    json_t *crd = load("probe-crd.json");
    snprintf(p, sizeof p, "objects/%s.json", name);
    json_t *obj = load(p);
    snprintf(p, sizeof p, "expect/obj-%s.json", name);
    json_t *exp = load(p);
    snprintf(p, sizeof p, "expect/obj-%s-strict.json", name);
    json_t *sexp = load(p);
    CHECK(crd && obj && exp && sexp);
    if (!crd || !obj || !exp || !sexp)
        goto out;
    json_t *pruned = json_array();
    json_t *causes = pipeline(crd, obj, pruned);
    json_t *body = json_object_get(exp, "body");
    if (json_integer_value(json_object_get(exp, "code")) == 201) {
        json_t *empty = json_array();
        CHECK(same_causes(name, causes, empty));
        json_decref(empty);
        CHECK(json_equal(json_object_get(obj, "spec"), json_object_get(body, "spec")));
        CHECK(!json_object_get(obj, "extra") == !json_object_get(body, "extra"));
    } else {
        json_t *want = json_object_get(json_object_get(body, "details"), "causes");
        CHECK(same_causes(name, causes, want));
        if (json_array_size(want) == 1 && json_array_size(causes) == 1) {
            /* The whole Status message, as the REST layer builds it. */
            const char *oname = json_string_value(
                json_object_get(json_object_get(obj, "metadata"), "name"));
            char *m = vk_validate_message("zzcrdprobe.vk.example.com", "Probe", oname, causes);
            CHECK_EQ_STR(m, json_string_value(json_object_get(body, "message")));
            free(m);
        }
    }
    json_t *sbody = json_object_get(sexp, "body");
    json_t *want_paths = json_integer_value(json_object_get(sexp, "code")) == 400
                             ? strict_paths(json_string_value(json_object_get(sbody, "message")))
                             : json_array();
    if (!same_strings(pruned, want_paths)) {
        char *g = json_dumps(pruned, JSON_COMPACT), *w = json_dumps(want_paths, JSON_COMPACT);
        fprintf(stderr, "  %s: pruned %s, upstream %s\n", name, g, w);
        free(g);
        free(w);
        CHECK(0);
    }
    json_decref(want_paths);
    json_decref(pruned);
    json_decref(causes);
out:
    json_decref(crd);
    json_decref(obj);
    json_decref(exp);
    json_decref(sexp);
}

/* The same cases through the one-call pipeline vk_crd_write. */
static void write_case(const char *name)
{
    char p[128];
    json_t *crd = load("probe-crd.json");
    snprintf(p, sizeof p, "objects/%s.json", name);
    json_t *obj = load(p);
    snprintf(p, sizeof p, "expect/obj-%s.json", name);
    json_t *exp = load(p);
    snprintf(p, sizeof p, "expect/obj-%s-strict.json", name);
    json_t *sexp = load(p);
    CHECK(crd && obj && exp && sexp);
    if (!crd || !obj || !exp || !sexp)
        goto out;
    json_t *strict_obj = json_deep_copy(obj);
    vk_crd_write_result_t res;
    int rc = vk_crd_write(crd, "v1", obj, NULL, VK_CRD_WRITE_MAIN_STATUS, &res);
    json_t *body = json_object_get(exp, "body");
    if (json_integer_value(json_object_get(exp, "code")) == 201) {
        CHECK_EQ_INT(rc, 0);
        CHECK(json_equal(json_object_get(obj, "spec"), json_object_get(body, "spec")));
        CHECK(json_object_get(obj, "status") == NULL);
    } else {
        CHECK_EQ_INT(rc, VK_EINVALID);
        json_t *want = json_object_get(json_object_get(body, "details"), "causes");
        CHECK(res.causes && same_causes(name, res.causes, want));
        if (json_array_size(want) == 1)
            CHECK_EQ_STR(res.message, json_string_value(json_object_get(body, "message")));
    }
    json_decref(res.pruned);
    json_decref(res.causes);
    free(res.message);
    rc = vk_crd_write(crd, "v1", strict_obj, NULL, VK_CRD_WRITE_MAIN_STATUS | VK_CRD_WRITE_STRICT,
                      &res);
    json_t *sbody = json_object_get(sexp, "body");
    if (json_integer_value(json_object_get(sexp, "code")) == 400) {
        CHECK_EQ_INT(rc, VK_EBADREQUEST);
        json_t *got = strict_paths(res.message ? res.message : "");
        json_t *want = strict_paths(json_string_value(json_object_get(sbody, "message")));
        CHECK(same_strings(got, want));
        /* The text around the paths is upstream's. */
        CHECK(res.message && !strncmp(res.message, json_string_value(json_object_get(sbody, "message")),
                                      strlen("Probe in version \"v1\" cannot be handled as a Probe: "
                                             "strict decoding error: ")));
        json_decref(got);
        json_decref(want);
    } else {
        CHECK(rc != VK_EBADREQUEST);
    }
    json_decref(res.pruned);
    json_decref(res.causes);
    free(res.message);
    json_decref(strict_obj);
out:
    json_decref(crd);
    json_decref(obj);
    json_decref(exp);
    json_decref(sexp);
}

TEST(write_all_cases)
{
    static const char *const names[] = {"bad1", "bad2", "bad3", "bad4", "bad5",
                                        "bad6", "bad7", "bad8", "ok1",  "ok2"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        write_case(names[i]);
}

TEST(obj_bad1) { obj_case("bad1"); }
TEST(obj_bad2) { obj_case("bad2"); }
TEST(obj_bad3) { obj_case("bad3"); }
TEST(obj_bad4) { obj_case("bad4"); }
TEST(obj_bad5) { obj_case("bad5"); }
TEST(obj_bad6) { obj_case("bad6"); }
TEST(obj_bad7_meta) { obj_case("bad7"); }
TEST(obj_bad8_embedded_meta) { obj_case("bad8"); }
TEST(obj_ok1) { obj_case("ok1"); }
TEST(obj_ok2) { obj_case("ok2"); }

TEST(table_ok1)
{
    json_t *crd = load("probe-crd.json"), *obj = load("objects/ok1.json");
    json_t *exp = load("expect/table-ok1.json");
    CHECK(crd && obj && exp);
    if (!crd || !obj || !exp)
        goto out;
    json_t *pruned = json_array();
    json_decref(pipeline(crd, obj, pruned));
    json_decref(pruned);
    json_t *body = json_object_get(exp, "body");
    json_t *cols = vk_crd_table_columns(crd, "v1");
    CHECK(json_equal(cols, json_object_get(body, "columnDefinitions")));
    json_t *row = vk_crd_table_row(crd, "v1", obj, 1800000000);
    json_t *want = json_object_get(json_array_get(json_object_get(body, "rows"), 0), "cells");
    json_t *got = json_object_get(row, "cells");
    CHECK_EQ_INT(json_array_size(got), json_array_size(want));
    for (size_t i = 0; i < json_array_size(want); i++) {
        const char *type =
            json_string_value(json_object_get(json_array_get(cols, i), "type"));
        if (type && !strcmp(type, "date")) /* an age: depends on the time of capture */
            CHECK(json_is_string(json_array_get(got, i)));
        else if (!json_equal(json_array_get(got, i), json_array_get(want, i))) {
            char *g = json_dumps(json_array_get(got, i), JSON_ENCODE_ANY);
            char *w = json_dumps(json_array_get(want, i), JSON_ENCODE_ANY);
            fprintf(stderr, "  cell %zu: %s, upstream %s\n", i, g, w);
            free(g);
            free(w);
            CHECK(0);
        }
    }
    json_decref(row);
    json_decref(cols);
out:
    json_decref(crd);
    json_decref(obj);
    json_decref(exp);
}

TEST(scale_ok1)
{
    json_t *crd = load("probe-crd.json"), *obj = load("objects/ok1.json");
    json_t *exp = load("expect/scale-ok1.json");
    CHECK(crd && obj && exp);
    if (!crd || !obj || !exp)
        goto out;
    json_t *pruned = json_array();
    json_decref(pipeline(crd, obj, pruned));
    json_decref(pruned);
    json_t *body = json_object_get(exp, "body");
    /* Server-set metadata comes from the stored object. */
    json_object_set(json_object_get(obj, "metadata"), "uid",
                    json_object_get(json_object_get(body, "metadata"), "uid"));
    json_object_set(json_object_get(obj, "metadata"), "resourceVersion",
                    json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
    json_object_set(json_object_get(obj, "metadata"), "creationTimestamp",
                    json_object_get(json_object_get(body, "metadata"), "creationTimestamp"));
    json_object_del(json_object_get(obj, "metadata"), "labels");
    json_t *scale = NULL;
    CHECK_EQ_INT(vk_crd_scale_get(crd, "v1", obj, &scale), 0);
    CHECK(json_equal(scale, body));
    json_decref(scale);
out:
    json_decref(crd);
    json_decref(obj);
    json_decref(exp);
}

TEST(probe_status)
{
    json_t *crd = load("probe-crd.json"), *exp = load("expect/probe-crd-status.json");
    CHECK(crd && exp);
    if (!crd || !exp)
        goto out;
    vk_resources_t *res = vk_resources_new();
    int accepted = 0;
    json_t *st = vk_crd_status(crd, res, "2026-11-25T21:00:00Z", &accepted);
    json_t *want = json_object_get(exp, "body");
    CHECK_EQ_INT(accepted, 1);
    CHECK(json_equal(json_object_get(st, "acceptedNames"), json_object_get(want, "acceptedNames")));
    CHECK(json_equal(json_object_get(st, "storedVersions"), json_object_get(want, "storedVersions")));
    json_t *gc = json_object_get(st, "conditions"), *wc = json_object_get(want, "conditions");
    CHECK_EQ_INT(json_array_size(gc), json_array_size(wc));
    for (size_t i = 0; i < json_array_size(wc) && i < json_array_size(gc); i++) {
        static const char *const keys[] = {"type", "status", "reason", "message"};
        for (int k = 0; k < 4; k++)
            CHECK(json_equal(json_object_get(json_array_get(gc, i), keys[k]),
                             json_object_get(json_array_get(wc, i), keys[k])));
    }
    json_decref(st);
    vk_resources_free(res);
out:
    json_decref(crd);
    json_decref(exp);
}

int main(void)
{
    RUN(crd_names);
    RUN(crd_structural);
    RUN(crd_defaults);
    RUN(crd_noschema);
    RUN(crd_storage);
    RUN(crd_misc);
    RUN(crd_ok_webhook);
    RUN(crd_protected);
    RUN(crd_protected_unapproved);
    RUN(crd_protected_bad);
    RUN(obj_bad1);
    RUN(obj_bad2);
    RUN(obj_bad3);
    RUN(obj_bad4);
    RUN(obj_bad5);
    RUN(obj_bad6);
    RUN(obj_bad7_meta);
    RUN(obj_bad8_embedded_meta);
    RUN(obj_ok1);
    RUN(obj_ok2);
    RUN(table_ok1);
    RUN(scale_ok1);
    RUN(probe_status);
    RUN(write_all_cases);
    TEST_EXIT();
}
