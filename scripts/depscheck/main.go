// Command depscheck enforces the import direction of DESIGN.md §1:
//
//	cmd → transport → cluster → fsm → ledger → runtime
//
// A package may import its own layer and the layers below it, never one
// above. jepsen/ may import only transport/client and transport/wire (the
// public client and its wire types) plus runtime/ helpers. Test files are
// checked too. Run: go run ./scripts/depscheck
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

const module = "github.com/cnv-project/cnv/"

// rank orders the layers; a package may import ranks <= its own.
var rank = map[string]int{
	"runtime":   0,
	"ledger":    1,
	"fsm":       2,
	"cluster":   3,
	"transport": 4,
	"cmd":       5,
	"scripts":   5,
}

func layer(pkg string) string {
	rel := strings.TrimPrefix(pkg, module)
	top, _, _ := strings.Cut(rel, "/")
	return top
}

func allowed(from, to string) (bool, string) {
	lf, lt := layer(from), layer(to)
	if lf == "jepsen" {
		rel := strings.TrimPrefix(to, module)
		if lt == "jepsen" || lt == "runtime" || strings.HasPrefix(rel, "transport/client") || strings.HasPrefix(rel, "transport/wire") {
			return true, ""
		}
		return false, "jepsen may import only transport/client, transport/wire and runtime"
	}
	if lt == "jepsen" {
		return false, "only jepsen itself imports jepsen"
	}
	rf, okf := rank[lf]
	rt, okt := rank[lt]
	if !okf || !okt {
		return false, fmt.Sprintf("unknown layer (%q or %q): add it to scripts/depscheck", lf, lt)
	}
	if rt > rf {
		return false, fmt.Sprintf("%s may not import the higher layer %s", lf, lt)
	}
	return true, ""
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
		fmt.Fprintf(os.Stderr, "depscheck: %d import(s) point up the layers (DESIGN.md §1)\n", bad)
		os.Exit(1)
	}
	fmt.Println("depscheck: imports point down the layers")
}
