package fsm

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// seededKey is a fixed key per name, so a scenario's key ids, link hashes,
// events and state are the same on every run.
func seededKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("cnv-test-key/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func seededPrincipal(name string, at principal.AgentType, tenant string) principal.Principal {
	return principal.New(seededKey(name).Public().(ed25519.PublicKey), name, at, tenant)
}

// newSeededHarness is newHarness with a fixed admin key.
func newSeededHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), now: t0}
	h.open()
	priv := seededKey("admin")
	h.admin, h.adminID = priv, principal.IDOf(priv.Public().(ed25519.PublicKey))
	h.apply(Command{Kind: KindBootstrap, Bootstrap: &Bootstrap{AdminKeys: []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}}})
	return h
}

// pinnedScenario touches every part of the replicated state: principals,
// nodes (one joins and leaves), the registry, the policy, link states
// (charged and revoked), the request-id table and an open hot-path lease.
func pinnedScenario(t *testing.T, h *harness) {
	for _, n := range []string{"n1", "n2"} {
		pub := seededKey(n).Public().(ed25519.PublicKey)
		h.apply(Command{Kind: KindNode, Node: &Node{ID: n, RaftAddr: n + ":7000", APIAddr: n + ":8080", PublicKey: pub, Voter: true}})
	}
	h.apply(Command{Kind: KindNodeLeft, NodeLeft: &NodeLeft{ID: "n2", Reason: "test"}})
	h.adminInvoke(CapCapabilityRegister, []byte(capsFile))
	h.adminInvoke(CapPolicySet, []byte(agentPolicy))
	alice := seededPrincipal("alice", principal.Human, "acme")
	bob := seededPrincipal("bob", principal.Agent, "acme")
	carol := seededPrincipal("carol", principal.Agent, "acme")
	for _, p := range []principal.Principal{alice, bob, carol} {
		doc, _ := json.Marshal(principalDoc{PublicKey: p.PublicKey, AgentID: p.AgentID, AgentType: p.AgentType, Tenant: p.Tenant})
		h.adminInvoke(CapPrincipalRegister, doc)
	}
	links := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID, carol.KeyID}, 5, "user.*")
	inv := invocation.Invocation{Capability: "user.read", RequestID: "read-1"}
	if r := h.invoke(carol.KeyID, inv, links...); !r.Allowed() {
		t.Fatalf("delegated read: %+v", r)
	}
	if r := h.invoke(carol.KeyID, inv, links...); !r.Duplicate {
		t.Fatalf("retry: %+v", r)
	}
	if r := h.invoke(bob.KeyID, invocation.Invocation{Capability: "user.delete", RequestID: "del-1"}); r.Allowed() {
		t.Fatalf("bob delete: %+v", r)
	}
	if r := h.lease("n1/s1", links, 2, true); r.Err != nil {
		t.Fatalf("lease: %+v", r)
	}
	other := chain(t, []principal.KeyID{alice.KeyID, bob.KeyID}, 0, "user.read")
	h.adminInvoke(CapDelegationRevoke, nil, invocation.Arg{Name: "link", Value: other[0].Hash.String()}, invocation.Arg{Name: "reason", Value: "test"})
	h.now += int64(time.Second)
	h.invoke(h.adminID, invocation.Invocation{Capability: CapLedgerCheckpoint, RequestID: "cp-1"})
}

// dumpState hashes every non-empty bucket of the file outside the ledger's
// (name, then each key and value, length-prefixed, in key order).
func dumpState(t *testing.T, path string) map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]string{}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			if strings.HasPrefix(string(name), "ledger.") || b.Stats().KeyN == 0 {
				return nil
			}
			h := sha256.New()
			put := func(p []byte) {
				var n [8]byte
				binary.BigEndian.PutUint64(n[:], uint64(len(p)))
				h.Write(n[:])
				h.Write(p)
			}
			err := b.ForEach(func(k, v []byte) error {
				put(k)
				put(v)
				return nil
			})
			out[string(name)] = hex.EncodeToString(h.Sum(nil))
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The bytes of the replicated state and of the ledger that a fixed
// scenario leaves are pinned: a change to how state or events are stored
// (bucket names, keys, value encodings, event encoding) fails here.
func TestPinnedStateBytes(t *testing.T) {
	h := newSeededHarness(t)
	pinnedScenario(t, h)
	head := h.store.Head()
	h.store.Close()
	got := dumpState(t, filepath.Join(h.dir, "state.db"))
	want := map[string]string{
		"fsm.caps":       "3f91e4609ab326a35db086097af45699d46ef5d65929e9d2dae1caad7e717772",
		"fsm.hotleases":  "ad9a0a6c2126353b77c1f7042991de50b63b7e9088684ca249ca4a3fa76421c5",
		"fsm.links":      "6abc7249f31601d1678234fca3242eee3cddab776fb1183b9c891bb7c38ba114",
		"fsm.meta":       "53bcd74a7ebcd930b67db051f24efa13b0daa8f15f392cf7bec2fc44ced4ddc7",
		"fsm.nodes":      "b91d02be35ae49248cd1f3db85682614de6624116a17a46a264e3a837749addc",
		"fsm.principals": "1857463378f31afbafad87ae3dc877fe1d595cc790cf0be0abf6b8848b03ea3f",
		// The request-id table: one log of compact entries (sequence →
		// key, digest, ledger index and what the event does not hold)
		// since the write-path redesign, in place of fsm.requests (key →
		// the whole Result) and fsm.reqorder (sequence → key), which
		// pinned 7ed1007d… and d1c3cfcc… here; see fsm/state/requests.go.
		"fsm.reqlog": "d8658f7b58b2acd1f60b86434ddac4d313943be45ef99ad35e37141cf6a9de22",
	}
	const wantRoot = "fec171f6486a152c01b1549ef8293916c42f43b83e3e0df440c0af1dbbc35bd2"
	if head.Root.String() != wantRoot || head.Size != 23 {
		t.Errorf("ledger size %d root %s, want %s", head.Size, head.Root, wantRoot)
	}
	for name, sum := range got {
		if want[name] != sum {
			t.Errorf("bucket %s: %s, want %s", name, sum, want[name])
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("bucket %s missing", name)
		}
	}
}
