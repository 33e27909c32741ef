/* crd: CustomResourceDefinition validation, status, rows, conversion,
 * printer columns, scale and OpenAPI schemas. See crd.h. */
#include "proxy/crd.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/mem.h"
#include "proxy/crdschema.h"
#include "proxy/openapi.h"
#include "proxy/printers.h"
#include "proxy/schema.h"
#include "proxy/validate.h"


/* ---- helpers -------------------------------------------------------------- */

static json_t *mem(const json_t *o, const char *k)
{
    return json_is_object(o) ? json_object_get(o, k) : NULL;
}

static const char *sget(const json_t *o, const char *k)
{
    json_t *v = mem(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *sor(const json_t *o, const char *k)
{
    const char *s = sget(o, k);
    return s ? s : "";
}


static char *jdump(const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return s ? s : vk_xstrdup("null");
}

static const char DNS1035_MSG[] =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
static const char DNS1123_SUB_MSG[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/* The errors of IsDNS1035Label joined with ",", or NULL when valid. Caller frees. */
static char *dns1035(const char *s)
{
    size_t n = strlen(s);
    int ok = n > 0 && islower((unsigned char)s[0]) &&
             (islower((unsigned char)s[n - 1]) || isdigit((unsigned char)s[n - 1]));
    for (size_t i = 0; ok && i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            ok = 0;
    if (n > 63)
        return vk_xasprintf("must be no more than 63 characters%s%s", ok ? "" : ",",
                            ok ? "" : DNS1035_MSG);
    return ok ? NULL : vk_xstrdup(DNS1035_MSG);
}

static int subdomain_ok(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int an = islower((unsigned char)c) || isdigit((unsigned char)c);
        if (!an && c != '-' && c != '.')
            return 0;
        if ((i == 0 || i == n - 1) && !an)
            return 0;
        if (c == '.' && (s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-'))
            return 0;
    }
    return 1;
}

static void check_dns1035(json_t *c, const char *field, const char *value, const char *prefix)
{
    char *e = dns1035(value);
    if (!e)
        return;
    vk_validate_add_causef(c, "FieldValueInvalid", field, "Invalid value: \"%s\": %s%s", value, prefix, e);
    free(e);
}

static int str_in(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static void not_supported(json_t *c, const char *field, const char *v, const char *const *valid)
{
    char buf[512];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; valid[i]; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\"", i ? ", " : "", valid[i]);
    vk_validate_add_causef(c, "FieldValueNotSupported", field, "Unsupported value: \"%s\": supported values: %s", v,
          buf);
}

/* The schema path upstream reports: one shared schema is spec.validation. */
static int schemas_shared(const json_t *versions)
{
    size_t n = json_array_size(versions);
    if (n < 1)
        return 0;
    const json_t *first = mem(mem(json_array_get(versions, 0), "schema"), "openAPIV3Schema");
    for (size_t i = 1; i < n; i++) {
        const json_t *s = mem(mem(json_array_get(versions, i), "schema"), "openAPIV3Schema");
        if (!first || !s || !json_equal((json_t *)first, (json_t *)s))
            return 0;
    }
    return first != NULL;
}

/* Upstream validates the internal form of a CRD, where a field equal in
 * every version (subresources, printer columns) moves to the top of spec:
 * its errors then say spec.<key>. 1 when that is the case for key. */
static int shared_field(const json_t *versions, const char *key)
{
    size_t n = json_array_size(versions);
    const json_t *first = mem(json_array_get(versions, 0), key);
    for (size_t i = 1; i < n; i++) {
        const json_t *x = mem(json_array_get(versions, i), key);
        if ((!first) != (!x) || (first && !json_equal((json_t *)first, (json_t *)x)))
            return 0;
    }
    return n > 0;
}

/* ---- validation ------------------------------------------------------------ */

static void validate_names(const json_t *names, json_t *c)
{
    const char *plural = sor(names, "plural"), *singular = sor(names, "singular");
    const char *kind = sor(names, "kind"), *list_kind = sor(names, "listKind");
    if (!*plural)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.names.plural", "Required value");
    else
        check_dns1035(c, "spec.names.plural", plural, "");
    if (*singular)
        check_dns1035(c, "spec.names.singular", singular, "");
    if (!*kind)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.names.kind", "Required value");
    else {
        char *low = vk_xstrdup(kind);
        for (char *p = low; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        char *e = dns1035(low);
        if (e)
            vk_validate_add_causef(c, "FieldValueInvalid", "spec.names.kind",
                  "Invalid value: \"%s\": may have mixed case, but should otherwise match: %s", kind,
                  e);
        free(e);
        free(low);
    }
    if (!*list_kind)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.names.listKind", "Required value");
    else if (*kind && !strcmp(kind, list_kind))
        vk_validate_add_causef(c, "FieldValueInvalid", "spec.names.listKind",
              "Invalid value: \"%s\": kind and listKind may not be the same", list_kind);
    static const char *const lists[] = {"shortNames", "categories"};
    for (int l = 0; l < 2; l++) {
        size_t i;
        json_t *v;
        json_array_foreach(mem(names, lists[l]), i, v)
        {
            char f[64];
            snprintf(f, sizeof f, "spec.names.%s[%zu]", lists[l], i);
            check_dns1035(c, f, json_is_string(v) ? json_string_value(v) : "", "");
        }
    }
}

static void validate_columns(const json_t *cols, const char *vp, int collapsed, json_t *c)
{
    static const char *const types[] = {"boolean", "date", "integer", "number", "string", NULL};
    static const char *const formats[] = {"byte", "date", "date-time", "double", "float", "int32",
                                          "int64", "password", NULL};
    size_t i;
    json_t *col;
    json_array_foreach(cols, i, col)
    {
        char f[256];
        if (!*sor(col, "name")) {
            snprintf(f, sizeof f, "%s.additionalPrinterColumns[%zu].name", vp, i);
            vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
        }
        const char *t = sor(col, "type");
        snprintf(f, sizeof f, "%s.additionalPrinterColumns[%zu].type", vp, i);
        if (!*t)
            vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
        else if (!str_in(t, types))
            vk_validate_add_causef(c, "FieldValueInvalid", f,
                  "Invalid value: \"%s\": must be one of boolean,date,integer,number,string", t);
        const char *fm = sget(col, "format");
        if (fm && *fm && !str_in(fm, formats)) {
            snprintf(f, sizeof f, "%s.additionalPrinterColumns[%zu].format", vp, i);
            not_supported(c, f, fm, formats);
        }
        const char *jp = sor(col, "jsonPath");
        snprintf(f, sizeof f, "%s.additionalPrinterColumns[%zu].%s", vp, i,
                 collapsed ? "JSONPath" : "jsonPath");
        if (!*jp)
            vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
        else {
            json_t *tmp = json_array(), *empty = json_object();
            if (vk_crd_jsonpath(empty, jp, tmp) != 0)
                vk_validate_add_causef(c, "FieldValueInvalid", f, "Invalid value: \"%s\": must be a simple json path",
                      jp);
            json_decref(tmp);
            json_decref(empty);
        }
    }
}

static void validate_scale(const json_t *scale, const char *vp, json_t *c)
{
    char f[256];
    const char *sp = sor(scale, "specReplicasPath"), *st = sor(scale, "statusReplicasPath");
    const char *ls = sget(scale, "labelSelectorPath");
    snprintf(f, sizeof f, "%s.subresources.scale.specReplicasPath", vp);
    if (!*sp)
        vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
    else if (strncmp(sp, ".spec.", 6) != 0)
        vk_validate_add_causef(c, "FieldValueInvalid", f, "Invalid value: \"%s\": should be a json path under .spec", sp);
    snprintf(f, sizeof f, "%s.subresources.scale.statusReplicasPath", vp);
    if (!*st)
        vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
    else if (strncmp(st, ".status.", 8) != 0)
        vk_validate_add_causef(c, "FieldValueInvalid", f, "Invalid value: \"%s\": should be a json path under .status",
              st);
    if (ls && strncmp(ls, ".spec.", 6) != 0 && strncmp(ls, ".status.", 8) != 0) {
        snprintf(f, sizeof f, "%s.subresources.scale.labelSelectorPath", vp);
        vk_validate_add_causef(c, "FieldValueInvalid", f,
              "Invalid value: \"%s\": should be a json path under either .spec or .status", ls);
    }
}

size_t vk_crd_validate(const json_t *crd, const json_t *old, json_t *c)
{
    size_t before = json_array_size(c);
    const json_t *spec = mem(crd, "spec");
    const char *group = sor(spec, "group");
    const json_t *names = mem(spec, "names");
    const char *name = sor(mem(crd, "metadata"), "name");
    char *want = vk_xasprintf("%s.%s", sor(names, "plural"), group);
    if (strcmp(name, want) != 0)
        vk_validate_add_causef(c, "FieldValueInvalid", "metadata.name",
              "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group", name);
    free(want);
    if (!*group)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.group", "Required value");
    else if (!subdomain_ok(group))
        vk_validate_add_causef(c, "FieldValueInvalid", "spec.group", "Invalid value: \"%s\": %s", group,
              DNS1123_SUB_MSG);
    else if (!strchr(group, '.'))
        vk_validate_add_causef(c, "FieldValueInvalid", "spec.group",
              "Invalid value: \"%s\": should be a domain with at least one dot", group);
    /* Groups of the Kubernetes project need the API review annotation. */
    size_t gl = strlen(group);
    if (!strcmp(group, "k8s.io") || !strcmp(group, "kubernetes.io") ||
        (gl > 7 && !strcmp(group + gl - 7, ".k8s.io")) ||
        (gl > 14 && !strcmp(group + gl - 14, ".kubernetes.io"))) {
        const char *f = "metadata.annotations[api-approved.kubernetes.io]";
        const char *ann = sget(mem(mem(crd, "metadata"), "annotations"), "api-approved.kubernetes.io");
        if (!ann)
            vk_validate_add_causef(c, "FieldValueRequired", f,
                  "Required value: protected groups must have approval annotation "
                  "\"api-approved.kubernetes.io\", see "
                  "https://github.com/kubernetes/enhancements/pull/1111");
        else if (strncmp(ann, "unapproved", 10) != 0 && strncmp(ann, "https://", 8) != 0 &&
                 strncmp(ann, "http://", 7) != 0)
            vk_validate_add_causef(c, "FieldValueInvalid", f,
                  "Invalid value: \"%s\": protected groups must have approval annotation "
                  "\"api-approved.kubernetes.io\" with either a URL or a reason starting with "
                  "\"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111",
                  ann);
    }
    static const char *const scopes[] = {"Cluster", "Namespaced", NULL};
    const char *scope = sor(spec, "scope");
    if (!*scope)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.scope", "Required value");
    else if (!str_in(scope, scopes))
        not_supported(c, "spec.scope", scope, scopes);
    validate_names(names, c);

    const json_t *versions = mem(spec, "versions");
    size_t nv = json_array_size(versions), nstorage = 0;
    int shared = schemas_shared(versions);
    if (!nv)
        vk_validate_add_causef(c, "FieldValueRequired", "spec.versions", "Required value: must have at least one version");
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v)
    {
        char vp[64], f[128];
        snprintf(vp, sizeof vp, "spec.versions[%zu]", i);
        const char *vn = sor(v, "name");
        snprintf(f, sizeof f, "%s.name", vp);
        if (!*vn)
            vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
        else
            check_dns1035(c, f, vn, "");
        if (i == 0 && *vn) /* upstream also checks its internal spec.version */
            check_dns1035(c, "spec.version", vn, "");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(vn, sor(json_array_get(versions, j), "name")) && *vn)
                vk_validate_add_causef(c, "FieldValueDuplicate", f, "Duplicate value: \"%s\"", vn);
        if (json_is_true(mem(v, "storage")))
            nstorage++;
        const json_t *schema = mem(mem(v, "schema"), "openAPIV3Schema");
        snprintf(f, sizeof f, "%s.schema.openAPIV3Schema", vp);
        if (!schema)
            vk_validate_add_causef(c, "FieldValueRequired", f, "Required value");
        else if (!shared || i == 0)
            vk_crdschema_check(schema, shared ? "spec.validation.openAPIV3Schema" : f, c);
        const json_t *sub = mem(v, "subresources");
        int ssub = shared_field(versions, "subresources");
        if (json_is_object(mem(sub, "scale")) && (!ssub || i == 0))
            validate_scale(mem(sub, "scale"), ssub ? "spec" : vp, c);
        int scol = shared_field(versions, "additionalPrinterColumns");
        if (!scol || i == 0)
            validate_columns(mem(v, "additionalPrinterColumns"), scol ? "spec" : vp, scol, c);
    }
    if (nv && nstorage != 1) {
        char *all = jdump(versions);
        vk_validate_add_causef(c, "FieldValueInvalid", "spec.versions",
              "Invalid value: %s: must have exactly one version marked as storage version", all);
        free(all);
    }
    if (!old && nv && nstorage == 0)
        vk_validate_add_causef(c, "FieldValueInvalid", "status.storedVersions",
              "Invalid value: null: must have at least one stored version");
    if (!old && nstorage > 1) {
        /* The create strategy records the first storage version; the last
         * one is the version validation expects. */
        const char *first = NULL, *last = NULL;
        json_array_foreach(versions, i, v) if (json_is_true(mem(v, "storage")))
        {
            if (!first)
                first = sor(v, "name");
            last = sor(v, "name");
        }
        vk_validate_add_causef(c, "FieldValueInvalid", "status.storedVersions",
              "Invalid value: [\"%s\"]: must have the storage version %s", first, last);
    }
    static const char *const strategies[] = {"None", "Webhook", NULL};
    const json_t *conv = mem(spec, "conversion");
    const char *strategy = sget(conv, "strategy");
    if (strategy && !str_in(strategy, strategies))
        not_supported(c, "spec.conversion.strategy", strategy, strategies);
    if (strategy && !strcmp(strategy, "Webhook") && !mem(mem(conv, "webhook"), "clientConfig"))
        vk_validate_add_causef(c, "FieldValueRequired", "spec.conversion.webhook",
              "Required value: required when strategy is set to Webhook");
    if (strategy && !strcmp(strategy, "None") && mem(conv, "webhook"))
        vk_validate_add_causef(c, "FieldValueForbidden", "spec.conversion.webhook",
              "Forbidden: should be null when strategy is set to None");
    if (old) {
        const json_t *ospec = mem(old, "spec");
        if (strcmp(group, sor(ospec, "group")) != 0)
            vk_validate_add_causef(c, "FieldValueInvalid", "spec.group", "Invalid value: \"%s\": field is immutable",
                  group);
        /* Storage versions still stored must stay in the spec. */
        json_array_foreach(mem(mem(old, "status"), "storedVersions"), i, v)
        {
            if (json_is_string(v) && !vk_crd_version(crd, json_string_value(v))) {
                char *all = jdump(mem(mem(old, "status"), "storedVersions"));
                vk_validate_add_causef(c, "FieldValueInvalid", "status.storedVersions[0]",
                      "Invalid value: \"%s\": must appear in spec.versions", json_string_value(v));
                free(all);
            }
        }
    }
    return json_array_size(c) - before;
}

json_t *vk_crd_warnings(const json_t *crd)
{
    json_t *w = json_array();
    const json_t *spec = mem(crd, "spec");
    const json_t *versions = mem(spec, "versions");
    int shared = schemas_shared(versions);
    json_t *paths = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v)
    {
        if (shared && i > 0)
            break;
        char f[96];
        snprintf(f, sizeof f, "spec.versions[%zu].schema.openAPIV3Schema", i);
        vk_crdschema_cel_rules(mem(mem(v, "schema"), "openAPIV3Schema"), f, paths);
    }
    json_array_foreach(paths, i, v)
    {
        char *m = vk_xasprintf("%s: x-kubernetes-validations (CEL) rules are not enforced by this "
                               "API server; objects are validated by the rest of the schema only",
                               json_string_value(v));
        json_array_append_new(w, json_string(m));
        free(m);
    }
    json_decref(paths);
    if (!strcmp(sor(mem(spec, "conversion"), "strategy"), "Webhook")) {
        const char *sv = vk_crd_storage_version(crd);
        char *m = vk_xasprintf("spec.conversion.strategy: Webhook conversion is not supported by "
                               "this API server; only the storage version %s can be read and "
                               "written, other versions answer an error",
                               sv ? sv : "(none)");
        json_array_append_new(w, json_string(m));
        free(m);
    }
    return w;
}

/* ---- status ---------------------------------------------------------------- */

static int csv_has(const char *csv, const char *s)
{
    size_t n = strlen(s);
    for (const char *p = csv; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !strncmp(p, s, n))
            return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Checks names against the table; fills reason/message of the first conflict. */
static int names_conflict(const json_t *names, const char *group, const vk_resources_t *res,
                          const char **reason, char **message)
{
    const char *plural = sor(names, "plural"), *singular = sor(names, "singular");
    const char *kind = sor(names, "kind"), *list_kind = sor(names, "listKind");
    size_t n = vk_resources_count(res);
    for (size_t i = 0; i < n; i++) {
        const vk_resource_t *r = vk_resources_at(res, i);
        if (!r->group || strcmp(r->group, group) != 0)
            continue;
        const char *what = NULL, *which = NULL;
        if (r->plural && !strcmp(r->plural, plural))
            what = "PluralConflict", which = plural;
        else if (*singular && r->singular && !strcmp(r->singular, singular))
            what = "SingularConflict", which = singular;
        else if (r->kind && !strcmp(r->kind, kind))
            what = "KindConflict", which = kind;
        else if (r->kind) {
            char *lk = vk_xasprintf("%sList", r->kind);
            if (!strcmp(lk, list_kind))
                what = "ListKindConflict", which = list_kind;
            free(lk);
        }
        if (!what) {
            size_t j;
            json_t *sn;
            json_array_foreach(mem(names, "shortNames"), j, sn)
            {
                if (json_is_string(sn) && csv_has(r->short_names, json_string_value(sn))) {
                    what = "ShortNamesConflict", which = json_string_value(sn);
                    break;
                }
            }
        }
        if (what) {
            *reason = what;
            *message = vk_xasprintf("\"%s\" is already in use", which);
            return 1;
        }
    }
    return 0;
}

/* A condition, keeping lastTransitionTime when the status did not change. */
static json_t *condition(const json_t *old_status, const char *type, const char *status,
                         const char *reason, const char *message, const char *now)
{
    const char *ltt = now;
    size_t i;
    json_t *c;
    json_array_foreach(mem(old_status, "conditions"), i, c)
    {
        if (!strcmp(sor(c, "type"), type) && !strcmp(sor(c, "status"), status) &&
            sget(c, "lastTransitionTime"))
            ltt = sget(c, "lastTransitionTime");
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "lastTransitionTime",
                     ltt, "reason", reason, "message", message);
}

json_t *vk_crd_status(const json_t *crd, const vk_resources_t *res, const char *now, int *accepted)
{
    const json_t *spec = mem(crd, "spec");
    const json_t *names = mem(spec, "names");
    const json_t *old = mem(crd, "status");
    const char *reason = NULL;
    char *message = NULL;
    int conflict = names_conflict(names, sor(spec, "group"), res, &reason, &message);
    json_t *st = json_object();
    json_t *conds = json_array();
    const json_t *old_acc = mem(old, "acceptedNames");
    int ok;
    if (!conflict) {
        json_object_set_new(st, "acceptedNames", json_deep_copy(names));
        json_array_append_new(conds, condition(old, "NamesAccepted", "True", "NoConflicts",
                                               "no conflicts found", now));
        json_array_append_new(conds, condition(old, "Established", "True", "InitialNamesAccepted",
                                               "the initial names have been accepted", now));
        ok = 1;
    } else {
        /* Upstream keeps serving the names accepted before. */
        int had = json_is_object(old_acc) && sget(old_acc, "plural") && *sget(old_acc, "plural");
        json_object_set_new(st, "acceptedNames",
                            had ? json_deep_copy(old_acc)
                                : json_pack("{s:s,s:s}", "plural", "", "kind", ""));
        json_array_append_new(conds, condition(old, "NamesAccepted", "False", reason, message, now));
        if (had)
            json_array_append_new(conds, condition(old, "Established", "True", "InitialNamesAccepted",
                                                   "the initial names have been accepted", now));
        else
            json_array_append_new(conds, condition(old, "Established", "False", "NotAccepted",
                                                   "not all names are accepted", now));
        ok = had;
    }
    free(message);
    json_t *warn = vk_crd_warnings(crd);
    if (json_array_size(warn)) {
        char *all = vk_xstrdup("");
        size_t i;
        json_t *w;
        json_array_foreach(warn, i, w)
        {
            char *n = vk_xasprintf("%s%s%s", all, i ? "; " : "", json_string_value(w));
            free(all);
            all = n;
        }
        int cel = strstr(all, "x-kubernetes-validations") != NULL;
        int wh = strstr(all, "Webhook conversion") != NULL;
        json_array_append_new(
            conds, condition(old, "UnsupportedFeatures", "True",
                             cel && wh ? "ValidationRulesAndWebhookConversion"
                                       : cel ? "ValidationRulesNotEnforced"
                                             : "WebhookConversionNotSupported",
                             all, now));
        free(all);
    }
    json_decref(warn);
    json_object_set_new(st, "conditions", conds);
    json_t *stored = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(mem(old, "storedVersions"), i, v) json_array_append(stored, v);
    const char *sv = vk_crd_storage_version(crd);
    if (sv) {
        int have = 0;
        json_array_foreach(stored, i, v) if (json_is_string(v) && !strcmp(json_string_value(v), sv))
            have = 1;
        if (!have)
            json_array_append_new(stored, json_string(sv));
    }
    json_object_set_new(st, "storedVersions", stored);
    if (accepted)
        *accepted = ok;
    return st;
}

void vk_crd_prepare_create(json_t *crd)
{
    json_t *st = json_pack("{s:{s:s,s:s},s:[]}", "acceptedNames", "plural", "", "kind", "",
                           "storedVersions");
    const char *sv = vk_crd_storage_version(crd);
    if (sv)
        json_array_append_new(json_object_get(st, "storedVersions"), json_string(sv));
    json_object_set_new(crd, "status", st);
}

/* Parses "v<major>[(alpha|beta)<minor>]": 0 when name is not of that form.
 * *stage: 3 GA, 2 beta, 1 alpha. */
static int kube_version(const char *s, long *major, int *stage, long *minor)
{
    if (s[0] != 'v' || !isdigit((unsigned char)s[1]) || s[1] == '0')
        return 0;
    char *e;
    *major = strtol(s + 1, &e, 10);
    *minor = 0;
    if (!*e) {
        *stage = 3;
        return 1;
    }
    if (!strncmp(e, "beta", 4))
        *stage = 2, e += 4;
    else if (!strncmp(e, "alpha", 5))
        *stage = 1, e += 5;
    else
        return 0;
    if (!isdigit((unsigned char)*e) || *e == '0')
        return 0;
    *minor = strtol(e, &e, 10);
    return *e == 0;
}

int vk_crd_version_cmp(const char *a, const char *b)
{
    long ma, mb, na, nb;
    int sa, sb;
    int ka = kube_version(a, &ma, &sa, &na), kb = kube_version(b, &mb, &sb, &nb);
    if (ka != kb)
        return ka ? -1 : 1;
    if (!ka)
        return strcmp(a, b);
    if (sa != sb)
        return sb - sa;
    if (ma != mb)
        return ma > mb ? -1 : 1;
    if (na != nb)
        return na > nb ? -1 : 1;
    return 0;
}

/* ---- rows ------------------------------------------------------------------ */

static char *join(const json_t *arr)
{
    char *out = vk_xstrdup("");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v))
            continue;
        char *n = vk_xasprintf("%s%s%s", out, *out ? "," : "", json_string_value(v));
        free(out);
        out = n;
    }
    return out;
}

static int row_version_cmp(const void *a, const void *b)
{
    return vk_crd_version_cmp(((const vk_resource_t *)a)->version,
                              ((const vk_resource_t *)b)->version);
}

static const json_t *names_of(const json_t *crd)
{
    const json_t *acc = mem(mem(crd, "status"), "acceptedNames");
    if (json_is_object(acc) && *sor(acc, "plural"))
        return acc;
    return mem(mem(crd, "spec"), "names");
}

vk_crd_rows_t *vk_crd_rows(const json_t *crd)
{
    const json_t *spec = mem(crd, "spec"), *names = names_of(crd);
    const json_t *versions = mem(spec, "versions");
    vk_crd_rows_t *r = vk_xcalloc(1, sizeof *r);
    r->rows = vk_xcalloc(json_array_size(versions) + 1, sizeof *r->rows);
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v)
    {
        if (!json_is_true(mem(v, "served")))
            continue;
        vk_resource_t *row = &r->rows[r->n++];
        row->group = vk_xstrdup(sor(spec, "group"));
        row->version = vk_xstrdup(sor(v, "name"));
        row->kind = vk_xstrdup(sor(names, "kind"));
        row->plural = vk_xstrdup(sor(names, "plural"));
        const char *singular = sor(names, "singular");
        if (!*singular) {
            char *s = vk_xstrdup(sor(names, "kind"));
            for (char *p = s; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            row->singular = s;
        } else {
            row->singular = vk_xstrdup(singular);
        }
        row->short_names = join(mem(names, "shortNames"));
        row->categories = join(mem(names, "categories"));
        row->flags = VK_RES_CUSTOM;
        if (!strcmp(sor(spec, "scope"), "Namespaced"))
            row->flags |= VK_RES_NAMESPACED;
        const json_t *sub = mem(v, "subresources");
        if (json_is_object(mem(sub, "status")))
            row->flags |= VK_RES_STATUS;
        if (json_is_object(mem(sub, "scale")))
            row->flags |= VK_RES_SCALE;
        row->verbs = VK_VERBS_ALL;
    }
    /* Discovery lists a group's versions in table order, the first one
     * preferred: kube's version priority, as upstream's discovery. */
    if (r->n > 1)
        qsort(r->rows, r->n, sizeof *r->rows, row_version_cmp);
    return r;
}

void vk_crd_rows_free(vk_crd_rows_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        vk_resource_t *row = &r->rows[i];
        free((char *)row->group);
        free((char *)row->version);
        free((char *)row->kind);
        free((char *)row->plural);
        free((char *)row->singular);
        free((char *)row->short_names);
        free((char *)row->categories);
    }
    free(r->rows);
    free(r);
}

int vk_crd_rows_add(const json_t *crd, vk_resources_t *t)
{
    vk_crd_rows_t *r = vk_crd_rows(crd);
    int rc = 0;
    size_t i;
    for (i = 0; i < r->n; i++) {
        rc = vk_resources_add(t, &r->rows[i]);
        if (rc < 0)
            break;
    }
    if (rc < 0)
        while (i-- > 0)
            vk_resources_remove(t, r->rows[i].group, r->rows[i].version, r->rows[i].plural);
    vk_crd_rows_free(r);
    return rc;
}

size_t vk_crd_rows_remove(const json_t *crd, vk_resources_t *t)
{
    const char *group = sor(mem(crd, "spec"), "group");
    const char *kind = sor(names_of(crd), "kind");
    size_t removed = 0;
    for (;;) {
        const vk_resource_t *hit = NULL;
        size_t n = vk_resources_count(t);
        for (size_t i = 0; i < n && !hit; i++) {
            const vk_resource_t *r = vk_resources_at(t, i);
            if ((r->flags & VK_RES_CUSTOM) && !strcmp(r->group, group) && !strcmp(r->kind, kind))
                hit = r;
        }
        if (!hit)
            break;
        char *g = vk_xstrdup(hit->group), *v = vk_xstrdup(hit->version),
             *p = vk_xstrdup(hit->plural);
        int rc = vk_resources_remove(t, g, v, p);
        free(g);
        free(v);
        free(p);
        if (rc != 0)
            break;
        removed++;
    }
    return removed;
}

/* ---- versions -------------------------------------------------------------- */

const json_t *vk_crd_version(const json_t *crd, const char *version)
{
    size_t i;
    json_t *v;
    json_array_foreach(mem(mem(crd, "spec"), "versions"), i, v)
    {
        if (version && !strcmp(sor(v, "name"), version))
            return v;
    }
    return NULL;
}

const json_t *vk_crd_schema(const json_t *crd, const char *version)
{
    return mem(mem(vk_crd_version(crd, version), "schema"), "openAPIV3Schema");
}

const char *vk_crd_storage_version(const json_t *crd)
{
    size_t i;
    json_t *v;
    json_array_foreach(mem(mem(crd, "spec"), "versions"), i, v)
    {
        if (json_is_true(mem(v, "storage")))
            return sget(v, "name");
    }
    return NULL;
}

int vk_crd_convert(const json_t *crd, json_t *obj, const char *version, char **err)
{
    const char *group = sor(mem(crd, "spec"), "group");
    if (!vk_crd_version(crd, version)) {
        if (err)
            *err = vk_xasprintf("%s/%s is not a version of %s", group, version,
                                sor(mem(crd, "metadata"), "name"));
        return VK_ENOTFOUND;
    }
    char *want = vk_xasprintf("%s/%s", group, version);
    const char *have = sor(obj, "apiVersion");
    if (!strcmp(have, want)) {
        free(want);
        return 0;
    }
    if (!strcmp(sor(mem(mem(crd, "spec"), "conversion"), "strategy"), "Webhook")) {
        if (err)
            *err = vk_xasprintf("conversion webhook for %s, Kind=%s failed: webhook conversion is "
                                "not supported by this API server (spec.conversion.strategy: "
                                "Webhook); use the storage version %s/%s",
                                want, sor(names_of(crd), "kind"), group,
                                vk_crd_storage_version(crd) ? vk_crd_storage_version(crd) : "");
        free(want);
        return VK_EINTERNAL;
    }
    json_object_set_new(obj, "apiVersion", json_string(want));
    free(want);
    return 0;
}

/* ---- the write / read pipeline ---------------------------------------------- */

int vk_crd_write(const json_t *crd, const char *version, json_t *obj, const json_t *old,
                 unsigned flags, vk_crd_write_result_t *res)
{
    res->pruned = json_array();
    res->causes = NULL;
    res->message = NULL;
    const json_t *schema = vk_crd_schema(crd, version);
    if (!vk_crd_version(crd, version))
        return VK_ENOTFOUND;
    const char *kind = sor(names_of(crd), "kind");
    const char *group = sor(mem(crd, "spec"), "group");
    if (schema)
        vk_crdschema_prune(schema, obj, res->pruned);
    if ((flags & VK_CRD_WRITE_STRICT) && json_array_size(res->pruned)) {
        res->message = vk_crd_strict_error(kind, version, res->pruned);
        return VK_EBADREQUEST;
    }
    if (schema)
        vk_crdschema_default(schema, obj);
    /* The stored object, at the request's version, for status rules and
     * ratcheting. */
    json_t *oldv = old ? json_deep_copy(old) : NULL;
    char *err = NULL;
    if (oldv && vk_crd_convert(crd, oldv, version, &err) != 0) {
        free(err);
        json_decref(oldv);
        oldv = NULL;
    }
    if (oldv && schema)
        vk_crdschema_default(schema, oldv);
    if (flags & VK_CRD_WRITE_MAIN_STATUS) {
        json_t *ost = oldv ? json_object_get(oldv, "status") : NULL;
        if (ost)
            json_object_set(obj, "status", ost);
        else
            json_object_del(obj, "status");
    } else if ((flags & VK_CRD_WRITE_STATUS_ONLY) && oldv) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(obj, tmp, k, v)
        {
            if (strcmp(k, "status") && strcmp(k, "metadata") && strcmp(k, "apiVersion") &&
                strcmp(k, "kind"))
                json_object_del(obj, k);
        }
        json_object_foreach(oldv, k, v)
        {
            if (strcmp(k, "status") && strcmp(k, "metadata") && strcmp(k, "apiVersion") &&
                strcmp(k, "kind"))
                json_object_set(obj, k, v);
        }
    }
    json_t *causes = json_array();
    vk_validate_object(group, kind, obj, oldv, causes);
    if (schema)
        vk_crdschema_validate_update(schema, obj, oldv, causes);
    vk_crd_scale_validate(crd, version, obj, causes);
    json_decref(oldv);
    if (json_array_size(causes)) {
        res->causes = causes;
        res->message = vk_validate_message(group, kind, sor(mem(obj, "metadata"), "name"), causes);
        return VK_EINVALID;
    }
    json_decref(causes);
    const char *sv = vk_crd_storage_version(crd);
    int rc = sv ? vk_crd_convert(crd, obj, sv, &res->message) : 0;
    return rc;
}

int vk_crd_read(const json_t *crd, const char *version, json_t *obj, char **err)
{
    int rc = vk_crd_convert(crd, obj, version, err);
    if (rc)
        return rc;
    const json_t *schema = vk_crd_schema(crd, version);
    if (schema)
        vk_crdschema_default(schema, obj);
    return 0;
}

/* ---- JSONPath subset ------------------------------------------------------- */

static void jp_step_key(json_t *cur, const char *key, size_t klen, json_t *next)
{
    char *k = vk_xstrndup(key, klen);
    size_t i;
    json_t *v;
    json_array_foreach(cur, i, v)
    {
        if (!strcmp(k, "*")) {
            const char *kk;
            json_t *vv;
            if (json_is_object(v))
                json_object_foreach(v, kk, vv) json_array_append(next, vv);
            else if (json_is_array(v))
                json_array_extend(next, v);
        } else if (json_is_object(v) && json_object_get(v, k)) {
            json_array_append(next, json_object_get(v, k));
        }
    }
    free(k);
}

int vk_crd_jsonpath(const json_t *obj, const char *path, json_t *out)
{
    const char *p = path;
    size_t plen = strlen(p);
    /* Accept "{.a.b}" and "$.a" forms too. */
    if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
        p++;
        plen -= 2;
    }
    char *buf = vk_xstrndup(p, plen);
    p = buf;
    if (*p == '$')
        p++;
    json_t *cur = json_array();
    json_array_append(cur, (json_t *)obj);
    int rc = 0;
    if (*p != '.' && *p != '[')
        rc = VK_EINVALID;
    while (!rc && *p) {
        json_t *next = json_array();
        if (*p == '.') {
            p++;
            size_t n = strcspn(p, ".[");
            if (!n && *p != '[') {
                rc = VK_EINVALID;
            } else if (n) {
                jp_step_key(cur, p, n, next);
                p += n;
            } else {
                json_array_extend(next, cur);
            }
        } else if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end) {
                rc = VK_EINVALID;
            } else {
                const char *in = p + 1;
                size_t n = (size_t)(end - in);
                if (n >= 2 && (in[0] == '\'' || in[0] == '"') && in[n - 1] == in[0]) {
                    jp_step_key(cur, in + 1, n - 2, next);
                } else if (n == 1 && in[0] == '*') {
                    jp_step_key(cur, "*", 1, next);
                } else {
                    char *e = NULL;
                    long idx = strtol(in, &e, 10);
                    if (e != end || n == 0) {
                        rc = VK_EINVALID;
                    } else {
                        size_t i;
                        json_t *v;
                        json_array_foreach(cur, i, v)
                        {
                            if (!json_is_array(v))
                                continue;
                            long len = (long)json_array_size(v), k = idx < 0 ? len + idx : idx;
                            if (k >= 0 && k < len)
                                json_array_append(next, json_array_get(v, (size_t)k));
                        }
                    }
                }
                p = end + 1;
            }
        } else {
            rc = VK_EINVALID;
        }
        json_decref(cur);
        cur = next;
    }
    if (!rc)
        json_array_extend(out, cur);
    json_decref(cur);
    free(buf);
    return rc;
}

/* ---- tables ---------------------------------------------------------------- */

static const char *meta_doc(const char *field)
{
    const vk_schema_msg_t *om =
        vk_schema_msg_by_name("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    const vk_schema_field_t *f = om ? vk_schema_field_by_json(om, field) : NULL;
    return f && f->doc ? f->doc : "";
}

json_t *vk_crd_table_columns(const json_t *crd, const char *version)
{
    json_t *cols = json_array();
    json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Name", "type", "string",
                                          "format", "name", "description", meta_doc("name"),
                                          "priority", 0));
    const json_t *pc = mem(vk_crd_version(crd, version), "additionalPrinterColumns");
    if (!json_array_size(pc)) {
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", "Age", "type", "date",
                                              "format", "", "description",
                                              meta_doc("creationTimestamp"), "priority", 0));
        return cols;
    }
    size_t i;
    json_t *c;
    json_array_foreach(pc, i, c)
    {
        const char *desc = sget(c, "description");
        char *d = desc ? vk_xstrdup(desc)
                       : vk_xasprintf("Custom resource definition column (in JSONPath format): %s",
                                      sor(c, "jsonPath"));
        json_t *prio = mem(c, "priority");
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", sor(c, "name"),
                                              "type", sor(c, "type"), "format", sor(c, "format"),
                                              "description", d, "priority",
                                              (json_int_t)(json_is_integer(prio)
                                                               ? json_integer_value(prio)
                                                               : 0)));
        free(d);
    }
    return cols;
}

/* A value printed as text for string columns. */
static char *cell_text(const json_t *v)
{
    if (json_is_string(v))
        return vk_xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return vk_xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return vk_xasprintf("%g", json_real_value(v));
    if (json_is_boolean(v))
        return vk_xstrdup(json_is_true(v) ? "true" : "false");
    return jdump(v);
}

static json_t *cell(const char *type, const json_t *vals, int64_t now)
{
    if (!json_array_size(vals))
        return json_null();
    const json_t *v = json_array_get(vals, 0);
    if (!strcmp(type, "string")) {
        /* Only the first value, as upstream (".items[*]" shows items[0]). */
        char *t = cell_text(v);
        json_t *r = json_string(t);
        free(t);
        return r;
    }
    if (!strcmp(type, "integer")) {
        if (json_is_integer(v))
            return json_integer(json_integer_value(v));
        if (json_is_real(v))
            return json_integer((json_int_t)json_real_value(v));
        return json_null();
    }
    if (!strcmp(type, "number"))
        return json_is_number(v) ? json_deep_copy(v) : json_null();
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v) ? json_deep_copy(v) : json_null();
    if (!strcmp(type, "date")) {
        if (!json_is_string(v))
            return json_null();
        char b[64];
        vk_printers_age(json_string_value(v), now, b, sizeof b);
        if (!strcmp(b, "<unknown>"))
            return json_null();
        return json_string(b);
    }
    return json_null();
}

json_t *vk_crd_table_row(const json_t *crd, const char *version, const json_t *obj, int64_t now)
{
    json_t *cells = json_array();
    json_array_append_new(cells, json_string(sor(mem(obj, "metadata"), "name")));
    const json_t *pc = mem(vk_crd_version(crd, version), "additionalPrinterColumns");
    if (!json_array_size(pc)) {
        char b[64];
        vk_printers_age(sget(mem(obj, "metadata"), "creationTimestamp"), now, b, sizeof b);
        json_array_append_new(cells, json_string(b));
    } else {
        size_t i;
        json_t *c;
        json_array_foreach(pc, i, c)
        {
            json_t *vals = json_array();
            if (vk_crd_jsonpath(obj, sor(c, "jsonPath"), vals) != 0)
                json_array_clear(vals);
            json_array_append_new(cells, cell(sor(c, "type"), vals, now));
            json_decref(vals);
        }
    }
    return json_pack("{s:o}", "cells", cells);
}

/* ---- scale ----------------------------------------------------------------- */

static const json_t *scale_of(const json_t *crd, const char *version)
{
    const json_t *s = mem(mem(vk_crd_version(crd, version), "subresources"), "scale");
    return json_is_object(s) ? s : NULL;
}

/* Go's %T of an unstructured value. */
static const char *gotype(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "int64";
    case JSON_REAL: return "float64";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_OBJECT: return "map[string]interface {}";
    case JSON_ARRAY: return "[]interface {}";
    default: return "<nil>";
    }
}

/* Walks a ".a.b" path. Returns the value (borrowed) or NULL; *bad is set to
 * the non-object met on the way (or the non-integer leaf is left to the
 * caller). */
static const json_t *walk(const json_t *obj, const char *path, const json_t **bad)
{
    *bad = NULL;
    const json_t *cur = obj;
    const char *p = path;
    if (*p == '.')
        p++;
    while (*p) {
        size_t n = strcspn(p, ".");
        if (!json_is_object(cur)) {
            *bad = cur;
            return NULL;
        }
        char *k = vk_xstrndup(p, n);
        cur = json_object_get(cur, k);
        free(k);
        if (!cur)
            return NULL;
        p += n;
        if (*p == '.')
            p++;
    }
    return cur;
}

int vk_crd_scale_get(const json_t *crd, const char *version, const json_t *obj, json_t **scale)
{
    const json_t *sc = scale_of(crd, version);
    if (!sc)
        return VK_ENOTFOUND;
    const json_t *bad;
    const json_t *spec = walk(obj, sor(sc, "specReplicasPath"), &bad);
    const json_t *status = walk(obj, sor(sc, "statusReplicasPath"), &bad);
    const json_t *meta = mem(obj, "metadata");
    json_t *m = json_object();
    static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (mem(meta, keep[i]))
            json_object_set(m, keep[i], mem(meta, keep[i]));
    json_t *st = json_pack("{s:I}", "replicas",
                           (json_int_t)(json_is_integer(status) ? json_integer_value(status) : 0));
    const char *lsp = sget(sc, "labelSelectorPath");
    if (lsp) {
        const json_t *sel = walk(obj, lsp, &bad);
        if (json_is_string(sel))
            json_object_set_new(st, "selector", json_string(json_string_value(sel)));
    }
    *scale = json_pack("{s:s,s:s,s:o,s:{s:I},s:o}", "kind", "Scale", "apiVersion", "autoscaling/v1",
                       "metadata", m, "spec", "replicas",
                       (json_int_t)(json_is_integer(spec) ? json_integer_value(spec) : 0), "status",
                       st);
    return 0;
}

int vk_crd_scale_set(const json_t *crd, const char *version, json_t *obj, const json_t *scale,
                     json_t *causes)
{
    const json_t *sc = scale_of(crd, version);
    if (!sc)
        return VK_ENOTFOUND;
    const json_t *r = mem(mem(scale, "spec"), "replicas");
    if (!json_is_integer(r)) {
        vk_validate_add_causef(causes, "FieldValueRequired", "spec.replicas", "Required value");
        return VK_EINVALID;
    }
    if (json_integer_value(r) < 0) {
        vk_validate_add_causef(causes, "FieldValueInvalid", "spec.replicas",
              "Invalid value: %lld: must be greater than or equal to 0",
              (long long)json_integer_value(r));
        return VK_EINVALID;
    }
    const char *p = sor(sc, "specReplicasPath");
    if (*p == '.')
        p++;
    json_t *cur = obj;
    while (*p) {
        size_t n = strcspn(p, ".");
        char *k = vk_xstrndup(p, n);
        p += n;
        if (*p == '.')
            p++;
        if (!*p) {
            json_object_set_new(cur, k, json_integer(json_integer_value(r)));
        } else {
            json_t *nx = json_object_get(cur, k);
            if (!json_is_object(nx)) {
                nx = json_object();
                json_object_set_new(cur, k, nx);
            }
            cur = nx;
        }
        free(k);
    }
    return 0;
}

static void check_replicas(const json_t *obj, const char *path, json_t *c)
{
    if (!*path)
        return;
    const json_t *bad;
    const json_t *v = walk(obj, path, &bad);
    if (bad) {
        char *t = cell_text(bad);
        vk_validate_add_causef(c, "FieldValueInvalid", path,
              "Invalid value: 0: %s accessor error: %s is of the type %s, expected map[string]interface{}",
              path, t, gotype(bad));
        free(t);
    } else if (v && !json_is_integer(v)) {
        char *t = cell_text(v);
        vk_validate_add_causef(c, "FieldValueInvalid", path,
              "Invalid value: 0: %s accessor error: %s is of the type %s, expected int64", path, t,
              gotype(v));
        free(t);
    } else if (v && json_integer_value(v) < 0) {
        vk_validate_add_causef(c, "FieldValueInvalid", path, "Invalid value: %lld: should be a non-negative integer",
              (long long)json_integer_value(v));
    }
}

size_t vk_crd_scale_validate(const json_t *crd, const char *version, const json_t *obj,
                             json_t *causes)
{
    size_t before = json_array_size(causes);
    const json_t *sc = scale_of(crd, version);
    if (!sc)
        return 0;
    check_replicas(obj, sor(sc, "specReplicasPath"), causes);
    check_replicas(obj, sor(sc, "statusReplicasPath"), causes);
    return json_array_size(causes) - before;
}

/* ---- OpenAPI --------------------------------------------------------------- */

static void strip_v2(json_t *s)
{
    if (!json_is_object(s))
        return;
    if (json_is_true(json_object_get(s, "nullable")))
        json_object_del(s, "type"); /* v2 has no nullable: accept anything */
    static const char *const drop[] = {"nullable", "anyOf", "oneOf", "allOf", "not",
                                       "x-kubernetes-validations"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        json_object_del(s, drop[i]);
    if (json_is_true(json_object_get(s, "x-kubernetes-int-or-string")))
        json_object_del(s, "type");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(s, "properties"), k, v) strip_v2(v);
    strip_v2(json_object_get(s, "items"));
    strip_v2(json_object_get(s, "additionalProperties"));
}

json_t *vk_crd_openapi_schema(const json_t *crd, const char *version, int v2)
{
    const json_t *s = vk_crd_schema(crd, version);
    if (!s)
        return NULL;
    json_t *out = json_deep_copy(s);
    if (v2)
        strip_v2(out);
    return out;
}

int vk_crd_openapi_apply(const json_t *crd, struct vk_openapi *o)
{
    const json_t *spec = mem(crd, "spec");
    const char *kind = sor(names_of(crd), "kind");
    size_t i;
    json_t *v;
    json_array_foreach(mem(spec, "versions"), i, v)
    {
        if (!json_is_true(mem(v, "served")))
            continue;
        int rc = vk_openapi_set_schema(o, sor(spec, "group"), sor(v, "name"), kind,
                                       mem(mem(v, "schema"), "openAPIV3Schema"));
        if (rc < 0)
            return rc;
    }
    return 0;
}

char *vk_crd_strict_error(const char *kind, const char *version, const json_t *pruned)
{
    char *out = vk_xasprintf("%s in version \"%s\" cannot be handled as a %s: strict decoding error: ",
                             kind, version, kind);
    size_t i;
    json_t *p;
    json_array_foreach(pruned, i, p)
    {
        char *n = vk_xasprintf("%s%sunknown field \"%s\"", out, i ? ", " : "",
                               json_string_value(p));
        free(out);
        out = n;
    }
    return out;
}
