/* discovery: the API discovery documents built from the resource table:
 * legacy (/api APIVersions, /apis APIGroupList, /api/v1 and /apis/G/V
 * APIResourceList) and aggregated (apidiscovery.k8s.io v2 and v2beta1
 * APIGroupDiscoveryList for /api and /apis).
 *
 * Called by proxy/apiserver.c. Pure functions of the table (plus the server
 * address for /api). Every function returns a new reference (caller decrefs). */
#ifndef VK_DISCOVERY_H
#define VK_DISCOVERY_H

#include <jansson.h>

#include "proxy/resources.h"

/* /api: {kind: APIVersions, versions: ["v1"], serverAddressByClientCIDRs}. */
json_t *vk_discovery_api_versions(const char *server_address);
/* /apis: APIGroupList of every group with served rows (core excluded). */
json_t *vk_discovery_group_list(const vk_resources_t *t);
/* /apis/G: the APIGroup, or NULL if the group is not served. */
json_t *vk_discovery_group(const vk_resources_t *t, const char *group);
/* /api/v1 (group "") or /apis/G/V: APIResourceList, or NULL if not served. */
json_t *vk_discovery_resource_list(const vk_resources_t *t, const char *group,
                                   const char *version);
/* Aggregated discovery for /api (core = 1) or /apis (core = 0); api_version is
 * "apidiscovery.k8s.io/v2" or "apidiscovery.k8s.io/v2beta1". */
json_t *vk_discovery_aggregated(const vk_resources_t *t, int core, const char *api_version);

#endif
