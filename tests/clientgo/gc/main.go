// Command gc checks the tenant's garbage collector with client-go, the way a
// controller author relies on it: a Deployment deleted with Foreground
// propagation stays visible with metadata.deletionTimestamp and the
// foregroundDeletion finalizer while a pod of its ReplicaSet (held by a
// finalizer of ours, blockOwnerDeletion=true through the ReplicaSet) exists,
// the ReplicaSet and pods go, then the Deployment goes (a watch sees MODIFIED
// then DELETED); with Orphan propagation the ReplicaSet survives without its
// ownerReference; with Background the Deployment goes at once and its
// ReplicaSet and pods follow. A custom resource (CRD made here) owning
// ConfigMaps gets them collected in the foreground and in the background.
//
// Usage: gc -kubeconfig FILE -namespace NS
// Prints one line per check: "ok gcgo:<name>" or "not ok gcgo:<name> - <why>";
// exits 1 if any check failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

var failed int

func ok(name string) { fmt.Printf("ok gcgo:%s\n", name) }
func nok(name string, format string, args ...any) {
	failed++
	fmt.Printf("not ok gcgo:%s - %s\n", name, fmt.Sprintf(format, args...))
}

const hold = "example.com/hold"

// waitFor polls cond every 100ms for up to d; returns the last error (nil: met).
func waitFor(d time.Duration, cond func() error) error {
	end := time.Now().Add(d)
	for {
		err := cond()
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

type env struct {
	ctx context.Context
	cs  *kubernetes.Clientset
	ns  string
}

// owned waits until the Deployment has a ReplicaSet with n pods; returns them.
func (e *env) owned(name string, n int) (*appsv1.ReplicaSet, []corev1.Pod, error) {
	var rs *appsv1.ReplicaSet
	var pods []corev1.Pod
	err := waitFor(20*time.Second, func() error {
		l, err := e.cs.AppsV1().ReplicaSets(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		if len(l.Items) != 1 {
			return fmt.Errorf("%d replicasets", len(l.Items))
		}
		rs = &l.Items[0]
		p, err := e.cs.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		if len(p.Items) != n {
			return fmt.Errorf("%d pods", len(p.Items))
		}
		pods = p.Items
		return nil
	})
	return rs, pods, err
}

func (e *env) gone(what string, get func() error) error {
	return waitFor(20*time.Second, func() error {
		err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return fmt.Errorf("%s still exists", what)
		}
		return err
	})
}

func (e *env) foreground() {
	name := "gc-fg"
	d, err := e.cs.AppsV1().Deployments(e.ns).Create(e.ctx, deployment(name, 2), metav1.CreateOptions{})
	if err != nil {
		nok("fg-create", "%v", err)
		return
	}
	rs, pods, err := e.owned(name, 2)
	if err != nil {
		nok("fg-owned", "%v", err)
		return
	}
	ok("fg-owned")
	ref := metav1.GetControllerOf(rs)
	if ref == nil || ref.UID != d.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
		nok("fg-rs-blocks", "ownerReference %+v", ref)
	} else {
		ok("fg-rs-blocks")
	}
	// A pod that cannot go until we say so keeps the ReplicaSet, which keeps the Deployment.
	held := pods[0].Name
	patch := []byte(`{"metadata":{"finalizers":["` + hold + `"]}}`)
	if _, err := e.cs.CoreV1().Pods(e.ns).Patch(e.ctx, held, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		nok("fg-hold", "%v", err)
		return
	}
	w, err := e.cs.AppsV1().Deployments(e.ns).Watch(e.ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + name, ResourceVersion: d.ResourceVersion})
	if err != nil {
		nok("fg-watch", "%v", err)
		return
	}
	defer w.Stop()
	fg := metav1.DeletePropagationForeground
	if err := e.cs.AppsV1().Deployments(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		nok("fg-delete", "%v", err)
		return
	}
	// The owner stays, marked, while its dependents go.
	err = waitFor(10*time.Second, func() error {
		p, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, held, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.DeletionTimestamp == nil {
			return fmt.Errorf("held pod not being deleted")
		}
		return nil
	})
	if err != nil {
		nok("fg-pod-deleting", "%v", err)
	} else {
		ok("fg-pod-deleting")
	}
	got, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		nok("fg-owner-visible", "%v", err)
	} else if got.DeletionTimestamp == nil || !hasFinalizer(got, metav1.FinalizerDeleteDependents) {
		nok("fg-owner-visible", "deletionTimestamp %v finalizers %v", got.DeletionTimestamp, got.Finalizers)
	} else {
		ok("fg-owner-visible")
	}
	r, err := e.cs.AppsV1().ReplicaSets(e.ns).Get(e.ctx, rs.Name, metav1.GetOptions{})
	if err != nil {
		nok("fg-rs-waiting", "%v", err)
	} else if r.DeletionTimestamp == nil || !hasFinalizer(r, metav1.FinalizerDeleteDependents) {
		nok("fg-rs-waiting", "deletionTimestamp %v finalizers %v", r.DeletionTimestamp, r.Finalizers)
	} else {
		ok("fg-rs-waiting")
	}
	for _, p := range pods[1:] {
		if err := e.gone("pod", func() error {
			_, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, p.Name, metav1.GetOptions{})
			return err
		}); err != nil {
			nok("fg-free-pods-gone", "%v", err)
			return
		}
	}
	ok("fg-free-pods-gone")
	// Release the held pod: it goes, then the ReplicaSet, then the Deployment.
	patch = []byte(`{"metadata":{"finalizers":null}}`)
	if _, err := e.cs.CoreV1().Pods(e.ns).Patch(e.ctx, held, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		nok("fg-release", "%v", err)
		return
	}
	var seen []string
	timeout := time.After(20 * time.Second)
loop:
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				break loop
			}
			if dd, isDep := ev.Object.(*appsv1.Deployment); isDep {
				s := string(ev.Type)
				if ev.Type == watch.Modified && dd.DeletionTimestamp != nil && hasFinalizer(dd, metav1.FinalizerDeleteDependents) {
					s += "+marked"
				}
				seen = append(seen, s)
			}
			if ev.Type == watch.Deleted {
				break loop
			}
		case <-timeout:
			break loop
		}
	}
	marked, deleted := -1, -1
	for i, s := range seen {
		if s == "MODIFIED+marked" && marked < 0 {
			marked = i
		}
		if s == "DELETED" {
			deleted = i
		}
	}
	if marked >= 0 && deleted > marked {
		ok("fg-watch-modified-then-deleted")
	} else {
		nok("fg-watch-modified-then-deleted", "events %v", seen)
	}
	if err := e.gone("replicaset", func() error {
		_, err := e.cs.AppsV1().ReplicaSets(e.ns).Get(e.ctx, rs.Name, metav1.GetOptions{})
		return err
	}); err != nil {
		nok("fg-rs-gone", "%v", err)
	} else {
		ok("fg-rs-gone")
	}
	if err := e.gone("deployment", func() error {
		_, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		return err
	}); err != nil {
		nok("fg-owner-gone", "%v", err)
	} else {
		ok("fg-owner-gone")
	}
}

func (e *env) orphan() {
	name := "gc-orphan"
	d, err := e.cs.AppsV1().Deployments(e.ns).Create(e.ctx, deployment(name, 1), metav1.CreateOptions{})
	if err != nil {
		nok("orphan-create", "%v", err)
		return
	}
	rs, pods, err := e.owned(name, 1)
	if err != nil {
		nok("orphan-owned", "%v", err)
		return
	}
	or := metav1.DeletePropagationOrphan
	if err := e.cs.AppsV1().Deployments(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{PropagationPolicy: &or}); err != nil {
		nok("orphan-delete", "%v", err)
		return
	}
	if err := e.gone("deployment", func() error {
		got, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{})
		if err == nil && got.UID != d.UID {
			return apierrors.NewNotFound(appsv1.Resource("deployments"), name)
		}
		return err
	}); err != nil {
		nok("orphan-owner-gone", "%v", err)
	} else {
		ok("orphan-owner-gone")
	}
	r, err := e.cs.AppsV1().ReplicaSets(e.ns).Get(e.ctx, rs.Name, metav1.GetOptions{})
	if err != nil {
		nok("orphan-rs-kept", "%v", err)
	} else if len(r.OwnerReferences) != 0 || r.DeletionTimestamp != nil {
		nok("orphan-rs-kept", "ownerReferences %v deletionTimestamp %v", r.OwnerReferences, r.DeletionTimestamp)
	} else {
		ok("orphan-rs-kept")
	}
	time.Sleep(500 * time.Millisecond)
	p, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, pods[0].Name, metav1.GetOptions{})
	if err != nil || p.DeletionTimestamp != nil || metav1.GetControllerOf(p) == nil || metav1.GetControllerOf(p).UID != rs.UID {
		nok("orphan-pod-kept", "err %v pod %+v", err, p.ObjectMeta)
	} else {
		ok("orphan-pod-kept")
	}
	// The orphaned ReplicaSet deleted in the background takes its pod along.
	if err := e.cs.AppsV1().ReplicaSets(e.ns).Delete(e.ctx, rs.Name, metav1.DeleteOptions{}); err != nil {
		nok("orphan-cleanup", "%v", err)
		return
	}
	if err := e.gone("pod", func() error {
		_, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, pods[0].Name, metav1.GetOptions{})
		return err
	}); err != nil {
		nok("orphan-cleanup", "%v", err)
	} else {
		ok("orphan-cleanup")
	}
}

func (e *env) background() {
	name := "gc-bg"
	if _, err := e.cs.AppsV1().Deployments(e.ns).Create(e.ctx, deployment(name, 2), metav1.CreateOptions{}); err != nil {
		nok("bg-create", "%v", err)
		return
	}
	rs, pods, err := e.owned(name, 2)
	if err != nil {
		nok("bg-owned", "%v", err)
		return
	}
	bg := metav1.DeletePropagationBackground
	if err := e.cs.AppsV1().Deployments(e.ns).Delete(e.ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		nok("bg-delete", "%v", err)
		return
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		nok("bg-owner-gone-at-once", "get: %v", err)
	} else {
		ok("bg-owner-gone-at-once")
	}
	err = e.gone("replicaset", func() error {
		_, err := e.cs.AppsV1().ReplicaSets(e.ns).Get(e.ctx, rs.Name, metav1.GetOptions{})
		return err
	})
	for _, p := range pods {
		if err == nil {
			err = e.gone("pod", func() error {
				_, err := e.cs.CoreV1().Pods(e.ns).Get(e.ctx, p.Name, metav1.GetOptions{})
				return err
			})
		}
	}
	if err != nil {
		nok("bg-dependents-gone", "%v", err)
	} else {
		ok("bg-dependents-gone")
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the tenant")
	ns := flag.String("namespace", "gcgo", "namespace to use (created if absent)")
	flag.Parse()
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		nok("config", "%v", err)
		os.Exit(1)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		nok("config", "%v", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		nok("namespace", "%v", err)
		os.Exit(1)
	}
	e := &env{ctx: ctx, cs: cs, ns: *ns}
	e.foreground()
	e.orphan()
	e.background()
	e.customOwner(cfg)
	if failed > 0 {
		os.Exit(1)
	}
}
