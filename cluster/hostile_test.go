package cluster_test

import (
	"io"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/internal/testcluster"
)

// forger is raft's own transport, dialing a node's Raft port as an
// attacker on the network would.
func forger(t *testing.T) *raft.NetworkTransport {
	t.Helper()
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func appendAs(tr *raft.NetworkTransport, to *testcluster.Node, leader string, term uint64, entries ...*raft.Log) error {
	req := &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(leader), Addr: []byte("127.0.0.1:1")},
		Term:      term, Entries: entries,
	}
	if len(entries) > 0 {
		req.PrevLogEntry, req.PrevLogTerm = entries[0].Index-1, term
	}
	var resp raft.AppendEntriesResponse
	return tr.AppendEntries(raft.ServerID(to.ID), raft.ServerAddress(to.RaftAddr()), req, &resp)
}

// With a cluster token, the Raft port answers nothing to a process that
// does not know it: raft's own transport cannot even deliver an RPC, and
// the cluster goes on with its leader and term.
func TestRaftPortRequiresTheClusterToken(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{Token: "a-cluster-token-of-some-length"})
	l := c.WaitLeader()
	term := l.Node().Term()
	victim := c.Followers()[0]
	tr := forger(t)
	if err := appendAs(tr, victim, l.ID, math.MaxUint64); err == nil {
		t.Fatal("an AppendEntries without the token was delivered")
	}
	if err := appendAs(tr, victim, l.ID, term, &raft.Log{Index: 999, Term: term, Type: raft.LogCommand, Data: []byte("forged")}); err == nil {
		t.Fatal("a forged entry without the token was delivered")
	}
	c.AdminInvoke(c.Leader(), "ledger.checkpoint", nil) // still committing
	if got := c.Leader(); got.ID != l.ID || got.Node().Term() != term {
		t.Fatalf("leader %s term %d after the attempts; was %s term %d", got.ID, got.Node().Term(), l.ID, term)
	}
}

// Without a token (loopback development), the guard still refuses a term
// of 2^64-1 on every node: it once wrapped every term to 0 and left the
// cluster without a leader for good.
func TestMaximalTermIsRefused(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	l := c.WaitLeader()
	term := l.Node().Term()
	tr := forger(t)
	for _, n := range c.Nodes() {
		if err := appendAs(tr, n, l.ID, math.MaxUint64); err == nil {
			t.Errorf("%s took a heartbeat with term 2^64-1", n.ID)
		}
	}
	c.AdminInvoke(c.Leader(), "ledger.checkpoint", nil)
	for _, n := range c.Nodes() {
		if got := n.Node().Term(); got != term {
			t.Errorf("%s moved from term %d to %d", n.ID, term, got)
		}
	}
	if got := c.WaitLeader(); got.ID != l.ID {
		t.Fatalf("leadership moved from %s to %s", l.ID, got.ID)
	}
}
