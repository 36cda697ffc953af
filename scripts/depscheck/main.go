// Command depscheck enforces the import direction of docs/DESIGN.md:
// every package belongs to the layer of its longest matching path prefix
// below, and may import only its own layer and the layers listed for it.
// Test files are checked too; they may also import the test-only
// packages, which nothing else imports, and what testAlso adds. Run: go run ./scripts/depscheck
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

const module = "github.com/cnv-project/cnv/"

// core is the replicated core and everything below it.
var core = []string{"cluster", "fsm", "ledger", "kv", "tlsutil", "mux", "runtime"}

// layers maps a path prefix to the layers it may import (besides itself).
// A prefix names a directory: "runtime" is every package under runtime/
// (there is no package runtime, which would shadow the standard library's).
// The SDK (client, wire) and the fault injector (jepsen) stay apart from
// the server: a user's program or the suite never links the cluster. kv is
// the storage layer under the ledger and the FSM's state; the ledger's event
// schema knows no storage, replay only reads the Merkle log, and the
// replicated state's store knows kv, not the ledger or the FSM.
var layers = map[string][]string{
	"runtime":              nil,
	"tlsutil":              nil,
	"mux":                  {"tlsutil"}, // tests use the cluster CA
	"wire":                 {"runtime"},
	"client":               {"wire", "tlsutil", "runtime"},
	"bench":                {"client", "wire", "runtime"},
	"kv":                   nil,
	"ledger":               {"kv", "runtime"},
	"ledger/event":         {"runtime"},
	"ledger/replay":        {"ledger", "runtime"},
	"ledger/cert":          {"ledger/event", "ledger/checkpoint", "runtime"},
	"fsm":                  {"ledger", "kv", "runtime"},
	"fsm/state":            {"kv", "runtime"},
	"cluster":              {"fsm", "ledger", "kv", "tlsutil", "mux", "runtime"},
	"hot/proto":            {"runtime"},
	"hot/server":           {"hot/proto", "ledger/cert", "runtime"},
	"hot/client":           {"hot/proto", "client", "wire", "runtime"},
	"internal/httpx":       {"wire", "ledger/cert", "runtime"},
	"metrics":              append([]string{"wire"}, core...),
	"peer":                 append([]string{"client", "wire", "metrics"}, core...),
	"forward":              append([]string{"peer", "client", "wire", "metrics"}, core...),
	"httpapi":              append([]string{"forward", "peer", "client", "wire", "metrics", "internal/httpx"}, core...),
	"edge":                 {"forward", "peer", "client", "wire", "internal/httpx", "cluster/gossip", "ledger/cert", "runtime"},
	"internal/testcluster": {"httpapi", "forward", "peer", "edge", "hot", "client", "wire", "metrics", "cluster", "fsm", "ledger", "kv", "mux", "tlsutil", "runtime"},
	// hot/node wires hot/server to the cluster (cluster/hotlease is in
	// "cluster").
	"hot/node": append([]string{"hot/proto", "hot/server"}, core...),
	"cmd":      {"*"},
	"scripts":  {"*"},
	"jepsen":   {"client", "wire", "tlsutil", "runtime"},
}

// testOnly lists the test-support layers: only _test.go files (of any
// layer) and the layer itself import them.
var testOnly = []string{"internal/testcluster"}

// testAlso lists what a layer's _test.go files may import besides what
// the layer itself may: the hot path's tests drive it with hot/client.
var testAlso = map[string][]string{"hot/server": {"hot/client"}, "hot/node": {"hot/client"}, "httpapi": {"edge"}, "ledger/cert": {"ledger", "kv"}}

// layerOf returns the longest layer prefix of a module-relative path.
func layerOf(rel string) (string, bool) {
	best := ""
	for p := range layers {
		if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > len(best) {
			best = p
		}
	}
	return best, best != ""
}

func within(rel, layer string) bool { return rel == layer || strings.HasPrefix(rel, layer+"/") }

// allowed reports whether from may import to; test says the import is
// in from's _test.go files.
func allowed(from, to string, test bool) (bool, string) {
	rf, rt := strings.TrimPrefix(from, module), strings.TrimPrefix(to, module)
	lf, okf := layerOf(rf)
	if !okf {
		return false, fmt.Sprintf("package %q is in no layer: add it to scripts/depscheck", rf)
	}
	lt, ok := layerOf(rt)
	if !ok {
		return false, fmt.Sprintf("package %q is in no layer: add it to scripts/depscheck", rt)
	} else if lt == "jepsen" && lf != "jepsen" {
		return false, "only jepsen itself imports jepsen"
	}
	if within(rt, lf) {
		return true, ""
	}
	for _, l := range testOnly {
		if lt == l {
			if test {
				return true, ""
			}
			return false, l + " is test support: only _test.go files import it"
		}
	}
	may := layers[lf]
	if test {
		may = append(may[:len(may):len(may)], testAlso[lf]...)
	}
	for _, l := range may {
		if l == "*" || within(rt, l) {
			return true, ""
		}
	}
	sort.Strings(may)
	return false, fmt.Sprintf("%s may import only %s", lf, strings.Join(append([]string{lf}, may...), ", "))
}

func main() {
	// One line per package: its path, its imports, then after "|" its
	// test files' imports.
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} | {{join .TestImports " "}} {{join .XTestImports " "}}`,
		"./...").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "depscheck: go list:", err)
		os.Exit(1)
	}
	bad := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		from, test := fields[0], false
		for _, to := range fields[1:] {
			if to == "|" {
				test = true
				continue
			}
			if !strings.HasPrefix(to, module) || to == from {
				continue
			}
			if ok, why := allowed(from, to, test); !ok {
				fmt.Printf("%s imports %s: %s\n", strings.TrimPrefix(from, module), strings.TrimPrefix(to, module), why)
				bad++
			}
		}
	}
	if bad > 0 {
		fmt.Fprintf(os.Stderr, "depscheck: %d import(s) break the layering (docs/ARCHITECTURE.md)\n", bad)
		os.Exit(1)
	}
	fmt.Println("depscheck: every import follows the layering")
}
