/* translate: tenant <-> host object translation (pure, JSON in, JSON out). */
#include "translate.h"

#include "common/err.h"
#include "common/mem.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L_MANAGED_BY "vkube.io/managed-by"
#define L_NAMESPACE "vkube.io/namespace"
#define A_NAME "vkube.io/object-name"
#define A_NAMESPACE "vkube.io/object-namespace"
#define A_UID "vkube.io/object-uid"
#define A_KIND "vkube.io/object-kind"
#define TOKEN_VOLUME "vkube-tenant-token"

/* ---- names ---- */

char *vk_translate_host_name(const char *name, const char *ns, const char *tenant)
{
    char *full = vk_xasprintf("%s-x-%s-x-%s", name, ns, tenant);
    size_t n = strlen(full);
    if (n <= 63) return full;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(full, n, md, &mdlen, EVP_sha256(), NULL);
    char *out = vk_xmalloc(64);
    memcpy(out, full, 52);
    /* A dot before the '-' would start a DNS label with '-'. */
    if (out[51] == '.') out[51] = '-';
    out[52] = '-';
    for (int i = 0; i < 5; i++) snprintf(out + 53 + 2 * i, 3, "%02x", md[i]);
    out[63] = 0;
    free(full);
    return out;
}

char *vk_translate_token_secret_name(const char *ns, const char *pod, const char *tenant)
{
    char *n = vk_xasprintf("vkube-token-%s", pod);
    char *out = vk_translate_host_name(n, ns, tenant);
    free(n);
    return out;
}

/* Is prefix (length n) "vkube.io" or "*.vkube.io"? */
static int ours_prefix(const char *p, size_t n)
{
    return (n == 8 && memcmp(p, "vkube.io", 8) == 0) ||
           (n > 9 && memcmp(p + n - 9, ".vkube.io", 9) == 0);
}

char *vk_translate_key_to_host(const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash && ours_prefix(key, (size_t)(slash - key))) return vk_xasprintf("t.%s", key);
    return vk_xstrdup(key);
}

char *vk_translate_key_to_tenant(const char *key)
{
    const char *slash = strchr(key, '/');
    if (slash && strncmp(key, "t.", 2) == 0 && ours_prefix(key + 2, (size_t)(slash - key - 2)))
        return vk_xstrdup(key + 2);
    return vk_xstrdup(key);
}

/* ---- helpers ---- */

/* A JSON string from s, which it frees. */
static json_t *str_take(char *s)
{
    json_t *j = json_string(s);
    free(s);
    return j;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Replaces o[k] (a tenant object name in ns) with its host name. */
static void rename_ref(json_t *o, const char *k, const char *ns, const char *tenant)
{
    const char *v = sget(o, k);
    if (!v || !*v) return;
    json_object_set_new(o, k, str_take(vk_translate_host_name(v, ns, tenant)));
}

/* Copies a tenant label/annotation map with keys moved out of vkube.io. */
static json_t *translate_keys(const json_t *m)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        char *hk = vk_translate_key_to_host(k);
        json_object_set(out, hk, v);
        free(hk);
    }
    return out;
}

/* Host metadata for a tenant object of kind (labels, annotations, marks). */
static int host_metadata(const vk_translate_ctx_t *ctx, const json_t *obj, const char *kind,
                         json_t **out, char *err, size_t errlen)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *name = sget(md, "name"), *ns = sget(md, "namespace"), *uid = sget(md, "uid");
    if (!name || !*name || !ns || !*ns)
        return fail(err, errlen, VK_EINVALID, "%s: metadata.name and metadata.namespace are required", kind);
    const char *tenant = ctx->tenant->name;
    json_t *labels = translate_keys(json_object_get(md, "labels"));
    json_object_set_new(labels, L_MANAGED_BY, json_string(tenant));
    /* A namespace name is a DNS label, hence always a valid label value. */
    json_object_set_new(labels, L_NAMESPACE, json_string(ns));
    json_t *ann = translate_keys(json_object_get(md, "annotations"));
    json_object_set_new(ann, A_NAME, json_string(name));
    json_object_set_new(ann, A_NAMESPACE, json_string(ns));
    json_object_set_new(ann, A_UID, json_string(uid ? uid : ""));
    json_object_set_new(ann, A_KIND, json_string(kind));
    const char *k;
    json_t *v;
    json_object_foreach(labels, k, v)
    {
        if (strlen(k) > 317 || !vk_tenant_is_qualified_name(k)) {
            json_decref(labels), json_decref(ann);
            return fail(err, errlen, VK_EINVALID, "%s %s/%s: label key %s is too long for the host",
                        kind, ns, name, k);
        }
    }
    *out = json_pack("{s:o,s:s,s:o,s:o}", "name",
                     str_take(vk_translate_host_name(name, ns, tenant)), "namespace",
                     ctx->tenant->host_namespace, "labels", labels, "annotations", ann);
    return 0;
}

/* ---- pods ---- */

/* Downward API paths that name the pod return the tenant's identity. */
static void translate_field_ref(json_t *fr)
{
    const char *p = sget(fr, "fieldPath");
    if (!p) return;
    const char *to = NULL;
    if (strcmp(p, "metadata.name") == 0) to = "metadata.annotations['" A_NAME "']";
    else if (strcmp(p, "metadata.namespace") == 0) to = "metadata.annotations['" A_NAMESPACE "']";
    else if (strcmp(p, "metadata.uid") == 0) to = "metadata.annotations['" A_UID "']";
    else if (strcmp(p, "spec.serviceAccountName") == 0) to = NULL;
    else if (strncmp(p, "metadata.labels['", 17) == 0 || strncmp(p, "metadata.annotations['", 22) == 0) {
        const char *q = strchr(p, '\'');
        const char *e = q ? strrchr(p, '\'') : NULL;
        if (q && e > q + 1) {
            char *key = vk_xstrndup(q + 1, (size_t)(e - q - 1));
            char *hk = vk_translate_key_to_host(key);
            char *np = vk_xasprintf("%.*s'%s']", (int)(q - p), p, hk);
            json_object_set_new(fr, "fieldPath", str_take(np));
            free(key), free(hk);
        }
        return;
    }
    if (to) json_object_set_new(fr, "fieldPath", json_string(to));
}

static void translate_container(json_t *c, const vk_translate_ctx_t *ctx, const char *ns,
                                int mount_token)
{
    const char *tenant = ctx->tenant->name;
    /* (Validation refuses non-object containers; never write through one.) */
    if (!json_is_object(c)) return;
    json_t *env = json_object_get(c, "env");
    int has_host = 0, has_port = 0;
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e)
    {
        const char *n = sget(e, "name");
        if (n && strcmp(n, "KUBERNETES_SERVICE_HOST") == 0) has_host = 1;
        if (n && strcmp(n, "KUBERNETES_SERVICE_PORT") == 0) has_port = 1;
        json_t *vf = json_object_get(e, "valueFrom");
        if (!vf) continue;
        rename_ref(json_object_get(vf, "configMapKeyRef"), "name", ns, tenant);
        rename_ref(json_object_get(vf, "secretKeyRef"), "name", ns, tenant);
        json_t *fr = json_object_get(vf, "fieldRef");
        if (fr) translate_field_ref(fr);
    }
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(c, "env", env);
    }
    if (!has_host && ctx->api_host)
        json_array_append_new(env, json_pack("{s:s,s:s}", "name", "KUBERNETES_SERVICE_HOST",
                                             "value", ctx->api_host));
    if (!has_port && ctx->api_port)
        json_array_append_new(env, json_pack("{s:s,s:s}", "name", "KUBERNETES_SERVICE_PORT",
                                             "value", ctx->api_port));
    json_array_foreach(json_object_get(c, "envFrom"), i, e)
    {
        rename_ref(json_object_get(e, "configMapRef"), "name", ns, tenant);
        rename_ref(json_object_get(e, "secretRef"), "name", ns, tenant);
    }
    if (mount_token) {
        json_t *mounts = json_object_get(c, "volumeMounts");
        int taken = 0;
        json_array_foreach(mounts, i, e)
        {
            const char *mp = sget(e, "mountPath");
            if (mp && strcmp(mp, VK_TRANSLATE_SA_MOUNT) == 0) taken = 1;
        }
        if (!taken) {
            if (!json_is_array(mounts)) {
                mounts = json_array();
                json_object_set_new(c, "volumeMounts", mounts);
            }
            json_array_append_new(mounts, json_pack("{s:s,s:s,s:b}", "name", TOKEN_VOLUME,
                                                    "mountPath", VK_TRANSLATE_SA_MOUNT,
                                                    "readOnly", 1));
        }
    }
}

/* A label selector (matchLabels/matchExpressions) with keys translated and
 * the tenant's marks required. */
static void translate_label_selector(json_t *sel, const vk_translate_ctx_t *ctx, const char *ns)
{
    if (!json_is_object(sel)) return;
    json_t *ml = json_object_get(sel, "matchLabels");
    json_t *nml = ml ? translate_keys(ml) : json_object();
    json_object_set_new(nml, L_MANAGED_BY, json_string(ctx->tenant->name));
    json_object_set_new(nml, L_NAMESPACE, json_string(ns));
    json_object_set_new(sel, "matchLabels", nml);
    size_t i;
    json_t *ex;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, ex)
    {
        const char *k = sget(ex, "key");
        if (k) json_object_set_new(ex, "key", str_take(vk_translate_key_to_host(k)));
    }
}

static void translate_affinity_terms(json_t *terms, const vk_translate_ctx_t *ctx, const char *ns,
                                     int weighted)
{
    size_t i;
    json_t *t;
    json_array_foreach(terms, i, t)
    {
        json_t *term = weighted ? json_object_get(t, "podAffinityTerm") : t;
        translate_label_selector(json_object_get(term, "labelSelector"), ctx, ns);
        json_object_del(term, "namespaces");
        json_object_del(term, "namespaceSelector");
        json_object_del(term, "matchLabelKeys");
        json_object_del(term, "mismatchLabelKeys");
    }
}

/* The isolation policy's tolerations plus the tenant's, minus any of the
 * tenant's that could tolerate vkube's taints (or every taint). */
static json_t *merged_tolerations(const vk_translate_ctx_t *ctx, const json_t *tenant_tols)
{
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tenant_tols, i, t)
    {
        const char *k = sget(t, "key");
        if (!k || !*k) continue; /* empty key + Exists tolerates everything */
        const char *slash = strchr(k, '/');
        if (slash && ours_prefix(k, (size_t)(slash - k))) continue;
        int policy_key = 0;
        size_t j;
        json_t *p;
        json_array_foreach(ctx->tenant->tolerations, j, p)
        {
            const char *pk = sget(p, "key");
            if (pk && strcmp(pk, k) == 0) policy_key = 1;
        }
        if (!policy_key) json_array_append(out, t);
    }
    json_array_foreach(ctx->tenant->tolerations, i, t) json_array_append(out, t);
    return out;
}

/* Rewrites one volume; 0 or an error for sources that must not reach the host. */
static int translate_volume(json_t *v, const vk_translate_ctx_t *ctx, const char *ns,
                            const char *token_secret, int *has_token_volume, char *err,
                            size_t errlen)
{
    const char *tenant = ctx->tenant->name;
    const char *vname = sget(v, "name");
    if (json_object_get(v, "hostPath"))
        return fail(err, errlen, VK_EFORBIDDEN, "volume %s: hostPath volumes are not allowed",
                    vname ? vname : "");
    rename_ref(json_object_get(v, "configMap"), "name", ns, tenant);
    rename_ref(json_object_get(v, "secret"), "secretName", ns, tenant);
    rename_ref(json_object_get(v, "persistentVolumeClaim"), "claimName", ns, tenant);
    json_t *dapi = json_object_get(v, "downwardAPI");
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(dapi, "items"), i, it)
    {
        json_t *fr = json_object_get(it, "fieldRef");
        if (fr) translate_field_ref(fr);
    }
    json_t *proj = json_object_get(v, "projected");
    json_array_foreach(json_object_get(proj, "sources"), i, it)
    {
        rename_ref(json_object_get(it, "configMap"), "name", ns, tenant);
        rename_ref(json_object_get(it, "secret"), "name", ns, tenant);
        json_t *d = json_object_get(it, "downwardAPI");
        size_t j;
        json_t *di;
        json_array_foreach(json_object_get(d, "items"), j, di)
        {
            json_t *fr = json_object_get(di, "fieldRef");
            if (fr) translate_field_ref(fr);
        }
        json_t *sat = json_object_get(it, "serviceAccountToken");
        if (sat) {
            /* A host-minted token would be a host credential: the tenant's token
             * comes from the synced token secret instead. */
            const char *path = sget(sat, "path");
            json_t *src = json_pack("{s:{s:s,s:[{s:s,s:s}]}}", "secret", "name", token_secret,
                                    "items", "key", "token", "path", path ? path : "token");
            json_array_set_new(json_object_get(proj, "sources"), i, src);
            *has_token_volume = 1;
        }
        if (json_object_get(it, "clusterTrustBundle"))
            return fail(err, errlen, VK_EINVALID,
                        "volume %s: clusterTrustBundle projections are not supported", vname ? vname : "");
    }
    static const char *const refused[] = {"csi", "flexVolume", "iscsi", "nfs", "rbd", "cephfs",
                                          "glusterfs", "gitRepo", "image", NULL};
    for (const char *const *r = refused; *r; r++)
        if (json_object_get(v, *r))
            return fail(err, errlen, VK_EINVALID, "volume %s: %s volumes are not supported",
                        vname ? vname : "", *r);
    return 0;
}

static int security_check(const json_t *spec, char *err, size_t errlen)
{
    static const char *const host_ns[] = {"hostNetwork", "hostPID", "hostIPC", NULL};
    for (const char *const *h = host_ns; *h; h++) {
        if (json_is_true(json_object_get(spec, *h)))
            return fail(err, errlen, VK_EFORBIDDEN, "spec.%s=true is not allowed", *h);
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers", NULL};
    for (const char *const *l = lists; *l; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(spec, *l), i, c)
        {
            json_t *sc = json_object_get(c, "securityContext");
            if (json_is_true(json_object_get(sc, "privileged")))
                return fail(err, errlen, VK_EFORBIDDEN,
                            "spec.%s[%zu].securityContext.privileged=true is not allowed", *l, i);
            size_t j;
            json_t *p;
            json_array_foreach(json_object_get(c, "ports"), j, p) if (json_integer_value(
                json_object_get(p, "hostPort")) != 0) return fail(err, errlen, VK_EFORBIDDEN,
                                                                  "spec.%s[%zu].ports[%zu].hostPort "
                                                                  "is not allowed",
                                                                  *l, i, j);
        }
    }
    return 0;
}

int vk_translate_pod_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_pod,
                             json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *tenant = ctx->tenant->name;
    const json_t *md = json_object_get(tenant_pod, "metadata");
    const char *name = sget(md, "name"), *ns = sget(md, "namespace");
    json_t *meta;
    int rc = host_metadata(ctx, tenant_pod, "Pod", &meta, err, errlen);
    if (rc) return rc;
    json_t *spec = json_deep_copy(json_object_get(tenant_pod, "spec"));
    if (!json_is_object(spec)) {
        json_decref(meta), json_decref(spec);
        return fail(err, errlen, VK_EINVALID, "Pod %s/%s: spec is required", ns, name);
    }
    rc = security_check(spec, err, errlen);
    if (rc) {
        json_decref(meta), json_decref(spec);
        return rc;
    }
    /* Host scheduling is the host's and the policy's: never the tenant's. */
    static const char *const dropped[] = {"nodeName", "priority", "priorityClassName",
                                          "preemptionPolicy", "schedulerName", "overhead",
                                          "runtimeClassName", "serviceAccount",
                                          "deprecatedServiceAccount", "resourceClaims", NULL};
    for (const char *const *d = dropped; *d; d++) json_object_del(spec, *d);
    json_t *nsel = json_object();
    json_t *tsel = json_object_get(spec, "nodeSelector");
    if (json_is_object(tsel)) json_object_update(nsel, tsel);
    json_object_update(nsel, ctx->tenant->node_selector);
    if (json_object_size(nsel)) json_object_set_new(spec, "nodeSelector", nsel);
    else json_object_del(spec, "nodeSelector"), json_decref(nsel);
    json_t *tols = merged_tolerations(ctx, json_object_get(spec, "tolerations"));
    if (json_array_size(tols)) json_object_set_new(spec, "tolerations", tols);
    else json_object_del(spec, "tolerations"), json_decref(tols);
    if (ctx->tenant->runtime_class)
        json_object_set_new(spec, "runtimeClassName", json_string(ctx->tenant->runtime_class));

    /* The tenant's identity: its service account token, not a host one. */
    const char *sa = sget(spec, "serviceAccountName");
    if (!sa || !*sa) sa = "default";
    char *token_secret = vk_translate_token_secret_name(ns, name, tenant);
    int automount = !json_is_false(json_object_get(spec, "automountServiceAccountToken"));
    json_object_set_new(spec, "serviceAccountName", json_string(VK_TRANSLATE_WORKLOAD_SA));
    json_object_set_new(spec, "automountServiceAccountToken", json_false());
    json_object_set_new(spec, "enableServiceLinks", json_false());
    if (!json_object_get(spec, "hostname")) {
        char host[64];
        snprintf(host, sizeof host, "%.63s", name);
        size_t hl = strlen(host);
        while (hl && (host[hl - 1] == '-' || host[hl - 1] == '.')) host[--hl] = 0;
        if (vk_tenant_is_dns_label(host)) json_object_set_new(spec, "hostname", json_string(host));
    }
    int has_token_volume = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        rc = translate_volume(v, ctx, ns, token_secret, &has_token_volume, err, errlen);
        if (rc) break;
    }
    int mount_token = 0;
    if (!rc && automount && !has_token_volume) {
        json_t *vols = json_object_get(spec, "volumes");
        if (!json_is_array(vols)) {
            vols = json_array();
            json_object_set_new(spec, "volumes", vols);
        }
        json_array_append_new(vols, json_pack("{s:s,s:{s:s,s:i}}", "name", TOKEN_VOLUME, "secret",
                                              "secretName", token_secret, "defaultMode", 0644));
        mount_token = 1;
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers", NULL};
    for (const char *const *l = lists; !rc && *l; l++) {
        json_t *c;
        json_array_foreach(json_object_get(spec, *l), i, c)
            translate_container(c, ctx, ns, mount_token);
    }
    json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, v)
        rename_ref(v, "name", ns, tenant);
    json_t *aff = json_object_get(spec, "affinity");
    static const char *const pa[] = {"podAffinity", "podAntiAffinity", NULL};
    for (const char *const *p = pa; *p; p++) {
        json_t *a = json_object_get(aff, *p);
        translate_affinity_terms(json_object_get(a, "requiredDuringSchedulingIgnoredDuringExecution"), ctx, ns, 0);
        translate_affinity_terms(json_object_get(a, "preferredDuringSchedulingIgnoredDuringExecution"), ctx, ns, 1);
    }
    json_array_foreach(json_object_get(spec, "topologySpreadConstraints"), i, v)
    {
        translate_label_selector(json_object_get(v, "labelSelector"), ctx, ns);
        json_object_del(v, "matchLabelKeys");
    }
    free(token_secret);
    if (rc) {
        json_decref(meta), json_decref(spec);
        return rc;
    }
    *out = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Pod", "metadata", meta,
                     "spec", spec);
    return 0;
}

/* ---- config objects and services ---- */

int vk_translate_config_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_obj,
                                json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *kind = sget(tenant_obj, "kind");
    if (!kind || (strcmp(kind, "ConfigMap") && strcmp(kind, "Secret")))
        return fail(err, errlen, VK_EINVALID, "expected a ConfigMap or Secret, got %s",
                    kind ? kind : "nothing");
    json_t *meta;
    int rc = host_metadata(ctx, tenant_obj, kind, &meta, err, errlen);
    if (rc) return rc;
    json_t *o = json_pack("{s:s,s:s,s:o}", "apiVersion", "v1", "kind", kind, "metadata", meta);
    static const char *const keep[] = {"data", "binaryData", "stringData", "immutable", "type", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(tenant_obj, *k);
        if (v) json_object_set(o, *k, v);
    }
    const char *type = sget(o, "type");
    if (type && strcmp(type, "kubernetes.io/service-account-token") == 0) {
        /* The host's token controller must never see (and fill or delete) it. */
        json_object_set_new(o, "type", json_string("Opaque"));
        json_t *ann = json_object_get(meta, "annotations");
        json_object_del(ann, "kubernetes.io/service-account.name");
        json_object_del(ann, "kubernetes.io/service-account.uid");
    }
    *out = o;
    return 0;
}

json_t *vk_translate_token_secret(const vk_translate_ctx_t *ctx, const char *ns, const char *pod,
                                  const char *pod_uid, const char *sa, const char *token,
                                  int64_t iat, int64_t exp, const char *ca_pem)
{
    char *name = vk_xasprintf("vkube-token-%s", pod);
    json_t *tenant_view = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Secret",
                                    "metadata", "name", name, "namespace", ns);
    json_t *meta = NULL;
    char err[128];
    host_metadata(ctx, tenant_view, "Secret", &meta, err, sizeof err);
    json_decref(tenant_view);
    free(name);
    json_t *o = json_pack("{s:s,s:s,s:o,s:s,s:{s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
                          "Secret", "metadata", meta ? meta : json_object(), "type", "Opaque",
                          "stringData", "token", token ? token : "", "ca.crt",
                          ca_pem ? ca_pem : "", "namespace", ns);
    json_t *md = json_object_get(o, "metadata");
    json_t *labels = json_object_get(md, "labels");
    if (!json_is_object(labels)) json_object_set_new(md, "labels", labels = json_object());
    json_object_set_new(labels, VK_TRANSLATE_TOKEN_FOR, json_string(sa));
    json_t *ann = json_object_get(md, "annotations");
    if (!json_is_object(ann)) json_object_set_new(md, "annotations", ann = json_object());
    char num[32];
    json_object_set_new(ann, VK_TRANSLATE_TOKEN_POD, json_string(pod));
    json_object_set_new(ann, VK_TRANSLATE_TOKEN_POD_UID, json_string(pod_uid ? pod_uid : ""));
    snprintf(num, sizeof num, "%lld", (long long)iat);
    json_object_set_new(ann, VK_TRANSLATE_TOKEN_IAT, json_string(num));
    snprintf(num, sizeof num, "%lld", (long long)exp);
    json_object_set_new(ann, VK_TRANSLATE_TOKEN_EXP, json_string(num));
    return o;
}

int vk_translate_pvc_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_pvc, json_t **out,
                             char *err, size_t errlen)
{
    *out = NULL;
    json_t *meta;
    int rc = host_metadata(ctx, tenant_pvc, "PersistentVolumeClaim", &meta, err, errlen);
    if (rc) return rc;
    const json_t *ts = json_object_get(tenant_pvc, "spec");
    json_t *spec = json_object();
    /* What the host provisioner/binder needs; the tenant's volumeName,
     * selector and data sources name tenant objects the host does not have. */
    static const char *const keep[] = {"accessModes", "resources", "storageClassName", "volumeMode",
                                       "volumeAttributesClassName", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(ts, *k);
        if (v && !json_is_null(v)) json_object_set(spec, *k, v);
    }
    *out = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "PersistentVolumeClaim",
                     "metadata", meta, "spec", spec);
    return 0;
}

json_t *vk_translate_pvc_status_to_tenant(const json_t *host_pvc, const char **volume_name)
{
    *volume_name = sget(json_object_get(host_pvc, "spec"), "volumeName");
    if (*volume_name && !**volume_name) *volume_name = NULL;
    json_t *out = json_object();
    static const char *const keep[] = {"phase", "accessModes", "capacity", "conditions",
                                       "allocatedResources", "allocatedResourceStatuses", NULL};
    const json_t *st = json_object_get(host_pvc, "status");
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(st, *k);
        if (v && !json_is_null(v)) json_object_set_new(out, *k, json_deep_copy(v));
    }
    return out;
}

json_t *vk_translate_selector_to_host(const vk_translate_ctx_t *ctx, const char *ns,
                                      const json_t *selector)
{
    json_t *out = translate_keys(selector);
    json_object_set_new(out, L_MANAGED_BY, json_string(ctx->tenant->name));
    json_object_set_new(out, L_NAMESPACE, json_string(ns));
    return out;
}

int vk_translate_service_to_host(const vk_translate_ctx_t *ctx, const json_t *tenant_svc,
                                 json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    const char *ns = sget(json_object_get(tenant_svc, "metadata"), "namespace");
    json_t *meta;
    int rc = host_metadata(ctx, tenant_svc, "Service", &meta, err, errlen);
    if (rc) return rc;
    json_t *spec = json_deep_copy(json_object_get(tenant_svc, "spec"));
    if (!json_is_object(spec)) {
        json_decref(spec);
        spec = json_object();
    }
    json_t *sel = json_object_get(spec, "selector");
    if (json_is_object(sel) && json_object_size(sel))
        json_object_set_new(spec, "selector", vk_translate_selector_to_host(ctx, ns, sel));
    const char *type = sget(spec, "type");
    const char *cip = sget(spec, "clusterIP");
    int headless = cip && strcmp(cip, "None") == 0;
    static const char *const dropped[] = {"clusterIP", "clusterIPs", "externalIPs",
                                          "loadBalancerIP", "loadBalancerSourceRanges",
                                          "loadBalancerClass", "healthCheckNodePort",
                                          "externalTrafficPolicy", "allocateLoadBalancerNodePorts",
                                          NULL};
    for (const char *const *d = dropped; *d; d++) json_object_del(spec, *d);
    if (headless) json_object_set_new(spec, "clusterIP", json_string("None"));
    if (!type || strcmp(type, "ExternalName") != 0) {
        json_object_set_new(spec, "type", json_string("ClusterIP"));
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(spec, "ports"), i, p) json_object_del(p, "nodePort");
    }
    *out = json_pack("{s:s,s:s,s:o,s:o}", "apiVersion", "v1", "kind", "Service", "metadata", meta,
                     "spec", spec);
    return 0;
}

/* ---- host -> tenant ---- */

json_t *vk_translate_pod_status_to_tenant(const json_t *host_pod, const char **node_name)
{
    const char *nn = sget(json_object_get(host_pod, "spec"), "nodeName");
    if (node_name) *node_name = nn && *nn ? nn : NULL;
    json_t *st = json_object_get(host_pod, "status");
    json_t *out = json_object();
    static const char *const keep[] = {"phase", "conditions", "message", "reason", "hostIP",
                                       "hostIPs", "podIP", "podIPs", "startTime",
                                       "initContainerStatuses", "containerStatuses",
                                       "ephemeralContainerStatuses", "qosClass", "resize",
                                       "observedGeneration", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(st, *k);
        if (v) json_object_set_new(out, *k, json_deep_copy(v));
    }
    return out;
}

static int node_label_allowed(const char *k)
{
    static const char *const exact[] = {"kubernetes.io/hostname", "kubernetes.io/os",
                                        "kubernetes.io/arch", "beta.kubernetes.io/os",
                                        "beta.kubernetes.io/arch", "node.kubernetes.io/instance-type",
                                        "topology.kubernetes.io/region",
                                        "topology.kubernetes.io/zone",
                                        "katacontainers.io/kata-runtime", NULL};
    for (const char *const *e = exact; *e; e++)
        if (strcmp(*e, k) == 0) return 1;
    return strncmp(k, "vkube.io/", 9) == 0;
}

json_t *vk_translate_node_to_tenant(const vk_translate_ctx_t *ctx, const json_t *host_node)
{
    const json_t *md = json_object_get(host_node, "metadata");
    const char *name = sget(md, "name");
    json_t *labels = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(md, "labels"), k, v) if (node_label_allowed(k))
        json_object_set(labels, k, v);
    json_t *st = json_object_get(host_node, "status");
    json_t *status = json_object();
    static const char *const keep[] = {"capacity", "allocatable", "conditions", NULL};
    for (const char *const *x = keep; *x; x++) {
        json_t *val = json_object_get(st, *x);
        if (val) json_object_set_new(status, *x, json_deep_copy(val));
    }
    json_t *info = json_deep_copy(json_object_get(st, "nodeInfo"));
    if (json_is_object(info)) {
        json_object_del(info, "machineID");
        json_object_del(info, "systemUUID");
        json_object_del(info, "bootID");
        json_object_set_new(status, "nodeInfo", info);
    } else {
        json_decref(info);
    }
    json_t *addrs = json_array();
    if (ctx->api_host)
        json_array_append_new(addrs, json_pack("{s:s,s:s}", "type", "InternalIP", "address",
                                               ctx->api_host));
    json_array_append_new(addrs, json_pack("{s:s,s:s}", "type", "Hostname", "address",
                                           name ? name : ""));
    json_object_set_new(status, "addresses", addrs);
    if (ctx->api_port)
        json_object_set_new(status, "daemonEndpoints",
                            json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", atoi(ctx->api_port)));
    json_t *node = json_pack("{s:s,s:s,s:{s:s,s:o},s:{},s:o}", "apiVersion", "v1", "kind", "Node",
                             "metadata", "name", name ? name : "", "labels", labels, "spec",
                             "status", status);
    json_t *unsched = json_object_get(json_object_get(host_node, "spec"), "unschedulable");
    if (json_is_true(unsched))
        json_object_set_new(json_object_get(node, "spec"), "unschedulable", json_true());
    return node;
}

/* Replaces every occurrence of from with to in s (new string). */
static char *replace_all(const char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), cap = strlen(s) + 1, len = 0;
    char *out = vk_xmalloc(cap);
    while (*s) {
        if (fl && strncmp(s, from, fl) == 0) {
            if (len + tl + 1 > cap) cap = (len + tl + 1) * 2, out = vk_xrealloc(out, cap);
            memcpy(out + len, to, tl);
            len += tl;
            s += fl;
        } else {
            if (len + 2 > cap) cap = (len + 2) * 2, out = vk_xrealloc(out, cap);
            out[len++] = *s++;
        }
    }
    out[len] = 0;
    return out;
}

json_t *vk_translate_event_to_tenant(const vk_translate_ctx_t *ctx, const json_t *host_event,
                                     const char *tenant_ns, const char *tenant_name,
                                     const char *tenant_uid)
{
    const json_t *md = json_object_get(host_event, "metadata");
    const json_t *io = json_object_get(host_event, "involvedObject");
    const char *host_name = sget(io, "name");
    const char *ev_name = sget(md, "name");
    /* Event names are "<object>.<suffix>": keep the suffix. */
    const char *suffix = NULL;
    if (ev_name && host_name && strncmp(ev_name, host_name, strlen(host_name)) == 0)
        suffix = ev_name + strlen(host_name);
    else if (ev_name)
        suffix = strrchr(ev_name, '.');
    char *name = vk_xasprintf("%s%s", tenant_name, suffix ? suffix : "");
    json_t *ev = json_pack("{s:s,s:s,s:{s:o,s:s}}", "apiVersion", "v1", "kind", "Event",
                           "metadata", "name", str_take(name), "namespace", tenant_ns);
    static const char *const keep[] = {"reason", "source", "firstTimestamp", "lastTimestamp",
                                       "count", "type", "eventTime", "action", "series",
                                       "reportingComponent", "reportingInstance", NULL};
    for (const char *const *k = keep; *k; k++) {
        json_t *v = json_object_get(host_event, *k);
        if (v) json_object_set_new(ev, *k, json_deep_copy(v));
    }
    const char *msg = sget(host_event, "message");
    if (msg && host_name) {
        char *hostfull = vk_xasprintf("%s/%s", ctx->tenant->host_namespace, host_name);
        char *tenfull = vk_xasprintf("%s/%s", tenant_ns, tenant_name);
        char *m1 = replace_all(msg, hostfull, tenfull);
        char *m2 = replace_all(m1, host_name, tenant_name);
        json_object_set_new(ev, "message", json_string(m2));
        free(hostfull), free(tenfull), free(m1), free(m2);
    } else if (msg) {
        json_object_set_new(ev, "message", json_string(msg));
    }
    json_t *nio = json_object();
    static const char *const iokeep[] = {"kind", "apiVersion", "fieldPath", NULL};
    for (const char *const *k = iokeep; *k; k++) {
        json_t *v = json_object_get(io, *k);
        if (v) json_object_set(nio, *k, v);
    }
    json_object_set_new(nio, "name", json_string(tenant_name));
    json_object_set_new(nio, "namespace", json_string(tenant_ns));
    if (tenant_uid && *tenant_uid) json_object_set_new(nio, "uid", json_string(tenant_uid));
    json_object_set_new(ev, "involvedObject", nio);
    return ev;
}

/* ---- ownership ---- */

int vk_translate_is_ours(const vk_translate_ctx_t *ctx, const json_t *host_obj)
{
    const json_t *md = json_object_get(host_obj, "metadata");
    const char *ns = sget(md, "namespace");
    if (!ns || strcmp(ns, ctx->tenant->host_namespace) != 0) return 0;
    const json_t *labels = json_object_get(md, "labels"), *ann = json_object_get(md, "annotations");
    const char *mb = sget(labels, L_MANAGED_BY);
    if (!mb || strcmp(mb, ctx->tenant->name) != 0) return 0;
    const char *tns = sget(labels, L_NAMESPACE);
    const char *an = sget(ann, A_NAME), *ans = sget(ann, A_NAMESPACE), *ak = sget(ann, A_KIND);
    if (!tns || !an || !ans || !ak || !*an || strcmp(tns, ans) != 0) return 0;
    /* The name must be the one we would give: no adopting look-alikes. */
    char *expect = vk_translate_host_name(an, ans, ctx->tenant->name);
    const char *name = sget(md, "name");
    int ok = name && strcmp(name, expect) == 0;
    free(expect);
    return ok;
}

int vk_translate_tenant_ref(const vk_translate_ctx_t *ctx, const json_t *host_obj,
                            const char **ns, const char **name, const char **uid,
                            const char **kind)
{
    if (!vk_translate_is_ours(ctx, host_obj)) return VK_ENOTFOUND;
    const json_t *ann = json_object_get(json_object_get(host_obj, "metadata"), "annotations");
    if (ns) *ns = sget(ann, A_NAMESPACE);
    if (name) *name = sget(ann, A_NAME);
    if (uid) {
        const char *u = sget(ann, A_UID);
        *uid = u && *u ? u : NULL;
    }
    if (kind) *kind = sget(ann, A_KIND);
    return 0;
}
