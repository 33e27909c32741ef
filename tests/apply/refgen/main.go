// refgen: our reference generator for tests/apply/reference. It replays
// cases.tsv (written by gen.py: "RESET<TAB>apiVersion<TAB>kind" starts a new
// object; "APPLY|UPDATE<TAB>manager<TAB>force|no<TAB>object" runs server-side
// apply or an update) through apimachinery's managedfields test field manager
// with client-go's schemas for the built-in types, and prints the object after
// each step (managedFields without times) or "ERR: <message>". Regenerate:
//   cd tests/apply/refgen && GOFLAGS=-mod=mod go build -o /tmp/refgen . &&
//   /tmp/refgen < ../reference/cases.tsv > ../reference/expected.txt
// The fake manager works on unstructured objects, so it marks fields of a
// create-by-update that a typed kube-apiserver does not; those cases live in
// tests/apply/test_apply.c instead.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields/managedfieldstest"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	tc := applyconfigurations.NewTypeConverter(scheme.Scheme)
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var fm managedfieldstest.TestFieldManager
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if f[0] == "RESET" {
			gv, _ := schema.ParseGroupVersion(f[1])
			fm = managedfieldstest.NewTestFieldManager(tc, gv.WithKind(f[2]))
			continue
		}
		u := &unstructured.Unstructured{}
		if err := json.Unmarshal([]byte(f[3]), &u.Object); err != nil {
			fmt.Println("ERR: bad json", err)
			continue
		}
		var err error
		if f[0] == "APPLY" {
			err = fm.Apply(u, f[1], f[2] == "force")
		} else {
			err = fm.Update(u, f[1])
		}
		if err != nil {
			fmt.Println("ERR: " + strings.ReplaceAll(err.Error(), "\n", "\\n"))
			continue
		}
		live := fm.Live().(*unstructured.Unstructured)
		mf := fm.ManagedFields()
		out := live.DeepCopy()
		for i := range mf {
			mf[i].Time = nil
		}
		var mfj []interface{}
		b, _ := json.Marshal(mf)
		json.Unmarshal(b, &mfj)
		if len(mfj) > 0 {
			unstructured.SetNestedSlice(out.Object, mfj, "metadata", "managedFields")
		}
		_ = metav1.Now
		b, _ = json.Marshal(out.Object)
		fmt.Println(string(b))
	}
}
