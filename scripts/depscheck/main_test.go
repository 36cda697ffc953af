package main

import "testing"

func TestAllowed(t *testing.T) {
	m := module
	cases := []struct {
		from, to string
		ok       bool
	}{
		{m + "ledger", m + "runtime/codec", true},
		{m + "runtime/policy", m + "ledger", false},
		{m + "fsm", m + "cluster", false},
		{m + "cluster", m + "fsm", true},
		{m + "cluster/gossip", m + "cluster", true},
		{m + "httpapi", m + "cluster", true},
		{m + "cluster", m + "httpapi", false},
		{m + "cmd/cnv-node", m + "httpapi", true},
		{m + "jepsen", m + "client", true},
		{m + "jepsen/workload", m + "wire", true},
		{m + "jepsen", m + "cluster", false},
		{m + "jepsen/checker", m + "fsm", false},
		{m + "cluster", m + "jepsen", false},
		{m + "cmd/cnv-node", m + "jepsen", false},
		{m + "ledger", m + "fsm", false},
		{m + "client", m + "cluster", false},
		{m + "wire", m + "client", false},
		{m + "hot/server", m + "cluster", false},
		{m + "hot/server", m + "hot/proto", true},
		{m + "hot/client", m + "hot/server", false},
		{m + "hot/node", m + "cluster", true},
		{m + "nosuch", m + "runtime", false},
		{m + "runtime/policy", m + "nosuch", false},
		{m + "internal/testcluster", m + "httpapi", true},
		{m + "internal/testcluster", m + "cluster", true},
		{m + "internal/testcluster", m + "jepsen", false},
	}
	for _, c := range cases {
		if ok, why := allowed(c.from, c.to, false); ok != c.ok {
			t.Errorf("%s -> %s: %v (%s), want %v", c.from, c.to, ok, why, c.ok)
		}
		// What a package may import, its tests may too.
		if c.ok {
			if ok, why := allowed(c.from, c.to, true); !ok {
				t.Errorf("test of %s -> %s: refused (%s)", c.from, c.to, why)
			}
		}
	}
}

// Test support is imported by tests of any layer, never by production
// code (not even cmd and scripts, which may import anything else); tests
// stay inside their layer otherwise.
func TestTestOnly(t *testing.T) {
	m := module
	cases := []struct {
		from, to string
		test, ok bool
	}{
		{m + "cluster", m + "internal/testcluster", true, true},
		{m + "cluster", m + "internal/testcluster", false, false},
		{m + "httpapi", m + "internal/testcluster", true, true},
		{m + "httpapi", m + "internal/testcluster", false, false},
		{m + "cmd/cnv-node", m + "internal/testcluster", true, true},
		{m + "cmd/cnv-node", m + "internal/testcluster", false, false},
		{m + "scripts/depscheck", m + "internal/testcluster", false, false},
		{m + "runtime/hotpath", m + "internal/testcluster", true, true},
		{m + "cluster", m + "httpapi", true, false},
		{m + "hot/server", m + "hot/client", true, true},
		{m + "hot/server", m + "hot/client", false, false},
		{m + "hot/client", m + "hot/server", true, false},
		{m + "internal/testcluster", m + "internal/testcluster/sub", false, true},
	}
	for _, c := range cases {
		if ok, why := allowed(c.from, c.to, c.test); ok != c.ok {
			t.Errorf("%s -> %s (test %v): %v (%s), want %v", c.from, c.to, c.test, ok, why, c.ok)
		}
	}
}
