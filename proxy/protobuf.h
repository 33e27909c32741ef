/* protobuf: decodes Kubernetes protobuf request bodies
 * (`Content-Type: application/vnd.kubernetes.protobuf`, sent by kubectl 1.32+
 * and client-go 0.32+ typed clients for create/update) into the JSON object
 * the same client would have sent as JSON, using the generated schema tables
 * (proxy/schema.h).
 *
 * The JSON follows Go's encoding/json of the decoded k8s.io/api struct
 * (what kube-apiserver holds after decoding): omitempty zero values dropped,
 * non-omitempty zero values kept, absent pointers omitted, Time/MicroTime as
 * RFC3339, Quantity and Duration as strings, IntOrString as number or string,
 * RawExtension/FieldsV1 as embedded JSON, bytes as base64, int64 as numbers.
 * Quantities are parsed and canonicalised as kube-apiserver does
 * (proxy/quantity.h): "0.5" decodes as "500m"; an invalid one is a 400.
 *
 * Input is untrusted: nesting depth and output size are bounded. Called by
 * the REST layer (proxy/) when decoding request bodies. Stateless, thread-safe. */
#ifndef VK_PROTOBUF_H
#define VK_PROTOBUF_H

#include <jansson.h>
#include <stddef.h>

#include "proxy/schema.h"

/* The 4-byte prefix of every Kubernetes protobuf body: "k8s\0". */
#define VK_PB_MAGIC "k8s\0"
#define VK_PB_MAX_DEPTH 64

/* Decodes a body ("k8s\0" + runtime.Unknown{typeMeta, raw, ...}) into a new
 * JSON object (*out, caller frees with json_decref) with "kind" and
 * "apiVersion" first. On failure returns VK_EBADREQUEST (malformed input,
 * message in err) or VK_EUNSUPPORTEDMEDIA (a kind without a schema here, or
 * a content encoding we do not support) and leaves *out NULL. err may be
 * NULL when errlen is 0. */
int vk_pb_decode(const void *body, size_t len, json_t **out, char *err, size_t errlen);

/* Decodes one message of type msg (no envelope) into a new JSON value
 * (*out, caller frees). Same errors as vk_pb_decode. */
int vk_pb_decode_message(const vk_schema_msg_t *msg, const void *buf, size_t len, json_t **out,
                         char *err, size_t errlen);

#endif
