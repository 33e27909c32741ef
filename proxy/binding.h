/* binding: the pods/binding subresource (POST
 * /api/v1/namespaces/NS/pods/NAME/binding with a v1 Binding), as
 * kube-apiserver's BindingREST: sets spec.nodeName of a pod that has none
 * (409 Conflict "pod NAME is already assigned to node ..." otherwise, and for a
 * pod being deleted), merges the Binding's annotations into the pod, sets the
 * PodScheduled condition True, honours metadata.uid / resourceVersion of the
 * Binding as preconditions, and answers 201 with a Success Status.
 *
 * Called by proxy/rest.c (create on the "binding" subresource of pods), on the
 * tenant's loop thread. The syncer binds tenant pods to the host node through it. */
#ifndef VK_BINDING_H
#define VK_BINDING_H

#include <jansson.h>

struct vk_rest_call;

/* Handles the request (takes obj, the decoded Binding); answers now or after
 * the store write. */
void vk_binding_create(struct vk_rest_call *c, json_t *obj);

#endif
