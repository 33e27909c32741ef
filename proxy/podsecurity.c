/* podsecurity: Pod Security Standards checks (see podsecurity.h). Each check
 * mirrors one check of upstream's pod-security-admission policy package (same
 * reasons and detail phrasing); the code is ours. */
#include "proxy/podsecurity.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"

static json_t *member(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    json_t *v = member(o, key);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* ---- string lists ---------------------------------------------------------- */

/* A list of strings (a JSON array of strings, owned). */
static json_t *list_new(void)
{
    return json_array();
}

static void list_add(json_t *l, const char *s)
{
    json_array_append_new(l, json_string(s));
}

static int list_has(const json_t *l, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(l, i, v) if (!strcmp(json_string_value(v), s)) return 1;
    return 0;
}

static void list_add_unique(json_t *l, const char *s)
{
    if (!list_has(l, s))
        list_add(l, s);
}

static int cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* Sorts the list in place (sets.List order). */
static void list_sort(json_t *l)
{
    size_t n = json_array_size(l);
    if (n < 2)
        return;
    json_t **items = vk_xcalloc(n, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(l, i));
    qsort(items, n, sizeof *items, cmp_json_str);
    json_array_clear(l);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(l, items[i]);
    free(items);
}

typedef struct sb {
    char *s;
    size_t n, cap;
} sb_t;

static void sb_add(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    if (b->n + (size_t)w + 1 > b->cap) {
        b->cap = (b->n + (size_t)w + 1) * 2;
        b->s = vk_xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)w;
}

/* `"a", "b"` (joinQuote). */
static void join_quote(sb_t *b, const json_t *l)
{
    size_t i;
    json_t *v;
    json_array_foreach(l, i, v) sb_add(b, "%s\"%s\"", i ? ", " : "", json_string_value(v));
}

static const char *plural(const char *one, const char *many, size_t n)
{
    return n == 1 ? one : many;
}

/* `container "a"` / `containers "a", "b"` appended to b. */
static void containers_phrase(sb_t *b, const json_t *names)
{
    sb_add(b, "%s ", plural("container", "containers", json_array_size(names)));
    join_quote(b, names);
}

/* ---- results ----------------------------------------------------------------- */

typedef struct result {
    int level; /* 0 baseline check, 1 restricted check: upstream prints baseline ones first */
    const char *id;
    char *reason;
    char *detail;
} result_t;

typedef struct results {
    result_t r[32];
    int n;
    int level; /* level of the checks now running */
} results_t;

static void fail(results_t *rs, const char *id, const char *reason, char *detail_owned)
{
    if (rs->n >= 32) {
        free(detail_owned);
        return;
    }
    rs->r[rs->n].level = rs->level;
    rs->r[rs->n].id = id;
    rs->r[rs->n].reason = vk_xstrdup(reason);
    rs->r[rs->n].detail = detail_owned;
    rs->n++;
}

/* Visits init, regular and ephemeral containers, in upstream's order. */
typedef void (*visit_fn)(const json_t *c, void *ctx);

static void visit_containers(const json_t *spec, visit_fn fn, void *ctx)
{
    const char *lists[] = {"initContainers", "containers", "ephemeralContainers"};
    for (int l = 0; l < 3; l++) {
        size_t i;
        json_t *c;
        json_array_foreach(member(spec, lists[l]), i, c) fn(c, ctx);
    }
}

static const json_t *sc_of(const json_t *c)
{
    json_t *sc = member(c, "securityContext");
    return json_is_object(sc) ? sc : NULL;
}

/* ---- baseline checks ------------------------------------------------------------ */

static void check_host_namespaces(results_t *rs, const json_t *spec)
{
    sb_t b = {0};
    const char *keys[] = {"hostNetwork", "hostPID", "hostIPC"};
    for (int i = 0; i < 3; i++)
        if (json_is_true(member(spec, keys[i])))
            sb_add(&b, "%s%s=true", b.n ? ", " : "", keys[i]);
    if (b.n)
        fail(rs, "hostNamespaces", "host namespaces", b.s);
}

static void collect_privileged(const json_t *c, void *ctx)
{
    if (json_is_true(member(sc_of(c), "privileged")))
        list_add((json_t *)ctx, str_or(c, "name", ""));
}

static void check_privileged(results_t *rs, const json_t *spec)
{
    json_t *bad = list_new();
    visit_containers(spec, collect_privileged, bad);
    if (json_array_size(bad)) {
        sb_t b = {0};
        containers_phrase(&b, bad);
        sb_add(&b, " must not set securityContext.privileged=true");
        fail(rs, "privileged", "privileged", b.s);
    }
    json_decref(bad);
}

static const char *const baseline_caps[] = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER",
                                            "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
                                            "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                                            "SYS_CHROOT", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(s, list[i]))
            return 1;
    return 0;
}

typedef struct caps_ctx {
    json_t *bad, *caps;
    int restricted;
    json_t *missing_drop;
} caps_ctx_t;

static void collect_caps(const json_t *c, void *vctx)
{
    caps_ctx_t *ctx = vctx;
    const json_t *caps = member(sc_of(c), "capabilities");
    const char *name = str_or(c, "name", "");
    if (ctx->restricted) {
        int drop_all = 0;
        size_t i;
        json_t *d;
        json_array_foreach(member(caps, "drop"), i, d) if (json_is_string(d) &&
                                                          !strcmp(json_string_value(d), "ALL"))
            drop_all = 1;
        if (!drop_all)
            list_add(ctx->missing_drop, name);
    }
    int found = 0;
    size_t i;
    json_t *a;
    json_array_foreach(member(caps, "add"), i, a)
    {
        const char *cap = json_is_string(a) ? json_string_value(a) : "";
        int ok = ctx->restricted ? !strcmp(cap, "NET_BIND_SERVICE") : in_list(cap, baseline_caps);
        if (ok)
            continue;
        if (!found) {
            list_add(ctx->bad, name);
            found = 1;
        }
        list_add_unique(ctx->caps, cap);
    }
}

static void check_capabilities(results_t *rs, const json_t *spec, int restricted)
{
    caps_ctx_t ctx = {list_new(), list_new(), restricted, list_new()};
    visit_containers(spec, collect_caps, &ctx);
    list_sort(ctx.caps);
    sb_t b = {0};
    if (json_array_size(ctx.missing_drop)) {
        containers_phrase(&b, ctx.missing_drop);
        sb_add(&b, " must set securityContext.capabilities.drop=[\"ALL\"]");
    }
    if (json_array_size(ctx.bad)) {
        if (b.n)
            sb_add(&b, "; ");
        containers_phrase(&b, ctx.bad);
        sb_add(&b, " must not include ");
        join_quote(&b, ctx.caps);
        sb_add(&b, " in securityContext.capabilities.add");
    }
    if (b.n)
        fail(rs, restricted ? "capabilities_restricted" : "capabilities_baseline",
             restricted ? "unrestricted capabilities" : "non-default capabilities", b.s);
    json_decref(ctx.bad);
    json_decref(ctx.caps);
    json_decref(ctx.missing_drop);
}

static void check_host_path(results_t *rs, const json_t *spec)
{
    json_t *bad = list_new();
    size_t i;
    json_t *v;
    json_array_foreach(member(spec, "volumes"), i, v) if (member(v, "hostPath") &&
                                                           !json_is_null(member(v, "hostPath")))
        list_add(bad, str_or(v, "name", ""));
    if (json_array_size(bad)) {
        sb_t b = {0};
        sb_add(&b, "%s ", plural("volume", "volumes", json_array_size(bad)));
        join_quote(&b, bad);
        fail(rs, "hostPathVolumes", "hostPath volumes", b.s);
    }
    json_decref(bad);
}

typedef struct ports_ctx {
    json_t *bad, *ports;
} ports_ctx_t;

static void collect_host_ports(const json_t *c, void *vctx)
{
    ports_ctx_t *ctx = vctx;
    int found = 0;
    size_t i;
    json_t *p;
    json_array_foreach(member(c, "ports"), i, p)
    {
        json_t *hp = member(p, "hostPort");
        if (!json_is_integer(hp) || json_integer_value(hp) == 0)
            continue;
        if (!found) {
            list_add(ctx->bad, str_or(c, "name", ""));
            found = 1;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(hp));
        list_add_unique(ctx->ports, buf);
    }
}

static void check_host_ports(results_t *rs, const json_t *spec)
{
    ports_ctx_t ctx = {list_new(), list_new()};
    visit_containers(spec, collect_host_ports, &ctx);
    if (json_array_size(ctx.bad)) {
        list_sort(ctx.ports);
        sb_t b = {0};
        containers_phrase(&b, ctx.bad);
        sb_add(&b, " %s %s ", plural("uses", "use", json_array_size(ctx.bad)),
               plural("hostPort", "hostPorts", json_array_size(ctx.ports)));
        size_t i;
        json_t *v;
        json_array_foreach(ctx.ports, i, v) sb_add(&b, "%s%s", i ? ", " : "", json_string_value(v));
        fail(rs, "hostPorts", "hostPort", b.s);
    }
    json_decref(ctx.bad);
    json_decref(ctx.ports);
}

typedef struct apparmor_ctx {
    json_t *bad_containers, *values;
} apparmor_ctx_t;

static int apparmor_type_ok(const char *t)
{
    return !*t || !strcmp(t, "RuntimeDefault") || !strcmp(t, "Localhost");
}

static void collect_apparmor(const json_t *c, void *vctx)
{
    apparmor_ctx_t *ctx = vctx;
    const char *t = str_or(member(sc_of(c), "appArmorProfile"), "type", "");
    if (!apparmor_type_ok(t)) {
        list_add(ctx->bad_containers, str_or(c, "name", ""));
        list_add_unique(ctx->values, t);
    }
}

/* Upstream: `containers "a", "b" and annotation must not set AppArmor profile
 * type to "Unconfined", "<annotation>="unconfined""`. */
static void check_apparmor(results_t *rs, const json_t *meta, const json_t *spec)
{
    apparmor_ctx_t ctx = {list_new(), list_new()};
    const char *pt = str_or(member(member(spec, "securityContext"), "appArmorProfile"), "type", "");
    int pod_bad = !apparmor_type_ok(pt);
    if (pod_bad)
        list_add_unique(ctx.values, pt);
    visit_containers(spec, collect_apparmor, &ctx);
    int annotations = 0;
    const char *k;
    json_t *v;
    json_object_foreach(member(meta, "annotations"), k, v)
    {
        if (strncmp(k, "container.apparmor.security.beta.kubernetes.io/", 47) != 0)
            continue;
        const char *val = json_is_string(v) ? json_string_value(v) : "";
        if (!*val || !strcmp(val, "runtime/default") || !strncmp(val, "localhost/", 10))
            continue;
        char *s = vk_xasprintf("%s=\"%s\"", k, val);
        list_add_unique(ctx.values, s);
        free(s);
        annotations++;
    }
    if (json_array_size(ctx.values)) {
        list_sort(ctx.values);
        sb_t b = {0};
        if (pod_bad)
            sb_add(&b, "pod");
        if (json_array_size(ctx.bad_containers)) {
            if (b.n)
                sb_add(&b, " and ");
            containers_phrase(&b, ctx.bad_containers);
        }
        if (annotations) {
            if (b.n)
                sb_add(&b, " and ");
            sb_add(&b, "%s", plural("annotation", "annotations", (size_t)annotations));
        }
        sb_add(&b, " must not set AppArmor profile type to ");
        join_quote(&b, ctx.values);
        fail(rs, "appArmorProfile",
             plural("forbidden AppArmor profile", "forbidden AppArmor profiles",
                    json_array_size(ctx.values)),
             b.s);
    }
    json_decref(ctx.bad_containers);
    json_decref(ctx.values);
}

static const char *const selinux_types[] = {"", "container_t", "container_init_t",
                                            "container_kvm_t", "container_engine_t", NULL};

typedef struct selinux_ctx {
    json_t *bad_containers, *types;
    int user, role;
} selinux_ctx_t;

/* Records forbidden seLinuxOptions; 1 when something was forbidden. */
static int selinux_bad(const json_t *opts, selinux_ctx_t *ctx)
{
    int bad = 0;
    const char *t = str_or(opts, "type", "");
    if (!in_list(t, selinux_types)) {
        list_add_unique(ctx->types, t);
        bad = 1;
    }
    if (*str_or(opts, "user", "")) {
        ctx->user = 1;
        bad = 1;
    }
    if (*str_or(opts, "role", "")) {
        ctx->role = 1;
        bad = 1;
    }
    return bad;
}

static void collect_selinux(const json_t *c, void *vctx)
{
    selinux_ctx_t *ctx = vctx;
    if (selinux_bad(member(sc_of(c), "seLinuxOptions"), ctx))
        list_add(ctx->bad_containers, str_or(c, "name", ""));
}

static void check_selinux(results_t *rs, const json_t *spec)
{
    selinux_ctx_t ctx = {list_new(), list_new(), 0, 0};
    int pod_bad = selinux_bad(member(member(spec, "securityContext"), "seLinuxOptions"), &ctx);
    visit_containers(spec, collect_selinux, &ctx);
    if (pod_bad || json_array_size(ctx.bad_containers)) {
        sb_t b = {0};
        if (pod_bad)
            sb_add(&b, "pod");
        if (json_array_size(ctx.bad_containers)) {
            if (pod_bad)
                sb_add(&b, " and ");
            containers_phrase(&b, ctx.bad_containers);
        }
        sb_add(&b, " set forbidden securityContext.seLinuxOptions: ");
        int parts = 0;
        if (json_array_size(ctx.types)) {
            list_sort(ctx.types);
            sb_add(&b, "%s ", plural("type", "types", json_array_size(ctx.types)));
            join_quote(&b, ctx.types);
            parts++;
        }
        if (ctx.user)
            sb_add(&b, "%suser may not be set", parts++ ? "; " : "");
        if (ctx.role)
            sb_add(&b, "%srole may not be set", parts++ ? "; " : "");
        fail(rs, "seLinuxOptions", "seLinuxOptions", b.s);
    }
    json_decref(ctx.bad_containers);
    json_decref(ctx.types);
}

typedef struct procmount_ctx {
    json_t *bad, *types;
} procmount_ctx_t;

static void collect_procmount(const json_t *c, void *vctx)
{
    procmount_ctx_t *ctx = vctx;
    const char *pm = str_or(sc_of(c), "procMount", "");
    if (*pm && strcmp(pm, "Default") != 0) {
        list_add(ctx->bad, str_or(c, "name", ""));
        list_add_unique(ctx->types, pm);
    }
}

static void check_procmount(results_t *rs, const json_t *spec)
{
    procmount_ctx_t ctx = {list_new(), list_new()};
    visit_containers(spec, collect_procmount, &ctx);
    if (json_array_size(ctx.bad)) {
        list_sort(ctx.types);
        sb_t b = {0};
        containers_phrase(&b, ctx.bad);
        sb_add(&b, " must not set securityContext.procMount to ");
        join_quote(&b, ctx.types);
        fail(rs, "procMount", "procMount", b.s);
    }
    json_decref(ctx.bad);
    json_decref(ctx.types);
}

typedef struct seccomp_ctx {
    json_t *explicit_bad, *implicit_bad, *bad_types;
    int restricted, pod_ok;
} seccomp_ctx_t;

static void collect_seccomp(const json_t *c, void *vctx)
{
    seccomp_ctx_t *ctx = vctx;
    json_t *sp = member(sc_of(c), "seccompProfile");
    const char *t = str_or(sp, "type", NULL);
    if (t) {
        int ok = ctx->restricted ? (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Localhost"))
                                 : strcmp(t, "Unconfined") != 0;
        if (!ok) {
            list_add(ctx->explicit_bad, str_or(c, "name", ""));
            list_add_unique(ctx->bad_types, t);
        }
    } else if (ctx->restricted && !ctx->pod_ok) {
        list_add(ctx->implicit_bad, str_or(c, "name", ""));
    }
}

static void check_seccomp(results_t *rs, const json_t *spec, int restricted)
{
    seccomp_ctx_t ctx = {list_new(), list_new(), list_new(), restricted, 0};
    const char *pt = str_or(member(member(spec, "securityContext"), "seccompProfile"), "type", NULL);
    int pod_bad = 0;
    if (pt) {
        int ok = restricted ? (!strcmp(pt, "RuntimeDefault") || !strcmp(pt, "Localhost"))
                            : strcmp(pt, "Unconfined") != 0;
        if (ok)
            ctx.pod_ok = 1;
        else {
            pod_bad = 1;
            list_add_unique(ctx.bad_types, pt);
        }
    }
    visit_containers(spec, collect_seccomp, &ctx);
    const char *id = restricted ? "seccompProfile_restricted" : "seccompProfile_baseline";
    sb_t b = {0};
    if (pod_bad || json_array_size(ctx.explicit_bad)) {
        if (pod_bad)
            sb_add(&b, "pod");
        if (json_array_size(ctx.explicit_bad)) {
            if (pod_bad)
                sb_add(&b, " and ");
            containers_phrase(&b, ctx.explicit_bad);
        }
        sb_add(&b, " must not set securityContext.seccompProfile.type to ");
        list_sort(ctx.bad_types);
        join_quote(&b, ctx.bad_types);
        fail(rs, id, "seccompProfile", b.s);
    } else if (json_array_size(ctx.implicit_bad)) {
        sb_add(&b, "pod or ");
        containers_phrase(&b, ctx.implicit_bad);
        sb_add(&b, " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"");
        fail(rs, id, "seccompProfile", b.s);
    }
    json_decref(ctx.explicit_bad);
    json_decref(ctx.implicit_bad);
    json_decref(ctx.bad_types);
}

static const char *const safe_sysctls[] = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", NULL};

static void check_sysctls(results_t *rs, const json_t *spec)
{
    sb_t b = {0};
    size_t i;
    json_t *s;
    json_array_foreach(member(member(spec, "securityContext"), "sysctls"), i, s)
    {
        const char *name = str_or(s, "name", "");
        if (!in_list(name, safe_sysctls))
            sb_add(&b, "%s%s", b.n ? ", " : "", name);
    }
    if (b.n)
        fail(rs, "sysctls", "forbidden sysctls", b.s);
    else
        free(b.s); /* only empty names were seen */
}

static void collect_host_process(const json_t *c, void *ctx)
{
    if (json_is_true(member(member(sc_of(c), "windowsOptions"), "hostProcess")))
        list_add((json_t *)ctx, str_or(c, "name", ""));
}

static void check_host_process(results_t *rs, const json_t *spec)
{
    json_t *bad = list_new();
    int pod = json_is_true(member(member(member(spec, "securityContext"), "windowsOptions"), "hostProcess"));
    visit_containers(spec, collect_host_process, bad);
    if (pod || json_array_size(bad)) {
        sb_t b = {0};
        if (pod)
            sb_add(&b, "pod");
        if (json_array_size(bad)) {
            if (pod)
                sb_add(&b, " and ");
            containers_phrase(&b, bad);
        }
        sb_add(&b, " must not set securityContext.windowsOptions.hostProcess=true");
        fail(rs, "windowsHostProcess", "hostProcess", b.s);
    }
    json_decref(bad);
}

/* ---- restricted checks ------------------------------------------------------------- */

static const char *const volume_sources[] = {
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret",
    "nfs", "iscsi", "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs",
    "flocker", "downwardAPI", "fc", "azureFile", "configMap", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "projected", "portworxVolume", "scaleIO", "storageos",
    "csi", "ephemeral", "image", NULL};
static const char *const allowed_volumes[] = {"configMap", "csi", "downwardAPI", "emptyDir",
                                              "ephemeral", "persistentVolumeClaim", "projected",
                                              "secret", NULL};

static void check_volume_types(results_t *rs, const json_t *spec)
{
    json_t *bad = list_new(), *types = list_new();
    size_t i;
    json_t *v;
    json_array_foreach(member(spec, "volumes"), i, v)
    {
        for (int k = 0; volume_sources[k]; k++) {
            json_t *src = member(v, volume_sources[k]);
            if (!src || json_is_null(src) || in_list(volume_sources[k], allowed_volumes))
                continue;
            list_add(bad, str_or(v, "name", ""));
            list_add_unique(types, volume_sources[k]);
            break;
        }
    }
    if (json_array_size(bad)) {
        list_sort(types);
        sb_t b = {0};
        sb_add(&b, "%s ", plural("volume", "volumes", json_array_size(bad)));
        join_quote(&b, bad);
        sb_add(&b, " %s %s ", plural("uses", "use", json_array_size(bad)),
               plural("restricted volume type", "restricted volume types", json_array_size(types)));
        join_quote(&b, types);
        fail(rs, "restrictedVolumes", "restricted volume types", b.s);
    }
    json_decref(bad);
    json_decref(types);
}

static void collect_priv_esc(const json_t *c, void *ctx)
{
    if (!json_is_false(member(sc_of(c), "allowPrivilegeEscalation")))
        list_add((json_t *)ctx, str_or(c, "name", ""));
}

static int is_windows(const json_t *spec)
{
    return !strcmp(str_or(member(spec, "os"), "name", ""), "windows");
}

static void check_priv_esc(results_t *rs, const json_t *spec)
{
    if (is_windows(spec))
        return;
    json_t *bad = list_new();
    visit_containers(spec, collect_priv_esc, bad);
    if (json_array_size(bad)) {
        sb_t b = {0};
        containers_phrase(&b, bad);
        sb_add(&b, " must set securityContext.allowPrivilegeEscalation=false");
        fail(rs, "allowPrivilegeEscalation", "allowPrivilegeEscalation != false", b.s);
    }
    json_decref(bad);
}

typedef struct nonroot_ctx {
    json_t *explicit_bad, *implicit_bad;
    int pod_ok;
} nonroot_ctx_t;

static void collect_nonroot(const json_t *c, void *vctx)
{
    nonroot_ctx_t *ctx = vctx;
    const json_t *sc = sc_of(c);
    json_t *rnr = member(sc, "runAsNonRoot");
    if (json_is_false(rnr))
        list_add(ctx->explicit_bad, str_or(c, "name", ""));
    else if (!json_is_true(rnr) && !ctx->pod_ok)
        list_add(ctx->implicit_bad, str_or(c, "name", ""));
}

static void check_run_as_non_root(results_t *rs, const json_t *spec)
{
    const json_t *psc = member(spec, "securityContext");
    /* Only runAsNonRoot=true counts (a non-zero runAsUser does not, as upstream). */
    json_t *prnr = member(psc, "runAsNonRoot");
    nonroot_ctx_t ctx = {list_new(), list_new(), json_is_true(prnr)};
    int pod_bad = json_is_false(prnr);
    visit_containers(spec, collect_nonroot, &ctx);
    sb_t b = {0};
    if (pod_bad || json_array_size(ctx.explicit_bad)) {
        if (pod_bad)
            sb_add(&b, "pod");
        if (json_array_size(ctx.explicit_bad)) {
            if (pod_bad)
                sb_add(&b, " and ");
            containers_phrase(&b, ctx.explicit_bad);
        }
        sb_add(&b, " must not set securityContext.runAsNonRoot=false");
        fail(rs, "runAsNonRoot", "runAsNonRoot != true", b.s);
    } else if (json_array_size(ctx.implicit_bad)) {
        sb_add(&b, "pod or ");
        containers_phrase(&b, ctx.implicit_bad);
        sb_add(&b, " must set securityContext.runAsNonRoot=true");
        fail(rs, "runAsNonRoot", "runAsNonRoot != true", b.s);
    }
    json_decref(ctx.explicit_bad);
    json_decref(ctx.implicit_bad);
}

static void collect_root_uid(const json_t *c, void *ctx)
{
    json_t *uid = member(sc_of(c), "runAsUser");
    if (json_is_integer(uid) && json_integer_value(uid) == 0)
        list_add((json_t *)ctx, str_or(c, "name", ""));
}

static void check_run_as_user(results_t *rs, const json_t *spec)
{
    json_t *puid = member(member(spec, "securityContext"), "runAsUser");
    int pod_bad = json_is_integer(puid) && json_integer_value(puid) == 0;
    json_t *bad = list_new();
    visit_containers(spec, collect_root_uid, bad);
    if (pod_bad || json_array_size(bad)) {
        sb_t b = {0};
        if (pod_bad)
            sb_add(&b, "pod");
        if (json_array_size(bad)) {
            if (pod_bad)
                sb_add(&b, " and ");
            containers_phrase(&b, bad);
        }
        sb_add(&b, " must not set runAsUser=0");
        fail(rs, "runAsUser", "runAsUser=0", b.s);
    }
    json_decref(bad);
}

/* ---- entry points ------------------------------------------------------------------ */

static int cmp_result(const void *a, const void *b)
{
    const result_t *x = a, *y = b;
    if (x->level != y->level)
        return x->level - y->level;
    return strcmp(x->id, y->id);
}

char *vk_podsecurity_check(vk_podsecurity_level_t level, const json_t *pod_meta,
                           const json_t *pod_spec)
{
    if (level == VK_PODSECURITY_PRIVILEGED || !json_is_object(pod_spec))
        return NULL;
    results_t rs = {0};
    int restricted = level == VK_PODSECURITY_RESTRICTED;
    /* Baseline checks; at restricted, the restricted variants of capabilities,
     * seccomp, hostPath (restricted volume types) and procMount replace them. */
    int user_ns = json_is_false(member(pod_spec, "hostUsers"));
    check_apparmor(&rs, pod_meta, pod_spec);
    if (!restricted)
        check_capabilities(&rs, pod_spec, 0);
    check_host_namespaces(&rs, pod_spec);
    if (!restricted)
        check_host_path(&rs, pod_spec);
    check_host_ports(&rs, pod_spec);
    check_privileged(&rs, pod_spec);
    if (!restricted && !user_ns)
        check_procmount(&rs, pod_spec);
    check_selinux(&rs, pod_spec);
    if (!restricted)
        check_seccomp(&rs, pod_spec, 0);
    check_sysctls(&rs, pod_spec);
    check_host_process(&rs, pod_spec);
    if (restricted) {
        rs.level = 1;
        check_priv_esc(&rs, pod_spec);
        check_capabilities(&rs, pod_spec, 1);
        check_procmount(&rs, pod_spec);
        check_volume_types(&rs, pod_spec);
        /* Pods in their own user namespace may run as uid 0 inside it. */
        if (!user_ns) {
            check_run_as_non_root(&rs, pod_spec);
            check_run_as_user(&rs, pod_spec);
        }
        check_seccomp(&rs, pod_spec, 1);
    }
    if (rs.n == 0)
        return NULL;
    qsort(rs.r, (size_t)rs.n, sizeof rs.r[0], cmp_result);
    sb_t b = {0};
    for (int i = 0; i < rs.n; i++) {
        if (rs.r[i].detail && *rs.r[i].detail)
            sb_add(&b, "%s%s (%s)", i ? ", " : "", rs.r[i].reason, rs.r[i].detail);
        else
            sb_add(&b, "%s%s", i ? ", " : "", rs.r[i].reason);
        free(rs.r[i].reason);
        free(rs.r[i].detail);
    }
    return b.s;
}

/* Where a kind keeps its pod spec. */
typedef enum { TEMPLATE_NONE, TEMPLATE_POD, TEMPLATE_TOP, TEMPLATE_SPEC, TEMPLATE_CRONJOB } template_at_t;

static template_at_t template_at(const char *group, const char *kind)
{
    if (!kind)
        return TEMPLATE_NONE;
    if (!group)
        group = "";
    if (!*group && !strcmp(kind, "Pod"))
        return TEMPLATE_POD;
    if (!*group && !strcmp(kind, "PodTemplate"))
        return TEMPLATE_TOP;
    if ((!*group && !strcmp(kind, "ReplicationController")) ||
        (!strcmp(group, "apps") &&
         (!strcmp(kind, "Deployment") || !strcmp(kind, "ReplicaSet") ||
          !strcmp(kind, "StatefulSet") || !strcmp(kind, "DaemonSet"))) ||
        (!strcmp(group, "batch") && !strcmp(kind, "Job")))
        return TEMPLATE_SPEC;
    if (!strcmp(group, "batch") && !strcmp(kind, "CronJob"))
        return TEMPLATE_CRONJOB;
    return TEMPLATE_NONE;
}

int vk_podsecurity_applies(const char *group, const char *kind)
{
    return template_at(group, kind) != TEMPLATE_NONE;
}

char *vk_podsecurity_check_object(vk_podsecurity_level_t level, const char *group,
                                  const char *kind, const json_t *obj)
{
    if (!json_is_object(obj))
        return NULL;
    const json_t *tmpl = NULL;
    switch (template_at(group, kind)) {
    case TEMPLATE_NONE:
        return NULL;
    case TEMPLATE_POD:
        return vk_podsecurity_check(level, member(obj, "metadata"), member(obj, "spec"));
    case TEMPLATE_TOP:
        tmpl = member(obj, "template");
        break;
    case TEMPLATE_SPEC:
        tmpl = member(member(obj, "spec"), "template");
        break;
    case TEMPLATE_CRONJOB:
        tmpl = member(member(member(member(obj, "spec"), "jobTemplate"), "spec"), "template");
        break;
    }
    if (!tmpl)
        return NULL;
    return vk_podsecurity_check(level, member(tmpl, "metadata"), member(tmpl, "spec"));
}

int vk_podsecurity_parse_level(const char *s, vk_podsecurity_level_t *out)
{
    if (!s)
        return VK_EINVALID;
    if (!strcmp(s, "privileged"))
        *out = VK_PODSECURITY_PRIVILEGED;
    else if (!strcmp(s, "baseline"))
        *out = VK_PODSECURITY_BASELINE;
    else if (!strcmp(s, "restricted"))
        *out = VK_PODSECURITY_RESTRICTED;
    else
        return VK_EINVALID;
    return 0;
}

const char *vk_podsecurity_level_name(vk_podsecurity_level_t level)
{
    switch (level) {
    case VK_PODSECURITY_BASELINE: return "baseline";
    case VK_PODSECURITY_RESTRICTED: return "restricted";
    default: return "privileged";
    }
}

vk_podsecurity_level_t vk_podsecurity_namespace_level(const json_t *ns,
                                                      vk_podsecurity_level_t floor)
{
    const char *v = str_or(member(member(ns, "metadata"), "labels"),
                           "pod-security.kubernetes.io/enforce", NULL);
    vk_podsecurity_level_t l;
    if (v && vk_podsecurity_parse_level(v, &l) == 0 && l > floor)
        return l;
    return floor;
}

char *vk_podsecurity_forbidden_message(vk_podsecurity_level_t level, const char *resource,
                                       const char *name, const char *violations)
{
    return vk_xasprintf("%s \"%s\" is forbidden: violates PodSecurity \"%s:latest\": %s",
                        resource ? resource : "pods", name ? name : "",
                        vk_podsecurity_level_name(level), violations ? violations : "");
}

char *vk_podsecurity_warning(vk_podsecurity_level_t level, const char *violations)
{
    return vk_xasprintf("would violate PodSecurity \"%s:latest\": %s",
                        vk_podsecurity_level_name(level), violations ? violations : "");
}
