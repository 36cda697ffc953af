package cluster

import (
	"io"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// guarded starts a guard over a TCP transport on loopback and serves it:
// every RPC that passes is answered with success. It returns the guard's
// address and how many RPCs passed.
func guarded(t *testing.T, entry func(*raft.Log) error) (raft.ServerAddress, *atomic.Int64, *guard) {
	t.Helper()
	inner, err := raft.NewTCPTransport("127.0.0.1:0", nil, 2, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var passed atomic.Int64
	g := newGuard(inner, entry, nil)
	term := func() uint64 { return 5 }
	g.term.Store(&term)
	leader := func() raft.ServerID { return "n1" }
	g.leader.Store(&leader)
	g.SetHeartbeatHandler(func(rpc raft.RPC) {
		passed.Add(1)
		rpc.Respond(&raft.AppendEntriesResponse{Term: 5, Success: true}, nil)
	})
	go func() {
		for rpc := range g.Consumer() {
			passed.Add(1)
			switch rpc.Command.(type) {
			case *raft.AppendEntriesRequest:
				rpc.Respond(&raft.AppendEntriesResponse{Term: 5, Success: true}, nil)
			case *raft.RequestVoteRequest:
				rpc.Respond(&raft.RequestVoteResponse{Term: 5}, nil)
			case *raft.TimeoutNowRequest:
				rpc.Respond(&raft.TimeoutNowResponse{}, nil)
			default:
				rpc.Respond(nil, nil)
			}
		}
	}()
	t.Cleanup(func() { g.Close() })
	return inner.LocalAddr(), &passed, g
}

// attacker is raft's own transport, dialing the guarded port as a forger
// would.
func attacker(t *testing.T) *raft.NetworkTransport {
	t.Helper()
	a, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func header(id string) raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte("127.0.0.1:1")}
}

func TestGuardRefusesWhatNoMemberSends(t *testing.T) {
	addr, passed, _ := guarded(t, nil)
	a := attacker(t)
	cfg := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: "127.0.0.1:1"}}})
	refused := map[string]func() error{
		"heartbeat with term 2^64-1": func() error {
			var r raft.AppendEntriesResponse
			return a.AppendEntries("x", addr, &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: math.MaxUint64}, &r)
		},
		"append with term at the ceiling": func() error {
			var r raft.AppendEntriesResponse
			return a.AppendEntries("x", addr, &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: termCeiling, PrevLogEntry: 3, PrevLogTerm: 1,
				Entries: []*raft.Log{{Index: 4, Term: 1, Type: raft.LogNoop}}}, &r)
		},
		"vote far above our term": func() error {
			var r raft.RequestVoteResponse
			return a.RequestVote("x", addr, &raft.RequestVoteRequest{RPCHeader: header("n2"), Term: 5 + maxVoteJump + 1, LeadershipTransfer: true}, &r)
		},
		"entries out of sequence": func() error {
			var r raft.AppendEntriesResponse
			return a.AppendEntries("x", addr, &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: 5, PrevLogEntry: 3,
				Entries: []*raft.Log{{Index: 4, Term: 5, Type: raft.LogNoop}, {Index: 6, Term: 5, Type: raft.LogNoop}}}, &r)
		},
		"an entry newer than its request": func() error {
			var r raft.AppendEntriesResponse
			return a.AppendEntries("x", addr, &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: 5, PrevLogEntry: 3,
				Entries: []*raft.Log{{Index: 4, Term: 9, Type: raft.LogNoop}}}, &r)
		},
		"a configuration that does not decode": func() error {
			var r raft.AppendEntriesResponse
			return a.AppendEntries("x", addr, &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: 5, PrevLogEntry: 3,
				Entries: []*raft.Log{{Index: 4, Term: 5, Type: raft.LogConfiguration, Data: []byte{0xc1, 0xff}}}}, &r)
		},
		"timeout-now from a non-leader": func() error {
			var r raft.TimeoutNowResponse
			return a.TimeoutNow("x", addr, &raft.TimeoutNowRequest{RPCHeader: header("evil")}, &r)
		},
	}
	for name, send := range refused {
		if err := send(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := passed.Load(); n != 0 {
		t.Fatalf("%d refused RPCs reached raft", n)
	}
	// What members send still passes.
	var r raft.AppendEntriesResponse
	ok := &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: 5, PrevLogEntry: 3, PrevLogTerm: 5, LeaderCommitIndex: 3,
		Entries: []*raft.Log{{Index: 4, Term: 5, Type: raft.LogNoop}, {Index: 5, Term: 5, Type: raft.LogConfiguration, Data: cfg}}}
	if err := a.AppendEntries("x", addr, ok, &r); err != nil || !r.Success {
		t.Fatalf("a member's append: %v %+v", err, r)
	}
	var tr raft.TimeoutNowResponse
	if err := a.TimeoutNow("x", addr, &raft.TimeoutNowRequest{RPCHeader: header("n1")}, &tr); err != nil {
		t.Fatalf("the leader's timeout-now: %v", err)
	}
	if n := passed.Load(); n != 2 {
		t.Fatalf("%d RPCs passed, want 2", n)
	}
}

func TestGuardChecksCommandEntries(t *testing.T) {
	addr, passed, _ := guarded(t, func(l *raft.Log) error {
		if !strings.HasPrefix(string(l.Data), "signed:") {
			return errEntries
		}
		return nil
	})
	a := attacker(t)
	var r raft.AppendEntriesResponse
	forged := &raft.AppendEntriesRequest{RPCHeader: header("n1"), Term: 5, PrevLogEntry: 190, PrevLogTerm: 5,
		Entries: []*raft.Log{{Index: 191, Term: 5, Type: raft.LogCommand, Data: []byte("forged-FORGED")}}}
	if err := a.AppendEntries("x", addr, forged, &r); err == nil {
		t.Fatal("a forged command entry was accepted")
	}
	forged.Entries[0].Data = []byte("signed: ok")
	if err := a.AppendEntries("x", addr, forged, &r); err != nil || passed.Load() != 1 {
		t.Fatalf("a good entry: %v (passed %d)", err, passed.Load())
	}
}
