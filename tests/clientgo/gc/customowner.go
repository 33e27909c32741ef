// The garbage collector from the point of view of an operator author: a
// custom resource (a CRD created here) owns ConfigMaps it made, and relies on
// the collector to remove them, in the foreground (the owner waits for a
// blocking child) and in the background.
package main

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var (
	crdGVR    = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gadgetGVR = schema.GroupVersionResource{Group: "gc.example.com", Version: "v1", Resource: "gadgets"}
)

func gadgetCRD() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "gadgets.gc.example.com"},
		"spec": map[string]any{
			"group": "gc.example.com",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
}

// children creates n ConfigMaps owned by the gadget (controller, blocking);
// the first also carries the hold finalizer when held is true.
func (e *env) children(g *unstructured.Unstructured, n int, held bool) error {
	yes := true
	for i := 0; i < n; i++ {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
			Name:   fmt.Sprintf("%s-part-%d", g.GetName(), i),
			Labels: map[string]string{"gadget": g.GetName()},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "gc.example.com/v1", Kind: "Gadget", Name: g.GetName(), UID: g.GetUID(),
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		}}
		if held && i == 0 {
			cm.Finalizers = []string{hold}
		}
		if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) childCount(owner string) (int, error) {
	l, err := e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "gadget=" + owner})
	if err != nil {
		return 0, err
	}
	return len(l.Items), nil
}

func (e *env) customOwner(cfg *rest.Config) {
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		nok("cr-setup", "%v", err)
		return
	}
	crds := dc.Resource(crdGVR)
	if _, err := crds.Create(e.ctx, gadgetCRD(), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		nok("cr-setup", "create CRD: %v", err)
		return
	}
	defer crds.Delete(e.ctx, "gadgets.gc.example.com", metav1.DeleteOptions{})
	gadgets := dc.Resource(gadgetGVR).Namespace(e.ns)
	// Established, and the resource servable (a create may race discovery).
	var g1 *unstructured.Unstructured
	err = waitFor(30*time.Second, func() error {
		var err error
		g1, err = gadgets.Create(e.ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "gc.example.com/v1", "kind": "Gadget", "metadata": map[string]any{"name": "g1"}}},
			metav1.CreateOptions{})
		return err
	})
	if err != nil {
		nok("cr-setup", "create gadget: %v", err)
		return
	}
	if err := e.children(g1, 3, true); err != nil {
		nok("cr-setup", "create children: %v", err)
		return
	}
	ok("cr-setup")

	// Foreground: the gadget stays, marked, while its held child exists.
	fg := metav1.DeletePropagationForeground
	if err := gadgets.Delete(e.ctx, "g1", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		nok("cr-foreground-marked", "delete: %v", err)
		return
	}
	err = waitFor(20*time.Second, func() error {
		n, err := e.childCount("g1")
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d children left, want only the held one", n)
		}
		return nil
	})
	g, gerr := gadgets.Get(e.ctx, "g1", metav1.GetOptions{})
	if err != nil || gerr != nil || g.GetDeletionTimestamp() == nil || !hasFinalizer(g, "foregroundDeletion") {
		nok("cr-foreground-marked", "children: %v; gadget: %v", err, gerr)
	} else {
		ok("cr-foreground-marked")
	}
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Patch(e.ctx, "g1-part-0", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		nok("cr-foreground-done", "release the held child: %v", err)
	} else if err := e.gone("gadget g1", func() error { _, err := gadgets.Get(e.ctx, "g1", metav1.GetOptions{}); return err }); err != nil {
		nok("cr-foreground-done", "%v", err)
	} else if n, err := e.childCount("g1"); err != nil || n != 0 {
		nok("cr-foreground-done", "%d children left (%v)", n, err)
	} else {
		ok("cr-foreground-done")
	}

	// Background: the gadget goes at once, its children after it.
	g2, err := gadgets.Create(e.ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gc.example.com/v1", "kind": "Gadget", "metadata": map[string]any{"name": "g2"}}},
		metav1.CreateOptions{})
	if err == nil {
		err = e.children(g2, 2, false)
	}
	if err != nil {
		nok("cr-background", "setup: %v", err)
		return
	}
	bg := metav1.DeletePropagationBackground
	if err := gadgets.Delete(e.ctx, "g2", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		nok("cr-background", "delete: %v", err)
		return
	}
	err = waitFor(30*time.Second, func() error {
		if n, err := e.childCount("g2"); err != nil || n != 0 {
			return fmt.Errorf("%d children left (%v)", n, err)
		}
		return nil
	})
	if err != nil {
		nok("cr-background", "%v", err)
	} else {
		ok("cr-background")
	}
}
