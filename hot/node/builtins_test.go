package node

import (
	"testing"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/runtime/capability"
)

// The capabilities the hot-path server serves as built-ins are built into
// every cluster's registry as FastPath capabilities: a new cluster can
// certify them (TestSessionOnEveryNode opens sessions with such
// certificates) without registering anything.
func TestHotBuiltinsAreInEveryRegistry(t *testing.T) {
	c := newHotCluster(t, 1, nil)
	view := c.Leader().Node().FSM().View()
	for _, p := range []capability.Path{server.CounterPath, server.EchoPath} {
		n, ok := view.Capability(capability.Ref{Path: p})
		if !ok || !n.FastPath {
			t.Fatalf("%s in a new cluster's registry: %v, fast_path %v", p, ok, n.FastPath)
		}
		if fsm.IsBuiltin(p) {
			t.Fatalf("%s counted as a governance capability", p)
		}
	}
	if string(server.CounterPath) != fsm.CapHotCounter || string(server.EchoPath) != fsm.CapHotEcho {
		t.Fatal("hot/server and fsm name different built-ins")
	}
}
