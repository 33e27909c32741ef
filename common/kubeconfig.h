/* kubeconfig: reading and writing kubeconfig files. Render is used by the CLI
 * (`vkube tenant create`, `tenant kubeconfig`) and the operator; load by the
 * syncer and operator to reach a host cluster. */
#ifndef VK_KUBECONFIG_H
#define VK_KUBECONFIG_H

#include <stddef.h>

/* Renders a single-context kubeconfig (YAML) with embedded data: cluster, user
 * and context all named `name`; server is "https://host:port". ca_pem is
 * required; either client cert+key or token (others NULL). Caller frees *out. */
int vk_kubeconfig_render(const char *name, const char *server, const char *ca_pem,
                         const char *client_cert_pem, const char *client_key_pem,
                         const char *token, char **out);

/* Credentials of the current context of a kubeconfig. All strings owned by the
 * struct, freed by vk_kubeconfig_free. PEM fields hold PEM text whether the
 * file embedded *-data or referenced files. */
typedef struct vk_kubeconfig {
    char *server;          /* "https://127.0.0.1:6443" */
    char *ca_pem;          /* NULL if insecure-skip-tls-verify */
    int insecure;
    char *client_cert_pem; /* or NULL */
    char *client_key_pem;  /* or NULL */
    char *token;           /* or NULL */
    char *namespace_;      /* context namespace or NULL */
} vk_kubeconfig_t;

/* Loads path (YAML or JSON). 0, or an error with a message in err. */
int vk_kubeconfig_load(const char *path, vk_kubeconfig_t *out, char *err, size_t errlen);
/* In-cluster credentials (/var/run/secrets/kubernetes.io/serviceaccount, env
 * KUBERNETES_SERVICE_HOST/PORT). */
int vk_kubeconfig_in_cluster(vk_kubeconfig_t *out, char *err, size_t errlen);
void vk_kubeconfig_free(vk_kubeconfig_t *kc);

/* Like vk_kubeconfig_load, from text in memory; relative file references
 * resolve against dir. A server must be https://; with neither CA nor
 * insecure, callers verify against the system trust store. */
int vk_kubeconfig_parse(const char *text, size_t len, const char *dir, vk_kubeconfig_t *out,
                        char *err, size_t errlen);
/* vk_kubeconfig_in_cluster with an explicit service-account folder and
 * host/port (for tests and unusual mounts). */
int vk_kubeconfig_in_cluster_at(const char *sa_dir, const char *host, const char *port,
                                vk_kubeconfig_t *out, char *err, size_t errlen);

#endif
