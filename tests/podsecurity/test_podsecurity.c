/* Unit tests for proxy/podsecurity: Pod Security Standards baseline and
 * restricted checks with upstream's messages. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/podsecurity.h"
#include "tests/test.h"

static int has_prefix(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", e.text, s);
    return j;
}

/* Checks a Pod given as JSON; returns the violations (caller frees) or NULL. */
static char *check_pod(vk_podsecurity_level_t level, const char *json)
{
    json_t *pod = parse(json);
    char *v = vk_podsecurity_check_object(level, "", "Pod", pod);
    json_decref(pod);
    return v;
}

#define PLAIN "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx\"}]}}"

TEST(plain_pod)
{
    CHECK(check_pod(VK_PODSECURITY_BASELINE, PLAIN) == NULL);
    CHECK(check_pod(VK_PODSECURITY_PRIVILEGED, PLAIN) == NULL);
    char *v = check_pod(VK_PODSECURITY_RESTRICTED, PLAIN);
    CHECK_EQ_STR(v, "allowPrivilegeEscalation != false (container \"nginx\" must set "
                    "securityContext.allowPrivilegeEscalation=false), unrestricted capabilities "
                    "(container \"nginx\" must set securityContext.capabilities.drop=[\"ALL\"]), "
                    "runAsNonRoot != true (pod or container \"nginx\" must set "
                    "securityContext.runAsNonRoot=true), seccompProfile (pod or container \"nginx\" "
                    "must set securityContext.seccompProfile.type to \"RuntimeDefault\" or "
                    "\"Localhost\")");
    char *m = vk_podsecurity_forbidden_message(VK_PODSECURITY_RESTRICTED, "pods", "web", v);
    CHECK(has_prefix(m, "pods \"web\" is forbidden: violates PodSecurity \"restricted:latest\": "
                        "allowPrivilegeEscalation != false ("));
    free(m);
    char *w = vk_podsecurity_warning(VK_PODSECURITY_RESTRICTED, v);
    CHECK(has_prefix(w, "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation"));
    free(w);
    free(v);
}

TEST(restricted_compliant)
{
    const char *ok = "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"securityContext\":{\"runAsNonRoot\":true,"
                     "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"x\"}}],"
                     "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
                     "\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"NET_BIND_SERVICE\"]}}}]}}";
    CHECK(check_pod(VK_PODSECURITY_RESTRICTED, ok) == NULL);
    /* runAsUser non-zero on the container satisfies runAsNonRoot; 0 does not. */
    const char *uid = "{\"metadata\":{\"name\":\"web\"},\"spec\":{\"securityContext\":{"
                      "\"seccompProfile\":{\"type\":\"RuntimeDefault\"},\"runAsUser\":0},"
                      "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
                      "\"runAsUser\":1000,\"capabilities\":{\"drop\":[\"ALL\"]}}}]}}";
    char *v = check_pod(VK_PODSECURITY_RESTRICTED, uid);
    /* A non-zero runAsUser does not stand in for runAsNonRoot (as upstream). */
    CHECK_EQ_STR(v, "runAsNonRoot != true (pod or container \"a\" must set "
                    "securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set runAsUser=0)");
    free(v);
}

TEST(baseline_host_access)
{
    char *v = check_pod(VK_PODSECURITY_BASELINE,
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"hostNetwork\":true,\"hostPID\":true,"
        "\"volumes\":[{\"name\":\"root\",\"hostPath\":{\"path\":\"/\"}}],"
        "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"ports\":[{\"containerPort\":80,\"hostPort\":80}],"
        "\"securityContext\":{\"privileged\":true}},{\"name\":\"b\",\"image\":\"i\","
        "\"securityContext\":{\"privileged\":true}}]}}");
    CHECK_EQ_STR(v, "host namespaces (hostNetwork=true, hostPID=true), hostPath volumes (volume "
                    "\"root\"), hostPort (container \"a\" uses hostPort 80), privileged (containers "
                    "\"a\", \"b\" must not set securityContext.privileged=true)");
    char *m = vk_podsecurity_forbidden_message(VK_PODSECURITY_BASELINE, "pods", "x", v);
    CHECK(has_prefix(m, "pods \"x\" is forbidden: violates PodSecurity \"baseline:latest\": host "
                        "namespaces (hostNetwork=true, hostPID=true), hostPath"));
    free(m);
    free(v);
    v = check_pod(VK_PODSECURITY_BASELINE,
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\","
        "\"ports\":[{\"containerPort\":8080,\"hostPort\":8080},{\"containerPort\":80,\"hostPort\":80}]},"
        "{\"name\":\"b\",\"image\":\"i\",\"ports\":[{\"containerPort\":80,\"hostPort\":80}]}]}}");
    CHECK_EQ_STR(v, "hostPort (containers \"a\", \"b\" use hostPorts 80, 8080)");
    free(v);
}

TEST(baseline_capabilities_and_more)
{
    char *v = check_pod(VK_PODSECURITY_BASELINE,
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"securityContext\":{\"sysctls\":[{\"name\":\"kernel.msgmax\",\"value\":\"1\"},"
        "{\"name\":\"net.ipv4.tcp_syncookies\",\"value\":\"1\"}],\"seccompProfile\":{\"type\":\"Unconfined\"}},"
        "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"capabilities\":"
        "{\"add\":[\"SYS_TIME\",\"CHOWN\",\"NET_ADMIN\"]},\"procMount\":\"Unmasked\"}}]}}");
    CHECK_EQ_STR(v, "non-default capabilities (container \"a\" must not include \"NET_ADMIN\", "
                    "\"SYS_TIME\" in securityContext.capabilities.add), procMount (container \"a\" "
                    "must not set securityContext.procMount to \"Unmasked\"), seccompProfile (pod "
                    "must not set securityContext.seccompProfile.type to \"Unconfined\"), forbidden "
                    "sysctls (kernel.msgmax)");
    free(v);
    v = check_pod(VK_PODSECURITY_BASELINE,
        "{\"metadata\":{\"name\":\"x\",\"annotations\":{\"container.apparmor.security.beta.kubernetes.io/a\":\"unconfined\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{"
        "\"seLinuxOptions\":{\"type\":\"spc_t\"},\"windowsOptions\":{\"hostProcess\":true}}}]}}");
    CHECK_EQ_STR(v, "forbidden AppArmor profile (annotation must not set AppArmor profile type to "
                    "\"container.apparmor.security.beta.kubernetes.io/a=\"unconfined\"\"), "
                    "seLinuxOptions (container \"a\" set forbidden securityContext.seLinuxOptions: "
                    "type \"spc_t\"), hostProcess (container \"a\" must not set "
                    "securityContext.windowsOptions.hostProcess=true)");
    free(v);
    /* Allowed baseline values pass. */
    CHECK(check_pod(VK_PODSECURITY_BASELINE,
                    "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"securityContext\":{\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},"
                    "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"capabilities\":{\"add\":[\"CHOWN\",\"NET_BIND_SERVICE\"]},"
                    "\"seLinuxOptions\":{\"type\":\"container_t\",\"level\":\"s0:c1\"},\"privileged\":false}}]}}") == NULL);
}

TEST(restricted_volumes_and_explicit)
{
    char *v = check_pod(VK_PODSECURITY_RESTRICTED,
        "{\"metadata\":{\"name\":\"x\"},\"spec\":{\"securityContext\":{\"runAsNonRoot\":false,"
        "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}},"
        "\"volumes\":[{\"name\":\"n\",\"nfs\":{\"server\":\"s\",\"path\":\"/\"}},{\"name\":\"e\",\"emptyDir\":{}},"
        "{\"name\":\"g\",\"gitRepo\":{\"repository\":\"r\"}}],"
        "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
        "\"capabilities\":{\"drop\":[\"ALL\"],\"add\":[\"NET_RAW\"]},\"seccompProfile\":{\"type\":\"Unconfined\"}}}]}}");
    CHECK_EQ_STR(v, "unrestricted capabilities (container \"a\" must not include \"NET_RAW\" in "
                    "securityContext.capabilities.add), restricted volume types (volumes \"n\", "
                    "\"g\" use restricted volume types \"gitRepo\", \"nfs\"), runAsNonRoot != true "
                    "(pod must not set securityContext.runAsNonRoot=false), seccompProfile (container "
                    "\"a\" must not set securityContext.seccompProfile.type to \"Unconfined\")");
    free(v);
}

TEST(workload_templates)
{
    json_t *d = parse("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"hostIPC\":true,"
                      "\"containers\":[{\"name\":\"a\",\"image\":\"i\"}]}}}}");
    char *v = vk_podsecurity_check_object(VK_PODSECURITY_BASELINE, "apps", "Deployment", d);
    CHECK_EQ_STR(v, "host namespaces (hostIPC=true)");
    free(v);
    json_decref(d);
    json_t *cj = parse("{\"metadata\":{\"name\":\"c\"},\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{"
                       "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"securityContext\":{\"privileged\":true}}]}}}}}}");
    v = vk_podsecurity_check_object(VK_PODSECURITY_BASELINE, "batch", "CronJob", cj);
    CHECK_EQ_STR(v, "privileged (container \"a\" must not set securityContext.privileged=true)");
    free(v);
    json_decref(cj);
    json_t *cm = parse("{\"metadata\":{\"name\":\"c\"},\"data\":{}}");
    CHECK(vk_podsecurity_check_object(VK_PODSECURITY_RESTRICTED, "", "ConfigMap", cm) == NULL);
    json_decref(cm);
}

TEST(levels)
{
    vk_podsecurity_level_t l;
    CHECK_EQ_INT(vk_podsecurity_parse_level("restricted", &l), 0);
    CHECK_EQ_INT(l, VK_PODSECURITY_RESTRICTED);
    CHECK_EQ_INT(vk_podsecurity_parse_level("strict", &l), VK_EINVALID);
    CHECK_EQ_STR(vk_podsecurity_level_name(VK_PODSECURITY_BASELINE), "baseline");
    json_t *ns = parse("{\"metadata\":{\"name\":\"n\",\"labels\":{\"pod-security.kubernetes.io/enforce\":\"restricted\"}}}");
    CHECK_EQ_INT(vk_podsecurity_namespace_level(ns, VK_PODSECURITY_BASELINE), VK_PODSECURITY_RESTRICTED);
    json_object_set_new(json_object_get(json_object_get(ns, "metadata"), "labels"),
                        "pod-security.kubernetes.io/enforce", json_string("privileged"));
    /* A namespace label cannot weaken the tenant's floor. */
    CHECK_EQ_INT(vk_podsecurity_namespace_level(ns, VK_PODSECURITY_BASELINE), VK_PODSECURITY_BASELINE);
    CHECK_EQ_INT(vk_podsecurity_namespace_level(NULL, VK_PODSECURITY_RESTRICTED), VK_PODSECURITY_RESTRICTED);
    json_decref(ns);
}

int main(void)
{
    RUN(plain_pod);
    RUN(restricted_compliant);
    RUN(baseline_host_access);
    RUN(baseline_capabilities_and_more);
    RUN(restricted_volumes_and_explicit);
    RUN(workload_templates);
    RUN(levels);
    TEST_EXIT();
}
