/* Unit tests for proxy/defaults and proxy/validate: defaults and field errors
 * as kube-apiserver produces them for everyday objects. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "proxy/defaults.h"
#include "proxy/validate.h"
#include "tests/test.h"

static json_t *parse(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fprintf(stderr, "bad test json: %s: %s\n", e.text, s);
    return j;
}

/* Defaults then validates; returns the causes array (caller decrefs). */
static json_t *check(const char *group, const char *kind, json_t *obj, json_t *old, int *rc)
{
    vk_defaults_apply(group, "v1", kind, obj);
    json_t *causes = json_array();
    *rc = vk_validate_object(group, kind, obj, old, causes);
    return causes;
}

/* Member `what` of the first cause about field, or NULL. */
static const char *cause_member(const json_t *causes, const char *field, const char *what)
{
    size_t i;
    json_t *c;
    json_array_foreach(causes, i, c)
    {
        if (!strcmp(json_string_value(json_object_get(c, "field")), field))
            return json_string_value(json_object_get(c, what));
    }
    return NULL;
}

static const char *msg_for(const json_t *causes, const char *field)
{
    return cause_member(causes, field, "message");
}

static const char *reason_for(const json_t *causes, const char *field)
{
    return cause_member(causes, field, "reason");
}

static const char *sget(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    return json_is_string(cur) ? json_string_value(cur) : NULL;
}

static long long iget(const json_t *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok && cur; tok = strtok(NULL, ".")) {
        if (json_is_array(cur))
            cur = json_array_get(cur, (size_t)atoi(tok));
        else
            cur = json_object_get(cur, tok);
    }
    if (json_is_true(cur))
        return 1;
    if (json_is_false(cur))
        return 0;
    return json_is_integer(cur) ? json_integer_value(cur) : -999;
}

TEST(pod_missing_image_message)
{
    json_t *pod = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}");
    int rc;
    json_t *causes = check("", "Pod", pod, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK_EQ_INT(json_array_size(causes), 1);
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].image"), "Required value");
    CHECK_EQ_STR(reason_for(causes, "spec.containers[0].image"), "FieldValueRequired");
    char *m = vk_validate_message("", "Pod", "x", causes);
    CHECK_EQ_STR(m, "Pod \"x\" is invalid: spec.containers[0].image: Required value");
    free(m);
    json_decref(causes);
    json_decref(pod);
}

TEST(pod_defaults)
{
    json_t *pod = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"default\"},\"spec\":{"
                        "\"containers\":[{\"name\":\"a\",\"image\":\"nginx\",\"ports\":[{\"containerPort\":80}],"
                        "\"resources\":{\"limits\":{\"cpu\":\"1\"}},"
                        "\"livenessProbe\":{\"httpGet\":{\"port\":80}}},"
                        "{\"name\":\"b\",\"image\":\"nginx:1.25\"},"
                        "{\"name\":\"c\",\"image\":\"reg:5000/app:latest\"},"
                        "{\"name\":\"d\",\"image\":\"reg:5000/app\"},"
                        "{\"name\":\"e\",\"image\":\"app@sha256:abcd\"}],"
                        "\"volumes\":[{\"name\":\"v\"},{\"name\":\"s\",\"secret\":{\"secretName\":\"s\"}}]}}");
    int rc;
    json_t *causes = check("", "Pod", pod, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    json_t *spec = json_object_get(pod, "spec");
    CHECK_EQ_STR(sget(spec, "restartPolicy"), "Always");
    CHECK_EQ_STR(sget(spec, "dnsPolicy"), "ClusterFirst");
    CHECK_EQ_STR(sget(spec, "schedulerName"), "default-scheduler");
    CHECK_EQ_INT(iget(spec, "terminationGracePeriodSeconds"), 30);
    CHECK_EQ_INT(iget(spec, "enableServiceLinks"), 1);
    CHECK(json_is_object(json_object_get(spec, "securityContext")));
    CHECK_EQ_STR(sget(spec, "containers.0.imagePullPolicy"), "Always");
    CHECK_EQ_STR(sget(spec, "containers.1.imagePullPolicy"), "IfNotPresent");
    CHECK_EQ_STR(sget(spec, "containers.2.imagePullPolicy"), "Always");
    CHECK_EQ_STR(sget(spec, "containers.3.imagePullPolicy"), "Always");
    CHECK_EQ_STR(sget(spec, "containers.4.imagePullPolicy"), "IfNotPresent");
    CHECK_EQ_STR(sget(spec, "containers.0.terminationMessagePath"), "/dev/termination-log");
    CHECK_EQ_STR(sget(spec, "containers.0.terminationMessagePolicy"), "File");
    CHECK_EQ_STR(sget(spec, "containers.0.ports.0.protocol"), "TCP");
    CHECK_EQ_STR(sget(spec, "containers.0.resources.requests.cpu"), "1");
    CHECK(json_is_object(json_object_get(json_array_get(json_object_get(spec, "containers"), 1),
                                         "resources")));
    CHECK_EQ_INT(iget(spec, "containers.0.livenessProbe.periodSeconds"), 10);
    CHECK_EQ_STR(sget(spec, "containers.0.livenessProbe.httpGet.scheme"), "HTTP");
    CHECK_EQ_STR(sget(spec, "containers.0.livenessProbe.httpGet.path"), "/");
    CHECK(json_is_object(json_object_get(json_array_get(json_object_get(spec, "volumes"), 0),
                                         "emptyDir")));
    CHECK_EQ_INT(iget(spec, "volumes.1.secret.defaultMode"), 420);
    vk_defaults_pod_admission(pod);
    CHECK_EQ_STR(sget(spec, "serviceAccountName"), "default");
    CHECK_EQ_STR(sget(spec, "serviceAccount"), "default");
    CHECK_EQ_INT(iget(spec, "priority"), 0);
    CHECK_EQ_STR(sget(spec, "tolerations.0.key"), "node.kubernetes.io/not-ready");
    CHECK_EQ_INT(iget(spec, "tolerations.1.tolerationSeconds"), 300);
    vk_defaults_pod_token_volume(pod, "abcde", 1);
    CHECK_EQ_STR(sget(spec, "volumes.2.name"), "kube-api-access-abcde");
    CHECK_EQ_INT(iget(spec, "volumes.2.projected.sources.0.serviceAccountToken.expirationSeconds"), 3607);
    CHECK_EQ_STR(sget(spec, "volumes.2.projected.sources.1.configMap.name"), "kube-root-ca.crt");
    CHECK_EQ_STR(sget(spec, "containers.4.volumeMounts.0.mountPath"),
                 "/var/run/secrets/kubernetes.io/serviceaccount");
    CHECK_EQ_INT(iget(spec, "containers.4.volumeMounts.0.readOnly"), 1);
    /* Once mounted, or with automount off, nothing more is added. */
    vk_defaults_pod_token_volume(pod, "fghij", 1);
    vk_defaults_pod_token_volume(pod, "fghij", 0);
    CHECK_EQ_INT(json_array_size(json_object_get(spec, "volumes")), 3);
    json_decref(causes);
    json_decref(pod);
}

TEST(names_and_labels)
{
    json_t *cm = parse("{\"metadata\":{\"name\":\"Foo_bar\",\"namespace\":\"default\","
                       "\"labels\":{\"a/b/c\":\"ok\",\"good\":\"bad value\"}}}");
    int rc;
    json_t *causes = check("", "ConfigMap", cm, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK_EQ_STR(msg_for(causes, "metadata.name"),
                 "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower "
                 "case alphanumeric characters, '-' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'example.com', regex used for validation is "
                 "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    size_t labels = 0, i;
    json_t *c;
    json_array_foreach(causes, i, c) if (!strcmp(json_string_value(json_object_get(c, "field")),
                                                "metadata.labels")) labels++;
    CHECK_EQ_INT(labels, 2);
    char *m = vk_validate_message("", "ConfigMap", "Foo_bar", causes);
    CHECK(strncmp(m, "ConfigMap \"Foo_bar\" is invalid: [metadata.name: Invalid value", 60) == 0);
    CHECK(strstr(m, "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty "
                    "string") != NULL);
    CHECK(strstr(m, "metadata.labels: Invalid value: \"a/b/c\": a valid label key must consist") !=
          NULL);
    CHECK(m[strlen(m) - 1] == ']');
    free(m);
    json_decref(causes);
    json_decref(cm);

    /* Namespaces are DNS labels; Services DNS-1035; generateName may end in '-'. */
    json_t *ns = parse("{\"metadata\":{\"name\":\"a.b\"}}");
    causes = check("", "Namespace", ns, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK_EQ_STR(msg_for(causes, "metadata.name"), "Invalid value: \"a.b\": must not contain dots");
    CHECK_EQ_STR(sget(ns, "spec.finalizers.0"), "kubernetes");
    json_decref(causes);
    json_decref(ns);
    json_t *svc = parse("{\"metadata\":{\"name\":\"Abc\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
    causes = check("", "Service", svc, NULL, &rc);
    CHECK(msg_for(causes, "metadata.name") &&
          strstr(msg_for(causes, "metadata.name"), "a lowercase RFC 1123 label must consist") != NULL);
    json_decref(causes);
    json_decref(svc);
    /* kube-apiserver 1.36 accepts Service names that start with a digit. */
    svc = parse("{\"metadata\":{\"name\":\"1abc\",\"namespace\":\"d\"},\"spec\":{\"ports\":[{\"port\":80}]}}");
    causes = check("", "Service", svc, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    json_decref(causes);
    json_decref(svc);
    json_t *gen = parse("{\"metadata\":{\"generateName\":\"web-\",\"namespace\":\"d\"}}");
    causes = check("", "ConfigMap", gen, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    json_decref(causes);
    json_decref(gen);
    json_t *none = parse("{\"metadata\":{\"namespace\":\"d\"}}");
    causes = check("", "ConfigMap", none, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "metadata.name"), "Required value: name or generateName is required");
    json_decref(causes);
    json_decref(none);
}

TEST(annotations_too_long)
{
    json_t *cm = parse("{\"metadata\":{\"name\":\"a\",\"namespace\":\"d\",\"annotations\":{}}}");
    char *big = malloc(300000);
    memset(big, 'x', 299999);
    big[299999] = 0;
    json_object_set_new(json_object_get(json_object_get(cm, "metadata"), "annotations"), "k",
                        json_string(big));
    free(big);
    int rc;
    json_t *causes = check("", "ConfigMap", cm, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "metadata.annotations"), "Too long: may not be more than 262144 bytes");
    CHECK_EQ_STR(reason_for(causes, "metadata.annotations"), "FieldValueTooLong");
    json_decref(causes);
    json_decref(cm);
}

TEST(pod_spec_errors)
{
    json_t *pod = parse(
        "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\"},\"spec\":{\"restartPolicy\":\"Sometimes\","
        "\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"ports\":[{\"containerPort\":70000,"
        "\"protocol\":\"FOO\"}],\"volumeMounts\":[{\"name\":\"nope\",\"mountPath\":\"/d\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"2\"},\"limits\":{\"cpu\":\"500m\"}}},"
        "{\"name\":\"a\",\"image\":\"i\",\"imagePullPolicy\":\"Sometimes\"}],"
        "\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}},{\"name\":\"v\",\"emptyDir\":{}}]}}");
    int rc;
    json_t *causes = check("", "Pod", pod, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK_EQ_STR(msg_for(causes, "spec.restartPolicy"),
                 "Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].ports[0].containerPort"),
                 "Invalid value: 70000: must be between 1 and 65535, inclusive");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].ports[0].protocol"),
                 "Unsupported value: \"FOO\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].volumeMounts[0].name"), "Not found: \"nope\"");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].resources.requests"),
                 "Invalid value: \"2\": must be less than or equal to cpu limit of 500m");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[1].name"), "Duplicate value: \"a\"");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[1].imagePullPolicy"),
                 "Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"");
    CHECK_EQ_STR(msg_for(causes, "spec.volumes[1].name"), "Duplicate value: \"v\"");
    json_decref(causes);
    json_decref(pod);

    json_t *empty = parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\"},\"spec\":{}}");
    causes = check("", "Pod", empty, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.containers"), "Required value");
    json_decref(causes);
    json_decref(empty);
}

TEST(pod_update_immutability)
{
    const char *base = "{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\",\"uid\":\"u1\","
                       "\"creationTimestamp\":\"2024-01-01T00:00:00Z\"},"
                       "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"a\",\"image\":\"nginx:1\"}]}}";
    json_t *old = parse(base);
    vk_defaults_apply("", "v1", "Pod", old);
    /* An image change and added tolerations are allowed. */
    json_t *upd = parse(base);
    json_object_set_new(json_array_get(json_object_get(json_object_get(upd, "spec"), "containers"), 0),
                        "image", json_string("nginx:2"));
    json_object_set_new(json_object_get(upd, "spec"), "tolerations",
                        parse("[{\"key\":\"k\",\"operator\":\"Exists\"}]"));
    int rc;
    json_t *causes = check("", "Pod", upd, old, &rc);
    CHECK_EQ_INT(rc, 0);
    json_decref(causes);
    json_decref(upd);
    /* Moving it to another node is not. */
    upd = parse(base);
    json_object_set_new(json_object_get(upd, "spec"), "nodeName", json_string("n2"));
    causes = check("", "Pod", upd, old, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    const char *m = msg_for(causes, "spec");
    const char *want = "Forbidden: pod updates may not change fields other than "
                       "`spec.containers[*].image`,`spec.initContainers[*].image`,"
                       "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
                       "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it "
                       "to be set to 1 if it was previously negative)\n";
    CHECK(m && strncmp(m, want, strlen(want)) == 0);
    CHECK(m && strstr(m, "spec.nodeName: \"n1\" -> \"n2\"") != NULL);
    json_decref(causes);
    json_decref(upd);
    /* Metadata immutables. */
    upd = parse(base);
    json_object_set_new(json_object_get(upd, "metadata"), "uid", json_string("u2"));
    json_object_set_new(json_object_get(upd, "metadata"), "name", json_string("y"));
    causes = check("", "Pod", upd, old, &rc);
    CHECK_EQ_STR(msg_for(causes, "metadata.uid"), "Invalid value: \"u2\": field is immutable");
    CHECK_EQ_STR(msg_for(causes, "metadata.name"), "Invalid value: \"y\": field is immutable");
    json_decref(causes);
    json_decref(upd);
    upd = parse(base);
    json_object_set_new(json_object_get(upd, "metadata"), "creationTimestamp",
                        json_string("2025-01-01T00:00:00Z"));
    causes = check("", "Pod", upd, old, &rc);
    CHECK_EQ_STR(msg_for(causes, "metadata.creationTimestamp"),
                 "Invalid value: \"2025-01-01T00:00:00Z\": field is immutable");
    json_decref(causes);
    json_decref(upd);
    json_decref(old);
}

TEST(service_rules)
{
    json_t *svc = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{"
                        "\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
    int rc;
    json_t *causes = check("", "Service", svc, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(sget(svc, "spec.type"), "ClusterIP");
    CHECK_EQ_STR(sget(svc, "spec.sessionAffinity"), "None");
    CHECK_EQ_STR(sget(svc, "spec.ports.0.protocol"), "TCP");
    CHECK_EQ_INT(iget(svc, "spec.ports.0.targetPort"), 80);
    CHECK_EQ_STR(sget(svc, "spec.internalTrafficPolicy"), "Cluster");
    json_decref(causes);

    json_t *noports = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{}}");
    causes = check("", "Service", noports, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.ports"), "Required value");
    json_decref(causes);
    json_decref(noports);
    json_t *headless = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"clusterIP\":\"None\"}}");
    causes = check("", "Service", headless, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    json_decref(causes);
    json_decref(headless);
    json_t *ext = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"type\":\"ExternalName\"}}");
    causes = check("", "Service", ext, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.externalName"), "Required value");
    CHECK(!msg_for(causes, "spec.ports"));
    json_decref(causes);
    json_decref(ext);
    json_t *bad = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{\"type\":\"Foo\","
                        "\"ports\":[{\"port\":0},{\"name\":\"b\",\"port\":81}]}}");
    causes = check("", "Service", bad, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.ports[0].name"), "Required value");
    CHECK_EQ_STR(msg_for(causes, "spec.ports[0].port"), "Invalid value: 0: must be between 1 and 65535, inclusive");
    CHECK_EQ_STR(msg_for(causes, "spec.type"),
                 "Unsupported value: \"Foo\": supported values: \"ClusterIP\", \"ExternalName\", "
                 "\"LoadBalancer\", \"NodePort\"");
    json_decref(causes);
    json_decref(bad);

    /* clusterIP is kept on a PUT that omits it, and cannot change. */
    json_object_set_new(json_object_get(svc, "spec"), "clusterIP", json_string("10.96.0.10"));
    json_object_set_new(json_object_get(svc, "spec"), "clusterIPs", parse("[\"10.96.0.10\"]"));
    json_t *put = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"d\"},\"spec\":{"
                        "\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
    vk_defaults_apply("", "v1", "Service", put);
    vk_defaults_keep_allocated("", "Service", put, svc);
    CHECK_EQ_STR(sget(put, "spec.clusterIP"), "10.96.0.10");
    causes = check("", "Service", put, svc, &rc);
    CHECK_EQ_INT(rc, 0);
    json_decref(causes);
    json_object_set_new(json_object_get(put, "spec"), "clusterIP", json_string("10.96.0.11"));
    json_object_set_new(json_object_get(put, "spec"), "clusterIPs", parse("[\"10.96.0.11\"]"));
    causes = check("", "Service", put, svc, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.clusterIPs[0]"),
                 "Invalid value: [\"10.96.0.11\"]: may not change once set");
    json_decref(causes);
    json_decref(put);
    json_decref(svc);
}

TEST(configmap_secret)
{
    json_t *cm = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"data\":{\"a b\":\"x\",\"..x\":\"y\"}}");
    int rc;
    json_t *causes = check("", "ConfigMap", cm, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "data[a b]"),
                 "Invalid value: \"a b\": a valid config key must consist of alphanumeric "
                 "characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', "
                 "regex used for validation is '[-._a-zA-Z0-9]+')");
    CHECK_EQ_STR(msg_for(causes, "data[..x]"), "Invalid value: \"..x\": must not start with '..'");
    json_decref(causes);
    json_decref(cm);

    json_t *big = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"data\":{}}");
    char *v = malloc(1048577 + 1);
    memset(v, 'a', 1048577);
    v[1048577] = 0;
    json_object_set_new(json_object_get(big, "data"), "k", json_string(v));
    free(v);
    causes = check("", "ConfigMap", big, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, ""), "Too long: may not be more than 1048576 bytes");
    char *m = vk_validate_message("", "ConfigMap", "c", causes);
    CHECK_EQ_STR(m, "ConfigMap \"c\" is invalid: : Too long: may not be more than 1048576 bytes");
    free(m);
    json_decref(causes);
    json_decref(big);

    json_t *old = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"immutable\":true,\"data\":{\"a\":\"1\"}}");
    json_t *upd = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"immutable\":true,\"data\":{\"a\":\"2\"}}");
    causes = check("", "ConfigMap", upd, old, &rc);
    CHECK_EQ_STR(msg_for(causes, "data"), "Forbidden: field is immutable when `immutable` is set");
    json_decref(causes);
    json_decref(upd);
    json_decref(old);

    json_t *sec = parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"data\":{\"a\":\"eA==\"}}");
    causes = check("", "Secret", sec, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(sget(sec, "type"), "Opaque");
    json_decref(causes);
    json_t *tls = parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"d\"},\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"eA==\"}}");
    causes = check("", "Secret", tls, sec, &rc);
    CHECK_EQ_STR(msg_for(causes, "data[tls.key]"), "Required value");
    CHECK_EQ_STR(msg_for(causes, "type"), "Invalid value: \"kubernetes.io/tls\": field is immutable");
    json_decref(causes);
    json_decref(tls);
    json_decref(sec);
}

TEST(deployment_rules)
{
    json_t *d = parse("{\"metadata\":{\"name\":\"d\",\"namespace\":\"n\"},\"spec\":{"
                      "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"y\"}},"
                      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    int rc;
    json_t *causes = check("apps", "Deployment", d, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    char *m = vk_validate_message("apps", "Deployment", "d", causes);
    CHECK_EQ_STR(m, "Deployment.apps \"d\" is invalid: spec.template.metadata.labels: Invalid "
                    "value: {\"app\":\"y\"}: `selector` does not match template `labels`");
    free(m);
    CHECK_EQ_INT(iget(d, "spec.replicas"), 1);
    CHECK_EQ_STR(sget(d, "spec.strategy.type"), "RollingUpdate");
    CHECK_EQ_STR(sget(d, "spec.strategy.rollingUpdate.maxSurge"), "25%");
    CHECK_EQ_STR(sget(d, "spec.strategy.rollingUpdate.maxUnavailable"), "25%");
    CHECK_EQ_INT(iget(d, "spec.revisionHistoryLimit"), 10);
    CHECK_EQ_INT(iget(d, "spec.progressDeadlineSeconds"), 600);
    CHECK_EQ_STR(sget(d, "spec.template.spec.restartPolicy"), "Always");
    json_decref(causes);
    json_decref(d);

    json_t *nosel = parse("{\"metadata\":{\"name\":\"d\",\"namespace\":\"n\"},\"spec\":{"
                          "\"strategy\":{\"type\":\"Recreate\",\"rollingUpdate\":{}},"
                          "\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    causes = check("apps", "Deployment", nosel, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.selector"), "Required value");
    CHECK_EQ_STR(msg_for(causes, "spec.template.spec.restartPolicy"),
                 "Unsupported value: \"Never\": supported values: \"Always\"");
    CHECK_EQ_STR(msg_for(causes, "spec.strategy.rollingUpdate"),
                 "Forbidden: may not be specified when strategy `type` is 'Recreate'");
    json_decref(causes);
    json_decref(nosel);

    /* Selector is immutable. */
    json_t *old = parse("{\"metadata\":{\"name\":\"d\",\"namespace\":\"n\"},\"spec\":{"
                        "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\",\"v\":\"2\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    json_t *upd = json_deep_copy(old);
    json_object_set_new(json_object_get(json_object_get(upd, "spec"), "selector"), "matchLabels",
                        parse("{\"app\":\"x\",\"v\":\"2\"}"));
    causes = check("apps", "Deployment", upd, old, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.selector"),
                 "Invalid value: {\"matchLabels\":{\"app\":\"x\",\"v\":\"2\"}}: field is immutable");
    json_decref(causes);
    json_decref(upd);
    json_decref(old);
}

TEST(statefulset_daemonset)
{
    json_t *ss = parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"spec\":{\"serviceName\":\"s\","
                       "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    int rc;
    json_t *causes = check("apps", "StatefulSet", ss, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(sget(ss, "spec.podManagementPolicy"), "OrderedReady");
    CHECK_EQ_INT(iget(ss, "spec.updateStrategy.rollingUpdate.partition"), 0);
    CHECK_EQ_STR(sget(ss, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "Retain");
    json_decref(causes);
    json_t *upd = json_deep_copy(ss);
    json_object_set_new(json_object_get(upd, "spec"), "serviceName", json_string("t"));
    json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(3));
    causes = check("apps", "StatefulSet", upd, ss, &rc);
    CHECK(msg_for(causes, "spec") &&
          strstr(msg_for(causes, "spec"), "Forbidden: updates to statefulset spec for fields "
                                          "other than 'replicas', 'ordinals', 'template'") != NULL);
    json_decref(causes);
    json_decref(upd);
    json_decref(ss);

    /* Mounts may name a volumeClaimTemplate; other unknown volumes are still refused. */
    json_t *pvc = parse("{\"metadata\":{\"name\":\"db\",\"namespace\":\"n\"},\"spec\":{\"serviceName\":\"db\","
                        "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                        "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"data\"},\"spec\":{"
                        "\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}],"
                        "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
                        "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"volumeMounts\":["
                        "{\"name\":\"data\",\"mountPath\":\"/d\"}]}]}}}}");
    causes = check("apps", "StatefulSet", pvc, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(!json_object_get(json_object_get(json_object_get(json_object_get(pvc, "spec"), "template"), "spec"), "volumes"));
    json_decref(causes);
    json_t *bad = json_deep_copy(pvc);
    json_object_set_new(json_object_get(bad, "spec"), "volumeClaimTemplates", json_array());
    causes = check("apps", "StatefulSet", bad, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK(msg_for(causes, "spec.template.spec.containers[0].volumeMounts[0].name") != NULL);
    json_decref(causes);
    json_decref(bad);
    json_decref(pvc);

    json_t *ds = parse("{\"metadata\":{\"name\":\"s\",\"namespace\":\"n\"},\"spec\":{"
                       "\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
                       "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    causes = check("apps", "DaemonSet", ds, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(iget(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"), 1);
    CHECK_EQ_INT(iget(ds, "spec.updateStrategy.rollingUpdate.maxSurge"), 0);
    json_decref(causes);
    json_decref(ds);
}

TEST(job_and_cronjob)
{
    json_t *job = parse("{\"metadata\":{\"name\":\"j\",\"namespace\":\"n\",\"uid\":\"u-1\"},\"spec\":{"
                        "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    int rc;
    json_t *causes = check("batch", "Job", job, NULL, &rc);
    CHECK_EQ_INT(rc, VK_EINVALID);
    CHECK_EQ_INT(json_array_size(causes), 1);
    CHECK_EQ_STR(msg_for(causes, "spec.template.spec.restartPolicy"),
                 "Required value: valid values: \"OnFailure\", \"Never\"");
    CHECK_EQ_INT(iget(job, "spec.completions"), 1);
    CHECK_EQ_INT(iget(job, "spec.parallelism"), 1);
    CHECK_EQ_INT(iget(job, "spec.backoffLimit"), 6);
    CHECK_EQ_STR(sget(job, "spec.completionMode"), "NonIndexed");
    CHECK_EQ_INT(iget(job, "spec.suspend"), 0);
    CHECK_EQ_INT(iget(job, "spec.manualSelector"), 0);
    CHECK_EQ_STR(sget(job, "spec.podReplacementPolicy"), "TerminatingOrFailed");
    json_t *ml = json_object_get(json_object_get(json_object_get(job, "spec"), "selector"), "matchLabels");
    CHECK_EQ_STR(json_string_value(json_object_get(ml, "batch.kubernetes.io/controller-uid")), "u-1");
    json_t *tl = json_object_get(json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "metadata"), "labels");
    CHECK_EQ_STR(json_string_value(json_object_get(tl, "job-name")), "j");
    json_decref(causes);
    json_decref(job);

    json_t *cj = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"n\"},\"spec\":{\"schedule\":\"*/5 * * * *\","
                       "\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"OnFailure\","
                       "\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}}}");
    causes = check("batch", "CronJob", cj, NULL, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_STR(sget(cj, "spec.concurrencyPolicy"), "Allow");
    CHECK_EQ_INT(iget(cj, "spec.successfulJobsHistoryLimit"), 3);
    CHECK_EQ_INT(iget(cj, "spec.failedJobsHistoryLimit"), 1);
    CHECK_EQ_INT(iget(cj, "spec.suspend"), 0);
    json_decref(causes);
    struct {
        const char *sched, *msg;
    } cases[] = {
        {"@daily", NULL},
        {"0 0 * * mon-fri", NULL},
        {"0 0 1,15 jan *", NULL},
        {"bad", "Invalid value: \"bad\": expected exactly 5 fields, found 1: [bad]"},
        {"61 * * * *", "Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"},
        {"* * 0 * *", "Invalid value: \"* * 0 * *\": beginning of range (0) below minimum (1): 0"},
        {"x * * * *", "Invalid value: \"x * * * *\": failed to parse int from x: strconv.Atoi: "
                      "parsing \"x\": invalid syntax"},
        {"@often", "Invalid value: \"@often\": unrecognized descriptor: @often"},
        {"@every 1h30m", NULL},
        {"@every 5x", "Invalid value: \"@every 5x\": failed to parse duration @every 5x: time: "
                      "unknown unit \"x\" in duration \"5x\""},
        {"1-2-3 * * * *", "Invalid value: \"1-2-3 * * * *\": too many hyphens: 1-2-3"},
        {"*/0 * * * *", "Invalid value: \"*/0 * * * *\": step of range should be a positive number: */0"},
        {"5-1 * * * *", "Invalid value: \"5-1 * * * *\": beginning of range (5) beyond end of range (1): 5-1"},
        {"* * * * 7", "Invalid value: \"* * * * 7\": end of range (7) above maximum (6): 7"},
        {"TZ=UTC 0 * * * *", "Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in "
                             "schedule, use timeZone field instead"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_object_set_new(json_object_get(cj, "spec"), "schedule", json_string(cases[i].sched));
        causes = check("batch", "CronJob", cj, NULL, &rc);
        if (cases[i].msg)
            CHECK_EQ_STR(msg_for(causes, "spec.schedule"), cases[i].msg);
        else
            CHECK_EQ_INT(rc, 0);
        json_decref(causes);
    }
    json_decref(cj);
}

TEST(rbac_rules)
{
    json_t *role = parse("{\"metadata\":{\"name\":\"r\",\"namespace\":\"n\"},\"rules\":["
                         "{\"resources\":[\"pods\"]},{\"verbs\":[\"get\"],\"nonResourceURLs\":[\"/x\"]}]}");
    int rc;
    json_t *causes = check("rbac.authorization.k8s.io", "Role", role, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "rules[0].verbs"), "Required value: verbs must contain at least one value");
    CHECK_EQ_STR(msg_for(causes, "rules[0].apiGroups"),
                 "Required value: resource rules must supply at least one api group");
    CHECK_EQ_STR(msg_for(causes, "rules[1].nonResourceURLs"),
                 "Invalid value: [\"/x\"]: namespaced rules cannot apply to non-resource URLs");
    json_decref(causes);
    json_decref(role);
    json_t *rb = parse("{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\"},\"roleRef\":{\"kind\":\"Foo\",\"name\":\"r\"},"
                       "\"subjects\":[{\"kind\":\"User\",\"name\":\"bob\"}]}");
    causes = check("rbac.authorization.k8s.io", "RoleBinding", rb, NULL, &rc);
    CHECK_EQ_INT(json_array_size(causes), 1);
    CHECK_EQ_STR(msg_for(causes, "roleRef.kind"),
                 "Unsupported value: \"Foo\": supported values: \"Role\", \"ClusterRole\"");
    CHECK_EQ_STR(sget(rb, "subjects.0.apiGroup"), "rbac.authorization.k8s.io");
    json_decref(causes);
    json_decref(rb);
}

TEST(other_kinds)
{
    int rc;
    json_t *pvc = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"spec\":{\"accessModes\":[\"Bogus\"],"
                        "\"resources\":{\"requests\":{\"storage\":\"0\"}}}}");
    json_t *causes = check("", "PersistentVolumeClaim", pvc, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.accessModes"),
                 "Unsupported value: \"Bogus\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", "
                 "\"ReadWriteOnce\", \"ReadWriteOncePod\"");
    CHECK_EQ_STR(msg_for(causes, "spec.resources[storage]"), "Invalid value: \"0\": must be greater than zero");
    CHECK_EQ_STR(sget(pvc, "spec.volumeMode"), "Filesystem");
    json_decref(causes);
    json_decref(pvc);
    json_t *ing = parse("{\"metadata\":{\"name\":\"i\",\"namespace\":\"d\"},\"spec\":{\"rules\":[{\"host\":\"*.a.com\","
                        "\"http\":{\"paths\":[{\"path\":\"/\",\"backend\":{}}]}}]}}");
    causes = check("networking.k8s.io", "Ingress", ing, NULL, &rc);
    CHECK_EQ_INT(json_array_size(causes), 2);
    CHECK_EQ_STR(msg_for(causes, "spec.rules[0].http.paths[0].pathType"), "Required value: pathType must be specified");
    CHECK_EQ_STR(msg_for(causes, "spec.rules[0].http.paths[0].backend"),
                 "Invalid value: \"\": resource or service backend is required");
    json_decref(causes);
    json_decref(ing);
    json_t *pdb = parse("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},\"spec\":{\"minAvailable\":1,\"maxUnavailable\":\"150%\"}}");
    causes = check("policy", "PodDisruptionBudget", pdb, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec"),
                 "Invalid value: {\"MinAvailable\":1,\"Selector\":null,\"MaxUnavailable\":\"150%\","
                 "\"UnhealthyPodEvictionPolicy\":null}: minAvailable and maxUnavailable cannot be both set");
    CHECK_EQ_STR(msg_for(causes, "spec.maxUnavailable"), "Invalid value: \"150%\": must not be greater than 100%");
    json_decref(causes);
    json_decref(pdb);
    json_t *pod = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"d\"},\"spec\":{\"containers\":["
                        "{\"name\":\"c\",\"image\":\"i\",\"livenessProbe\":{\"periodSeconds\":5},"
                        "\"securityContext\":{\"procMount\":\"Unmasked\"},\"ports\":[{\"containerPort\":80,\"hostPort\":80}]},"
                        "{\"name\":\"d\",\"image\":\"i\",\"env\":[{\"name\":\"A\",\"valueFrom\":{}}],"
                        "\"ports\":[{\"containerPort\":81,\"hostPort\":80}]}]}}");
    causes = check("", "Pod", pod, NULL, &rc);
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].livenessProbe"), "Required value: must specify a handler type");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[0].securityContext.procMount"),
                 "Invalid value: \"Unmasked\": `hostUsers` must be false to use `Unmasked`");
    CHECK_EQ_STR(msg_for(causes, "spec.containers[1].ports[0].hostPort"), "Duplicate value: \"TCP//80\"");
    CHECK(msg_for(causes, "spec.containers[1].env[0].valueFrom") != NULL);
    json_decref(causes);
    json_decref(pod);
}

int main(void)
{
    RUN(pod_missing_image_message);
    RUN(pod_defaults);
    RUN(names_and_labels);
    RUN(annotations_too_long);
    RUN(pod_spec_errors);
    RUN(pod_update_immutability);
    RUN(service_rules);
    RUN(configmap_secret);
    RUN(deployment_rules);
    RUN(statefulset_daemonset);
    RUN(job_and_cronjob);
    RUN(rbac_rules);
    RUN(other_kinds);
    TEST_EXIT();
}
