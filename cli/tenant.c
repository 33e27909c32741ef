/* cli/tenant: `vkube tenant create|kubeconfig|list|delete`. */
#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "common/cert.h"
#include "common/err.h"
#include "common/mem.h"
#include "common/tenantdir.h"
#include "store/store.h"
#include "syncer/tenant.h"

static int tenant_usage(FILE *f)
{
    fprintf(f, "Usage: vkube tenant <subcommand> [flags]\n\n"
               "Subcommands:\n"
               "  create NAME --data-dir DIR [--listen 127.0.0.1:PORT] [--san NAME]... [-f tenant.yaml]\n"
               "  kubeconfig NAME --data-dir DIR [--user USER [--group G]... [--token]]\n"
               "  list --data-dir DIR\n"
               "  delete NAME --data-dir DIR\n"
               "\nWith --host-kubeconfig FILE instead of --data-dir, each command works through\n"
               "the host cluster's Tenant objects (vkube.io/v1alpha1), which the operator\n"
               "reconciles: create -f tenant.yaml, delete NAME, list, kubeconfig NAME.\n"
               "\nThe data directory may also come from $VKUBE_DATA_DIR.\n");
    return f == stderr ? 2 : 0;
}

static const char *data_dir_or_env(const char *cmd, const char *flag)
{
    if (flag) return flag;
    const char *env = getenv("VKUBE_DATA_DIR");
    if (env && *env) return env;
    fprintf(stderr, "vkube %s: --data-dir is required (or set VKUBE_DATA_DIR)\n", cmd);
    return NULL;
}

/* Opens and closes the store once so that store.db exists and is valid. */
static int create_store(const char *path, char *err, size_t errlen)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    vk_store_t *s = NULL;
    int rc = vk_store_open(&loop, path, NULL, &s);
    if (rc)
        snprintf(err, errlen, "cannot create the store %s: %s", path, vk_err_name(rc));
    else
        vk_store_close(s, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return rc;
}

/* Reads and validates a Tenant manifest for tenant name: *out (owned) holds
 * the file's text. 0, or an exit code with a message in err. */
static int read_manifest(const char *path, const char *name, char **out, size_t *len, char *err,
                         size_t errlen)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open %s", path);
        return 1;
    }
    size_t cap = 4096, n = 0;
    char *buf = vk_xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 >= cap) buf = vk_xrealloc(buf, cap *= 2);
    }
    if (f != stdin) fclose(f);
    buf[n] = 0;
    vk_tenant_config_t cfg;
    char why[1536];
    if (vk_tenant_config_parse(buf, n, &cfg, why, sizeof why)) {
        snprintf(err, errlen, "%s: invalid Tenant manifest: %s", path, why);
        free(buf);
        return 1;
    }
    int bad = strcmp(cfg.name, name) != 0;
    if (bad)
        snprintf(err, errlen, "%s: metadata.name \"%s\" does not match the tenant name \"%s\"",
                 path, cfg.name, name);
    vk_tenant_config_free(&cfg);
    if (bad) {
        free(buf);
        return 2;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Writes DIR/NAME/tenant.yaml (0600). 0 or -1 with a message in err. */
static int write_manifest(const char *dir, const char *text, size_t len, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tenant.yaml", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f) close(fd);
    int ok = f && fwrite(text, 1, len, f) == len;
    if (f && fclose(f)) ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write %.1000s/tenant.yaml", dir);
        return -1;
    }
    return 0;
}

#define HOST_FLAGS                                                                         \
    {"--host-kubeconfig", NULL, 1, &host_kc, NULL, NULL, 0,                                \
     "work through the host cluster's Tenant objects (the operator) instead of --data-dir"}, \
        {"--no-wait", NULL, 0, NULL, &no_wait, NULL, 0,                                    \
         "with --host-kubeconfig: return once the host accepted the change"},             \
        {"--timeout", NULL, 1, &timeout, NULL, NULL, 0,                                    \
         "with --host-kubeconfig: seconds to wait for the operator (default 300)"}

/* The --timeout value: seconds > 0, or -1 after an error message. */
static int timeout_seconds(const char *cmd, const char *v)
{
    if (!v) return 300;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end == 's' && end[1] == 0) end++;
    if (*end || n <= 0 || n > 86400) {
        fprintf(stderr, "vkube %s: --timeout wants seconds (1-86400), not \"%s\"\n", cmd, v);
        return -1;
    }
    return (int)n;
}

static int tenant_create(int argc, char **argv)
{
    const char *data_dir = NULL, *listen = NULL, *file = NULL, *host_kc = NULL, *timeout = NULL;
    int no_wait = 0;
    const char *sans[17] = {0};
    const cli_flag_t flags[] = {
        HOST_FLAGS,
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0, "directory holding tenants (DIR/NAME/)"},
        {"--listen", NULL, 1, &listen, NULL, NULL, 0,
         "address the API server will listen on (default: a free 127.0.0.1 port)"},
        {"--san", NULL, 1, NULL, NULL, sans, 16, "extra DNS name or IP for the serving certificate (repeatable)"},
        {"--filename", "-f", 1, &file, NULL, NULL, 0, "a Tenant manifest (vkube.io/v1alpha1) for this tenant, kept as DIR/NAME/tenant.yaml"},
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("tenant create", argc, argv, flags, pos, 1, &npos);
    if (rc == 1) {
        printf("Usage: vkube tenant create NAME --data-dir DIR [--listen 127.0.0.1:PORT] [-f tenant.yaml]\n"
               "       vkube tenant create NAME -f tenant.yaml --host-kubeconfig FILE [--no-wait]\n\n"
               "Creates DIR/NAME/ with the tenant's store, CA, serving certificate, admin\n"
               "client certificate (CN=admin, O=system:masters), service-account key,\n"
               "tokens file and kubeconfig (context NAME, server https://<listen>).\n"
               "With --host-kubeconfig: creates the Tenant object on the host cluster and\n"
               "follows the operator until the tenant is Ready (or Failed).\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "vkube tenant create: exactly one tenant NAME is required\n");
        return 2;
    }
    if (host_kc) {
        int secs = timeout_seconds("tenant create", timeout);
        if (secs < 0) return 2;
        if (data_dir || listen || sans[0]) {
            fprintf(stderr, "vkube tenant create: --data-dir, --listen and --san are local; the "
                            "operator chooses them with --host-kubeconfig\n");
            return 2;
        }
        return cli_host_tenant_create(host_kc, file, pos[0], !no_wait, secs);
    }
    if (!(data_dir = data_dir_or_env("tenant create", data_dir))) return 2;
    char err[2048];
    char *manifest = NULL;
    size_t manifest_len = 0;
    if (file && (rc = read_manifest(file, pos[0], &manifest, &manifest_len, err, sizeof err))) {
        fprintf(stderr, "vkube tenant create: %s\n", err);
        return rc;
    }
    vk_tenantdir_t t;
    vk_tenantdir_paths(data_dir, pos[0], &t);
    rc = vk_tenantdir_create(&t, listen, sans, err, sizeof err);
    if (!rc && create_store(t.store_db, err, sizeof err)) {
        vk_tenantdir_remove(&t);
        rc = 1;
    }
    if (!rc && manifest && write_manifest(t.dir, manifest, manifest_len, err, sizeof err)) {
        vk_tenantdir_remove(&t);
        rc = 1;
    }
    free(manifest);
    if (rc) {
        fprintf(stderr, "vkube tenant create: %s\n", err);
        vk_tenantdir_free(&t);
        return 1;
    }
    char *addr = NULL;
    vk_tenantdir_listen(&t, &addr);
    printf("tenant %s created in %s\nAPI server address: https://%s (start it with 'vkube serve "
           "--data-dir %s --tenant %s')\nkubeconfig: %s\n",
           t.name, t.dir, addr ? addr : "?", data_dir, t.name, t.kubeconfig);
    free(addr);
    vk_tenantdir_free(&t);
    return 0;
}

static int tenant_kubeconfig(int argc, char **argv)
{
    const char *data_dir = NULL, *user = NULL, *host_kc = NULL;
    const char *groups[33] = {0};
    int token = 0;
    const cli_flag_t flags[] = {
        {"--host-kubeconfig", NULL, 1, &host_kc, NULL, NULL, 0,
         "read the admin kubeconfig from the host's Tenant (its status.kubeconfigSecret)"},
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0, "directory holding tenants (DIR/NAME/)"},
        {"--user", NULL, 1, &user, NULL, NULL, 0,
         "make a kubeconfig for this user instead of admin (new client certificate)"},
        {"--group", NULL, 1, NULL, NULL, groups, 32, "a group of --user (repeatable)"},
        {"--token", NULL, 0, NULL, &token, NULL, 0,
         "with --user: a new bearer token (added to tokens.csv) instead of a certificate"},
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("tenant kubeconfig", argc, argv, flags, pos, 1, &npos);
    if (rc == 1) {
        printf("Usage: vkube tenant kubeconfig NAME --data-dir DIR [--user USER [--group G]... "
               "[--token]]\n\n"
               "Prints the tenant's admin kubeconfig (embedded certificates), or with --user\n"
               "a new kubeconfig for that user: a client certificate CN=USER, O=GROUP... signed\n"
               "by the tenant CA, or with --token a bearer token appended to the tenant's\n"
               "tokens.csv (a running server accepts it within a second). What the user may\n"
               "do is decided by RBAC objects in the tenant.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "vkube tenant kubeconfig: exactly one tenant NAME is required\n");
        return 2;
    }
    if ((groups[0] || token) && !user) {
        fprintf(stderr, "vkube tenant kubeconfig: --group and --token need --user\n");
        return 2;
    }
    if (host_kc) {
        if (user || data_dir) {
            fprintf(stderr, "vkube tenant kubeconfig: --user and --data-dir are local; with "
                            "--host-kubeconfig the tenant's admin kubeconfig is printed\n");
            return 2;
        }
        return cli_host_tenant_kubeconfig(host_kc, pos[0]);
    }
    if (!(data_dir = data_dir_or_env("tenant kubeconfig", data_dir))) return 2;
    if (!vk_tenantdir_valid_name(pos[0])) {
        fprintf(stderr, "vkube tenant kubeconfig: invalid tenant name \"%s\"\n", pos[0]);
        return 2;
    }
    vk_tenantdir_t t;
    vk_tenantdir_paths(data_dir, pos[0], &t);
    if (!vk_tenantdir_exists(&t)) {
        fprintf(stderr, "vkube tenant kubeconfig: tenant \"%s\" not found in %s\n", pos[0],
                data_dir);
        vk_tenantdir_free(&t);
        return 1;
    }
    char *kc = NULL;
    if (user) {
        char err[512];
        rc = vk_tenantdir_user_kubeconfig(&t, user, groups, token, &kc, err, sizeof err);
        if (rc) {
            fprintf(stderr, "vkube tenant kubeconfig: %s\n", err);
            vk_tenantdir_free(&t);
            return 1;
        }
    } else {
        rc = vk_cert_read_file(t.kubeconfig, &kc, NULL);
        if (rc) {
            fprintf(stderr, "vkube tenant kubeconfig: cannot read %s: %s\n", t.kubeconfig,
                    strerror(-rc));
            vk_tenantdir_free(&t);
            return 1;
        }
    }
    fputs(kc, stdout);
    free(kc);
    vk_tenantdir_free(&t);
    return 0;
}

static int tenant_delete(int argc, char **argv)
{
    const char *data_dir = NULL, *host_kc = NULL, *timeout = NULL;
    int no_wait = 0;
    const cli_flag_t flags[] = {
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0, "directory holding tenants (DIR/NAME/)"},
        HOST_FLAGS,
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("tenant delete", argc, argv, flags, pos, 1, &npos);
    if (rc == 1) {
        printf("Usage: vkube tenant delete NAME --data-dir DIR\n"
               "       vkube tenant delete NAME --host-kubeconfig FILE [--no-wait]\n\n"
               "Removes the tenant's directory (stop its 'vkube serve' first), or with\n"
               "--host-kubeconfig deletes the host's Tenant object and waits until the\n"
               "operator has removed everything it created for it.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (npos != 1) {
        fprintf(stderr, "vkube tenant delete: exactly one tenant NAME is required\n");
        return 2;
    }
    if (!vk_tenantdir_valid_name(pos[0])) {
        fprintf(stderr, "vkube tenant delete: invalid tenant name \"%s\"\n", pos[0]);
        return 2;
    }
    if (host_kc) {
        int secs = timeout_seconds("tenant delete", timeout);
        if (secs < 0) return 2;
        return cli_host_tenant_delete(host_kc, pos[0], !no_wait, secs);
    }
    if (!(data_dir = data_dir_or_env("tenant delete", data_dir))) return 2;
    vk_tenantdir_t t;
    vk_tenantdir_paths(data_dir, pos[0], &t);
    if (!vk_tenantdir_exists(&t)) {
        fprintf(stderr, "vkube tenant delete: tenant \"%s\" not found in %s\n", pos[0], data_dir);
        vk_tenantdir_free(&t);
        return 1;
    }
    rc = vk_tenantdir_remove(&t);
    if (rc) {
        fprintf(stderr, "vkube tenant delete: %s: %s\n", t.dir, strerror(-rc));
        vk_tenantdir_free(&t);
        return 1;
    }
    printf("tenant %s deleted\n", t.name);
    vk_tenantdir_free(&t);
    return 0;
}

/* kubectl-style age of a file's modification time. */
static void file_age(const char *path, char *out, size_t n)
{
    struct stat st;
    if (stat(path, &st)) {
        snprintf(out, n, "<unknown>");
        return;
    }
    long s = (long)(time(NULL) - st.st_mtime);
    if (s < 0) s = 0;
    if (s < 120) snprintf(out, n, "%lds", s);
    else if (s < 3 * 3600) snprintf(out, n, "%ldm", s / 60);
    else if (s < 48 * 3600) snprintf(out, n, "%ldh", s / 3600);
    else snprintf(out, n, "%ldd", s / 86400);
}

static int tenant_list(int argc, char **argv)
{
    const char *data_dir = NULL, *host_kc = NULL;
    const cli_flag_t flags[] = {
        {"--data-dir", NULL, 1, &data_dir, NULL, NULL, 0, "directory holding tenants (DIR/NAME/)"},
        {"--host-kubeconfig", NULL, 1, &host_kc, NULL, NULL, 0,
         "list the host cluster's Tenant objects instead"},
        {0}};
    const char *pos[1];
    int npos;
    int rc = cli_parse("tenant list", argc, argv, flags, pos, 0, &npos);
    if (rc == 1) {
        printf("Usage: vkube tenant list --data-dir DIR\n"
               "       vkube tenant list --host-kubeconfig FILE\n\n"
               "Lists tenants: NAME, PHASE, ENDPOINT, PODS, AGE. Locally PHASE is Running when\n"
               "the tenant's API server answers (PODS then counts its pods), else Stopped;\n"
               "on the host it is the Tenant's status.phase and PODS counts the tenant's\n"
               "pods in its host namespace.\n");
        cli_print_flags(stdout, flags);
        return 0;
    }
    if (rc) return rc;
    if (host_kc) return cli_host_tenant_list(host_kc);
    if (!(data_dir = data_dir_or_env("tenant list", data_dir))) return 2;
    struct dirent **ents;
    int n = scandir(data_dir, &ents, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "vkube tenant list: cannot read %s: %m\n", data_dir);
        return 1;
    }
    printf("%-24s %-13s %-34s %-5s %s\n", "NAME", "PHASE", "ENDPOINT", "PODS", "AGE");
    for (int i = 0; i < n; i++) {
        vk_tenantdir_t t;
        if (vk_tenantdir_valid_name(ents[i]->d_name)) {
            vk_tenantdir_paths(data_dir, ents[i]->d_name, &t);
            char *addr = NULL;
            if (vk_tenantdir_exists(&t) && !vk_tenantdir_listen(&t, &addr)) {
                char phase[16], pods[32], age[32], ep[300];
                cli_tenant_probe(t.kubeconfig, phase, sizeof phase, pods, sizeof pods);
                file_age(t.kubeconfig, age, sizeof age);
                snprintf(ep, sizeof ep, "https://%s", addr);
                printf("%-24s %-13s %-34s %-5s %s\n", t.name, phase, ep, pods, age);
            }
            free(addr);
            vk_tenantdir_free(&t);
        }
        free(ents[i]);
    }
    free(ents);
    return 0;
}

int cli_tenant(int argc, char **argv)
{
    if (argc < 1) return tenant_usage(stderr);
    const char *sub = argv[0];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help"))
        return tenant_usage(stdout);
    if (!strcmp(sub, "create")) return tenant_create(argc - 1, argv + 1);
    if (!strcmp(sub, "kubeconfig")) return tenant_kubeconfig(argc - 1, argv + 1);
    if (!strcmp(sub, "list")) return tenant_list(argc - 1, argv + 1);
    if (!strcmp(sub, "delete")) return tenant_delete(argc - 1, argv + 1);
    fprintf(stderr, "vkube tenant: unknown subcommand \"%s\"\n", sub);
    tenant_usage(stderr);
    return 2;
}
