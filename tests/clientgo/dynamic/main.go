// Command dynamic drives a CustomResourceDefinition end to end with
// client-go's dynamic client against a vkube tenant (or any kube-apiserver):
// creates a two-version CRD, waits for Established and discovery, then
// creates, lists, gets, updates, patches (merge, JSON, server-side apply),
// writes status and deletes custom objects at both versions while a watch at
// the non-storage version checks every event and its apiVersion; deletes the
// CRD and checks the watch gets the remaining objects' DELETED events before
// its stream ends and the resource leaves discovery; re-creates the CRD and
// checks the old objects are gone. One line per check: "ok dyn:NAME" or
// "not ok dyn:NAME - WHY"; exits 1 if any check failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	group   = "dyn.vkube.example.com"
	plural  = "gadgets"
	crdName = plural + "." + group
)

var (
	crdGVR  = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	v1GVR   = schema.GroupVersionResource{Group: group, Version: "v1", Resource: plural}
	betaGVR = schema.GroupVersionResource{Group: group, Version: "v1beta1", Resource: plural}
	failed  = false
)

func ok(name string) { fmt.Printf("ok dyn:%s\n", name) }

func notOK(name string, format string, args ...any) {
	failed = true
	fmt.Printf("not ok dyn:%s - %s\n", name, strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

// check prints ok when err is nil; returns whether it was.
func check(name string, err error) bool {
	if err != nil {
		notOK(name, "%v", err)
		return false
	}
	ok(name)
	return true
}

func crdObject() *unstructured.Unstructured {
	schemaFor := func() map[string]any {
		return map[string]any{"openAPIV3Schema": map[string]any{
			"type": "object",
			"properties": map[string]any{
				"spec": map[string]any{"type": "object", "properties": map[string]any{
					"size":  map[string]any{"type": "integer", "minimum": int64(0)},
					"color": map[string]any{"type": "string"},
				}},
				"status": map[string]any{"type": "object", "properties": map[string]any{
					"ready": map[string]any{"type": "boolean"},
				}},
			},
		}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": crdName},
		"spec": map[string]any{
			"group": group,
			"scope": "Namespaced",
			"names": map[string]any{"plural": plural, "singular": "gadget", "kind": "Gadget",
				"listKind": "GadgetList"},
			"versions": []any{
				map[string]any{"name": "v1beta1", "served": true, "storage": false,
					"schema": schemaFor(), "subresources": map[string]any{"status": map[string]any{}}},
				map[string]any{"name": "v1", "served": true, "storage": true,
					"schema": schemaFor(), "subresources": map[string]any{"status": map[string]any{}}},
			},
		},
	}}
}

func gadget(version, ns, name string, size int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/" + version,
		"kind":       "Gadget",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"size": size, "color": "red"},
	}}
}

// poll runs f every 100ms until it returns true or timeout passes.
func poll(timeout time.Duration, f func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func established(dc dynamic.Interface) bool {
	o, err := dc.Resource(crdGVR).Get(context.TODO(), crdName, metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func discovered(disc discovery.DiscoveryInterface, version string) bool {
	l, err := disc.ServerResourcesForGroupVersion(group + "/" + version)
	if err != nil {
		return false
	}
	for _, r := range l.APIResources {
		if r.Name == plural {
			return true
		}
	}
	return false
}

func deleteCRD(dc dynamic.Interface) bool {
	err := dc.Resource(crdGVR).Delete(context.TODO(), crdName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return false
	}
	return poll(30*time.Second, func() bool {
		_, err := dc.Resource(crdGVR).Get(context.TODO(), crdName, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// event is one watch event summed up: "TYPE name apiVersion spec.size".
func event(ev watch.Event) string {
	u, isU := ev.Object.(*unstructured.Unstructured)
	if !isU {
		return fmt.Sprintf("%s %T", ev.Type, ev.Object)
	}
	size, _, _ := unstructured.NestedInt64(u.Object, "spec", "size")
	return fmt.Sprintf("%s %s %s %d", ev.Type, u.GetName(), u.GetAPIVersion(), size)
}

// collect reads events until n were read or the channel closes or timeout.
// closed says whether the stream ended.
func collect(w watch.Interface, n int, timeout time.Duration) (evs []string, closed bool) {
	t := time.After(timeout)
	for n < 0 || len(evs) < n {
		select {
		case ev, more := <-w.ResultChan():
			if !more {
				return evs, true
			}
			if ev.Type == watch.Bookmark {
				continue
			}
			evs = append(evs, event(ev))
		case <-t:
			return evs, false
		}
	}
	return evs, false
}

func expectEvents(name string, got, want []string) {
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		notOK(name, "events\n got: %s\nwant: %s", strings.Join(got, "; "), strings.Join(want, "; "))
		return
	}
	ok(name)
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	ns := flag.String("namespace", "default", "namespace for the custom objects (must exist)")
	bench := flag.Int("bench", 0, "benchmark mode: N objects of each kind (see bench.go) instead of the checks")
	conc := flag.Int("bench-clients", 16, "concurrent clients in benchmark mode")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Printf("not ok dyn:config - %v\n", err)
		os.Exit(1)
	}
	if *bench > 0 {
		os.Exit(runBench(cfg, *ns, *bench, *conc))
	}
	dc := dynamic.NewForConfigOrDie(cfg)
	disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	ctx := context.TODO()
	beta := dc.Resource(betaGVR).Namespace(*ns)
	v1 := dc.Resource(v1GVR).Namespace(*ns)

	if !deleteCRD(dc) {
		notOK("cleanup", "an old %s would not go", crdName)
	}
	_, err = dc.Resource(crdGVR).Create(ctx, crdObject(), metav1.CreateOptions{})
	check("crd-create", err)
	if !poll(20*time.Second, func() bool { return established(dc) }) {
		notOK("crd-established", "no Established=True condition in 20s")
		os.Exit(1)
	}
	ok("crd-established")
	if poll(10*time.Second, func() bool { return discovered(disc, "v1") && discovered(disc, "v1beta1") }) {
		ok("discovery")
	} else {
		notOK("discovery", "%s not in discovery for v1 and v1beta1", plural)
	}
	grp, err := func() (string, error) {
		groups, err := disc.ServerGroups()
		if err != nil {
			return "", err
		}
		for _, g := range groups.Groups {
			if g.Name == group {
				var vs []string
				for _, v := range g.Versions {
					vs = append(vs, v.Version)
				}
				return strings.Join(vs, ",") + " preferred " + g.PreferredVersion.Version, nil
			}
		}
		return "", fmt.Errorf("group %s not in /apis", group)
	}()
	if err == nil && grp != "v1,v1beta1 preferred v1" {
		err = fmt.Errorf("versions %q, want v1,v1beta1 preferred v1", grp)
	}
	check("discovery-version-order", err)

	// A watch at v1beta1 (not the storage version) from an empty list.
	l, err := beta.List(ctx, metav1.ListOptions{})
	if !check("list-empty", err) {
		os.Exit(1)
	}
	if len(l.Items) != 0 {
		notOK("list-empty", "%d items", len(l.Items))
	}
	w, err := beta.Watch(ctx, metav1.ListOptions{ResourceVersion: l.GetResourceVersion(), AllowWatchBookmarks: true})
	if !check("watch-start", err) {
		os.Exit(1)
	}
	defer w.Stop()

	g1, err := v1.Create(ctx, gadget("v1", *ns, "g1", 1), metav1.CreateOptions{})
	if check("create-v1", err) && g1.GetAPIVersion() != group+"/v1" {
		notOK("create-v1-version", "reply apiVersion %s", g1.GetAPIVersion())
	}
	g2, err := beta.Create(ctx, gadget("v1beta1", *ns, "g2", 2), metav1.CreateOptions{})
	if check("create-v1beta1", err) && g2.GetAPIVersion() != group+"/v1beta1" {
		notOK("create-v1beta1-version", "reply apiVersion %s", g2.GetAPIVersion())
	}
	_, err = beta.Create(ctx, gadget("v1beta1", *ns, "bad", -1), metav1.CreateOptions{})
	if apierrors.IsInvalid(err) && strings.Contains(err.Error(), "spec.size") {
		ok("create-invalid-refused")
	} else {
		notOK("create-invalid-refused", "want 422 on spec.size, got %v", err)
	}
	l, err = v1.List(ctx, metav1.ListOptions{})
	if check("list", err) {
		var names []string
		for _, it := range l.Items {
			names = append(names, it.GetName()+"@"+it.GetAPIVersion())
		}
		want := "g1@" + group + "/v1,g2@" + group + "/v1"
		if strings.Join(names, ",") != want {
			notOK("list-items", "got %s want %s", strings.Join(names, ","), want)
		} else {
			ok("list-items")
		}
	}
	got, err := beta.Get(ctx, "g1", metav1.GetOptions{})
	if check("get-v1beta1", err) && got.GetAPIVersion() != group+"/v1beta1" {
		notOK("get-v1beta1-version", "apiVersion %s", got.GetAPIVersion())
	}

	// Update at v1beta1: the reply is at v1beta1.
	if got != nil {
		_ = unstructured.SetNestedField(got.Object, int64(10), "spec", "size")
		up, err := beta.Update(ctx, got, metav1.UpdateOptions{})
		if check("update", err) {
			size, _, _ := unstructured.NestedInt64(up.Object, "spec", "size")
			if up.GetAPIVersion() != group+"/v1beta1" || size != 10 {
				notOK("update-reply", "apiVersion %s size %d", up.GetAPIVersion(), size)
			} else {
				ok("update-reply")
			}
		}
	}
	// Patches at v1beta1.
	p, err := beta.Patch(ctx, "g2", types.MergePatchType, []byte(`{"spec":{"size":20}}`), metav1.PatchOptions{})
	if check("patch-merge", err) && p.GetAPIVersion() != group+"/v1beta1" {
		notOK("patch-merge-version", "reply apiVersion %s", p.GetAPIVersion())
	}
	p, err = beta.Patch(ctx, "g2", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/size","value":21}]`), metav1.PatchOptions{})
	if check("patch-json", err) && p.GetAPIVersion() != group+"/v1beta1" {
		notOK("patch-json-version", "reply apiVersion %s", p.GetAPIVersion())
	}
	_, err = beta.Patch(ctx, "g2", types.StrategicMergePatchType, []byte(`{"spec":{"size":5}}`), metav1.PatchOptions{})
	if apierrors.IsUnsupportedMediaType(err) {
		ok("patch-strategic-415")
	} else {
		notOK("patch-strategic-415", "want 415, got %v", err)
	}
	ap := gadget("v1beta1", *ns, "g2", 22)
	p, err = beta.Apply(ctx, "g2", ap, metav1.ApplyOptions{FieldManager: "dyn-test", Force: true})
	if check("apply", err) {
		size, _, _ := unstructured.NestedInt64(p.Object, "spec", "size")
		if p.GetAPIVersion() != group+"/v1beta1" || size != 22 {
			notOK("apply-reply", "apiVersion %s size %d", p.GetAPIVersion(), size)
		} else {
			ok("apply-reply")
		}
	}
	// Status subresource at v1beta1.
	st, err := beta.Get(ctx, "g1", metav1.GetOptions{})
	if err == nil {
		_ = unstructured.SetNestedField(st.Object, true, "status", "ready")
		_ = unstructured.SetNestedField(st.Object, int64(99), "spec", "size") // ignored on /status
		st, err = beta.UpdateStatus(ctx, st, metav1.UpdateOptions{})
	}
	if check("update-status", err) {
		ready, _, _ := unstructured.NestedBool(st.Object, "status", "ready")
		size, _, _ := unstructured.NestedInt64(st.Object, "spec", "size")
		if !ready || size != 10 || st.GetAPIVersion() != group+"/v1beta1" {
			notOK("update-status-reply", "ready %v size %d apiVersion %s", ready, size, st.GetAPIVersion())
		} else {
			ok("update-status-reply")
		}
	}
	check("delete-g2", beta.Delete(ctx, "g2", metav1.DeleteOptions{}))

	bv := group + "/v1beta1"
	evs, _ := collect(w, 8, 10*time.Second)
	expectEvents("watch-events", evs, []string{
		"ADDED g1 " + bv + " 1", "ADDED g2 " + bv + " 2", "MODIFIED g1 " + bv + " 10",
		"MODIFIED g2 " + bv + " 20", "MODIFIED g2 " + bv + " 21", "MODIFIED g2 " + bv + " 22",
		"MODIFIED g1 " + bv + " 10", "DELETED g2 " + bv + " 22",
	})

	// Deleting the CRD: the watch sees g1 go, then its stream ends.
	g3, err := beta.Create(ctx, gadget("v1beta1", *ns, "g3", 3), metav1.CreateOptions{})
	check("create-g3", err)
	_ = g3
	if deleteCRD(dc) {
		ok("crd-delete")
	} else {
		notOK("crd-delete", "CRD still there after 30s")
	}
	evs, closed := collect(w, -1, 20*time.Second)
	expectEvents("watch-crd-delete-events", evs, []string{
		"ADDED g3 " + bv + " 3", "DELETED g1 " + bv + " 10", "DELETED g3 " + bv + " 3",
	})
	if closed {
		ok("watch-ended-with-crd")
	} else {
		notOK("watch-ended-with-crd", "the watch stream did not end within 20s of the CRD's deletion")
	}
	if poll(10*time.Second, func() bool { return !discovered(disc, "v1") && !discovered(disc, "v1beta1") }) {
		ok("discovery-gone")
	} else {
		notOK("discovery-gone", "%s still in discovery", plural)
	}
	_, err = v1.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		ok("list-404-after-delete")
	} else {
		notOK("list-404-after-delete", "want 404, got %v", err)
	}

	// Re-created: served again, without the old objects; a new watch works.
	_, err = dc.Resource(crdGVR).Create(ctx, crdObject(), metav1.CreateOptions{})
	check("crd-recreate", err)
	if poll(20*time.Second, func() bool { return established(dc) && discovered(disc, "v1beta1") }) {
		ok("crd-reestablished")
	} else {
		notOK("crd-reestablished", "not Established/discovered in 20s")
	}
	l, err = beta.List(ctx, metav1.ListOptions{})
	if check("recreate-list", err) && len(l.Items) != 0 {
		var names []string
		for _, it := range l.Items {
			names = append(names, it.GetName())
		}
		notOK("recreate-no-old-objects", "old objects came back: %v", names)
	} else if err == nil {
		ok("recreate-no-old-objects")
	}
	if err == nil {
		w2, err := beta.Watch(ctx, metav1.ListOptions{ResourceVersion: l.GetResourceVersion()})
		if check("rewatch", err) {
			_, err = beta.Create(ctx, gadget("v1beta1", *ns, "g4", 4), metav1.CreateOptions{})
			check("create-after-recreate", err)
			evs, _ := collect(w2, 1, 10*time.Second)
			expectEvents("rewatch-events", evs, []string{"ADDED g4 " + bv + " 4"})
			w2.Stop()
		}
	}
	if deleteCRD(dc) {
		ok("crd-final-delete")
	} else {
		notOK("crd-final-delete", "CRD still there after 30s")
	}
	if failed {
		os.Exit(1)
	}
}
