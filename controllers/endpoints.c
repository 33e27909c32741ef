/* endpoints: the Endpoints and EndpointSlice controllers of the tenant (what
 * kube-controller-manager's endpoint and endpointslice controllers do): for
 * every Service with a selector, the tenant pods it selects that have a
 * status.podIP become the addresses of an Endpoints object of the same name
 * and of EndpointSlices "<svc>-xxxxx" labelled kubernetes.io/service-name and
 * endpointslice.kubernetes.io/managed-by. Services without a selector (and
 * ExternalName ones) are left alone. See controllers.h.
 *
 * Informers on services, pods, endpoints and endpointslices; one queue of
 * service keys "ns/name" drained on a later loop turn; every write is an
 * update with the cached resourceVersion (409: requeue) or a create. A resync
 * every 5 s requeues every service (lost events, failed writes). */
#include "controllers/controllers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "proxy/client.h"

#define MANAGED_BY "endpointslice-controller.k8s.io"
#define MIRRORED_BY "syncer.vkube.io" /* slices older syncers mirrored from the host */
#define SLICE_MAX 100 /* endpoints per slice, as upstream's default */
#define BATCH_MS 10   /* changes gathered before a service is looked at */
/* Pacing, as in controllers.c: a service whose sync took long (many pods, each
 * decoded from the compact pod cache, and large writes) waits PACE_FACTOR
 * times as long, at most PACE_MAX_MS, before its next one. */
#define PACE_MIN_MS 2
#define PACE_FACTOR 4
#define PACE_MAX_MS 250

struct vk_controllers_endpoints {
    vk_client_t *cl;
    vk_client_informer_t *svcs, *eps, *slices;
    vk_client_informer_t *pods; /* its own, or shared (then borrowed) */
    json_t *queue; /* "ns/name" -> true */
    json_t *pace;  /* "ns/name" -> earliest time (ms, uv_hrtime) of its next sync */
    uv_timer_t tick, resync;
    int closing, closed;
    void (*done_cb)(void *arg);
    void *done_arg;
};

typedef struct vk_controllers_endpoints ep_t;

static json_t *md(const json_t *o)
{
    return json_object_get(o, "metadata");
}

static const char *mds(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(md(o), f));
}

static const char *str(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(o, f));
}

/* ------------------------------------------------------------ pure logic */

static int pod_ready(const json_t *p)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(json_object_get(p, "status"), "conditions"), i, c) {
        const char *t = str(c, "type"), *s = str(c, "status");
        if (t && !strcmp(t, "Ready")) return s && !strcmp(s, "True");
    }
    return 0;
}

/* Terminal pods never back a service (upstream's ShouldPodBeInEndpoints). */
static int pod_terminal(const json_t *p)
{
    const char *ph = str(json_object_get(p, "status"), "phase");
    return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

static const char *pod_ipv4(const json_t *p)
{
    const char *ip = str(json_object_get(p, "status"), "podIP");
    return ip && *ip && strchr(ip, '.') && !strchr(ip, ':') ? ip : NULL;
}

int vk_controllers_endpoints_selects(const json_t *svc, const json_t *pod)
{
    json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
    if (!json_is_object(sel) || !json_object_size(sel)) return 0;
    json_t *labels = json_object_get(md(pod), "labels");
    const char *k;
    json_t *v;
    json_object_foreach(sel, k, v) {
        const char *pv = str(labels, k);
        if (!pv || !json_string_value(v) || strcmp(pv, json_string_value(v))) return 0;
    }
    return 1;
}

/* The pod's port for a service port: targetPort as a number, or the named
 * container port with the same protocol; 0 if the pod has no such port. */
static long target_port(const json_t *sp, const json_t *pod)
{
    json_t *tp = json_object_get(sp, "targetPort");
    if (json_is_integer(tp)) return (long)json_integer_value(tp);
    const char *name = json_string_value(tp);
    if (!name || !*name) return (long)json_integer_value(json_object_get(sp, "port"));
    char *end;
    long n = strtol(name, &end, 10);
    if (!*end) return n;
    const char *proto = str(sp, "protocol") ? str(sp, "protocol") : "TCP";
    size_t i, j;
    json_t *c, *cp;
    json_array_foreach(json_object_get(json_object_get(pod, "spec"), "containers"), i, c) {
        json_array_foreach(json_object_get(c, "ports"), j, cp) {
            const char *pn = str(cp, "name"), *pp = str(cp, "protocol") ? str(cp, "protocol") : "TCP";
            if (pn && !strcmp(pn, name) && !strcmp(pp, proto))
                return (long)json_integer_value(json_object_get(cp, "containerPort"));
        }
    }
    return 0;
}

/* The ports of the service resolved against one pod: [{name?,port,protocol,appProtocol?}]. */
static json_t *pod_ports(const json_t *svc, const json_t *pod, int *missing)
{
    json_t *out = json_array();
    size_t i;
    json_t *sp;
    *missing = 0;
    json_array_foreach(json_object_get(json_object_get(svc, "spec"), "ports"), i, sp) {
        long port = target_port(sp, pod);
        if (port <= 0) {
            (*missing)++;
            continue;
        }
        json_t *e = json_object();
        if (str(sp, "name") && *str(sp, "name")) json_object_set(e, "name", json_object_get(sp, "name"));
        json_object_set_new(e, "port", json_integer(port));
        json_object_set_new(e, "protocol",
                            json_string(str(sp, "protocol") ? str(sp, "protocol") : "TCP"));
        if (str(sp, "appProtocol")) json_object_set(e, "appProtocol", json_object_get(sp, "appProtocol"));
        json_array_append_new(out, e);
    }
    return out;
}

static json_t *target_ref(const json_t *pod)
{
    return json_pack("{s:s,s:s,s:s,s:s}", "kind", "Pod", "namespace", mds(pod, "namespace") ?: "",
                     "name", mds(pod, "name") ?: "", "uid", mds(pod, "uid") ?: "");
}

static int cmp_addr(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    unsigned xa[4] = {0}, ya[4] = {0};
    sscanf(str(x, "ip"), "%u.%u.%u.%u", &xa[0], &xa[1], &xa[2], &xa[3]);
    sscanf(str(y, "ip"), "%u.%u.%u.%u", &ya[0], &ya[1], &ya[2], &ya[3]);
    for (int i = 0; i < 4; i++)
        if (xa[i] != ya[i]) return xa[i] < ya[i] ? -1 : 1;
    const char *ux = str(json_object_get(x, "targetRef"), "uid");
    const char *uy = str(json_object_get(y, "targetRef"), "uid");
    return strcmp(ux ? ux : "", uy ? uy : "");
}

static void sort_addrs(json_t *arr)
{
    size_t n = json_array_size(arr);
    if (n < 2) return;
    json_t **v = vk_xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof *v, cmp_addr);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) json_array_append_new(arr, v[i]);
    free(v);
}

static int headless(const json_t *svc)
{
    const char *ip = str(json_object_get(svc, "spec"), "clusterIP");
    return ip && !strcmp(ip, "None");
}

json_t *vk_controllers_endpoints_subsets(const json_t *svc, const json_t *pods)
{
    json_t *spec = json_object_get(svc, "spec");
    int publish = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
    int no_ports = !json_array_size(json_object_get(spec, "ports"));
    if (no_ports && !headless(svc)) return json_array();
    /* Pods grouped by their resolved port list: one subset per distinct list. */
    json_t *groups = json_object(); /* ports JSON -> {ports, addresses, notReadyAddresses} */
    json_t *order = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        const char *ip = pod_ipv4(p);
        if (!ip || pod_terminal(p)) continue;
        if (json_object_get(md(p), "deletionTimestamp") && !publish) continue;
        int missing;
        json_t *ports = pod_ports(svc, p, &missing);
        if (!no_ports && !json_array_size(ports)) {
            json_decref(ports);
            continue;
        }
        char *gk = json_dumps(ports, JSON_COMPACT);
        json_t *g = json_object_get(groups, gk);
        if (!g) {
            g = json_pack("{s:O,s:[],s:[]}", "ports", ports, "addresses", "notReadyAddresses");
            json_object_set_new(groups, gk, g);
            json_array_append_new(order, json_string(gk));
        }
        free(gk);
        json_decref(ports);
        json_t *a = json_pack("{s:s}", "ip", ip);
        const char *host = str(json_object_get(p, "spec"), "hostname");
        const char *sub = str(json_object_get(p, "spec"), "subdomain");
        if (host && *host && sub && !strcmp(sub, mds(svc, "name") ?: ""))
            json_object_set_new(a, "hostname", json_string(host));
        const char *node = str(json_object_get(p, "spec"), "nodeName");
        if (node && *node) json_object_set_new(a, "nodeName", json_string(node));
        json_object_set_new(a, "targetRef", target_ref(p));
        json_array_append_new(json_object_get(g, publish || pod_ready(p) ? "addresses"
                                                                         : "notReadyAddresses"),
                              a);
    }
    json_t *out = json_array();
    json_t *gkv;
    json_array_foreach(order, i, gkv) {
        json_t *g = json_object_get(groups, json_string_value(gkv));
        json_t *s = json_object();
        json_t *a = json_object_get(g, "addresses"), *n = json_object_get(g, "notReadyAddresses");
        sort_addrs(a);
        sort_addrs(n);
        if (json_array_size(a)) json_object_set(s, "addresses", a);
        if (json_array_size(n)) json_object_set(s, "notReadyAddresses", n);
        if (json_array_size(json_object_get(g, "ports")))
            json_object_set(s, "ports", json_object_get(g, "ports"));
        json_array_append_new(out, s);
    }
    json_decref(order);
    json_decref(groups);
    return out;
}

json_t *vk_controllers_endpoints_slice_endpoints(const json_t *svc, const json_t *pods,
                                                 json_t **ports_out)
{
    json_t *spec = json_object_get(svc, "spec");
    int publish = json_is_true(json_object_get(spec, "publishNotReadyAddresses"));
    json_t *eps = json_array();
    json_t *ports = NULL;
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p) {
        const char *ip = pod_ipv4(p);
        if (!ip || pod_terminal(p)) continue;
        int missing;
        json_t *pp = pod_ports(svc, p, &missing);
        /* One port list per slice: the first pod's decides (pods with other
         * named-port numbers would need slices of their own; rare). */
        if (!ports) {
            ports = json_incref(pp);
        } else if (!json_equal(ports, pp)) {
            json_decref(pp);
            continue;
        }
        json_decref(pp);
        int term = json_object_get(md(p), "deletionTimestamp") != NULL;
        int ready = publish || pod_ready(p);
        json_t *e = json_pack("{s:[s],s:{s:b,s:b,s:b}}", "addresses", ip, "conditions", "ready",
                              ready && !term, "serving", ready, "terminating", term);
        const char *host = str(json_object_get(p, "spec"), "hostname");
        const char *sub = str(json_object_get(p, "spec"), "subdomain");
        if (host && *host && sub && !strcmp(sub, mds(svc, "name") ?: ""))
            json_object_set_new(e, "hostname", json_string(host));
        json_object_set_new(e, "targetRef", target_ref(p));
        const char *node = str(json_object_get(p, "spec"), "nodeName");
        if (node && *node) json_object_set_new(e, "nodeName", json_string(node));
        json_array_append_new(eps, e);
    }
    *ports_out = ports ? ports : json_array();
    return eps;
}

/* ------------------------------------------------------------ controller */

typedef struct wctx {
    ep_t *e;
    char key[600];
} wctx_t;

static void kick(ep_t *e);

static void on_write(void *arg, int status, json_t *obj)
{
    wctx_t *w = arg;
    if (status && (status < 200 || status >= 300) && !w->e->closing) {
        if (status != 409 && status != 404)
            vk_log_warn("endpoints controller: write for %s: %d %s", w->key, status,
                        str(obj, "message") ?: "");
        if (status == 409) {
            json_object_set_new(w->e->queue, w->key, json_true());
            kick(w->e);
        }
    }
    free(w);
}

static wctx_t *wctx(ep_t *e, const char *key)
{
    wctx_t *w = vk_xcalloc(1, sizeof *w);
    w->e = e;
    snprintf(w->key, sizeof w->key, "%s", key);
    return w;
}

/* Service labels plus the ones upstream adds. */
static json_t *labels_for(const json_t *svc, int slice)
{
    json_t *l = json_deep_copy(json_object_get(md(svc), "labels"));
    if (!json_is_object(l)) {
        json_decref(l);
        l = json_object();
    }
    if (headless(svc))
        json_object_set_new(l, "service.kubernetes.io/headless", json_string(""));
    else
        json_object_del(l, "service.kubernetes.io/headless");
    if (slice) {
        json_object_set_new(l, "kubernetes.io/service-name", json_string(mds(svc, "name")));
        json_object_set_new(l, "endpointslice.kubernetes.io/managed-by", json_string(MANAGED_BY));
    }
    return l;
}

static int eq_or_empty(const json_t *a, const json_t *b)
{
    size_t na = json_is_array(a) ? json_array_size(a) : json_is_object(a) ? json_object_size(a) : 0;
    size_t nb = json_is_array(b) ? json_array_size(b) : json_is_object(b) ? json_object_size(b) : 0;
    if (!na && !nb) return 1;
    return json_equal((json_t *)a, (json_t *)b);
}

static void sync_endpoints(ep_t *e, const char *key, const json_t *svc, json_t *pods)
{
    const char *ns = mds(svc, "namespace"), *name = mds(svc, "name");
    json_t *subsets = vk_controllers_endpoints_subsets(svc, pods);
    json_t *labels = labels_for(svc, 0);
    json_t *cur = vk_client_informer_get(e->eps, ns, name);
    if (cur && eq_or_empty(json_object_get(cur, "subsets"), subsets) &&
        eq_or_empty(json_object_get(md(cur), "labels"), labels)) {
        json_decref(subsets);
        json_decref(labels);
        return;
    }
    json_t *o = cur ? json_deep_copy(cur)
                    : json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "Endpoints",
                                "metadata", "name", name, "namespace", ns);
    json_object_set_new(md(o), "labels", labels);
    if (json_array_size(subsets))
        json_object_set_new(o, "subsets", subsets);
    else {
        json_object_del(o, "subsets");
        json_decref(subsets);
    }
    if (cur) {
        char *path = vk_client_path("", "v1", "endpoints", ns, name, NULL);
        vk_client_update(e->cl, path, o, on_write, wctx(e, key));
        free(path);
    } else {
        char *path = vk_client_path("", "v1", "endpoints", ns, NULL, NULL);
        vk_client_create(e->cl, path, o, on_write, wctx(e, key));
        free(path);
    }
    json_decref(o);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(mds(*(json_t *const *)a, "name") ?: "", mds(*(json_t *const *)b, "name") ?: "");
}

static int our_slice(const json_t *sl, const char *ns, const char *svc)
{
    json_t *l = json_object_get(md(sl), "labels");
    const char *s = str(l, "kubernetes.io/service-name"), *m = str(l, "endpointslice.kubernetes.io/managed-by");
    return s && m && !strcmp(m, MANAGED_BY) && !strcmp(mds(sl, "namespace") ?: "", ns) &&
           (!svc || !strcmp(s, svc));
}

static void delete_slice(ep_t *e, const char *key, const json_t *sl)
{
    char *path = vk_client_path("discovery.k8s.io", "v1", "endpointslices", mds(sl, "namespace"),
                                mds(sl, "name"), NULL);
    vk_client_delete(e->cl, path, NULL, on_write, wctx(e, key));
    free(path);
}

static void sync_slices(ep_t *e, const char *key, const json_t *svc, json_t *pods)
{
    const char *ns = mds(svc, "namespace"), *name = mds(svc, "name");
    json_t *ports;
    json_t *eps = vk_controllers_endpoints_slice_endpoints(svc, pods, &ports);
    json_t *labels = labels_for(svc, 1);
    /* Existing slices of this service, by name for a stable assignment. */
    json_t *have = json_array();
    const char *k;
    json_t *sl;
    json_object_foreach(vk_client_informer_items(e->slices), k, sl)
        if (our_slice(sl, ns, name)) json_array_append(have, sl);
    size_t nh = json_array_size(have);
    json_t **hv = vk_xmalloc((nh + 1) * sizeof *hv);
    for (size_t i = 0; i < nh; i++) hv[i] = json_array_get(have, i);
    qsort(hv, nh, sizeof *hv, cmp_name);
    size_t ne = json_array_size(eps);
    size_t want = ne ? (ne + SLICE_MAX - 1) / SLICE_MAX : 1; /* an empty placeholder when none */
    json_t *owner = json_pack("[{s:s,s:s,s:s,s:s,s:b,s:b}]", "apiVersion", "v1", "kind", "Service",
                              "name", name, "uid", mds(svc, "uid") ?: "", "controller", 1,
                              "blockOwnerDeletion", 1);
    for (size_t i = 0; i < want; i++) {
        json_t *chunk = json_array();
        for (size_t j = i * SLICE_MAX; j < ne && j < (i + 1) * SLICE_MAX; j++)
            json_array_append(chunk, json_array_get(eps, j));
        json_t *cur = i < nh ? hv[i] : NULL;
        if (cur && eq_or_empty(json_object_get(cur, "endpoints"), chunk) &&
            eq_or_empty(json_object_get(cur, "ports"), ports) &&
            json_equal(json_object_get(md(cur), "labels"), labels) &&
            str(cur, "addressType") && !strcmp(str(cur, "addressType"), "IPv4")) {
            json_decref(chunk);
            continue;
        }
        json_t *o;
        if (cur) {
            o = json_deep_copy(cur);
        } else {
            char gen[300];
            snprintf(gen, sizeof gen, "%s-", name);
            o = json_pack("{s:s,s:s,s:{s:s,s:s,s:O},s:s}", "apiVersion", "discovery.k8s.io/v1",
                          "kind", "EndpointSlice", "metadata", "generateName", gen, "namespace",
                          ns, "ownerReferences", owner, "addressType", "IPv4");
        }
        json_object_set(md(o), "labels", labels);
        /* An empty placeholder slice has no endpoints and no ports, as upstream's. */
        if (json_array_size(chunk))
            json_object_set_new(o, "endpoints", chunk);
        else {
            json_object_del(o, "endpoints");
            json_decref(chunk);
        }
        if (json_array_size(ports))
            json_object_set(o, "ports", ports);
        else
            json_object_del(o, "ports");
        if (cur) {
            char *path = vk_client_path("discovery.k8s.io", "v1", "endpointslices", ns,
                                        mds(cur, "name"), NULL);
            vk_client_update(e->cl, path, o, on_write, wctx(e, key));
            free(path);
        } else {
            char *path = vk_client_path("discovery.k8s.io", "v1", "endpointslices", ns, NULL, NULL);
            vk_client_create(e->cl, path, o, on_write, wctx(e, key));
            free(path);
        }
        json_decref(o);
    }
    for (size_t i = want; i < nh; i++) delete_slice(e, key, hv[i]);
    free(hv);
    json_decref(owner);
    json_decref(have);
    json_decref(labels);
    json_decref(eps);
    json_decref(ports);
}

/* Everything this controller made for a service that is gone or no longer selects. */
static void cleanup(ep_t *e, const char *key, const char *ns, const char *name, int endpoints)
{
    const char *k;
    json_t *sl;
    json_object_foreach(vk_client_informer_items(e->slices), k, sl)
        if (our_slice(sl, ns, name)) delete_slice(e, key, sl);
    json_t *cur = endpoints ? vk_client_informer_get(e->eps, ns, name) : NULL;
    if (cur) {
        char *path = vk_client_path("", "v1", "endpoints", ns, name, NULL);
        vk_client_delete(e->cl, path, NULL, on_write, wctx(e, key));
        free(path);
    }
}

static int has_selector(const json_t *svc)
{
    json_t *spec = json_object_get(svc, "spec");
    json_t *sel = json_object_get(spec, "selector");
    const char *type = str(spec, "type");
    return json_is_object(sel) && json_object_size(sel) && !(type && !strcmp(type, "ExternalName"));
}

/* 1 if s is written as is inside a JSON string (nothing escaped). */
static int plain_json(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) return 0;
    return 1;
}

/* Pre-test of the pods a selector (arg) may select: their compact text holds
 * every "key":"value" pair of it, as labels are written. */
static int selected_text(void *arg, const char *text, size_t len)
{
    json_t *sel = arg;
    const char *k;
    json_t *v;
    char pair[600];
    json_object_foreach(sel, k, v) {
        const char *s = json_string_value(v);
        if (!s || !plain_json(k) || !plain_json(s)) continue; /* not tested */
        int n = snprintf(pair, sizeof pair, "\"%s\":\"%s\"", k, s);
        if (n > 0 && (size_t)n < sizeof pair && !memmem(text, len, pair, (size_t)n)) return 0;
    }
    return 1;
}

static void sync_service(ep_t *e, const char *key)
{
    char ns[300];
    const char *slash = strchr(key, '/');
    if (!slash || (size_t)(slash - key) >= sizeof ns) return;
    memcpy(ns, key, (size_t)(slash - key));
    ns[slash - key] = 0;
    const char *name = slash + 1;
    json_t *svc = vk_client_informer_get(e->svcs, ns, name);
    if (!svc) {
        /* Gone: upstream deletes the Endpoints; the slices are owned by it. */
        cleanup(e, key, ns, name, 1);
        return;
    }
    if (!has_selector(svc)) {
        /* Without a selector the user manages Endpoints; only our slices go. */
        cleanup(e, key, ns, name, 0);
        return;
    }
    json_t *pods = json_array();
    vk_client_iter_t it;
    json_t *p;
    json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
    vk_client_informer_foreach_where(e->pods, ns, selected_text, sel, it, p)
        if (vk_controllers_endpoints_selects(svc, p)) json_array_append(pods, p);
    json_t **v = NULL;
    size_t n = json_array_size(pods);
    if (n > 1) {
        v = vk_xmalloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(pods, i));
        qsort(v, n, sizeof *v, cmp_name);
        json_array_clear(pods);
        for (size_t i = 0; i < n; i++) json_array_append_new(pods, v[i]);
        free(v);
    }
    sync_endpoints(e, key, svc, pods);
    sync_slices(e, key, svc, pods);
    json_decref(pods);
}

static json_int_t now_ms(void)
{
    return (json_int_t)(uv_hrtime() / 1000000);
}

static void on_tick(uv_timer_t *t)
{
    ep_t *e = t->data;
    if (!vk_client_informer_synced(e->svcs) || !vk_client_informer_synced(e->pods) ||
        !vk_client_informer_synced(e->eps) || !vk_client_informer_synced(e->slices))
        return;
    json_t *q = e->queue;
    e->queue = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(q, key, v) {
        if (e->closing) break;
        json_t *due = json_object_get(e->pace, key);
        if (due && json_integer_value(due) > now_ms()) {
            json_object_set_new(e->queue, key, json_true()); /* later: kick() */
            continue;
        }
        if (due) json_object_del(e->pace, key);
        uint64_t t0 = uv_hrtime();
        sync_service(e, key);
        long ms = (long)((uv_hrtime() - t0) / 1000000);
        if (ms >= PACE_MIN_MS && !e->closing)
            json_object_set_new(e->pace, key,
                                json_integer(now_ms() + (ms * PACE_FACTOR < PACE_MAX_MS
                                                             ? ms * PACE_FACTOR
                                                             : PACE_MAX_MS)));
    }
    json_decref(q);
    kick(e);
}

/* Runs the queue after BATCH_MS, or when its first paced key is due. */
static void kick(ep_t *e)
{
    if (e->closing || !json_object_size(e->queue)) return;
    json_int_t now = now_ms(), wait = -1;
    const char *key;
    json_t *v;
    json_object_foreach(e->queue, key, v) {
        json_t *due = json_object_get(e->pace, key);
        json_int_t d = due && json_integer_value(due) > now ? json_integer_value(due) - now : 0;
        if (wait < 0 || d < wait) wait = d;
        if (!wait) break;
    }
    uv_timer_start(&e->tick, on_tick, (uint64_t)(wait < BATCH_MS ? BATCH_MS : wait), 0);
}

static void enqueue(ep_t *e, const char *ns, const char *name)
{
    if (e->closing || !name) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", ns ? ns : "", name);
    json_object_set_new(e->queue, key, json_true());
}

static void on_svc(void *arg, int type, json_t *o)
{
    ep_t *e = arg;
    enqueue(e, mds(o, "namespace"), mds(o, "name"));
    kick(e);
}

/* A pod changed: every service of its namespace that selects it now, or
 * lists it in its Endpoints (it may have stopped matching), looks again. */
static void on_pod(void *arg, int type, json_t *p)
{
    ep_t *e = arg;
    const char *ns = mds(p, "namespace") ?: "", *pname = mds(p, "name") ?: "";
    const char *k;
    json_t *svc;
    json_object_foreach(vk_client_informer_items(e->svcs), k, svc) {
        if (strcmp(mds(svc, "namespace") ?: "", ns) || !has_selector(svc)) continue;
        int hit = vk_controllers_endpoints_selects(svc, p);
        if (!hit) {
            json_t *ep = vk_client_informer_get(e->eps, ns, mds(svc, "name"));
            size_t i, j;
            json_t *s, *a;
            json_array_foreach(json_object_get(ep, "subsets"), i, s) {
                const char *lists[] = {"addresses", "notReadyAddresses"};
                for (int l = 0; l < 2 && !hit; l++)
                    json_array_foreach(json_object_get(s, lists[l]), j, a) {
                        const char *n = str(json_object_get(a, "targetRef"), "name");
                        if (n && !strcmp(n, pname)) hit = 1;
                    }
            }
            /* Terminating pods are only in the slices. */
            if (!hit && json_object_get(md(p), "deletionTimestamp")) hit = 1;
        }
        if (hit) enqueue(e, ns, mds(svc, "name"));
    }
    kick(e);
}

/* Endpoints or a slice changed under us (a user edit, our own write): the
 * owning service looks again; the comparison makes that a no-op when equal. */
static void on_ep(void *arg, int type, json_t *o)
{
    ep_t *e = arg;
    if (type == VK_CLIENT_MODIFIED || type == VK_CLIENT_ADDED) return;
    enqueue(e, mds(o, "namespace"), mds(o, "name"));
    kick(e);
}

static void on_slice(void *arg, int type, json_t *o)
{
    ep_t *e = arg;
    if (!our_slice(o, mds(o, "namespace") ?: "", NULL)) return;
    if (type == VK_CLIENT_ADDED && vk_client_informer_synced(e->slices)) return;
    enqueue(e, mds(o, "namespace"), str(json_object_get(md(o), "labels"), "kubernetes.io/service-name"));
    kick(e);
}

static void on_synced(void *arg)
{
    ep_t *e = arg;
    /* Once all four caches are loaded, look at every service and every
     * slice's service (orphans of deleted services are cleaned up). */
    if (!vk_client_informer_synced(e->svcs) || !vk_client_informer_synced(e->pods) ||
        !vk_client_informer_synced(e->eps) || !vk_client_informer_synced(e->slices))
        return;
    const char *k;
    json_t *o;
    json_object_foreach(vk_client_informer_items(e->svcs), k, o)
        enqueue(e, mds(o, "namespace"), mds(o, "name"));
    json_object_foreach(vk_client_informer_items(e->slices), k, o) {
        const char *m = str(json_object_get(md(o), "labels"), "endpointslice.kubernetes.io/managed-by");
        if (our_slice(o, mds(o, "namespace") ?: "", NULL))
            enqueue(e, mds(o, "namespace"),
                    str(json_object_get(md(o), "labels"), "kubernetes.io/service-name"));
        else if (m && !strcmp(m, MIRRORED_BY))
            delete_slice(e, "", o); /* left by the syncer's former mirroring */
    }
    kick(e);
}

static void on_resync(uv_timer_t *t)
{
    ep_t *e = t->data;
    /* Pacing entries that are past (services not synced since). */
    json_int_t now = now_ms();
    void *tmp;
    const char *k;
    json_t *v;
    json_object_foreach_safe(e->pace, tmp, k, v) {
        if (json_integer_value(v) <= now) json_object_del(e->pace, k);
    }
    on_synced(e);
}

vk_controllers_endpoints_t *vk_controllers_endpoints_start(uv_loop_t *loop,
                                                           vk_http_handler_cb handler, void *ctx,
                                                           vk_client_informer_t *pods)
{
    ep_t *e = vk_xcalloc(1, sizeof *e);
    static const char *const groups[] = {"system:masters", NULL};
    e->cl = vk_client_new(loop, handler, ctx, "system:serviceaccount:kube-system:endpoint-controller",
                          groups);
    e->queue = json_object();
    e->pace = json_object();
    uv_timer_init(loop, &e->tick);
    uv_timer_init(loop, &e->resync);
    e->tick.data = e->resync.data = e;
    char *p = vk_client_path("", "v1", "services", NULL, NULL, NULL);
    e->svcs = vk_client_informer_new(e->cl, p, on_svc, on_synced, e);
    free(p);
    if (pods) {
        /* Shared: one cache of the tenant's pods for every controller. */
        e->pods = pods;
        vk_client_informer_add_handler(pods, on_pod, on_synced, e);
    } else {
        p = vk_client_path("", "v1", "pods", NULL, NULL, NULL);
        e->pods = vk_client_informer_new(e->cl, p, on_pod, on_synced, e);
        vk_client_informer_keep(e->pods, VK_CONTROLLERS_ENDPOINTS_POD_FIELDS);
        vk_client_informer_set_compact(e->pods);
        free(p);
    }
    p = vk_client_path("", "v1", "endpoints", NULL, NULL, NULL);
    e->eps = vk_client_informer_new(e->cl, p, on_ep, on_synced, e);
    free(p);
    p = vk_client_path("discovery.k8s.io", "v1", "endpointslices", NULL, NULL, NULL);
    e->slices = vk_client_informer_new(e->cl, p, on_slice, on_synced, e);
    free(p);
    uv_timer_start(&e->resync, on_resync, 5000, 5000);
    return e;
}

static void on_closed(uv_handle_t *h)
{
    ep_t *e = h->data;
    if (++e->closed == 3) {
        void (*done)(void *) = e->done_cb;
        void *arg = e->done_arg;
        json_decref(e->queue);
        json_decref(e->pace);
        free(e);
        if (done) done(arg);
    }
}

static void on_client_closed(void *arg)
{
    ep_t *e = arg;
    on_closed((uv_handle_t *)&e->tick);
}

void vk_controllers_endpoints_stop(vk_controllers_endpoints_t *e, void (*done_cb)(void *arg),
                                   void *arg)
{
    e->closing = 1;
    e->done_cb = done_cb;
    e->done_arg = arg;
    vk_client_close(e->cl, on_client_closed, e);
    uv_close((uv_handle_t *)&e->tick, on_closed);
    uv_close((uv_handle_t *)&e->resync, on_closed);
}
