/* apiserver: the tenant API's request entry point. Routes each request
 * (health, version, metrics, discovery, resources), authenticates (anonymous
 * only for health and version), authorizes (system:masters, else RBAC over the
 * tenant's stored roles) and hands resource requests to proxy/rest.c or
 * proxy/watch.c. Owns the resource table, metrics and REST context.
 * Besides the Kubernetes paths it serves POST /debug/vkube/compact[?revision=N]
 * (system:masters or an RBAC nonResourceURL rule) to compact the store now. */
#include "apiserver.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "proxy/crdserve.h"
#include "proxy/discovery.h"
#include "proxy/gc.h"
#include "proxy/metrics.h"
#include "proxy/openapi.h"
#include "proxy/podsecurity.h"
#include "proxy/quota.h"
#include "proxy/rbac.h"
#include "proxy/resources.h"
#include "proxy/rest.h"
#include "proxy/satoken.h"
#include "proxy/status.h"
#include "proxy/watch.h"

/* The Kubernetes version this server reports: kubectl's version dispatcher
 * picks kubectl 1.33 for it. */
#define K8S_MAJOR "1"
#define K8S_MINOR "33"
#define K8S_GIT_VERSION "v1.33.0+vkube"

struct vk_apiserver {
    vk_rest_ctx_t rest;
    vk_resources_t *resources;
    vk_metrics_t *metrics;
    char *external_address;
    vk_openapi_t *openapi; /* built on first use, rebuilt when the table changes */
    vk_crdserve_t *crds;   /* custom resources */
    unsigned openapi_gen;  /* vk_crdserve_generation the OpenAPI was built at */
    int ready;
    /* pods/exec|attach|portforward relay (vk_apiserver_config_t.pod_stream) */
    void (*pod_stream)(void *arg, vk_http_req_t *req, const char *sub, const char *ns,
                       const char *name);
    void *pod_stream_arg;
    vk_gc_t *gc;           /* garbage collector (proxy/gc.h) */
    int closing;           /* ns_timer and gc still to stop before the free */
};

static char *read_file(const char *path)
{
    if (!path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = vk_xmalloc(cap);
    size_t r;
    while ((r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap) b = vk_xrealloc(b, cap *= 2);
    }
    fclose(f);
    b[n] = 0;
    return b;
}

static void on_crd_rows_removed(void *arg, const char *group, const char *plural)
{
    vk_apiserver_t *api = arg;
    vk_watch_stop_resource(&api->rest, group, plural);
}

static void on_bootstrapped(void *arg)
{
    vk_apiserver_t *api = arg;
    api->ready = 1;
}

int vk_apiserver_new(uv_loop_t *loop, vk_store_t *store, const vk_apiserver_config_t *cfg,
                     vk_apiserver_t **out)
{
    vk_podsecurity_level_t floor = VK_PODSECURITY_BASELINE;
    if (cfg && cfg->pod_security && vk_podsecurity_parse_level(cfg->pod_security, &floor)) {
        vk_log_error("apiserver: unknown pod security level \"%s\"", cfg->pod_security);
        return VK_EINVALID;
    }
    vk_apiserver_t *api = vk_xcalloc(1, sizeof *api);
    api->resources = vk_resources_new();
    api->metrics = vk_metrics_new();
    api->external_address = vk_xstrdup(cfg && cfg->external_address ? cfg->external_address : "");
    vk_rest_ctx_t *r = &api->rest;
    r->loop = loop;
    r->store = store;
    /* Every namespaced create reads its namespace (existence, termination,
     * Pod Security labels) and the ResourceQuotas that apply (quota
     * admission): keep both in memory. */
    vk_store_cache_prefix(store, "/core/namespaces/");
    vk_store_cache_prefix(store, "/core/resourcequotas/");
    r->resources = api->resources;
    r->metrics = api->metrics;
    r->ca_pem = read_file(cfg ? cfg->ca_cert_file : NULL);
    r->pod_security_floor = (int)floor;
    r->pod_log = cfg ? cfg->pod_log : NULL;
    r->pod_log_arg = cfg ? cfg->pod_log_arg : NULL;
    api->pod_stream = cfg ? cfg->pod_stream : NULL;
    api->pod_stream_arg = cfg ? cfg->pod_stream_arg : NULL;
    if (!r->ca_pem) r->ca_pem = vk_xstrdup("");
    if (cfg && cfg->sa_key_file && vk_satoken_new(cfg->sa_key_file, NULL, &r->satoken))
        vk_log_warn("apiserver: cannot load %s: service-account tokens disabled",
                    cfg->sa_key_file);
    const char *bm = getenv("VKUBE_WATCH_BOOKMARK_MS");
    if (bm) vk_watch_set_bookmark_ms(r, atoi(bm));
    uv_timer_init(loop, &r->ns_timer);
    int rc = vk_crdserve_new(store, api->resources, &api->crds);
    if (rc) return rc;
    r->crds = api->crds;
    vk_crdserve_on_removed(api->crds, on_crd_rows_removed, api);
    if (vk_quota_tenant_install(store, cfg ? cfg->quota : NULL))
        vk_log_warn("apiserver: cannot write the tenant quota");
    rc = vk_rest_bootstrap(r, on_bootstrapped, api);
    if (rc) vk_log_warn("apiserver: bootstrap: %s", vk_err_name(rc));
    api->gc = vk_gc_start(loop, store, api->resources, vk_apiserver_handle, api);
    *out = api;
    return 0;
}

/* The OpenAPI documents of every row of the resource table. */
static vk_openapi_t *openapi_of(vk_apiserver_t *api)
{
    if (api->openapi && api->openapi_gen == vk_crdserve_generation(api->crds))
        return api->openapi;
    vk_openapi_free(api->openapi);
    api->openapi_gen = vk_crdserve_generation(api->crds);
    size_t n = vk_resources_count(api->resources);
    vk_openapi_resource_t *rows = vk_xcalloc(n ? n : 1, sizeof *rows);
    const char **verbs = vk_xcalloc(n * (VK_VERB_COUNT + 1) + 1, sizeof *verbs);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(api->resources, i);
        const char **v = verbs + i * (VK_VERB_COUNT + 1);
        size_t k = 0;
        for (int b = 0; b < VK_VERB_COUNT; b++)
            if (r->verbs & (1u << b)) v[k++] = vk_resources_verb_name(1u << b);
        rows[i] = (vk_openapi_resource_t){r->group, r->version, r->kind, r->plural,
                                          (r->flags & VK_RES_NAMESPACED) != 0, v,
                                          (r->flags & VK_RES_STATUS) != 0,
                                          (r->flags & VK_RES_SCALE) != 0};
    }
    api->openapi = vk_openapi_new(rows, n, "v1.33.0");
    vk_crdserve_apply_openapi(api->crds, api->openapi);
    free(rows);
    free(verbs);
    return api->openapi;
}

static void on_ns_timer_closed(uv_handle_t *h)
{
    vk_apiserver_t *api = h->data;
    /* The collector's requests in flight run through this layer until it stops. */
    if (--api->closing) return;
    vk_openapi_free(api->openapi);
    vk_resources_free(api->resources);
    vk_metrics_free(api->metrics);
    free(api->rest.ca_pem);
    vk_satoken_free(api->rest.satoken);
    free(api->external_address);
    free(api);
}

static void on_gc_stopped(void *arg)
{
    vk_apiserver_t *api = arg;
    on_ns_timer_closed((uv_handle_t *)&api->rest.ns_timer);
}

void vk_apiserver_free(vk_apiserver_t *api)
{
    if (!api) return;
    vk_watch_stop_all(&api->rest);
    vk_crdserve_free(api->crds);
    vk_quota_ctx_free(&api->rest);
    vk_rest_ctx_close(&api->rest);
    api->rest.ns_timer.data = api;
    api->closing = 2;
    vk_gc_stop(api->gc, on_gc_stopped, api);
    uv_close((uv_handle_t *)&api->rest.ns_timer, on_ns_timer_closed);
}

int vk_apiserver_ready(const vk_apiserver_t *api)
{
    return api->ready;
}

int vk_apiserver_authenticate_token(void *ctx, const char *token, vk_pool_t *pool,
                                    vk_http_user_t *user)
{
    vk_apiserver_t *api = ctx;
    return vk_satoken_authenticate(api->rest.satoken, api->rest.store, token, NULL, pool, user,
                                   NULL, NULL, 0);
}

/* ------------------------------------------------------------------ replies */

static void respond_json(vk_apiserver_t *api, vk_http_req_t *req, const char *verb, int code,
                         json_t *body, const char *content_type)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    vk_metrics_observe(api->metrics, verb, "", "", "", code,
                       (double)(uv_hrtime() - req->start_ns) / 1e9);
    vk_http_respond(req, code, content_type ? content_type : "application/json", s, strlen(s));
    free(s);
}

static void respond_status(vk_apiserver_t *api, vk_http_req_t *req, json_t *status)
{
    respond_json(api, req, "get", vk_status_code(status), status, NULL);
}

static void respond_text(vk_apiserver_t *api, vk_http_req_t *req, int code, const char *ct,
                         const char *text)
{
    vk_metrics_observe(api->metrics, "get", "", "", "", code,
                       (double)(uv_hrtime() - req->start_ns) / 1e9);
    vk_http_respond(req, code, ct, text, strlen(text));
}

static void not_found(vk_apiserver_t *api, vk_http_req_t *req)
{
    respond_status(api, req, vk_status_new(404, "NotFound",
                                           "the server could not find the requested resource",
                                           NULL, NULL));
}

/* ETag over the body; 304 when If-None-Match has it. Takes body. */
static void respond_cached(vk_apiserver_t *api, vk_http_req_t *req, json_t *body,
                           const char *content_type)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    uint64_t h = 1469598103934665603ull;
    for (const char *p = s; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    char etag[40];
    snprintf(etag, sizeof etag, "\"%016llX\"", (unsigned long long)h);
    vk_http_add_header(req, "ETag", etag);
    vk_http_add_header(req, "Vary", "Accept");
    const char *inm = vk_http_header(req, "If-None-Match");
    int code = inm && strstr(inm, etag) ? 304 : 200;
    vk_metrics_observe(api->metrics, "get", "", "", "", code,
                       (double)(uv_hrtime() - req->start_ns) / 1e9);
    if (code == 304)
        vk_http_respond(req, 304, content_type, "", 0);
    else
        vk_http_respond(req, 200, content_type, s, strlen(s));
    free(s);
}

/* ----------------------------------------------------------- authorization */

static int is_master(const vk_http_user_t *u)
{
    for (size_t i = 0; u->groups && u->groups[i]; i++)
        if (!strcmp(u->groups[i], "system:masters")) return 1;
    return 0;
}

/* 1 if allowed; otherwise answers 403 and returns 0. */
static int authorize(vk_apiserver_t *api, vk_http_req_t *req, const vk_rbac_attrs_t *a,
                     const vk_resource_t *res)
{
    if (is_master(&req->user)) return 1;
    if (vk_rbac_allowed(api->rest.store, a)) return 1;
    char msg[2048];
    vk_rbac_forbidden_message(a, msg, sizeof msg);
    json_t *s = vk_status_new(403, "Forbidden", msg, NULL, a->name);
    if (a->resource) {
        json_t *d = json_object();
        if (a->name && a->name[0]) json_object_set_new(d, "name", json_string(a->name));
        if (a->api_group && a->api_group[0])
            json_object_set_new(d, "group", json_string(a->api_group));
        json_object_set_new(d, "kind", json_string(a->resource));
        json_object_set_new(s, "details", d);
    }
    respond_status(api, req, s);
    return 0;
}

/* ------------------------------------------------------------------ routing */

/* Splits path into segments (pool memory); returns the count. */
static int split_path(vk_pool_t *pool, const char *path, char **seg, int max)
{
    char *p = vk_pool_strdup(pool, path);
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == max) return -1;
        seg[n++] = t;
    }
    return n;
}

static const char *method_verb(const char *m, int collection, int watch, unsigned *bit)
{
    if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
        if (watch) {
            *bit = VK_VERB_WATCH;
            return "WATCH";
        }
        *bit = collection ? VK_VERB_LIST : VK_VERB_GET;
        return collection ? "LIST" : "GET";
    }
    if (!strcmp(m, "POST")) {
        *bit = VK_VERB_CREATE;
        return "POST";
    }
    if (!strcmp(m, "PUT")) {
        *bit = VK_VERB_UPDATE;
        return "PUT";
    }
    if (!strcmp(m, "PATCH")) {
        *bit = VK_VERB_PATCH;
        return "PATCH";
    }
    if (!strcmp(m, "DELETE")) {
        *bit = collection ? VK_VERB_DELETECOLLECTION : VK_VERB_DELETE;
        return collection ? "DELETECOLLECTION" : "DELETE";
    }
    *bit = 0;
    return "UNKNOWN";
}

static void method_not_allowed(vk_apiserver_t *api, vk_http_req_t *req)
{
    respond_status(api, req, vk_status_new(405, "MethodNotAllowed",
                                           "the server does not allow this method on the "
                                           "requested resource",
                                           NULL, NULL));
}

/* pods/NAME/exec, attach, portforward: GET (WebSocket) or POST (SPDY)
 * upgrades. As upstream, RBAC verb `create` on pods/<sub> whatever the method;
 * the tenant pod must exist; then the relay (which always asks the host for the
 * translation of this very pod, so no other pod is reachable) answers. */
static void handle_pod_stream(vk_apiserver_t *api, vk_http_req_t *req, const vk_resource_t *res,
                              const char *ns, const char *name, const char *sub)
{
    if (!ns || (strcmp(req->method, "GET") && strcmp(req->method, "POST"))) {
        method_not_allowed(api, req);
        return;
    }
    vk_rbac_attrs_t a = {
        .user = req->user.name,
        .groups = req->user.groups,
        .verb = "create",
        .api_group = "",
        .resource = "pods",
        .subresource = sub,
        .namespace_ = ns,
        .name = name,
    };
    if (!authorize(api, req, &a, res)) return;
    char *key = vk_resources_key(res, ns, name);
    vk_kv_t *kv;
    int rc = vk_store_get(api->rest.store, key, &kv);
    free(key);
    if (rc) {
        respond_status(api, req, vk_status_for_err(rc, res, name, NULL));
        return;
    }
    vk_kv_unref(kv);
    if (!api->pod_stream) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "pod %s %s is not available without a host: no host cluster runs this "
                 "tenant's pods yet", name, sub);
        respond_status(api, req, vk_status_new(400, "BadRequest", msg, NULL, NULL));
        return;
    }
    api->pod_stream(api->pod_stream_arg, req, sub, ns, name);
}

/* /api/v1/... or /apis/G/V/...: seg[base..n) after the group-version. */
static void handle_resource(vk_apiserver_t *api, vk_http_req_t *req, const char *group,
                            const char *version, char **seg, int n)
{
    const char *ns = NULL, *plural, *name = NULL, *sub = NULL;
    if (n >= 3 && !strcmp(seg[0], "namespaces") && strcmp(seg[2], "status") &&
        strcmp(seg[2], "finalize")) {
        ns = seg[1];
        seg += 2;
        n -= 2;
    }
    plural = seg[0];
    if (n >= 2) name = seg[1];
    if (n >= 3) sub = seg[2];
    if (n > 3) {
        not_found(api, req);
        return;
    }
    const vk_resource_t *res = vk_resources_find(api->resources, group, version, plural);
    if (!res) {
        not_found(api, req);
        return;
    }
    int namespaced = (res->flags & VK_RES_NAMESPACED) != 0;
    if (ns && !namespaced) {
        not_found(api, req);
        return;
    }
    if (sub && n == 3 && (res->flags & VK_RES_LOG) &&
        (!strcmp(sub, "exec") || !strcmp(sub, "attach") || !strcmp(sub, "portforward"))) {
        handle_pod_stream(api, req, res, ns, name, sub);
        return;
    }
    if (sub && !((!strcmp(sub, "status") && (res->flags & VK_RES_STATUS)) ||
                 (!strcmp(sub, "scale") && (res->flags & VK_RES_SCALE)) ||
                 (!strcmp(sub, "log") && (res->flags & VK_RES_LOG)) ||
                 (!strcmp(sub, "binding") && (res->flags & VK_RES_BINDING)) ||
                 (!strcmp(sub, "token") && !strcmp(plural, "serviceaccounts") && !group[0]))) {
        not_found(api, req);
        return;
    }
    const char *w = vk_http_query(req, "watch");
    /* Go's strconv.ParseBool: the Python client sends "True". */
    int watch = w && (!strcmp(w, "true") || !strcmp(w, "1") || !strcmp(w, "True") ||
                      !strcmp(w, "TRUE") || !strcmp(w, "t") || !strcmp(w, "T"));
    unsigned bit;
    const char *mverb = method_verb(req->method, name == NULL, watch, &bit);
    /* Which verbs a path allows: collections list/watch/create/deletecollection,
     * objects get/update/patch/delete (watch of one object by name too). */
    int ok = bit != 0;
    int token = sub && (!strcmp(sub, "token") || !strcmp(sub, "binding")); /* create only */
    if (name && bit == VK_VERB_CREATE && !token) ok = 0;
    if (!name && (bit == VK_VERB_UPDATE || bit == VK_VERB_PATCH)) ok = 0;
    if (sub && !token && bit != VK_VERB_GET && bit != VK_VERB_UPDATE && bit != VK_VERB_PATCH)
        ok = 0;
    if (token && bit != VK_VERB_CREATE) ok = 0;
    if (sub && !strcmp(sub, "log") && bit != VK_VERB_GET) ok = 0;
    if (!sub && ok && !(res->verbs & bit)) ok = 0;
    if (namespaced && !ns && (bit == VK_VERB_CREATE || bit == VK_VERB_DELETECOLLECTION ||
                              (name && !sub) || (name && sub)))
        ok = (res->flags & VK_RES_REVIEW) ? 0 : 0;
    if (!ok) {
        method_not_allowed(api, req);
        return;
    }
    vk_rbac_attrs_t a = {
        .user = req->user.name,
        .groups = req->user.groups,
        .verb = vk_resources_verb_name(bit),
        .api_group = group,
        .resource = plural,
        .subresource = sub,
        .namespace_ = ns,
        .name = name,
    };
    if (!authorize(api, req, &a, res)) return;
    vk_rest_call_t *c = vk_pool_alloc(req->pool, sizeof *c);
    c->ctx = &api->rest;
    c->req = req;
    c->res = res;
    c->ns = ns;
    c->name = name;
    c->sub = sub;
    c->verb = bit;
    c->metric_verb = mverb;
    if (bit == VK_VERB_WATCH) {
        if (name) {
            /* A watch of one object: the same stream with a name filter. */
            vk_watch_start(c);
            return;
        }
        vk_watch_start(c);
        return;
    }
    vk_rest_handle(c);
}

static const char *aggregated_type(vk_http_req_t *req, const char **api_version)
{
    const char *a = vk_http_header(req, "Accept");
    if (!a || !strstr(a, "as=APIGroupDiscoveryList")) return NULL;
    /* Take the first listed media type that is an aggregated one we serve. */
    const char *v2 = strstr(a, "v=v2;"), *v2b = strstr(a, "v=v2beta1");
    if (!v2) v2 = strstr(a, "v=v2,");
    if (!v2) {
        const char *p = strstr(a, "v=v2");
        if (p && p[4] != 'b') v2 = p;
    }
    if (v2 && (!v2b || v2 < v2b)) {
        *api_version = "apidiscovery.k8s.io/v2";
        return "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    }
    if (v2b) {
        *api_version = "apidiscovery.k8s.io/v2beta1";
        return "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
    }
    return NULL;
}

static void handle_version(vk_apiserver_t *api, vk_http_req_t *req)
{
    json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major",
                          K8S_MAJOR, "minor", K8S_MINOR, "emulationMajor", K8S_MAJOR,
                          "emulationMinor", K8S_MINOR, "minCompatibilityMajor", K8S_MAJOR,
                          "minCompatibilityMinor", "32", "gitVersion", K8S_GIT_VERSION,
                          "gitCommit", "0000000000000000000000000000000000000000",
                          "gitTreeState", "clean", "buildDate", "2026-01-01T00:00:00Z",
                          "goVersion", "none (C, vkube)", "compiler", "gc", "platform",
                          "linux/amd64");
    respond_json(api, req, "get", 200, v, NULL);
}

static int is_health(const char *p)
{
    static const char *const h[] = {"/healthz", "/livez", "/readyz"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(h[i]);
        if (!strncmp(p, h[i], n) && (p[n] == 0 || p[n] == '/')) return 1;
    }
    return 0;
}

void vk_apiserver_handle(void *ctx, vk_http_req_t *req)
{
    vk_apiserver_t *api = ctx;
    const char *path = req->path;
    if (is_health(path)) {
        int ready = strncmp(path, "/readyz", 7) || api->ready;
        if (!ready) {
            respond_text(api, req, 500, "text/plain; charset=utf-8",
                         "[-]bootstrap failed: not finished\nreadyz check failed\n");
            return;
        }
        if (vk_http_query(req, "verbose"))
            respond_text(api, req, 200, "text/plain; charset=utf-8",
                         "[+]ping ok\n[+]etcd ok\nhealthz check passed\n");
        else
            respond_text(api, req, 200, "text/plain; charset=utf-8", "ok");
        return;
    }
    if (!strcmp(path, "/version") || !strcmp(path, "/version/")) {
        handle_version(api, req);
        return;
    }
    if (!req->user.authenticated) {
        respond_status(api, req, vk_status_new(401, "Unauthorized", "Unauthorized", NULL, NULL));
        return;
    }
    char *seg[16];
    int n = split_path(req->pool, path, seg, 16);
    if (n < 0) {
        not_found(api, req);
        return;
    }
    int is_api = n >= 1 && !strcmp(seg[0], "api");
    int is_apis = n >= 1 && !strcmp(seg[0], "apis");
    /* Resource requests. */
    if ((is_api && n >= 3) || (is_apis && n >= 4)) {
        if (is_api)
            handle_resource(api, req, "", seg[1], seg + 2, n - 2);
        else
            handle_resource(api, req, seg[1], seg[2], seg + 3, n - 3);
        return;
    }
    /* Non-resource requests. */
    vk_rbac_attrs_t a = {.user = req->user.name, .groups = req->user.groups, .path = path};
    char lverb[16];
    snprintf(lverb, sizeof lverb, "%s", req->method);
    for (char *p = lverb; *p; p++) *p = (char)(*p - 'A' + 'a');
    a.verb = !strcmp(lverb, "head") ? "get" : lverb;
    if (!authorize(api, req, &a, NULL)) return;
    if (!strcmp(path, "/debug/vkube/compact") && !strcmp(req->method, "POST")) {
        /* Compacts the store's history now (tests of 410 Expired need it). */
        const char *r = vk_http_query(req, "revision");
        int64_t rev = r ? strtoll(r, NULL, 10) : vk_store_revision(api->rest.store);
        int rc = vk_store_compact(api->rest.store, rev);
        if (rc) {
            respond_status(api, req, vk_status_for_err(rc, NULL, NULL, NULL));
            return;
        }
        respond_json(api, req, "post", 200,
                     json_pack("{s:I,s:I}", "requested", (json_int_t)rev, "compacted",
                               (json_int_t)vk_store_compacted(api->rest.store)),
                     NULL);
        return;
    }
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        method_not_allowed(api, req);
        return;
    }
    if (!strcmp(path, "/metrics")) {
        vk_store_stats_t st;
        vk_store_get_stats(api->rest.store, &st);
        char *text = vk_metrics_render(api->metrics, &st);
        respond_text(api, req, 200, "text/plain; version=0.0.4; charset=utf-8", text);
        free(text);
        return;
    }
    if (n >= 1 && !strcmp(seg[0], "openapi")) {
        const char *body, *etag;
        size_t len;
        if (vk_openapi_get(openapi_of(api), path, &body, &len, &etag)) {
            not_found(api, req);
            return;
        }
        const char *acc = vk_http_header(req, "Accept");
        const char *ctype = "application/json";
        if (n == 2 && !strcmp(seg[1], "v2") && acc && strstr(acc, "proto-openapi.spec.v2")) {
            /* kubectl 1.27/1.28 explain and client-go's OpenAPISchema() read v2 as protobuf. */
            if (vk_openapi_get_v2_protobuf(openapi_of(api), &body, &len, &etag)) {
                not_found(api, req);
                return;
            }
            ctype = VK_OPENAPI_V2_PROTOBUF;
        } else if (n == 2 && !strcmp(seg[1], "v2") && acc && !strstr(acc, "application/json") &&
                   !strstr(acc, "*/*")) {
            respond_status(api, req, vk_status_new(406, "NotAcceptable",
                                                   "only application/json is served for "
                                                   "/openapi/v2", NULL, NULL));
            return;
        }
        char tag[160];
        snprintf(tag, sizeof tag, "\"%s\"", etag);
        vk_http_add_header(req, "ETag", tag);
        const char *inm = vk_http_header(req, "If-None-Match");
        int code = inm && strstr(inm, tag) ? 304 : 200;
        vk_metrics_observe(api->metrics, "get", "", "", "", code,
                           (double)(uv_hrtime() - req->start_ns) / 1e9);
        vk_http_respond(req, code, ctype, code == 304 ? "" : body, code == 304 ? 0 : len);
        return;
    }
    const char *agg_version = NULL;
    if (is_api && n == 1) {
        const char *ct = aggregated_type(req, &agg_version);
        if (ct) respond_cached(api, req, vk_discovery_aggregated(api->resources, 1, agg_version),
                               ct);
        else respond_cached(api, req, vk_discovery_api_versions(api->external_address),
                            "application/json");
        return;
    }
    if (is_apis && n == 1) {
        const char *ct = aggregated_type(req, &agg_version);
        if (ct) respond_cached(api, req, vk_discovery_aggregated(api->resources, 0, agg_version),
                               ct);
        else respond_cached(api, req, vk_discovery_group_list(api->resources),
                            "application/json");
        return;
    }
    json_t *doc = NULL;
    if (is_api && n == 2) doc = vk_discovery_resource_list(api->resources, "", seg[1]);
    else if (is_apis && n == 2) doc = vk_discovery_group(api->resources, seg[1]);
    else if (is_apis && n == 3) doc = vk_discovery_resource_list(api->resources, seg[1], seg[2]);
    if (doc) {
        respond_cached(api, req, doc, "application/json");
        return;
    }
    not_found(api, req);
}
