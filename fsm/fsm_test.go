package fsm

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).UnixNano()

type harness struct {
	t       testing.TB
	dir     string
	store   *ledger.Store
	f       *FSM
	index   uint64
	now     int64
	admin   ed25519.PrivateKey
	adminID principal.KeyID
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), now: t0}
	h.open()
	_, priv, _ := principal.Generate(nil)
	h.admin, h.adminID = priv, principal.IDOf(priv.Public().(ed25519.PublicKey))
	h.apply(Command{Kind: KindBootstrap, Bootstrap: &Bootstrap{AdminKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}}})
	return h
}

func (h *harness) open() {
	h.t.Helper()
	st, err := ledger.Open(filepath.Join(h.dir, "state.db"), ledger.Options{NoSync: true})
	if err != nil {
		h.t.Fatal(err)
	}
	f, err := New(st, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.store, h.f = st, f
	h.t.Cleanup(func() { st.Close() })
}

// apply commits one entry with the given commands and returns the results.
func (h *harness) apply(cmds ...Command) []Result {
	h.t.Helper()
	h.index++
	h.now += int64(time.Millisecond)
	env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
	data, err := env.Encode()
	if err != nil {
		h.t.Fatal(err)
	}
	out := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data})
	return out.([]Result)
}

func (h *harness) invoke(invoker principal.KeyID, inv invocation.Invocation, links ...Link) Result {
	h.t.Helper()
	if inv.RequestID == "" {
		inv.RequestID = "r" + time.Unix(0, h.now).Format("150405.000000000")
	}
	return h.apply(Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: invoker, Invocation: inv, Links: links}})[0]
}

func (h *harness) adminInvoke(capPath string, payload []byte, args ...invocation.Arg) Result {
	h.t.Helper()
	r := h.invoke(h.adminID, invocation.Invocation{Capability: capPath, Payload: payload, Args: args})
	if !r.Allowed() {
		h.t.Fatalf("admin %s: %+v", capPath, r)
	}
	return r
}

func (h *harness) register(p principal.Principal) {
	doc, _ := json.Marshal(principalDoc{PublicKey: p.PublicKey, AgentID: p.AgentID, AgentType: p.AgentType, Tenant: p.Tenant, Admin: p.Admin})
	h.adminInvoke(CapPrincipalRegister, doc)
}

func newPrincipal(t *testing.T, id string, at principal.AgentType, tenant string) (principal.Principal, ed25519.PrivateKey) {
	pub, priv, _ := principal.Generate(nil)
	return principal.New(pub, id, at, tenant), priv
}

const capsFile = `{"capabilities":[
 {"path":"user.create","version":"1.0.0","effects":["mutate_state"],"input":"UserSpec","output":"User"},
 {"path":"user.read","effects":["read_only"],"input":"UserId","output":"User"},
 {"path":"user.delete","effects":["mutate_state"]}]}`

const agentPolicy = `{"default":"deny","rules":[
 {"name":"admins","priority":100,"when":[{"type":"admin"}],"action":{"type":"allow"}},
 {"name":"humans-users","priority":10,"when":[{"type":"agent_type","agent_type":"human"},{"type":"capability","pattern":"user.*"}],"action":{"type":"allow"}},
 {"name":"agents-read","priority":10,"when":[{"type":"agent_type","agent_type":"agent"},{"type":"effect_type","effect":"read_only"}],"action":{"type":"allow"}}]}`

func TestBootstrapAndAdminOnlyPolicy(t *testing.T) {
	h := newHarness(t)
	v := h.f.View()
	if !v.Bootstrapped || !v.Principals[h.adminID].Admin {
		t.Fatal("admin not registered")
	}
	// A second bootstrap is a no-op.
	_, other, _ := principal.Generate(nil)
	h.apply(Command{Kind: KindBootstrap, Bootstrap: &Bootstrap{AdminKeys: []ed25519.PublicKey{other.Public().(ed25519.PublicKey)}}})
	if len(h.f.View().Principals) != 1 {
		t.Fatal("second bootstrap applied")
	}
	// A registered non-admin is denied by the bootstrap policy, and the
	// denial is ledgered.
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	h.register(bob)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	size := h.store.Head().Size
	r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.read"})
	if r.Err != nil || r.Decision != policy.Deny || r.Reason != policy.DefaultDenyReason {
		t.Fatalf("%+v", r)
	}
	if h.store.Head().Size != size+1 || r.LedgerIndex != size {
		t.Fatalf("denial not ledgered: size %d index %d", h.store.Head().Size, r.LedgerIndex)
	}
	ev, err := h.store.Event(r.LedgerIndex)
	if err != nil || ev.Data.(event.PolicyDecision).Result.Decision != policy.Deny {
		t.Fatalf("%+v %v", ev, err)
	}
}

func TestRejectionsLedgerNothing(t *testing.T) {
	h := newHarness(t)
	size := h.store.Head().Size
	stranger, _ := newPrincipal(t, "x", principal.Agent, "acme")
	if r := h.invoke(stranger.KeyID, invocation.Invocation{Capability: "policy.set"}); r.Err == nil || r.Err.Kind != cnverr.Unauthenticated {
		t.Errorf("unknown invoker: %+v", r)
	}
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: "user.create"}); r.Err == nil || r.Err.Kind != cnverr.CommandNotFound {
		t.Errorf("unknown capability: %+v", r)
	}
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: CapPolicySet, Payload: []byte("{bad")}); r.Err == nil || r.Err.Kind != cnverr.InvalidInput {
		t.Errorf("bad policy payload: %+v", r)
	}
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: CapCapabilityRegister, Payload: []byte(`{"capabilities":[{"path":"a.b"}],"edges":[{"from":"a.b","to":"c.d","type":"produces"}]}`)}); r.Err == nil {
		t.Errorf("dangling edge registered: %+v", r)
	}
	if h.store.Head().Size != size {
		t.Fatalf("rejections were ledgered: %d → %d", size, h.store.Head().Size)
	}
}

func TestGovernanceFlow(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	if _, ok := h.f.View().Capability(capability.Ref{Path: "user.create", Version: "1.0.0"}); !ok {
		t.Fatal("capability not registered")
	}
	if h.f.View().Graph.Len() != len(builtins)+len(hotBuiltins)+3 {
		t.Fatalf("graph has %d nodes", h.f.View().Graph.Len())
	}
	// Registering the same capability again is refused.
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: CapCapabilityRegister, Payload: []byte(capsFile)}); r.Err == nil {
		t.Fatal("duplicate registration accepted")
	}
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	if h.f.View().Policy.Hash() == policy.AdminOnly().Hash() {
		t.Fatal("policy not replaced")
	}
	if h.store.Head().PolicyHash != h.f.View().Policy.Hash() {
		t.Errorf("ledger head policy %q", h.store.Head().PolicyHash)
	}
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	bot, _ := newPrincipal(t, "bot", principal.Agent, "acme")
	h.register(alice)
	h.register(bot)
	if r := h.invoke(alice.KeyID, invocation.Invocation{Capability: "user.create@1.0.0", Args: []invocation.Arg{{Name: "name", Value: "x"}}}); !r.Allowed() || r.Policy.MatchedRule != "humans-users" {
		t.Fatalf("alice create: %+v", r)
	}
	if r := h.invoke(bot.KeyID, invocation.Invocation{Capability: "user.read"}); !r.Allowed() {
		t.Fatalf("bot read: %+v", r)
	}
	if r := h.invoke(bot.KeyID, invocation.Invocation{Capability: "user.delete"}); r.Allowed() {
		t.Fatalf("bot delete allowed: %+v", r)
	}
	// Acting in another tenant is denied for non-admins.
	if r := h.invoke(bot.KeyID, invocation.Invocation{Capability: "user.read", Tenant: "globex"}); r.Allowed() {
		t.Fatalf("cross-tenant allowed: %+v", r)
	}
}

func TestRequestIDDedup(t *testing.T) {
	h := newHarness(t)
	inv := invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "req-1"}
	first := h.invoke(h.adminID, inv)
	size := h.store.Head().Size
	again := h.invoke(h.adminID, inv)
	if !again.Duplicate || again.LedgerIndex != first.LedgerIndex || h.store.Head().Size != size {
		t.Fatalf("retry applied again: %+v (size %d→%d)", again, size, h.store.Head().Size)
	}
	inv.Args = []invocation.Arg{{Name: "x", Value: "y"}}
	if r := h.invoke(h.adminID, inv); r.Err == nil || r.Err.Kind != cnverr.Conflict {
		t.Fatalf("reused id with another body: %+v", r)
	}
}

func TestRequestTableBounded(t *testing.T) {
	old := maxRequestIDs
	maxRequestIDs = 3
	defer func() { maxRequestIDs = old }()
	h := newHarness(t)
	for i := 0; i < 5; i++ {
		h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: string(rune('a' + i))})
	}
	size := h.store.Head().Size
	// "a" and "b" were forgotten: a retry is applied again.
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "a"}); r.Duplicate || h.store.Head().Size == size {
		t.Fatalf("forgotten id still deduplicated: %+v", r)
	}
	if r := h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "e"}); !r.Duplicate {
		t.Fatalf("recent id not deduplicated: %+v", r)
	}
}

// chain builds links origin → ... → last with the given max uses.
func chain(t *testing.T, keys []principal.KeyID, maxUses uint64, allow ...string) []Link {
	var links []Link
	c, err := delegation.NewConstraints(allow, nil, []string{"*"}, []string{"*"}, capability.LevelMutate)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(keys); i++ {
		var hsh delegation.Hash
		copy(hsh[:], []byte(string(keys[i])+string(keys[i+1])))
		hsh[31] = byte(i)
		links = append(links, Link{Hash: hsh, Issuer: keys[i], Audience: keys[i+1], Constraints: c,
			NotBefore: t0 - int64(time.Hour), NotAfter: t0 + int64(time.Hour), MaxUses: maxUses})
	}
	return links
}

func TestDelegatedInvocation(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	carol, _ := newPrincipal(t, "carol", principal.Agent, "acme")
	for _, p := range []principal.Principal{alice, bob, carol} {
		h.register(p)
	}
	links := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID, carol.KeyID}, 2, "user.*")
	// carol is an agent: on her own she may not create users, but through
	// alice's chain she is judged as alice (human).
	if r := h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.create@1.0.0"}); r.Allowed() {
		t.Fatalf("carol alone: %+v", r)
	}
	r := h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.create@1.0.0"}, links...)
	if !r.Allowed() || r.Judged.KeyID != alice.KeyID || len(r.UseCounts) != 2 || r.UseCounts[0].Used != 1 || r.UseCounts[1].Used != 1 {
		t.Fatalf("delegated: %+v", r)
	}
	if r := h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.read"}, links...); !r.Allowed() {
		t.Fatalf("second use: %+v", r)
	}
	// max_uses 2 on every link: the third use is denied and charges nothing.
	r = h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.read"}, links...)
	if r.Allowed() || r.Decision != policy.Deny {
		t.Fatalf("third use: %+v", r)
	}
	st, _, _ := h.f.LinkStateOf(links[0].Hash)
	if st.Uses != 2 {
		t.Fatalf("uses %d after a refused charge", st.Uses)
	}
	// Chain for another invoker, broken linkage, level too high.
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.read"}, links...); r.Allowed() {
		t.Fatal("chain used by the wrong invoker")
	}
	broken := []Link{links[1], links[0]}
	if r := h.invoke(carol.KeyID, invocation.Invocation{Capability: "user.read"}, broken...); r.Allowed() {
		t.Fatal("broken chain allowed")
	}
}

func TestChainWindowAndRevocation(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	h.register(alice)
	h.register(bob)
	links := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID}, 0, "user.read")
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.read"}, links...); !r.Allowed() {
		t.Fatalf("%+v", r)
	}
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.create@1.0.0"}, links...); r.Allowed() {
		t.Fatal("capability outside the chain's allow list")
	}
	h.adminInvoke(CapDelegationRevoke, nil, invocation.Arg{Name: "link", Value: links[0].Hash.String()})
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.read"}, links...); r.Allowed() {
		t.Fatal("revoked chain allowed")
	}
	// Time passes beyond not_after: the leader's stamp decides.
	links2 := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID}, 0, "user.read")
	links2[0].Hash[0] ^= 0xff
	h.now = t0 + int64(2*time.Hour)
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.read"}, links2...); r.Allowed() {
		t.Fatal("expired chain allowed")
	}
}

func TestTimeNeverGoesBackwards(t *testing.T) {
	h := newHarness(t)
	r1 := h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint})
	h.now -= int64(time.Hour)
	r2 := h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint})
	if r2.Time < r1.Time {
		t.Fatalf("time went backwards: %d < %d", r2.Time, r1.Time)
	}
}

func TestMalformedEntryChangesNothing(t *testing.T) {
	h := newHarness(t)
	size := h.store.Head().Size
	h.index++
	out := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: []byte{0xc1, 0x00}}).([]Result)
	if out[0].Err == nil || h.store.Head().Size != size || h.f.AppliedIndex() != h.index {
		t.Fatalf("%+v", out)
	}
}

// A damaged entry (checksum mismatch) stops the node rather than letting
// it apply something the other replicas did not.
func TestCorruptEntryStops(t *testing.T) {
	h := newHarness(t)
	env := Envelope{Version: EnvelopeVersion, Time: 1, Commands: []Command{{Kind: KindNodeLeft, NodeLeft: &NodeLeft{ID: "x"}}}}
	data, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0x01
	if _, err := DecodeEnvelope(data); !errors.Is(err, ErrCorruptEntry) {
		t.Fatalf("decode: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("applying a damaged entry did not stop the node")
		}
	}()
	h.index++
	h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data})
}

// An entry at or below the stored applied index is skipped (restart replay).
func TestReplayAfterRestartSkipsApplied(t *testing.T) {
	h := newHarness(t)
	inv := Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "x"}}}
	h.apply(inv)
	env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: []Command{inv}}
	data, _ := env.Encode()
	size := h.store.Head().Size
	h.store.Close()
	h.open()
	h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: data})
	if h.store.Head().Size != size {
		t.Fatal("re-applied an applied entry")
	}
	if !h.f.View().Bootstrapped || len(h.f.View().Principals) != 1 {
		t.Fatal("state not reloaded")
	}
}

type sink struct {
	bytes.Buffer
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { return nil }
func (s *sink) Close() error  { return nil }

func TestSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	snap, _ := h.f.Snapshot()
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	want := h.store.Head()
	wantView := h.f.View()

	h2 := newHarness(t) // another node with different state
	if err := h2.f.Restore(ioNopCloser{&s}); err != nil {
		t.Fatal(err)
	}
	got := h2.store.Head()
	if got.Size != want.Size || !bytes.Equal(got.Root, want.Root) || got.AppliedIndex != want.AppliedIndex {
		t.Fatalf("restored head %+v, want %+v", got, want)
	}
	v := h2.f.View()
	if v.Policy.Hash() != wantView.Policy.Hash() || v.Graph.Hash() != wantView.Graph.Hash() || len(v.Principals) != len(wantView.Principals) {
		t.Fatal("restored view differs")
	}
}

type ioNopCloser struct{ *sink }

func (ioNopCloser) Close() error { return nil }

func FuzzDecodeEnvelope(f *testing.F) {
	env := Envelope{Version: EnvelopeVersion, Time: 1, Commands: []Command{{Kind: KindNodeLeft, NodeLeft: &NodeLeft{ID: "n1"}}}}
	b, _ := env.Encode()
	f.Add(b)
	env.Commands = []Command{memberCmd(Membership{Change: event.MemberRemoved, NodeID: "n1", By: "token", Cause: "x"})}
	b, _ = env.Encode()
	f.Add(b)
	f.Add([]byte{0x83})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEnvelope(data)
		if err != nil {
			return
		}
		for i := range e.Commands {
			if err := e.Commands[i].check(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// A batch commits the ledger events and the replicated state of all its
// entries in one transaction: when applying stops the node partway (here
// a damaged second entry), neither the first entry's events nor its state
// changes (a principal, link charges, a request id) are kept, and both
// stay at the same applied index.
func TestBatchIsAtomic(t *testing.T) {
	h := newHarness(t)
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice, _ := newPrincipal(t, "alice", principal.Human, "acme")
	h.register(alice)
	bob, _ := newPrincipal(t, "bob", principal.Agent, "acme")
	links := chain(t, []principal.KeyID{alice.KeyID, h.adminID}, 5, "user.*")
	before, applied := h.store.Head(), h.f.AppliedIndex()

	doc, _ := json.Marshal(principalDoc{PublicKey: bob.PublicKey, AgentID: bob.AgentID, AgentType: bob.AgentType, Tenant: bob.Tenant})
	entry := func(cmds ...Command) []byte {
		env := Envelope{Version: EnvelopeVersion, Time: h.now, Commands: cmds}
		b, err := env.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := entry(
		Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{Capability: CapPrincipalRegister, Payload: doc, RequestID: "reg-bob"}}},
		Command{Kind: KindInvoke, Invoke: &Invoke{Invoker: h.adminID, Invocation: invocation.Invocation{Capability: "user.read", RequestID: "read-1"}, Links: links}})
	damaged := entry(Command{Kind: KindNodeLeft, NodeLeft: &NodeLeft{ID: "x"}})
	damaged[len(damaged)-1] ^= 1
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("a damaged entry did not stop the node")
			}
		}()
		h.f.ApplyBatch([]*raft.Log{
			{Index: h.index + 1, Type: raft.LogCommand, Data: good},
			{Index: h.index + 2, Type: raft.LogCommand, Data: damaged},
		})
	}()
	check := func(when string) {
		t.Helper()
		if got := h.store.Head(); got.Size != before.Size || !bytes.Equal(got.Root, before.Root) || h.f.AppliedIndex() != applied {
			t.Fatalf("%s: ledger moved: %+v, want %+v", when, got, before)
		}
		if _, ok := h.f.View().Principal(bob.KeyID); ok {
			t.Fatalf("%s: bob registered", when)
		}
		if _, found, err := h.f.LinkStateOf(links[0].Hash); found || err != nil {
			t.Fatalf("%s: link charged (%v %v)", when, found, err)
		}
	}
	check("after the failed batch")
	h.store.Close()
	h.open()
	check("after a restart")
	// The good entry applies on its own, and its request id is new.
	h.index++
	r := h.f.Apply(&raft.Log{Index: h.index, Type: raft.LogCommand, Data: good}).([]Result)
	if !r[0].Allowed() || r[0].Duplicate || !r[1].Allowed() || r[1].Duplicate {
		t.Fatalf("%+v", r)
	}
	if _, ok := h.f.View().Principal(bob.KeyID); !ok {
		t.Fatal("bob not registered")
	}
}
