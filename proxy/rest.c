/* rest: generic REST over the store for every row of the resource table.
 * Objects are stored as compact JSON without metadata.resourceVersion; reads
 * inject the key's mod_rev. Writes go through one read-modify-write path
 * (update, patch, status, scale, finalizer-driven deletes) that retries
 * unconditional writes on a CAS conflict. */
#include "rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <assert.h>
#include <malloc.h>
#include <sys/random.h>
#include <time.h>

#include "common/err.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/yaml.h"
#include "proxy/apply.h"
#include "proxy/crdserve.h"
#include "proxy/defaults.h"
#include "proxy/fastjson.h"
#include "proxy/patch.h"
#include "proxy/podsecurity.h"
#include "proxy/quantity.h"
#include "proxy/protobuf.h"
#include "proxy/quota.h"
#include "proxy/binding.h"
#include "proxy/satoken.h"
#include "proxy/schema.h"
#include "proxy/rbac.h"
#include "proxy/status.h"
#include "proxy/table.h"
#include "proxy/validate.h"

#define MAX_RETRIES 5

/* ------------------------------------------------------------ small helpers */

char *vk_rest_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static void time_after(char *buf, size_t n, long seconds)
{
    time_t t = time(NULL) + seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Random bytes from the kernel, taken 256 at a time into ctx's pool: one
 * system call per 16 uids instead of one per create. (OpenSSL's RAND_bytes,
 * tried instead, cost more than the system call.) */
static void random_bytes(vk_rest_ctx_t *ctx, unsigned char *b, size_t n)
{
    while (n) {
        if (!ctx->rnd_left) {
            size_t got = 0;
            while (got < sizeof ctx->rnd) {
                ssize_t r = getrandom(ctx->rnd + got, sizeof ctx->rnd - got, 0);
                if (r > 0) got += (size_t)r;
            }
            ctx->rnd_left = sizeof ctx->rnd;
        }
        size_t k = n < ctx->rnd_left ? n : ctx->rnd_left;
        unsigned char *src = ctx->rnd + sizeof ctx->rnd - ctx->rnd_left;
        memcpy(b, src, k);
        memset(src, 0, k); /* used once */
        ctx->rnd_left -= k;
        b += k;
        n -= k;
    }
}

/* A random (version 4) UUID in its 36-character text form. */
static void new_uid(vk_rest_ctx_t *ctx, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(ctx, b, sizeof b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = 0;
}

static void name_suffix(vk_rest_ctx_t *ctx, char out[6])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char b[5];
    random_bytes(ctx, b, sizeof b);
    for (int i = 0; i < 5; i++) out[i] = alphabet[b[i] % (sizeof alphabet - 1)];
    out[5] = 0;
}

static json_t *meta_of(json_t *obj)
{
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    return md;
}

static const char *str_at(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *meta_str(const json_t *obj, const char *k)
{
    return str_at(json_object_get(obj, "metadata"), k);
}

json_t *vk_rest_decode(const vk_kv_t *kv)
{
    json_t *o = json_loadb((const char *)kv->val, kv->len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    char rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)kv->mod_rev);
    json_object_set_new(meta_of(o), "resourceVersion", json_string(rv));
    return o;
}

/* The stored form: compact JSON without resourceVersion. Caller frees. */
static char *encode(json_t *obj, size_t *len)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *rv = json_object_get(md, "resourceVersion");
    if (rv) json_incref(rv);
    json_object_del(md, "resourceVersion");
    char *s = json_dumps(obj, JSON_COMPACT);
    if (rv) json_object_set_new(md, "resourceVersion", rv);
    *len = strlen(s);
    return s;
}

static int64_t parse_rv(const char *s)
{
    if (!s || !*s) return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || v < 0) return -2;
    return v;
}

static const char *query(vk_rest_call_t *c, const char *k)
{
    return vk_http_query(c->req, k);
}

static int dry_run(vk_rest_call_t *c)
{
    const char *d = query(c, "dryRun");
    return d && !strcmp(d, "All");
}

static const char *api_version(const vk_resource_t *r, char *buf, size_t n)
{
    return vk_resources_api_version(r, buf, n);
}

/* ------------------------------------------------------------------ replies */

static void observe(vk_rest_call_t *c, int code)
{
    double secs = (double)(uv_hrtime() - c->req->start_ns) / 1e9;
    vk_metrics_observe(c->ctx->metrics, c->metric_verb, c->res ? c->res->group : "",
                       c->res ? c->res->plural : "", c->sub ? c->sub : "", code, secs);
}

/* Responses at least this large hand their memory back to the system when
 * done: glibc keeps freed heap otherwise, and a 10,000-object list would
 * leave the tenant hundreds of MB larger. */
#define TRIM_AFTER_BYTES (1u << 20)

void vk_rest_reply(vk_rest_call_t *c, int code, json_t *body)
{
    if (!c->req) {
        json_decref(body);
        return;
    }
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    observe(c, code);
    vk_http_req_t *req = c->req;
    c->req = NULL;
    size_t len = strlen(s);
    vk_http_respond(req, code, "application/json", s, len);
    free(s);
    if (len >= TRIM_AFTER_BYTES) malloc_trim(0);
}

/* Sends JSON bytes already encoded (borrowed) and finishes the request. */
static void reply_bytes(vk_rest_call_t *c, int code, const char *s, size_t len)
{
    if (!c->req) return;
    observe(c, code);
    vk_http_req_t *req = c->req;
    c->req = NULL;
    vk_http_respond(req, code, "application/json", s, len);
}

/* Answers with a stored object of a built-in resource as it is stored, with
 * its resourceVersion spliced in (fastjson): no decoding, no encoding. Falls
 * back to decoding when the bytes do not have the expected layout. (Custom
 * resources are converted on read: not for them.) */
static void reply_stored(vk_rest_call_t *c, int code, const vk_kv_t *kv)
{
    vk_fastjson_buf_t b = {0};
    vk_fastjson_buf_reserve(&b, kv->len + 64);
    if (!vk_fastjson_put_with_rv(&b, (const char *)kv->val, kv->len, kv->mod_rev))
        reply_bytes(c, code, b.p, b.len);
    else
        vk_rest_reply(c, code, vk_rest_decode(kv));
    vk_fastjson_buf_free(&b);
}

void vk_rest_reply_status(vk_rest_call_t *c, json_t *status)
{
    vk_rest_reply(c, vk_status_code(status), status);
}

void vk_rest_reply_err(vk_rest_call_t *c, int err, const char *msg)
{
    /* kube-apiserver's BadRequest errors carry no details. */
    if (err == VK_EBADREQUEST) {
        vk_rest_reply_status(c, vk_status_for_err(err, NULL, NULL, msg));
        return;
    }
    vk_rest_reply_status(c, vk_status_for_err(err, c->res, c->name, msg));
}

static void reply_msg(vk_rest_call_t *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void reply_msg(vk_rest_call_t *c, int err, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    vk_rest_reply_err(c, err, buf);
}

/* 422 Invalid with one cause: `<Kind> "<name>" is invalid: <field>: <detail>`. */
static void reply_invalid(vk_rest_call_t *c, const char *name, const char *field,
                          const char *reason, const char *detail)
{
    char msg[2048];
    snprintf(msg, sizeof msg, "%s \"%s\" is invalid: %s: %s", c->res->kind, name ? name : "",
             field, detail);
    json_t *s = vk_status_new(422, "Invalid", msg, c->res, name);
    json_t *d = json_object_get(s, "details");
    json_object_set_new(d, "kind", json_string(c->res->kind));
    json_t *causes = json_array();
    json_t *cause = json_object();
    json_object_set_new(cause, "reason", json_string(reason));
    json_object_set_new(cause, "message", json_string(detail));
    json_object_set_new(cause, "field", json_string(field));
    json_array_append_new(causes, cause);
    json_object_set_new(d, "causes", causes);
    vk_rest_reply_status(c, s);
}

/* Defaults then validates a built-in object (old is NULL on create). 0, or
 * answers 422 and returns -1. */
/* Adds `Warning: 299 - "<text>"` with quotes and backslashes escaped. */
static void add_warning(vk_rest_call_t *c, const char *text)
{
    char h[4096] = "299 - \"";
    size_t n = strlen(h);
    for (const char *p = text; *p && n + 4 < sizeof h; p++) {
        if (*p == '"' || *p == '\\') h[n++] = '\\';
        h[n++] = *p;
    }
    h[n++] = '"';
    h[n] = 0;
    vk_http_add_header(c->req, "Warning", h);
}

/* Removes the member at a strict-decoding path ("spec.containers[0].foo"; map
 * keys may contain dots) from obj, as decoding into Go structs drops it. */
static void drop_path(json_t *obj, const char *path)
{
    char *p = vk_xstrdup(path);
    json_t *cur = obj;
    char *seg = p;
    while (cur && seg && *seg) {
        /* The longest prefix of the rest that names a member (keys may hold dots). */
        char *end = seg + strlen(seg), *best = NULL;
        for (char *e = end; e > seg; e--) {
            if (e != end && *e != '.' && *e != '[') continue;
            char save = *e;
            *e = 0;
            int found = json_object_get(cur, seg) != NULL;
            *e = save;
            if (found) {
                best = e;
                break;
            }
        }
        if (!best) break;
        char save = *best;
        *best = 0;
        if (save == 0) {
            json_object_del(cur, seg);
            break;
        }
        cur = json_object_get(cur, seg);
        *best = save;
        char *q = best;
        while (*q == '[' && cur) {
            cur = json_array_get(cur, strtoul(q + 1, &q, 10));
            if (*q == ']') q++;
        }
        seg = *q == '.' ? q + 1 : q;
        if (!*seg) break;
    }
    free(p);
}

/* fieldValidation: unknown fields are an error (Strict), a Warning header
 * (Warn, the default) or ignored; unless Strict they are dropped from obj.
 * 0, or answers 400 and returns -1. */
static int check_unknown_fields(vk_rest_call_t *c, json_t *obj)
{
    const char *fv = query(c, "fieldValidation");
    if (fv && strcmp(fv, "Strict") && strcmp(fv, "Warn") && strcmp(fv, "Ignore")) {
        reply_msg(c, VK_EBADREQUEST, "fieldValidation must be one of \"Ignore\", \"Warn\", or "
                  "\"Strict\", not %s", fv);
        return -1;
    }
    int strict = fv && !strcmp(fv, "Strict"), warn = !fv || !strcmp(fv, "Warn");
    enum { MAXP = 256 };
    char **paths = vk_xcalloc(MAXP, sizeof *paths);
    int n = vk_schema_unknown_fields(c->res->group, c->res->version, c->res->kind, obj, paths,
                                     MAXP);
    size_t k = n <= 0 ? 0 : n < MAXP ? (size_t)n : MAXP;
    int rc = 0;
    if (k && strict) {
        char msg[4096] = "strict decoding error: ";
        size_t len = strlen(msg);
        for (size_t i = 0; i < k && len < sizeof msg; i++)
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%sunknown field \"%s\"",
                                    i ? ", " : "", paths[i]);
        vk_rest_reply_err(c, VK_EBADREQUEST, msg);
        rc = -1;
    } else {
        for (size_t i = 0; i < k; i++) {
            if (warn) {
                char t[1024];
                snprintf(t, sizeof t, "unknown field \"%s\"", paths[i]);
                add_warning(c, t);
            }
            drop_path(obj, paths[i]);
        }
    }
    for (size_t i = 0; i < k; i++) free(paths[i]);
    free(paths);
    return rc;
}

/* Pod Security admission with the namespace's enforce label: pods violating
 * it are refused (403), workloads whose template would are warned about. */
static json_t *namespace_object(vk_rest_ctx_t *ctx, const char *ns, int *rc);

static int check_pod_security(vk_rest_call_t *c, const json_t *obj)
{
    if (!(c->res->flags & VK_RES_NAMESPACED) || !c->ns || c->sub) return 0;
    if (!vk_podsecurity_applies(c->res->group, c->res->kind)) return 0;
    int rc;
    json_t *ns = namespace_object(c->ctx, c->ns, &rc);
    if (!ns) return 0;
    vk_podsecurity_level_t level =
        vk_podsecurity_namespace_level(ns, (vk_podsecurity_level_t)c->ctx->pod_security_floor);
    json_decref(ns);
    if (level == VK_PODSECURITY_PRIVILEGED) return 0;
    char *v = vk_podsecurity_check_object(level, c->res->group, c->res->kind, obj);
    if (!v) return 0;
    int is_pod = !c->res->group[0] && !strcmp(c->res->kind, "Pod");
    if (is_pod) {
        char *msg = vk_podsecurity_forbidden_message(level, "pods", meta_str(obj, "name"), v);
        vk_rest_reply_status(c, vk_status_new(403, "Forbidden", msg, c->res,
                                              meta_str(obj, "name")));
        free(msg);
        free(v);
        return -1;
    }
    char *w = vk_podsecurity_warning(level, v);
    add_warning(c, w);
    free(w);
    free(v);
    return 0;
}

/* Sends the warnings of a proxy/crdserve.h hook and answers its Status when
 * rc is not 0 (takes both references). Returns rc. */
static int crd_result(vk_rest_call_t *c, int rc, json_t *warnings, json_t *status)
{
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w) add_warning(c, json_string_value(w));
    json_decref(warnings);
    if (rc) vk_rest_reply_status(c, status);
    return rc;
}

static int default_and_validate(vk_rest_call_t *c, json_t *obj, const json_t *old)
{
    const vk_resource_t *r = c->res;
    json_t *cw, *cst;
    int crc;
    if (r->flags & VK_RES_CUSTOM) {
        crc = vk_crdserve_write(c->ctx->crds, r, c->sub, query(c, "fieldValidation"), obj, old,
                                &cw, &cst);
        return crd_result(c, crc, cw, cst);
    }
    /* A quantity that does not parse fails decoding, as in kube-apiserver. */
    char *qmsg = NULL;
    if (vk_quantity_canon_object(r->group, r->version, r->kind, obj, &qmsg)) {
        vk_rest_reply_err(c, VK_EBADREQUEST, qmsg ? qmsg : "invalid quantity");
        free(qmsg);
        return -1;
    }
    if (!c->sub && check_unknown_fields(c, obj)) return -1;
    vk_defaults_apply(r->group, r->version, r->kind, obj);
    if (!old && !strcmp(r->kind, "Pod") && !r->group[0]) vk_defaults_pod_admission(obj);
    if (!old && check_pod_security(c, obj)) return -1;
    if (old) vk_defaults_keep_allocated(r->group, r->kind, obj, old);
    if (c->sub) return 0; /* status and scale writes: no spec validation */
    if (!strcmp(r->plural, "customresourcedefinitions")) {
        crc = vk_crdserve_admit_crd(c->ctx->crds, r, obj, old, &cw, &cst);
        if (crd_result(c, crc, cw, cst)) return -1;
    }
    json_t *causes = json_array();
    if (vk_validate_object(r->group, r->kind, obj, old, causes) != VK_EINVALID) {
        json_decref(causes);
        return 0;
    }
    const char *name = meta_str(obj, "name");
    char *msg = vk_validate_message(r->group, r->kind, name, causes);
    json_t *st = vk_status_new(422, "Invalid", msg, r, name);
    json_object_set_new(json_object_get(st, "details"), "kind", json_string(r->kind));
    json_object_set_new(json_object_get(st, "details"), "causes", causes);
    free(msg);
    vk_rest_reply_status(c, st);
    return -1;
}

/* ------------------------------------------------------------ content types */

int vk_rest_wants_table(vk_http_req_t *req)
{
    const char *a = vk_http_header(req, "Accept");
    return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}

int vk_rest_include_object(vk_http_req_t *req)
{
    const char *v = vk_http_query(req, "includeObject");
    if (!v || !strcmp(v, "Metadata")) return 1;
    if (!strcmp(v, "Object")) return 2;
    if (!strcmp(v, "None")) return 0;
    return 1;
}

static int media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && !strncasecmp(ct, want, n) && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Decodes the request body into an object. 0, or answers and returns -1. */
static int parse_body(vk_rest_call_t *c, json_t **out)
{
    const char *ct = vk_http_header(c->req, "Content-Type");
    if (ct && media_is(ct, "application/vnd.kubernetes.protobuf")) {
        char err[512] = "";
        json_t *o = NULL;
        int rc = vk_pb_decode(c->req->body, c->req->body_len, &o, err, sizeof err);
        if (rc) {
            vk_rest_reply_err(c, rc, err[0] ? err : NULL);
            return -1;
        }
        *out = o;
        return 0;
    }
    if (ct && *ct && !media_is(ct, "application/json") && !media_is(ct, "*/*")) {
        vk_rest_reply_err(c, VK_EUNSUPPORTEDMEDIA,
                          "the body of the request was in an unknown format - accepted media "
                          "types include: application/json, application/yaml, "
                          "application/vnd.kubernetes.protobuf");
        return -1;
    }
    json_error_t e;
    json_t *o = json_loadb(c->req->body ? c->req->body : "", c->req->body_len, 0, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        reply_msg(c, VK_EBADREQUEST, "the object provided is unrecognized (must be of type %s): %s",
                  c->res->kind, o ? "not an object" : e.text);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---------------------------------------------------------------- selectors */

static const char *const pod_fields[] = {
    "spec.nodeName",    "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase",       "status.podIP",       "status.podIPs",
    "status.nominatedNodeName", NULL};
static const char *const event_fields[] = {
    "involvedObject.kind",      "involvedObject.namespace", "involvedObject.name",
    "involvedObject.uid",       "involvedObject.apiVersion", "involvedObject.resourceVersion",
    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type", NULL};
static const char *const secret_fields[] = {"type", NULL};
static const char *const ns_fields[] = {"status.phase", NULL};
static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const char *const rs_fields[] = {"status.replicas", NULL};
static const char *const job_fields[] = {"status.successful", NULL};
static const char *const none_fields[] = {NULL};

static const char *const *field_labels(const vk_resource_t *r)
{
    if (!strcmp(r->plural, "pods") && !r->group[0]) return pod_fields;
    if (!strcmp(r->plural, "events")) return event_fields;
    if (!strcmp(r->plural, "secrets")) return secret_fields;
    if (!strcmp(r->plural, "namespaces")) return ns_fields;
    if (!strcmp(r->plural, "nodes")) return node_fields;
    if (!strcmp(r->plural, "replicasets")) return rs_fields;
    if (!strcmp(r->plural, "jobs")) return job_fields;
    return none_fields;
}

/* Pods' spec.hostNetwork is matched as "false" when absent, as upstream. */
static const char *field_value(void *ctx, const json_t *obj, const char *field, char *buf,
                               size_t cap)
{
    const char *v = vk_selector_field_value(ctx, obj, field, buf, cap);
    if (!v && !strcmp(field, "spec.hostNetwork")) return "false";
    if (!v && !strcmp(field, "source")) {
        v = vk_selector_field_value(ctx, obj, "source.component", buf, cap);
        if (!v) v = vk_selector_field_value(ctx, obj, "reportingController", buf, cap);
    }
    return v;
}

int vk_rest_filter_parse(vk_rest_call_t *c, vk_rest_filter_t *f)
{
    memset(f, 0, sizeof *f);
    const char *ls = query(c, "labelSelector"), *fs = query(c, "fieldSelector");
    char *err = NULL;
    int rc = vk_selector_label_parse(ls, &f->label, &err);
    if (rc == 0) rc = vk_selector_field_parse(fs, &f->field, &err);
    if (rc == 0) rc = vk_selector_field_check(f->field, field_labels(c->res), &err);
    if (rc == 0) return 0;
    char av[128];
    reply_msg(c, VK_EBADREQUEST,
              "Unable to find \"%s/%s, Resource=%s\" that match label selector \"%s\", field "
              "selector \"%s\": %s",
              c->res->group, api_version(c->res, av, sizeof av) ? c->res->version : "",
              c->res->plural, ls ? ls : "", fs ? fs : "", err ? err : "invalid selector");
    free(err);
    vk_rest_filter_free(f);
    return VK_EBADREQUEST;
}

int vk_rest_filter_match(const vk_rest_filter_t *f, const vk_resource_t *res, const json_t *obj)
{
    if (f->label &&
        !vk_selector_label_match(f->label, json_object_get(json_object_get(obj, "metadata"),
                                                           "labels")))
        return 0;
    if (f->field && !vk_selector_field_match(f->field, obj, field_value, NULL)) return 0;
    return 1;
}

void vk_rest_filter_free(vk_rest_filter_t *f)
{
    vk_selector_label_free(f->label);
    vk_selector_field_free(f->field);
    f->label = NULL;
    f->field = NULL;
}

/* ---------------------------------------------------------- managed fields */

static int parse_bool(const char *v)
{
    static const char *const t[] = {"1", "t", "T", "true", "TRUE", "True"};
    for (size_t i = 0; v && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(v, t[i])) return 1;
    return 0;
}

/* Options for proxy/apply.h: manager (fieldManager or the User-Agent up to its
 * first '/'), API version, subresource, time, schema. Strings live in the pool. */
static void apply_opts(vk_rest_call_t *c, vk_apply_opts_t *o, vk_patch_kind_t *k)
{
    static const char *const ignore_status[] = {"status", NULL};
    static const char *const ignore_main[] = {"spec", "metadata", NULL};
    memset(o, 0, sizeof *o);
    const char *mgr = query(c, "fieldManager");
    if (!mgr) {
        const char *u = vk_http_header(c->req, "User-Agent");
        if (u && *u) {
            size_t n = strcspn(u, "/");
            char *m = vk_pool_alloc(c->req->pool, n + 1);
            memcpy(m, u, n);
            mgr = m;
        } else {
            mgr = "unknown";
        }
    }
    o->manager = mgr;
    char av[128], now[32];
    o->api_version = vk_pool_strdup(c->req->pool, api_version(c->res, av, sizeof av));
    o->subresource = c->sub;
    o->now = vk_pool_strdup(c->req->pool, vk_rest_now(now, sizeof now));
    o->force = parse_bool(query(c, "force"));
    *k = (vk_patch_kind_t){c->res->group, c->res->version, c->res->kind};
    if (!(c->res->flags & VK_RES_CUSTOM)) {
        o->schema = vk_patch_schema_builtin;
        o->schema_ctx = k;
    } else {
        vk_crdserve_apply_schema(c->ctx->crds, c->res, c->req->pool, &o->schema, &o->schema_ctx);
    }
    if (c->sub && !strcmp(c->sub, "status")) o->ignored = ignore_main;
    else if (c->res->flags & VK_RES_STATUS) o->ignored = ignore_status;
}

/* Updates metadata.managedFields of obj for a create (old NULL), update or
 * non-apply patch. 0, or answers 400 and returns -1. */
static int set_managed(vk_rest_call_t *c, const json_t *old, json_t *obj)
{
    vk_apply_opts_t o;
    vk_patch_kind_t k;
    apply_opts(c, &o, &k);
    char *err = NULL;
    int rc = vk_apply_track(old, obj, &o, &err);
    if (rc) {
        vk_rest_reply_err(c, rc, err ? err : "invalid managedFields");
        free(err);
        return -1;
    }
    free(err);
    return 0;
}

/* Server-side apply of the request body onto live (NULL to create). 0 and *out,
 * or answers and returns -1. */
static int server_side_apply(vk_rest_call_t *c, const json_t *live, json_t **out)
{
    if (!query(c, "fieldManager")) {
        vk_rest_reply_err(c, VK_EBADREQUEST, "PatchOptions.meta.k8s.io \"\" is invalid: "
                          "fieldManager: Required value: is required for apply patch");
        return -1;
    }
    char yerr[256] = "";
    json_t *config = NULL;
    if (vk_yaml_parse(c->req->body ? c->req->body : "", c->req->body_len, &config, yerr,
                      sizeof yerr) || !json_is_object(config)) {
        json_decref(config);
        reply_msg(c, VK_EBADREQUEST, "error decoding YAML: %s", yerr[0] ? yerr : "not an object");
        return -1;
    }
    vk_apply_opts_t o;
    vk_patch_kind_t k;
    apply_opts(c, &o, &k);
    json_t *causes = NULL;
    char *err = NULL;
    int rc = vk_apply(live, config, &o, out, &causes, &err);
    json_decref(config);
    if (rc) {
        json_t *st = vk_status_for_err(rc, c->res, c->name, err ? err : "apply failed");
        if (causes) json_object_set_new(json_object_get(st, "details"), "causes", causes);
        free(err);
        vk_rest_reply_status(c, st);
        return -1;
    }
    json_decref(causes);
    free(err);
    return 0;
}

static int is_apply(vk_rest_call_t *c)
{
    return c->verb == VK_VERB_PATCH &&
           vk_patch_type_from_content_type(vk_http_header(c->req, "Content-Type")) ==
               VK_PATCH_APPLY;
}

/* --------------------------------------------------------------- namespaces */

/* The stored namespace ns, decoded (a new reference), or NULL and *rc. Every
 * namespaced create reads its namespace: the store keeps namespaces in memory
 * (vk_store_cache_prefix), and the decoded objects are kept here by revision. */
static json_t *namespace_object(vk_rest_ctx_t *ctx, const char *ns, int *rc)
{
    char *key = vk_xasprintf("/core/namespaces/%s", ns);
    vk_kv_t *kv;
    *rc = vk_store_get(ctx->store, key, &kv);
    free(key);
    if (*rc) {
        json_object_del(ctx->ns_objs, ns);
        return NULL;
    }
    json_t *e = json_object_get(ctx->ns_objs, ns);
    if (json_integer_value(json_array_get(e, 0)) == kv->mod_rev) {
        vk_kv_unref(kv);
        return json_incref(json_array_get(e, 1));
    }
    json_t *o = vk_rest_decode(kv);
    vk_kv_unref(kv);
    if (!o) {
        *rc = VK_EIO;
        return NULL;
    }
    if (!ctx->closing) {
        if (!ctx->ns_objs || json_object_size(ctx->ns_objs) >= 4096) {
            json_decref(ctx->ns_objs);
            ctx->ns_objs = json_object();
        }
        json_object_set_new(ctx->ns_objs, ns,
                            json_pack("[IO]", (json_int_t)parse_rv(meta_str(o, "resourceVersion")), o));
    }
    return o;
}

/* 0 if objects may be created in ns, else answers and returns -1. */
static int check_namespace(vk_rest_call_t *c, const char *ns)
{
    int rc;
    json_t *o = namespace_object(c->ctx, ns, &rc);
    if (rc == VK_ENOTFOUND) {
        json_t *s = vk_status_new(404, "NotFound", NULL, NULL, ns);
        char msg[512];
        snprintf(msg, sizeof msg, "namespaces \"%s\" not found", ns);
        json_object_set_new(s, "message", json_string(msg));
        json_object_set_new(json_object_get(s, "details"), "kind", json_string("namespaces"));
        vk_rest_reply_status(c, s);
        return -1;
    }
    if (rc) {
        vk_rest_reply_err(c, rc, NULL);
        return -1;
    }
    const char *phase = str_at(json_object_get(o, "status"), "phase");
    int terminating = (phase && !strcmp(phase, "Terminating")) || meta_str(o, "deletionTimestamp");
    json_decref(o);
    if (terminating) {
        json_t *s = NULL;
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s \"%s\" is forbidden: unable to create new content in namespace %s because "
                 "it is being terminated",
                 c->res->plural, c->name ? c->name : "", ns);
        s = vk_status_new(403, "Forbidden", msg, c->res, c->name);
        json_t *cause = json_object();
        json_object_set_new(cause, "reason", json_string("NamespaceTerminating"));
        json_object_set_new(cause, "message", json_string(msg));
        json_object_set_new(cause, "field", json_string("metadata.namespace"));
        json_t *causes = json_array();
        json_array_append_new(causes, cause);
        json_object_set_new(json_object_get(s, "details"), "causes", causes);
        vk_rest_reply_status(c, s);
        return -1;
    }
    return 0;
}

static void ensure_namespace_objects(vk_rest_ctx_t *ctx, const char *ns, int *pending,
                                     void (*cb)(void *, int, const vk_kv_t *), void *arg);
static void ns_timer_start(vk_rest_ctx_t *ctx);

/* ------------------------------------------------------------ prepare writes */

/* Fields a create clears or sets, as the generic registry and the strategies do. */
static void prepare_create(vk_rest_call_t *c, json_t *obj)
{
    json_t *md = meta_of(obj);
    static const char *const drop[] = {"resourceVersion", "uid", "selfLink", "deletionTimestamp",
                                       "deletionGracePeriodSeconds", "generation"};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) json_object_del(md, drop[i]);
    char uid[37], now[32];
    new_uid(c->ctx, uid);
    json_object_set_new(md, "uid", json_string(uid));
    json_object_set_new(md, "creationTimestamp", json_string(vk_rest_now(now, sizeof now)));
    const vk_resource_t *r = c->res;
    if ((r->group[0] || (r->flags & VK_RES_CUSTOM)) && json_object_get(obj, "spec"))
        json_object_set_new(md, "generation", json_integer(1));
    if (r->flags & VK_RES_STATUS && !r->group[0]) {
        json_t *st = NULL;
        if (!strcmp(r->plural, "namespaces")) {
            st = json_pack("{s:s}", "phase", "Active");
            json_t *labels = json_object_get(md, "labels");
            if (!json_is_object(labels)) {
                labels = json_object();
                json_object_set_new(md, "labels", labels);
            }
            json_object_set_new(labels, "kubernetes.io/metadata.name",
                                json_string(meta_str(obj, "name")));
            json_t *spec = json_object_get(obj, "spec");
            if (!json_is_object(spec)) {
                spec = json_object();
                json_object_set_new(obj, "spec", spec);
            }
            if (!json_object_get(spec, "finalizers"))
                json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
        } else if (!strcmp(r->plural, "pods")) {
            st = json_pack("{s:s}", "phase", "Pending");
        } else if (!strcmp(r->plural, "persistentvolumeclaims") ||
                   !strcmp(r->plural, "persistentvolumes")) {
            st = json_pack("{s:s}", "phase", "Pending");
        } else if (!strcmp(r->plural, "services")) {
            st = json_pack("{s:{}}", "loadBalancer");
        }
        if (st) json_object_set_new(obj, "status", st);
    } else if (r->flags & VK_RES_STATUS) {
        if (json_object_get(obj, "status")) json_object_set_new(obj, "status", json_object());
    }
}

/* Name checks that protect the store keys (the full validation is validate.h's). */
static int check_name(vk_rest_call_t *c, const char *name)
{
    if (!name || !*name) {
        reply_invalid(c, "", "metadata.name", "FieldValueRequired",
                      "Required value: name or generateName is required");
        return -1;
    }
    if (strchr(name, '/') || strchr(name, '%') || !strcmp(name, ".") || !strcmp(name, "..") ||
        strlen(name) > 253) {
        char d[512];
        snprintf(d, sizeof d, "Invalid value: \"%.300s\": may not contain '/' or '%%' and must be "
                 "at most 253 characters", name);
        reply_invalid(c, name, "metadata.name", "FieldValueInvalid", d);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- create */

static void after_namespace_create(vk_rest_ctx_t *ctx, const char *ns);

static void create_done(void *arg, int status, const vk_kv_t *kv)
{
    vk_rest_call_t *c = arg;
    json_t *o = c->created; /* custom resources: answered at the request's version */
    c->created = NULL;
    if (status) {
        json_decref(o);
        vk_rest_reply_err(c, status, NULL);
        return;
    }
    if (!strcmp(c->res->plural, "namespaces") && !c->res->group[0])
        after_namespace_create(c->ctx, c->name);
    if (!o) {
        reply_stored(c, 201, kv);
        return;
    }
    char rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)kv->mod_rev);
    json_object_set_new(meta_of(o), "resourceVersion", json_string(rv));
    vk_crdserve_read(c->ctx->crds, c->res, o);
    vk_rest_reply(c, 201, o);
}

static void do_review(vk_rest_call_t *c, json_t *obj);

static void create_object(vk_rest_call_t *c, json_t *obj);

static void do_create(vk_rest_call_t *c)
{
    json_t *obj;
    if (parse_body(c, &obj)) return;
    if (c->sub && !strcmp(c->sub, "token")) {
        vk_satoken_token_request(c, obj);
        return;
    }
    if (c->sub && !strcmp(c->sub, "binding")) {
        vk_binding_create(c, obj); /* proxy/binding.c */
        return;
    }
    if (c->res->flags & VK_RES_REVIEW) {
        do_review(c, obj);
        return;
    }
    create_object(c, obj);
}

/* Creates obj (takes the reference) and answers 201. */
static void create_object(vk_rest_call_t *c, json_t *obj)
{
    char av[128];
    api_version(c->res, av, sizeof av);
    const char *kind = str_at(obj, "kind");
    if (kind && *kind && strcmp(kind, c->res->kind)) {
        reply_msg(c, VK_EBADREQUEST, "the kind of the provided object (%s) does not match the "
                  "expected kind (%s)", kind, c->res->kind);
        json_decref(obj);
        return;
    }
    json_object_set_new(obj, "apiVersion", json_string(av));
    json_object_set_new(obj, "kind", json_string(c->res->kind));
    json_t *md = meta_of(obj);
    json_object_del(md, "resourceVersion");
    if (c->res->flags & VK_RES_NAMESPACED) {
        const char *ons = str_at(md, "namespace");
        if (ons && *ons && strcmp(ons, c->ns)) {
            vk_rest_reply_err(c, VK_EBADREQUEST,
                              "the namespace of the provided object does not match the "
                              "namespace sent on the request");
            json_decref(obj);
            return;
        }
        json_object_set_new(md, "namespace", json_string(c->ns));
    } else {
        json_object_del(md, "namespace");
    }
    const char *name = str_at(md, "name");
    const char *gen = str_at(md, "generateName");
    if ((!name || !*name) && gen && *gen) {
        char sfx[6];
        name_suffix(c->ctx, sfx);
        char *n = vk_xasprintf("%.58s%s", gen, sfx);
        json_object_set_new(md, "name", json_string(n));
        free(n);
        name = str_at(md, "name");
    }
    if (check_name(c, name)) {
        json_decref(obj);
        return;
    }
    c->name = vk_pool_strdup(c->req->pool, name);
    if ((c->res->flags & VK_RES_NAMESPACED) && check_namespace(c, c->ns)) {
        json_decref(obj);
        return;
    }
    prepare_create(c, obj);
    if (default_and_validate(c, obj, NULL) || vk_quota_admit(c, obj, NULL)) {
        json_decref(obj);
        return;
    }
    if (!c->applied && set_managed(c, NULL, obj)) {
        json_decref(obj);
        return;
    }
    if (dry_run(c)) {
        vk_rest_reply(c, 201, obj);
        return;
    }
    size_t len;
    char *data = encode(obj, &len);
    /* create_done answers with the stored bytes; custom resources from obj */
    if (c->res->flags & VK_RES_CUSTOM) c->created = obj;
    else json_decref(obj);
    char *key = vk_resources_key(c->res, c->ns, c->name);
    int rc = vk_store_create(c->ctx->store, key, data, len, create_done, c);
    free(key);
    free(data);
    if (rc) {
        json_decref(c->created);
        c->created = NULL;
        vk_rest_reply_err(c, rc, NULL);
    }
}

/* ---------------------------------------------------------------- get, list */

static void reply_object(vk_rest_call_t *c, json_t *o)
{
    vk_crdserve_read(c->ctx->crds, c->res, o);
    if (vk_rest_wants_table(c->req)) {
        json_t *t = vk_crdserve_table_new(c->ctx->crds, c->res);
        json_object_set_new(json_object_get(t, "metadata"), "resourceVersion",
                            json_string(meta_str(o, "resourceVersion")));
        vk_crdserve_table_add(c->ctx->crds, t, c->res, o, vk_rest_include_object(c->req));
        json_decref(o);
        vk_rest_reply(c, 200, t);
        return;
    }
    vk_rest_reply(c, 200, o);
}

/* Reads the current object. 0 and *out (and *rev), or answers and returns -1. */
static int load_current(vk_rest_call_t *c, json_t **out, int64_t *rev)
{
    char *key = vk_resources_key(c->res, c->ns, c->name);
    vk_kv_t *kv;
    int rc = vk_store_get(c->ctx->store, key, &kv);
    free(key);
    if (rc) {
        vk_rest_reply_err(c, rc, NULL);
        return -1;
    }
    *out = vk_rest_decode(kv);
    if (rev) *rev = kv->mod_rev;
    vk_kv_unref(kv);
    if (!*out) {
        vk_rest_reply_err(c, VK_EINTERNAL, "stored object is not valid JSON");
        return -1;
    }
    return 0;
}

static json_t *scale_of(vk_rest_call_t *c, const json_t *o);

static void do_get(vk_rest_call_t *c)
{
    json_t *o;
    if (c->sub && !strcmp(c->sub, "log")) {
        if (load_current(c, &o, NULL)) return;
        json_decref(o);
        if (c->ctx->pod_log) {
            vk_http_req_t *req = c->req;
            c->req = NULL; /* the relay answers it */
            c->ctx->pod_log(c->ctx->pod_log_arg, req, c->ns, c->name);
            return;
        }
        reply_msg(c, VK_EBADREQUEST,
                  "pod %s logs are not available without a host: no host cluster runs this "
                  "tenant's pods yet", c->name);
        return;
    }
    /* Custom objects are stored at the storage version: converted on read. */
    if (!c->sub && !vk_rest_wants_table(c->req) && !(c->res->flags & VK_RES_CUSTOM)) {
        /* The stored bytes with the resourceVersion spliced in: no parsing. */
        char *key = vk_resources_key(c->res, c->ns, c->name);
        vk_kv_t *kv;
        int rc = vk_store_get(c->ctx->store, key, &kv);
        free(key);
        if (rc) {
            vk_rest_reply_err(c, rc, NULL);
            return;
        }
        reply_stored(c, 200, kv);
        vk_kv_unref(kv);
        return;
    }
    if (load_current(c, &o, NULL)) return;
    if (c->sub && !strcmp(c->sub, "scale")) {
        json_t *s = scale_of(c, o);
        json_decref(o);
        vk_rest_reply(c, 200, s);
        return;
    }
    reply_object(c, o);
}

/* Continue tokens: base64url(JSON {"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}). */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const char *s)
{
    size_t n = strlen(s);
    char *o = vk_xmalloc(n * 4 / 3 + 8), *p = o;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)s[i + 2];
        *p++ = b64[(v >> 18) & 63];
        *p++ = b64[(v >> 12) & 63];
        if (i + 1 < n) *p++ = b64[(v >> 6) & 63];
        if (i + 2 < n) *p++ = b64[v & 63];
    }
    *p = 0;
    return o;
}

static char *b64_decode(const char *s)
{
    size_t n = strlen(s);
    char *o = vk_xmalloc(n + 1), *p = o;
    unsigned v = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *f = strchr(b64, s[i]);
        if (s[i] == '=') break;
        if (!f || !s[i]) {
            if (s[i] == '+') f = b64 + 62;
            else if (s[i] == '/') f = b64 + 63;
            else {
                free(o);
                return NULL;
            }
        }
        v = (v << 6) | (unsigned)(f - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *p++ = (char)((v >> bits) & 0xff);
        }
    }
    *p = 0;
    return o;
}

static char *make_continue(int64_t rev, const char *key)
{
    json_t *t = json_pack("{s:s,s:I,s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rev, "start",
                          key);
    char *s = json_dumps(t, JSON_COMPACT);
    json_decref(t);
    char *e = b64_encode(s);
    free(s);
    return e;
}

static int parse_continue(const char *tok, int64_t *rev, char **key)
{
    char *s = b64_decode(tok);
    if (!s) return -1;
    json_t *t = json_loads(s, 0, NULL);
    free(s);
    const char *k = str_at(t, "start");
    json_t *r = json_object_get(t, "rv");
    if (!k || !json_is_integer(r) || json_integer_value(r) <= 0) {
        json_decref(t);
        return -1;
    }
    *rev = json_integer_value(r);
    *key = vk_xstrdup(k);
    json_decref(t);
    return 0;
}

static void do_list(vk_rest_call_t *c)
{
    vk_rest_filter_t f;
    if (vk_rest_filter_parse(c, &f)) return;
    const char *ls = query(c, "limit"), *cont = query(c, "continue");
    const char *rvs = query(c, "resourceVersion"), *match = query(c, "resourceVersionMatch");
    long limit = ls ? strtol(ls, NULL, 10) : 0;
    if (limit < 0) limit = 0;
    int64_t at_rev = 0;
    char *after = NULL;
    vk_store_t *st = c->ctx->store;
    if (cont && *cont) {
        if (parse_continue(cont, &at_rev, &after)) {
            reply_msg(c, VK_EBADREQUEST, "continue key is not valid: incorrect encoded start "
                      "resourceVersion (version meta.k8s.io/v1)");
            goto out;
        }
    } else {
        int64_t rv = parse_rv(rvs);
        if (rv == -2) {
            reply_msg(c, VK_EBADREQUEST, "invalid resource version: %s", rvs);
            goto out;
        }
        if (match && !strcmp(match, "Exact")) {
            if (rv <= 0) {
                reply_msg(c, VK_EBADREQUEST, "resourceVersionMatch \"Exact\" requires a "
                          "non-zero resourceVersion");
                goto out;
            }
            at_rev = rv;
        }
        if (rv > vk_store_revision(st)) {
            char m[256];
            snprintf(m, sizeof m, "Too large resource version: %lld, current: %lld",
                     (long long)rv, (long long)vk_store_revision(st));
            json_t *s = vk_status_new(504, "Timeout", m, NULL, NULL);
            json_t *d = json_object();
            json_object_set_new(d, "causes", json_pack("[{s:s,s:s}]", "reason",
                                                       "ResourceVersionTooLarge", "message", m));
            json_object_set_new(d, "retryAfterSeconds", json_integer(1));
            json_object_set_new(s, "details", d);
            vk_rest_reply_status(c, s);
            goto out;
        }
    }
    char *prefix = vk_resources_key(c->res, c->ns, NULL);
    int filtering = (f.label && !vk_selector_label_empty(f.label)) ||
                    (f.field && !vk_selector_field_empty(f.field));
    json_t *items = json_array();
    /* Plain JSON lists splice the stored bytes (fastjson); only selectors and
     * tables parse the objects. */
    int fast = !filtering && !vk_rest_wants_table(c->req) && !(c->res->flags & VK_RES_CUSTOM);
    vk_fastjson_buf_t fb = {0};
    /* The items go after a gap the list's envelope is written into at the
     * end, so the response is one buffer without another copy. */
    enum { HEAD_ROOM = 1024 };
    if (fast) {
        vk_fastjson_buf_reserve(&fb, HEAD_ROOM);
        memset(fb.p, ' ', HEAD_ROOM);
        fb.len = HEAD_ROOM;
    }
    size_t count = 0;
    int64_t rev = at_rev;
    int more = 0;
    size_t remaining = 0;
    char *last = after ? vk_xstrdup(after) : NULL;
    for (;;) {
        size_t want = limit ? (size_t)limit - count : 0;
        if (limit && filtering && want < 64) want = 64;
        vk_store_list_t l;
        int rc = vk_store_list(st, prefix, last, want, rev, &l);
        if (rc) {
            if (rc == VK_EEXPIRED && cont)
                reply_msg(c, VK_EEXPIRED,
                          "The provided continue parameter is too old to display a consistent "
                          "list result. You can start a new list without the continue "
                          "parameter, or use the continue value from the response to get a "
                          "consistent result.");
            else if (rc == VK_EEXPIRED)
                reply_msg(c, VK_EEXPIRED, "The resourceVersion for the provided list is too "
                          "old.");
            else
                vk_rest_reply_err(c, rc, NULL);
            json_decref(items);
            vk_fastjson_buf_free(&fb);
            free(prefix);
            free(last);
            goto out;
        }
        rev = l.rev;
        size_t i = 0;
        if (fast) {
            size_t need = 0;
            for (size_t k = 0; k < l.count; k++) need += l.items[k]->len + 48;
            vk_fastjson_buf_reserve(&fb, need);
        }
        for (; i < l.count && (!limit || count < (size_t)limit); i++) {
            if (fast) {
                const vk_kv_t *kv = l.items[i];
                size_t mark = fb.len;
                free(last);
                last = vk_xstrdup(kv->key);
                if (count) vk_fastjson_buf_put(&fb, ",", 1);
                if (vk_fastjson_put_with_rv(&fb, (const char *)kv->val, kv->len, kv->mod_rev)) {
                    json_t *o = vk_rest_decode(kv);
                    if (!o) {
                        fb.len = mark;
                        continue;
                    }
                    char *s = json_dumps(o, JSON_COMPACT);
                    vk_fastjson_buf_puts(&fb, s);
                    free(s);
                    json_decref(o);
                }
                count++;
                continue;
            }
            json_t *o = vk_rest_decode(l.items[i]);
            free(last);
            last = vk_xstrdup(l.items[i]->key);
            if (!o) continue;
            vk_crdserve_read(c->ctx->crds, c->res, o);
            if (filtering && !vk_rest_filter_match(&f, c->res, o)) {
                json_decref(o);
                continue;
            }
            json_array_append_new(items, o);
            count++;
        }
        more = l.more || i < l.count;
        remaining = (l.more ? l.remaining : 0) + (l.count - i);
        vk_store_list_free(&l);
        if (!more || (limit && count >= (size_t)limit)) break;
    }
    free(prefix);
    char rvbuf[32], av[128];
    snprintf(rvbuf, sizeof rvbuf, "%lld", (long long)rev);
    json_t *lmd = json_object();
    json_object_set_new(lmd, "resourceVersion", json_string(rvbuf));
    if (more && limit) {
        char *tok = make_continue(rev, last);
        json_object_set_new(lmd, "continue", json_string(tok));
        free(tok);
        if (!filtering) json_object_set_new(lmd, "remainingItemCount",
                                            json_integer((json_int_t)remaining));
    }
    free(last);
    if (vk_rest_wants_table(c->req)) {
        json_t *t = vk_crdserve_table_new(c->ctx->crds, c->res);
        json_object_set_new(t, "metadata", lmd);
        int inc = vk_rest_include_object(c->req);
        size_t i;
        json_t *o;
        json_array_foreach(items, i, o) vk_crdserve_table_add(c->ctx->crds, t, c->res, o, inc);
        json_decref(items);
        vk_rest_reply(c, 200, t);
        goto out;
    }
    json_t *list = json_object();
    char kind[256];
    snprintf(kind, sizeof kind, "%sList", c->res->kind);
    json_object_set_new(list, "kind", json_string(kind));
    json_object_set_new(list, "apiVersion", json_string(api_version(c->res, av, sizeof av)));
    json_object_set_new(list, "metadata", lmd);
    json_object_set_new(list, "items", items);
    if (!fast) {
        vk_rest_reply(c, 200, list);
        goto out;
    }
    /* The envelope ends in "items":[]}: put the spliced items between. */
    char *head = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    size_t hl = strlen(head);
    assert(hl > 2 && !strcmp(head + hl - 2, "]}"));
    hl -= 2;
    vk_fastjson_buf_put(&fb, "]}", 2);
    size_t sent;
    if (hl <= HEAD_ROOM) {
        char *start = fb.p + HEAD_ROOM - hl;
        memcpy(start, head, hl);
        sent = fb.len - (HEAD_ROOM - hl);
        reply_bytes(c, 200, start, sent);
    } else { /* a very long continue token */
        vk_fastjson_buf_t resp = {0};
        vk_fastjson_buf_put(&resp, head, hl);
        vk_fastjson_buf_put(&resp, fb.p + HEAD_ROOM, fb.len - HEAD_ROOM);
        sent = resp.len;
        reply_bytes(c, 200, resp.p, resp.len);
        vk_fastjson_buf_free(&resp);
    }
    free(head);
    vk_fastjson_buf_free(&fb);
    if (sent >= TRIM_AFTER_BYTES) malloc_trim(0);
out:
    free(after);
    vk_rest_filter_free(&f);
}

/* ------------------------------------------------------------------- patches */

/* The one place patches are applied: 0 and *out (new reference), or answers and
 * returns -1. Server-side apply (proxy/apply.h) is not wired yet. */
static int apply_patch(vk_rest_call_t *c, const json_t *target, json_t **out)
{
    const char *ct = vk_http_header(c->req, "Content-Type");
    vk_patch_type_t type = vk_patch_type_from_content_type(ct);
    if (type == VK_PATCH_NONE) {
        reply_msg(c, VK_EUNSUPPORTEDMEDIA, "the body of the request was in an unknown format - "
                  "accepted media types include: %s", VK_PATCH_ACCEPTED);
        return -1;
    }
    if (type == VK_PATCH_APPLY) {
        c->applied = 1;
        return server_side_apply(c, target, out);
    }
    if (type == VK_PATCH_STRATEGIC && (c->res->flags & VK_RES_CUSTOM)) {
        reply_msg(c, VK_EUNSUPPORTEDMEDIA, "the body of the request was in an unknown format - "
                  "accepted media types include: application/json-patch+json, "
                  "application/merge-patch+json, application/apply-patch+yaml");
        return -1;
    }
    json_error_t e;
    json_t *p = json_loadb(c->req->body ? c->req->body : "", c->req->body_len, 0, &e);
    if (!p) {
        reply_msg(c, VK_EBADREQUEST, "error decoding patch: %s", e.text);
        return -1;
    }
    char *err = NULL;
    int rc;
    if (type == VK_PATCH_JSON) {
        rc = vk_patch_json(target, p, out, &err);
    } else if (type == VK_PATCH_MERGE) {
        rc = vk_patch_merge(target, p, out, &err);
    } else {
        /* Scale patches are applied to the autoscaling/v1 Scale. */
        int scale = c->sub && !strcmp(c->sub, "scale");
        vk_patch_kind_t k = {scale ? "autoscaling" : c->res->group, c->res->version,
                             scale ? "Scale" : c->res->kind};
        rc = vk_patch_strategic(target, p, vk_patch_schema_builtin, &k, out, &err);
    }
    json_decref(p);
    if (rc) {
        vk_rest_reply_err(c, rc, err ? err : "the patch could not be applied");
        free(err);
        return -1;
    }
    free(err);
    return 0;
}

/* ------------------------------------------------------- read-modify-write */

typedef struct rmw {
    /* Produces the new object from the current one (borrowed): 0 and *next (new
     * reference), or answers and returns -1. */
    int (*mutate)(vk_rest_call_t *c, struct rmw *op, json_t *cur, json_t **next);
    int scale;     /* answer with the Scale of the result */
} rmw_t;

static void rmw_run(vk_rest_call_t *c);

static json_t *scale_of(vk_rest_call_t *c, const json_t *o)
{
    json_t *cs = vk_crdserve_scale_get(c->ctx->crds, c->res, o);
    if (cs) return cs;
    json_t *md = json_object_get(o, "metadata");
    json_t *s = json_object();
    json_object_set_new(s, "kind", json_string("Scale"));
    json_object_set_new(s, "apiVersion", json_string("autoscaling/v1"));
    json_t *smd = json_object();
    static const char *const keep[] = {"name", "namespace", "uid", "resourceVersion",
                                       "creationTimestamp"};
    for (size_t i = 0; i < 5; i++) {
        json_t *v = json_object_get(md, keep[i]);
        if (v) json_object_set(smd, keep[i], v);
    }
    json_object_set_new(s, "metadata", smd);
    json_t *spec = json_object_get(o, "spec");
    json_t *r = json_object_get(spec, "replicas");
    json_object_set_new(s, "spec", json_pack("{s:I}", "replicas",
                                             (json_int_t)(r ? json_integer_value(r) : 1)));
    json_t *st = json_object();
    json_t *sr = json_object_get(json_object_get(o, "status"), "replicas");
    json_object_set_new(st, "replicas", json_integer(sr ? json_integer_value(sr) : 0));
    /* status.selector: the label selector in its string form. */
    json_t *ml = json_object_get(json_object_get(spec, "selector"), "matchLabels");
    if (json_object_size(ml)) {
        char buf[2048] = "";
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(ml, k, v)
        {
            n += (size_t)snprintf(buf + n, n < sizeof buf ? sizeof buf - n : 0, "%s%s=%s",
                                  n ? "," : "", k, json_string_value(v) ? json_string_value(v)
                                                                         : "");
            if (n >= sizeof buf) break;
        }
        json_object_set_new(st, "selector", json_string(buf));
    }
    json_object_set_new(s, "status", st);
    return s;
}

/* Checks a resourceVersion precondition carried by obj against cur. */
static int check_precondition(vk_rest_call_t *c, const json_t *obj, const json_t *cur)
{
    const char *rv = meta_str(obj, "resourceVersion");
    if (!rv || !*rv) return 0;
    c->precondition = 1;
    if (strcmp(rv, meta_str(cur, "resourceVersion"))) {
        vk_rest_reply_err(c, VK_ECONFLICT, NULL);
        return -1;
    }
    return 0;
}

static int put_next(vk_rest_call_t *c, rmw_t *op, json_t *b, json_t *cur, json_t **next)
{
    if (op->scale) {
        if (check_precondition(c, b, cur)) return -1;
        json_t *r = json_object_get(json_object_get(b, "spec"), "replicas");
        json_t *n = json_deep_copy(cur), *cst;
        if ((c->res->flags & VK_RES_CUSTOM) &&
            vk_crdserve_scale_set(c->ctx->crds, c->res, n, b, &cst)) {
            json_decref(n);
            vk_rest_reply_status(c, cst);
            return -1;
        }
        *next = n;
        if (c->res->flags & VK_RES_CUSTOM) return 0;
        json_t *spec = json_object_get(n, "spec");
        if (!json_is_object(spec)) json_object_set_new(n, "spec", spec = json_object());
        json_object_set_new(spec, "replicas", json_integer(r ? json_integer_value(r) : 0));
        *next = n;
        return 0;
    }
    const char *name = meta_str(b, "name");
    if (name && strcmp(name, c->name)) {
        reply_msg(c, VK_EBADREQUEST, "the name of the object (%s) does not match the name on "
                  "the URL (%s)", name, c->name);
        return -1;
    }
    const char *kind = str_at(b, "kind");
    if (kind && *kind && strcmp(kind, c->res->kind)) {
        reply_msg(c, VK_EBADREQUEST, "the kind of the provided object (%s) does not match the "
                  "expected kind (%s)", kind, c->res->kind);
        return -1;
    }
    if (check_precondition(c, b, cur)) return -1;
    if (c->sub && !strcmp(c->sub, "status")) {
        json_t *n = json_deep_copy(cur);
        json_t *st = json_object_get(b, "status");
        if (st) json_object_set(n, "status", st);
        else json_object_del(n, "status");
        *next = n;
        return 0;
    }
    *next = json_incref(b);
    return 0;
}

/* The body is parsed again on each attempt (a conflict retry runs this twice). */
static int mutate_put(vk_rest_call_t *c, rmw_t *op, json_t *cur, json_t **next)
{
    json_t *b;
    if (parse_body(c, &b)) return -1;
    int rc = put_next(c, op, b, cur, next);
    json_decref(b);
    return rc;
}

static int mutate_patch(vk_rest_call_t *c, rmw_t *op, json_t *cur, json_t **next)
{
    if (op->scale) {
        /* Patch without resourceVersion: only one the client wrote is a precondition
         * (otherwise a conflict with a concurrent writer is retried). */
        json_t *s = scale_of(c, cur), *ps;
        json_object_del(json_object_get(s, "metadata"), "resourceVersion");
        int rc = apply_patch(c, s, &ps);
        json_decref(s);
        if (rc) return -1;
        if (check_precondition(c, ps, cur)) {
            json_decref(ps);
            return -1;
        }
        json_t *r = json_object_get(json_object_get(ps, "spec"), "replicas");
        json_t *n = json_deep_copy(cur), *cst;
        if ((c->res->flags & VK_RES_CUSTOM) &&
            vk_crdserve_scale_set(c->ctx->crds, c->res, n, ps, &cst)) {
            json_decref(n);
            json_decref(ps);
            vk_rest_reply_status(c, cst);
            return -1;
        }
        if (c->res->flags & VK_RES_CUSTOM) {
            json_decref(ps);
            *next = n;
            return 0;
        }
        json_t *spec = json_object_get(n, "spec");
        if (!json_is_object(spec)) json_object_set_new(n, "spec", spec = json_object());
        json_object_set_new(spec, "replicas", json_integer(r ? json_integer_value(r) : 0));
        json_decref(ps);
        *next = n;
        return 0;
    }
    json_t *n, *t = json_deep_copy(cur);
    json_object_del(json_object_get(t, "metadata"), "resourceVersion");
    int prc = apply_patch(c, t, &n);
    json_decref(t);
    if (prc) return -1;
    if (!json_is_object(n)) {
        json_decref(n);
        reply_msg(c, VK_EBADREQUEST, "the patch did not result in an object");
        return -1;
    }
    if (check_precondition(c, n, cur)) {
        json_decref(n);
        return -1;
    }
    const char *name = meta_str(n, "name");
    if (name && strcmp(name, c->name)) {
        json_decref(n);
        reply_msg(c, VK_EBADREQUEST, "the name of the object (%s) does not match the name on "
                  "the URL (%s)", name, c->name);
        return -1;
    }
    if (c->sub && !strcmp(c->sub, "status")) {
        json_t *m = json_deep_copy(cur);
        json_t *st = json_object_get(n, "status");
        if (st) json_object_set(m, "status", st);
        json_decref(n);
        n = m;
    }
    *next = n;
    return 0;
}

/* Carries over what an update may not change, bumps generation on spec change. */
static void prepare_update(vk_rest_call_t *c, json_t *cur, json_t *next)
{
    char av[128];
    json_object_set_new(next, "apiVersion", json_string(api_version(c->res, av, sizeof av)));
    json_object_set_new(next, "kind", json_string(c->res->kind));
    json_t *md = meta_of(next), *cmd = json_object_get(cur, "metadata");
    static const char *const keep[] = {"name", "namespace", "uid", "creationTimestamp",
                                       "deletionTimestamp", "deletionGracePeriodSeconds",
                                       "generation", "generateName"};
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        json_t *v = json_object_get(cmd, keep[i]);
        if (v) json_object_set(md, keep[i], v);
        else json_object_del(md, keep[i]);
    }
    if (!json_object_get(md, "managedFields") && json_object_get(cmd, "managedFields"))
        json_object_set(md, "managedFields", json_object_get(cmd, "managedFields"));
    int status_sub = c->sub && !strcmp(c->sub, "status");
    if ((c->res->flags & VK_RES_STATUS) && !status_sub) {
        json_t *st = json_object_get(cur, "status");
        if (st) json_object_set(next, "status", st);
        else json_object_del(next, "status");
    }
    json_t *g = json_object_get(cmd, "generation");
    if (g && !json_equal(json_object_get(cur, "spec"), json_object_get(next, "spec")))
        json_object_set_new(md, "generation", json_integer(json_integer_value(g) + 1));
    if (!strcmp(c->res->plural, "namespaces") && !c->res->group[0] && !status_sub) {
        json_t *labels = json_object_get(md, "labels");
        if (!json_is_object(labels)) json_object_set_new(md, "labels", labels = json_object());
        json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(c->name));
    }
}

static int has_finalizers(const json_t *o)
{
    return json_array_size(json_object_get(json_object_get(o, "metadata"), "finalizers")) > 0;
}

/* The common start of a store write's completion: a conflict the client did
 * not ask for (no precondition) runs the request again through retry, up to
 * MAX_RETRIES times; any other error is answered. 1 when that settled the
 * call, 0 when the write succeeded and the caller answers. */
static int retried_or_failed(vk_rest_call_t *c, int status, void (*retry)(vk_rest_call_t *c))
{
    if (status == VK_ECONFLICT && !c->precondition && c->retries++ < MAX_RETRIES) {
        retry(c);
        return 1;
    }
    if (status) {
        vk_rest_reply_err(c, status, NULL);
        return 1;
    }
    return 0;
}

static void rmw_written(void *arg, int status, const vk_kv_t *kv)
{
    vk_rest_call_t *c = arg;
    rmw_t *op = c->op;
    if (retried_or_failed(c, status, rmw_run)) return;
    if (!op->scale && !(c->res->flags & VK_RES_CUSTOM)) {
        reply_stored(c, 200, kv);
        return;
    }
    json_t *o = vk_rest_decode(kv);
    if (op->scale) {
        json_t *s = scale_of(c, o);
        json_decref(o);
        o = s;
    } else if (o) {
        vk_crdserve_read(c->ctx->crds, c->res, o); /* custom: the request's version */
    }
    vk_rest_reply(c, 200, o);
}

static void rmw_deleted(void *arg, int status, const vk_kv_t *kv)
{
    vk_rest_call_t *c = arg;
    if (retried_or_failed(c, status, rmw_run)) return;
    if (!(c->res->flags & VK_RES_CUSTOM)) {
        reply_stored(c, 200, kv);
        return;
    }
    json_t *o = vk_rest_decode(kv);
    if (o) vk_crdserve_read(c->ctx->crds, c->res, o);
    vk_rest_reply(c, 200, o);
}

static void rmw_run(vk_rest_call_t *c)
{
    rmw_t *op = c->op;
    json_t *cur, *next;
    int64_t rev;
    if (load_current(c, &cur, &rev)) return;
    if (op->mutate(c, op, cur, &next)) {
        json_decref(cur);
        return;
    }
    prepare_update(c, cur, next);
    if (default_and_validate(c, next, cur) || vk_quota_admit(c, next, cur)) {
        json_decref(cur);
        json_decref(next);
        return;
    }
    /* A no-op write changes nothing, as in kube-apiserver. */
    json_t *a = json_deep_copy(next);
    json_object_set(meta_of(a), "resourceVersion", json_object_get(meta_of(cur),
                                                                  "resourceVersion"));
    json_object_set(meta_of(a), "managedFields", json_object_get(meta_of(cur), "managedFields"));
    if (!json_object_get(meta_of(cur), "managedFields")) json_object_del(meta_of(a),
                                                                         "managedFields");
    int same = json_equal(a, cur);
    json_decref(a);
    if (same) {
        json_decref(next);
        if (op->scale) {
            json_t *s = scale_of(c, cur);
            json_decref(cur);
            cur = s;
        } else {
            vk_crdserve_read(c->ctx->crds, c->res, cur);
        }
        vk_rest_reply(c, 200, cur);
        return;
    }
    if (!c->applied && set_managed(c, cur, next)) {
        json_decref(cur);
        json_decref(next);
        return;
    }
    int finish = meta_str(next, "deletionTimestamp") && !has_finalizers(next);
    /* The last finalizer going from an object still in its grace period (a pod
     * deleted with Foreground/Orphan while bound to a node): it stays marked
     * until the grace period is over and it is deleted with grace 0, as
     * kube-apiserver deletes on update only at deletionGracePeriodSeconds 0. */
    if (finish && has_finalizers(cur) &&
        json_integer_value(json_object_get(meta_of(next), "deletionGracePeriodSeconds")) > 0)
        finish = 0;
    json_decref(cur);
    if (dry_run(c)) {
        if (op->scale) {
            json_t *s = scale_of(c, next);
            json_decref(next);
            next = s;
        } else {
            vk_crdserve_read(c->ctx->crds, c->res, next);
        }
        vk_rest_reply(c, 200, next);
        return;
    }
    char *key = vk_resources_key(c->res, c->ns, c->name);
    int rc;
    if (finish) {
        /* The last finalizer of a deleting object is gone: remove it. */
        rc = vk_store_delete(c->ctx->store, key, rev, rmw_deleted, c);
    } else {
        size_t len;
        char *data = encode(next, &len);
        rc = vk_store_update(c->ctx->store, key, data, len, rev, rmw_written, c);
        free(data);
    }
    free(key);
    json_decref(next);
    if (rc) vk_rest_reply_err(c, rc, NULL);
}

static void do_rmw(vk_rest_call_t *c, int patch)
{
    rmw_t *op = vk_pool_alloc(c->req->pool, sizeof *op);
    op->scale = c->sub && !strcmp(c->sub, "scale");
    op->mutate = patch ? mutate_patch : mutate_put;
    c->op = op;
    if (patch && !c->sub && is_apply(c)) {
        /* Server-side apply of an object that does not exist creates it. */
        char *key = vk_resources_key(c->res, c->ns, c->name);
        vk_kv_t *kv;
        int rc = vk_store_get(c->ctx->store, key, &kv);
        free(key);
        if (rc == 0) {
            vk_kv_unref(kv);
        } else if (rc == VK_ENOTFOUND) {
            json_t *obj;
            if (server_side_apply(c, NULL, &obj)) return;
            c->applied = 1;
            const char *n = meta_str(obj, "name");
            if (n && strcmp(n, c->name)) {
                json_decref(obj);
                reply_msg(c, VK_EBADREQUEST, "the name of the object (%s) does not match the "
                          "name on the URL (%s)", n, c->name);
                return;
            }
            json_object_set_new(meta_of(obj), "name", json_string(c->name));
            create_object(c, obj);
            return;
        }
    }
    rmw_run(c);
}

/* ------------------------------------------------------------------- delete */

typedef struct delopts {
    long grace;             /* gracePeriodSeconds, -1 if not given */
    const char *propagation; /* "Orphan" | "Background" | "Foreground" or NULL */
    int no_orphan;           /* orphanDependents=false: only the orphan finalizer goes */
} delopts_t;

typedef void (*del_cb)(void *arg, int status, const vk_kv_t *kv, int removed);

typedef struct delop {
    vk_rest_ctx_t *ctx;
    del_cb cb;
    void *arg;
    int removed;
    int ns_marked; /* a namespace was marked terminating: finalize it once committed */
} delop_t;

static void delop_done(void *arg, int status, const vk_kv_t *kv)
{
    delop_t *d = arg;
    /* Start finalization only once the Terminating mark is durable: a pass that
     * ran before the commit would not see it and stop the timer. */
    if (d->ns_marked && status == 0) ns_timer_start(d->ctx);
    d->cb(d->arg, status, kv, d->removed);
    free(d);
}

/* Sets the garbage collector's finalizers of md for a delete with propagation
 * policy prop (NULL: keeps what the object has, but drops "orphan" if
 * no_orphan), as kube-apiserver does: Foreground -> "foregroundDeletion",
 * Orphan -> "orphan", Background -> neither. proxy/gc.c does the work those
 * finalizers ask for and removes them. Returns 1 if the finalizers changed. */
static int set_gc_finalizers(json_t *md, const char *prop, int no_orphan)
{
    if (!prop && !no_orphan) return 0;
    const char *want = !prop                        ? NULL
                       : !strcmp(prop, "Foreground") ? "foregroundDeletion"
                       : !strcmp(prop, "Orphan")     ? "orphan"
                                                     : NULL;
    json_t *f = json_object_get(md, "finalizers"), *out = json_array(), *v;
    size_t i;
    int changed = 0, have = 0;
    json_array_foreach(f, i, v)
    {
        const char *s = json_string_value(v);
        if (s && ((prop && !strcmp(s, "foregroundDeletion")) || !strcmp(s, "orphan")) &&
            !(want && !strcmp(s, want))) {
            changed = 1;
            continue;
        }
        if (s && want && !strcmp(s, want)) have = 1;
        json_array_append(out, v);
    }
    if (want && !have) {
        json_array_append_new(out, json_string(want));
        changed = 1;
    }
    if (!changed) {
        json_decref(out);
        return 0;
    }
    if (json_array_size(out)) json_object_set_new(md, "finalizers", out);
    else {
        json_decref(out);
        json_object_del(md, "finalizers");
    }
    return 1;
}

/* Deletes one stored object (cur borrowed, at rev) as kube-apiserver would:
 * namespaces start terminating; the propagation policy sets the garbage
 * collector's finalizers; objects with finalizers and pods still bound to a node
 * with a grace period get a deletionTimestamp (an object already being deleted
 * only gets its finalizers updated); anything else is removed, and the garbage
 * collector (proxy/gc.c) then deletes its dependents. cb runs once (unless an
 * error is returned). */
static int delete_object(vk_rest_ctx_t *ctx, const vk_resource_t *res, const char *key,
                         json_t *cur, int64_t rev, const delopts_t *o, int dry, del_cb cb,
                         void *arg)
{
    json_t *md = meta_of(cur);
    int is_ns = !strcmp(res->plural, "namespaces") && !res->group[0];
    int is_pod = !strcmp(res->plural, "pods") && !res->group[0];
    long grace = 0;
    if (is_pod) {
        json_t *tg = json_object_get(json_object_get(cur, "spec"),
                                     "terminationGracePeriodSeconds");
        grace = o->grace >= 0 ? o->grace : (tg ? (long)json_integer_value(tg) : 30);
        const char *node = str_at(json_object_get(cur, "spec"), "nodeName");
        const char *phase = str_at(json_object_get(cur, "status"), "phase");
        if (!node || !*node || (phase && (!strcmp(phase, "Succeeded") ||
                                          !strcmp(phase, "Failed"))))
            grace = 0;
    }
    int fin_changed = !is_ns && set_gc_finalizers(md, o->propagation, o->no_orphan);
    int mark = is_ns || has_finalizers(cur) || grace > 0;
    delop_t *d = vk_xcalloc(1, sizeof *d);
    d->ctx = ctx;
    d->cb = cb;
    d->arg = arg;
    if (!mark) {
        d->removed = 1;
        if (dry) {
            vk_kv_t fake = {0};
            char *s = json_dumps(cur, JSON_COMPACT);
            fake.key = (char *)key;
            fake.val = (unsigned char *)s;
            fake.len = strlen(s);
            fake.mod_rev = rev;
            delop_done(d, 0, &fake);
            free(s);
            return 0;
        }
        int rc = vk_store_delete(ctx->store, key, rev, delop_done, d);
        if (rc) free(d);
        return rc;
    }
    if (!json_object_get(md, "deletionTimestamp")) {
        char ts[32];
        time_after(ts, sizeof ts, grace);
        json_object_set_new(md, "deletionTimestamp", json_string(ts));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(grace));
    } else if (!fin_changed &&
               (!is_pod || grace >= json_integer_value(json_object_get(
                                        md, "deletionGracePeriodSeconds")))) {
        /* Already being deleted: nothing changes. */
        vk_kv_t fake = {0};
        char *s = json_dumps(cur, JSON_COMPACT);
        fake.key = (char *)key;
        fake.val = (unsigned char *)s;
        fake.len = strlen(s);
        fake.mod_rev = rev;
        delop_done(d, 0, &fake);
        free(s);
        return 0;
    }
    if (is_ns) {
        json_t *st = json_object_get(cur, "status");
        if (!json_is_object(st)) json_object_set_new(cur, "status", st = json_object());
        json_object_set_new(st, "phase", json_string("Terminating"));
    }
    if (dry) {
        vk_kv_t fake = {0};
        char *s = json_dumps(cur, JSON_COMPACT);
        fake.key = (char *)key;
        fake.val = (unsigned char *)s;
        fake.len = strlen(s);
        fake.mod_rev = rev;
        delop_done(d, 0, &fake);
        free(s);
        return 0;
    }
    size_t len;
    char *data = encode(cur, &len);
    d->ns_marked = is_ns;
    int rc = vk_store_update(ctx->store, key, data, len, rev, delop_done, d);
    free(data);
    if (rc) free(d);
    return rc;
}

/* Reads DeleteOptions from the body (if any) and the query. 0 or answers, -1. */
static int parse_delopts(vk_rest_call_t *c, delopts_t *o, json_t **body)
{
    o->grace = -1;
    o->no_orphan = 0;
    o->propagation = query(c, "propagationPolicy");
    const char *od = query(c, "orphanDependents");
    json_t *orphan_deps = od ? (!strcmp(od, "true") ? json_true() : json_false()) : NULL;
    const char *g = query(c, "gracePeriodSeconds");
    if (g) o->grace = strtol(g, NULL, 10);
    *body = NULL;
    if (c->req->body_len) {
        json_t *b = NULL;
        const char *ct = vk_http_header(c->req, "Content-Type");
        if (ct && media_is(ct, "application/vnd.kubernetes.protobuf")) {
            char err[256] = "";
            if (vk_pb_decode(c->req->body, c->req->body_len, &b, err, sizeof err)) {
                reply_msg(c, VK_EBADREQUEST, "the body of the request must be DeleteOptions: %s",
                          err);
                return -1;
            }
        } else {
            b = json_loadb(c->req->body, c->req->body_len, 0, NULL);
        }
        if (!json_is_object(b)) {
            json_decref(b);
            reply_msg(c, VK_EBADREQUEST, "the body of the request must be DeleteOptions");
            return -1;
        }
        json_t *gp = json_object_get(b, "gracePeriodSeconds");
        if (json_is_integer(gp)) o->grace = (long)json_integer_value(gp);
        const char *p = str_at(b, "propagationPolicy");
        if (p) o->propagation = vk_pool_strdup(c->req->pool, p);
        json_t *odb = json_object_get(b, "orphanDependents");
        if (json_is_boolean(odb)) orphan_deps = odb;
        json_t *dr = json_object_get(b, "dryRun");
        if (json_array_size(dr) && json_string_value(json_array_get(dr, 0)) &&
            !strcmp(json_string_value(json_array_get(dr, 0)), "All"))
            c->op = (void *)1; /* dry run via body */
        *body = b;
    }
    if (orphan_deps && o->propagation) {
        reply_invalid(c, c->name, "propagationPolicy", "FieldValueInvalid",
                      "orphanDependents and deletionPropagation cannot be both set");
        json_decref(*body);
        return -1;
    }
    /* The deprecated orphanDependents: true is Orphan; false only drops "orphan". */
    if (json_is_true(orphan_deps)) o->propagation = "Orphan";
    else if (orphan_deps) o->no_orphan = 1;
    if (o->propagation && strcmp(o->propagation, "Orphan") &&
        strcmp(o->propagation, "Background") && strcmp(o->propagation, "Foreground")) {
        reply_invalid(c, c->name, "propagationPolicy", "FieldValueNotSupported",
                      "Unsupported value: propagationPolicy");
        json_decref(*body);
        return -1;
    }
    return 0;
}

static void delete_done(void *arg, int status, const vk_kv_t *kv, int removed)
{
    vk_rest_call_t *c = arg;
    if (retried_or_failed(c, status, vk_rest_handle)) return;
    json_t *o = vk_rest_decode(kv);
    if (removed && !(c->res->flags & VK_RES_NAMESPACED && !strcmp(c->res->plural, "pods"))) {
        const char *uid = o ? meta_str(o, "uid") : NULL;
        json_t *s = vk_status_success(c->res, c->name, uid);
        json_decref(o);
        vk_rest_reply(c, 200, s);
        return;
    }
    if (o) vk_crdserve_read(c->ctx->crds, c->res, o);
    vk_rest_reply(c, 200, o);
}

static void do_delete(vk_rest_call_t *c)
{
    delopts_t o;
    json_t *body;
    c->op = NULL;
    if (vk_quota_admit_delete(c)) return;
    if (parse_delopts(c, &o, &body)) return;
    int dry = dry_run(c) || c->op == (void *)1;
    json_t *cur;
    int64_t rev;
    if (load_current(c, &cur, &rev)) {
        json_decref(body);
        return;
    }
    json_t *pre = json_object_get(body, "preconditions");
    const char *puid = str_at(pre, "uid"), *prv = str_at(pre, "resourceVersion");
    /* kube-apiserver names the Kind (not the resource) in these conflicts. */
    char msg[1024];
    if (puid && strcmp(puid, meta_str(cur, "uid") ? meta_str(cur, "uid") : "")) {
        snprintf(msg, sizeof msg, "Operation cannot be fulfilled on %s \"%s\": the UID in the "
                 "precondition (%s) does not match the UID in record (%s). The object might have "
                 "been deleted and then recreated", c->res->kind, c->name, puid,
                 meta_str(cur, "uid"));
    } else if (prv && strcmp(prv, meta_str(cur, "resourceVersion"))) {
        snprintf(msg, sizeof msg, "Operation cannot be fulfilled on %s \"%s\": the "
                 "ResourceVersion in the precondition (%s) does not match the ResourceVersion in "
                 "record (%s). The object might have been modified", c->res->kind, c->name, prv,
                 meta_str(cur, "resourceVersion"));
    } else {
        msg[0] = 0;
    }
    if (msg[0]) {
        json_t *st = vk_status_new(409, "Conflict", msg, c->res, c->name);
        json_object_set_new(json_object_get(st, "details"), "kind", json_string(c->res->kind));
        vk_rest_reply_status(c, st);
        goto out;
    }
    if (puid || prv) c->precondition = 1;
    char *key = vk_resources_key(c->res, c->ns, c->name);
    int rc = delete_object(c->ctx, c->res, key, cur, rev, &o, dry, delete_done, c);
    free(key);
    if (rc) vk_rest_reply_err(c, rc, NULL);
out:
    json_decref(cur);
    json_decref(body);
}

typedef struct delcol {
    vk_rest_call_t *c;
    size_t pending;
    int failed;
    json_t *items;
} delcol_t;

static void delcol_finish(delcol_t *d)
{
    vk_rest_call_t *c = d->c;
    if (d->failed) {
        vk_rest_reply_err(c, d->failed, NULL);
        json_decref(d->items);
    } else {
        char kind[256], av[128], rv[32];
        snprintf(kind, sizeof kind, "%sList", c->res->kind);
        snprintf(rv, sizeof rv, "%lld", (long long)vk_store_revision(c->ctx->store));
        json_t *l = json_object();
        json_object_set_new(l, "kind", json_string(kind));
        json_object_set_new(l, "apiVersion", json_string(api_version(c->res, av, sizeof av)));
        json_object_set_new(l, "metadata", json_pack("{s:s}", "resourceVersion", rv));
        json_object_set_new(l, "items", d->items);
        vk_rest_reply(c, 200, l);
    }
    free(d);
}

static void delcol_one(void *arg, int status, const vk_kv_t *kv, int removed)
{
    delcol_t *d = arg;
    if (status && status != VK_ENOTFOUND && status != VK_ECONFLICT && !d->failed)
        d->failed = status;
    if (!status) {
        json_t *o = vk_rest_decode(kv);
        if (o) vk_crdserve_read(d->c->ctx->crds, d->c->res, o); /* custom: the request's version */
        if (o) json_array_append_new(d->items, o);
    }
    if (--d->pending == 0) delcol_finish(d);
}

static void do_deletecollection(vk_rest_call_t *c)
{
    vk_rest_filter_t f;
    if (vk_rest_filter_parse(c, &f)) return;
    delopts_t o;
    json_t *body;
    c->op = NULL;
    if (parse_delopts(c, &o, &body)) {
        vk_rest_filter_free(&f);
        return;
    }
    int dry = dry_run(c) || c->op == (void *)1;
    json_decref(body);
    char *prefix = vk_resources_key(c->res, c->ns, NULL);
    vk_store_list_t l;
    int rc = vk_store_list(c->ctx->store, prefix, NULL, 0, 0, &l);
    free(prefix);
    if (rc) {
        vk_rest_filter_free(&f);
        vk_rest_reply_err(c, rc, NULL);
        return;
    }
    delcol_t *d = vk_xcalloc(1, sizeof *d);
    d->c = c;
    d->items = json_array();
    d->pending = 1; /* held until the loop ends */
    for (size_t i = 0; i < l.count; i++) {
        json_t *obj = vk_rest_decode(l.items[i]);
        if (!obj) continue;
        if (vk_rest_filter_match(&f, c->res, obj)) {
            d->pending++;
            if (delete_object(c->ctx, c->res, l.items[i]->key, obj, l.items[i]->mod_rev, &o, dry,
                              delcol_one, d))
                d->pending--;
        }
        json_decref(obj);
    }
    vk_store_list_free(&l);
    vk_rest_filter_free(&f);
    if (--d->pending == 0) delcol_finish(d);
}

/* ------------------------------------------------------------ access reviews */

static int in_group(const char *const *groups, const char *g)
{
    for (size_t i = 0; groups && groups[i]; i++)
        if (!strcmp(groups[i], g)) return 1;
    return 0;
}

/* Reads a JSON string array into a pool-allocated NULL-terminated vector. */
static const char *const *groups_of(vk_rest_call_t *c, const json_t *arr)
{
    size_t n = json_array_size(arr);
    const char **g = vk_pool_alloc(c->req->pool, (n + 1) * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        g[i] = vk_pool_strdup(c->req->pool, s ? s : "");
    }
    return g;
}

static void access_review(vk_rest_call_t *c, json_t *obj, const char *user,
                          const char *const *groups, const char *force_ns)
{
    json_t *spec = json_object_get(obj, "spec");
    json_t *ra = json_object_get(spec, "resourceAttributes");
    json_t *na = json_object_get(spec, "nonResourceAttributes");
    vk_rbac_attrs_t a = {.user = user, .groups = groups};
    if (ra) {
        a.verb = str_at(ra, "verb");
        a.api_group = str_at(ra, "group") ? str_at(ra, "group") : "";
        a.resource = str_at(ra, "resource") ? str_at(ra, "resource") : "";
        a.subresource = str_at(ra, "subresource");
        a.namespace_ = force_ns ? force_ns : str_at(ra, "namespace");
        a.name = str_at(ra, "name");
    } else if (na) {
        a.verb = str_at(na, "verb");
        a.path = str_at(na, "path") ? str_at(na, "path") : "";
    } else {
        reply_invalid(c, "", "spec.resourceAttributes", "FieldValueRequired",
                      "Required value: exactly one of nonResourceAttributes or "
                      "resourceAttributes must be specified");
        json_decref(obj);
        return;
    }
    if (!a.verb) a.verb = "";
    int allowed = in_group(groups, "system:masters") || vk_rbac_allowed(c->ctx->store, &a);
    json_t *st = json_object();
    json_object_set_new(st, "allowed", json_boolean(allowed));
    if (allowed && in_group(groups, "system:masters"))
        json_object_set_new(st, "reason", json_string("allowed by the system:masters group"));
    json_object_set_new(obj, "status", st);
    vk_rest_reply(c, 201, obj);
}

static void do_review(vk_rest_call_t *c, json_t *obj)
{
    char av[128], now[32];
    (void)now;
    json_object_set_new(obj, "apiVersion", json_string(api_version(c->res, av, sizeof av)));
    json_object_set_new(obj, "kind", json_string(c->res->kind));
    json_t *md = meta_of(obj);
    json_object_set_new(md, "creationTimestamp", json_null());
    const vk_http_user_t *u = &c->req->user;
    const char *p = c->res->plural;
    if (!strcmp(p, "selfsubjectreviews")) {
        json_t *ui = json_object();
        json_object_set_new(ui, "username", json_string(u->name));
        if (u->uid && *u->uid) json_object_set_new(ui, "uid", json_string(u->uid));
        json_t *g = json_array();
        for (size_t i = 0; u->groups && u->groups[i]; i++)
            json_array_append_new(g, json_string(u->groups[i]));
        json_object_set_new(ui, "groups", g);
        json_object_set_new(obj, "status", json_pack("{s:o}", "userInfo", ui));
        vk_rest_reply(c, 201, obj);
    } else if (!strcmp(p, "selfsubjectaccessreviews")) {
        access_review(c, obj, u->name, u->groups, NULL);
    } else if (!strcmp(p, "subjectaccessreviews") || !strcmp(p, "localsubjectaccessreviews")) {
        json_t *spec = json_object_get(obj, "spec");
        const char *user = str_at(spec, "user");
        access_review(c, obj, user ? user : "", groups_of(c, json_object_get(spec, "groups")),
                      c->ns);
    } else if (!strcmp(p, "selfsubjectrulesreviews")) {
        const char *ns = str_at(json_object_get(obj, "spec"), "namespace");
        json_t *st = json_object();
        if (in_group(u->groups, "system:masters")) {
            json_object_set_new(st, "resourceRules",
                                json_pack("[{s:[s],s:[s],s:[s]}]", "verbs", "*", "apiGroups", "*",
                                          "resources", "*"));
            json_object_set_new(st, "nonResourceRules",
                                json_pack("[{s:[s],s:[s]}]", "verbs", "*", "nonResourceURLs",
                                          "*"));
        } else {
            vk_rbac_rules(c->ctx->store, u->name, u->groups, ns, st);
        }
        json_object_set_new(st, "incomplete", json_false());
        json_object_set_new(obj, "status", st);
        vk_rest_reply(c, 201, obj);
    } else {
        vk_satoken_token_review(c, obj); /* tokenreviews: service-account JWTs */
    }
}

/* ------------------------------------------------ namespaces and bootstrap */

typedef struct boot {
    int pending;
    void (*done)(void *arg);
    void *arg;
} boot_t;

static void boot_one(void *arg, int status, const vk_kv_t *kv)
{
    boot_t *b = arg;
    if (status && status != VK_EEXIST)
        vk_log_warn("apiserver: bootstrap write failed: %s", vk_err_name(status));
    if (--b->pending == 0) {
        if (b->done) b->done(b->arg);
        free(b);
    }
}

/* Creates key with obj (stolen) unless it exists; counts in *pending. */
static void put_if_absent(vk_rest_ctx_t *ctx, const char *key, json_t *obj, int *pending,
                          vk_store_write_cb cb, void *arg)
{
    vk_kv_t *kv;
    if (vk_store_get(ctx->store, key, &kv) == 0) {
        vk_kv_unref(kv);
        json_decref(obj);
        return;
    }
    char uid[37], now[32];
    new_uid(ctx, uid);
    json_t *md = meta_of(obj);
    json_object_set_new(md, "uid", json_string(uid));
    json_object_set_new(md, "creationTimestamp", json_string(vk_rest_now(now, sizeof now)));
    size_t len;
    char *data = encode(obj, &len);
    json_decref(obj);
    if (pending) (*pending)++;
    if (vk_store_create(ctx->store, key, data, len, cb, arg) && pending) (*pending)--;
    free(data);
}

static void ignore_cb(void *arg, int status, const vk_kv_t *kv)
{
}

static void ensure_namespace_objects(vk_rest_ctx_t *ctx, const char *ns, int *pending,
                                     vk_store_write_cb cb, void *arg)
{
    char *key = vk_xasprintf("/core/serviceaccounts/%s/default", ns);
    put_if_absent(ctx, key,
                  json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                            "metadata", "name", "default", "namespace", ns),
                  pending, cb, arg);
    free(key);
    key = vk_xasprintf("/core/configmaps/%s/kube-root-ca.crt", ns);
    put_if_absent(ctx, key,
                  json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                            "ConfigMap", "metadata", "name", "kube-root-ca.crt", "namespace", ns,
                            "annotations", "kubernetes.io/description",
                            "Contains a CA bundle that can be used to verify the "
                            "kube-apiserver when using internal endpoints such as the internal "
                            "service IP or kubernetes.default.svc. No other usage is guaranteed "
                            "across distributions of Kubernetes clusters.",
                            "data", "ca.crt", ctx->ca_pem),
                  pending, cb, arg);
    free(key);
}

static void after_namespace_create(vk_rest_ctx_t *ctx, const char *ns)
{
    ensure_namespace_objects(ctx, ns, NULL, ignore_cb, NULL);
}

/* Bootstrap RBAC: what kube-apiserver's bootstrap policy provides and vkube users
 * rely on (cluster-admin for system:masters, discovery and self reviews for every
 * authenticated user, and the view/edit/admin roles to bind in namespaces). */
static json_t *cluster_role(const char *name, json_t *rules)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:o}", "apiVersion", "rbac.authorization.k8s.io/v1",
                     "kind", "ClusterRole", "metadata", "name", name, "labels",
                     "kubernetes.io/bootstrapping", "rbac-defaults", "rules", rules);
}

static json_t *cluster_binding(const char *name, const char *role, json_t *subjects)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s,s:s,s:s},s:o}", "apiVersion",
                     "rbac.authorization.k8s.io/v1", "kind", "ClusterRoleBinding", "metadata",
                     "name", name, "labels", "kubernetes.io/bootstrapping", "rbac-defaults",
                     "roleRef", "apiGroup", "rbac.authorization.k8s.io", "kind", "ClusterRole",
                     "name", role, "subjects", subjects);
}

static json_t *group_subject(const char *g)
{
    return json_pack("{s:s,s:s,s:s}", "apiGroup", "rbac.authorization.k8s.io", "kind", "Group",
                     "name", g);
}

static void bootstrap_rbac(vk_rest_ctx_t *ctx, int *pending, vk_store_write_cb cb, void *arg)
{
    const char *cr = "/rbac.authorization.k8s.io/clusterroles/";
    const char *crb = "/rbac.authorization.k8s.io/clusterrolebindings/";
    struct {
        const char *name;
        json_t *rules;
    } roles[] = {
        {"cluster-admin", json_pack("[{s:[s],s:[s],s:[s]},{s:[s],s:[s]}]", "apiGroups", "*",
                                    "resources", "*", "verbs", "*", "nonResourceURLs", "*",
                                    "verbs", "*")},
        {"system:discovery",
         json_pack("[{s:[s,s,s,s,s,s,s,s,s,s,s],s:[s]}]", "nonResourceURLs", "/api", "/api/*",
                   "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
                   "/version", "/version/", "verbs", "get")},
        {"system:public-info-viewer",
         json_pack("[{s:[s,s,s,s,s],s:[s]}]", "nonResourceURLs", "/healthz", "/livez", "/readyz",
                   "/version", "/version/", "verbs", "get")},
        {"system:basic-user",
         json_pack("[{s:[s],s:[s,s],s:[s]},{s:[s],s:[s],s:[s]}]", "apiGroups",
                   "authorization.k8s.io", "resources", "selfsubjectaccessreviews",
                   "selfsubjectrulesreviews", "verbs", "create", "apiGroups",
                   "authentication.k8s.io", "resources", "selfsubjectreviews", "verbs",
                   "create")},
        {"view", json_pack("[{s:[s,s,s,s,s,s,s,s,s,s],s:[s],s:[s,s,s]}]", "apiGroups", "", "apps",
                           "batch", "networking.k8s.io", "policy", "coordination.k8s.io",
                           "discovery.k8s.io", "events.k8s.io", "autoscaling",
                           "storage.k8s.io", "resources", "*", "verbs", "get", "list",
                           "watch")},
        {"edit", json_pack("[{s:[s,s,s,s,s,s,s,s,s],s:[s],s:[s]}]", "apiGroups", "", "apps",
                           "batch", "networking.k8s.io", "policy", "coordination.k8s.io",
                           "discovery.k8s.io", "events.k8s.io", "autoscaling", "resources", "*",
                           "verbs", "*")},
        {"admin", json_pack("[{s:[s,s,s,s,s,s,s,s,s,s],s:[s],s:[s]}]", "apiGroups", "", "apps",
                            "batch", "networking.k8s.io", "policy", "coordination.k8s.io",
                            "discovery.k8s.io", "events.k8s.io", "autoscaling",
                            "rbac.authorization.k8s.io", "resources", "*", "verbs", "*")},
    };
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        char *key = vk_xasprintf("%s%s", cr, roles[i].name);
        put_if_absent(ctx, key, cluster_role(roles[i].name, roles[i].rules), pending, cb, arg);
        free(key);
    }
    struct {
        const char *name;
        json_t *subjects;
    } binds[] = {
        {"cluster-admin", json_pack("[o]", group_subject("system:masters"))},
        {"system:discovery", json_pack("[o]", group_subject("system:authenticated"))},
        {"system:basic-user", json_pack("[o]", group_subject("system:authenticated"))},
        {"system:public-info-viewer", json_pack("[o,o]", group_subject("system:authenticated"),
                                                group_subject("system:unauthenticated"))},
    };
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++) {
        char *key = vk_xasprintf("%s%s", crb, binds[i].name);
        put_if_absent(ctx, key, cluster_binding(binds[i].name, binds[i].name, binds[i].subjects),
                      pending, cb, arg);
        free(key);
    }
}

int vk_rest_bootstrap(vk_rest_ctx_t *ctx, void (*done)(void *arg), void *arg)
{
    boot_t *b = vk_xcalloc(1, sizeof *b);
    b->done = done;
    b->arg = arg;
    b->pending = 1;
    static const char *const nss[] = {"default", "kube-system", "kube-public", "kube-node-lease"};
    for (size_t i = 0; i < 4; i++) {
        char *key = vk_xasprintf("/core/namespaces/%s", nss[i]);
        put_if_absent(ctx, key,
                      json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "apiVersion", "v1",
                                "kind", "Namespace", "metadata", "name", nss[i], "labels",
                                "kubernetes.io/metadata.name", nss[i], "spec", "finalizers",
                                "kubernetes", "status", "phase", "Active"),
                      &b->pending, boot_one, b);
        free(key);
    }
    /* Every existing namespace gets its default objects. */
    vk_store_list_t l;
    int rc = vk_store_list(ctx->store, "/core/namespaces/", NULL, 0, 0, &l);
    if (rc == 0) {
        int terminating = 0;
        for (size_t i = 0; i < l.count; i++) {
            const char *name = l.items[i]->key + strlen("/core/namespaces/");
            ensure_namespace_objects(ctx, name, &b->pending, boot_one, b);
            if (strstr((const char *)l.items[i]->val, "\"Terminating\"")) terminating = 1;
        }
        vk_store_list_free(&l);
        if (terminating) ns_timer_start(ctx);
    }
    for (size_t i = 0; i < 4; i++) ensure_namespace_objects(ctx, nss[i], &b->pending, boot_one, b);
    bootstrap_rbac(ctx, &b->pending, boot_one, b);
    boot_one(b, 0, NULL);
    return rc;
}

/* Namespace finalization: every pass deletes what is left in terminating
 * namespaces (objects with finalizers get a deletionTimestamp and are waited
 * for) and removes namespaces that are empty. */
static void ns_del_cb(void *arg, int status, const vk_kv_t *kv, int removed)
{
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k1 <verb> N1 resource instances, k2 ..." over counts (key -> integer), keys
 * sorted (jansson iterates in insertion order). Caller frees. */
static char *sorted_counts(const json_t *counts, const char *verb)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    const char *keys[256], *k;
    size_t nk = 0;
    json_t *v;
    json_object_foreach((json_t *)counts, k, v) if (nk < 256) keys[nk++] = k;
    qsort(keys, nk, sizeof keys[0], cmp_cstr);
    for (size_t i = 0; i < nk; i++)
        fprintf(f, "%s%s %s %lld resource instances", i ? ", " : "", keys[i], verb,
                (long long)json_integer_value(json_object_get(counts, keys[i])));
    fclose(f);
    return out;
}

/* The namespace controller's conditions on a terminating namespace, as
 * upstream sets them: remaining (group resource -> count) and finalizers
 * (finalizer -> count of objects holding it), both JSON objects. Returns a new
 * conditions array (lastTransitionTime kept from old ones whose status is
 * unchanged). */
static json_t *ns_conditions(const json_t *old, const json_t *remaining, const json_t *finalizers)
{
    char now[40];
    vk_rest_now(now, sizeof now);
    char *rem = sorted_counts(remaining, "has"), *fin = sorted_counts(finalizers, "in");
    char *remmsg = vk_xasprintf("Some resources are remaining: %s", rem);
    char *finmsg = vk_xasprintf("Some content in the namespace has finalizers remaining: %s", fin);
    int has_rem = json_object_size(remaining) > 0, has_fin = json_object_size(finalizers) > 0;
    struct {
        const char *type, *status, *reason, *message;
    } want[] = {
        {"NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
         "All resources successfully discovered"},
        {"NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
         "All legacy kube types successfully parsed"},
        {"NamespaceDeletionContentFailure", "False", "ContentDeleted",
         "All content successfully deleted, may be waiting on finalization"},
        {"NamespaceContentRemaining", has_rem ? "True" : "False",
         has_rem ? "SomeResourcesRemain" : "ContentRemoved",
         has_rem ? remmsg : "All content successfully removed"},
        {"NamespaceFinalizersRemaining", has_fin ? "True" : "False",
         has_fin ? "SomeFinalizersRemain" : "ContentHasNoFinalizers",
         has_fin ? finmsg : "All content-preserving finalizers finished"},
    };
    json_t *out = json_array();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *since = now;
        size_t j;
        json_t *c;
        json_array_foreach((json_t *)old, j, c) {
            const char *t = json_string_value(json_object_get(c, "type"));
            const char *st = json_string_value(json_object_get(c, "status"));
            const char *lt = json_string_value(json_object_get(c, "lastTransitionTime"));
            if (t && st && lt && !strcmp(t, want[i].type) && !strcmp(st, want[i].status)) since = lt;
        }
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", want[i].type,
                                             "status", want[i].status, "lastTransitionTime",
                                             since, "reason", want[i].reason, "message",
                                             want[i].message));
    }
    free(rem), free(fin), free(remmsg), free(finmsg);
    return out;
}

static void ns_pass(uv_timer_t *t)
{
    vk_rest_ctx_t *ctx = t->data;
    vk_store_list_t nl;
    if (vk_store_list(ctx->store, "/core/namespaces/", NULL, 0, 0, &nl)) return;
    int any = 0;
    delopts_t o = {.grace = 0, .propagation = NULL};
    for (size_t i = 0; i < nl.count; i++) {
        json_t *ns = vk_rest_decode(nl.items[i]);
        if (!ns || !meta_str(ns, "deletionTimestamp")) {
            json_decref(ns);
            continue;
        }
        any = 1;
        const char *name = meta_str(ns, "name");
        size_t left = 0;
        json_t *remaining = json_object(), *finalizers = json_object();
        size_t n = vk_resources_count(ctx->resources);
        for (size_t r = 0; r < n; r++) {
            const vk_resource_t *res = vk_resources_at(ctx->resources, r);
            if (!(res->flags & VK_RES_NAMESPACED) || (res->flags & VK_RES_REVIEW)) continue;
            char *prefix = vk_resources_key(res, name, NULL);
            vk_store_list_t l;
            if (vk_store_list(ctx->store, prefix, NULL, 0, 0, &l) == 0) {
                char gr[300];
                snprintf(gr, sizeof gr, "%s.%s", res->plural, res->group); /* "configmaps." */
                if (l.count) json_object_set_new(remaining, gr, json_integer((json_int_t)l.count));
                for (size_t k = 0; k < l.count; k++) {
                    left++;
                    json_t *obj = vk_rest_decode(l.items[k]);
                    size_t fi;
                    json_t *fv;
                    json_array_foreach(json_object_get(json_object_get(obj, "metadata"), "finalizers"), fi, fv) {
                        const char *fs = json_string_value(fv);
                        if (!fs) continue;
                        json_int_t cnt = json_integer_value(json_object_get(finalizers, fs));
                        json_object_set_new(finalizers, fs, json_integer(cnt + 1));
                    }
                    /* Unconditional (revision 0): objects a controller keeps
                     * updating must not make every pass lose a CAS race. */
                    if (obj && !meta_str(obj, "deletionTimestamp"))
                        delete_object(ctx, res, l.items[k]->key, obj, 0, &o, 0, ns_del_cb, NULL);
                    else if (obj && !has_finalizers(obj))
                        vk_store_delete(ctx->store, l.items[k]->key, 0, ignore_cb, NULL);
                    json_decref(obj);
                }
                vk_store_list_free(&l);
            }
            free(prefix);
        }
        if (left == 0 && !has_finalizers(ns)) {
            vk_store_delete(ctx->store, nl.items[i]->key, nl.items[i]->mod_rev, ignore_cb, NULL);
        } else {
            /* Show what deletion waits for, as the namespace controller does. */
            json_t *st = json_object_get(ns, "status");
            if (!json_is_object(st)) json_object_set_new(ns, "status", st = json_object());
            json_t *conds = ns_conditions(json_object_get(st, "conditions"), remaining, finalizers);
            if (!json_equal(conds, json_object_get(st, "conditions"))) {
                json_object_set(st, "conditions", conds);
                size_t len;
                char *data = encode(ns, &len);
                vk_store_update(ctx->store, nl.items[i]->key, data, len, nl.items[i]->mod_rev,
                                ignore_cb, NULL);
                free(data);
            }
            json_decref(conds);
        }
        json_decref(remaining);
        json_decref(finalizers);
        json_decref(ns);
    }
    vk_store_list_free(&nl);
    if (!any) {
        uv_timer_stop(&ctx->ns_timer);
        ctx->ns_timer_on = 0;
    }
}

static void ns_timer_start(vk_rest_ctx_t *ctx)
{
    if (ctx->ns_timer_on || ctx->closing) return;
    ctx->ns_timer_on = 1;
    ctx->ns_timer.data = ctx;
    uv_timer_start(&ctx->ns_timer, ns_pass, 10, 300);
}

void vk_rest_ctx_close(vk_rest_ctx_t *ctx)
{
    ctx->closing = 1;
    json_decref(ctx->ns_objs);
    ctx->ns_objs = NULL;
    uv_timer_stop(&ctx->ns_timer);
    ctx->ns_timer_on = 0;
}

/* ----------------------------------------------------------------- dispatch */

void vk_rest_handle(vk_rest_call_t *c)
{
    switch (c->verb) {
    case VK_VERB_GET:
        do_get(c);
        break;
    case VK_VERB_LIST:
        do_list(c);
        break;
    case VK_VERB_CREATE:
        do_create(c);
        break;
    case VK_VERB_UPDATE:
        do_rmw(c, 0);
        break;
    case VK_VERB_PATCH:
        do_rmw(c, 1);
        break;
    case VK_VERB_DELETE:
        do_delete(c);
        break;
    case VK_VERB_DELETECOLLECTION:
        do_deletecollection(c);
        break;
    default:
        vk_rest_reply_err(c, VK_EMETHOD, "the server does not allow this method on the "
                          "requested resource");
    }
}
