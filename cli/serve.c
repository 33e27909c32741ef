/* cli/serve: `vkube serve --data-dir DIR --tenant NAME`: opens the tenant's
 * store, creates the REST layer and serves it over HTTPS until SIGTERM/SIGINT,
 * then stops gracefully (in-flight requests finish, streams end, the store
 * flushes its queued writes) and exits 0. With a host cluster
 * (--host-kubeconfig FILE, or in-cluster credentials when running in a pod)
 * the syncer runs too, with the tenant's Tenant manifest (DIR/NAME/tenant.yaml,
 * defaults without one); it stops first on SIGTERM. */
#include <malloc.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "common/cert.h"
#include "common/err.h"
#include "common/httpc.h"
#include "common/kubeconfig.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/tenantdir.h"
#include "controllers/controllers.h"
#include "proxy/apiserver.h"
#include "proxy/http.h"
#include "store/store.h"
#include "syncer/relay.h"
#include "syncer/syncer.h"
#include "syncer/tenant.h"
#include "syncer/tenantops.h"

typedef struct serve {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    vk_store_t *store;
    vk_apiserver_t *api;
    vk_http_server_t *http;
    vk_controllers_t *ctrl;
    uv_timer_t ctrl_timer; /* starts the controllers once the API is ready */
    uv_timer_t trim_timer; /* gives free heap back once the loop is quiet */
    uv_check_t turn_check; /* counts loop turns for trim_timer */
    unsigned long turns;   /* loop turns since trim_timer last ran, or since turns_since */
    uint64_t turns_since;  /* while trim_timer is stopped: start of the turns counted */
    int stopping;
    /* The syncer (when a host is configured). */
    vk_tenantdir_t *dir;
    vk_tenant_config_t tenant_cfg;
    int tenant_cfg_loaded;
    vk_relay_t *relay; /* pods/log to the host (when a host is configured) */
    vk_syncer_config_t sync_cfg;
    char *ca_pem, *api_host, *api_port;
    vk_httpc_t *host;
    vk_tenantops_t *ops;
    vk_syncer_t *syncer;
    int host_stopped;
} serve_t;

static void on_signal(uv_signal_t *h, int signum);

static void on_host_closed(void *arg)
{
    serve_t *s = arg;
    s->host = NULL;
    s->host_stopped = 1;
    s->stopping = 0;
    on_signal(&s->sigterm, SIGTERM); /* now the API side */
}

static void on_ops_closed(void *arg)
{
    serve_t *s = arg;
    s->ops = NULL;
    vk_httpc_close(s->host, on_host_closed, s);
}

/* Stops the syncer, its tenant side and the host client before the API layer
 * goes; 1 if that started (on_signal runs again when done). */
static int host_stop(serve_t *s)
{
    if (!s->host || s->host_stopped) return 0;
    if (s->syncer) vk_syncer_stop(s->syncer);
    s->syncer = NULL;
    if (s->relay) vk_relay_free(s->relay);
    s->relay = NULL;
    vk_tenantops_close(s->ops, on_ops_closed, s);
    return 1;
}

static void on_tenant_ready(void *arg)
{
    serve_t *s = arg;
    if (s->stopping || s->syncer) return;
    s->sync_cfg.tenant_ctx = s->ops;
    int rc = vk_syncer_start(s->host, &s->sync_cfg, &s->syncer);
    if (rc) {
        vk_log_error("serve: the syncer did not start: %s", vk_err_name(rc));
        return;
    }
    vk_tenantops_set_syncer(s->ops, s->syncer);
    vk_log_info("serve: syncer started (host namespace %s)", s->tenant_cfg.host_namespace);
}

/* Reads the tenant's manifest (DIR/NAME/tenant.yaml; defaults without one):
 * isolation for the syncer, the Pod Security floor for the API. 0 or -1 with a
 * message printed. */
static int load_tenant_config(serve_t *s)
{
    char err[2048];
    int rc;
    char *manifest = vk_xasprintf("%s/tenant.yaml", s->dir->dir);
    FILE *f = fopen(manifest, "rb");
    if (f) {
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
        fclose(f);
        fclose(m);
        rc = vk_tenant_config_parse(buf, len, &s->tenant_cfg, err, sizeof err);
        free(buf);
    } else {
        rc = vk_tenant_config_default(s->dir->name, &s->tenant_cfg, err, sizeof err);
    }
    if (rc) {
        fprintf(stderr, "vkube serve: %s: %s\n", manifest, err);
        free(manifest);
        return -1;
    }
    free(manifest);
    s->tenant_cfg_loaded = 1;
    return 0;
}

/* Relays pods/log requests of the API layer to the host (see syncer/relay.h). */
static void relay_pod_log(void *arg, vk_http_req_t *req, const char *ns, const char *name)
{
    serve_t *s = arg;
    vk_relay_pod_log(s->relay, req, ns, name);
}

/* Relays pods/exec|attach|portforward upgrades to the host (syncer/relay.h). */
static void relay_pod_stream(void *arg, vk_http_req_t *req, const char *sub, const char *ns,
                             const char *name)
{
    serve_t *s = arg;
    vk_relay_pod_stream(s->relay, req, sub, ns, name);
}

/* Reads the host credentials; 0, 1 (no host:
 * nothing to do) or -1 with a message printed. */
static int host_prepare(serve_t *s, const char *host_kc, const char *api_addr, const char *listen)
{
    char err[2048];
    vk_kubeconfig_t kc;
    if (host_kc) {
        if (vk_kubeconfig_load(host_kc, &kc, err, sizeof err)) {
            fprintf(stderr, "vkube serve: --host-kubeconfig %s: %s\n", host_kc, err);
            return -1;
        }
    } else if (getenv("KUBERNETES_SERVICE_HOST") &&
               access("/var/run/secrets/kubernetes.io/serviceaccount/token", R_OK) == 0) {
        if (vk_kubeconfig_in_cluster(&kc, err, sizeof err)) {
            fprintf(stderr, "vkube serve: in-cluster host credentials: %s\n", err);
            return -1;
        }
    } else {
        return 1;
    }
    int rc = vk_httpc_new(&s->loop, &kc, NULL, &s->host, err, sizeof err);
    vk_kubeconfig_free(&kc);
    if (rc) {
        fprintf(stderr, "vkube serve: host client: %s\n", err);
        return -1;
    }
    /* The tenant API as host pods reach it (KUBERNETES_SERVICE_HOST/PORT). */
    const char *addr = api_addr ? api_addr : listen;
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (colon) {
        s->api_host = vk_xstrndup(addr, (size_t)(colon - addr));
        s->api_port = vk_xstrdup(colon + 1);
    }
    if (vk_cert_read_file(s->dir->ca_crt, &s->ca_pem, NULL)) s->ca_pem = NULL;
    s->sync_cfg.translate.tenant = &s->tenant_cfg;
    s->sync_cfg.translate.api_host = s->api_host;
    s->sync_cfg.translate.api_port = s->api_port;
    s->sync_cfg.tenant_ca_pem = s->ca_pem ? s->ca_pem : "";
    s->sync_cfg.ops = vk_tenantops_ops();
    s->relay = vk_relay_new(s->host, &s->tenant_cfg);
    return 0;
}

static void on_store_closed(void *arg)
{
    serve_t *s = arg;
    s->store = NULL;
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->ctrl_timer, NULL);
    uv_close((uv_handle_t *)&s->trim_timer, NULL);
    uv_close((uv_handle_t *)&s->turn_check, NULL);
}

static void on_http_stopped(void *arg)
{
    serve_t *s = arg;
    s->http = NULL;
    vk_apiserver_free(s->api);
    s->api = NULL;
    vk_store_close(s->store, on_store_closed, s);
}

static void on_controllers_stopped(void *arg)
{
    serve_t *s = arg;
    vk_http_server_stop(s->http, on_http_stopped, s);
}

/* The workload controllers start once the API is ready (/readyz says 200):
 * they cannot do anything useful earlier, and their informers' first lists
 * (one page per loop turn) then do not delay readiness. */
static void on_ctrl_timer(uv_timer_t *t)
{
    serve_t *s = t->data;
    if (s->stopping || !vk_apiserver_ready(s->api)) return;
    uv_timer_stop(t);
    s->ctrl = vk_controllers_start(&s->loop, vk_apiserver_handle, s->api);
}

/* Idle heap trim. glibc keeps what a burst of requests freed (a kubectl
 * apply's OpenAPI document, a large list) in its arenas, as resident memory,
 * and only trims the top of the heap. Once a whole period passes with the loop
 * nearly still (the timer's own turn plus a few timers of the controllers) and
 * enough is free, malloc_trim(0) returns the free pages inside the arenas too.
 * Then the timer stops, so an idle tenant is not woken for it, until the loop
 * turns again. */
#define TRIM_PERIOD_MS 1000
#define TRIM_QUIET_TURNS 8          /* at most this many loop turns in a quiet period */
#define TRIM_MIN_FREE (256u * 1024) /* free bytes in the arenas worth a trim */

static void on_trim_timer(uv_timer_t *t);

/* Counts loop turns; with the timer stopped, more than TRIM_QUIET_TURNS within
 * one period start it again. */
static void on_turn(uv_check_t *h)
{
    serve_t *s = h->data;
    s->turns++;
    if (s->stopping || uv_is_active((uv_handle_t *)&s->trim_timer)) return;
    uint64_t now = uv_now(&s->loop);
    if (now - s->turns_since >= TRIM_PERIOD_MS) {
        s->turns_since = now;
        s->turns = 1;
    } else if (s->turns > TRIM_QUIET_TURNS) {
        s->turns = 0;
        uv_timer_start(&s->trim_timer, on_trim_timer, TRIM_PERIOD_MS, TRIM_PERIOD_MS);
    }
}

static void on_trim_timer(uv_timer_t *t)
{
    serve_t *s = t->data;
    unsigned long turns = s->turns;
    s->turns = 0;
    if (turns > TRIM_QUIET_TURNS) return; /* busy: look again next period */
    uv_timer_stop(t);
    struct mallinfo2 mi = mallinfo2();
    if (mi.fordblks < TRIM_MIN_FREE) return;
    malloc_trim(0);
    vk_log_debug("serve: loop quiet, gave free heap back (%zu kB were free)", mi.fordblks / 1024);
}

static void on_signal(uv_signal_t *h, int signum)
{
    serve_t *s = h->data;
    if (s->stopping) {
        fprintf(stderr, "vkube: second signal, exiting without waiting\n");
        exit(1);
    }
    s->stopping = 1;
    vk_log_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    if (host_stop(s)) return;
    uv_timer_stop(&s->ctrl_timer);
    uv_timer_stop(&s->trim_timer);
    uv_check_stop(&s->turn_check);
    /* The controllers' requests in flight finish before the API layer goes. */
    if (s->ctrl)
        vk_controllers_stop(s->ctrl, on_controllers_stopped, s);
    else
        on_controllers_stopped(s);
    s->ctrl = NULL;
}

static int parse_size(const char *cmd, const char *flag, const char *v, size_t *out)
{
    if (!v) return 0;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    if (*end || end == v) {
        fprintf(stderr, "vkube %s: %s wants a number, got \"%s\"\n", cmd, flag, v);
        return 2;
    }
    *out = (size_t)n;
    return 0;
}

int cli_serve(int argc, char **argv)
{
    const char *data_dir = NULL, *tenant = NULL, *listen = NULL;
    const char *host_kc = NULL, *api_addr = NULL;
    const char *idle = NULL, *reqto = NULL, *maxbody = NULL, *maxhdr = NULL, *maxstreams = NULL;
    int verbose = 0;
    const cli_flag_t flags[] = {
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0, "directory holding tenants (DIR/NAME/)"},
        {"--tenant", NULL, 1, &tenant, NULL, NULL, 0, "the tenant to serve"},
        {"--listen", NULL, 1, &listen, NULL, NULL, 0,
         "address to listen on (default: the one chosen at tenant create)"},
        {"--host-kubeconfig", NULL, 1, &host_kc, NULL, NULL, 0,
         "run the syncer against this host cluster (default: in-cluster credentials when in a "
         "pod, else no syncer)"},
        {"--tenant-api-address", NULL, 1, &api_addr, NULL, NULL, 0,
         "HOST:PORT host pods use to reach this API (default: the listen address)"},
        {"--verbose", "-v", 0, NULL, &verbose, NULL, 0, "log one line per request (-v -v: debug)"},
        {"--idle-timeout-ms", NULL, 1, &idle, NULL, NULL, 0, "keep-alive idle timeout (90000)"},
        {"--request-timeout-ms", NULL, 1, &reqto, NULL, NULL, 0,
         "a request must arrive within this time (60000)"},
        {"--max-body-bytes", NULL, 1, &maxbody, NULL, NULL, 0, "largest request body (3 MiB)"},
        {"--max-header-bytes", NULL, 1, &maxhdr, NULL, NULL, 0, "largest request header (1 MiB)"},
        {"--max-streams-per-client", NULL, 1, &maxstreams, NULL, NULL, 0,
         "concurrent watches per client IP (500)"},
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("serve", argc, argv, flags, pos, 0, &npos);
    if (rc == 1) {
        printf("Usage: vkube serve --data-dir DIR --tenant NAME [--listen IP:PORT] [-v]\n\n"
               "Serves the tenant's Kubernetes API over HTTPS until SIGTERM or SIGINT, then\n"
               "stops gracefully and exits 0. Prints \"vkube: tenant NAME serving on\n"
               "https://ADDR\" once listening; /readyz says when it is ready.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (!data_dir) data_dir = getenv("VKUBE_DATA_DIR");
    if (!data_dir || !*data_dir) {
        fprintf(stderr, "vkube serve: --data-dir is required (or set VKUBE_DATA_DIR)\n");
        return 2;
    }
    if (!tenant) {
        fprintf(stderr, "vkube serve: --tenant is required\n");
        return 2;
    }
    vk_http_config_t hc = {0};
    if (parse_size("serve", "--max-body-bytes", maxbody, &hc.max_body_bytes) ||
        parse_size("serve", "--max-header-bytes", maxhdr, &hc.max_header_bytes) ||
        parse_size("serve", "--max-streams-per-client", maxstreams, &hc.max_streams_per_client))
        return 2;
    size_t v;
    if (idle) {
        if (parse_size("serve", "--idle-timeout-ms", idle, &v)) return 2;
        hc.idle_timeout_ms = (int)v;
    }
    if (reqto) {
        if (parse_size("serve", "--request-timeout-ms", reqto, &v)) return 2;
        hc.request_timeout_ms = (int)v;
    }
    vk_log_set_level(verbose >= 2 ? VK_LOG_DEBUG : verbose ? VK_LOG_INFO : VK_LOG_WARN);
    if (!vk_tenantdir_valid_name(tenant)) {
        fprintf(stderr, "vkube serve: invalid tenant name \"%s\"\n", tenant);
        return 2;
    }
    vk_tenantdir_t t;
    vk_tenantdir_paths(data_dir, tenant, &t);
    if (!vk_tenantdir_exists(&t)) {
        fprintf(stderr, "vkube serve: tenant \"%s\" not found in %s (create it with 'vkube tenant "
                        "create %s --data-dir %s')\n",
                tenant, data_dir, tenant, data_dir);
        vk_tenantdir_free(&t);
        return 1;
    }
    char *remembered = NULL;
    if (!listen && vk_tenantdir_listen(&t, &remembered)) {
        fprintf(stderr, "vkube serve: cannot read %s\n", t.listen_file);
        vk_tenantdir_free(&t);
        return 1;
    }
    if (!listen) listen = remembered;
    signal(SIGPIPE, SIG_IGN);

    serve_t *s = calloc(1, sizeof *s);
    uv_loop_init(&s->loop);
    int exit_code = 1;
    s->dir = &t;
    if (load_tenant_config(s) < 0 || host_prepare(s, host_kc, api_addr, listen) < 0) goto out;
    rc = vk_store_open(&s->loop, t.store_db, NULL, &s->store);
    if (rc) {
        fprintf(stderr, "vkube serve: cannot open the store %s: %s\n", t.store_db,
                vk_err_name(rc));
        goto out;
    }
    vk_apiserver_config_t ac = {
        .tenant = tenant,
        .ca_cert_file = t.ca_crt,
        .sa_key_file = t.sa_key,
        .external_address = listen,
        .pod_security = s->tenant_cfg.pod_security,
        .quota = s->tenant_cfg.quota,
        .pod_log = s->relay ? relay_pod_log : NULL,
        .pod_log_arg = s,
        .pod_stream = s->relay ? relay_pod_stream : NULL,
        .pod_stream_arg = s,
    };
    rc = vk_apiserver_new(&s->loop, s->store, &ac, &s->api);
    if (rc) {
        fprintf(stderr, "vkube serve: cannot start the API: %s\n", vk_err_name(rc));
        vk_store_close(s->store, NULL, NULL);
        goto out;
    }
    hc.listen = listen;
    hc.cert_file = t.serving_crt;
    hc.key_file = t.serving_key;
    hc.client_ca_file = t.ca_crt;
    hc.tokens_file = t.tokens;
    hc.handler = vk_apiserver_handle;
    hc.token_cb = vk_apiserver_authenticate_token;
    hc.ctx = s->api;
    char err[512];
    rc = vk_http_server_start(&s->loop, &hc, &s->http, err, sizeof err);
    if (rc) {
        fprintf(stderr, "vkube serve: %s\n", err);
        vk_apiserver_free(s->api);
        vk_store_close(s->store, NULL, NULL);
        goto out;
    }
    uv_timer_init(&s->loop, &s->ctrl_timer);
    s->ctrl_timer.data = s;
    uv_timer_start(&s->ctrl_timer, on_ctrl_timer, 0, 1);
    uv_timer_init(&s->loop, &s->trim_timer);
    uv_check_init(&s->loop, &s->turn_check);
    s->trim_timer.data = s->turn_check.data = s;
    uv_timer_start(&s->trim_timer, on_trim_timer, TRIM_PERIOD_MS, TRIM_PERIOD_MS);
    uv_check_start(&s->turn_check, on_turn);
    if (s->host)
        s->ops = vk_tenantops_new(&s->loop, vk_apiserver_handle, s->api, s->store, &t,
                                  on_tenant_ready, s);
    uv_signal_init(&s->loop, &s->sigterm);
    uv_signal_init(&s->loop, &s->sigint);
    s->sigterm.data = s->sigint.data = s;
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    printf("vkube: tenant %s serving on https://%s\n", tenant, vk_http_server_address(s->http));
    fflush(stdout);
    exit_code = 0;
out:
    if (exit_code && s->host) vk_httpc_close(s->host, NULL, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&s->loop)) {
        vk_log_warn("serve: handles left open at exit");
    }
    if (s->tenant_cfg_loaded) vk_tenant_config_free(&s->tenant_cfg);
    free(s->ca_pem), free(s->api_host), free(s->api_port);
    free(s);
    free(remembered);
    vk_tenantdir_free(&t);
    return exit_code;
}
