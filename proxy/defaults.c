/* defaults: defaulting of built-in kinds (see defaults.h). Each SetDefaults_*
 * of upstream is a small static function here; unknown kinds are untouched. */
#include "proxy/defaults.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "proxy/quantity.h"

/* Returns the member key of o when o is an object, else NULL (borrowed). */
static json_t *member(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

/* True when key is absent or null in object o. */
static int unset(const json_t *o, const char *key)
{
    json_t *v = member(o, key);
    return !v || json_is_null(v);
}

static void def_str(json_t *o, const char *key, const char *val)
{
    if (json_is_object(o) && unset(o, key))
        json_object_set_new(o, key, json_string(val));
}

/* A string field that is absent, null or "" gets val. */
static void def_str_empty(json_t *o, const char *key, const char *val)
{
    json_t *v = member(o, key);
    if (json_is_object(o) && (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v))))
        json_object_set_new(o, key, json_string(val));
}

static void def_int(json_t *o, const char *key, json_int_t val)
{
    if (json_is_object(o) && unset(o, key))
        json_object_set_new(o, key, json_integer(val));
}

static void def_bool(json_t *o, const char *key, int val)
{
    if (json_is_object(o) && unset(o, key))
        json_object_set_new(o, key, json_boolean(val));
}

/* Returns o[key] as an object, creating {} when absent or null; NULL when o is
 * not an object or o[key] has another type (borrowed). */
static json_t *obj_child(json_t *o, const char *key)
{
    if (!json_is_object(o))
        return NULL;
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return json_is_object(v) ? v : NULL;
}

static const char *str_of(const json_t *o, const char *key)
{
    json_t *v = member(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Image references without a tag or with ":latest" are pulled Always. */
static const char *pull_policy_for(const char *image)
{
    if (!image || strchr(image, '@'))
        return "IfNotPresent";
    const char *slash = strrchr(image, '/');
    const char *colon = strrchr(slash ? slash : image, ':');
    if (!colon || strcmp(colon + 1, "latest") == 0)
        return "Always";
    return "IfNotPresent";
}

static void defaults_probe(json_t *p)
{
    if (!json_is_object(p))
        return;
    def_int(p, "timeoutSeconds", 1);
    def_int(p, "periodSeconds", 10);
    def_int(p, "successThreshold", 1);
    def_int(p, "failureThreshold", 3);
    json_t *h = member(p, "httpGet");
    if (json_is_object(h)) {
        def_str_empty(h, "path", "/");
        def_str_empty(h, "scheme", "HTTP");
    }
    json_t *g = member(p, "grpc");
    if (json_is_object(g))
        def_str(g, "service", "");
}

static void defaults_ports(json_t *ports)
{
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p) def_str_empty(p, "protocol", "TCP");
}

static void defaults_fieldref(json_t *holder)
{
    json_t *fr = member(holder, "fieldRef");
    if (json_is_object(fr))
        def_str_empty(fr, "apiVersion", "v1");
}

/* Requests default to limits for every resource that has only a limit: on
 * Pods only (SetDefaults_Pod), never in pod templates, where it would change a
 * Deployment's pod-template-hash. */
static void default_requests_from_limits(json_t *c)
{
    json_t *res = member(c, "resources");
    json_t *lim = member(res, "limits");
    if (json_is_object(lim) && json_object_size(lim) > 0) {
        json_t *req = obj_child(res, "requests");
        const char *k;
        json_t *v;
        json_object_foreach(lim, k, v) if (req && !json_object_get(req, k))
            json_object_set(req, k, v);
    }
}

static void defaults_container(json_t *c, int host_network)
{
    if (!json_is_object(c))
        return;
    def_str_empty(c, "terminationMessagePath", "/dev/termination-log");
    def_str_empty(c, "terminationMessagePolicy", "File");
    def_str_empty(c, "imagePullPolicy", pull_policy_for(str_of(c, "image")));
    obj_child(c, "resources");
    json_t *ports = member(c, "ports");
    defaults_ports(ports);
    if (host_network) {
        size_t i;
        json_t *p;
        json_array_foreach(ports, i, p)
        {
            json_t *hp = member(p, "hostPort");
            if ((!hp || (json_is_integer(hp) && json_integer_value(hp) == 0)) &&
                json_is_integer(member(p, "containerPort")))
                json_object_set(p, "hostPort", json_object_get(p, "containerPort"));
        }
    }
    defaults_probe(member(c, "livenessProbe"));
    defaults_probe(member(c, "readinessProbe"));
    defaults_probe(member(c, "startupProbe"));
    size_t i;
    json_t *e;
    json_array_foreach(member(c, "env"), i, e) defaults_fieldref(member(e, "valueFrom"));
    json_t *lc = member(c, "lifecycle");
    const char *hooks[] = {"postStart", "preStop"};
    for (int h = 0; h < 2; h++) {
        json_t *hg = member(member(lc, hooks[h]), "httpGet");
        if (json_is_object(hg)) {
            def_str_empty(hg, "path", "/");
            def_str_empty(hg, "scheme", "HTTP");
        }
    }
}

/* The volume sources a v1 Volume may name (one of them, else emptyDir). */
static const char *const volume_sources[] = {
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs",
    "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos",
    "csi", "ephemeral", "image", NULL};

static void defaults_volume(json_t *v)
{
    if (!json_is_object(v))
        return;
    int any = 0;
    for (int i = 0; volume_sources[i]; i++)
        if (!unset(v, volume_sources[i]))
            any = 1;
    if (!any)
        json_object_set_new(v, "emptyDir", json_object());
    def_int(member(v, "secret"), "defaultMode", 0644);
    def_int(member(v, "configMap"), "defaultMode", 0644);
    json_t *dapi = member(v, "downwardAPI");
    def_int(dapi, "defaultMode", 0644);
    size_t i;
    json_t *it;
    json_array_foreach(member(dapi, "items"), i, it) defaults_fieldref(it);
    json_t *proj = member(v, "projected");
    def_int(proj, "defaultMode", 0644);
    json_t *src;
    json_array_foreach(member(proj, "sources"), i, src)
    {
        json_t *sat = member(src, "serviceAccountToken");
        def_int(sat, "expirationSeconds", 3600);
        size_t j;
        json_array_foreach(member(member(src, "downwardAPI"), "items"), j, it) defaults_fieldref(it);
    }
    def_str(member(v, "hostPath"), "type", "");
    json_t *iscsi = member(v, "iscsi");
    def_str_empty(iscsi, "iscsiInterface", "default");
    json_t *rbd = member(v, "rbd");
    if (json_is_object(rbd)) {
        def_str_empty(rbd, "pool", "rbd");
        def_str_empty(rbd, "user", "admin");
        def_str_empty(rbd, "keyring", "/etc/ceph/keyring");
    }
    json_t *ad = member(v, "azureDisk");
    if (json_is_object(ad)) {
        def_str_empty(ad, "cachingMode", "ReadWrite");
        def_str_empty(ad, "fsType", "ext4");
        def_bool(ad, "readOnly", 0);
        def_str_empty(ad, "kind", "Shared");
    }
}

static void defaults_pod_spec(json_t *spec)
{
    if (!json_is_object(spec))
        return;
    def_str_empty(spec, "dnsPolicy", "ClusterFirst");
    def_str_empty(spec, "restartPolicy", "Always");
    def_str_empty(spec, "schedulerName", "default-scheduler");
    obj_child(spec, "securityContext");
    def_int(spec, "terminationGracePeriodSeconds", 30);
    /* v1 conversion: serviceAccount is an alias of serviceAccountName (names
     * it when only the alias is given, mirrors it otherwise), pod templates too. */
    const char *san = str_of(spec, "serviceAccountName");
    if (!san || !*san) {
        const char *alias = str_of(spec, "serviceAccount");
        if (alias && *alias) json_object_set_new(spec, "serviceAccountName", json_string(alias));
        san = str_of(spec, "serviceAccountName");
    }
    if (san && *san) json_object_set_new(spec, "serviceAccount", json_string(san));
    int host_network = json_is_true(member(spec, "hostNetwork"));
    size_t i;
    json_t *c;
    json_array_foreach(member(spec, "containers"), i, c) defaults_container(c, host_network);
    json_array_foreach(member(spec, "initContainers"), i, c) defaults_container(c, host_network);
    json_array_foreach(member(spec, "ephemeralContainers"), i, c)
    {
        def_str_empty(c, "terminationMessagePath", "/dev/termination-log");
        def_str_empty(c, "terminationMessagePolicy", "File");
        def_str_empty(c, "imagePullPolicy", pull_policy_for(str_of(c, "image")));
    }
    json_array_foreach(member(spec, "volumes"), i, c) defaults_volume(c);
}

static void defaults_pod_template(json_t *tmpl)
{
    if (!json_is_object(tmpl))
        return;
    defaults_pod_spec(obj_child(tmpl, "spec"));
}

static void defaults_pvc_spec(json_t *spec)
{
    def_str(spec, "volumeMode", "Filesystem");
}

static void defaults_service(json_t *obj)
{
    json_t *spec = obj_child(obj, "spec");
    if (!spec)
        return;
    def_str_empty(spec, "sessionAffinity", "None");
    def_str_empty(spec, "type", "ClusterIP");
    const char *type = str_of(spec, "type");
    size_t i;
    json_t *p;
    json_array_foreach(member(spec, "ports"), i, p)
    {
        def_str_empty(p, "protocol", "TCP");
        json_t *tp = member(p, "targetPort");
        if (!tp || json_is_null(tp) || (json_is_integer(tp) && json_integer_value(tp) == 0) ||
            (json_is_string(tp) && !*json_string_value(tp))) {
            json_t *port = member(p, "port");
            if (port)
                json_object_set(p, "targetPort", port);
        }
    }
    if (type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer")))
        def_str_empty(spec, "externalTrafficPolicy", "Cluster");
    if (type && strcmp(type, "ExternalName") != 0)
        def_str_empty(spec, "internalTrafficPolicy", "Cluster");
    if (type && !strcmp(type, "LoadBalancer"))
        def_bool(spec, "allocateLoadBalancerNodePorts", 1);
    const char *aff = str_of(spec, "sessionAffinity");
    if (aff && !strcmp(aff, "ClientIP")) {
        json_t *cfg = obj_child(obj_child(spec, "sessionAffinityConfig"), "clientIP");
        def_int(cfg, "timeoutSeconds", 10800);
    }
}

static void defaults_namespace(json_t *obj)
{
    const char *name = str_of(member(obj, "metadata"), "name");
    json_t *meta = obj_child(obj, "metadata");
    if (name && meta) {
        json_t *labels = obj_child(meta, "labels");
        if (labels)
            json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
    }
    json_t *spec = obj_child(obj, "spec");
    if (spec && unset(spec, "finalizers")) {
        json_t *f = json_array();
        json_array_append_new(f, json_string("kubernetes"));
        json_object_set_new(spec, "finalizers", f);
    }
    def_str_empty(obj_child(obj, "status"), "phase", "Active");
}

/* Copies each key of from missing in the object to[key] (created if needed). */
static void fill_missing(json_t *item, const char *to, const json_t *from)
{
    if (!json_is_object(from) || !json_object_size(from))
        return;
    json_t *dst = obj_child(item, to);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)from, k, v) if (dst && !json_object_get(dst, k))
        json_object_set(dst, k, v);
}

/* LimitRange Container items: default <- max, defaultRequest <- default, then min. */
static void defaults_limit_item(json_t *item)
{
    const char *type = str_of(item, "type");
    if (!type || strcmp(type, "Container") != 0)
        return;
    fill_missing(item, "default", member(item, "max"));
    fill_missing(item, "defaultRequest", member(item, "default"));
    fill_missing(item, "defaultRequest", member(item, "min"));
}

static void defaults_core(const char *kind, json_t *obj)
{
    if (!strcmp(kind, "Pod")) {
        json_t *spec = obj_child(obj, "spec");
        defaults_pod_spec(spec);
        /* SetDefaults_Pod, not SetDefaults_PodSpec: pod templates leave it unset
         * (it would change a Deployment's pod-template-hash). */
        if (json_is_object(spec)) def_bool(spec, "enableServiceLinks", 1);
        size_t i;
        json_t *c;
        json_array_foreach(member(spec, "containers"), i, c) default_requests_from_limits(c);
        json_array_foreach(member(spec, "initContainers"), i, c) default_requests_from_limits(c);
    } else if (!strcmp(kind, "PodTemplate")) {
        defaults_pod_template(obj_child(obj, "template"));
    } else if (!strcmp(kind, "ReplicationController")) {
        json_t *spec = obj_child(obj, "spec");
        def_int(spec, "replicas", 1);
        defaults_pod_template(member(spec, "template"));
    } else if (!strcmp(kind, "Service")) {
        defaults_service(obj);
    } else if (!strcmp(kind, "Secret")) {
        def_str_empty(obj, "type", "Opaque");
    } else if (!strcmp(kind, "Namespace")) {
        defaults_namespace(obj);
    } else if (!strcmp(kind, "Endpoints")) {
        size_t i;
        json_t *s;
        json_array_foreach(member(obj, "subsets"), i, s) defaults_ports(member(s, "ports"));
    } else if (!strcmp(kind, "PersistentVolumeClaim")) {
        defaults_pvc_spec(obj_child(obj, "spec"));
        def_str_empty(obj_child(obj, "status"), "phase", "Pending");
    } else if (!strcmp(kind, "LimitRange")) {
        size_t i;
        json_t *item;
        json_array_foreach(member(member(obj, "spec"), "limits"), i, item) defaults_limit_item(item);
    } else if (!strcmp(kind, "PersistentVolume")) {
        json_t *spec = obj_child(obj, "spec");
        def_str(member(spec, "hostPath"), "type", "");
        def_str_empty(spec, "persistentVolumeReclaimPolicy", "Retain");
        def_str(spec, "volumeMode", "Filesystem");
        def_str_empty(obj_child(obj, "status"), "phase", "Pending");
    }
}

static void defaults_apps(const char *kind, json_t *obj)
{
    json_t *spec = obj_child(obj, "spec");
    if (!spec)
        return;
    if (!strcmp(kind, "Deployment")) {
        def_int(spec, "replicas", 1);
        json_t *st = obj_child(spec, "strategy");
        def_str_empty(st, "type", "RollingUpdate");
        const char *t = str_of(st, "type");
        if (t && !strcmp(t, "RollingUpdate")) {
            json_t *ru = obj_child(st, "rollingUpdate");
            def_str(ru, "maxUnavailable", "25%");
            def_str(ru, "maxSurge", "25%");
        }
        def_int(spec, "revisionHistoryLimit", 10);
        def_int(spec, "progressDeadlineSeconds", 600);
        defaults_pod_template(member(spec, "template"));
    } else if (!strcmp(kind, "ReplicaSet")) {
        def_int(spec, "replicas", 1);
        defaults_pod_template(member(spec, "template"));
    } else if (!strcmp(kind, "DaemonSet")) {
        json_t *st = obj_child(spec, "updateStrategy");
        def_str_empty(st, "type", "RollingUpdate");
        const char *t = str_of(st, "type");
        if (t && !strcmp(t, "RollingUpdate")) {
            json_t *ru = obj_child(st, "rollingUpdate");
            def_int(ru, "maxUnavailable", 1);
            def_int(ru, "maxSurge", 0);
        }
        def_int(spec, "revisionHistoryLimit", 10);
        defaults_pod_template(member(spec, "template"));
    } else if (!strcmp(kind, "StatefulSet")) {
        def_str_empty(spec, "podManagementPolicy", "OrderedReady");
        json_t *st = obj_child(spec, "updateStrategy");
        def_str_empty(st, "type", "RollingUpdate");
        const char *t = str_of(st, "type");
        if (t && !strcmp(t, "RollingUpdate"))
            def_int(obj_child(st, "rollingUpdate"), "partition", 0);
        def_int(spec, "replicas", 1);
        def_int(spec, "revisionHistoryLimit", 10);
        json_t *rp = obj_child(spec, "persistentVolumeClaimRetentionPolicy");
        def_str_empty(rp, "whenDeleted", "Retain");
        def_str_empty(rp, "whenScaled", "Retain");
        size_t i;
        json_t *pvc;
        json_array_foreach(member(spec, "volumeClaimTemplates"), i, pvc)
        {
            defaults_pvc_spec(obj_child(pvc, "spec"));
            def_str_empty(obj_child(pvc, "status"), "phase", "Pending");
        }
        defaults_pod_template(member(spec, "template"));
    }
}

/* batch/v1 Job: SetDefaults_Job plus the registry's generated selector. */
static void defaults_job(json_t *obj)
{
    json_t *spec = obj_child(obj, "spec");
    if (!spec)
        return;
    if (unset(spec, "completions") && unset(spec, "parallelism")) {
        json_object_set_new(spec, "completions", json_integer(1));
        json_object_set_new(spec, "parallelism", json_integer(1));
    }
    def_int(spec, "parallelism", 1);
    def_int(spec, "backoffLimit", unset(spec, "backoffLimitPerIndex") ? 6 : 2147483647);
    json_t *tmpl = member(spec, "template");
    json_t *tlabels = member(member(tmpl, "metadata"), "labels");
    json_t *meta = obj_child(obj, "metadata");
    json_t *labels = member(meta, "labels");
    if (json_is_object(tlabels) && meta && (!json_is_object(labels) || !json_object_size(labels)))
        json_object_set_new(meta, "labels", json_deep_copy(tlabels));
    def_str_empty(spec, "completionMode", "NonIndexed");
    def_bool(spec, "suspend", 0);
    def_str(spec, "podReplacementPolicy", unset(spec, "podFailurePolicy") ? "TerminatingOrFailed"
                                                                          : "Failed");
    def_bool(spec, "manualSelector", 0);
    defaults_pod_template(tmpl);
    /* The job strategy labels the pods with the job's uid and selects on it
     * unless the user asked for a manual selector. */
    const char *uid = str_of(meta, "uid");
    const char *name = str_of(meta, "name");
    if (!json_is_true(member(spec, "manualSelector")) && uid && name && json_is_object(tmpl)) {
        json_t *tl = obj_child(obj_child(tmpl, "metadata"), "labels");
        if (tl) {
            json_object_set_new(tl, "batch.kubernetes.io/controller-uid", json_string(uid));
            json_object_set_new(tl, "batch.kubernetes.io/job-name", json_string(name));
            json_object_set_new(tl, "controller-uid", json_string(uid));
            json_object_set_new(tl, "job-name", json_string(name));
        }
        if (unset(spec, "selector")) {
            json_t *sel = json_object(), *ml = json_object();
            json_object_set_new(ml, "batch.kubernetes.io/controller-uid", json_string(uid));
            json_object_set_new(sel, "matchLabels", ml);
            json_object_set_new(spec, "selector", sel);
        }
    }
}

static void defaults_batch(const char *kind, json_t *obj)
{
    if (!strcmp(kind, "Job")) {
        defaults_job(obj);
    } else if (!strcmp(kind, "CronJob")) {
        json_t *spec = obj_child(obj, "spec");
        def_str_empty(spec, "concurrencyPolicy", "Allow");
        def_bool(spec, "suspend", 0);
        def_int(spec, "successfulJobsHistoryLimit", 3);
        def_int(spec, "failedJobsHistoryLimit", 1);
        defaults_pod_template(member(member(member(spec, "jobTemplate"), "spec"), "template"));
    }
}

static void defaults_rbac(const char *kind, json_t *obj)
{
    if (strcmp(kind, "RoleBinding") != 0 && strcmp(kind, "ClusterRoleBinding") != 0)
        return;
    def_str_empty(member(obj, "roleRef"), "apiGroup", "rbac.authorization.k8s.io");
    size_t i;
    json_t *s;
    json_array_foreach(member(obj, "subjects"), i, s)
    {
        const char *k = str_of(s, "kind");
        if (!k || !unset(s, "apiGroup"))
            continue;
        if (!strcmp(k, "ServiceAccount"))
            json_object_set_new(s, "apiGroup", json_string(""));
        else if (!strcmp(k, "User") || !strcmp(k, "Group"))
            json_object_set_new(s, "apiGroup", json_string("rbac.authorization.k8s.io"));
    }
}

static void defaults_networkpolicy(json_t *obj)
{
    json_t *spec = obj_child(obj, "spec");
    if (!spec)
        return;
    size_t i;
    json_t *r, *p;
    const char *dirs[] = {"ingress", "egress"};
    for (int d = 0; d < 2; d++) {
        json_array_foreach(member(spec, dirs[d]), i, r)
        {
            size_t j;
            json_array_foreach(member(r, "ports"), j, p) def_str_empty(p, "protocol", "TCP");
        }
    }
    if (unset(spec, "policyTypes")) {
        json_t *pt = json_array();
        json_array_append_new(pt, json_string("Ingress"));
        if (json_array_size(member(spec, "egress")) > 0)
            json_array_append_new(pt, json_string("Egress"));
        json_object_set_new(spec, "policyTypes", pt);
    }
}

static void defaults_crd(json_t *obj)
{
    json_t *spec = obj_child(obj, "spec");
    if (!spec)
        return;
    def_str(obj_child(spec, "conversion"), "strategy", "None");
    json_t *names = member(spec, "names");
    const char *kind = str_of(names, "kind");
    if (kind) {
        if (unset(names, "listKind")) {
            char *lk = vk_xasprintf("%sList", kind);
            json_object_set_new(names, "listKind", json_string(lk));
            free(lk);
        }
        if (unset(names, "singular")) {
            char *s = vk_xstrdup(kind);
            for (char *q = s; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                    *q = (char)(*q - 'A' + 'a');
            json_object_set_new(names, "singular", json_string(s));
            free(s);
        }
    }
}

void vk_defaults_apply(const char *group, const char *version, const char *kind, json_t *obj)
{
    if (!group || !kind || !json_is_object(obj))
        return;
    /* Decoding canonicalises quantities ("0.5" -> "500m") before defaulting. */
    vk_quantity_canon_object(group, version ? version : "", kind, obj, NULL);
    if (!*group)
        defaults_core(kind, obj);
    else if (!strcmp(group, "apps"))
        defaults_apps(kind, obj);
    else if (!strcmp(group, "batch"))
        defaults_batch(kind, obj);
    else if (!strcmp(group, "rbac.authorization.k8s.io"))
        defaults_rbac(kind, obj);
    else if (!strcmp(group, "networking.k8s.io") && !strcmp(kind, "NetworkPolicy"))
        defaults_networkpolicy(obj);
    else if (!strcmp(group, "networking.k8s.io") && !strcmp(kind, "IngressClass"))
        def_str_empty(member(member(obj, "spec"), "parameters"), "scope", "Cluster");
    else if (!strcmp(group, "storage.k8s.io") && !strcmp(kind, "StorageClass")) {
        def_str_empty(obj, "reclaimPolicy", "Delete");
        def_str_empty(obj, "volumeBindingMode", "Immediate");
    } else if (!strcmp(group, "scheduling.k8s.io") && !strcmp(kind, "PriorityClass"))
        def_str_empty(obj, "preemptionPolicy", "PreemptLowerPriority");
    else if (!strcmp(group, "discovery.k8s.io") && !strcmp(kind, "EndpointSlice"))
        defaults_ports(member(obj, "ports"));
    else if (!strcmp(group, "apiextensions.k8s.io") && !strcmp(kind, "CustomResourceDefinition"))
        defaults_crd(obj);
}

/* Adds a NoExecute toleration for key (300 s) unless one for key exists. */
static void add_default_toleration(json_t *spec, const char *key)
{
    json_t *tols = member(spec, "tolerations");
    if (!json_is_array(tols)) {
        tols = json_array();
        json_object_set_new(spec, "tolerations", tols);
    }
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t)
    {
        const char *k = str_of(t, "key"), *e = str_of(t, "effect"), *op = str_of(t, "operator");
        int matches_key = (k && !strcmp(k, key)) || ((!k || !*k) && op && !strcmp(op, "Exists"));
        if (matches_key && (!e || !*e || !strcmp(e, "NoExecute")))
            return;
    }
    json_t *n = json_object();
    json_object_set_new(n, "key", json_string(key));
    json_object_set_new(n, "operator", json_string("Exists"));
    json_object_set_new(n, "effect", json_string("NoExecute"));
    json_object_set_new(n, "tolerationSeconds", json_integer(300));
    json_array_append_new(tols, n);
}

void vk_defaults_pod_admission(json_t *pod)
{
    json_t *spec = obj_child(pod, "spec");
    if (!spec)
        return;
    const char *sa = str_of(spec, "serviceAccountName");
    if (!sa || !*sa)
        sa = str_of(spec, "serviceAccount");
    if (!sa || !*sa)
        sa = "default";
    json_object_set_new(spec, "serviceAccountName", json_string(sa));
    json_object_set_new(spec, "serviceAccount", json_string(sa));
    const char *pc = str_of(spec, "priorityClassName");
    if (!pc || !*pc)
        def_int(spec, "priority", 0);
    def_str_empty(spec, "preemptionPolicy", "PreemptLowerPriority");
    add_default_toleration(spec, "node.kubernetes.io/not-ready");
    add_default_toleration(spec, "node.kubernetes.io/unreachable");
}

#define SA_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"

static int mounts_path(const json_t *containers, const char *path)
{
    size_t i, j;
    json_t *c, *m;
    json_array_foreach(containers, i, c) json_array_foreach(member(c, "volumeMounts"), j, m)
    {
        const char *mp = str_of(m, "mountPath");
        if (mp && !strcmp(mp, path))
            return 1;
    }
    return 0;
}

void vk_defaults_pod_token_volume(json_t *pod, const char *suffix, int automount)
{
    json_t *spec = member(pod, "spec");
    if (!json_is_object(spec) || !automount || json_is_false(member(spec, "automountServiceAccountToken")))
        return;
    if (mounts_path(member(spec, "containers"), SA_MOUNT_PATH) ||
        mounts_path(member(spec, "initContainers"), SA_MOUNT_PATH))
        return;
    char *name = vk_xasprintf("kube-api-access-%s", suffix ? suffix : "");
    json_t *vol = json_pack(
        "{s:s, s:{s:[{s:{s:i, s:s}}, {s:{s:s, s:[{s:s, s:s}]}}, {s:{s:[{s:s, s:{s:s, s:s}}]}}], s:i}}",
        "name", name, "projected", "sources", "serviceAccountToken", "expirationSeconds", 3607,
        "path", "token", "configMap", "name", "kube-root-ca.crt", "items", "key", "ca.crt", "path",
        "ca.crt", "downwardAPI", "items", "path", "namespace", "fieldRef", "apiVersion", "v1",
        "fieldPath", "metadata.namespace", "defaultMode", 0644);
    json_t *vols = member(spec, "volumes");
    if (!json_is_array(vols)) {
        vols = json_array();
        json_object_set_new(spec, "volumes", vols);
    }
    json_array_append_new(vols, vol);
    const char *lists[] = {"initContainers", "containers"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(member(spec, lists[l]), i, c)
        {
            if (!json_is_object(c))
                continue;
            json_t *mounts = member(c, "volumeMounts");
            if (!json_is_array(mounts)) {
                mounts = json_array();
                json_object_set_new(c, "volumeMounts", mounts);
            }
            json_array_append_new(mounts, json_pack("{s:s, s:b, s:s}", "name", name, "readOnly", 1,
                                                    "mountPath", SA_MOUNT_PATH));
        }
    }
    free(name);
}

static int needs_node_port(const char *type)
{
    return type && (!strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer"));
}

void vk_defaults_keep_allocated(const char *group, const char *kind, json_t *obj,
                                const json_t *old)
{
    if (!group || *group || !kind || strcmp(kind, "Service") != 0)
        return;
    json_t *spec = member(obj, "spec");
    json_t *ospec = member(old, "spec");
    if (!json_is_object(spec) || !json_is_object(ospec))
        return;
    const char *type = str_of(spec, "type"), *otype = str_of(ospec, "type");
    if (type && otype && strcmp(type, "ExternalName") != 0 && strcmp(otype, "ExternalName") != 0) {
        const char *ip = str_of(spec, "clusterIP");
        if ((!ip || !*ip) && str_of(ospec, "clusterIP")) {
            json_object_set(spec, "clusterIP", json_object_get(ospec, "clusterIP"));
            if (!unset(ospec, "clusterIPs"))
                json_object_set_new(spec, "clusterIPs",
                                    json_deep_copy(json_object_get(ospec, "clusterIPs")));
        }
        if (unset(spec, "clusterIPs") && !unset(ospec, "clusterIPs"))
            json_object_set_new(spec, "clusterIPs",
                                json_deep_copy(json_object_get(ospec, "clusterIPs")));
        const char *keep[] = {"ipFamilies", "ipFamilyPolicy"};
        for (int i = 0; i < 2; i++)
            if (unset(spec, keep[i]) && !unset(ospec, keep[i]))
                json_object_set_new(spec, keep[i], json_deep_copy(json_object_get(ospec, keep[i])));
    }
    if (needs_node_port(type) && needs_node_port(otype)) {
        size_t i, j;
        json_t *p, *op;
        json_array_foreach(member(spec, "ports"), i, p)
        {
            json_t *np = member(p, "nodePort");
            if (np && !(json_is_integer(np) && json_integer_value(np) == 0))
                continue;
            json_array_foreach(member(ospec, "ports"), j, op)
            {
                if (json_equal(member(op, "port"), member(p, "port")) &&
                    json_equal(member(op, "protocol"), member(p, "protocol")) &&
                    json_is_integer(member(op, "nodePort"))) {
                    json_object_set(p, "nodePort", json_object_get(op, "nodePort"));
                    break;
                }
            }
        }
        const char *etp = str_of(spec, "externalTrafficPolicy");
        if (etp && !strcmp(etp, "Local") && unset(spec, "healthCheckNodePort") &&
            !unset(ospec, "healthCheckNodePort"))
            json_object_set(spec, "healthCheckNodePort", json_object_get(ospec, "healthCheckNodePort"));
    }
}
