/* printers: the columns and cells kube-apiserver puts in meta.k8s.io/v1 Tables
 * for `kubectl get` (pkg/printers/internalversion): per built-in resource the
 * column definitions (name, type, format, description, priority; priority-1
 * columns show with -o wide) and each object's row cells, with the pod Status
 * logic (Init:N/M, ContainerCreating, CrashLoopBackOff, Completed,
 * Terminating, ...), "Restarts" with "(5m ago)", and ages computed as
 * apimachinery's duration.HumanDuration ("5m", "3h2m", "4d"). Resources
 * without a printer get Name / Created At, as upstream's default convertor.
 * Pure functions, no I/O.
 *
 * Called by proxy/table.c (get, list, watch with as=Table):
 *     json_t *cols = vk_printers_columns(group, plural);          -> columnDefinitions
 *     json_t *row = vk_printers_row(group, plural, obj, time(NULL));
 *     json_object_set_new(row, "object", ...);  append to rows */
#ifndef VK_PRINTERS_H
#define VK_PRINTERS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Column definitions for group ("" = core) and resource (plural, "pods").
 * New reference (a JSON array); never NULL (default columns if unknown). */
json_t *vk_printers_columns(const char *group, const char *resource);

/* The table row for obj (borrowed): {"cells": [...]} plus "conditions" where
 * upstream sets them (finished pods). now is the current Unix time in seconds,
 * used for ages. New reference; never NULL. */
json_t *vk_printers_row(const char *group, const char *resource, const json_t *obj, int64_t now);

/* 1 when resource has its own printer (not the Name / Created At default). */
int vk_printers_known(const char *group, const char *resource);

/* Formats a duration as duration.HumanDuration ("45s", "5m3s", "2d3h",
 * "<invalid>" below -1 s) into buf (size n). Returns buf. */
char *vk_printers_human_duration(int64_t seconds, char *buf, size_t n);

/* Age of an RFC 3339 timestamp ("2024-05-01T10:00:00Z", fractions allowed)
 * relative to now as HumanDuration; "<unknown>" when ts is NULL, empty or
 * unparsable. Writes into buf (size n), returns buf. For CRD date columns too. */
char *vk_printers_age(const char *ts, int64_t now, char *buf, size_t n);

#endif
