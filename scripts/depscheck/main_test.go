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
		{m + "transport", m + "cluster", true},
		{m + "cluster", m + "transport", false},
		{m + "cmd/cnv-node", m + "transport", true},
		{m + "jepsen", m + "transport/client", true},
		{m + "jepsen", m + "cluster", false},
		{m + "jepsen/checker", m + "fsm", false},
		{m + "cluster", m + "jepsen", false},
		{m + "ledger", m + "fsm", false},
	}
	for _, c := range cases {
		if ok, why := allowed(c.from, c.to); ok != c.ok {
			t.Errorf("%s -> %s: %v (%s), want %v", c.from, c.to, ok, why, c.ok)
		}
	}
}
