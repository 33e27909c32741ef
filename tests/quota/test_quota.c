/* Unit tests of proxy/quota: quantity canonical forms and sums (upstream's
 * resource.Quantity strings), object usage, the exceeded and must-specify
 * messages. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/quota.h"
#include "tests/test.h"

static const char *canon(const char *in)
{
    static char buf[80];
    if (vk_quota_qty_canonical(in, buf, sizeof buf)) return "ERR";
    return buf;
}

TEST(canonical_forms)
{
    CHECK_EQ_STR(canon("1"), "1");
    CHECK_EQ_STR(canon("1.5"), "1500m");
    CHECK_EQ_STR(canon("0.1"), "100m");
    CHECK_EQ_STR(canon("1000"), "1k");
    CHECK_EQ_STR(canon("1500"), "1500");
    CHECK_EQ_STR(canon("2000m"), "2");
    CHECK_EQ_STR(canon("1024Mi"), "1Gi");
    CHECK_EQ_STR(canon("1536Mi"), "1536Mi");
    CHECK_EQ_STR(canon("512Mi"), "512Mi");
    CHECK_EQ_STR(canon("1Ki"), "1Ki");
    CHECK_EQ_STR(canon("0.5Ki"), "512");
    CHECK_EQ_STR(canon("1G"), "1G");
    CHECK_EQ_STR(canon("1e3"), "1e3");
    CHECK_EQ_STR(canon("0"), "0");
    CHECK_EQ_STR(canon("0Gi"), "0");
    CHECK_EQ_STR(canon("abc"), "ERR");
    CHECK_EQ_STR(canon("1Xi"), "ERR");
    CHECK_EQ_STR(canon(""), "ERR");
}

TEST(sums_keep_first_format)
{
    char *s = vk_quota_qty_add("100m", "200m");
    CHECK_EQ_STR(s, "300m");
    free(s);
    s = vk_quota_qty_add("500m", "500m");
    CHECK_EQ_STR(s, "1");
    free(s);
    s = vk_quota_qty_add("0", "64Mi");
    CHECK_EQ_STR(s, "64Mi");
    free(s);
    s = vk_quota_qty_add("512Mi", "512Mi");
    CHECK_EQ_STR(s, "1Gi");
    free(s);
    s = vk_quota_qty_add("1", "1");
    CHECK_EQ_STR(s, "2");
    free(s);
    CHECK(vk_quota_qty_cmp("1", "1000m") == 0);
    CHECK(vk_quota_qty_cmp("1Gi", "1G") > 0);
    CHECK(vk_quota_qty_cmp("2", "3") < 0);
}

TEST(pod_usage)
{
    json_t *pod = json_loads(
        "{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"100m\","
        "\"memory\":\"64Mi\"},\"limits\":{\"cpu\":\"200m\"}}},{\"name\":\"b\",\"resources\":"
        "{\"requests\":{\"cpu\":\"150m\"}}}],\"initContainers\":[{\"name\":\"i\",\"resources\":"
        "{\"requests\":{\"cpu\":\"1\"}}}]}}",
        0, NULL);
    json_t *u = vk_quota_object_usage("", "pods", pod);
    CHECK_EQ_STR(json_string_value(json_object_get(u, "pods")), "1");
    CHECK_EQ_STR(json_string_value(json_object_get(u, "count/pods")), "1");
    CHECK_EQ_STR(json_string_value(json_object_get(u, "requests.cpu")), "1"); /* init max */
    CHECK_EQ_STR(json_string_value(json_object_get(u, "requests.memory")), "64Mi");
    CHECK_EQ_STR(json_string_value(json_object_get(u, "limits.cpu")), "200m");
    CHECK(json_object_get(u, "limits.memory") == NULL);
    json_decref(u);
    /* A finished pod charges only its object count. */
    json_object_set_new(pod, "status", json_pack("{s:s}", "phase", "Succeeded"));
    u = vk_quota_object_usage("", "pods", pod);
    CHECK(json_object_get(u, "pods") == NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(u, "count/pods")), "1");
    json_decref(u);
    json_decref(pod);
}

TEST(other_usage_and_covers)
{
    json_t *svc = json_loads("{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":1},{\"port\":2}]}}",
                             0, NULL);
    json_t *u = vk_quota_object_usage("", "services", svc);
    CHECK_EQ_STR(json_string_value(json_object_get(u, "services")), "1");
    CHECK_EQ_STR(json_string_value(json_object_get(u, "services.nodeports")), "2");
    json_decref(u);
    json_decref(svc);
    json_t *d = json_object();
    u = vk_quota_object_usage("apps", "deployments", d);
    CHECK_EQ_STR(json_string_value(json_object_get(u, "count/deployments.apps")), "1");
    CHECK_EQ_INT(json_object_size(u), 1);
    json_decref(u);
    json_decref(d);
    CHECK(vk_quota_covers("", "pods", "requests.cpu"));
    CHECK(vk_quota_covers("", "pods", "count/pods"));
    CHECK(!vk_quota_covers("", "pods", "services"));
    CHECK(vk_quota_covers("", "configmaps", "configmaps"));
    CHECK(vk_quota_covers("apps", "deployments", "count/deployments.apps"));
    CHECK(!vk_quota_covers("apps", "deployments", "deployments"));
}

TEST(exceeded_message)
{
    json_t *hard = json_pack("{s:s,s:s}", "pods", "2", "requests.cpu", "1");
    json_t *used = json_pack("{s:s,s:s}", "pods", "2", "requests.cpu", "500m");
    json_t *req = json_pack("{s:s,s:s}", "pods", "1", "requests.cpu", "100m");
    char *m = vk_quota_exceeded("q", hard, used, req);
    CHECK_EQ_STR(m, "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
    free(m);
    json_object_set_new(req, "requests.cpu", json_string("600m"));
    m = vk_quota_exceeded("q", hard, used, req);
    CHECK_EQ_STR(m, "exceeded quota: q, requested: pods=1,requests.cpu=600m, used: "
                    "pods=2,requests.cpu=500m, limited: pods=2,requests.cpu=1");
    free(m);
    json_object_set_new(used, "pods", json_string("1"));
    json_object_set_new(req, "requests.cpu", json_string("500m"));
    CHECK(vk_quota_exceeded("q", hard, used, req) == NULL);
    json_decref(hard);
    json_decref(used);
    json_decref(req);
}

TEST(must_specify)
{
    json_t *pod = json_loads("{\"spec\":{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\","
                             "\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}}",
                             0, NULL);
    json_t *hard = json_pack("{s:s,s:s,s:s}", "requests.cpu", "1", "limits.memory", "1Gi", "pods",
                             "3");
    char *m = vk_quota_pod_missing(pod, hard);
    CHECK_EQ_STR(m, "must specify limits.memory for: a,b; requests.cpu for: b");
    free(m);
    json_t *h2 = json_pack("{s:s}", "pods", "3");
    CHECK(vk_quota_pod_missing(pod, h2) == NULL);
    json_decref(h2);
    json_decref(hard);
    json_decref(pod);
}

TEST(scopes)
{
    json_t *be = json_loads("{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", 0, NULL);
    json_t *nbe = json_loads("{\"spec\":{\"activeDeadlineSeconds\":5,\"priorityClassName\":\"hi\","
                             "\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":"
                             "{\"cpu\":\"1\"}}}]}}",
                             0, NULL);
    json_t *q = json_loads("{\"spec\":{\"scopes\":[\"BestEffort\"]}}", 0, NULL);
    CHECK(vk_quota_scopes_match(q, "", "pods", be));
    CHECK(!vk_quota_scopes_match(q, "", "pods", nbe));
    CHECK(!vk_quota_scopes_match(q, "", "configmaps", be)); /* scoped quotas are for pods */
    json_decref(q);
    q = json_loads("{\"spec\":{\"scopes\":[\"Terminating\",\"NotBestEffort\"],\"scopeSelector\":"
                   "{\"matchExpressions\":[{\"scopeName\":\"PriorityClass\",\"operator\":\"In\","
                   "\"values\":[\"hi\"]}]}}}",
                   0, NULL);
    CHECK(vk_quota_scopes_match(q, "", "pods", nbe));
    CHECK(!vk_quota_scopes_match(q, "", "pods", be));
    json_decref(q);
    q = json_loads("{\"spec\":{\"hard\":{\"pods\":\"1\"}}}", 0, NULL);
    CHECK(vk_quota_scopes_match(q, "", "configmaps", be)); /* no scopes: everything */
    json_decref(q);
    json_decref(be);
    json_decref(nbe);
}

int main(void)
{
    RUN(canonical_forms);
    RUN(sums_keep_first_format);
    RUN(pod_usage);
    RUN(other_usage_and_covers);
    RUN(exceeded_message);
    RUN(must_specify);
    RUN(scopes);
    TEST_EXIT();
}
