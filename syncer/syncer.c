/* syncer: the level-triggered reconcile loop of one tenant (see syncer.h). */
#include "syncer.h"

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "syncer/hostexec.h"
#include "syncer/informer.h"
#include "syncer/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

/* Host informers. Host EndpointSlices are not watched: tenant Endpoints and
 * EndpointSlices come from the tenant's endpoints controller
 * (controllers/endpoints.c) over the pod IPs reflected here. */
enum { I_PODS, I_CMS, I_SECRETS, I_EVENTS, I_NODES, I_SERVICES, I_PVCS, I_COUNT };

typedef struct {
    struct vk_syncer *s;
    int which;
} slot_t;

struct vk_syncer {
    vk_httpc_t *c;
    slot_t slots[I_COUNT]; /* informer callback contexts */
    vk_syncer_config_t cfg;
    vk_informer_t *inf[I_COUNT];
    int synced[I_COUNT];
    uv_timer_t debounce;
    uv_timer_t resync;  /* periodic pass (token refresh, missed changes) */
    int fail_streak;    /* passes in a row with failed host actions (backoff) */
    json_t *refused;    /* "ns/name" -> {uid, count, message, first}: pods the host refused */
    int running, dirty, stopped;
    vk_hostexec_t *exec;
    json_t *nodes_put; /* node name -> host resourceVersion last put into the tenant */
    vk_syncer_stats_t stats;
};

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void run_pass(vk_syncer_t *s);
static void freed_debounce(uv_handle_t *h);

static void on_debounce(uv_timer_t *t)
{
    run_pass(t->data);
}

void vk_syncer_notify(vk_syncer_t *s)
{
    if (!s || s->stopped) return;
    if (s->running) {
        s->dirty = 1;
        return;
    }
    /* A change cuts a failure backoff short: one refused pod must not delay
     * every other pod of the tenant. */
    if (!uv_is_active((uv_handle_t *)&s->debounce) ||
        uv_timer_get_due_in(&s->debounce) > s->cfg.debounce_ms)
        uv_timer_start(&s->debounce, on_debounce, s->cfg.debounce_ms, 0);
}

/* ---- nodes and events ---- */

static void sync_nodes(vk_syncer_t *s)
{
    if (!s->synced[I_PODS] || !s->synced[I_NODES] || !s->cfg.ops->put_node) return;
    json_t *used = json_object();
    json_t *pods = vk_informer_list(s->inf[I_PODS]);
    size_t i;
    json_t *p;
    json_array_foreach(pods, i, p)
    {
        const char *n = sget(json_object_get(p, "spec"), "nodeName");
        if (n && *n && vk_translate_is_ours(&s->cfg.translate, p)) json_object_set_new(used, n, json_true());
    }
    json_decref(pods);
    const char *name;
    json_t *v;
    json_object_foreach(used, name, v)
    {
        const json_t *node = vk_informer_get(s->inf[I_NODES], name);
        if (!node) continue;
        const char *rv = sget(json_object_get(node, "metadata"), "resourceVersion");
        const char *put = sget(s->nodes_put, name);
        if (put && rv && !strcmp(put, rv)) continue;
        json_t *tn = vk_translate_node_to_tenant(&s->cfg.translate, node);
        if (s->cfg.ops->put_node(s->cfg.tenant_ctx, tn) == 0) {
            json_object_set_new(s->nodes_put, name, json_string(rv ? rv : ""));
            s->stats.tenant_actions++;
        }
        json_decref(tn);
    }
    void *tmp;
    json_object_foreach_safe(s->nodes_put, tmp, name, v)
    {
        if (json_object_get(used, name)) continue;
        if (!s->cfg.ops->delete_node || s->cfg.ops->delete_node(s->cfg.tenant_ctx, name) == 0) {
            json_object_del(s->nodes_put, name);
            s->stats.tenant_actions++;
        }
    }
    json_decref(used);
}

static void on_event_obj(vk_syncer_t *s, const char *type, const json_t *ev)
{
    if (!strcmp(type, "DELETED") || !s->cfg.ops->record_event) return;
    const json_t *io = json_object_get(ev, "involvedObject");
    const char *kind = sget(io, "kind"), *name = sget(io, "name");
    if (!kind || strcmp(kind, "Pod") || !name) return;
    char key[400];
    snprintf(key, sizeof key, "%s/%s", s->cfg.translate.tenant->host_namespace, name);
    const json_t *hp = vk_informer_get(s->inf[I_PODS], key);
    const char *tns, *tname, *tuid;
    if (!hp || vk_translate_tenant_ref(&s->cfg.translate, hp, &tns, &tname, &tuid, NULL) != 0) return;
    json_t *te = vk_translate_event_to_tenant(&s->cfg.translate, ev, tns, tname, tuid);
    if (s->cfg.ops->record_event(s->cfg.tenant_ctx, te) == 0) s->stats.events++;
    json_decref(te);
}

/* ---- informers ---- */

static void inf_event(void *data, const char *type, const json_t *obj, const json_t *old)
{
    slot_t *sl = data;
    vk_syncer_t *s = sl->s;
    if (s->stopped) return;
    switch (sl->which) {
    case I_EVENTS: on_event_obj(s, type, obj); break;
    case I_NODES: sync_nodes(s); break;
    default: vk_syncer_notify(s);
    }
}

static void inf_synced(void *data)
{
    slot_t *sl = data;
    sl->s->synced[sl->which] = 1;
    if (sl->which == I_NODES) sync_nodes(sl->s);
    vk_syncer_notify(sl->s);
}

/* ---- a pass ---- */

static int referenced(const json_t *refs_by_ns, const char *ns, const char *list, const char *name)
{
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(json_object_get(refs_by_ns, ns), list), i, n)
        if (!strcmp(json_string_value(n), name)) return 1;
    return 0;
}

static json_t *wanted_of(vk_syncer_t *s, const char *kind, const char *list, const json_t *refs)
{
    json_t *all = s->cfg.ops->list(s->cfg.tenant_ctx, kind);
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const json_t *md = json_object_get(o, "metadata");
        const char *ns = sget(md, "namespace"), *name = sget(md, "name");
        if (ns && name && referenced(refs, ns, list, name)) json_array_append(out, o);
    }
    json_decref(all);
    return out;
}

/* A host refusal of a pod (quota, LimitRange, admission: a 4xx other than
 * 404/409/429) is shown on the tenant pod as kube-apiserver + scheduler show
 * an unschedulable pod: PodScheduled=False (reason Unschedulable, the host's
 * message) and a Warning Event (reason FailedCreate, counted) that
 * `kubectl describe pod` lists. The create is retried with the pass backoff;
 * once it succeeds the host status replaces the condition. */
static void pod_create_result(vk_syncer_t *s, const json_t *hpod, int status, const json_t *resp)
{
    const char *tns, *tname, *tuid;
    if (!hpod || vk_translate_tenant_ref(&s->cfg.translate, hpod, &tns, &tname, &tuid, NULL) || !tuid)
        return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s", tns, tname);
    if ((status >= 200 && status < 300) || status == 409) {
        json_object_del(s->refused, key);
        return;
    }
    if (status < 400 || status >= 500 || status == 404 || status == 429) return;
    const char *hmsg = resp ? sget(resp, "message") : NULL;
    char msg[1024];
    snprintf(msg, sizeof msg, "the host cluster refused the pod: %s", hmsg ? hmsg : "(no message)");
    json_t *prev = json_object_get(s->refused, key);
    const char *puid = sget(prev, "uid");
    int count = prev && puid && !strcmp(puid, tuid) ? (int)json_integer_value(json_object_get(prev, "count")) : 0;
    int changed = !prev || count == 0 || !sget(prev, "message") || strcmp(sget(prev, "message"), msg);
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *first = count && sget(prev, "first") ? sget(prev, "first") : now;
    json_t *rec = json_pack("{s:s,s:i,s:s,s:s}", "uid", tuid, "count", count + 1, "message", msg,
                            "first", first);
    if (changed && s->cfg.ops->write_status) {
        json_t *st = json_pack("{s:s,s:[{s:s,s:s,s:s,s:s,s:n,s:s}]}", "phase", "Pending",
                               "conditions", "type", "PodScheduled", "status", "False", "reason",
                               "Unschedulable", "message", msg, "lastProbeTime",
                               "lastTransitionTime", now);
        s->cfg.ops->write_status(s->cfg.tenant_ctx, tns, tname, tuid, st, NULL);
        json_decref(st);
        s->stats.tenant_actions++;
    }
    if (s->cfg.ops->record_event) {
        char ename[300];
        snprintf(ename, sizeof ename, "%.240s.vkube-host-refused", tname);
        json_t *ev = json_pack(
            "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:{s:s},s:s,s:s,s:i,s:s,s:s}",
            "apiVersion", "v1", "kind", "Event", "metadata", "name", ename, "namespace", tns,
            "involvedObject", "apiVersion", "v1", "kind", "Pod", "namespace", tns, "name", tname, "uid",
            tuid, "reason", "FailedCreate", "message", msg, "type", "Warning", "source", "component",
            "vkube-syncer", "firstTimestamp", first, "lastTimestamp", now, "count", count + 1,
            "reportingComponent", "vkube-syncer", "reportingInstance", s->cfg.translate.tenant->name);
        if (s->cfg.ops->record_event(s->cfg.tenant_ctx, ev) == 0) s->stats.events++;
        json_decref(ev);
    }
    json_object_set_new(s->refused, key, rec);
}

static void each_cb(void *data, const json_t *a, int status, const json_t *resp)
{
    vk_syncer_t *s = data;
    const char *op = sget(a, "op");
    const vk_syncer_tenant_ops_t *ops = s->cfg.ops;
    if (!strncmp(op, "host-", 5)) {
        s->stats.host_actions++;
        int ok = (status >= 200 && status < 300) || (!strcmp(op, "host-delete") && status == 404) ||
                 (!strcmp(op, "host-create") && status == 409);
        if (!ok) {
            s->stats.host_failures++;
            vk_log_warn("syncer %s: %s %s: %d %s", s->cfg.translate.tenant->name, op,
                        sget(a, "name"), status, resp ? sget(resp, "message") ? sget(resp, "message") : "" : "");
        }
        const char *kind = sget(a, "kind");
        if (!s->stopped && !strcmp(op, "host-create") && kind && !strcmp(kind, "Pod"))
            pod_create_result(s, json_object_get(a, "object"), status, resp);
        return;
    }
    if (s->stopped) return;
    const char *ns = sget(a, "namespace"), *name = sget(a, "name"), *uid = sget(a, "uid");
    if (!strcmp(op, "tenant-status")) {
        ops->write_status(s->cfg.tenant_ctx, ns, name, uid, json_object_get(a, "status"),
                          sget(a, "nodeName"));
        s->stats.tenant_actions++;
    } else if (!strcmp(op, "tenant-pvc-status")) {
        if (ops->write_pvc_status)
            ops->write_pvc_status(s->cfg.tenant_ctx, ns, name, uid, json_object_get(a, "status"),
                                  sget(a, "volumeName"));
        s->stats.tenant_actions++;
    } else if (!strcmp(op, "tenant-delete")) {
        ops->delete_pod(s->cfg.tenant_ctx, ns, name, uid);
        s->stats.tenant_actions++;
    } else if (!strcmp(op, "tenant-service-ip")) {
        if (ops->write_service_ip)
            ops->write_service_ip(s->cfg.tenant_ctx, ns, name, uid, sget(a, "clusterIP"),
                                  json_object_get(a, "clusterIPs"));
        s->stats.tenant_actions++;
    } else if (!strcmp(op, "conflict")) {
        s->stats.conflicts++;
        vk_log_warn("syncer %s: %s %s: %s", s->cfg.translate.tenant->name, sget(a, "kind"), name,
                    sget(a, "reason"));
    } else if (!strcmp(op, "tenant-reject")) {
        vk_log_warn("syncer %s: pod %s/%s not synced: %s", s->cfg.translate.tenant->name, ns, name,
                    sget(a, "reason"));
    }
}

static void pass_done(void *data, int failures)
{
    vk_syncer_t *s = data;
    s->exec = NULL;
    s->running = 0;
    if (s->stopped) return;
    sync_nodes(s);
    /* Failed actions are retried by a later pass, with exponential backoff
     * (1 s doubling up to 30 s) while passes keep failing. */
    s->fail_streak = failures ? s->fail_streak + 1 : 0;
    if (s->dirty || failures) {
        s->dirty = 0;
        uint64_t delay = s->cfg.debounce_ms;
        if (failures) {
            delay = 1000;
            for (int i = 1; i < s->fail_streak && delay < 30000; i++) delay *= 2;
            if (delay > 30000) delay = 30000;
        }
        uv_timer_start(&s->debounce, on_debounce, delay, 0);
    }
}

/* Base64 of n bytes (caller frees). */
static char *b64(const char *in, size_t n)
{
    char *out = vk_xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    return out;
}

static int64_t ann_int(const json_t *ann, const char *k)
{
    const char *v = sget(ann, k);
    return v ? strtoll(v, NULL, 10) : 0;
}

/* Token Secrets: one per live tenant pod, holding a JWT of the pod's service
 * account bound to the pod (issued by the tenant API server's signer through
 * ops->token). Re-issued at 80% of its lifetime (as the kubelet refreshes
 * projected tokens) or when the tenant pod of that name has a new uid; the
 * kubelet then updates the files in the running containers. Deleted (late)
 * once the tenant pod is gone. */
static void plan_tokens(vk_syncer_t *s, const json_t *tpods, json_t *plan, json_t *late)
{
    const vk_translate_ctx_t *tc = &s->cfg.translate;
    const char *hns = tc->tenant->host_namespace;
    int64_t now = (int64_t)time(NULL);
    json_t *keep = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(tpods, i, p)
    {
        const json_t *md = json_object_get(p, "metadata");
        const char *ns = sget(md, "namespace"), *name = sget(md, "name"), *uid = sget(md, "uid");
        const char *phase = sget(json_object_get(p, "status"), "phase");
        if (!ns || !name || !uid || (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
            continue;
        char *hname = vk_translate_token_secret_name(ns, name, tc->tenant->name);
        json_object_set_new(keep, hname, json_true());
        char key[400];
        snprintf(key, sizeof key, "%s/%s", hns, hname);
        const json_t *have = vk_informer_get(s->inf[I_SECRETS], key);
        const json_t *hmd = json_object_get(have, "metadata");
        const json_t *ann = json_object_get(hmd, "annotations");
        int64_t iat = ann_int(ann, VK_TRANSLATE_TOKEN_IAT), exp = ann_int(ann, VK_TRANSLATE_TOKEN_EXP);
        const char *puid = sget(ann, VK_TRANSLATE_TOKEN_POD_UID);
        int due = !have || !puid || strcmp(puid, uid) || exp <= iat || now >= iat + (exp - iat) * 4 / 5;
        if (json_object_get(md, "deletionTimestamp") || !due || !s->cfg.ops->token ||
            (have && !vk_translate_is_ours(tc, have))) {
            free(hname);
            continue;
        }
        const char *sa = sget(json_object_get(p, "spec"), "serviceAccountName");
        if (!sa || !*sa) sa = "default";
        char *token = NULL;
        int rc = s->cfg.ops->token(s->cfg.tenant_ctx, ns, sa, name, uid, s->cfg.token_ttl_s, &token,
                                   &iat, &exp);
        if (rc) {
            vk_log_debug("syncer %s: no token for pod %s/%s yet: %s", tc->tenant->name, ns, name,
                         vk_err_name(rc));
            free(hname);
            continue;
        }
        if (!have) {
            json_t *sec = vk_translate_token_secret(tc, ns, name, uid, sa, token, iat, exp,
                                                    s->cfg.tenant_ca_pem);
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-create", "kind",
                                                  "Secret", "name", hname, "object", sec));
        } else {
            char num[2][32];
            snprintf(num[0], 32, "%lld", (long long)iat);
            snprintf(num[1], 32, "%lld", (long long)exp);
            char *enc = b64(token, strlen(token));
            json_t *ops = json_pack(
                "[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]",
                "op", "test", "path", "/metadata/uid", "value", sget(hmd, "uid") ? sget(hmd, "uid") : "",
                "op", "add", "path", "/data/token", "value", enc,
                "op", "add", "path", "/metadata/annotations/vkube.io~1token-pod-uid", "value", uid,
                "op", "add", "path", "/metadata/annotations/vkube.io~1token-pod", "value", name,
                "op", "add", "path", "/metadata/annotations/vkube.io~1token-iat", "value", num[0],
                "op", "add", "path", "/metadata/annotations/vkube.io~1token-exp", "value", num[1]);
            free(enc);
            json_array_append_new(plan, json_pack("{s:s,s:s,s:s,s:o}", "op", "host-patch", "kind",
                                                  "Secret", "name", hname, "patch", ops));
        }
        free(token);
        free(hname);
    }
    /* Token Secrets of pods that are gone (and those of older versions: one
     * per service account). */
    json_t *hsecs = vk_informer_list(s->inf[I_SECRETS]);
    json_array_foreach(hsecs, i, p)
    {
        const json_t *hmd = json_object_get(p, "metadata");
        const char *hname = sget(hmd, "name");
        if (!hname || !json_object_get(json_object_get(hmd, "labels"), VK_TRANSLATE_TOKEN_FOR) ||
            json_object_get(keep, hname) || !vk_translate_is_ours(tc, p))
            continue;
        json_array_append_new(late, json_pack("{s:s,s:s,s:s,s:s?,s:s}", "op", "host-delete", "kind",
                                              "Secret", "name", hname, "uid", sget(hmd, "uid"),
                                              "reason", "token of a pod that is gone"));
    }
    json_decref(hsecs);
    json_decref(keep);
}

static void run_pass(vk_syncer_t *s)
{
    if (s->stopped || s->running) return;
    if (!s->synced[I_PODS] || !s->synced[I_CMS] || !s->synced[I_SECRETS]) return;
    s->running = 1;
    s->dirty = 0;
    s->stats.passes++;
    const vk_translate_ctx_t *tc = &s->cfg.translate;
    const char *hns = tc->tenant->host_namespace;
    json_t *tpods = s->cfg.ops->list(s->cfg.tenant_ctx, "Pod");
    /* What live pods reference, by namespace. */
    json_t *refs = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(tpods, i, p)
    {
        const json_t *md = json_object_get(p, "metadata");
        const char *ns = sget(md, "namespace");
        const char *phase = sget(json_object_get(p, "status"), "phase");
        if (!ns || json_object_get(md, "deletionTimestamp") ||
            (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))))
            continue;
        json_t *r = vk_reconcile_pod_refs(p);
        json_t *acc = json_object_get(refs, ns);
        if (!acc) {
            acc = json_pack("{s:[],s:[],s:{}}", "configmaps", "secrets", "pvcs");
            json_object_set_new(refs, ns, acc);
        }
        json_array_extend(json_object_get(acc, "configmaps"), json_object_get(r, "configmaps"));
        json_array_extend(json_object_get(acc, "secrets"), json_object_get(r, "secrets"));
        size_t j;
        json_t *pv;
        json_array_foreach(json_object_get(r, "pvcs"), j, pv)
            json_object_set_new(json_object_get(acc, "pvcs"), json_string_value(pv), json_true());
        json_decref(r);
    }
    json_t *plan = json_array(), *late = json_array();
    static const char *const kinds[] = {"ConfigMap", "Secret"};
    static const char *const lists[] = {"configmaps", "secrets"};
    static const int infs[] = {I_CMS, I_SECRETS};
    for (int k = 0; k < 2; k++) {
        json_t *wanted = wanted_of(s, kinds[k], lists[k], refs);
        json_t *host = vk_informer_list(s->inf[infs[k]]);
        json_t *cp = vk_reconcile_configs(tc, kinds[k], wanted, host);
        json_array_foreach(cp, i, p) json_array_append(strcmp(sget(p, "op"), "host-delete") ? plan : late, p);
        json_decref(cp), json_decref(host), json_decref(wanted);
    }
    plan_tokens(s, tpods, plan, late);
    if (s->cfg.ops->write_service_ip && s->synced[I_SERVICES]) {
        json_t *tsvcs = s->cfg.ops->list(s->cfg.tenant_ctx, "Service");
        if (tsvcs) { /* no tenant view: never delete on a guess */
            json_t *hsvcs = vk_informer_list(s->inf[I_SERVICES]);
            json_t *sp = vk_reconcile_services(tc, tsvcs, hsvcs);
            json_array_extend(plan, sp);
            json_decref(sp), json_decref(hsvcs), json_decref(tsvcs);
        }
    }
    if (s->cfg.ops->write_pvc_status && s->inf[I_PVCS] && s->synced[I_PVCS]) {
        json_t *tpvcs = s->cfg.ops->list(s->cfg.tenant_ctx, "PersistentVolumeClaim");
        if (tpvcs) { /* no tenant view: never delete on a guess */
            json_t *wanted = json_object();
            const char *wns;
            json_t *acc;
            json_object_foreach(refs, wns, acc) json_object_set(wanted, wns, json_object_get(acc, "pvcs"));
            json_t *hp = vk_informer_list(s->inf[I_PVCS]);
            json_t *vp = vk_reconcile_pvcs(tc, tpvcs, wanted, hp);
            json_array_foreach(vp, i, p) json_array_append(strcmp(sget(p, "op"), "host-delete") ? plan : late, p);
            json_decref(vp), json_decref(hp), json_decref(wanted), json_decref(tpvcs);
        }
    }
    json_t *hpods = vk_informer_list(s->inf[I_PODS]);
    json_t *pp = vk_reconcile_pods(tc, tpods, hpods);
    json_array_extend(plan, pp);
    json_array_extend(plan, late);
    json_decref(pp), json_decref(hpods), json_decref(late), json_decref(refs), json_decref(tpods);
    int rc = vk_hostexec_run(s->c, hns, plan, 30000, each_cb, pass_done, s, &s->exec);
    json_decref(plan);
    if (rc) {
        s->running = 0;
        vk_log_warn("syncer %s: cannot run a pass: %s", tc->tenant->name, vk_err_name(rc));
    }
}

/* ---- lifecycle ---- */

static void on_resync(uv_timer_t *t)
{
    vk_syncer_notify(t->data);
}

static void resync_closed(uv_handle_t *h)
{
    vk_syncer_t *s = h->data;
    uv_close((uv_handle_t *)&s->debounce, freed_debounce);
}

static void freed_debounce(uv_handle_t *h)
{
    vk_syncer_t *s = h->data;
    json_decref(s->refused);
    json_decref(s->nodes_put);
    free(s);
}

int vk_syncer_start(vk_httpc_t *host, const vk_syncer_config_t *cfg, vk_syncer_t **out)
{
    *out = NULL;
    if (!host || !cfg || !cfg->ops || !cfg->ops->list || !cfg->ops->write_status ||
        !cfg->ops->delete_pod || !cfg->translate.tenant)
        return VK_EINVALID;
    vk_syncer_t *s = vk_xcalloc(1, sizeof *s);
    s->c = host;
    s->cfg = *cfg;
    if (!s->cfg.debounce_ms) s->cfg.debounce_ms = 20;
    if (!s->cfg.resync_ms) s->cfg.resync_ms = 30000;
    if (s->cfg.token_ttl_s <= 0) {
        const char *e = getenv("VKUBE_SYNCER_TOKEN_SECONDS");
        s->cfg.token_ttl_s = e && atoll(e) >= 10 ? atoll(e) : 3600;
    }
    s->nodes_put = json_object();
    s->refused = json_object();
    uv_timer_init(vk_httpc_loop(host), &s->debounce);
    s->debounce.data = s;
    uv_timer_init(vk_httpc_loop(host), &s->resync);
    s->resync.data = s;
    uv_timer_start(&s->resync, on_resync, s->cfg.resync_ms, s->cfg.resync_ms);
    const char *hns = cfg->translate.tenant->host_namespace;
    char paths[I_COUNT][300];
    snprintf(paths[I_PODS], 300, "/api/v1/namespaces/%s/pods", hns);
    snprintf(paths[I_CMS], 300, "/api/v1/namespaces/%s/configmaps", hns);
    snprintf(paths[I_SECRETS], 300, "/api/v1/namespaces/%s/secrets", hns);
    snprintf(paths[I_EVENTS], 300, "/api/v1/namespaces/%s/events", hns);
    snprintf(paths[I_NODES], 300, "/api/v1/nodes");
    snprintf(paths[I_SERVICES], 300, "/api/v1/namespaces/%s/services", hns);
    snprintf(paths[I_PVCS], 300, "/api/v1/namespaces/%s/persistentvolumeclaims", hns);
    for (int i = 0; i < I_COUNT; i++) {
        if (i == I_SERVICES && !cfg->ops->write_service_ip) continue;
        if (i == I_PVCS && !cfg->ops->write_pvc_status) continue;
        s->slots[i] = (slot_t){s, i};
        vk_informer_config_t ic = {.path = paths[i], .event_cb = inf_event, .synced_cb = inf_synced,
                                   .data = &s->slots[i]};
        if (i == I_EVENTS) ic.field_selector = "involvedObject.kind=Pod";
        int rc = vk_informer_start(host, &ic, &s->inf[i]);
        if (rc) {
            vk_syncer_stop(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

void vk_syncer_stop(vk_syncer_t *s)
{
    if (!s || s->stopped) return;
    s->stopped = 1;
    for (int i = 0; i < I_COUNT; i++) vk_informer_stop(s->inf[i]);
    if (s->exec) vk_hostexec_cancel(s->exec);
    uv_close((uv_handle_t *)&s->resync, resync_closed);
}

void vk_syncer_get_stats(const vk_syncer_t *s, vk_syncer_stats_t *out)
{
    *out = s->stats;
}
