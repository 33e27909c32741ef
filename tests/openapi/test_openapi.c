/* Unit tests for proxy/openapi: structure of the v3 group-version documents,
 * the v3 index and the v2 document; every $ref resolves; kubectl's checks
 * (PATCH operation with x-kubernetes-group-version-kind carrying the
 * fieldValidation query parameter, strategic-merge-patch body for built-in
 * kinds, schema lookup by x-kubernetes-group-version-kind) pass for every
 * served kind. */
#include "proxy/openapi.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/resources.h"
#include "tests/test.h"

static const char *const ALL[] = {"create", "delete", "deletecollection", "get", "list",
                                  "patch",  "update", "watch", NULL};
static const char *const RO[] = {"get", "list", "watch", NULL};
static const char *const CREATE_ONLY[] = {"create", NULL};

static const vk_openapi_resource_t RES[] = {
    {"", "v1", "Pod", "pods", 1, ALL, 1, 0},
    {"", "v1", "ConfigMap", "configmaps", 1, ALL, 0, 0},
    {"", "v1", "Namespace", "namespaces", 0, ALL, 1, 0},
    {"", "v1", "Node", "nodes", 0, ALL, 1, 0},
    {"", "v1", "Event", "events", 1, RO, 0, 0},
    {"apps", "v1", "Deployment", "deployments", 1, ALL, 1, 1},
    {"apps", "v1", "StatefulSet", "statefulsets", 1, ALL, 1, 1},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", 0, ALL, 0, 0},
    {"authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", 0,
     CREATE_ONLY, 0, 0},
    {"example.com", "v1alpha1", "Widget", "widgets", 1, ALL, 0, 0},
};
#define NRES (sizeof RES / sizeof RES[0])

/* Counts $refs that do not resolve under prefix in root. */
static int unresolved_refs(json_t *defs, json_t *node, const char *prefix)
{
    int bad = 0;
    if (json_is_object(node)) {
        const char *k;
        json_t *v;
        json_object_foreach(node, k, v) {
            if (!strcmp(k, "$ref") && json_is_string(v)) {
                const char *r = json_string_value(v);
                if (!r || strncmp(r, prefix, strlen(prefix)) ||
                    !json_object_get(defs, r + strlen(prefix))) {
                    fprintf(stderr, "  unresolved %s\n", r ? r : "(null)");
                    bad++;
                }
            } else {
                bad += unresolved_refs(defs, v, prefix);
            }
        }
    } else if (json_is_array(node)) {
        size_t i;
        json_t *v;
        json_array_foreach(node, i, v) bad += unresolved_refs(defs, v, prefix);
    }
    return bad;
}

static int gvk_is(json_t *g, const char *group, const char *version, const char *kind)
{
    return g && !strcmp(json_string_value(json_object_get(g, "group")) ?: "", group) &&
           !strcmp(json_string_value(json_object_get(g, "version")) ?: "", version) &&
           !strcmp(json_string_value(json_object_get(g, "kind")) ?: "", kind);
}

/* kubectl's supportsQueryParamV3: the first PATCH operation whose gvk matches
 * must list the parameter in the query. 1 when supported. */
static int kubectl_supports_field_validation(json_t *doc, const char *g, const char *v,
                                             const char *k, int *smp)
{
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_t *op = json_object_get(item, "patch");
        if (!op || !gvk_is(json_object_get(op, "x-kubernetes-group-version-kind"), g, v, k))
            continue;
        *smp = json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                               "application/strategic-merge-patch+json") != NULL;
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(op, "parameters"), i, p) {
            if (!strcmp(json_string_value(json_object_get(p, "name")) ?: "", "fieldValidation") &&
                !strcmp(json_string_value(json_object_get(p, "in")) ?: "", "query"))
                return 1;
        }
        return 0;
    }
    return 0;
}

/* kubectl explain / apply: the component whose x-kubernetes-group-version-kind lists gvk. */
static json_t *schema_for_gvk(json_t *doc, const char *g, const char *v, const char *k)
{
    const char *name;
    json_t *s;
    json_object_foreach(json_object_get(json_object_get(doc, "components"), "schemas"), name, s) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(s, "x-kubernetes-group-version-kind"), i, x) {
            if (gvk_is(x, g, v, k))
                return s;
        }
    }
    return NULL;
}

static json_t *resolve(json_t *doc, json_t *s)
{
    json_t *all = json_object_get(s, "allOf");
    if (all)
        s = json_array_get(all, 0);
    const char *r = json_string_value(json_object_get(s, "$ref"));
    if (!r)
        return s;
    return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                           r + strlen("#/components/schemas/"));
}

TEST(v3_core)
{
    json_t *doc = vk_openapi_v3_gv(RES, NRES, "", "v1", "v1.33.0");
    CHECK(doc != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.0");
    json_t *comps = json_object_get(json_object_get(doc, "components"), "schemas");
    CHECK(json_object_size(comps) > 100);
    CHECK_EQ_INT(unresolved_refs(comps, doc, "#/components/schemas/"), 0);
    int smp = 0;
    const char *kinds[] = {"Pod", "ConfigMap", "Namespace", "Node"};
    for (size_t i = 0; i < 4; i++) {
        smp = 0;
        CHECK(kubectl_supports_field_validation(doc, "", "v1", kinds[i], &smp));
        CHECK(smp);
    }
    /* Event is read-only here: no PATCH operation. */
    CHECK(!kubectl_supports_field_validation(doc, "", "v1", "Event", &smp));
    /* Paths explain searches for. */
    json_t *paths = json_object_get(doc, "paths");
    json_t *p = json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}");
    CHECK(p && gvk_is(json_object_get(json_object_get(p, "get"), "x-kubernetes-group-version-kind"),
                      "", "v1", "Pod"));
    CHECK(json_object_get(paths, "/api/v1/pods") != NULL);
    CHECK(json_object_get(paths, "/api/v1/namespaces/{name}") != NULL);
    CHECK(json_object_get(paths, "/api/v1/namespaces/{namespace}/pods/{name}/status") != NULL);
    /* Schema found by gvk, with docs, TypeMeta, and merge keys down the path. */
    json_t *pod = schema_for_gvk(doc, "", "v1", "Pod");
    CHECK(pod != NULL);
    if (!pod)
        goto out;
    CHECK(strstr(json_string_value(json_object_get(pod, "description")) ?: "", "containers"));
    json_t *props = json_object_get(pod, "properties");
    CHECK(json_object_get(props, "apiVersion") && json_object_get(props, "kind"));
    json_t *spec = resolve(doc, json_object_get(props, "spec"));
    CHECK(spec != NULL);
    json_t *containers = json_object_get(json_object_get(spec, "properties"), "containers");
    CHECK_EQ_STR(json_string_value(json_object_get(containers, "type")), "array");
    CHECK_EQ_STR(json_string_value(json_object_get(containers, "x-kubernetes-patch-merge-key")),
                 "name");
    CHECK_EQ_STR(json_string_value(json_object_get(containers, "x-kubernetes-patch-strategy")),
                 "merge");
    CHECK_EQ_STR(json_string_value(json_object_get(containers, "x-kubernetes-list-type")), "map");
    json_t *container = resolve(doc, json_object_get(containers, "items"));
    CHECK(container != NULL);
    json_t *req = json_object_get(container, "required");
    CHECK(req && json_array_size(req) == 1 &&
          !strcmp(json_string_value(json_array_get(req, 0)), "name"));
    json_t *ipp = json_object_get(json_object_get(container, "properties"), "imagePullPolicy");
    CHECK(json_array_size(json_object_get(ipp, "enum")) == 3);
    json_t *cports = json_object_get(json_object_get(container, "properties"), "ports");
    json_t *mk = json_object_get(cports, "x-kubernetes-list-map-keys");
    CHECK(json_array_size(mk) == 2);
    /* Inline fields are flattened: Volume has configMap directly. */
    json_t *vol = schema_for_gvk(doc, "", "v1", "Pod") ? json_object_get(comps, "io.k8s.api.core.v1.Volume") : NULL;
    CHECK(vol && json_object_get(json_object_get(vol, "properties"), "configMap"));
    CHECK(vol && !json_object_get(json_object_get(vol, "properties"), "volumeSource"));
    /* Special types. */
    json_t *t = json_object_get(comps, "io.k8s.apimachinery.pkg.apis.meta.v1.Time");
    CHECK_EQ_STR(json_string_value(json_object_get(t, "format")), "date-time");
    json_t *ios = json_object_get(comps, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    CHECK(ios && json_is_true(json_object_get(ios, "x-kubernetes-int-or-string")));
out:
    json_decref(doc);
}

TEST(v3_groups)
{
    json_t *doc = vk_openapi_v3_gv(RES, NRES, "apps", "v1", "v1.33.0");
    CHECK_EQ_INT(unresolved_refs(json_object_get(json_object_get(doc, "components"), "schemas"), doc,
                                 "#/components/schemas/"),
                 0);
    int smp = 0;
    CHECK(kubectl_supports_field_validation(doc, "apps", "v1", "Deployment", &smp) && smp);
    CHECK(kubectl_supports_field_validation(doc, "apps", "v1", "StatefulSet", &smp) && smp);
    json_t *paths = json_object_get(doc, "paths");
    CHECK(json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"));
    CHECK(json_object_get(paths, "/api/v1/pods") == NULL); /* only this group version */
    CHECK(schema_for_gvk(doc, "apps", "v1", "Deployment") != NULL);
    CHECK(schema_for_gvk(doc, "", "v1", "Pod") == NULL);
    json_decref(doc);

    /* A kind without a schema (custom resource): open schema, no strategic merge patch. */
    doc = vk_openapi_v3_gv(RES, NRES, "example.com", "v1alpha1", "v1.33.0");
    CHECK_EQ_INT(unresolved_refs(json_object_get(json_object_get(doc, "components"), "schemas"), doc,
                                 "#/components/schemas/"),
                 0);
    smp = 1;
    CHECK(kubectl_supports_field_validation(doc, "example.com", "v1alpha1", "Widget", &smp));
    CHECK(!smp);
    json_t *w = schema_for_gvk(doc, "example.com", "v1alpha1", "Widget");
    CHECK(w && json_is_true(json_object_get(w, "x-kubernetes-preserve-unknown-fields")));
    json_decref(doc);

    /* A custom resource with its CRD schema. */
    json_t *crd = json_loads("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\","
                             "\"description\":\"the gadget spec\",\"properties\":{\"size\":"
                             "{\"type\":\"integer\"}}}}}", 0, NULL);
    vk_openapi_resource_t g = {"example.com", "v1", "Gadget", "gadgets", 1, ALL, 0, 0};
    vk_openapi_t *o = vk_openapi_new(&g, 1, "v1.33.0");
    const char *body, *etag0, *etag1;
    size_t len;
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/example.com/v1", &body, &len, &etag0), 0);
    char before[129];
    snprintf(before, sizeof before, "%s", etag0);
    CHECK_EQ_INT(vk_openapi_set_schema(o, "example.com", "v1", "Gadget", crd), 0);
    CHECK_EQ_INT(vk_openapi_set_schema(o, "example.com", "v1", "Nope", crd), VK_ENOTFOUND);
    json_decref(crd); /* copied */
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/example.com/v1", &body, &len, &etag1), 0);
    CHECK(strcmp(before, etag1) != 0); /* the hash changed with the schema */
    doc = json_loadb(body, len, 0, NULL);
    json_t *gs = schema_for_gvk(doc, "example.com", "v1", "Gadget");
    json_t *gp = json_object_get(gs, "properties");
    CHECK(gp && json_object_get(gp, "apiVersion") && json_object_get(gp, "metadata"));
    CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(gp, "spec"), "description")),
                 "the gadget spec");
    CHECK(!json_object_get(gs, "x-kubernetes-preserve-unknown-fields"));
    CHECK_EQ_INT(unresolved_refs(json_object_get(json_object_get(doc, "components"), "schemas"),
                                 doc, "#/components/schemas/"),
                 0);
    json_decref(doc);
    vk_openapi_free(o);

    /* Create-only kinds get a POST with a body. */
    doc = vk_openapi_v3_gv(RES, NRES, "authorization.k8s.io", "v1", "v1.33.0");
    json_t *post = json_object_get(json_object_get(json_object_get(doc, "paths"),
                                                   "/apis/authorization.k8s.io/v1/"
                                                   "selfsubjectaccessreviews"),
                                   "post");
    CHECK(post && json_object_get(post, "requestBody"));
    json_decref(doc);
}

TEST(cache_index_v2)
{
    vk_openapi_t *o = vk_openapi_new(RES, NRES, "v1.33.0");
    const char *body, *body2, *etag;
    size_t len, len2;
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3", &body, &len, &etag), 0);
    json_t *idx = json_loadb(body, len, 0, NULL);
    json_t *paths = json_object_get(idx, "paths");
    CHECK_EQ_INT(json_object_size(paths), 5);
    const char *url = json_string_value(
        json_object_get(json_object_get(paths, "apis/apps/v1"), "serverRelativeURL"));
    CHECK(url && !strncmp(url, "/openapi/v3/apis/apps/v1?hash=", 30));
    CHECK(json_object_get(paths, "api/v1") != NULL);
    /* The hash in the index is the group version document's etag. */
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/apps/v1", &body, &len, &etag), 0);
    CHECK(url && !strcmp(url + 30, etag));
    CHECK(strlen(etag) == 128);
    /* Cached: the same buffer the second time. */
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/apps/v1", &body2, &len2, NULL), 0);
    CHECK(body == body2 && len == len2);
    json_t *doc = json_loadb(body, len, 0, NULL);
    CHECK(doc && json_object_get(doc, "components"));
    json_decref(doc);
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/apis/nope/v1", &body, &len, &etag), VK_ENOTFOUND);
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v3/api/v1", &body, &len, &etag), 0);
    fprintf(stderr, "  info: /openapi/v3/api/v1 is %zu bytes\n", len);

    /* v2: swagger 2.0 with definitions, refs resolve, PATCH has fieldValidation. */
    clock_t c0 = clock();
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v2", &body, &len, &etag), 0);
    fprintf(stderr, "  info: /openapi/v2 is %zu bytes, built in %.0f ms CPU\n", len,
            (double)(clock() - c0) * 1000 / CLOCKS_PER_SEC);
    json_t *v2 = json_loadb(body, len, 0, NULL);
    CHECK(v2 != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(v2, "swagger")), "2.0");
    CHECK_EQ_INT(unresolved_refs(json_object_get(v2, "definitions"), v2, "#/definitions/"), 0);
    json_t *op = json_object_get(
        json_object_get(json_object_get(v2, "paths"),
                        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"),
        "patch");
    int found = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p) found |=
        !strcmp(json_string_value(json_object_get(p, "name")) ?: "", "fieldValidation");
    CHECK(found);
    json_t *def = json_object_get(json_object_get(v2, "definitions"), "io.k8s.api.apps.v1.Deployment");
    CHECK(def && json_array_size(json_object_get(def, "x-kubernetes-group-version-kind")) == 1);
    json_decref(v2);
    json_decref(idx);
    vk_openapi_free(o);
}

/* Top-level fields of a protobuf message: count of field num, and the first
 * length-delimited value of it. */
static size_t pb_count(const uint8_t *p, size_t n, unsigned num, const uint8_t **first,
                       size_t *first_len)
{
    size_t count = 0, i = 0;
    while (i < n) {
        uint64_t key = 0, len = 0;
        int shift = 0;
        while (i < n && (p[i] & 0x80))
            { key |= (uint64_t)(p[i++] & 0x7f) << shift; shift += 7; }
        if (i >= n)
            return (size_t)-1;
        key |= (uint64_t)p[i++] << shift;
        if ((key & 7) == 0) {
            while (i < n && (p[i] & 0x80))
                i++;
            i++;
            if ((key >> 3) == num)
                count++;
            continue;
        }
        if ((key & 7) != 2)
            return (size_t)-1;
        shift = 0;
        while (i < n && (p[i] & 0x80))
            { len |= (uint64_t)(p[i++] & 0x7f) << shift; shift += 7; }
        if (i >= n)
            return (size_t)-1;
        len |= (uint64_t)p[i++] << shift;
        if (len > n - i)
            return (size_t)-1;
        if ((key >> 3) == num) {
            if (!count && first) {
                *first = p + i;
                *first_len = (size_t)len;
            }
            count++;
        }
        i += (size_t)len;
    }
    return count;
}

TEST(v2_protobuf)
{
    vk_openapi_t *o = vk_openapi_new(RES, NRES, "v1.33.0");
    const char *body, *jbody, *etag;
    size_t len, jlen;
    CHECK_EQ_INT(vk_openapi_get_v2_protobuf(o, &body, &len, &etag), 0);
    CHECK_EQ_INT(vk_openapi_get(o, "/openapi/v2", &jbody, &jlen, NULL), 0);
    json_t *j = json_loadb(jbody, jlen, 0, NULL);
    const uint8_t *p = (const uint8_t *)body, *sw = NULL, *defs = NULL, *paths = NULL;
    size_t swl = 0, defsl = 0, pathsl = 0;
    CHECK_EQ_INT(pb_count(p, len, 1, &sw, &swl), 1);
    CHECK(sw && swl == 3 && !memcmp(sw, "2.0", 3));
    CHECK_EQ_INT(pb_count(p, len, 9, &defs, &defsl), 1);
    CHECK_EQ_INT(pb_count(p, len, 8, &paths, &pathsl), 1);
    /* Definitions.additional_properties (1) and Paths.path (2), one per JSON entry. */
    if (defs)
        CHECK_EQ_INT(pb_count(defs, defsl, 1, NULL, NULL),
                     json_object_size(json_object_get(j, "definitions")));
    if (paths)
        CHECK_EQ_INT(pb_count(paths, pathsl, 2, NULL, NULL),
                     json_object_size(json_object_get(j, "paths")));
    fprintf(stderr, "  info: /openapi/v2 protobuf is %zu bytes\n", len);
    json_decref(j);
    vk_openapi_free(o);
}

/* Every built-in row of the server's resource table gets a v3 document in
 * which kubectl's field validation check passes for its kind. */
TEST(server_resource_table)
{
    vk_resources_t *t = vk_resources_new();
    vk_openapi_t *o = vk_openapi_new_from_resources(t, "v1.33.0");
    size_t n = vk_resources_count(t);
    CHECK(n > 20);
    int missing = 0;
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(t, i);
        char *path = r->group[0] ? vk_xasprintf("/openapi/v3/apis/%s/%s", r->group, r->version)
                                 : vk_xasprintf("/openapi/v3/api/%s", r->version);
        const char *body;
        size_t len;
        CHECK_EQ_INT(vk_openapi_get(o, path, &body, &len, NULL), 0);
        json_t *doc = json_loadb(body, len, 0, NULL);
        int smp = 0;
        if ((r->verbs & VK_VERB_PATCH) &&
            !kubectl_supports_field_validation(doc, r->group, r->version, r->kind, &smp)) {
            fprintf(stderr, "  %s/%s %s: no PATCH with fieldValidation\n", r->group, r->version,
                    r->kind);
            missing++;
        }
        if (!schema_for_gvk(doc, r->group, r->version, r->kind)) {
            fprintf(stderr, "  %s/%s %s: no schema\n", r->group, r->version, r->kind);
            missing++;
        }
        json_decref(doc);
        free(path);
    }
    CHECK_EQ_INT(missing, 0);
    vk_openapi_free(o);
    vk_resources_free(t);
}

int main(void)
{
    RUN(server_resource_table);
    RUN(v2_protobuf);
    RUN(v3_core);
    RUN(v3_groups);
    RUN(cache_index_v2);
    TEST_EXIT();
}
