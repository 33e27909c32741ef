// The -bench mode of the dynamic program: custom-object throughput and
// latency against built-in ConfigMaps on the same server with the same
// client, for bench/crd_bench.sh. Figures are printed, never asserted.
package main

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// timed runs op(i) for i in [0,n) on conc goroutines; prints one line.
func timed(label string, n, conc int, op func(i int) error) {
	lat := make([]time.Duration, n)
	var next, errs int64 = -1, 0
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < conc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= n {
					return
				}
				t := time.Now()
				if err := op(i); err != nil {
					atomic.AddInt64(&errs, 1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	pct := func(p float64) float64 { return float64(lat[int(p*float64(n-1))].Microseconds()) / 1000 }
	fmt.Printf("  %-46s %3d clients %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (%d requests, %d errors)\n",
		label, conc, float64(n)/el.Seconds(), pct(0.50), pct(0.99), n, errs)
	if e := firstErr.Load(); e != nil {
		fmt.Printf("    first error: %.200s\n", e)
	}
}

func benchObject(kind, name string, i int) *unstructured.Unstructured {
	if kind == "cm" {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name},
			"data":     map[string]any{"size": fmt.Sprint(i), "color": "red"},
		}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": name},
		"spec":     map[string]any{"size": int64(i), "color": "red"},
	}}
}

// runBench: CRD create to servable, then create/get/list of n custom objects
// and n ConfigMaps in namespace ns, each with 1 and conc clients.
func runBench(cfg *rest.Config, ns string, n, conc int) int {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 1e6, 1e6 // no client-side throttling
	dc := dynamic.NewForConfigOrDie(cfg)
	ctx := context.TODO()
	if !deleteCRD(dc) {
		fmt.Println("  an old CRD would not go")
		return 1
	}
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": ns}}}
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if _, err := dc.Resource(nsGVR).Create(ctx, nsObj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		fmt.Printf("  namespace: %v\n", err)
		return 1
	}
	// Time from CRD create to the first custom object created.
	t0 := time.Now()
	if _, err := dc.Resource(crdGVR).Create(ctx, crdObject(), metav1.CreateOptions{}); err != nil {
		fmt.Printf("  crd create: %v\n", err)
		return 1
	}
	var tEst, tObj time.Duration
	done := poll(60*time.Second, func() bool {
		if tEst == 0 && established(dc) {
			tEst = time.Since(t0)
		}
		if tObj == 0 {
			_, err := dc.Resource(v1GVR).Namespace(ns).Create(ctx, benchObject("cr", "probe", 0), metav1.CreateOptions{})
			if err == nil {
				tObj = time.Since(t0)
			}
		}
		return tEst != 0 && tObj != 0
	})
	if !done {
		fmt.Println("  the custom resource never became Established and servable")
		return 1
	}
	fmt.Printf("  %-46s Established after %.0f ms, first object created after %.0f ms (polled every 100 ms)\n",
		"CRD create ->", float64(tEst.Microseconds())/1000, float64(tObj.Microseconds())/1000)
	kinds := []struct {
		key, label string
		gvr        schema.GroupVersionResource
	}{{"cr", "custom objects (" + plural + "." + group + ")", v1GVR}, {"cm", "ConfigMaps", cmGVR}}
	for _, k := range kinds {
		r := dc.Resource(k.gvr).Namespace(ns)
		for _, c := range []int{1, conc} {
			prefix := fmt.Sprintf("b%d-", c)
			timed("create "+k.label, n, c, func(i int) error {
				_, err := r.Create(ctx, benchObject(k.key, fmt.Sprintf("%s%d", prefix, i), i), metav1.CreateOptions{})
				return err
			})
			timed("get "+k.label, n, c, func(i int) error {
				_, err := r.Get(ctx, fmt.Sprintf("%s%d", prefix, rand.Intn(n)), metav1.GetOptions{})
				return err
			})
		}
		lists := n / 10
		if lists < 20 {
			lists = 20
		}
		for _, c := range []int{1, conc} {
			timed(fmt.Sprintf("list %d %s", 2*n+1, k.label), lists, c, func(i int) error {
				l, err := r.List(ctx, metav1.ListOptions{})
				if err == nil && len(l.Items) < 2*n {
					err = fmt.Errorf("list has %d items", len(l.Items))
				}
				return err
			})
		}
	}
	// Tidy up: the CRD takes its objects; the ConfigMaps go with the namespace.
	deleteCRD(dc)
	_ = dc.Resource(nsGVR).Delete(ctx, ns, metav1.DeleteOptions{})
	return 0
}
