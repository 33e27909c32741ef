// Command clientgo exercises a vkube tenant with client-go the way controllers
// do: an informer (watch-list stream, or list+watch), a server restart the
// informer must survive, a raw watch-list stream with its closing bookmark, and
// a create/update with conflict retry using protobuf request bodies.
//
// Usage: clientgo -kubeconfig FILE -namespace NS -restart "shell command"
// Prints one line per check: "ok go:<name>" or "not ok go:<name> - <why>".
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
)

var failed int

func ok(name string) { fmt.Printf("ok go:%s\n", name) }
func nok(name string, format string, args ...any) {
	failed++
	fmt.Printf("not ok go:%s - %s\n", name, fmt.Sprintf(format, args...))
}

// recorder keeps the informer's events by object name.
type recorder struct {
	mu     sync.Mutex
	events map[string][]string
}

func (r *recorder) add(kind, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[name] = append(r.events[name], kind)
}

func (r *recorder) wait(name, kind string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, k := range r.events[name] {
			if k == kind {
				r.mu.Unlock()
				return true
			}
		}
		r.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func cm(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: data}
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the tenant")
	ns := flag.String("namespace", "clientgo", "namespace to use")
	restart := flag.String("restart", "", "shell command that restarts the server")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		nok("setup", "%v", err)
		os.Exit(1)
	}
	cfg.Timeout = 20 * time.Second
	cs := kubernetes.NewForConfigOrDie(cfg)
	pbcfg := rest.CopyConfig(cfg)
	pbcfg.ContentType = "application/vnd.kubernetes.protobuf"
	pbcfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	pb := kubernetes.NewForConfigOrDie(pbcfg)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	if _, err := pb.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{}); err != nil {
		nok("create-namespace-protobuf", "%v", err)
	} else {
		ok("create-namespace-protobuf")
	}

	// Raw watch-list stream: initial ADDED events then the annotated BOOKMARK.
	for i := 0; i < 3; i++ {
		if _, err := pb.CoreV1().ConfigMaps(*ns).Create(ctx, cm(fmt.Sprintf("init%d", i), nil),
			metav1.CreateOptions{}); err != nil {
			nok("create-protobuf", "%v", err)
		}
	}
	yes := true
	w, err := cs.CoreV1().ConfigMaps(*ns).Watch(ctx, metav1.ListOptions{
		SendInitialEvents:    &yes,
		ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan,
		AllowWatchBookmarks:  true,
	})
	if err != nil {
		nok("watch-list-stream", "%v", err)
	} else {
		added, done := 0, false
		timeout := time.After(5 * time.Second)
		for !done {
			select {
			case ev, open := <-w.ResultChan():
				if !open {
					done = true
					break
				}
				if ev.Type == watch.Added {
					added++
				}
				if ev.Type == watch.Bookmark {
					m, _ := ev.Object.(*corev1.ConfigMap)
					if m != nil && m.Annotations["k8s.io/initial-events-end"] == "true" {
						done = true
					}
				}
			case <-timeout:
				done = true
			}
		}
		w.Stop()
		// init0..2 plus kube-root-ca.crt
		if added == 4 {
			ok("watch-list-stream")
		} else {
			nok("watch-list-stream", "%d ADDED events before the initial-events-end bookmark", added)
		}
	}

	// Informer (client-go decides between the watch-list stream and list+watch).
	rec := &recorder{events: map[string][]string{}}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(*ns))
	inf := factory.Core().V1().ConfigMaps().Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { rec.add("add", o.(*corev1.ConfigMap).Name) },
		UpdateFunc: func(_, o any) { rec.add("update", o.(*corev1.ConfigMap).Name) },
		DeleteFunc: func(o any) {
			if m, isCM := o.(*corev1.ConfigMap); isCM {
				rec.add("delete", m.Name)
			} else if t, isTomb := o.(cache.DeletedFinalStateUnknown); isTomb {
				rec.add("delete", t.Obj.(*corev1.ConfigMap).Name)
			}
		},
	})
	stop := make(chan struct{})
	factory.Start(stop)
	syncCtx, syncCancel := context.WithTimeout(ctx, 15*time.Second)
	if cache.WaitForCacheSync(syncCtx.Done(), inf.HasSynced) && rec.wait("init0", "add", time.Second) {
		ok("informer-sync")
	} else {
		nok("informer-sync", "informer did not sync with the initial objects")
	}
	syncCancel()
	if _, err := cs.CoreV1().ConfigMaps(*ns).Create(ctx, cm("live", map[string]string{"a": "1"}),
		metav1.CreateOptions{}); err != nil {
		nok("informer-add", "%v", err)
	} else if rec.wait("live", "add", 5*time.Second) {
		ok("informer-add")
	} else {
		nok("informer-add", "no add event")
	}
	if _, err := cs.CoreV1().ConfigMaps(*ns).Update(ctx, cm("live", map[string]string{"a": "2"}),
		metav1.UpdateOptions{}); err != nil {
		nok("informer-update", "%v", err)
	} else if rec.wait("live", "update", 5*time.Second) {
		ok("informer-update")
	} else {
		nok("informer-update", "no update event")
	}
	if err := cs.CoreV1().ConfigMaps(*ns).Delete(ctx, "live", metav1.DeleteOptions{}); err != nil {
		nok("informer-delete", "%v", err)
	} else if rec.wait("live", "delete", 5*time.Second) {
		ok("informer-delete")
	} else {
		nok("informer-delete", "no delete event")
	}

	// Restart survival: the informer reconnects and sees objects made afterwards.
	if *restart != "" {
		out, err := exec.Command("sh", "-c", *restart).CombinedOutput()
		if err != nil {
			nok("server-restart", "%v: %s", err, out)
		} else {
			ok("server-restart")
		}
		var cerr error
		for i := 0; i < 100; i++ {
			_, cerr = cs.CoreV1().ConfigMaps(*ns).Create(ctx, cm("after-restart", nil),
				metav1.CreateOptions{})
			if cerr == nil || apierrors.IsAlreadyExists(cerr) {
				cerr = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if cerr != nil {
			nok("informer-after-restart", "create: %v", cerr)
		} else if rec.wait("after-restart", "add", 20*time.Second) {
			ok("informer-after-restart")
		} else {
			nok("informer-after-restart", "informer did not see an object created after the restart")
		}
	}
	close(stop)

	// Conflict retry with protobuf bodies: the first attempt races another writer.
	if _, err := pb.CoreV1().ConfigMaps(*ns).Create(ctx, cm("counter", map[string]string{"n": "0"}),
		metav1.CreateOptions{}); err != nil {
		nok("conflict-retry", "create: %v", err)
	} else {
		attempts, conflicts := 0, 0
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			attempts++
			cur, err := pb.CoreV1().ConfigMaps(*ns).Get(ctx, "counter", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if attempts == 1 {
				other := cur.DeepCopy()
				other.Data["other"] = "x"
				if _, err := pb.CoreV1().ConfigMaps(*ns).Update(ctx, other, metav1.UpdateOptions{}); err != nil {
					return err
				}
			}
			cur.Data["n"] = "1"
			_, err = pb.CoreV1().ConfigMaps(*ns).Update(ctx, cur, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				conflicts++
			}
			return err
		})
		final, gerr := cs.CoreV1().ConfigMaps(*ns).Get(ctx, "counter", metav1.GetOptions{})
		switch {
		case err != nil:
			nok("conflict-retry", "%v", err)
		case gerr != nil:
			nok("conflict-retry", "get: %v", gerr)
		case conflicts != 1 || attempts != 2:
			nok("conflict-retry", "%d attempts, %d conflicts", attempts, conflicts)
		case final.Data["n"] != "1" || final.Data["other"] != "x":
			nok("conflict-retry", "final data %v", final.Data)
		default:
			ok("conflict-retry")
		}
	}
	_ = cs.CoreV1().Namespaces().Delete(context.Background(), *ns, metav1.DeleteOptions{})
	if failed > 0 {
		os.Exit(1)
	}
}
