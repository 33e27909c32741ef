/* tenant: the Tenant manifest (apiVersion vkube.io/v1alpha1, kind Tenant),
 * parsed and validated into the configuration the syncer applies: the host
 * namespace, the isolation policy (node selector, tolerations, runtime
 * class), the Pod Security level and the quota. Used by `vkube tenant create
 * -f`, `vkube serve` (the syncer), the operator and the admission code. */
#ifndef VK_TENANT_H
#define VK_TENANT_H

#include <jansson.h>
#include <stddef.h>

typedef struct vk_tenant_config {
    char *name;            /* metadata.name, a DNS-1123 label */
    char *host_namespace;  /* spec.hostNamespace, default "vkube-<name>" */
    json_t *node_selector; /* object label -> value; never NULL (may be empty) */
    json_t *tolerations;   /* array of Toleration objects, normalised; never NULL */
    char *runtime_class;   /* spec.isolation.runtimeClassName or NULL */
    char *pod_security;    /* "baseline" (default) or "restricted" */
    json_t *quota;         /* object resource -> quantity string; never NULL */
} vk_tenant_config_t;

/* Parses and validates a Tenant manifest (YAML or JSON, one document).
 * Returns 0, or VK_EINVALID with every problem in err as Kubernetes field
 * errors ("spec.podSecurity: Unsupported value: \"x\": supported values:
 * \"baseline\", \"restricted\"; ..."). Free *out with vk_tenant_config_free. */
int vk_tenant_config_parse(const char *text, size_t len, vk_tenant_config_t *out, char *err,
                           size_t errlen);
/* The same from an already parsed object (borrowed). */
int vk_tenant_config_from_json(const json_t *obj, vk_tenant_config_t *out, char *err,
                               size_t errlen);
/* A configuration with only a name (flags-only tenants): defaults everywhere. */
int vk_tenant_config_default(const char *name, vk_tenant_config_t *out, char *err, size_t errlen);
void vk_tenant_config_free(vk_tenant_config_t *cfg);

/* Kubernetes name checks shared with translation: DNS-1123 label (<= 63,
 * [a-z0-9-], alphanumeric at both ends) and subdomain (<= 253, labels joined
 * by dots); label values (<= 63, [A-Za-z0-9._-], alphanumeric ends, may be
 * empty); qualified names (label/annotation keys: optional subdomain prefix
 * and '/', name <= 63). 1 if valid. */
int vk_tenant_is_dns_label(const char *s);
int vk_tenant_is_dns_subdomain(const char *s);
int vk_tenant_is_label_value(const char *s);
int vk_tenant_is_qualified_name(const char *s);

#endif
