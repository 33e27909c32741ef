/* Unit tests of the controllers' pure logic: FNV-32a, safe encoding, the
 * pod-template hash, IntOrString percentages and rolling-update arithmetic. */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "controllers/controllers.h"
#include "tests/test.h"

TEST(fnv32a_vectors)
{
    /* Published FNV-1a 32-bit test vectors. */
    CHECK(vk_controllers_fnv32a("", 0) == 0x811c9dc5u);
    CHECK(vk_controllers_fnv32a("a", 1) == 0xe40c292cu);
    CHECK(vk_controllers_fnv32a("foobar", 6) == 0xbf9cf968u);
}

TEST(safe_encode)
{
    char out[16];
    vk_controllers_safe_encode("123", out);
    CHECK_EQ_STR(out, "567");
    vk_controllers_safe_encode("0", out); /* '0' = 48, 48 % 27 = 21 */
    CHECK_EQ_STR(out, "4");
}

TEST(template_hash)
{
    json_t *t = json_loads("{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":"
                           "[{\"name\":\"c\",\"image\":\"nginx\"}]}}",
                           0, NULL);
    char a[16], b[16], c[16], d[16];
    vk_controllers_template_hash(t, -1, a);
    CHECK(strlen(a) >= 1 && strlen(a) <= 10);
    CHECK(strspn(a, "bcdfghjklmnpqrstvwxz2456789") == strlen(a));
    /* The hash label itself does not change the hash. */
    json_object_set_new(json_object_get(json_object_get(t, "metadata"), "labels"),
                        "pod-template-hash", json_string(a));
    vk_controllers_template_hash(t, -1, b);
    CHECK_EQ_STR(a, b);
    /* A collision count does. */
    vk_controllers_template_hash(t, 1, c);
    CHECK(strcmp(a, c) != 0);
    /* So does the image. */
    json_t *ctr = json_array_get(json_object_get(json_object_get(t, "spec"), "containers"), 0);
    json_object_set_new(ctr, "image", json_string("nginx:2"));
    vk_controllers_template_hash(t, -1, d);
    CHECK(strcmp(a, d) != 0);
    /* Key order does not matter. */
    json_t *u = json_loads("{\"spec\":{\"containers\":[{\"image\":\"nginx\",\"name\":\"c\"}]},"
                           "\"metadata\":{\"labels\":{\"app\":\"web\"}}}",
                           0, NULL);
    vk_controllers_template_hash(u, -1, b);
    CHECK_EQ_STR(a, b);
    json_decref(t);
    json_decref(u);
}

/* Reference values computed by kube-controller-manager's own code (k8s.io/api
 * v0.36.3 PodTemplateSpec after a protobuf round trip, k8s.io/utils/dump.ForHash,
 * fnv32a, rand.SafeEncodeString) for the template `kubectl create deployment
 * web --image=nginx` stores, and for one with env, resources, probes and
 * volumes. */
TEST(template_hash_upstream)
{
    json_t *t = json_loads(
        "{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\"}},\"spec\":{"
        "\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\",\"resources\":{},"
        "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":"
        "\"File\",\"imagePullPolicy\":\"Always\"}],\"restartPolicy\":\"Always\","
        "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":"
        "{},\"schedulerName\":\"default-scheduler\"}}",
        0, NULL);
    char h[16];
    vk_controllers_template_hash(t, -1, h);
    CHECK_EQ_STR(h, "7887448d46");
    vk_controllers_template_hash(t, 1, h);
    CHECK_EQ_STR(h, "75467d87");
    int exact = 0;
    char *d = vk_controllers_template_dump(t, &exact);
    CHECK(exact);
    CHECK(!strncmp(d, "(v1.PodTemplateSpec){ObjectMeta:(v1.ObjectMeta){Name:(string) ", 62));
    CHECK(strstr(d, " Labels:(map[string]string)map[app:web] Annotations:(map[string]string)<nil> "));
    CHECK(strstr(d, " SecurityContext:(*v1.PodSecurityContext){SELinuxOptions:(*v1.SELinuxOptions)<nil> "));
    free(d);
    json_decref(t);
    t = json_loads(
        "{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\",\"z\":\"1\"},"
        "\"annotations\":{\"a/b\":\"c\"}},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":"
        "\"nginx\",\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"A\","
        "\"value\":\"1\"},{\"name\":\"B\",\"valueFrom\":{\"fieldRef\":{\"apiVersion\":\"v1\","
        "\"fieldPath\":\"metadata.name\"}}}],\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":"
        "\"128Mi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"500Mi\"}},\"livenessProbe\":{"
        "\"httpGet\":{\"path\":\"/\",\"port\":80,\"scheme\":\"HTTP\"},\"timeoutSeconds\":1,"
        "\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},\"readinessProbe\":{"
        "\"tcpSocket\":{\"port\":\"http\"},\"timeoutSeconds\":1,\"periodSeconds\":10,"
        "\"successThreshold\":1,\"failureThreshold\":3},\"volumeMounts\":[{\"name\":\"d\","
        "\"mountPath\":\"/d\"}],\"terminationMessagePath\":\"/dev/termination-log\","
        "\"terminationMessagePolicy\":\"File\",\"imagePullPolicy\":\"Always\"}],\"volumes\":[{"
        "\"name\":\"d\",\"emptyDir\":{}},{\"name\":\"c\",\"configMap\":{\"name\":\"cm\","
        "\"defaultMode\":420}}],\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,"
        "\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":{},\"schedulerName\":\"default-scheduler\"}}",
        0, NULL);
    vk_controllers_template_hash(t, -1, h);
    CHECK_EQ_STR(h, "879d65877");
    d = vk_controllers_template_dump(t, &exact);
    CHECK(exact);
    /* 128Mi keeps no cached string (128 & 7 == 0), 500Mi does (as Go's ParseQuantity). */
    CHECK(strstr(d, "memory:{i:(resource.int64Amount){value:(int64)134217728 scale:(resource.Scale)0} "
                    "d:(resource.infDecAmount){Dec:(*inf.Dec)<nil>} s:(string) Format:(resource.Format)BinarySI}"));
    CHECK(strstr(d, "s:(string)500Mi Format:(resource.Format)BinarySI}"));
    CHECK(strstr(d, "Port:(intstr.IntOrString){Type:(intstr.Type)1 IntVal:(int32)0 StrVal:(string)http}"));
    free(d);
    /* A set timestamp is not reproduced, and says so. */
    json_object_set_new(json_object_get(t, "metadata"), "creationTimestamp",
                        json_string("2024-01-01T00:00:00Z"));
    d = vk_controllers_template_dump(t, &exact);
    CHECK(!exact);
    free(d);
    json_decref(t);
}

/* A template with most PodSpec fields (sidecar init containers, probes of
 * every kind, ephemeral volume claim templates with their own ObjectMeta, CSI,
 * image volumes, affinity, spread constraints, resource claims, overhead,
 * hugepages, host aliases, DNS config): hash from upstream's own code. */
TEST(template_hash_upstream_wide)
{
    json_error_t err;
    json_t *t = json_loads(
        "{\"metadata\":{\"labels\":{\"a\":\"b\"},\"finalizers\":[\"x/y\"],\"name\":\"ignored\",\"namespace\":\"ns\"},\"s"
        "pec\":{\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"a\",\"b\"]}],\"dnsConfig\":{\"nameservers\":[\""
        "1.1.1.1\"],\"searches\":[\"s\"],\"options\":[{\"name\":\"ndots\",\"value\":\"2\"},{\"name\":\"edns0\"}]},\"rea"
        "dinessGates\":[{\"conditionType\":\"x.io/ok\"}],\"overhead\":{\"cpu\":\"250m\",\"memory\":\"120Mi\"},\"os\""
        ":{\"name\":\"linux\"},\"hostUsers\":false,\"schedulingGates\":[{\"name\":\"g\"}],\"priorityClassName\":\""
        "high\",\"priority\":1000,\"preemptionPolicy\":\"Never\",\"runtimeClassName\":\"kata-clh\",\"activeDead"
        "lineSeconds\":100,\"automountServiceAccountToken\":false,\"shareProcessNamespace\":true,\"hostPI"
        "D\":false,\"hostIPC\":false,\"hostNetwork\":false,\"setHostnameAsFQDN\":true,\"subdomain\":\"sub\",\"h"
        "ostname\":\"h\",\"securityContext\":{\"seccompProfile\":{\"type\":\"RuntimeDefault\"},\"appArmorProfil"
        "e\":{\"type\":\"Localhost\",\"localhostProfile\":\"p\"},\"windowsOptions\":{\"gmsaCredentialSpecName\":"
        "\"g\",\"hostProcess\":false},\"supplementalGroups\":[1,2],\"fsGroupChangePolicy\":\"OnRootMismatch\""
        ",\"seLinuxOptions\":{\"level\":\"s0:c1\"},\"runAsGroup\":3},\"resourceClaims\":[{\"name\":\"gpu\",\"resou"
        "rceClaimTemplateName\":\"t\"}],\"initContainers\":[{\"name\":\"side\",\"image\":\"envoy\",\"restartPolic"
        "y\":\"Always\",\"resizePolicy\":[{\"resourceName\":\"cpu\",\"restartPolicy\":\"NotRequired\"}],\"stdin\":"
        "true,\"tty\":true,\"workingDir\":\"/w\"}],\"containers\":[{\"name\":\"c\",\"image\":\"nginx\",\"ports\":[{\"c"
        "ontainerPort\":53,\"hostPort\":53,\"hostIP\":\"127.0.0.1\",\"protocol\":\"UDP\",\"name\":\"dns\"}],\"lifec"
        "ycle\":{\"postStart\":{\"httpGet\":{\"path\":\"/x\",\"port\":8080,\"host\":\"h\",\"scheme\":\"HTTPS\",\"httpHe"
        "aders\":[{\"name\":\"A\",\"value\":\"b\"}]}},\"preStop\":{\"tcpSocket\":{\"port\":\"p\"}},\"stopSignal\":\"SIG"
        "TERM\"},\"livenessProbe\":{\"grpc\":{\"port\":9000,\"service\":\"s\"},\"terminationGracePeriodSeconds\""
        ":5},\"resources\":{\"claims\":[{\"name\":\"gpu\",\"request\":\"r\"}],\"limits\":{\"nvidia.com/gpu\":\"2\",\"h"
        "ugepages-2Mi\":\"100Mi\"}},\"volumeDevices\":[{\"name\":\"blk\",\"devicePath\":\"/dev/x\"}],\"volumeMoun"
        "ts\":[{\"name\":\"e\",\"mountPath\":\"/e\",\"mountPropagation\":\"HostToContainer\",\"recursiveReadOnly\""
        ":\"Disabled\",\"readOnly\":true,\"subPathExpr\":\"$(POD)\"}],\"securityContext\":{\"privileged\":false"
        ",\"readOnlyRootFilesystem\":true,\"procMount\":\"Default\",\"seccompProfile\":{\"type\":\"Unconfined\""
        "}}}],\"volumes\":[{\"name\":\"e\",\"ephemeral\":{\"volumeClaimTemplate\":{\"metadata\":{\"labels\":{\"v\":"
        "\"1\"}},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"fast\",\"resources\":{\"requ"
        "ests\":{\"storage\":\"1Gi\"}},\"volumeMode\":\"Block\"}}}},{\"name\":\"csi\",\"csi\":{\"driver\":\"d\",\"readO"
        "nly\":true,\"volumeAttributes\":{\"k\":\"v\",\"a\":\"z\"},\"nodePublishSecretRef\":{\"name\":\"s\"}}},{\"nam"
        "e\":\"dapi\",\"downwardAPI\":{\"items\":[{\"path\":\"cpu\",\"resourceFieldRef\":{\"containerName\":\"c\",\"r"
        "esource\":\"requests.cpu\",\"divisor\":\"1m\"}}],\"defaultMode\":420}},{\"name\":\"nfs\",\"nfs\":{\"server"
        "\":\"s\",\"path\":\"/p\",\"readOnly\":true}},{\"name\":\"img\",\"image\":{\"reference\":\"r:1\",\"pullPolicy\":"
        "\"IfNotPresent\"}}],\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecut"
        "ion\":{\"nodeSelectorTerms\":[{\"matchExpressions\":[{\"key\":\"k\",\"operator\":\"In\",\"values\":[\"a\",\""
        "b\"]}],\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\",\"values\":[\"n\"]}]}]},\"preferred"
        "DuringSchedulingIgnoredDuringExecution\":[{\"weight\":1,\"preference\":{\"matchExpressions\":[{\"k"
        "ey\":\"z\",\"operator\":\"Exists\"}]}}]},\"podAffinity\":{\"requiredDuringSchedulingIgnoredDuringExe"
        "cution\":[{\"labelSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"NotIn\",\"values\":[\"x\""
        "]}]},\"namespaces\":[\"n1\"],\"namespaceSelector\":{},\"topologyKey\":\"zone\",\"matchLabelKeys\":[\"po"
        "d-template-hash\"]}]}},\"topologySpreadConstraints\":[{\"maxSkew\":2,\"topologyKey\":\"z\",\"whenUns"
        "atisfiable\":\"ScheduleAnyway\",\"minDomains\":2,\"nodeAffinityPolicy\":\"Honor\",\"nodeTaintsPolicy"
        "\":\"Ignore\",\"matchLabelKeys\":[\"a\"]}],\"tolerations\":[{\"key\":\"t\",\"operator\":\"Equal\",\"value\":\""
        "v\",\"effect\":\"NoExecute\",\"tolerationSeconds\":60}],\"imagePullSecrets\":[{\"name\":\"reg\"}]}}",
        0, &err);
    CHECK(t != NULL);
    char h[16];
    vk_controllers_template_hash(t, -1, h);
    CHECK_EQ_STR(h, "844897b54c");
    int exact = 0;
    free(vk_controllers_template_dump(t, &exact));
    CHECK(exact);
    json_decref(t);
}

TEST(int_or_percent)
{
    json_t *p25 = json_string("25%"), *n3 = json_integer(3), *bad = json_string("x%");
    json_t *s2 = json_string("2"), *neg = json_integer(-1);
    CHECK_EQ_INT(vk_controllers_int_or_percent(p25, 10, 1, 0), 3); /* 2.5 up */
    CHECK_EQ_INT(vk_controllers_int_or_percent(p25, 10, 0, 0), 2); /* 2.5 down */
    CHECK_EQ_INT(vk_controllers_int_or_percent(p25, 4, 1, 0), 1);
    CHECK_EQ_INT(vk_controllers_int_or_percent(n3, 10, 0, 0), 3);
    CHECK_EQ_INT(vk_controllers_int_or_percent(s2, 10, 0, 0), 2);
    CHECK_EQ_INT(vk_controllers_int_or_percent(NULL, 10, 0, 7), 7);
    CHECK_EQ_INT(vk_controllers_int_or_percent(bad, 10, 0, 0), -1);
    CHECK_EQ_INT(vk_controllers_int_or_percent(neg, 10, 0, 0), -1);
    json_decref(p25);
    json_decref(n3);
    json_decref(bad);
    json_decref(s2);
    json_decref(neg);
}

TEST(surge_unavailable)
{
    long s, u;
    vk_controllers_surge_unavailable(NULL, 10, &s, &u); /* defaults 25% / 25% */
    CHECK_EQ_INT(s, 3);
    CHECK_EQ_INT(u, 2);
    vk_controllers_surge_unavailable(NULL, 1, &s, &u);
    CHECK_EQ_INT(s, 1);
    CHECK_EQ_INT(u, 0);
    json_t *r = json_pack("{s:i,s:i}", "maxSurge", 0, "maxUnavailable", 0);
    vk_controllers_surge_unavailable(r, 5, &s, &u);
    CHECK_EQ_INT(s, 0);
    CHECK_EQ_INT(u, 1); /* both zero would never progress */
    json_decref(r);
    r = json_pack("{s:s,s:s}", "maxSurge", "100%", "maxUnavailable", "0%");
    vk_controllers_surge_unavailable(r, 3, &s, &u);
    CHECK_EQ_INT(s, 3);
    CHECK_EQ_INT(u, 0);
    json_decref(r);
}

TEST(rolling_arithmetic)
{
    /* New RS from zero: 3 replicas, surge 1, 3 old: one new pod. */
    CHECK_EQ_INT(vk_controllers_new_rs_scale_up(3, 1, 3, 0), 1);
    /* Already at desired + surge: nothing. */
    CHECK_EQ_INT(vk_controllers_new_rs_scale_up(3, 1, 4, 1), 0);
    /* Never beyond desired for the new RS. */
    CHECK_EQ_INT(vk_controllers_new_rs_scale_up(3, 10, 0, 2), 1);
    CHECK_EQ_INT(vk_controllers_new_rs_scale_up(10, 3, 10, 0), 3);
    /* Scale down: 4 total, 3 must stay available, new RS has 1 unavailable. */
    CHECK_EQ_INT(vk_controllers_max_scale_down(4, 3, 1), 0);
    CHECK_EQ_INT(vk_controllers_max_scale_down(4, 3, 0), 1);
    CHECK_EQ_INT(vk_controllers_max_scale_down(13, 8, 3), 2);
}

static long long utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (long long)timegm(&tm);
}

static long long next_of(const char *spec, long long after)
{
    vk_controllers_cron_t c;
    if (vk_controllers_cron_parse(spec, &c)) return -2;
    return vk_controllers_cron_next(&c, after);
}

TEST(cron_schedules)
{
    CHECK(next_of("*/15 * * * *", utc(2026, 1, 1, 0, 7)) == utc(2026, 1, 1, 0, 15));
    /* Strictly after: at 00:15 exactly the next one is 00:30. */
    CHECK(next_of("*/15 * * * *", utc(2026, 1, 1, 0, 15)) == utc(2026, 1, 1, 0, 30));
    CHECK(next_of("* * * * *", utc(2026, 1, 1, 0, 15) + 30) == utc(2026, 1, 1, 0, 16));
    /* Weekdays at 9: Friday 2 Jan 2026 10:00 -> Monday 5 Jan 09:00. */
    CHECK(next_of("0 9 * * 1-5", utc(2026, 1, 2, 10, 0)) == utc(2026, 1, 5, 9, 0));
    CHECK(next_of("0 9 * * mon-fri", utc(2026, 1, 2, 10, 0)) == utc(2026, 1, 5, 9, 0));
    CHECK(next_of("@monthly", utc(2026, 1, 15, 3, 0)) == utc(2026, 2, 1, 0, 0));
    CHECK(next_of("@hourly", utc(2026, 1, 15, 3, 0)) == utc(2026, 1, 15, 4, 0));
    CHECK(next_of("@weekly", utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 4, 0, 0)); /* Sunday */
    CHECK(next_of("0 0 * * 7", utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 4, 0, 0));
    /* Leap day. */
    CHECK(next_of("0 0 29 feb *", utc(2026, 3, 1, 0, 0)) == utc(2028, 2, 29, 0, 0));
    /* Day of month and day of week both restricted: either matches (Friday 2 Jan). */
    CHECK(next_of("0 0 13 * 5", utc(2026, 1, 1, 0, 0)) == utc(2026, 1, 2, 0, 0));
    /* Lists and ranges with steps. */
    CHECK(next_of("5,35 8-18/5 * * *", utc(2026, 1, 1, 8, 40)) == utc(2026, 1, 1, 13, 5));
    vk_controllers_cron_t c;
    CHECK(vk_controllers_cron_parse("60 * * * *", &c) == -1);
    CHECK(vk_controllers_cron_parse("* * *", &c) == -1);
    CHECK(vk_controllers_cron_parse("* * * * * *", &c) == -1);
    CHECK(vk_controllers_cron_parse("@every 5m", &c) == -1);
    CHECK(vk_controllers_cron_parse("a b c d e", &c) == -1);
    CHECK(vk_controllers_cron_parse("5-1 * * * *", &c) == -1);
    CHECK(vk_controllers_cron_parse("*/0 * * * *", &c) == -1);
    CHECK(vk_controllers_cron_parse("0 0 31 feb *", &c) == 0);
    CHECK(vk_controllers_cron_next(&c, utc(2026, 1, 1, 0, 0)) == -1); /* never */
}

int main(void)
{
    RUN(cron_schedules);
    RUN(fnv32a_vectors);
    RUN(safe_encode);
    RUN(template_hash);
    RUN(template_hash_upstream);
    RUN(template_hash_upstream_wide);
    RUN(int_or_percent);
    RUN(surge_unavailable);
    RUN(rolling_arithmetic);
    TEST_EXIT();
}
