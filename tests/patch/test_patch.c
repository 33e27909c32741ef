/* Unit tests for proxy/patch: JSON patch (evanphx/json-patch v4 semantics and
 * messages), merge patch (RFC 7386 examples) and strategic merge patch on
 * patches kubectl sends (set image, apply 3-way with $setElementOrder, edit,
 * retainKeys, $patch directives), using the fake schema in fake_schema.h. */
#include "proxy/patch.h"

#include "common/err.h"
#include "proxy/schema.h"
#include "tests/patch/fake_schema.h"
#include "tests/test.h"

static json_t *J(const char *s) {
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", s, e.text);
    return j;
}

enum { JP, MP, SMP };

/* Applies a patch; returns the code, *res the compact JSON (sorted keys) or
 * the error message. Caller frees *res. */
static int apply(int type, const char *doc, const char *patch, char **res) {
    json_t *d = J(doc), *p = J(patch), *out = NULL;
    char *err = NULL;
    int rc;
    if (type == JP)
        rc = vk_patch_json(d, p, &out, &err);
    else if (type == MP)
        rc = vk_patch_merge(d, p, &out, &err);
    else
        rc = vk_patch_strategic(d, p, fake_schema, NULL, &out, &err);
    if (rc == 0) {
        *res = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        free(err);
    } else {
        *res = err;
    }
    json_decref(d);
    json_decref(p);
    json_decref(out);
    return rc;
}

/* Checks that a patch succeeds with the expected document (compared as JSON). */
#define CHECK_PATCH(type, doc, patch, want)                                                        \
    do {                                                                                           \
        char *r_ = NULL;                                                                           \
        int rc_ = apply(type, doc, patch, &r_);                                                    \
        CHECK_EQ_INT(rc_, 0);                                                                      \
        json_t *w_ = J(want), *g_ = rc_ == 0 ? J(r_) : NULL;                                       \
        if (rc_ != 0 || !json_equal(w_, g_)) {                                                     \
            char *ws_ = json_dumps(w_, JSON_COMPACT | JSON_SORT_KEYS);                             \
            CHECK_EQ_STR(r_, ws_);                                                                 \
            free(ws_);                                                                             \
        }                                                                                          \
        json_decref(w_);                                                                           \
        json_decref(g_);                                                                           \
        free(r_);                                                                                  \
    } while (0)

#define CHECK_PATCH_ERR(type, doc, patch, code, msg)                                               \
    do {                                                                                           \
        char *r_ = NULL;                                                                           \
        CHECK_EQ_INT(apply(type, doc, patch, &r_), code);                                          \
        CHECK_EQ_STR(r_, msg);                                                                     \
        free(r_);                                                                                  \
    } while (0)

static const char DOC[] =
    "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,3]}}";

TEST(content_types)
{
    CHECK_EQ_INT(vk_patch_type_from_content_type("application/json-patch+json"), VK_PATCH_JSON);
    CHECK_EQ_INT(vk_patch_type_from_content_type("application/merge-patch+json; charset=utf-8"),
                 VK_PATCH_MERGE);
    CHECK_EQ_INT(vk_patch_type_from_content_type("application/strategic-merge-patch+json"),
                 VK_PATCH_STRATEGIC);
    CHECK_EQ_INT(vk_patch_type_from_content_type("application/apply-patch+yaml"), VK_PATCH_APPLY);
    CHECK_EQ_INT(vk_patch_type_from_content_type("application/json"), VK_PATCH_NONE);
    CHECK_EQ_INT(vk_patch_type_from_content_type(NULL), VK_PATCH_NONE);
}

TEST(json_patch_add_remove_replace)
{
    CHECK_PATCH(JP, DOC, "[{\"op\":\"add\",\"path\":\"/metadata/labels/c\",\"value\":\"2\"}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\",\"c\":\"2\"}},"
                "\"spec\":{\"list\":[1,2,3]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"add\",\"path\":\"/spec/list/-\",\"value\":4}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,"
                "3,4]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"add\",\"path\":\"/spec/list/0\",\"value\":0}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[0,1,"
                "2,3]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"add\",\"path\":\"/spec/list/-1\",\"value\":9}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,"
                "3,9]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"remove\",\"path\":\"/metadata/labels/a~1b\"}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{}},\"spec\":{\"list\":[1,2,3]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"remove\",\"path\":\"/spec/list/1\"}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,"
                "3]}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"y\"}]",
                "{\"metadata\":{\"name\":\"y\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,"
                "3]}}");
    /* json-patch v4 replaces a missing object key like add does. */
    CHECK_PATCH(JP, DOC, "[{\"op\":\"replace\",\"path\":\"/spec/z\",\"value\":true}]",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"list\":[1,2,"
                "3],\"z\":true}}");
    CHECK_PATCH(JP, DOC, "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"k\":1}}]", "{\"k\":1}");
    CHECK_PATCH(JP, DOC, "[]", DOC);
}

TEST(json_patch_move_copy_test)
{
    CHECK_PATCH(JP, DOC,
                "[{\"op\":\"test\",\"path\":\"/metadata/name\",\"value\":\"x\"},"
                "{\"op\":\"move\",\"from\":\"/metadata/name\",\"path\":\"/spec/name\"},"
                "{\"op\":\"copy\",\"from\":\"/spec/list\",\"path\":\"/spec/copy\"},"
                "{\"op\":\"test\",\"path\":\"/spec/list/0\",\"value\":1},"
                "{\"op\":\"test\",\"path\":\"/spec/missing\",\"value\":null}]",
                "{\"metadata\":{\"labels\":{\"a/b\":\"1\"}},\"spec\":{\"name\":\"x\",\"list\":[1,2,"
                "3],\"copy\":[1,2,3]}}");
    /* move within a list */
    CHECK_PATCH(JP, "{\"l\":[1,2,3]}", "[{\"op\":\"move\",\"from\":\"/l/0\",\"path\":\"/l/-\"}]",
                "{\"l\":[2,3,1]}");
}

TEST(json_patch_errors_worded_as_upstream)
{
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"test\",\"path\":\"/metadata/name\",\"value\":\"z\"}]",
                    VK_EINVALID, "testing value /metadata/name failed: test failed");
    /* scalars compare by their JSON text, as json-patch v4 does */
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"test\",\"path\":\"/spec/list/0\",\"value\":1.0}]",
                    VK_EINVALID, "testing value /spec/list/0 failed: test failed");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"remove\",\"path\":\"/metadata/nope\"}]", VK_EINVALID,
                    "error in remove for path: '/metadata/nope': Unable to remove nonexistent "
                    "key: nope: missing value");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"remove\",\"path\":\"/nope/x\"}]", VK_EINVALID,
                    "remove operation does not apply: doc is missing path: \"/nope/x\": missing "
                    "value");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", VK_EINVALID,
                    "add operation does not apply: doc is missing path: \"/a/b\": missing value");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"add\",\"path\":\"/spec/list/5\",\"value\":1}]",
                    VK_EINVALID,
                    "error in add for path: '/spec/list/5': Unable to access invalid index: 5: "
                    "invalid index referenced");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"add\",\"path\":\"/spec/list/x\",\"value\":1}]",
                    VK_EINVALID,
                    "error in add for path: '/spec/list/x': value was not a proper array index: "
                    "'x': strconv.Atoi: parsing \"x\": invalid syntax");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"replace\",\"path\":\"/spec/list/7\",\"value\":1}]",
                    VK_EINVALID,
                    "replace operation does not apply: doc is missing key: /spec/list/7: missing "
                    "value");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"move\",\"from\":\"/spec/q\",\"path\":\"/spec/r\"}]",
                    VK_EINVALID,
                    "error in move for path: 'q': Unable to remove nonexistent key: q: missing "
                    "value");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"frob\",\"path\":\"/a\"}]", VK_EINVALID,
                    "Unexpected kind: frob");
    CHECK_PATCH_ERR(JP, DOC, "[{\"path\":\"/a\"}]", VK_EINVALID, "Unexpected kind: unknown");
    CHECK_PATCH_ERR(JP, DOC, "[{\"op\":\"add\",\"value\":1}]", VK_EINVALID,
                    "add operation failed to decode path: missing value");
    CHECK_PATCH_ERR(JP, DOC, "{\"op\":\"add\"}", VK_EBADREQUEST,
                    "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
    /* a failing operation leaves nothing half-applied: the input is untouched */
    json_t *d = J(DOC), *p = J("[{\"op\":\"remove\",\"path\":\"/metadata/name\"},"
                               "{\"op\":\"test\",\"path\":\"/x\",\"value\":1}]"),
           *out = NULL, *orig = json_deep_copy(d);
    char *err = NULL;
    CHECK_EQ_INT(vk_patch_json(d, p, &out, &err), VK_EINVALID);
    CHECK(out == NULL);
    CHECK(json_equal(d, orig));
    free(err);
    json_decref(d);
    json_decref(p);
    json_decref(orig);
}

TEST(json_patch_operation_limit)
{
    json_t *p = json_array();
    for (int i = 0; i < 10001; i++)
        json_array_append_new(p, json_pack("{s:s,s:s}", "op", "test", "path", "/a"));
    json_t *d = json_object(), *out = NULL;
    char *err = NULL;
    CHECK_EQ_INT(vk_patch_json(d, p, &out, &err), VK_ETOOLARGE);
    CHECK_EQ_STR(err, "The allowed maximum operations in a JSON patch is 10000, got 10001");
    free(err);
    json_decref(p);
    json_decref(d);
}

TEST(merge_patch_rfc7386_examples)
{
    CHECK_PATCH(MP, "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    CHECK_PATCH(MP, "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
    CHECK_PATCH(MP, "{\"a\":\"b\"}", "{\"a\":null}", "{}");
    CHECK_PATCH(MP, "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
    CHECK_PATCH(MP, "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
    CHECK_PATCH(MP, "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
    CHECK_PATCH(MP, "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
                "{\"a\":{\"b\":\"d\"}}");
    CHECK_PATCH(MP, "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
    CHECK_PATCH(MP, "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
    CHECK_PATCH(MP, "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
    /* kubectl label / scale */
    CHECK_PATCH(MP, "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"replicas\":1}}",
                "{\"metadata\":{\"labels\":{\"env\":\"prod\"}},\"spec\":{\"replicas\":3}}",
                "{\"metadata\":{\"name\":\"x\",\"labels\":{\"env\":\"prod\"}},\"spec\":{"
                "\"replicas\":3}}");
    CHECK_PATCH_ERR(MP, "{}", "[1]", VK_EBADREQUEST, "Invalid JSON Patch");
    CHECK_PATCH_ERR(MP, "{}", "null", VK_EBADREQUEST, "Invalid JSON Patch");
}

static const char DEPLOY[] =
    "{\"metadata\":{\"name\":\"web\",\"finalizers\":[\"a\",\"b\"]},"
    "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
    "\"maxSurge\":1}},\"template\":{\"spec\":{\"containers\":["
    "{\"name\":\"web\",\"image\":\"nginx:1.24\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},"
    "{\"name\":\"Y\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80}],\"args\":[\"a\",\"b\"]},"
    "{\"name\":\"side\",\"image\":\"busybox\"}],"
    "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
    "\"tolerations\":[{\"key\":\"k\"}]}}}}";

/* Wraps a pod spec fragment into a deployment patch. */
#define TPL(x) "{\"spec\":{\"template\":{\"spec\":" x "}}}"

TEST(smp_set_image_and_edit)
{
    /* kubectl set image: only the named container changes, order kept */
    char *r = NULL;
    CHECK_EQ_INT(apply(SMP, DEPLOY,
                       TPL("{\"$setElementOrder/containers\":[{\"name\":\"web\"},{\"name\":"
                           "\"side\"}],\"containers\":[{\"image\":\"nginx:1.25\",\"name\":"
                           "\"web\"}]}"),
                       &r),
                 0);
    json_t *g = J(r);
    json_t *c = json_object_get(
        json_object_get(json_object_get(json_object_get(g, "spec"), "template"), "spec"),
        "containers");
    CHECK_EQ_INT(json_array_size(c), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "image")), "nginx:1.25");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 0), "name")), "web");
    CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(c, 0), "env")), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(c, 1), "image")), "busybox");
    json_decref(g);
    free(r);

    /* kubectl edit changing a scalar; no schema needed */
    CHECK_PATCH(SMP, "{\"spec\":{\"replicas\":1,\"x\":2}}", "{\"spec\":{\"replicas\":3}}",
                "{\"spec\":{\"replicas\":3,\"x\":2}}");
}

TEST(smp_list_merge_order)
{
    const char *pod = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
                      "{\"name\":\"b\",\"image\":\"2\"}]}}";
    /* a new item without $setElementOrder lands first, as upstream */
    CHECK_PATCH(SMP, pod, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"},{\"name\":\"a\","
                "\"image\":\"1\"},{\"name\":\"b\",\"image\":\"2\"}]}}");
    /* kubectl apply 3-way: $setElementOrder reorders */
    CHECK_PATCH(SMP, pod,
                "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}],"
                "\"containers\":[{\"image\":\"9\",\"name\":\"a\"}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"2\"},{\"name\":\"a\","
                "\"image\":\"9\"}]}}");
    /* apply adding a container at the end */
    CHECK_PATCH(SMP, pod,
                "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"},"
                "{\"name\":\"c\"}],\"containers\":[{\"image\":\"3\",\"name\":\"c\"}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\","
                "\"image\":\"2\"},{\"name\":\"c\",\"image\":\"3\"}]}}");
    /* service ports merge by port */
    CHECK_PATCH(SMP,
                "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},{\"port\":443}]}}",
                "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}",
                "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},{\"port\":443}]}}");
    /* nested: env var value removed by null, merged by name */
    CHECK_PATCH(SMP, DEPLOY,
                TPL("{\"containers\":[{\"name\":\"web\",\"env\":[{\"name\":\"X\",\"value\":null}"
                    "]}]}"),
                "{\"metadata\":{\"name\":\"web\",\"finalizers\":[\"a\",\"b\"]},"
                "\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\","
                "\"rollingUpdate\":{\"maxSurge\":1}},\"template\":{\"spec\":{\"containers\":["
                "{\"name\":\"web\",\"image\":\"nginx:1.24\",\"env\":[{\"name\":\"X\"},"
                "{\"name\":\"Y\",\"value\":\"2\"}],\"ports\":[{\"containerPort\":80}],\"args\":["
                "\"a\",\"b\"]},{\"name\":\"side\",\"image\":\"busybox\"}],"
                "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
                "\"tolerations\":[{\"key\":\"k\"}]}}}}");
}

TEST(smp_atomic_lists_and_primitives)
{
    /* lists without a merge strategy are replaced */
    CHECK_PATCH(SMP, "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}]}}",
                "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}]}}",
                "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}]}}");
    CHECK_PATCH(SMP, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"x\",\"y\"]}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"z\"]}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"a\",\"args\":[\"z\"]}]}}");
    /* merge-strategy primitive list: union, new items first (upstream order) */
    CHECK_PATCH(SMP, "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
                "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
                "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}");
    CHECK_PATCH(SMP, "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
                "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
                "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}");
    CHECK_PATCH(SMP, "{\"metadata\":{\"finalizers\":[\"a\"]}}",
                "{\"metadata\":{\"$setElementOrder/finalizers\":[\"b\",\"a\"],\"finalizers\":["
                "\"b\"]}}",
                "{\"metadata\":{\"finalizers\":[\"b\",\"a\"]}}");
    /* unknown map fields merge key by key; null deletes */
    CHECK_PATCH(SMP, "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
                "{\"metadata\":{\"labels\":{\"a\":null,\"c\":\"3\"}}}",
                "{\"metadata\":{\"labels\":{\"b\":\"2\",\"c\":\"3\"}}}");
    /* type change replaces */
    CHECK_PATCH(SMP, "{\"a\":{\"b\":1}}", "{\"a\":[1]}", "{\"a\":[1]}");
}

TEST(smp_directives)
{
    const char *pod = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
                      "{\"name\":\"b\",\"image\":\"2\"}]},\"metadata\":{\"labels\":{\"x\":\"1\","
                      "\"y\":\"2\"}}}";
    CHECK_PATCH(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"a\"}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"2\"}]},\"metadata\":{"
                "\"labels\":{\"x\":\"1\",\"y\":\"2\"}}}");
    CHECK_PATCH(SMP, pod,
                "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"},{\"$patch\":"
                "\"replace\"}]}}",
                "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"}]},\"metadata\":{"
                "\"labels\":{\"x\":\"1\",\"y\":\"2\"}}}");
    CHECK_PATCH(SMP, pod, "{\"metadata\":{\"labels\":{\"$patch\":\"replace\",\"z\":\"3\"}}}",
                "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\","
                "\"image\":\"2\"}]},\"metadata\":{\"labels\":{\"z\":\"3\"}}}");
    CHECK_PATCH(SMP, pod, "{\"metadata\":{\"labels\":{\"$patch\":\"delete\"}}}",
                "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},{\"name\":\"b\","
                "\"image\":\"2\"}]},\"metadata\":{\"labels\":{}}}");
    /* retainKeys: switching the deployment strategy drops rollingUpdate */
    CHECK_PATCH(SMP,
                "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{"
                "\"maxSurge\":1}}}}",
                "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
                "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
    /* retainKeys inside a merged list item: volume source switch */
    CHECK_PATCH(SMP, "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}]}}",
                "{\"spec\":{\"volumes\":[{\"$retainKeys\":[\"configMap\",\"name\"],\"configMap\":"
                "{\"name\":\"cm\"},\"name\":\"v\"}]}}",
                "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"configMap\":{\"name\":\"cm\"}}]}}");
    /* directives inside a newly added value do not leak into the object */
    CHECK_PATCH(SMP, "{}",
                "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
                "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}");
}

TEST(smp_errors_worded_as_upstream)
{
    const char *pod = "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}";
    CHECK_PATCH_ERR(SMP, pod, "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", VK_EINTERNAL,
                    "map: map[image:x] does not contain declared merge key: name");
    CHECK_PATCH_ERR(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"merge\"}]}}",
                    VK_EINTERNAL, "merging lists cannot yet be specified in the patch");
    CHECK_PATCH_ERR(SMP, pod, "{\"spec\":{\"containers\":[{\"$patch\":\"bogus\",\"name\":\"a\"}]}}",
                    VK_EINTERNAL, "unknown patch type: bogus in map: map[$patch:bogus name:a]");
    CHECK_PATCH_ERR(SMP,
                    "{\"spec\":{\"strategy\":{\"type\":\"RollingUpdate\"}}}",
                    "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\","
                    "\"rollingUpdate\":{}}}}",
                    VK_EBADREQUEST, "invalid patch format of retainKeys");
    CHECK_PATCH_ERR(SMP, pod, "{\"spec\":{\"$setElementOrder:containers\":[]}}", VK_EBADREQUEST,
                    "invalid patch format of setElementOrder list");
    CHECK_PATCH_ERR(SMP, "{\"metadata\":{\"finalizers\":[\"a\"]}}",
                    "{\"metadata\":{\"$deleteFromPrimitiveList\":[\"a\"]}}", VK_EBADREQUEST,
                    "invalid patch format of primitive list");
    CHECK_PATCH_ERR(SMP, "{\"metadata\":{\"finalizers\":[[\"a\"]]}}",
                    "{\"metadata\":{\"finalizers\":[[\"b\"]]}}", VK_EINVALID,
                    "lists of lists are not supported");
    CHECK_PATCH_ERR(SMP, pod,
                    "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],"
                    "\"containers\":[{\"name\":\"b\"}]}}",
                    VK_EINTERNAL,
                    "The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder "
                    "list:\n[map[name:a]]\n");
    CHECK_PATCH_ERR(SMP, "{}", "[1]", VK_EBADREQUEST,
                    "json: cannot unmarshal array into Go value of type map[string]interface {}");
}

TEST(builtin_schema_adapter)
{
    vk_patch_kind_t pod = {"", "v1", "Pod"};
    vk_patch_field_t f;
    const char *p1[] = {"spec", "containers"};
    CHECK_EQ_INT(vk_patch_schema_builtin(&pod, p1, 2, &f), 0);
    CHECK_EQ_STR(f.merge_key, "name");
    CHECK(f.strategy & VK_PATCH_STRATEGY_MERGE);
    CHECK_EQ_INT(f.list_type, VK_PATCH_LIST_MAP);
    CHECK(f.is_list && !f.primitive_list);
    vk_patch_kind_t dep = {"apps", "v1", "Deployment"};
    const char *p2[] = {"spec", "template", "spec", "containers", "ports"};
    CHECK_EQ_INT(vk_patch_schema_builtin(&dep, p2, 5, &f), 0);
    CHECK_EQ_STR(f.merge_key, "containerPort");
    CHECK_EQ_STR(f.list_map_keys, "containerPort,protocol");
    const char *p3[] = {"metadata", "finalizers"};
    CHECK_EQ_INT(vk_patch_schema_builtin(&dep, p3, 2, &f), 0);
    CHECK(f.primitive_list);
    const char *p4[] = {"spec", "nope"};
    CHECK_EQ_INT(vk_patch_schema_builtin(&pod, p4, 2, &f), VK_ENOTFOUND);
    /* and it drives a real strategic merge */
    json_t *d = J("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":"
                  "\"1\"},{\"name\":\"b\",\"image\":\"2\"}]}}}}");
    json_t *p = J(TPL("{\"containers\":[{\"name\":\"b\",\"image\":\"3\"}]}"));
    json_t *out = NULL;
    char *err = NULL;
    CHECK_EQ_INT(vk_patch_strategic(d, p, vk_patch_schema_builtin, &dep, &out, &err), 0);
    json_t *c = json_object_get(
        json_object_get(json_object_get(json_object_get(out, "spec"), "template"), "spec"),
        "containers");
    CHECK_EQ_INT(json_array_size(c), 2);
    free(err);
    json_decref(d);
    json_decref(p);
    json_decref(out);
}

int main(void) {
    RUN(content_types);
    RUN(json_patch_add_remove_replace);
    RUN(json_patch_move_copy_test);
    RUN(json_patch_errors_worded_as_upstream);
    RUN(json_patch_operation_limit);
    RUN(merge_patch_rfc7386_examples);
    RUN(smp_set_image_and_edit);
    RUN(smp_list_merge_order);
    RUN(smp_atomic_lists_and_primitives);
    RUN(smp_directives);
    RUN(smp_errors_worded_as_upstream);
    RUN(builtin_schema_adapter);
    TEST_EXIT();
}
