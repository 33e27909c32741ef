/* table: meta.k8s.io/v1 Table responses for `kubectl get` (Accept
 * `application/json;as=Table;v=v1;g=meta.k8s.io`). Columns and cells come
 * from proxy/printers.h; this is the one place that builds Tables.
 *
 * Called by proxy/rest.c (get, list) and proxy/watch.c (watch events). */
#ifndef VK_TABLE_H
#define VK_TABLE_H

#include <jansson.h>

#include "proxy/resources.h"

/* include: 0 None, 1 Metadata (PartialObjectMetadata), 2 the whole Object. */

/* A Table with the resource's column definitions and no rows. New reference. */
json_t *vk_table_new(const vk_resource_t *res);
/* Appends the row for obj (borrowed) to table. */
void vk_table_add(json_t *table, const vk_resource_t *res, const json_t *obj, int include);

#endif
