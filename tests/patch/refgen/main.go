// refgen: our reference generator for tests/patch/reference. It applies each
// case of cases.tsv ("KIND<TAB>doc<TAB>patch"; KIND is JP for JSON patch, MP for
// merge patch, or Pod/Service/Deployment for a strategic merge patch on that
// kind) with the upstream Go libraries kube-apiserver uses, and prints one line
// per case: the result JSON or "ERR: <message>". Regenerate with
//   cd tests/patch/refgen && GOFLAGS=-mod=mod go build -o /tmp/refgen . &&
//   /tmp/refgen < ../reference/cases.tsv > ../reference/expected.txt
// (needs the Go module proxy once). tests/patch/test_patch_reference.c compares.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// stdin: lines "kind\tdoc\tpatch"; prints result or ERR: msg
func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		var ds interface{}
		if f[0] == "JP" {
			p, err := jsonpatch.DecodePatch([]byte(f[2]))
			if err == nil {
				var out []byte
				out, err = p.Apply([]byte(f[1]))
				if err == nil {
					fmt.Println(string(out))
					continue
				}
			}
			fmt.Println("ERR: " + err.Error())
			continue
		}
		if f[0] == "MP" {
			out, err := jsonpatch.MergePatch([]byte(f[1]), []byte(f[2]))
			if err != nil {
				fmt.Println("ERR: " + err.Error())
			} else {
				fmt.Println(string(out))
			}
			continue
		}
		switch f[0] {
		case "Pod":
			ds = &corev1.Pod{}
		case "Service":
			ds = &corev1.Service{}
		default:
			ds = &appsv1.Deployment{}
		}
		out, err := strategicpatch.StrategicMergePatch([]byte(f[1]), []byte(f[2]), ds)
		if err != nil {
			fmt.Println("ERR: " + strings.ReplaceAll(err.Error(), "\n", "\\n"))
		} else {
			fmt.Println(string(out))
		}
	}
}
