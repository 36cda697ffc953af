// Command depscheck enforces the import direction of docs/DESIGN.md:
// every package belongs to the layer of its longest matching path prefix
// below, and may import only its own layer and the layers listed for it.
// Test files are checked too. Run: go run ./scripts/depscheck
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
var core = []string{"cluster", "fsm", "ledger", "kv", "tlsutil", "runtime"}

// layers maps a path prefix to the layers it may import (besides itself).
// The SDK (client, wire) and the fault injector (jepsen) stay apart from
// the server: a user's program or the suite never links the cluster. kv is
// the storage layer under the ledger and the FSM's state; the ledger's event
// schema knows no storage, replay only reads the Merkle log, and the
// replicated state's store knows kv, not the ledger or the FSM.
var layers = map[string][]string{
	"runtime":        nil,
	"tlsutil":        nil,
	"wire":           {"runtime"},
	"client":         {"wire", "tlsutil", "runtime"},
	"bench":          {"client", "wire", "runtime"},
	"kv":             nil,
	"ledger":         {"kv", "runtime"},
	"ledger/event":   {"runtime"},
	"ledger/replay":  {"ledger", "runtime"},
	"fsm":            {"ledger", "kv", "runtime"},
	"fsm/state":      {"kv", "runtime"},
	"cluster":        {"fsm", "ledger", "kv", "tlsutil", "runtime"},
	"hot/proto":      {"runtime"},
	"hot/server":     {"hot/proto", "runtime"},
	"hot/client":     {"hot/proto", "client", "wire", "runtime"},
	"internal/httpx": {"wire", "runtime"},
	"metrics":        append([]string{"wire"}, core...),
	"peer":           append([]string{"client", "wire", "metrics"}, core...),
	"forward":        append([]string{"peer", "client", "wire", "metrics"}, core...),
	// httpapi's tests also start edge nodes, until internal/testcluster.
	"httpapi":              append([]string{"forward", "peer", "client", "wire", "metrics", "internal/httpx", "edge"}, core...),
	"edge":                 {"forward", "peer", "client", "wire", "internal/httpx", "cluster/gossip", "runtime"},
	"internal/testcluster": {"httpapi", "forward", "peer", "edge", "hot", "client", "wire", "metrics", "cluster", "fsm", "ledger", "runtime"},
	// hot/node wires hot/server to the cluster (cluster/hotlease is in
	// "cluster"); its tests drive it with hot/client and run an in-process
	// cluster over the HTTP API (client, wire, transport).
	"hot/node": append([]string{"hot/proto", "hot/server", "hot/client", "client", "wire",
		"httpapi", "forward", "peer", // its tests start an in-process cluster, until internal/testcluster
	}, core...),
	"cmd":     {"*"},
	"scripts": {"*"},
	"jepsen":  {"client", "wire", "tlsutil", "runtime"},
}

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

func allowed(from, to string) (bool, string) {
	rf, rt := strings.TrimPrefix(from, module), strings.TrimPrefix(to, module)
	lf, okf := layerOf(rf)
	if !okf {
		return false, fmt.Sprintf("package %q is in no layer: add it to scripts/depscheck", rf)
	}
	if lt, ok := layerOf(rt); !ok {
		return false, fmt.Sprintf("package %q is in no layer: add it to scripts/depscheck", rt)
	} else if lt == "jepsen" && lf != "jepsen" {
		return false, "only jepsen itself imports jepsen"
	}
	if within(rt, lf) {
		return true, ""
	}
	may := layers[lf]
	for _, l := range may {
		if l == "*" || within(rt, l) {
			return true, ""
		}
	}
	sort.Strings(may)
	return false, fmt.Sprintf("%s may import only %s", lf, strings.Join(append([]string{lf}, may...), ", "))
}

func main() {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`,
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
		from := fields[0]
		for _, to := range fields[1:] {
			if !strings.HasPrefix(to, module) || to == from {
				continue
			}
			if ok, why := allowed(from, to); !ok {
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
