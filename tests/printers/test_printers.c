/* Unit tests for proxy/printers: columns, cells and ages as kube-apiserver's
 * table printers produce them. Times are fixed (no wall clock). */
#include <stdlib.h>
#include <string.h>

#include "proxy/printers.h"
#include "tests/test.h"

/* 2024-05-01T12:00:00Z */
#define NOW 1714564800LL

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", e.text, s);
    return j;
}

static json_t *cells_of(const char *group, const char *res, const char *json)
{
    json_t *obj = parse(json);
    json_t *row = vk_printers_row(group, res, obj, NOW);
    json_t *cells = json_incref(json_object_get(row, "cells"));
    json_decref(row);
    json_decref(obj);
    return cells;
}

static const char *cell(const json_t *cells, size_t i)
{
    json_t *c = json_array_get(cells, i);
    return json_is_string(c) ? json_string_value(c) : NULL;
}

static long long icell(const json_t *cells, size_t i)
{
    json_t *c = json_array_get(cells, i);
    return json_is_integer(c) ? json_integer_value(c) : -999;
}

TEST(human_duration)
{
    struct {
        long long s;
        const char *want;
    } cases[] = {
        {-5, "<invalid>"}, {-1, "0s"}, {0, "0s"}, {59, "59s"}, {119, "119s"}, {120, "2m"},
        {150, "2m30s"}, {599, "9m59s"}, {600, "10m"}, {10799, "179m"}, {10800, "3h"},
        {3 * 3600 + 1800, "3h30m"}, {8 * 3600 + 60, "8h"}, {47 * 3600, "47h"}, {48 * 3600, "2d"},
        {49 * 3600, "2d1h"}, {8 * 86400 + 3600, "8d"}, {400 * 86400LL, "400d"},
        {730 * 86400LL, "2y"}, {731 * 86400LL, "2y1d"}, {8 * 365 * 86400LL, "8y"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_EQ_STR(vk_printers_human_duration(cases[i].s, buf, sizeof buf), cases[i].want);
    CHECK_EQ_STR(vk_printers_age("2024-05-01T11:55:00Z", NOW, buf, sizeof buf), "5m");
    CHECK_EQ_STR(vk_printers_age("2024-05-01T13:55:00+02:00", NOW, buf, sizeof buf), "5m");
    CHECK_EQ_STR(vk_printers_age("2024-05-01T11:59:30.123456Z", NOW, buf, sizeof buf), "30s");
    CHECK_EQ_STR(vk_printers_age(NULL, NOW, buf, sizeof buf), "<unknown>");
    CHECK_EQ_STR(vk_printers_age("yesterday", NOW, buf, sizeof buf), "<unknown>");
}

TEST(pod_columns)
{
    json_t *cols = vk_printers_columns("", "pods");
    CHECK_EQ_INT(json_array_size(cols), 9);
    const char *names[] = {"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                           "Nominated Node", "Readiness Gates"};
    for (size_t i = 0; i < 9; i++) {
        json_t *c = json_array_get(cols, i);
        CHECK_EQ_STR(json_string_value(json_object_get(c, "name")), names[i]);
        CHECK_EQ_INT(json_integer_value(json_object_get(c, "priority")), i >= 5 ? 1 : 0);
        CHECK_EQ_STR(json_string_value(json_object_get(c, "type")), "string");
    }
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 0), "format")), "name");
    json_decref(cols);
    /* Unknown resources get Name / Created At. */
    cols = vk_printers_columns("apiextensions.k8s.io", "customresourcedefinitions");
    CHECK_EQ_INT(json_array_size(cols), 2);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 1), "name")), "Created At");
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(cols, 1), "type")), "date");
    json_decref(cols);
    CHECK(!vk_printers_known("apiextensions.k8s.io", "customresourcedefinitions"));
    CHECK(vk_printers_known("apps", "deployments"));
    json_t *c = cells_of("apiextensions.k8s.io", "customresourcedefinitions",
                         "{\"metadata\":{\"name\":\"a.b.c\",\"creationTimestamp\":\"2024-04-01T00:00:00Z\"}}");
    CHECK_EQ_STR(cell(c, 0), "a.b.c");
    CHECK_EQ_STR(cell(c, 1), "2024-04-01T00:00:00Z");
    json_decref(c);
}

TEST(pod_status_cells)
{
    /* Running and ready. */
    json_t *c = cells_of("", "pods",
        "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2024-05-01T11:55:00Z\"},"
        "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"a\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.5\",\"podIPs\":[{\"ip\":\"10.0.0.5\"}],"
        "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"restartCount\":0,\"state\":{\"running\":{}}}]}}");
    CHECK_EQ_STR(cell(c, 0), "web");
    CHECK_EQ_STR(cell(c, 1), "1/1");
    CHECK_EQ_STR(cell(c, 2), "Running");
    CHECK_EQ_STR(cell(c, 3), "0");
    CHECK_EQ_STR(cell(c, 4), "5m");
    CHECK_EQ_STR(cell(c, 5), "10.0.0.5");
    CHECK_EQ_STR(cell(c, 6), "n1");
    CHECK_EQ_STR(cell(c, 7), "<none>");
    CHECK_EQ_STR(cell(c, 8), "<none>");
    json_decref(c);
    /* Pending, no status yet. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
                             "\"status\":{\"phase\":\"Pending\"}}");
    CHECK_EQ_STR(cell(c, 1), "0/2");
    CHECK_EQ_STR(cell(c, 2), "Pending");
    CHECK_EQ_STR(cell(c, 4), "<unknown>");
    CHECK_EQ_STR(cell(c, 5), "<none>");
    json_decref(c);
    /* ContainerCreating. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
                             "\"status\":{\"phase\":\"Pending\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":false,"
                             "\"restartCount\":0,\"state\":{\"waiting\":{\"reason\":\"ContainerCreating\"}}}]}}");
    CHECK_EQ_STR(cell(c, 2), "ContainerCreating");
    json_decref(c);
    /* CrashLoopBackOff with restarts and when the last one ended. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
                             "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":false,"
                             "\"restartCount\":5,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
                             "\"lastState\":{\"terminated\":{\"exitCode\":1,\"finishedAt\":\"2024-05-01T11:57:00Z\"}}}]}}");
    CHECK_EQ_STR(cell(c, 1), "0/1");
    CHECK_EQ_STR(cell(c, 2), "CrashLoopBackOff");
    CHECK_EQ_STR(cell(c, 3), "5 (3m ago)");
    json_decref(c);
    /* Completed, with the row condition. */
    json_t *obj = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
                        "\"status\":{\"phase\":\"Succeeded\",\"containerStatuses\":[{\"name\":\"a\",\"ready\":false,"
                        "\"restartCount\":0,\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}");
    json_t *row = vk_printers_row("", "pods", obj, NOW);
    CHECK_EQ_STR(cell(json_object_get(row, "cells"), 2), "Completed");
    json_t *cond = json_array_get(json_object_get(row, "conditions"), 0);
    CHECK_EQ_STR(json_string_value(json_object_get(cond, "type")), "Completed");
    CHECK_EQ_STR(json_string_value(json_object_get(cond, "reason")), "Succeeded");
    json_decref(row);
    json_decref(obj);
    /* Exit code without reason, and a terminating pod. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
                             "\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\","
                             "\"state\":{\"terminated\":{\"exitCode\":137}}}]}}");
    CHECK_EQ_STR(cell(c, 2), "ExitCode:137");
    json_decref(c);
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2024-05-01T11:59:00Z\"},"
                             "\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Running\","
                             "\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"state\":{\"running\":{}}}]}}");
    CHECK_EQ_STR(cell(c, 2), "Terminating");
    CHECK_EQ_STR(cell(c, 1), "1/1");
    json_decref(c);
    /* Init containers. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"initContainers\":[{\"name\":\"i\"},{\"name\":\"j\"}],"
                             "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\","
                             "\"initContainerStatuses\":[{\"name\":\"i\",\"state\":{\"terminated\":{\"exitCode\":0}}},"
                             "{\"name\":\"j\",\"state\":{\"running\":{}}}]}}");
    CHECK_EQ_STR(cell(c, 2), "Init:1/2");
    json_decref(c);
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"initContainers\":[{\"name\":\"i\"}],"
                             "\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":\"Pending\","
                             "\"initContainerStatuses\":[{\"name\":\"i\",\"restartCount\":2,"
                             "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}");
    CHECK_EQ_STR(cell(c, 2), "Init:CrashLoopBackOff");
    CHECK_EQ_STR(cell(c, 3), "2");
    json_decref(c);
    /* Readiness gates. */
    c = cells_of("", "pods", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[],\"readinessGates\":"
                             "[{\"conditionType\":\"x\"},{\"conditionType\":\"y\"}]},\"status\":{\"conditions\":"
                             "[{\"type\":\"x\",\"status\":\"True\"},{\"type\":\"y\",\"status\":\"False\"}]}}");
    CHECK_EQ_STR(cell(c, 8), "1/2");
    json_decref(c);
}

TEST(workload_cells)
{
    json_t *c = cells_of("apps", "deployments",
        "{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2024-04-29T12:00:00Z\"},"
        "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\",\"tier\":\"fe\"},"
        "\"matchExpressions\":[{\"key\":\"env\",\"operator\":\"In\",\"values\":[\"prod\",\"dev\"]}]},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"nginx\"},{\"name\":\"b\",\"image\":\"redis:7\"}]}}},"
        "\"status\":{\"readyReplicas\":2,\"updatedReplicas\":3,\"availableReplicas\":2}}");
    CHECK_EQ_STR(cell(c, 0), "web");
    CHECK_EQ_STR(cell(c, 1), "2/3");
    CHECK_EQ_INT(icell(c, 2), 3);
    CHECK_EQ_INT(icell(c, 3), 2);
    CHECK_EQ_STR(cell(c, 4), "2d");
    CHECK_EQ_STR(cell(c, 5), "a,b");
    CHECK_EQ_STR(cell(c, 6), "nginx,redis:7");
    CHECK_EQ_STR(cell(c, 7), "app=web,env in (dev,prod),tier=fe");
    json_decref(c);
    c = cells_of("batch", "jobs",
        "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"completions\":1,\"parallelism\":1,"
        "\"selector\":{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"u\"}},"
        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"busybox\"}]}}},"
        "\"status\":{\"succeeded\":1,\"startTime\":\"2024-05-01T11:00:00Z\",\"completionTime\":\"2024-05-01T11:00:07Z\","
        "\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}");
    CHECK_EQ_STR(cell(c, 1), "Complete");
    CHECK_EQ_STR(cell(c, 2), "1/1");
    CHECK_EQ_STR(cell(c, 3), "7s");
    CHECK_EQ_STR(cell(c, 7), "batch.kubernetes.io/controller-uid=u");
    json_decref(c);
    c = cells_of("batch", "jobs", "{\"metadata\":{\"name\":\"j\"},\"spec\":{\"parallelism\":3},\"status\":{}}");
    CHECK_EQ_STR(cell(c, 1), "Running");
    CHECK_EQ_STR(cell(c, 2), "0/1 of 3");
    CHECK_EQ_STR(cell(c, 3), "");
    json_decref(c);
    c = cells_of("batch", "cronjobs", "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"schedule\":\"*/5 * * * *\",\"suspend\":false},"
                                      "\"status\":{\"active\":[{}],\"lastScheduleTime\":\"2024-05-01T11:55:00Z\"}}");
    CHECK_EQ_STR(cell(c, 1), "*/5 * * * *");
    CHECK_EQ_STR(cell(c, 2), "<none>");
    CHECK_EQ_STR(cell(c, 3), "False");
    CHECK_EQ_INT(icell(c, 4), 1);
    CHECK_EQ_STR(cell(c, 5), "5m");
    json_decref(c);
    c = cells_of("apps", "statefulsets", "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":1}}");
    CHECK_EQ_STR(cell(c, 1), "1/2");
    json_decref(c);
    c = cells_of("apps", "daemonsets", "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"b\":\"2\",\"a\":\"1\"}}}},"
                                       "\"status\":{\"desiredNumberScheduled\":3,\"numberReady\":2}}");
    CHECK_EQ_INT(icell(c, 1), 3);
    CHECK_EQ_INT(icell(c, 3), 2);
    CHECK_EQ_STR(cell(c, 6), "a=1,b=2");
    CHECK_EQ_STR(cell(c, 10), "<none>");
    json_decref(c);
}

TEST(core_cells)
{
    json_t *c = cells_of("", "services",
        "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.9\","
        "\"clusterIPs\":[\"10.96.0.9\"],\"selector\":{\"app\":\"web\"},"
        "\"ports\":[{\"port\":80,\"protocol\":\"TCP\"},{\"port\":443,\"nodePort\":30443,\"protocol\":\"TCP\"}]}}");
    CHECK_EQ_STR(cell(c, 1), "NodePort");
    CHECK_EQ_STR(cell(c, 2), "10.96.0.9");
    CHECK_EQ_STR(cell(c, 3), "<none>");
    CHECK_EQ_STR(cell(c, 4), "80/TCP,443:30443/TCP");
    CHECK_EQ_STR(cell(c, 6), "app=web");
    json_decref(c);
    c = cells_of("", "services", "{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"LoadBalancer\",\"clusterIP\":\"None\"}}");
    CHECK_EQ_STR(cell(c, 2), "None");
    CHECK_EQ_STR(cell(c, 3), "<pending>");
    CHECK_EQ_STR(cell(c, 4), "<none>");
    CHECK_EQ_STR(cell(c, 6), "<none>");
    json_decref(c);
    c = cells_of("", "endpoints", "{\"metadata\":{\"name\":\"e\"},\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"},"
                                  "{\"ip\":\"10.0.0.2\"},{\"ip\":\"10.0.0.3\"},{\"ip\":\"10.0.0.4\"}],\"ports\":[{\"port\":80}]}]}");
    CHECK_EQ_STR(cell(c, 1), "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 1 more...");
    json_decref(c);
    c = cells_of("", "endpoints", "{\"metadata\":{\"name\":\"e\"}}");
    CHECK_EQ_STR(cell(c, 1), "<none>");
    json_decref(c);
    c = cells_of("", "nodes", "{\"metadata\":{\"name\":\"n\",\"labels\":{\"node-role.kubernetes.io/control-plane\":\"\","
                              "\"node-role.kubernetes.io/worker\":\"\"}},\"spec\":{\"unschedulable\":true},"
                              "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
                              "\"nodeInfo\":{\"kubeletVersion\":\"v1.33.1\"},\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"192.168.1.2\"}]}}");
    CHECK_EQ_STR(cell(c, 1), "Ready,SchedulingDisabled");
    CHECK_EQ_STR(cell(c, 2), "control-plane,worker");
    CHECK_EQ_STR(cell(c, 4), "v1.33.1");
    CHECK_EQ_STR(cell(c, 5), "192.168.1.2");
    CHECK_EQ_STR(cell(c, 6), "<none>");
    CHECK_EQ_STR(cell(c, 7), "<unknown>");
    json_decref(c);
    c = cells_of("", "configmaps", "{\"metadata\":{\"name\":\"c\"},\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"\"}}");
    CHECK_EQ_INT(icell(c, 1), 3);
    json_decref(c);
    c = cells_of("", "secrets", "{\"metadata\":{\"name\":\"s\"},\"type\":\"Opaque\",\"data\":{\"a\":\"\"}}");
    CHECK_EQ_STR(cell(c, 1), "Opaque");
    CHECK_EQ_INT(icell(c, 2), 1);
    json_decref(c);
    c = cells_of("", "events", "{\"metadata\":{\"name\":\"p.1\"},\"type\":\"Normal\",\"reason\":\"Scheduled\","
                               "\"message\":\"Successfully assigned d/p to n1 \",\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"p\"},"
                               "\"source\":{\"component\":\"default-scheduler\"},\"firstTimestamp\":\"2024-05-01T11:50:00Z\","
                               "\"lastTimestamp\":\"2024-05-01T11:58:00Z\",\"count\":2}");
    CHECK_EQ_STR(cell(c, 0), "2m");
    CHECK_EQ_STR(cell(c, 1), "Normal");
    CHECK_EQ_STR(cell(c, 3), "pod/p");
    CHECK_EQ_STR(cell(c, 5), "default-scheduler");
    CHECK_EQ_STR(cell(c, 6), "Successfully assigned d/p to n1");
    CHECK_EQ_STR(cell(c, 7), "10m");
    CHECK_EQ_INT(icell(c, 8), 2);
    json_decref(c);
    c = cells_of("", "persistentvolumeclaims", "{\"metadata\":{\"name\":\"c\"},\"spec\":{\"volumeName\":\"pv1\","
                                               "\"storageClassName\":\"standard\",\"volumeMode\":\"Filesystem\"},"
                                               "\"status\":{\"phase\":\"Bound\",\"capacity\":{\"storage\":\"1Gi\"},"
                                               "\"accessModes\":[\"ReadWriteMany\",\"ReadWriteOnce\"]}}");
    CHECK_EQ_STR(cell(c, 1), "Bound");
    CHECK_EQ_STR(cell(c, 3), "1Gi");
    CHECK_EQ_STR(cell(c, 4), "RWO,RWX");
    CHECK_EQ_STR(cell(c, 5), "standard");
    CHECK_EQ_STR(cell(c, 6), "<unset>");
    CHECK_EQ_STR(cell(c, 8), "Filesystem");
    json_decref(c);
    c = cells_of("", "resourcequotas", "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"10\",\"limits.cpu\":\"4\",\"requests.cpu\":\"2\"}},"
                                       "\"status\":{\"hard\":{\"pods\":\"10\",\"limits.cpu\":\"4\",\"requests.cpu\":\"2\"},\"used\":{\"pods\":\"3\"}}}");
    CHECK_EQ_STR(cell(c, 1), "pods: 3/10, requests.cpu: 0/2");
    CHECK_EQ_STR(cell(c, 2), "limits.cpu: 0/4");
    CHECK_EQ_STR(cell(c, 3), "<unknown>");
    json_decref(c);
}

TEST(other_group_cells)
{
    json_t *c = cells_of("rbac.authorization.k8s.io", "rolebindings",
        "{\"metadata\":{\"name\":\"b\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"view\"},"
        "\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"},{\"kind\":\"User\",\"name\":\"amy\"},"
        "{\"kind\":\"ServiceAccount\",\"name\":\"sa\",\"namespace\":\"ns\"},{\"kind\":\"Group\",\"name\":\"devs\"}]}");
    CHECK_EQ_STR(cell(c, 1), "ClusterRole/view");
    CHECK_EQ_STR(cell(c, 3), "bob, amy");
    CHECK_EQ_STR(cell(c, 4), "devs");
    CHECK_EQ_STR(cell(c, 5), "ns/sa");
    json_decref(c);
    c = cells_of("networking.k8s.io", "ingresses",
        "{\"metadata\":{\"name\":\"i\"},\"spec\":{\"ingressClassName\":\"nginx\",\"tls\":[{}],"
        "\"rules\":[{\"host\":\"a.com\"},{\"host\":\"b.com\"},{\"host\":\"c.com\"},{\"host\":\"d.com\"}]},"
        "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"1.2.3.4\"}]}}}");
    CHECK_EQ_STR(cell(c, 1), "nginx");
    CHECK_EQ_STR(cell(c, 2), "a.com,b.com,c.com + 1 more...");
    CHECK_EQ_STR(cell(c, 3), "1.2.3.4");
    CHECK_EQ_STR(cell(c, 4), "80, 443");
    json_decref(c);
    c = cells_of("networking.k8s.io", "networkpolicies", "{\"metadata\":{\"name\":\"n\"},\"spec\":{\"podSelector\":{}}}");
    CHECK_EQ_STR(cell(c, 1), "<none>");
    json_decref(c);
    c = cells_of("discovery.k8s.io", "endpointslices", "{\"metadata\":{\"name\":\"e\"},\"addressType\":\"IPv4\","
                                                       "\"ports\":[{\"port\":80},{\"name\":\"x\"}],\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}");
    CHECK_EQ_STR(cell(c, 2), "80,x");
    CHECK_EQ_STR(cell(c, 3), "10.0.0.1");
    json_decref(c);
    c = cells_of("discovery.k8s.io", "endpointslices", "{\"metadata\":{\"name\":\"e\"},\"addressType\":\"IPv4\"}");
    CHECK_EQ_STR(cell(c, 2), "<unset>");
    CHECK_EQ_STR(cell(c, 3), "<unset>");
    json_decref(c);
    c = cells_of("storage.k8s.io", "storageclasses", "{\"metadata\":{\"name\":\"std\",\"annotations\":"
                                                     "{\"storageclass.kubernetes.io/is-default-class\":\"true\"}},\"provisioner\":\"x.io/p\"}");
    CHECK_EQ_STR(cell(c, 0), "std (default)");
    CHECK_EQ_STR(cell(c, 2), "Delete");
    CHECK_EQ_STR(cell(c, 3), "Immediate");
    CHECK(json_is_false(json_array_get(c, 4)));
    json_decref(c);
    c = cells_of("policy", "poddisruptionbudgets", "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"minAvailable\":\"50%\"},\"status\":{\"disruptionsAllowed\":1}}");
    CHECK_EQ_STR(cell(c, 1), "50%");
    CHECK_EQ_STR(cell(c, 2), "N/A");
    CHECK_EQ_INT(icell(c, 3), 1);
    json_decref(c);
    c = cells_of("coordination.k8s.io", "leases", "{\"metadata\":{\"name\":\"l\"},\"spec\":{\"holderIdentity\":\"me\"}}");
    CHECK_EQ_STR(cell(c, 1), "me");
    json_decref(c);
}

int main(void)
{
    RUN(human_duration);
    RUN(pod_columns);
    RUN(pod_status_cells);
    RUN(workload_cells);
    RUN(core_cells);
    RUN(other_group_cells);
    TEST_EXIT();
}
