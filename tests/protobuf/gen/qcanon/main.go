// Command qcanon prints, for each line of standard input, what apimachinery
// makes of it as a resource.Quantity in a JSON body: the line is used as a
// JSON string value, decoded with Quantity.UnmarshalJSON and re-encoded with
// MarshalJSON (what kube-apiserver returns). Output: one line per input,
// "<canonical>" or "ERR <message>". Used by tests/suites/27-quantity.sh to
// check vkube's canonicaliser (tests/protobuf/qcanon.c) against the reference.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/api/resource"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		raw, _ := json.Marshal(in.Text())
		var q resource.Quantity
		if err := json.Unmarshal(raw, &q); err != nil {
			fmt.Fprintf(out, "ERR %v\n", err)
			continue
		}
		b, _ := json.Marshal(q)
		var s string
		_ = json.Unmarshal(b, &s)
		fmt.Fprintln(out, s)
	}
}
