/* table: building Table objects from the printers' columns and rows. */
#include "table.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "proxy/printers.h"

json_t *vk_table_new(const vk_resource_t *res)
{
    json_t *t = json_object();
    json_object_set_new(t, "kind", json_string("Table"));
    json_object_set_new(t, "apiVersion", json_string("meta.k8s.io/v1"));
    json_object_set_new(t, "metadata", json_object());
    json_t *cols = vk_printers_columns(res->group, res->plural);
    json_object_set_new(t, "columnDefinitions", cols);
    json_object_set_new(t, "rows", json_array());
    return t;
}

void vk_table_add(json_t *table, const vk_resource_t *res, const json_t *obj, int include)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *row = vk_printers_row(res->group, res->plural, obj, (int64_t)time(NULL));
    if (include == 2) {
        json_object_set_new(row, "object", json_deep_copy(obj));
    } else if (include == 1) {
        json_t *p = json_object();
        json_object_set_new(p, "kind", json_string("PartialObjectMetadata"));
        json_object_set_new(p, "apiVersion", json_string("meta.k8s.io/v1"));
        json_object_set_new(p, "metadata", md ? json_deep_copy(md) : json_object());
        json_object_set_new(row, "object", p);
    }
    json_array_append_new(json_object_get(table, "rows"), row);
}
