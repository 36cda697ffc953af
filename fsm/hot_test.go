package fsm

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// hotSetup charges a two-link chain (max_uses on every link) once through
// a normal invocation, as issuing a certificate does, and returns the links.
func hotSetup(t *testing.T, maxUses uint64) (*harness, []Link) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	carol, _ := newPrincipal(t, "carol", principal.Agent, "acme")
	for _, p := range []principal.Principal{alice, bob, carol} {
		h.register(p)
	}
	links := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID, carol.KeyID}, maxUses, "user.read")
	if maxUses > 0 {
		links[0].MaxUses = maxUses * 2 // the root has more left; the leaf limits
	}
	if r := h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.read"}, links...); !r.Allowed() {
		t.Fatalf("certificate invocation: %+v", r)
	}
	return h, links
}

func hashes(links []Link) []delegation.Hash {
	out := make([]delegation.Hash, len(links))
	for i, l := range links {
		out[i] = l.Hash
	}
	return out
}

func (h *harness) lease(id string, links []Link, want uint64, first bool) Result {
	return h.apply(Command{Kind: KindHotLease, HotLease: &HotLease{Lease: id, Node: "n1", Certificate: "cert_1",
		Links: hashes(links), Want: want, First: first}})[0]
}

func (h *harness) settle(id string, spent uint64) Result {
	return h.apply(Command{Kind: KindHotReturn, HotReturn: &HotReturn{Lease: id, Node: "n1", Spent: spent}})[0]
}

func (h *harness) uses(l Link) uint64 {
	h.t.Helper()
	st, ok, err := h.f.LinkStateOf(l.Hash)
	if err != nil || !ok {
		h.t.Fatalf("link state: %v %v", ok, err)
	}
	return st.Uses
}

func TestHotLeaseGrantsWhatEveryLinkHasLeft(t *testing.T) {
	h, links := hotSetup(t, 10) // leaf: 1 of 10 used; root: 1 of 20
	r := h.lease("n1/s1", links, 4, true)
	if r.Err != nil || r.Leased != 4 || h.uses(links[0]) != 5 || h.uses(links[1]) != 5 {
		t.Fatalf("first lease: %+v", r)
	}
	r = h.lease("n1/s1", links, 100, false)
	if r.Err != nil || r.Leased != 5 || h.uses(links[1]) != 10 || h.uses(links[0]) != 10 {
		t.Fatalf("capped lease: %+v uses %d", r, h.uses(links[1]))
	}
	size := h.store.Head().Size
	r = h.lease("n1/s1", links, 1, false)
	if r.Err == nil || r.Err.Kind != cnverr.PermissionDenied || h.store.Head().Size != size || h.uses(links[0]) != 10 {
		t.Fatalf("lease beyond max_uses: %+v", r)
	}
	ev, err := h.store.Event(size - 1)
	if err != nil || ev.Type() != event.TypeHotPathLease || ev.Data.(event.HotPathLease).Uses != 5 {
		t.Fatalf("lease event: %+v %v", ev, err)
	}
	// Settle: 6 of the 9 leased were spent, 3 come back to every link.
	r = h.settle("n1/s1", 6)
	if r.Err != nil || h.uses(links[0]) != 7 || h.uses(links[1]) != 7 {
		t.Fatalf("settle: %+v uses %d", r, h.uses(links[1]))
	}
	ev, _ = h.store.Event(r.LedgerIndex)
	if p := ev.Data.(event.HotPathLease); p.Op != event.LeaseReturned || p.Uses != 3 || p.Spent != 6 {
		t.Fatalf("return event: %+v", p)
	}
	// Settling again, or leasing after settlement, changes nothing.
	size = h.store.Head().Size
	if r := h.settle("n1/s1", 0); r.Err != nil || h.uses(links[1]) != 7 || h.store.Head().Size != size {
		t.Fatalf("second settlement: %+v", r)
	}
	if r := h.lease("n1/s1", links, 1, false); r.Err == nil || r.Err.Kind != cnverr.Conflict {
		t.Fatalf("lease after settlement: %+v", r)
	}
	if n, _ := h.f.HotLeasesOpen(); n != 0 {
		t.Fatalf("%d leases open", n)
	}
}

func TestHotLeaseRefusals(t *testing.T) {
	h, links := hotSetup(t, 0)
	var unknown delegation.Hash
	unknown[0] = 0xee
	if r := h.apply(Command{Kind: KindHotLease, HotLease: &HotLease{Lease: "x", Node: "n1", Certificate: "c",
		Links: []delegation.Hash{unknown}, Want: 1, First: true}})[0]; r.Err == nil || r.Err.Kind != cnverr.NotFound {
		t.Fatalf("unknown link: %+v", r)
	}
	for _, bad := range []HotLease{
		{Lease: "x", Node: "n1", Certificate: "c", Links: hashes(links), Want: 0, First: true},
		{Lease: "", Node: "n1", Certificate: "c", Links: hashes(links), Want: 1, First: true},
		{Lease: "x", Node: "n1", Certificate: "c", Want: 1, First: true},
	} {
		if r := h.apply(Command{Kind: KindHotLease, HotLease: &bad})[0]; r.Err == nil || r.Err.Kind != cnverr.InvalidInput {
			t.Fatalf("malformed lease %+v: %+v", bad, r)
		}
	}
	// Unlimited links are charged too, as invocations are.
	if r := h.lease("a", links, 50, true); r.Err != nil || r.Leased != 50 || h.uses(links[0]) != 51 {
		t.Fatalf("unlimited: %+v", r)
	}
	h.adminInvoke(CapDelegationRevoke, nil, invocation.Arg{Name: "link", Value: links[1].Hash.String()})
	if r := h.lease("a", links, 1, false); r.Err == nil || r.Err.Kind != cnverr.PermissionDenied {
		t.Fatalf("revoked: %+v", r)
	}
	// The session still settles after the revocation.
	if r := h.settle("a", 10); r.Err != nil || h.uses(links[0]) != 11 {
		t.Fatalf("settle after revocation: %+v", r)
	}
	h.now = t0 + int64(2*time.Hour)
	if r := h.lease("b", links[:1], 1, true); r.Err == nil || r.Err.Kind != cnverr.PermissionDenied {
		t.Fatalf("expired: %+v", r)
	}
	if n, _ := h.f.HotLeasesOpen(); n != 0 {
		t.Fatalf("%d leases open after refusals", n)
	}
}

// TestHotLeasesNeverOvershoot runs random leases, spends and settlements
// from several "nodes", some of which crash (never settle) or lose a
// lease's answer, and checks the invariant: spent uses never exceed
// max_uses, and after every live session settled, the link's count is
// exactly what was spent plus what crashed nodes hold.
func TestHotLeasesNeverOvershoot(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const max = 500
	h, links := hotSetup(t, max)
	leaf := links[1]
	type sess struct {
		id                    string
		known, spent, granted uint64
		crashed, closed       bool
	}
	var ss []*sess
	for i := 0; i < 12; i++ {
		ss = append(ss, &sess{id: fmt.Sprintf("n%d/s%d", i%3, i)})
	}
	spentTotal := uint64(1) // the certificate's own invocation
	for step := 0; step < 400; step++ {
		s := ss[rng.Intn(len(ss))]
		if s.crashed || s.closed {
			continue
		}
		switch op := rng.Intn(10); {
		case op < 5:
			r := h.lease(s.id, links, uint64(1+rng.Intn(60)), s.granted == 0)
			if r.Err == nil {
				s.granted += r.Leased
				if rng.Intn(8) > 0 { // else the answer was lost on the way back
					s.known += r.Leased
				}
			}
		case op < 8:
			n := uint64(rng.Intn(int(s.known-s.spent) + 1))
			s.spent += n
			spentTotal += n
		case op < 9:
			s.crashed = true
		default:
			if r := h.settle(s.id, s.spent); r.Err != nil {
				t.Fatalf("settle: %+v", r)
			}
			s.closed = true
		}
		if spentTotal > max || h.uses(leaf) > max {
			t.Fatalf("step %d: spent %d, charged %d, max %d", step, spentTotal, h.uses(leaf), max)
		}
	}
	held := uint64(0)
	for _, s := range ss {
		switch {
		case s.crashed:
			held += s.granted - s.spent
		case !s.closed:
			h.settle(s.id, s.spent)
		}
	}
	if got, want := h.uses(leaf), spentTotal+held; got != want {
		t.Fatalf("leaf charged %d, want spent %d + held by crashed nodes %d", got, spentTotal, held)
	}
}

func TestHotBatchLedgered(t *testing.T) {
	h := newHarness(t)
	d := "cc00000000000000000000000000000000000000000000000000000000000000"
	b := event.HotPathBatch{NodeID: "n1", Since: t0, Until: t0 + 5, Shards: []event.ShardCount{{Shard: 0, Count: 3}}, Total: 3,
		Digest: d, Sessions: []event.HotPathSession{{Certificate: "cert_1", Number: 1, Count: 3, OK: 3, First: t0, Last: t0 + 5, Prev: d, Digest: d}}}
	r := h.apply(Command{Kind: KindHotBatch, HotBatch: &HotBatch{Batch: b}})[0]
	if r.Err != nil {
		t.Fatalf("%+v", r)
	}
	ev, err := h.store.Event(r.LedgerIndex)
	if err != nil || ev.Type() != event.TypeHotPathBatch || ev.Actor != "n1" {
		t.Fatalf("%+v %v", ev, err)
	}
	// An invalid batch is refused without poisoning the entry: the valid
	// command beside it still applies.
	bad := b
	bad.Total = 4
	size := h.store.Head().Size
	rs := h.apply(Command{Kind: KindHotBatch, HotBatch: &HotBatch{Batch: bad}}, Command{Kind: KindHotBatch, HotBatch: &HotBatch{Batch: b}})
	if rs[0].Err == nil || rs[1].Err != nil || h.store.Head().Size != size+1 {
		t.Fatalf("%+v", rs)
	}
	if rep, err := h.store.Verify(ledger.VerifyOptions{}); err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

func TestHotKindsAreNodeProposable(t *testing.T) {
	for _, k := range []Kind{KindHotLease, KindHotReturn, KindHotBatch} {
		if !NodeProposable(k) {
			t.Errorf("kind %d not proposable", k)
		}
	}
	for _, k := range []Kind{KindBootstrap, KindNode, KindNodeLeft, KindInvoke, KindMembership} {
		if NodeProposable(k) {
			t.Errorf("kind %d proposable", k)
		}
	}
	// A kind whose body is another kind's is malformed.
	c := Command{Kind: KindHotLease, HotReturn: &HotReturn{Lease: "x", Node: "n"}}
	if err := c.check(); err == nil {
		t.Fatal("mismatched body accepted")
	}
}

// FuzzHotLeaseOps drives leases and settlements from an op stream (3 bytes
// each: op, session, amount) and checks that no link is ever charged past
// its max_uses, and that once every session settled, the leaf counts
// exactly the uses spent.
func FuzzHotLeaseOps(f *testing.F) {
	f.Add([]byte{0, 0, 10, 1, 0, 5, 2, 0, 0})
	f.Add([]byte{0, 1, 200, 0, 2, 200, 0, 1, 200, 2, 1, 0, 2, 2, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 3*64 {
			return
		}
		const max = 100
		h, links := hotSetup(t, max)
		leased, spent := map[int]uint64{}, map[int]uint64{}
		total := uint64(1) // the certificate's invocation
		for i := 0; i+2 < len(ops); i += 3 {
			s, n := int(ops[i+1]%4), uint64(ops[i+2])
			id := fmt.Sprintf("n1/%d", s)
			switch ops[i] % 3 {
			case 0:
				if r := h.lease(id, links, n+1, leased[s] == 0); r.Err == nil {
					leased[s] += r.Leased
				}
			case 1:
				d := min(n, leased[s]-spent[s])
				spent[s] += d
				total += d
			case 2:
				h.settle(id, spent[s])
				delete(leased, s)
				delete(spent, s)
			}
			if u := h.uses(links[1]); u > max || u < total {
				t.Fatalf("op %d: leaf charged %d, spent %d, max %d", i/3, u, total, max)
			}
		}
		for s := range leased {
			h.settle(fmt.Sprintf("n1/%d", s), spent[s])
		}
		if u := h.uses(links[1]); u != total {
			t.Fatalf("after settling: leaf charged %d, spent %d", u, total)
		}
	})
}

func TestHotLeasesOfListsByNode(t *testing.T) {
	h, links := hotSetup(t, 0)
	h.lease("a", links, 1, true)
	h.apply(Command{Kind: KindHotLease, HotLease: &HotLease{Lease: "b", Node: "n2", Certificate: "c", Links: hashes(links), Want: 1, First: true}})
	h.lease("c", links, 1, true)
	h.settle("c", 0)
	if ids, err := h.f.HotLeasesOf("n1"); err != nil || fmt.Sprint(ids) != "[a]" {
		t.Fatalf("%v %v", ids, err)
	}
	// Settling as fully spent frees the record and credits nothing.
	u := h.uses(links[0])
	h.apply(Command{Kind: KindHotReturn, HotReturn: &HotReturn{Lease: "b", Node: "n2", Spent: ^uint64(0)}})
	if ids, _ := h.f.HotLeasesOf("n2"); len(ids) != 0 || h.uses(links[0]) != u {
		t.Fatalf("%v, uses %d -> %d", ids, u, h.uses(links[0]))
	}
}
