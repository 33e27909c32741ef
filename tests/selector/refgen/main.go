// refgen: our reference generator for tests/selector/reference: runs each case
// of cases.tsv ("L|F<TAB>selector<TAB>set as JSON") through apimachinery's
// labels.Parse / fields.ParseSelector and prints "match", "nomatch" or
// "ERR: <message>". Regenerate: cd tests/selector/refgen && python3 gen.py
// (from tests/selector) && GOFLAGS=-mod=mod go build -o /tmp/refgen . &&
// /tmp/refgen < ../reference/cases.tsv > ../reference/expected.txt
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
)

// stdin: "L<TAB>selector<TAB>labels-json" or "F<TAB>selector<TAB>fields-json";
// prints "match"/"nomatch" or "ERR: msg".
func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		var set map[string]string
		json.Unmarshal([]byte(f[2]), &set)
		if f[0] == "L" {
			s, err := labels.Parse(f[1])
			if err != nil {
				fmt.Println("ERR: " + err.Error())
				continue
			}
			if s.Matches(labels.Set(set)) {
				fmt.Println("match")
			} else {
				fmt.Println("nomatch")
			}
		} else {
			s, err := fields.ParseSelector(f[1])
			if err != nil {
				fmt.Println("ERR: " + err.Error())
				continue
			}
			if s.Matches(fields.Set(set)) {
				fmt.Println("match")
			} else {
				fmt.Println("nomatch")
			}
		}
	}
}
