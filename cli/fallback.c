/* cli/fallback: TEMPORARY weak stand-ins for proxy/apiserver.c until the REST
 * layer lands. They are weak symbols, so the real vk_apiserver_* functions
 * replace them at link time as soon as proxy/apiserver.c exists; delete this
 * file then. They answer only health checks and /version; everything else is
 * a 404 Status, and anonymous requests elsewhere get 401. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proxy/apiserver.h"

struct vk_apiserver {
    int unused;
};

__attribute__((weak)) int vk_apiserver_new(uv_loop_t *loop, vk_store_t *store,
                                           const vk_apiserver_config_t *cfg, vk_apiserver_t **out)
{
    *out = calloc(1, sizeof **out);
    return 0;
}

__attribute__((weak)) void vk_apiserver_handle(void *ctx, vk_http_req_t *req)
{
    static const char notfound[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"the server could not find the requested resource\",\"reason\":"
        "\"NotFound\",\"details\":{},\"code\":404}\n";
    static const char unauth[] =
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
        "\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\",\"code\":401}\n";
    const char *p = req->path;
    if (!strcmp(p, "/healthz") || !strcmp(p, "/livez") || !strcmp(p, "/readyz")) {
        vk_http_respond(req, 200, "text/plain; charset=utf-8", "ok", 2);
        return;
    }
    if (!strcmp(p, "/version")) {
        static const char v[] = "{\"major\":\"1\",\"minor\":\"33\",\"gitVersion\":\"v1.33.0-vkube\","
                                "\"platform\":\"linux/amd64\"}";
        vk_http_respond(req, 200, "application/json", v, sizeof v - 1);
        return;
    }
    if (!req->user.authenticated) {
        vk_http_respond(req, 401, "application/json", unauth, sizeof unauth - 1);
        return;
    }
    vk_http_respond(req, 404, "application/json", notfound, sizeof notfound - 1);
}

__attribute__((weak)) int vk_apiserver_authenticate_token(void *ctx, const char *token,
                                                          vk_pool_t *pool, vk_http_user_t *user)
{
    return 0;
}

__attribute__((weak)) int vk_apiserver_ready(const vk_apiserver_t *api)
{
    return 1;
}

__attribute__((weak)) void vk_apiserver_free(vk_apiserver_t *api)
{
    free(api);
}
