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
		{m + "runtime", m + "nosuch", false},
	}
	for _, c := range cases {
		if ok, why := allowed(c.from, c.to); ok != c.ok {
			t.Errorf("%s -> %s: %v (%s), want %v", c.from, c.to, ok, why, c.ok)
		}
	}
}
