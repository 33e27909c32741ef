/* tenantdir: creating and locating a tenant's files. */
#include "common/tenantdir.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/err.h"
#include "common/kubeconfig.h"
#include "common/mem.h"

#define CERT_DAYS 3650

int vk_tenantdir_valid_name(const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > 63) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !(c == '-' && i > 0 && i < n - 1)) return 0;
    }
    return 1;
}

void vk_tenantdir_paths(const char *data_dir, const char *name, vk_tenantdir_t *t)
{
    memset(t, 0, sizeof *t);
    t->name = vk_xstrdup(name);
    t->dir = vk_xasprintf("%s/%s", data_dir, name);
    t->store_db = vk_xasprintf("%s/store.db", t->dir);
    t->ca_crt = vk_xasprintf("%s/ca.crt", t->dir);
    t->ca_key = vk_xasprintf("%s/ca.key", t->dir);
    t->serving_crt = vk_xasprintf("%s/serving.crt", t->dir);
    t->serving_key = vk_xasprintf("%s/serving.key", t->dir);
    t->admin_crt = vk_xasprintf("%s/admin.crt", t->dir);
    t->admin_key = vk_xasprintf("%s/admin.key", t->dir);
    t->sa_key = vk_xasprintf("%s/sa.key", t->dir);
    t->sa_pub = vk_xasprintf("%s/sa.pub", t->dir);
    t->tokens = vk_xasprintf("%s/tokens.csv", t->dir);
    t->kubeconfig = vk_xasprintf("%s/kubeconfig", t->dir);
    t->listen_file = vk_xasprintf("%s/listen", t->dir);
}

void vk_tenantdir_free(vk_tenantdir_t *t)
{
    char **f[] = {&t->name,      &t->dir,         &t->store_db,  &t->ca_crt,    &t->ca_key,
                  &t->serving_crt, &t->serving_key, &t->admin_crt, &t->admin_key, &t->sa_key,
                  &t->sa_pub,    &t->tokens,      &t->kubeconfig, &t->listen_file};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

int vk_tenantdir_exists(const vk_tenantdir_t *t)
{
    return access(t->listen_file, F_OK) == 0;
}

/* Binds 127.0.0.1:0 to learn a free port. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    else
        port = -errno;
    close(fd);
    return port;
}

/* Checks "IP:PORT" / "[IPv6]:PORT" with a port 1..65535; fills host (without
 * brackets) for the SAN list. */
static int check_listen(const char *listen, char *host, size_t hostlen)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) return VK_EINVALID;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535) return VK_EINVALID;
    size_t hl = (size_t)(colon - listen);
    const char *h = listen;
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']') return VK_EINVALID;
        h++;
        hl -= 2;
    }
    if (hl >= hostlen) return VK_EINVALID;
    memcpy(host, h, hl);
    host[hl] = 0;
    unsigned char buf[16];
    if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1 &&
        strcmp(host, "localhost") != 0)
        return VK_EINVALID;
    return 0;
}

static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return -errno;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char *p = vk_xasprintf("%s/%s", path, e->d_name);
            rm_rf(p);
            free(p);
        }
        closedir(d);
        return rmdir(path) < 0 ? -errno : 0;
    }
    return unlink(path) < 0 ? -errno : 0;
}

int vk_tenantdir_remove(const vk_tenantdir_t *t)
{
    return rm_rf(t->dir);
}

int vk_tenantdir_create(const vk_tenantdir_t *t, const char *listen,
                        const char *const *extra_sans, char *err, size_t errlen)
{
    if (!vk_tenantdir_valid_name(t->name)) {
        snprintf(err, errlen,
                 "invalid tenant name \"%s\": must be a DNS-1123 label (lowercase letters, digits "
                 "and '-', at most 63 characters, starting and ending with a letter or digit)",
                 t->name);
        return VK_EINVALID;
    }
    char host[64];
    char *addr = NULL;
    if (listen) {
        if (check_listen(listen, host, sizeof host)) {
            snprintf(err, errlen, "invalid --listen \"%s\": want IP:PORT, e.g. 127.0.0.1:6443",
                     listen);
            return VK_EINVALID;
        }
        addr = vk_xstrdup(listen);
    } else {
        int port = free_port();
        if (port < 0) {
            snprintf(err, errlen, "cannot find a free port: %s", strerror(-port));
            return port;
        }
        strcpy(host, "127.0.0.1");
        addr = vk_xasprintf("127.0.0.1:%d", port);
    }
    char *parent = vk_xstrndup(t->dir, (size_t)(strrchr(t->dir, '/') - t->dir));
    /* Create the data directory and its missing parents (mkdir -p). */
    for (char *p = parent + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(parent, 0755);
        *p = '/';
    }
    if (*parent && mkdir(parent, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", parent, strerror(errno));
        int e = -errno;
        free(parent);
        free(addr);
        return e;
    }
    free(parent);
    if (mkdir(t->dir, 0700) < 0) {
        int e = errno;
        if (e == EEXIST)
            snprintf(err, errlen, "tenant \"%s\" already exists in %s", t->name, t->dir);
        else
            snprintf(err, errlen, "cannot create %s: %s", t->dir, strerror(e));
        free(addr);
        return e == EEXIST ? VK_EEXIST : -e;
    }

    vk_cert_pem_t ca = {0}, serving = {0}, admin = {0}, sa = {0};
    char *kc = NULL, *server = NULL;
    const char *what = "making the CA";
    char *ca_cn = vk_xasprintf("vkube-ca-%s", t->name);
    int rc = vk_cert_make_ca(ca_cn, CERT_DAYS, &ca);
    free(ca_cn);
    /* Extra SANs: the listen host if it is not one of the defaults. */
    const char *sans[34] = {0};
    size_t ns = 0;
    if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost") && strcmp(host, "::1"))
        sans[ns++] = host;
    for (const char *const *s = extra_sans; s && *s && ns < 32; s++) sans[ns++] = *s;
    if (!rc) {
        what = "making the serving certificate";
        rc = vk_cert_make_serving(&ca, "vkube-apiserver", sans, CERT_DAYS, &serving);
    }
    if (!rc) {
        what = "making the admin certificate";
        const char *groups[] = {"system:masters", NULL};
        rc = vk_cert_make_client(&ca, "admin", groups, CERT_DAYS, &admin);
    }
    if (!rc) {
        what = "making the service-account key";
        rc = vk_cert_make_sa_key(&sa);
    }
    if (!rc) {
        what = "rendering the kubeconfig";
        server = vk_xasprintf("https://%s", addr);
        rc = vk_kubeconfig_render(t->name, server, ca.cert, admin.cert, admin.key, NULL, &kc);
    }
    struct {
        const char *path, *data;
        int mode;
    } files[] = {
        {t->ca_crt, ca.cert, 0644},          {t->ca_key, ca.key, 0600},
        {t->serving_crt, serving.cert, 0644}, {t->serving_key, serving.key, 0600},
        {t->admin_crt, admin.cert, 0644},    {t->admin_key, admin.key, 0600},
        {t->sa_key, sa.key, 0600},           {t->sa_pub, sa.cert, 0644},
        {t->tokens, "# token,user,uid,\"group1,group2\"\n", 0600},
        {t->kubeconfig, kc, 0600},
    };
    for (size_t i = 0; !rc && i < sizeof files / sizeof files[0]; i++) {
        rc = vk_cert_write_file(files[i].path, files[i].data, files[i].mode);
        if (rc) what = files[i].path;
    }
    if (!rc) {
        char *line = vk_xasprintf("%s\n", addr);
        rc = vk_cert_write_file(t->listen_file, line, 0644);
        free(line);
        what = t->listen_file;
    }
    if (rc) {
        snprintf(err, errlen, "tenant create: %s failed: %s", what,
                 rc < 0 && rc > -1000 ? strerror(-rc) : "internal error");
        rm_rf(t->dir);
    }
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&serving);
    vk_cert_pem_free(&admin);
    vk_cert_pem_free(&sa);
    free(kc);
    free(server);
    free(addr);
    return rc;
}

int vk_tenantdir_listen(const vk_tenantdir_t *t, char **out)
{
    size_t len;
    int rc = vk_cert_read_file(t->listen_file, out, &len);
    if (rc) return rc;
    while (len && ((*out)[len - 1] == '\n' || (*out)[len - 1] == ' ')) (*out)[--len] = 0;
    return 0;
}

/* Names that fit the tokens file and certificate subjects: printable, no
 * quotes, commas, or CSV/line breaking characters. */
static int plain_name(const char *s)
{
    if (!*s || strlen(s) > 253) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f || *p == ',' || *p == '"' || *p == '\\') return 0;
    return 1;
}

static int append_token(const vk_tenantdir_t *t, const char *user, const char *const *groups,
                        char **token)
{
    unsigned char rnd[24];
    if (RAND_bytes(rnd, sizeof rnd) != 1) return VK_EINTERNAL;
    char hex[sizeof rnd * 2 + 1];
    for (size_t i = 0; i < sizeof rnd; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    char *gl = vk_xstrdup("");
    for (const char *const *g = groups; g && *g; g++) {
        char *n = vk_xasprintf("%s%s%s", gl, *gl ? "," : "", *g);
        free(gl);
        gl = n;
    }
    char *line = vk_xasprintf("%s,%s,%s,\"%s\"\n", hex, user, user, gl);
    free(gl);
    int fd = open(t->tokens, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
    } else {
        size_t len = strlen(line);
        if (write(fd, line, len) != (ssize_t)len) rc = -EIO;
        if (fsync(fd) < 0 && !rc) rc = -errno;
        close(fd);
    }
    free(line);
    if (!rc) *token = vk_xstrdup(hex);
    return rc;
}

int vk_tenantdir_user_kubeconfig(const vk_tenantdir_t *t, const char *user,
                                 const char *const *groups, int as_token, char **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    if (!plain_name(user)) {
        snprintf(err, errlen, "invalid user name \"%s\"", user);
        return VK_EINVALID;
    }
    for (const char *const *g = groups; g && *g; g++)
        if (!plain_name(*g)) {
            snprintf(err, errlen, "invalid group name \"%s\"", *g);
            return VK_EINVALID;
        }
    char *addr = NULL, *server = NULL, *token = NULL;
    vk_cert_pem_t ca = {0}, client = {0};
    int rc = vk_tenantdir_listen(t, &addr);
    if (!rc) rc = vk_cert_read_file(t->ca_crt, &ca.cert, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot read the tenant's files in %s: %s", t->dir, strerror(-rc));
        goto out;
    }
    if (as_token) {
        rc = append_token(t, user, groups, &token);
        if (rc) {
            snprintf(err, errlen, "cannot add a token to %s: %s", t->tokens,
                     rc > -1000 ? strerror(-rc) : "internal error");
            goto out;
        }
    } else {
        rc = vk_cert_read_file(t->ca_key, &ca.key, NULL);
        if (!rc) rc = vk_cert_make_client(&ca, user, groups, CERT_DAYS, &client);
        if (rc) {
            snprintf(err, errlen, "cannot make a client certificate for %s", user);
            goto out;
        }
    }
    server = vk_xasprintf("https://%s", addr);
    rc = vk_kubeconfig_render(t->name, server, ca.cert, client.cert, client.key, token, out);
    if (rc) snprintf(err, errlen, "cannot render the kubeconfig");
out:
    free(addr);
    free(server);
    free(token);
    vk_cert_pem_free(&ca);
    vk_cert_pem_free(&client);
    return rc;
}
