/* Robustness: defaults, validation, printers and Pod Security checks run on
 * objects whose fields have the wrong JSON types (strings where objects are
 * expected, arrays for maps, nulls, huge numbers). They must never crash or
 * leak (ASan/UBSan run this) and must keep returning well-formed results.
 * Mutations come from a fixed-seed generator, so runs are repeatable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/defaults.h"
#include "proxy/podsecurity.h"
#include "proxy/printers.h"
#include "proxy/validate.h"
#include "tests/test.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static json_t *random_value(void)
{
    switch (rnd() % 8) {
    case 0: return json_null();
    case 1: return json_string("");
    case 2: return json_string("Bad Value!");
    case 3: return json_integer((json_int_t)(rnd() % 3 ? -1 : INT64_MAX));
    case 4: return json_true();
    case 5: return json_array();
    case 6: return json_object();
    default: return json_real(1.5);
    }
}

/* Replaces one randomly chosen node of the tree under v by a random value. */
static void mutate(json_t *v, int depth)
{
    size_t n = json_is_object(v) ? json_object_size(v) : json_is_array(v) ? json_array_size(v) : 0;
    if (n == 0)
        return;
    size_t pick = (size_t)(rnd() % n);
    if (json_is_object(v)) {
        void *it = json_object_iter(v);
        for (size_t i = 0; i < pick; i++)
            it = json_object_iter_next(v, it);
        json_t *child = json_object_iter_value(it);
        if (depth > 0 && (json_is_object(child) || json_is_array(child)) && rnd() % 4)
            mutate(child, depth - 1);
        else
            json_object_iter_set_new(v, it, random_value());
    } else {
        json_t *child = json_array_get(v, pick);
        if (depth > 0 && (json_is_object(child) || json_is_array(child)) && rnd() % 4)
            mutate(child, depth - 1);
        else
            json_array_set_new(v, pick, random_value());
    }
}

static const struct {
    const char *group, *kind, *resource, *json;
} seeds[] = {
    {"", "Pod", "pods",
     "{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"labels\":{\"a\":\"b\"},\"annotations\":{\"x\":\"y\"}},"
     "\"spec\":{\"securityContext\":{\"sysctls\":[{\"name\":\"a\"}],\"seLinuxOptions\":{\"type\":\"t\"}},"
     "\"volumes\":[{\"name\":\"v\",\"hostPath\":{\"path\":\"/\"}},{\"name\":\"s\",\"projected\":{\"sources\":[{\"serviceAccountToken\":{}}]}}],"
     "\"initContainers\":[{\"name\":\"i\",\"image\":\"i\",\"restartPolicy\":\"Always\"}],"
     "\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"ports\":[{\"containerPort\":80,\"hostPort\":80}],"
     "\"env\":[{\"name\":\"A\",\"valueFrom\":{\"fieldRef\":{}}}],\"envFrom\":[{\"configMapRef\":{\"name\":\"x\"}}],"
     "\"volumeMounts\":[{\"name\":\"v\",\"mountPath\":\"/v\",\"subPath\":\"a\"}],"
     "\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"2\"}},"
     "\"livenessProbe\":{\"httpGet\":{\"port\":80}},\"lifecycle\":{\"preStop\":{\"exec\":{}}},"
     "\"securityContext\":{\"capabilities\":{\"add\":[\"NET_ADMIN\"],\"drop\":[\"ALL\"]},\"privileged\":true,"
     "\"seccompProfile\":{\"type\":\"Unconfined\"},\"appArmorProfile\":{\"type\":\"Unconfined\"}}}],"
     "\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],\"readinessGates\":[{\"conditionType\":\"x\"}]},"
     "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
     "\"containerStatuses\":[{\"name\":\"c\",\"restartCount\":1,\"state\":{\"waiting\":{\"reason\":\"X\"}},"
     "\"lastState\":{\"terminated\":{\"finishedAt\":\"2024-01-01T00:00:00Z\"}}}],"
     "\"initContainerStatuses\":[{\"name\":\"i\",\"state\":{\"terminated\":{\"exitCode\":1}}}]}}"},
    {"", "Service", "services",
     "{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.0.0.1\","
     "\"clusterIPs\":[\"10.0.0.1\"],\"externalIPs\":[\"1.2.3.4\"],\"selector\":{\"a\":\"b\"},\"sessionAffinity\":\"ClientIP\","
     "\"ports\":[{\"name\":\"a\",\"port\":80,\"targetPort\":\"http\",\"nodePort\":30000}]},"
     "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.1.1.1\"}]}}}"},
    {"apps", "Deployment", "deployments",
     "{\"metadata\":{\"name\":\"d\",\"namespace\":\"n\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"a\":\"b\"},"
     "\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"In\",\"values\":[\"v\"]}]},\"strategy\":{\"type\":\"RollingUpdate\","
     "\"rollingUpdate\":{\"maxSurge\":\"25%\",\"maxUnavailable\":0}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\",\"k\":\"v\"}},"
     "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},\"status\":{\"readyReplicas\":1}}"},
    {"batch", "CronJob", "cronjobs",
     "{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"},\"spec\":{\"schedule\":\"*/5 1-3 * jan mon\",\"jobTemplate\":"
     "{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}},"
     "\"status\":{\"active\":[{}],\"lastScheduleTime\":\"2024-01-01T00:00:00Z\"}}"},
    {"batch", "Job", "jobs",
     "{\"metadata\":{\"name\":\"j\",\"namespace\":\"n\",\"uid\":\"u\"},\"spec\":{\"parallelism\":2,\"template\":{\"spec\":"
     "{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},\"status\":{\"startTime\":"
     "\"2024-01-01T00:00:00Z\",\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}"},
    {"", "Secret", "secrets",
     "{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\"},"
     "\"stringData\":{\"a\":\"b\"},\"immutable\":true}"},
    {"rbac.authorization.k8s.io", "RoleBinding", "rolebindings",
     "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"r\"},"
     "\"subjects\":[{\"kind\":\"ServiceAccount\",\"name\":\"s\"},{\"kind\":\"User\",\"name\":\"u\"}]}"},
    {"networking.k8s.io", "Ingress", "ingresses",
     "{\"metadata\":{\"name\":\"i\",\"namespace\":\"n\"},\"spec\":{\"tls\":[{}],\"rules\":[{\"host\":\"a.com\",\"http\":"
     "{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"s\"}}}]}}]}}"},
    {"", "Node", "nodes",
     "{\"metadata\":{\"name\":\"n\",\"labels\":{\"node-role.kubernetes.io/x\":\"\"}},\"status\":{\"conditions\":"
     "[{\"type\":\"Ready\",\"status\":\"True\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"1.2.3.4\"}],"
     "\"nodeInfo\":{\"kernelVersion\":\"k\",\"architecture\":\"a\"}}}"},
};

TEST(mutated_objects)
{
    int rounds = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++) {
        json_error_t e;
        json_t *seed = json_loads(seeds[s].json, 0, &e);
        CHECK(seed != NULL);
        if (!seed)
            continue;
        for (int round = 0; round < 200; round++) {
            json_t *obj = json_deep_copy(seed);
            int n = 1 + (int)(rnd() % 4);
            for (int m = 0; m < n; m++)
                mutate(obj, 6);
            json_t *old = json_deep_copy(seed);
            vk_defaults_apply(seeds[s].group, "v1", seeds[s].kind, obj);
            vk_defaults_pod_admission(obj);
            vk_defaults_pod_token_volume(obj, "abcde", 1);
            vk_defaults_keep_allocated(seeds[s].group, seeds[s].kind, obj, old);
            json_t *causes = json_array();
            int rc = vk_validate_object(seeds[s].group, seeds[s].kind, obj, round % 2 ? old : NULL,
                                        causes);
            CHECK(rc == 0 || rc == VK_EINVALID);
            CHECK((rc == 0) == (json_array_size(causes) == 0));
            char *msg = vk_validate_message(seeds[s].group, seeds[s].kind, "x", causes);
            CHECK(msg && strstr(msg, " is invalid: ") != NULL);
            free(msg);
            json_t *row = vk_printers_row(seeds[s].group, seeds[s].resource, obj, 1714564800);
            json_t *cols = vk_printers_columns(seeds[s].group, seeds[s].resource);
            CHECK(json_array_size(json_object_get(row, "cells")) == json_array_size(cols));
            char *v = vk_podsecurity_check_object(VK_PODSECURITY_RESTRICTED, seeds[s].group,
                                                  seeds[s].kind, obj);
            free(v);
            json_decref(cols);
            json_decref(row);
            json_decref(causes);
            json_decref(old);
            json_decref(obj);
            rounds++;
        }
        json_decref(seed);
    }
    CHECK_EQ_INT(rounds, (int)(200 * (sizeof seeds / sizeof seeds[0])));
}

int main(void)
{
    RUN(mutated_objects);
    TEST_EXIT();
}
