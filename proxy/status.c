/* status: building Kubernetes Status objects. */
#include "status.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

static json_t *details(const vk_resource_t *res, const char *name)
{
    json_t *d = json_object();
    if (name && name[0]) json_object_set_new(d, "name", json_string(name));
    if (res) {
        if (res->group[0]) json_object_set_new(d, "group", json_string(res->group));
        json_object_set_new(d, "kind", json_string(res->plural));
    }
    return d;
}

json_t *vk_status_new(int code, const char *reason, const char *message,
                      const vk_resource_t *res, const char *name)
{
    json_t *s = json_object();
    json_object_set_new(s, "kind", json_string("Status"));
    json_object_set_new(s, "apiVersion", json_string("v1"));
    json_object_set_new(s, "metadata", json_object());
    json_object_set_new(s, "status", json_string("Failure"));
    json_object_set_new(s, "message", json_string(message ? message : ""));
    if (reason && reason[0]) json_object_set_new(s, "reason", json_string(reason));
    if (res || (name && name[0])) json_object_set_new(s, "details", details(res, name));
    json_object_set_new(s, "code", json_integer(code));
    return s;
}

json_t *vk_status_for_err(int err, const vk_resource_t *res, const char *name, const char *msg)
{
    char q[256] = "", buf[1024];
    if (res) vk_resources_qualified(res, q, sizeof q);
    const char *n = name ? name : "";
    if (!msg) {
        switch (err) {
        case VK_ENOTFOUND:
            snprintf(buf, sizeof buf, "%s \"%s\" not found", q, n);
            break;
        case VK_EEXIST:
            snprintf(buf, sizeof buf, "%s \"%s\" already exists", q, n);
            break;
        case VK_ECONFLICT:
            snprintf(buf, sizeof buf,
                     "Operation cannot be fulfilled on %s \"%s\": the object has been modified; "
                     "please apply your changes to the latest version and try again",
                     q, n);
            break;
        case VK_EEXPIRED:
        case VK_ESLOW:
            snprintf(buf, sizeof buf, "The resourceVersion for the provided watch is too old.");
            break;
        case VK_EUNAUTHORIZED:
            snprintf(buf, sizeof buf, "Unauthorized");
            break;
        case VK_ECLOSED:
            snprintf(buf, sizeof buf, "the server is shutting down");
            break;
        case VK_EFULL:
            snprintf(buf, sizeof buf, "storage is full");
            break;
        default:
            snprintf(buf, sizeof buf, "%s", vk_err_name(err));
            break;
        }
        msg = buf;
    }
    int code = vk_err_http_status(err);
    if (code == 0) code = 500;
    return vk_status_new(code, vk_err_reason(err), msg, res, name);
}

json_t *vk_status_success(const vk_resource_t *res, const char *name, const char *uid)
{
    json_t *s = json_object();
    json_object_set_new(s, "kind", json_string("Status"));
    json_object_set_new(s, "apiVersion", json_string("v1"));
    json_object_set_new(s, "metadata", json_object());
    json_object_set_new(s, "status", json_string("Success"));
    json_t *d = details(res, name);
    if (uid && uid[0]) json_object_set_new(d, "uid", json_string(uid));
    json_object_set_new(s, "details", d);
    return s;
}

int vk_status_code(const json_t *status)
{
    json_t *c = json_object_get(status, "code");
    return json_is_integer(c) ? (int)json_integer_value(c) : 500;
}
