/* watch: Kubernetes watch streams over the store's watch API. One chunked
 * response per watch, one compact JSON event per line, flushed per event:
 * synthetic ADDED events for resourceVersion ""/"0" (and sendInitialEvents=true,
 * closed by a BOOKMARK annotated k8s.io/initial-events-end), events strictly
 * after N otherwise, 410 Expired as an ERROR event, periodic BOOKMARKs when
 * allowWatchBookmarks, objects leaving the selector as DELETED, timeoutSeconds,
 * and flow control (store watch paused while the client's socket is full).
 *
 * Called by proxy/apiserver.c (GET with watch=true) and when the server stops. */
#ifndef VK_WATCH_H
#define VK_WATCH_H

#include "proxy/rest.h"

/* Takes over the request of c and streams events until the client leaves, the
 * timeout passes, or the server stops. Answers an error itself if the request
 * is invalid. */
void vk_watch_start(vk_rest_call_t *c);
/* Ends every watch of ctx cleanly (server stopping). */
void vk_watch_stop_all(vk_rest_ctx_t *ctx);
/* Ends every watch of group/plural (a custom resource whose rows are about to
 * be removed from the table), as kube-apiserver closes them with the CRD: each
 * stream first gets the events the store committed up to now (the objects'
 * DELETED events of a deleted CRD), at its version by apiVersion rewriting.
 * The watches keep their own copy of the row, so the row may go right after. */
void vk_watch_stop_resource(vk_rest_ctx_t *ctx, const char *group, const char *plural);
/* Bookmark period in milliseconds used by new watches (default 60000; tests lower it). */
void vk_watch_set_bookmark_ms(vk_rest_ctx_t *ctx, int ms);

#endif
