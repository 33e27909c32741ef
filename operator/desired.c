/* operator/desired: what a Tenant spec wants on the host, as plain JSON
 * objects. No I/O; unit-tested in tests/operator. */
#include <string.h>

#include <openssl/evp.h>

#include "common/mem.h"
#include "operator/operator.h"

static json_t *labels_for(const vk_tenant_config_t *cfg)
{
    return json_pack("{s:s,s:s}", VK_OPERATOR_LABEL_TENANT, cfg->name, VK_OPERATOR_LABEL_MANAGED,
                     "vkube");
}

/* A new object with apiVersion, kind and metadata (name, namespace or NULL,
 * ownership labels). */
static json_t *object(const vk_tenant_config_t *cfg, const char *api_version, const char *kind,
                      const char *name, const char *ns)
{
    json_t *meta = json_pack("{s:s,s:o}", "name", name, "labels", labels_for(cfg));
    if (ns) json_object_set_new(meta, "namespace", json_string(ns));
    return json_pack("{s:s,s:s,s:o}", "apiVersion", api_version, "kind", kind, "metadata", meta);
}

static int quota_has(const vk_tenant_config_t *cfg, const char *key)
{
    return json_object_get(cfg->quota, key) != NULL;
}

static json_t *limit_range(const vk_tenant_config_t *cfg)
{
    /* Defaults so that pods without requests/limits still pass a quota on
     * requests.* / limits.* (the quota admission refuses them otherwise). */
    json_t *lim = json_pack("{s:s,s:{s:s,s:s}}", "type", "Container", "defaultRequest", "cpu",
                            "100m", "memory", "128Mi");
    if (quota_has(cfg, "limits.cpu") || quota_has(cfg, "limits.memory") ||
        quota_has(cfg, "cpu") || quota_has(cfg, "memory"))
        json_object_set_new(lim, "default", json_pack("{s:s,s:s}", "cpu", "1", "memory", "512Mi"));
    json_t *lr = object(cfg, "v1", "LimitRange", "vkube-limits", cfg->host_namespace);
    json_object_set_new(lr, "spec", json_pack("{s:[o]}", "limits", lim));
    return lr;
}

static json_t *network_policy(const vk_tenant_config_t *cfg, const char *api_host, int api_port)
{
    /* Default deny both ways; then: the tenant's own pods (this namespace),
     * cluster DNS, and the tenant's API server. */
    json_t *egress = json_pack(
        "[{s:[{s:{}}]},{s:[{s:{s:{s:s}},s:{s:{s:s}}}],s:[{s:s,s:i},{s:s,s:i}]}]", "to",
        "podSelector", "to", "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name",
        "kube-system", "podSelector", "matchLabels", "k8s-app", "kube-dns", "ports", "protocol",
        "UDP", "port", 53, "protocol", "TCP", "port", 53);
    if (api_host && api_port > 0) {
        char cidr[80];
        snprintf(cidr, sizeof cidr, "%s/32", api_host);
        json_array_append_new(egress, json_pack("{s:[{s:{s:s}}],s:[{s:s,s:i}]}", "to", "ipBlock",
                                                "cidr", cidr, "ports", "protocol", "TCP", "port",
                                                api_port));
    }
    json_t *np = object(cfg, "networking.k8s.io/v1", "NetworkPolicy", "vkube-default-deny",
                        cfg->host_namespace);
    json_object_set_new(np, "spec",
                        json_pack("{s:{},s:[s,s],s:[{s:[{s:{}}]}],s:o}", "podSelector",
                                  "policyTypes", "Ingress", "Egress", "ingress", "from",
                                  "podSelector", "egress", egress));
    return np;
}

static json_t *syncer_role(const vk_tenant_config_t *cfg)
{
    /* What the syncer does in its namespace (DESIGN.md "Syncer contract"). */
    json_t *rw = json_pack("[s,s,s,s,s,s,s,s]", "get", "list", "watch", "create", "update", "patch",
                           "delete", "deletecollection");
    json_t *rules = json_pack(
        "[{s:[s],s:[s,s,s,s,s,s,s],s:O},"
        "{s:[s],s:[s],s:[s,s]},"
        "{s:[s],s:[s,s,s],s:[s,s]},"
        "{s:[s],s:[s],s:[s,s,s]},"
        "{s:[s],s:[s],s:O}]",
        "apiGroups", "", "resources", "pods", "configmaps", "secrets", "services", "endpoints",
        "persistentvolumeclaims", "serviceaccounts", "verbs", rw,
        "apiGroups", "", "resources", "pods/log", "verbs", "get", "list",
        "apiGroups", "", "resources", "pods/exec", "pods/attach", "pods/portforward", "verbs",
        "get", "create",
        "apiGroups", "", "resources", "events", "verbs", "get", "list", "watch",
        "apiGroups", "discovery.k8s.io", "resources", "endpointslices", "verbs", rw);
    json_decref(rw);
    json_t *role = object(cfg, "rbac.authorization.k8s.io/v1", "Role", VK_OPERATOR_SYNCER,
                          cfg->host_namespace);
    json_object_set_new(role, "rules", rules);
    return role;
}

json_t *vk_operator_desired(const vk_tenant_config_t *cfg, const char *api_host, int api_port)
{
    const char *ns = cfg->host_namespace;
    json_t *out = json_array();

    json_t *nsobj = object(cfg, "v1", "Namespace", ns, NULL);
    json_t *labels = json_object_get(json_object_get(nsobj, "metadata"), "labels");
    /* Host-side Pod Security as a second line behind the tenant API server's. */
    json_object_set_new(labels, "pod-security.kubernetes.io/enforce",
                        json_string(cfg->pod_security ? cfg->pod_security : "baseline"));
    json_array_append_new(out, nsobj);

    json_t *q = object(cfg, "v1", "ResourceQuota", "vkube-quota", ns);
    json_object_set_new(q, "spec", json_pack("{s:O}", "hard", cfg->quota));
    json_array_append_new(out, q);

    json_array_append_new(out, limit_range(cfg));
    json_array_append_new(out, network_policy(cfg, api_host, api_port));
    json_array_append_new(out, object(cfg, "v1", "ServiceAccount", VK_OPERATOR_SYNCER, ns));
    /* The identity of every translated pod (syncer/translate.h): no host
     * token is mounted into tenant workloads. */
    json_t *wsa = object(cfg, "v1", "ServiceAccount", VK_OPERATOR_WORKLOAD_SA, ns);
    json_object_set_new(wsa, "automountServiceAccountToken", json_false());
    json_array_append_new(out, wsa);
    json_array_append_new(out, syncer_role(cfg));

    json_t *rb = object(cfg, "rbac.authorization.k8s.io/v1", "RoleBinding", VK_OPERATOR_SYNCER, ns);
    json_object_set_new(rb, "roleRef",
                        json_pack("{s:s,s:s,s:s}", "apiGroup", "rbac.authorization.k8s.io", "kind",
                                  "Role", "name", VK_OPERATOR_SYNCER));
    json_object_set_new(rb, "subjects",
                        json_pack("[{s:s,s:s,s:s}]", "kind", "ServiceAccount", "name",
                                  VK_OPERATOR_SYNCER, "namespace", ns));
    json_array_append_new(out, rb);

    char *crb_name = vk_xasprintf("vkube-syncer-%s", cfg->name);
    json_t *crb = object(cfg, "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", crb_name, NULL);
    free(crb_name);
    json_object_set_new(crb, "roleRef",
                        json_pack("{s:s,s:s,s:s}", "apiGroup", "rbac.authorization.k8s.io", "kind",
                                  "ClusterRole", "name", "vkube-syncer-nodes"));
    json_object_set_new(crb, "subjects",
                        json_pack("[{s:s,s:s,s:s}]", "kind", "ServiceAccount", "name",
                                  VK_OPERATOR_SYNCER, "namespace", ns));
    json_array_append_new(out, crb);
    return out;
}

json_t *vk_operator_control_plane(const vk_tenant_config_t *cfg, const char *image)
{
    const char *ns = cfg->host_namespace;
    json_t *out = json_array();
    json_t *sel = json_pack("{s:s}", "vkube.io/control-plane", cfg->name);

    /* The default-deny policy admits only the tenant's pods: let clients in. */
    json_t *np = object(cfg, "networking.k8s.io/v1", "NetworkPolicy", "vkube-api-ingress", ns);
    json_object_set_new(np, "spec", json_pack("{s:{s:O},s:[s],s:[{s:[{s:s,s:i}]}]}", "podSelector",
                                              "matchLabels", sel, "policyTypes", "Ingress",
                                              "ingress", "ports", "protocol", "TCP", "port",
                                              VK_OPERATOR_API_PORT));
    json_array_append_new(out, np);

    json_t *svc = object(cfg, "v1", "Service", VK_OPERATOR_API_NAME, ns);
    json_object_set_new(svc, "spec", json_pack("{s:O,s:[{s:s,s:s,s:i,s:i}]}", "selector", sel,
                                               "ports", "name", "https", "protocol", "TCP", "port",
                                               443, "targetPort", VK_OPERATOR_API_PORT));
    json_array_append_new(out, svc);

    /* One replica; the store on a PVC; certificates seeded from a Secret the
     * first time the volume is empty. Restricted-compliant pod. */
    char listen[32];
    snprintf(listen, sizeof listen, "0.0.0.0:%d", VK_OPERATOR_API_PORT);
    char *seed = vk_xasprintf("d=/data/%s; [ -f \"$d/listen\" ] || { mkdir -p \"$d\" && "
                              "cp /seed/* \"$d/\" && chmod 700 \"$d\" && chmod 600 \"$d\"/*; }",
                              cfg->name);
    json_t *csec = json_pack("{s:b,s:{s:[s]}}", "allowPrivilegeEscalation", 0, "capabilities",
                             "drop", "ALL");
    json_t *mounts = json_pack("[{s:s,s:s},{s:s,s:s,s:b}]", "name", "data", "mountPath", "/data",
                               "name", "seed", "mountPath", "/seed", "readOnly", 1);
    json_t *init = json_pack("{s:s,s:s,s:[s,s,s],s:O,s:O}", "name", "seed", "image", image,
                             "command", "/bin/sh", "-c", seed, "volumeMounts", mounts,
                             "securityContext", csec);
    free(seed);
    json_t *main = json_pack(
        "{s:s,s:s,s:[s,s,s,s,s,s,s],s:[{s:s,s:i}],s:{s:{s:s,s:i,s:s},s:i},s:O,s:O,"
        "s:{s:{s:s,s:s}}}",
        "name", "apiserver", "image", image, "args", "serve", "--data-dir", "/data", "--tenant",
        cfg->name, "--listen", listen, "ports", "name", "https", "containerPort",
        VK_OPERATOR_API_PORT, "readinessProbe", "httpGet", "path", "/readyz", "port",
        VK_OPERATOR_API_PORT, "scheme", "HTTPS", "periodSeconds", 5, "volumeMounts", mounts,
        "securityContext", csec, "resources", "requests", "cpu", "50m", "memory", "64Mi");
    json_t *pod = json_pack(
        "{s:{s:O},s:{s:s,s:b,s:{s:b,s:i,s:i,s:i,s:{s:s}},s:[o],s:[o],s:[{s:s,s:{s:s,s:i}}]}}",
        "metadata", "labels", sel, "spec", "serviceAccountName", VK_OPERATOR_SYNCER,
        "automountServiceAccountToken", 1, "securityContext", "runAsNonRoot", 1, "runAsUser",
        65532, "runAsGroup", 65532, "fsGroup", 65532, "seccompProfile", "type", "RuntimeDefault",
        "initContainers", init, "containers", main, "volumes", "name", "seed", "secret",
        "secretName", VK_OPERATOR_SEED_SECRET, "defaultMode", 0400);
    json_decref(mounts);
    json_decref(csec);
    json_t *sts = object(cfg, "apps/v1", "StatefulSet", VK_OPERATOR_API_NAME, ns);
    json_object_set_new(
        sts, "spec",
        json_pack("{s:i,s:s,s:{s:O},s:o,s:[{s:{s:s},s:{s:[s],s:{s:{s:s}}}}]}", "replicas", 1,
                  "serviceName", VK_OPERATOR_API_NAME, "selector", "matchLabels", sel, "template",
                  pod, "volumeClaimTemplates", "metadata", "name", "data", "spec", "accessModes",
                  "ReadWriteOnce", "resources", "requests", "storage", "1Gi"));
    json_array_append_new(out, sts);
    json_decref(sel);
    return out;
}

char *vk_operator_secret_name(const char *tenant)
{
    return vk_xasprintf("%s-kubeconfig", tenant);
}

json_t *vk_operator_kubeconfig_secret(const vk_tenant_config_t *cfg, const char *kubeconfig)
{
    size_t n = strlen(kubeconfig);
    char *b64 = vk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)kubeconfig, (int)n);
    char *name = vk_operator_secret_name(cfg->name);
    json_t *s = object(cfg, "v1", "Secret", name, cfg->host_namespace);
    free(name);
    json_object_set_new(s, "type", json_string("Opaque"));
    json_object_set_new(s, "data", json_pack("{s:s}", "kubeconfig", b64));
    free(b64);
    return s;
}

/* kind -> REST prefix and plural. */
static const struct {
    const char *api_version, *kind, *prefix, *plural;
    int namespaced;
} kinds[] = {
    {"v1", "Namespace", "/api/v1", "namespaces", 0},
    {"v1", "ResourceQuota", "/api/v1", "resourcequotas", 1},
    {"v1", "LimitRange", "/api/v1", "limitranges", 1},
    {"v1", "ServiceAccount", "/api/v1", "serviceaccounts", 1},
    {"v1", "Secret", "/api/v1", "secrets", 1},
    {"v1", "Service", "/api/v1", "services", 1},
    {"apps/v1", "StatefulSet", "/apis/apps/v1", "statefulsets", 1},
    {"networking.k8s.io/v1", "NetworkPolicy", "/apis/networking.k8s.io/v1", "networkpolicies", 1},
    {"rbac.authorization.k8s.io/v1", "Role", "/apis/rbac.authorization.k8s.io/v1", "roles", 1},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", "/apis/rbac.authorization.k8s.io/v1",
     "rolebindings", 1},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "/apis/rbac.authorization.k8s.io/v1",
     "clusterrolebindings", 0},
};

char *vk_operator_object_path(const json_t *obj)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    const json_t *meta = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(meta, "name"));
    const char *ns = json_string_value(json_object_get(meta, "namespace"));
    if (!av || !kind || !name) return NULL;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kinds[i].api_version, av) || strcmp(kinds[i].kind, kind)) continue;
        if (kinds[i].namespaced != (ns != NULL)) return NULL;
        if (ns) return vk_xasprintf("%s/namespaces/%s/%s/%s", kinds[i].prefix, ns, kinds[i].plural, name);
        return vk_xasprintf("%s/%s/%s", kinds[i].prefix, kinds[i].plural, name);
    }
    return NULL;
}

/* spec.hostNamespace, or NULL for the default ("vkube-" + name). */
static const char *tenant_ns(const json_t *t)
{
    const char *ns = json_string_value(json_object_get(json_object_get(t, "spec"), "hostNamespace"));
    return ns && *ns ? ns : NULL;
}

/* 1 if a's claim is older than b's (creationTimestamp is RFC 3339 UTC, so
 * strings compare in time order). */
static int older(const json_t *a, const json_t *b)
{
    const json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
    const char *ta = json_string_value(json_object_get(ma, "creationTimestamp"));
    const char *tb = json_string_value(json_object_get(mb, "creationTimestamp"));
    int c = strcmp(ta ? ta : "", tb ? tb : "");
    if (c) return c < 0;
    const char *na = json_string_value(json_object_get(ma, "name"));
    const char *nb = json_string_value(json_object_get(mb, "name"));
    return strcmp(na ? na : "", nb ? nb : "") < 0;
}

json_t *vk_operator_namespace_owners(const json_t *tenants)
{
    json_t *out = json_object();
    size_t n = json_array_size(tenants);
    for (size_t i = 0; i < n; i++) {
        const json_t *t = json_array_get(tenants, i);
        const char *name = json_string_value(json_object_get(json_object_get(t, "metadata"), "name"));
        if (!name) continue;
        char *ns_i = tenant_ns(t) ? vk_xstrdup(tenant_ns(t)) : vk_xasprintf("vkube-%s", name);
        const json_t *owner = t;
        for (size_t j = 0; j < n; j++) {
            const json_t *u = json_array_get(tenants, j);
            const char *un = json_string_value(json_object_get(json_object_get(u, "metadata"), "name"));
            if (u == t || !un) continue;
            char *ns_j = tenant_ns(u) ? vk_xstrdup(tenant_ns(u)) : vk_xasprintf("vkube-%s", un);
            if (!strcmp(ns_i, ns_j) && older(u, owner)) owner = u;
            free(ns_j);
        }
        free(ns_i);
        json_object_set(out, name, json_object_get(json_object_get(owner, "metadata"), "name"));
    }
    return out;
}

json_t *vk_operator_condition(const json_t *old, const char *type, int status,
                              const char *reason, const char *message, const char *now)
{
    const char *st = status ? "True" : "False";
    const char *ltt = now;
    size_t i;
    const json_t *c;
    json_array_foreach(old, i, c) {
        const char *ct = json_string_value(json_object_get(c, "type"));
        const char *cs = json_string_value(json_object_get(c, "status"));
        const char *cl = json_string_value(json_object_get(c, "lastTransitionTime"));
        if (ct && cs && cl && !strcmp(ct, type) && !strcmp(cs, st)) ltt = cl;
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "status", st, "reason", reason,
                     "message", message ? message : "", "lastTransitionTime", ltt);
}
