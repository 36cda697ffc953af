package fsm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/kv"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// sameAnswer checks that a retry got exactly the first answer: the same
// decision, ledger index, leaf hash, use counts and everything else,
// byte for byte in JSON and in the canonical encoding.
func sameAnswer(t *testing.T, what string, first, retry Result) {
	t.Helper()
	if first.Duplicate || !retry.Duplicate {
		t.Errorf("%s: duplicate flags %v, %v", what, first.Duplicate, retry.Duplicate)
	}
	retry.Duplicate = false
	a, _ := json.Marshal(first)
	b, _ := json.Marshal(retry)
	if !bytes.Equal(a, b) || !codec.Equal(first, retry) {
		t.Errorf("%s: the retry's answer differs:\n first %s\n retry %s", what, a, b)
	}
	if retry.Decision != first.Decision || retry.LedgerIndex != first.LedgerIndex ||
		!bytes.Equal(retry.LeafHash, first.LeafHash) || len(retry.UseCounts) != len(first.UseCounts) {
		t.Errorf("%s: decision, ledger index, leaf hash or use counts differ", what)
	}
}

// Every kind of decision, retried after its batch, in its batch, after a
// restart (the request table's index is rebuilt) and after a snapshot is
// restored on another node, gets the answer the first try got, and the
// retry changes nothing.
func TestRetryGetsTheSameAnswer(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	carol, _ := newPrincipal(t, "carol", principal.Agent, "acme")
	dave, _ := newPrincipal(t, "dave", principal.Agent, "beta")
	for _, p := range []principal.Principal{alice, bob, carol} {
		h.register(p)
	}
	// dave carries metadata, which the judged principal states.
	doc, _ := json.Marshal(principalDoc{PublicKey: dave.PublicKey, AgentID: dave.AgentID, AgentType: dave.AgentType,
		Tenant: dave.Tenant, Metadata: map[string]string{"team": "ops", "cost-center": "42"}})
	h.adminInvoke(CapPrincipalRegister, doc)
	links := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID, carol.KeyID}, 2, "user.*")
	revocable := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID}, 0, "user.read")
	revocable[0].Hash[0] ^= 0x55

	type try struct {
		name    string
		invoker principal.KeyID
		inv     invocation.Invocation
		links   []Link
		check   func(r Result) bool
	}
	tries := []try{
		{"admin, direct", h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, CorrelationID: "c-1"}, nil,
			func(r Result) bool { return r.Allowed() }},
		{"admin for another tenant", h.adminID, invocation.Invocation{Capability: "user.read", Tenant: "beta"}, nil,
			func(r Result) bool { return r.Allowed() && r.Tenant == "beta" && r.Judged.Tenant != "beta" }},
		{"agent for another tenant (denied by the tenant check)", bob.KeyID, invocation.Invocation{Capability: "user.read", Tenant: "beta"}, nil,
			func(r Result) bool { return r.Decision == policy.Deny && r.Policy.Decision == policy.Allow }},
		{"versioned capability with schemas", alice.KeyID, invocation.Invocation{Capability: "user.create@1.0.0",
			Args: []invocation.Arg{{Name: "name", Value: "x y"}}}, nil,
			func(r Result) bool {
				return r.Allowed() && r.Capability.Version == "1.0.0" && r.Input != nil && r.Output != nil
			}},
		{"judged principal with metadata", dave.KeyID, invocation.Invocation{Capability: "user.read"}, nil,
			func(r Result) bool { return r.Allowed() && r.Judged.Metadata["team"] == "ops" }},
		{"default deny", bob.KeyID, invocation.Invocation{Capability: "user.delete"}, nil,
			func(r Result) bool { return r.Decision == policy.Deny && r.Reason == policy.DefaultDenyReason }},
		{"dry run", alice.KeyID, invocation.Invocation{Capability: "user.delete", DryRun: true}, nil,
			func(r Result) bool { return r.Allowed() && len(r.UseCounts) == 0 }},
		{"delegated, first use", carol.KeyID, invocation.Invocation{Capability: "user.create@1.0.0"}, links,
			func(r Result) bool { return r.Allowed() && r.Judged.KeyID == alice.KeyID && len(r.UseCounts) == 2 }},
		{"delegated, second use", carol.KeyID, invocation.Invocation{Capability: "user.read"}, links,
			func(r Result) bool { return r.Allowed() && r.UseCounts[0].Used == 2 }},
		{"delegated, over max_uses", carol.KeyID, invocation.Invocation{Capability: "user.read"}, links,
			func(r Result) bool {
				return r.Decision == policy.Deny && r.Policy.Decision == policy.Allow && len(r.UseCounts) == 0
			}},
		{"delegated, wrong invoker", bob.KeyID, invocation.Invocation{Capability: "user.read"}, links,
			func(r Result) bool { return r.Decision == policy.Deny }},
	}
	first := make([]Result, len(tries))
	for i, tr := range tries {
		tr.inv.RequestID = "try-" + string(rune('a'+i))
		tries[i] = tr
		first[i] = h.invoke(tr.invoker, tr.inv, tr.links...)
		if first[i].Err != nil || !tr.check(first[i]) {
			t.Fatalf("%s: %+v", tr.name, first[i])
		}
	}
	// A revoked link: revoked after a first, allowed use.
	h.adminInvoke(CapDelegationRevoke, nil, invocation.Arg{Name: "link", Value: revocable[0].Hash.String()})
	tries = append(tries, try{"revoked chain", bob.KeyID, invocation.Invocation{Capability: "user.read", RequestID: "try-revoked"}, revocable,
		func(r Result) bool { return r.Decision == policy.Deny }})
	first = append(first, h.invoke(bob.KeyID, tries[len(tries)-1].inv, revocable...))

	// A principal re-registered with other metadata: the retry still
	// states the principal as it was judged.
	doc, _ = json.Marshal(principalDoc{PublicKey: dave.PublicKey, AgentID: dave.AgentID, AgentType: dave.AgentType, Tenant: dave.Tenant})
	h.adminInvoke(CapPrincipalRegister, doc)

	retryAll := func(h *harness, when string) {
		t.Helper()
		size, uses := h.store.Head().Size, h.uses(links[0])
		for i, tr := range tries {
			sameAnswer(t, when+": "+tr.name, first[i], h.invoke(tr.invoker, tr.inv, tr.links...))
		}
		if h.store.Head().Size != size || h.uses(links[0]) != uses {
			t.Errorf("%s: retries ledgered or charged: size %d→%d, uses %d→%d", when, size, h.store.Head().Size, uses, h.uses(links[0]))
		}
	}
	retryAll(h, "after the batch")

	// In one batch: the second command retries the first.
	inv := invocation.Invocation{Capability: "user.read", RequestID: "same-batch"}
	cmd := Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: carol.KeyID, Invocation: inv, Links: links[:0]}}
	rs := h.apply(cmd, cmd)
	sameAnswer(t, "in the same batch", rs[0], rs[1])

	h.store.Close()
	h.open()
	retryAll(h, "after a restart")

	snap, _ := h.f.Snapshot()
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	h2.index, h2.now = h.index, h.now
	// The other node's index was built before the restore.
	h2.invoke(h2.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "try-a"})
	if err := h2.f.Restore(ioNopCloser{&s}); err != nil {
		t.Fatal(err)
	}
	retryAll(h2, "after a restore")
}

// A request-table entry an earlier version wrote (the whole Result, under
// its key) still answers a retry, and is forgotten in its turn.
func TestLegacyRequestEntry(t *testing.T) {
	old := maxRequestIDs
	maxRequestIDs = 2
	defer func() { maxRequestIDs = old }()
	h := newHarness(t)
	inv := invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "legacy-1"}
	c := &Invoke{Invoker: h.adminID, Invocation: inv}
	d := requestDigest(c, inv.ArgsDigest())
	recorded := Result{Decision: policy.Allow, Reason: "recorded", LedgerIndex: 1, Time: t0, Invoker: h.adminID, Tenant: "default",
		Judged: h.f.View().Principals[h.adminID]}
	rec := state.RequestRecord[Result]{Digest: hex.EncodeToString(d[:]), Seq: 1, Result: recorded}
	db, err := h.store.KV(state.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx kv.Tx) error {
		key := []byte(string(h.adminID) + "/legacy-1")
		return errors.Join(tx.Put([]byte("requests"), key, codec.MustMarshal(rec)),
			tx.Put([]byte("reqorder"), []byte{0, 0, 0, 0, 0, 0, 0, 1}, key),
			tx.Put([]byte("meta"), []byte("request_seq"), []byte{0, 0, 0, 0, 0, 0, 0, 1}))
	})
	if err != nil {
		t.Fatal(err)
	}
	size := h.store.Head().Size
	r := h.invoke(h.adminID, inv)
	r.Duplicate = false
	if !codec.Equal(r, recorded) || h.store.Head().Size != size {
		t.Fatalf("legacy retry: %+v", r)
	}
	other := inv
	other.Args = []invocation.Arg{{Name: "x", Value: "y"}}
	if r := h.invoke(h.adminID, other); r.Err == nil {
		t.Fatalf("reused legacy id with another body: %+v", r)
	}
	// Two new ids push the legacy entry out.
	h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "new-1"})
	h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "new-2"})
	if r := h.invoke(h.adminID, inv); r.Duplicate {
		t.Fatalf("a forgotten legacy id is still remembered: %+v", r)
	}
}

func TestAnswerEncoding(t *testing.T) {
	for _, a := range []answer{
		{index: 0},
		{index: 1 << 40, version: "1.0.0"},
		{index: 7, hasTenant: true},
		{index: 7, hasTenant: true, tenant: "acme", metadata: map[string]string{"b": "2", "a": ""}},
		{index: 9, hasPolicy: true, decision: policy.Allow, reason: "why"},
	} {
		b := a.encode()
		got, err := decodeAnswer(b)
		if err != nil || !bytes.Equal(got.encode(), b) || got.index != a.index || got.version != a.version ||
			got.tenant != a.tenant || got.reason != a.reason || len(got.metadata) != len(a.metadata) {
			t.Errorf("%+v: %x decodes as %+v %v", a, b, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {0}, {0, 0x10}, {0, 1}, {0, 1, 0}, {0, 4, 0}, {0, 4, 2, 1, 'b', 0, 1, 'a', 0}, {0, 0, 0}, {0x80, 0, 0}} {
		if _, err := decodeAnswer(bad); err == nil {
			t.Errorf("%x decodes", bad)
		}
	}
}

// FuzzAnswer: the request table's answers are read back from the file; a
// damaged one never panics the decoder, and what decodes re-encodes to
// the same bytes.
func FuzzAnswer(f *testing.F) {
	f.Add((&answer{index: 3, version: "2", hasTenant: true, tenant: "t", metadata: map[string]string{"k": "v"},
		hasPolicy: true, decision: policy.Deny, reason: "r"}).encode())
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAnswer(b)
		if err != nil {
			return
		}
		if again := a.encode(); !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x", b, again)
		}
	})
}

// The request table's index is rebuilt when a node restarts and follows
// every batch: a long run with a small bound keeps exactly the newest ids.
func TestRequestTableAcrossRestarts(t *testing.T) {
	old := maxRequestIDs
	maxRequestIDs = 40
	defer func() { maxRequestIDs = old }()
	h := newHarness(t)
	id := func(i int) string { return "id-" + string(rune('A'+i/26)) + string(rune('a'+i%26)) }
	n := 0
	for round := 0; round < 4; round++ {
		for e := 0; e < 10; e++ {
			cmds := make([]Command, 7)
			for i := range cmds {
				cmds[i] = Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID,
					Invocation: invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: id(n)}}}
				n++
			}
			h.apply(cmds...)
		}
		h.store.Close()
		h.open()
	}
	// Retries in one entry, so that a forgotten id decided again does not
	// push out the next one checked.
	cmds := make([]Command, n)
	for i := range cmds {
		cmds[i] = Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID,
			Invocation: invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: id(n - 1 - i)}}}
	}
	h.index++
	h.now += int64(time.Millisecond)
	env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
	data, _ := env.Encode()
	rs := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data}).([]Result)
	for i, r := range rs {
		if want := i < 40; r.Duplicate != want {
			t.Errorf("%s: duplicate %v, want %v", id(n-1-i), r.Duplicate, want)
		}
	}
}
