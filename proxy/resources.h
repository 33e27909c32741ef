/* resources: THE resource table. One row per served resource (group, version,
 * kind, plural, singular, short names, categories, scope, verbs, subresources)
 * drives routing, discovery, RBAC names and the generic REST code. The built-in
 * rows are one static const table in resources.c; rows added at run time (custom
 * resources from CRDs) live in the vk_resources_t that owns them.
 *
 * Called by proxy/apiserver.c (routing), proxy/rest.c, proxy/discovery.c, on the
 * tenant's loop thread. */
#ifndef VK_RESOURCES_H
#define VK_RESOURCES_H

#include <stddef.h>

/* Verbs, as a bit set (discovery lists them in this alphabetical order). */
enum {
    VK_VERB_CREATE = 1 << 0,
    VK_VERB_DELETE = 1 << 1,
    VK_VERB_DELETECOLLECTION = 1 << 2,
    VK_VERB_GET = 1 << 3,
    VK_VERB_LIST = 1 << 4,
    VK_VERB_PATCH = 1 << 5,
    VK_VERB_UPDATE = 1 << 6,
    VK_VERB_WATCH = 1 << 7,
    VK_VERBS_ALL = 0xff,
    VK_VERBS_NO_DELCOL = VK_VERBS_ALL & ~VK_VERB_DELETECOLLECTION,
};
#define VK_VERB_COUNT 8

/* Row flags. */
enum {
    VK_RES_NAMESPACED = 1 << 0,
    VK_RES_STATUS = 1 << 1, /* has the status subresource */
    VK_RES_SCALE = 1 << 2,  /* has scale (autoscaling/v1 Scale) */
    VK_RES_LOG = 1 << 3,    /* pods/log */
    VK_RES_REVIEW = 1 << 4, /* create-only virtual resource, never stored (access reviews) */
    VK_RES_CUSTOM = 1 << 5, /* added at run time (custom resource) */
    VK_RES_BINDING = 1 << 6, /* pods/binding (create only, proxy/binding.c) */
};

typedef struct vk_resource {
    const char *group;       /* "" for the core group */
    const char *version;     /* "v1" */
    const char *kind;        /* "Deployment" */
    const char *plural;      /* "deployments": the URL segment, RBAC resource, store key part */
    const char *singular;    /* "deployment" */
    const char *short_names; /* comma-separated, "" if none */
    const char *categories;  /* comma-separated, "" if none */
    unsigned flags;          /* VK_RES_* */
    unsigned verbs;          /* VK_VERB_* */
} vk_resource_t;

typedef struct vk_resources vk_resources_t;

/* A table holding the built-in rows. Caller frees with vk_resources_free. */
vk_resources_t *vk_resources_new(void);
void vk_resources_free(vk_resources_t *t);

/* Adds a run-time row (strings copied). VK_EEXIST if group/version/plural is
 * already served. 0 on success. */
int vk_resources_add(vk_resources_t *t, const vk_resource_t *row);
/* Removes a run-time row added by vk_resources_add; built-ins cannot be removed.
 * 0 or VK_ENOTFOUND. Pointers to the removed row become invalid. */
int vk_resources_remove(vk_resources_t *t, const char *group, const char *version,
                        const char *plural);

/* Number of rows and the i-th row (built-ins first, in discovery order). Borrowed. */
size_t vk_resources_count(const vk_resources_t *t);
const vk_resource_t *vk_resources_at(const vk_resources_t *t, size_t i);

/* The row serving group/version/plural, or NULL. Borrowed. */
const vk_resource_t *vk_resources_find(const vk_resources_t *t, const char *group,
                                       const char *version, const char *plural);
/* The row of group/kind (any version), or NULL. Borrowed. */
const vk_resource_t *vk_resources_find_kind(const vk_resources_t *t, const char *group,
                                            const char *kind);

/* "deployments.apps" / "configmaps": the qualified resource used in messages. Writes
 * into buf (size n), returns buf. */
char *vk_resources_qualified(const vk_resource_t *r, char *buf, size_t n);
/* "apps/v1" or "v1". Writes into buf, returns buf. */
char *vk_resources_api_version(const vk_resource_t *r, char *buf, size_t n);
/* The store key of an object: "/<group|core>/<plural>/<ns>/<name>", or the prefix
 * for a list when name is NULL (ns NULL or "": every namespace) — always ending
 * in '/' then. Caller frees with free(). */
char *vk_resources_key(const vk_resource_t *r, const char *ns, const char *name);
/* Name of a verb bit ("get"), or NULL. */
const char *vk_resources_verb_name(unsigned verb_bit);

#endif
