/* table: building Table objects with the default columns. */
#include "table.h"

#include <string.h>

static json_t *column(const char *name, const char *type, const char *format, const char *desc,
                      int priority)
{
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "type", json_string(type));
    json_object_set_new(c, "format", json_string(format));
    json_object_set_new(c, "description", json_string(desc));
    json_object_set_new(c, "priority", json_integer(priority));
    return c;
}

json_t *vk_table_new(const vk_resource_t *res)
{
    json_t *t = json_object();
    json_object_set_new(t, "kind", json_string("Table"));
    json_object_set_new(t, "apiVersion", json_string("meta.k8s.io/v1"));
    json_object_set_new(t, "metadata", json_object());
    json_t *cols = json_array();
    json_array_append_new(
        cols, column("Name", "string", "name",
                     "Name must be unique within a namespace. Is required when creating "
                     "resources, although some resources may allow a client to request the "
                     "generation of an appropriate name automatically. Name is primarily "
                     "intended for creation idempotence and configuration definition. Cannot be "
                     "updated. More info: "
                     "https://kubernetes.io/docs/concepts/overview/working-with-objects/"
                     "names#names",
                     0));
    json_array_append_new(
        cols, column("Created At", "date", "",
                     "CreationTimestamp is a timestamp representing the server time when this "
                     "object was created.",
                     0));
    json_object_set_new(t, "columnDefinitions", cols);
    json_object_set_new(t, "rows", json_array());
    return t;
}

void vk_table_add(json_t *table, const vk_resource_t *res, const json_t *obj, int include)
{
    json_t *md = json_object_get(obj, "metadata");
    json_t *row = json_object();
    json_t *cells = json_array();
    json_t *name = json_object_get(md, "name");
    json_t *ts = json_object_get(md, "creationTimestamp");
    json_array_append_new(cells, name ? json_copy(name) : json_string(""));
    json_array_append_new(cells, ts ? json_copy(ts) : json_null());
    json_object_set_new(row, "cells", cells);
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
