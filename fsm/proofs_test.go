package fsm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
)

func (h *harness) entry(cmds ...Command) *raft.Log {
	h.t.Helper()
	h.index++
	env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
	data, err := env.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	return &raft.Log{Index: h.index, Type: raft.LogCommand, Data: data}
}

func checkpointCmd(h *harness, id string) Command {
	return Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: id}}}
}

// Every event an entry appended is proved, from memory, into the ledger
// at the end of that entry, exactly as the store would prove it.
func TestBatchProofsPerEntry(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(`{"capabilities":[{"path":"x.run","effects":["read_only"]}]}`))
	run := func(id string) Command {
		return Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{Capability: "x.run", RequestID: id}}}
	}
	// Three entries in one ApplyBatch: 3 decisions, 1 decision and its
	// checkpoint, and a retry (no event).
	logs := []*raft.Log{h.entry(run("a"), run("b"), run("c")), h.entry(checkpointCmd(h, "cp")), h.entry(run("a"))}
	before := h.store.Head().Size
	out := h.f.ApplyBatch(logs)
	sizes := []uint64{before + 3, before + 5}
	for i, l := range logs[:2] {
		p, ok := h.f.BatchProofs(l.Index)
		if !ok || p.Size() != sizes[i] || p.Begin() != sizes[i]-uint64(p.Len()) {
			t.Fatalf("entry %d: %v, size %d, want %d", l.Index, ok, p.Size(), sizes[i])
		}
		root, _ := h.store.Root(p.Size())
		if !bytes.Equal(p.Root(), root) {
			t.Fatalf("entry %d: root differs", l.Index)
		}
		for _, r := range out[i].([]Result) {
			got, err := p.Inclusion(r.LedgerIndex)
			if err != nil {
				t.Fatal(err)
			}
			want, err := h.store.InclusionProof(r.LedgerIndex, p.Size())
			if err != nil {
				t.Fatal(err)
			}
			for j := range want.Proof {
				if !bytes.Equal(got[j], want.Proof[j]) {
					t.Fatalf("entry %d, event %d: proof differs", l.Index, r.LedgerIndex)
				}
			}
			if len(got) != len(want.Proof) || proof.VerifyInclusion(rfc6962.DefaultHasher, r.LedgerIndex, p.Size(), r.LeafHash, got, p.Root()) != nil {
				t.Fatalf("entry %d, event %d: proof does not verify", l.Index, r.LedgerIndex)
			}
		}
	}
	if _, ok := h.f.BatchProofs(logs[2].Index); ok {
		t.Fatal("an entry that appended nothing has proofs")
	}
	if _, ok := h.f.BatchProofs(logs[2].Index + 1); ok {
		t.Fatal("an entry not applied has proofs")
	}

	// A restored snapshot is another ledger: the proofs kept are dropped.
	snap, _ := h.f.Snapshot()
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	if err := h.f.Restore(ioNopCloser{&s}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.f.BatchProofs(logs[0].Index); ok {
		t.Fatal("proofs kept across a restore")
	}
}

// The ring keeps the latest entries within its bounds, the newest always.
func TestRecentProofsBounded(t *testing.T) {
	h := newHarness(t)
	first := h.index + 1
	n := limits.MaxRecentEntryProofs + 10
	logs := make([]*raft.Log, 0, n)
	for i := 0; i < n; i++ {
		logs = append(logs, h.entry(checkpointCmd(h, fmt.Sprintf("id-%d", i))))
	}
	h.f.ApplyBatch(logs)
	for i, l := range logs {
		_, ok := h.f.BatchProofs(l.Index)
		if want := i >= 10; ok != want {
			t.Fatalf("entry %d (of %d from %d): kept %v, want %v", l.Index, n, first, ok, want)
		}
	}
	// Events beyond MaxRecentProofEvents push out older entries: an
	// entry of 100 checkpoint invocations holds 200 events.
	cmds := make([]Command, 100)
	for i := range cmds {
		cmds[i] = checkpointCmd(h, fmt.Sprintf("big-%d", i))
	}
	l := h.entry(cmds...)
	h.f.Apply(l)
	big, ok := h.f.BatchProofs(l.Index)
	if !ok || big.Len() != 200 {
		t.Fatalf("%v %d", ok, big.Len())
	}
	var r recentProofs
	fit := limits.MaxRecentProofEvents / 200
	for i := 0; i < fit+5; i++ {
		r.add([]entryProofs{{index: uint64(i + 1), proofs: big}})
	}
	if r.leaves > limits.MaxRecentProofEvents || r.n != fit {
		t.Fatalf("%d entries, %d events kept, want %d entries", r.n, r.leaves, fit)
	}
	if _, ok := r.get(5); ok {
		t.Fatal("an old entry is kept")
	}
	if p, ok := r.get(uint64(fit + 5)); !ok || p != big {
		t.Fatal("the newest entry is not kept")
	}
	// One entry beyond the bound alone is kept.
	r.reset()
	r.add([]entryProofs{{index: 1, proofs: big}})
	if _, ok := r.get(1); !ok {
		t.Fatal("after reset")
	}
}
