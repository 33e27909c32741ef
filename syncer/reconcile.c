/* reconcile: pure tenant/host diffing into a plan of actions. */
#include "reconcile.h"

#include "common/mem.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const json_t *meta(const json_t *o)
{
    return json_object_get(o, "metadata");
}

/* JSON pointer token escaping: '~' -> "~0", '/' -> "~1". */
static char *ptr_escape(const char *s)
{
    char *out = vk_xmalloc(2 * strlen(s) + 1), *p = out;
    for (; *s; s++) {
        if (*s == '~') *p++ = '~', *p++ = '0';
        else if (*s == '/') *p++ = '~', *p++ = '1';
        else *p++ = *s;
    }
    *p = 0;
    return out;
}

static void op(json_t *ops, const char *o, const char *path, json_t *value)
{
    json_t *x = json_pack("{s:s,s:s}", "op", o, "path", path);
    if (value) json_object_set_new(x, "value", value);
    json_array_append_new(ops, x);
}

/* Ops making host map (labels/annotations) hold every key of want; when
 * remove_extra, keys of have not in want are removed too. */
static void map_ops(json_t *ops, const char *base, const json_t *want, const json_t *have,
                    int remove_extra)
{
    if (!json_is_object(have)) {
        if (json_object_size(want)) op(ops, "add", base, json_deep_copy(want));
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        json_t *h = json_object_get(have, k);
        if (h && json_equal(h, v)) continue;
        char *e = ptr_escape(k);
        char *path = vk_xasprintf("%s/%s", base, e);
        op(ops, h ? "replace" : "add", path, json_deep_copy(v));
        free(path), free(e);
    }
    if (!remove_extra) return;
    json_object_foreach((json_t *)have, k, v)
    {
        if (json_object_get(want, k)) continue;
        char *e = ptr_escape(k);
        char *path = vk_xasprintf("%s/%s", base, e);
        op(ops, "remove", path, NULL);
        free(path), free(e);
    }
}

static json_t *find_named(const json_t *arr, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        const char *n = sget(e, "name");
        if (n && name && strcmp(n, name) == 0) return e;
    }
    return NULL;
}

/* The fields of a toleration that identify it. */
static int same_toleration(const json_t *a, const json_t *b)
{
    static const char *const f[] = {"key", "operator", "value", "effect", "tolerationSeconds", NULL};
    for (const char *const *k = f; *k; k++) {
        json_t *x = json_object_get(a, *k), *y = json_object_get(b, *k);
        if (!strcmp(*k, "operator")) { /* Equal is the default */
            const char *xs = x ? json_string_value(x) : "Equal", *ys = y ? json_string_value(y) : "Equal";
            if (!xs || !ys || strcmp(xs, ys)) return 0;
            continue;
        }
        if (!x != !y || (x && !json_equal(x, y))) return 0;
    }
    return 1;
}

/* The JSON patch that moves host pod hp towards desired (the fields
 * Kubernetes lets change on a running pod). Empty array when nothing to do. */
static json_t *pod_patch(const json_t *desired, const json_t *hp)
{
    json_t *ops = json_array();
    map_ops(ops, "/metadata/labels", json_object_get(meta(desired), "labels"),
            json_object_get(meta(hp), "labels"), 1);
    map_ops(ops, "/metadata/annotations", json_object_get(meta(desired), "annotations"),
            json_object_get(meta(hp), "annotations"), 0);
    const json_t *ds = json_object_get(desired, "spec"), *hs = json_object_get(hp, "spec");
    static const char *const lists[] = {"containers", "initContainers", NULL};
    for (const char *const *l = lists; *l; l++) {
        size_t i;
        json_t *c;
        json_t *hl = json_object_get(hs, *l);
        json_array_foreach(json_object_get(ds, *l), i, c)
        {
            const char *img = sget(c, "image");
            json_t *hc = find_named(hl, sget(c, "name"));
            if (!img || !hc || (sget(hc, "image") && !strcmp(sget(hc, "image"), img))) continue;
            size_t idx;
            json_t *x;
            json_array_foreach(hl, idx, x) if (x == hc) break;
            char path[96];
            snprintf(path, sizeof path, "/spec/%s/%zu/image", *l, idx);
            op(ops, "replace", path, json_string(img));
        }
    }
    json_t *ads = json_object_get(ds, "activeDeadlineSeconds");
    json_t *had = json_object_get(hs, "activeDeadlineSeconds");
    if (ads && !(had && json_equal(ads, had)))
        op(ops, had ? "replace" : "add", "/spec/activeDeadlineSeconds", json_deep_copy(ads));
    json_t *htols = json_object_get(hs, "tolerations");
    size_t i;
    json_t *t;
    int have_arr = json_is_array(htols);
    json_array_foreach(json_object_get(ds, "tolerations"), i, t)
    {
        int found = 0;
        size_t j;
        json_t *h;
        json_array_foreach(htols, j, h) if (same_toleration(t, h)) found = 1;
        if (found) continue;
        if (!have_arr) {
            op(ops, "add", "/spec/tolerations", json_pack("[O]", t));
            have_arr = 1;
            htols = NULL; /* later additions append */
        } else {
            op(ops, "add", "/spec/tolerations/-", json_deep_copy(t));
        }
    }
    return ops;
}

/* Guards a patch: it applies only to the host object made for this tenant uid. */
static json_t *guarded(json_t *ops, const char *uid)
{
    if (!uid || !*uid) return ops;
    json_t *out = json_array();
    json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "op", "test", "path",
                                         "/metadata/annotations/vkube.io~1object-uid", "value", uid));
    json_array_extend(out, ops);
    json_decref(ops);
    return out;
}

static int was_synced(const json_t *tp)
{
    const json_t *st = json_object_get(tp, "status");
    const char *nn = sget(json_object_get(tp, "spec"), "nodeName");
    return nn && *nn && (sget(st, "hostIP") || sget(st, "startTime"));
}

static int terminal(const json_t *tp)
{
    const char *ph = sget(json_object_get(tp, "status"), "phase");
    return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

json_t *vk_reconcile_pods(const vk_translate_ctx_t *ctx, const json_t *tenant_pods,
                          const json_t *host_pods)
{
    json_t *plan = json_array();
    json_t *by_name = json_object(); /* host name -> host pod (borrowed refs held) */
    json_t *seen = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(host_pods, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (n) json_object_set(by_name, n, o);
    }
    json_array_foreach(tenant_pods, i, o)
    {
        const json_t *md = meta(o);
        const char *name = sget(md, "name"), *ns = sget(md, "namespace"), *uid = sget(md, "uid");
        if (!name || !ns) continue;
        char *hname = vk_translate_host_name(name, ns, ctx->tenant->name);
        json_t *hp = json_object_get(by_name, hname);
        int deleting = json_object_get(md, "deletionTimestamp") != NULL;
        if (hp) json_object_set_new(seen, hname, json_true());
        if (hp && !vk_translate_is_ours(ctx, hp)) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s}", "op", "conflict", "kind",
                                                  "Pod", "name", hname, "reason",
                                                  "a host pod with this name exists and is not "
                                                  "managed by this tenant"));
        } else if (hp) {
            const char *huid = sget(json_object_get(meta(hp), "annotations"), "vkube.io/object-uid");
            const char *hp_uid = sget(meta(hp), "uid");
            int host_deleting = json_object_get(meta(hp), "deletionTimestamp") != NULL;
            if (uid && *uid && huid && *huid && strcmp(uid, huid) != 0) {
                if (!host_deleting)
                    json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op",
                                                          "host-delete", "kind", "Pod", "name",
                                                          hname, "uid", hp_uid, "reason",
                                                          "the tenant pod was recreated"));
            } else if (deleting) {
                if (!host_deleting) {
                    json_t *a = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete", "kind",
                                          "Pod", "name", hname, "uid", hp_uid, "reason",
                                          "the tenant pod is being deleted");
                    json_t *g = json_object_get(md, "deletionGracePeriodSeconds");
                    if (json_is_integer(g)) json_object_set(a, "gracePeriodSeconds", g);
                    json_array_append_new(plan, a);
                }
            } else {
                json_t *desired = NULL;
                char err[256];
                if (vk_translate_pod_to_host(ctx, o, &desired, err, sizeof err) == 0) {
                    json_t *ops = pod_patch(desired, hp);
                    if (json_array_size(ops))
                        json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op",
                                                              "host-patch", "kind", "Pod", "name",
                                                              hname, "patch", guarded(ops, huid)));
                    else
                        json_decref(ops);
                    json_decref(desired);
                }
            }
            /* Status flows back whatever else happens. */
            const char *node = NULL;
            json_t *st = vk_translate_pod_status_to_tenant(hp, &node);
            const json_t *tst = json_object_get(o, "status");
            int differs = 0;
            const char *k;
            json_t *v;
            json_object_foreach(st, k, v)
            {
                json_t *tv = json_object_get(tst, k);
                if (!tv || !json_equal(tv, v)) differs = 1;
            }
            const char *tnode = sget(json_object_get(o, "spec"), "nodeName");
            if (node && (!tnode || strcmp(tnode, node) != 0)) differs = 1;
            if (differs && json_object_size(st)) {
                json_t *a = json_pack("{s:s,s:s,s:s,s:s?,s:O}", "op", "tenant-status", "namespace",
                                      ns, "name", name, "uid", uid, "status", st);
                if (node) json_object_set_new(a, "nodeName", json_string(node));
                json_array_append_new(plan, a);
            }
            json_decref(st);
        } else if (deleting) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "tenant-delete",
                                                  "namespace", ns, "name", name, "uid", uid,
                                                  "reason", "the host pod is gone"));
        } else if (was_synced(o)) {
            if (!terminal(o))
                json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op",
                                                      "tenant-delete", "namespace", ns, "name",
                                                      name, "uid", uid, "reason",
                                                      "the host pod was removed"));
        } else if (!terminal(o)) {
            json_t *desired = NULL;
            char err[256];
            if (vk_translate_pod_to_host(ctx, o, &desired, err, sizeof err) == 0)
                json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-create",
                                                      "kind", "Pod", "name", hname, "object",
                                                      desired));
            else
                json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op",
                                                      "tenant-reject", "namespace", ns, "name",
                                                      name, "uid", uid, "reason", err));
        }
        free(hname);
    }
    json_array_foreach(host_pods, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (!n || json_object_get(seen, n) || !vk_translate_is_ours(ctx, o)) continue;
        if (json_object_get(meta(o), "deletionTimestamp")) continue;
        json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete",
                                              "kind", "Pod", "name", n, "uid",
                                              sget(meta(o), "uid"), "reason",
                                              "no tenant pod for this host pod"));
    }
    json_decref(by_name);
    json_decref(seen);
    return plan;
}

static void add_unique(json_t *arr, const char *name)
{
    if (!name || !*name) return;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (!strcmp(json_string_value(e), name)) return;
    json_array_append_new(arr, json_string(name));
}

json_t *vk_reconcile_pod_refs(const json_t *tenant_pod)
{
    json_t *cms = json_array(), *secs = json_array(), *pvcs = json_array();
    const json_t *spec = json_object_get(tenant_pod, "spec");
    size_t i, j;
    json_t *v, *s;
    json_array_foreach(json_object_get(spec, "volumes"), i, v)
    {
        add_unique(cms, sget(json_object_get(v, "configMap"), "name"));
        add_unique(secs, sget(json_object_get(v, "secret"), "secretName"));
        add_unique(pvcs, sget(json_object_get(v, "persistentVolumeClaim"), "claimName"));
        json_array_foreach(json_object_get(json_object_get(v, "projected"), "sources"), j, s)
        {
            add_unique(cms, sget(json_object_get(s, "configMap"), "name"));
            add_unique(secs, sget(json_object_get(s, "secret"), "name"));
        }
    }
    static const char *const lists[] = {"containers", "initContainers", "ephemeralContainers", NULL};
    for (const char *const *l = lists; *l; l++) {
        json_t *c;
        json_array_foreach(json_object_get(spec, *l), i, c)
        {
            json_array_foreach(json_object_get(c, "env"), j, s)
            {
                json_t *vf = json_object_get(s, "valueFrom");
                add_unique(cms, sget(json_object_get(vf, "configMapKeyRef"), "name"));
                add_unique(secs, sget(json_object_get(vf, "secretKeyRef"), "name"));
            }
            json_array_foreach(json_object_get(c, "envFrom"), j, s)
            {
                add_unique(cms, sget(json_object_get(s, "configMapRef"), "name"));
                add_unique(secs, sget(json_object_get(s, "secretRef"), "name"));
            }
        }
    }
    json_array_foreach(json_object_get(spec, "imagePullSecrets"), i, v)
        add_unique(secs, sget(v, "name"));
    const char *sa = sget(spec, "serviceAccountName");
    return json_pack("{s:o,s:o,s:o,s:s}", "configmaps", cms, "secrets", secs, "pvcs", pvcs,
                     "serviceAccount", sa && *sa ? sa : "default");
}

/* data with stringData folded in (base64), as the API server stores it. */
static json_t *effective_data(const json_t *o)
{
    json_t *data = json_object_get(o, "data");
    json_t *out = json_is_object(data) ? json_deep_copy(data) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(o, "stringData"), k, v)
    {
        const char *s = json_string_value(v);
        if (!s) continue;
        size_t n = strlen(s);
        unsigned char *b = vk_xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock(b, (const unsigned char *)s, (int)n);
        json_object_set_new(out, k, json_string((char *)b));
        free(b);
    }
    return out;
}

json_t *vk_reconcile_configs(const vk_translate_ctx_t *ctx, const char *kind,
                             const json_t *wanted, const json_t *host_objs)
{
    json_t *plan = json_array();
    json_t *by_name = json_object(), *seen = json_object();
    int secret = strcmp(kind, "Secret") == 0;
    size_t i;
    json_t *o;
    json_array_foreach(host_objs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (n) json_object_set(by_name, n, o);
    }
    json_array_foreach(wanted, i, o)
    {
        json_t *desired = NULL;
        char err[256];
        if (vk_translate_config_to_host(ctx, o, &desired, err, sizeof err) != 0) continue;
        const char *hname = sget(meta(desired), "name");
        json_t *h = json_object_get(by_name, hname);
        json_object_set_new(seen, hname, json_true());
        if (h && !vk_translate_is_ours(ctx, h)) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s}", "op", "conflict", "kind",
                                                  kind, "name", hname, "reason",
                                                  "a host object with this name exists and is "
                                                  "not managed by this tenant"));
        } else if (!h) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:O}", "op", "host-create", "kind",
                                                  kind, "name", hname, "object", desired));
        } else {
            json_t *dd = effective_data(desired), *hd = effective_data(h);
            const char *dt = sget(desired, "type"), *ht = sget(h, "type");
            int type_changed = secret && dt && ht && strcmp(dt, ht) != 0;
            int immutable = json_is_true(json_object_get(h, "immutable"));
            json_t *empty = json_object();
            json_t *dbin = json_object_get(desired, "binaryData"), *hbin = json_object_get(h, "binaryData");
            int bin_changed = !secret && !json_equal(dbin ? dbin : empty, hbin ? hbin : empty);
            json_decref(empty);
            int text_changed = !json_equal(dd, hd);
            int data_changed = text_changed || bin_changed;
            if (type_changed || (immutable && data_changed)) {
                json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete",
                                                      "kind", kind, "name", hname, "uid",
                                                      sget(meta(h), "uid"), "reason",
                                                      "immutable content changed: recreate"));
            } else {
                json_t *ops = json_array();
                if (text_changed)
                    op(ops, json_object_get(h, "data") ? "replace" : "add", "/data", json_incref(dd));
                if (bin_changed)
                    op(ops, hbin ? "replace" : "add", "/binaryData",
                       dbin ? json_deep_copy(dbin) : json_object());
                map_ops(ops, "/metadata/labels", json_object_get(meta(desired), "labels"),
                        json_object_get(meta(h), "labels"), 1);
                map_ops(ops, "/metadata/annotations", json_object_get(meta(desired), "annotations"),
                        json_object_get(meta(h), "annotations"), 0);
                if (json_array_size(ops))
                    json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-patch",
                                                          "kind", kind, "name", hname, "patch", ops));
                else
                    json_decref(ops);
            }
            json_decref(dd), json_decref(hd);
        }
        json_decref(desired);
    }
    json_array_foreach(host_objs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (!n || json_object_get(seen, n) || !vk_translate_is_ours(ctx, o)) continue;
        /* Token secrets are the syncer's own, managed with service accounts. */
        if (json_object_get(json_object_get(meta(o), "labels"), "vkube.io/token-for")) continue;
        json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete",
                                              "kind", kind, "name", n, "uid", sget(meta(o), "uid"),
                                              "reason", "no longer referenced by a tenant pod"));
    }
    json_decref(by_name), json_decref(seen);
    return plan;
}

/* Ports as the host stores them: protocol TCP and targetPort = port by default. */
static json_t *norm_ports(const json_t *ports)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(ports, i, p)
    {
        json_t *n = json_object();
        static const char *const keep[] = {"name", "port", "targetPort", "protocol", "appProtocol", NULL};
        for (const char *const *k = keep; *k; k++) {
            json_t *v = json_object_get(p, *k);
            if (v) json_object_set(n, *k, v);
        }
        if (!json_object_get(n, "protocol")) json_object_set_new(n, "protocol", json_string("TCP"));
        if (!json_object_get(n, "targetPort") && json_object_get(n, "port"))
            json_object_set(n, "targetPort", json_object_get(n, "port"));
        json_array_append_new(out, n);
    }
    return out;
}

json_t *vk_reconcile_services(const vk_translate_ctx_t *ctx, const json_t *tenant_svcs,
                              const json_t *host_svcs)
{
    json_t *plan = json_array();
    json_t *by_name = json_object(), *seen = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(host_svcs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (n) json_object_set(by_name, n, o);
    }
    json_array_foreach(tenant_svcs, i, o)
    {
        const json_t *md = meta(o);
        const char *name = sget(md, "name"), *ns = sget(md, "namespace"), *uid = sget(md, "uid");
        if (!name || !ns || json_object_get(md, "deletionTimestamp")) continue;
        json_t *desired = NULL;
        char err[256];
        if (vk_translate_service_to_host(ctx, o, &desired, err, sizeof err) != 0) continue;
        const char *hname = sget(meta(desired), "name");
        json_object_set_new(seen, hname, json_true());
        json_t *h = json_object_get(by_name, hname);
        if (h && !vk_translate_is_ours(ctx, h)) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s}", "op", "conflict", "kind",
                                                  "Service", "name", hname, "reason",
                                                  "a host Service with this name exists and is "
                                                  "not managed by this tenant"));
        } else if (!h) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:O}", "op", "host-create", "kind",
                                                  "Service", "name", hname, "object", desired));
        } else {
            json_t *ops = json_array();
            const json_t *ds = json_object_get(desired, "spec"), *hs = json_object_get(h, "spec");
            json_t *dsel = json_object_get(ds, "selector"), *hsel = json_object_get(hs, "selector");
            if ((dsel || hsel) && !(dsel && hsel && json_equal(dsel, hsel))) {
                if (!dsel) op(ops, "remove", "/spec/selector", NULL);
                else op(ops, hsel ? "replace" : "add", "/spec/selector", json_deep_copy(dsel));
            }
            json_t *dp = norm_ports(json_object_get(ds, "ports")),
                   *hp = norm_ports(json_object_get(hs, "ports"));
            if (!json_equal(dp, hp))
                op(ops, json_object_get(hs, "ports") ? "replace" : "add", "/spec/ports", json_incref(dp));
            json_decref(dp), json_decref(hp);
            map_ops(ops, "/metadata/labels", json_object_get(meta(desired), "labels"),
                    json_object_get(meta(h), "labels"), 1);
            if (json_array_size(ops))
                json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-patch", "kind",
                                                      "Service", "name", hname, "patch",
                                                      guarded(ops, uid)));
            else
                json_decref(ops);
            const char *hip = sget(hs, "clusterIP");
            const char *tip = sget(json_object_get(o, "spec"), "clusterIP");
            if (hip && *hip && (!tip || strcmp(tip, hip) != 0)) {
                json_t *a = json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "tenant-service-ip",
                                      "namespace", ns, "name", name, "uid", uid, "clusterIP", hip);
                json_t *ips = json_object_get(hs, "clusterIPs");
                json_object_set_new(a, "clusterIPs", ips ? json_deep_copy(ips) : json_pack("[s]", hip));
                json_array_append_new(plan, a);
            }
        }
        json_decref(desired);
    }
    json_array_foreach(host_svcs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (!n || json_object_get(seen, n) || !vk_translate_is_ours(ctx, o)) continue;
        json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete", "kind",
                                              "Service", "name", n, "uid", sget(meta(o), "uid"),
                                              "reason", "no tenant Service for this host Service"));
    }
    json_decref(by_name), json_decref(seen);
    return plan;
}

json_t *vk_reconcile_pvcs(const vk_translate_ctx_t *ctx, const json_t *tenant_pvcs,
                          const json_t *wanted, const json_t *host_pvcs)
{
    json_t *plan = json_array();
    json_t *by_name = json_object(), *live = json_object();
    size_t i;
    json_t *o;
    json_array_foreach(host_pvcs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (n) json_object_set(by_name, n, o);
    }
    json_array_foreach(tenant_pvcs, i, o)
    {
        const json_t *md = meta(o);
        const char *ns = sget(md, "namespace"), *name = sget(md, "name"), *uid = sget(md, "uid");
        if (!ns || !name || !uid || json_object_get(md, "deletionTimestamp")) continue;
        char *hname = vk_translate_host_name(name, ns, ctx->tenant->name);
        json_t *h = json_object_get(by_name, hname);
        const char *huid = NULL;
        if (h) vk_translate_tenant_ref(ctx, h, NULL, NULL, &huid, NULL);
        if (h && !vk_translate_is_ours(ctx, h)) {
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s}", "op", "conflict", "kind",
                                                  "PersistentVolumeClaim", "name", hname, "reason",
                                                  "a host object with this name exists and is "
                                                  "not managed by this tenant"));
        } else if (h && huid && strcmp(huid, uid)) {
            /* A claim of the same name recreated in the tenant: the old host
             * claim goes first (it is not live), the new one comes next pass. */
        } else if (!h) {
            json_t *refs = json_object_get(wanted, ns);
            if (json_object_get(refs, name)) {
                json_t *desired = NULL;
                char err[256];
                if (vk_translate_pvc_to_host(ctx, o, &desired, err, sizeof err) == 0)
                    json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-create",
                                                          "kind", "PersistentVolumeClaim", "name",
                                                          hname, "object", desired));
            }
        } else {
            json_object_set_new(live, hname, json_true());
            const char *vn = NULL;
            json_t *st = vk_translate_pvc_status_to_tenant(h, &vn);
            const char *tvn = NULL;
            json_t *tst = vk_translate_pvc_status_to_tenant(o, &tvn); /* the same fields */
            /* volumeName is set once (an unbound claim's); never fought over. */
            int differs = !json_equal(st, tst) || (vn && !tvn);
            json_decref(tst);
            if (differs) {
                json_t *a = json_pack("{s:s,s:s,s:s,s:s,s:O}", "op", "tenant-pvc-status", "namespace",
                                      ns, "name", name, "uid", uid, "status", st);
                if (vn) json_object_set_new(a, "volumeName", json_string(vn));
                json_array_append_new(plan, a);
            }
            json_decref(st);
        }
        free(hname);
    }
    /* Host claims whose tenant claim is gone (or was recreated) go with it;
     * the host's pvc-protection keeps them while a host pod still uses them. */
    json_array_foreach(host_pvcs, i, o)
    {
        const char *n = sget(meta(o), "name");
        if (!n || json_object_get(live, n) || !vk_translate_is_ours(ctx, o)) continue;
        const char *tns, *tname, *tuid;
        if (vk_translate_tenant_ref(ctx, o, &tns, &tname, &tuid, NULL)) continue;
        int exists = 0;
        size_t j;
        json_t *t;
        json_array_foreach(tenant_pvcs, j, t)
        {
            const json_t *md = meta(t);
            if (sget(md, "uid") && tuid && !strcmp(sget(md, "uid"), tuid) &&
                !json_object_get(md, "deletionTimestamp"))
                exists = 1;
        }
        if (exists) continue; /* not yet wanted: left alone */
        if (json_object_get(meta(o), "deletionTimestamp")) continue;
        json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete", "kind",
                                              "PersistentVolumeClaim", "name", n, "uid",
                                              sget(meta(o), "uid"), "reason",
                                              "the tenant claim is gone"));
    }
    json_decref(by_name), json_decref(live);
    return plan;
}
