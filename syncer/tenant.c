/* tenant: Tenant manifest parsing and validation. */
#include "tenant.h"

#include "common/err.h"
#include "common/mem.h"
#include "common/yaml.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int alnum_lower(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int label_n(const char *s, size_t n)
{
    if (n == 0 || n > 63) return 0;
    if (!alnum_lower(s[0]) || !alnum_lower(s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!alnum_lower(s[i]) && s[i] != '-') return 0;
    return 1;
}

int vk_tenant_is_dns_label(const char *s)
{
    return s && label_n(s, strlen(s));
}

int vk_tenant_is_dns_subdomain(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 253) return 0;
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        /* Subdomain labels may be up to 63 and follow the label rules. */
        if (!label_n(p, len)) return 0;
        if (!dot) return 1;
        p = dot + 1;
    }
}

static int value_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

int vk_tenant_is_label_value(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!value_char(s[i])) return 0;
    return 1;
}

int vk_tenant_is_qualified_name(const char *s)
{
    if (!s) return 0;
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash) {
        char prefix[254];
        size_t pl = (size_t)(slash - s);
        if (pl == 0 || pl > 253) return 0;
        memcpy(prefix, s, pl);
        prefix[pl] = 0;
        if (!vk_tenant_is_dns_subdomain(prefix)) return 0;
        name = slash + 1;
    }
    size_t n = strlen(name);
    return n > 0 && vk_tenant_is_label_value(name) && !strchr(name, '/');
}

/* ---- error collection ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    int n;
} errs_t;

static void add_err(errs_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_err(errs_t *e, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t ml = strlen(msg) + 2;
    if (e->len + ml + 1 > e->cap) {
        e->cap = (e->len + ml + 1) * 2;
        e->buf = vk_xrealloc(e->buf, e->cap);
    }
    e->len += (size_t)sprintf(e->buf + e->len, "%s%s", e->n ? "; " : "", msg);
    e->n++;
}

/* Reports fields of obj not in allowed (NULL-terminated). */
static void unknown_fields(errs_t *e, const json_t *obj, const char *path,
                           const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) ok = 1;
        if (!ok) add_err(e, "%s.%s: unknown field", path, k);
    }
}

/* A quantity: sign, digits with one optional dot, then a suffix. */
static int is_quantity(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    int digits = 0, dots = 0;
    while (isdigit((unsigned char)*s) || *s == '.') {
        if (*s == '.') dots++;
        else digits++;
        s++;
    }
    if (!digits || dots > 1) return 0;
    static const char *const suffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u",
                                           "m", "k", "M", "G", "T", "P", "E", NULL};
    for (const char *const *x = suffixes; *x; x++)
        if (strcmp(s, *x) == 0) return 1;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!*s) return 0;
        while (isdigit((unsigned char)*s)) s++;
        return *s == 0;
    }
    return 0;
}

static void check_tolerations(errs_t *e, const json_t *tols, json_t *out)
{
    size_t i;
    json_t *t;
    json_array_foreach(tols, i, t)
    {
        char path[96];
        snprintf(path, sizeof path, "spec.isolation.tolerations[%zu]", i);
        if (!json_is_object(t)) {
            add_err(e, "%s: Invalid value: must be an object", path);
            continue;
        }
        static const char *const fields[] = {"key", "operator", "value", "effect",
                                             "tolerationSeconds", NULL};
        unknown_fields(e, t, path, fields);
        json_t *key = json_object_get(t, "key"), *op = json_object_get(t, "operator"),
               *val = json_object_get(t, "value"), *eff = json_object_get(t, "effect"),
               *secs = json_object_get(t, "tolerationSeconds");
        const char *ks = json_string_value(key), *ops = op ? json_string_value(op) : "Equal",
                   *vs = json_string_value(val), *es = eff ? json_string_value(eff) : "";
        if (key && (!ks || (*ks && !vk_tenant_is_qualified_name(ks))))
            add_err(e, "%s.key: Invalid value: must be a qualified name", path);
        if (!ops || (strcmp(ops, "Equal") && strcmp(ops, "Exists")))
            add_err(e, "%s.operator: Unsupported value: \"%s\": supported values: \"Equal\", "
                       "\"Exists\"", path, ops ? ops : "");
        else if (!strcmp(ops, "Exists") && vs && *vs)
            add_err(e, "%s.operator: Invalid value: \"Exists\": value must be empty when "
                       "`operator` is 'Exists'", path);
        else if (!strcmp(ops, "Equal") && (!ks || !*ks))
            add_err(e, "%s.operator: Invalid value: \"Equal\": operator must be Exists when "
                       "`key` is empty", path);
        if (val && (!vs || !vk_tenant_is_label_value(vs)))
            add_err(e, "%s.value: Invalid value: must be a valid label value", path);
        if (!es || (*es && strcmp(es, "NoSchedule") && strcmp(es, "PreferNoSchedule") &&
                    strcmp(es, "NoExecute")))
            add_err(e, "%s.effect: Unsupported value: \"%s\": supported values: \"NoSchedule\", "
                       "\"PreferNoSchedule\", \"NoExecute\"", path, es ? es : "");
        if (secs && !json_is_integer(secs))
            add_err(e, "%s.tolerationSeconds: Invalid value: must be an integer", path);
        json_t *n = json_object();
        if (ks && *ks) json_object_set_new(n, "key", json_string(ks));
        json_object_set_new(n, "operator", json_string(ops ? ops : "Equal"));
        if (vs && *vs) json_object_set_new(n, "value", json_string(vs));
        if (es && *es) json_object_set_new(n, "effect", json_string(es));
        if (json_is_integer(secs)) json_object_set(n, "tolerationSeconds", secs);
        json_array_append_new(out, n);
    }
}

int vk_tenant_config_from_json(const json_t *obj, vk_tenant_config_t *out, char *err,
                               size_t errlen)
{
    memset(out, 0, sizeof *out);
    errs_t e = {0};
    out->node_selector = json_object();
    out->tolerations = json_array();
    out->quota = json_object();
    if (!json_is_object(obj)) {
        add_err(&e, "Tenant: must be an object");
        goto done;
    }
    static const char *const top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    unknown_fields(&e, obj, "Tenant", top);
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!av || strcmp(av, "vkube.io/v1alpha1") != 0)
        add_err(&e, "apiVersion: Unsupported value: \"%s\": supported values: \"vkube.io/v1alpha1\"",
                av ? av : "");
    if (!kind || strcmp(kind, "Tenant") != 0)
        add_err(&e, "kind: Unsupported value: \"%s\": supported values: \"Tenant\"",
                kind ? kind : "");
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    if (!name || !*name) add_err(&e, "metadata.name: Required value");
    else if (!vk_tenant_is_dns_label(name))
        add_err(&e, "metadata.name: Invalid value: \"%s\": a lowercase RFC 1123 label must consist "
                    "of lower case alphanumeric characters or '-', and must start and end with an "
                    "alphanumeric character (at most 63 characters)", name);
    else out->name = vk_xstrdup(name);

    json_t *spec = json_object_get(obj, "spec");
    if (spec && !json_is_object(spec)) {
        add_err(&e, "spec: Invalid value: must be an object");
        spec = NULL;
    }
    json_t *empty = json_object();
    if (!spec) spec = empty;
    static const char *const spec_fields[] = {"hostNamespace", "isolation", "podSecurity", "quota",
                                              NULL};
    unknown_fields(&e, spec, "spec", spec_fields);
    json_t *hn = json_object_get(spec, "hostNamespace");
    if (hn) {
        const char *s = json_string_value(hn);
        if (!s || !vk_tenant_is_dns_label(s))
            add_err(&e, "spec.hostNamespace: Invalid value: \"%s\": must be a lowercase RFC 1123 "
                        "label (at most 63 characters)", s ? s : "");
        else out->host_namespace = vk_xstrdup(s);
    } else if (out->name) {
        out->host_namespace = vk_xasprintf("vkube-%s", out->name);
        if (!vk_tenant_is_dns_label(out->host_namespace))
            add_err(&e, "spec.hostNamespace: Invalid value: \"%s\": the default host namespace "
                        "is longer than 63 characters; set spec.hostNamespace",
                    out->host_namespace);
    }
    json_t *iso = json_object_get(spec, "isolation");
    if (iso && !json_is_object(iso)) {
        add_err(&e, "spec.isolation: Invalid value: must be an object");
        iso = NULL;
    }
    if (iso) {
        static const char *const iso_fields[] = {"nodeSelector", "tolerations", "runtimeClassName",
                                                 NULL};
        unknown_fields(&e, iso, "spec.isolation", iso_fields);
        json_t *ns = json_object_get(iso, "nodeSelector");
        if (ns && !json_is_object(ns)) add_err(&e, "spec.isolation.nodeSelector: Invalid value: must be an object");
        const char *k;
        json_t *v;
        json_object_foreach(json_is_object(ns) ? ns : empty, k, v)
        {
            if (!vk_tenant_is_qualified_name(k))
                add_err(&e, "spec.isolation.nodeSelector: Invalid value: \"%s\": not a valid "
                            "label key", k);
            else if (!json_is_string(v) || !vk_tenant_is_label_value(json_string_value(v)))
                add_err(&e, "spec.isolation.nodeSelector.%s: Invalid value: must be a valid "
                            "label value (a string)", k);
            else json_object_set(out->node_selector, k, v);
        }
        json_t *tols = json_object_get(iso, "tolerations");
        if (tols && !json_is_array(tols))
            add_err(&e, "spec.isolation.tolerations: Invalid value: must be a list");
        else if (tols) check_tolerations(&e, tols, out->tolerations);
        json_t *rc = json_object_get(iso, "runtimeClassName");
        if (rc && !json_is_null(rc)) {
            const char *s = json_string_value(rc);
            if (!s || !vk_tenant_is_dns_subdomain(s))
                add_err(&e, "spec.isolation.runtimeClassName: Invalid value: \"%s\": must be a "
                            "lowercase RFC 1123 subdomain", s ? s : "");
            else out->runtime_class = vk_xstrdup(s);
        }
    }
    json_t *ps = json_object_get(spec, "podSecurity");
    const char *pss = ps ? json_string_value(ps) : "baseline";
    if (!pss || (strcmp(pss, "baseline") && strcmp(pss, "restricted")))
        add_err(&e, "spec.podSecurity: Unsupported value: \"%s\": supported values: \"baseline\", "
                    "\"restricted\"", pss ? pss : "");
    else out->pod_security = vk_xstrdup(pss);
    json_t *quota = json_object_get(spec, "quota");
    if (quota && !json_is_object(quota)) {
        add_err(&e, "spec.quota: Invalid value: must be an object");
    } else if (quota) {
        const char *k;
        json_t *v;
        json_object_foreach(quota, k, v)
        {
            char num[64];
            const char *q = json_string_value(v);
            if (json_is_integer(v)) {
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
                q = num;
            } else if (json_is_real(v)) {
                snprintf(num, sizeof num, "%g", json_real_value(v));
                q = num;
            }
            if (!vk_tenant_is_qualified_name(k))
                add_err(&e, "spec.quota: Invalid value: \"%s\": not a valid resource name", k);
            else if (!q || !is_quantity(q) || q[0] == '-')
                add_err(&e, "spec.quota.%s: Invalid value: \"%s\": must be a non-negative "
                            "quantity", k, q ? q : "");
            else json_object_set_new(out->quota, k, json_string(q));
        }
    }
    json_decref(empty);
done:
    if (e.n) {
        snprintf(err, errlen, "Tenant \"%s\" is invalid: %s", out->name ? out->name : "", e.buf);
        free(e.buf);
        vk_tenant_config_free(out);
        return VK_EINVALID;
    }
    return 0;
}

int vk_tenant_config_parse(const char *text, size_t len, vk_tenant_config_t *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_t *obj;
    char yerr[256];
    if (vk_yaml_parse(text, len, &obj, yerr, sizeof yerr) != 0) {
        snprintf(err, errlen, "Tenant manifest: %s", yerr);
        return VK_EINVALID;
    }
    int rc = vk_tenant_config_from_json(obj, out, err, errlen);
    json_decref(obj);
    return rc;
}

int vk_tenant_config_default(const char *name, vk_tenant_config_t *out, char *err, size_t errlen)
{
    json_t *obj = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "vkube.io/v1alpha1", "kind",
                            "Tenant", "metadata", "name", name ? name : "");
    int rc = vk_tenant_config_from_json(obj, out, err, errlen);
    json_decref(obj);
    return rc;
}

void vk_tenant_config_free(vk_tenant_config_t *cfg)
{
    if (!cfg) return;
    free(cfg->name);
    free(cfg->host_namespace);
    json_decref(cfg->node_selector);
    json_decref(cfg->tolerations);
    free(cfg->runtime_class);
    free(cfg->pod_security);
    json_decref(cfg->quota);
    memset(cfg, 0, sizeof *cfg);
}
