// Package statetest is the conformance suite of the replicated state's
// store: every backing (memory, a bbolt file, the ledger's namespace of
// its file) runs RunStoreTests from its own tests.
package statetest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Opener returns a store over a new, empty backing for one test. For a
// persistent backing reopen closes it and opens the same data again,
// returning the reopened store; it is nil for one that keeps nothing.
type Opener func(t *testing.T) (s *state.Store, reopen func() *state.Store)

// RunStoreTests runs the conformance suite against the stores open
// returns.
func RunStoreTests(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s *state.Store, reopen func() *state.Store)
	}{
		{"Empty", testEmpty},
		{"Meta", testMeta},
		{"Principals", testPrincipals},
		{"Nodes", testNodes},
		{"Tombstones", testTombstones},
		{"CapabilityFilesInOrder", testCapabilityFiles},
		{"Links", testLinks},
		{"HotLeases", testHotLeases},
		{"Requests", testRequests},
		{"RequestEvictionOrder", testRequestEviction},
		{"RequestIndex", testRequestIndex},
		{"ReadYourWrites", testReadYourWrites},
		{"RollbackOnError", testRollback},
		{"Reopen", testReopen},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, reopen := open(t)
			c.fn(t, s, reopen)
		})
	}
}

// result stands for the FSM's result type in request records.
type result struct {
	Decision string   `json:"decision"`
	Index    uint64   `json:"ledger_index"`
	Counts   []uint64 `json:"counts,omitempty"`
}

// record is a request-table entry with the test's answer decoded.
type record struct {
	Digest string
	Seq    uint64
	Result result
}

// requester is a Reader (a walk of the table) or a Writer (its index).
type requester interface {
	Request(invoker principal.KeyID, id string) (state.RequestEntry, bool, error)
}

// digest holds a short test name in a digest's bytes.
func digest(name string) (d [32]byte) {
	copy(d[:], name)
	return d
}

func remember(w *state.Writer, invoker principal.KeyID, id, dig string, res result, max uint64) error {
	return w.Remember(invoker, id, digest(dig), codec.MustMarshal(res), max)
}

func request(r requester, invoker principal.KeyID, id string) (record, bool, error) {
	e, found, err := r.Request(invoker, id)
	if err != nil || !found {
		return record{}, found, err
	}
	rec := record{Digest: strings.TrimRight(string(e.Digest[:]), "\x00"), Seq: e.Seq}
	if e.Legacy != nil {
		rec.Result, err = state.LegacyResult[result](e)
		rec.Digest = hex.EncodeToString(e.Digest[:])
	} else {
		err = codec.Unmarshal(e.Answer, &rec.Result)
	}
	return rec, true, err
}

func update(t *testing.T, s *state.Store, fn func(w *state.Writer) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s *state.Store, fn func(r *state.Reader) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatal(err)
	}
}

func key(name string) ed25519.PublicKey {
	seed := sha256.Sum256([]byte("statetest/" + name))
	return ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
}

func prin(name string, admin bool) principal.Principal {
	p := principal.New(key(name), name, principal.Agent, "acme")
	p.Admin = admin
	return p
}

func hash(b byte) delegation.Hash {
	var h delegation.Hash
	h[0], h[31] = b, ^b
	return h
}

func principals(t *testing.T, r *state.Reader) string {
	var out []string
	if err := r.Principals(func(p principal.Principal) error {
		out = append(out, fmt.Sprintf("%s:%s:%v", p.KeyID, p.AgentID, p.Admin))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func nodes(t *testing.T, r *state.Reader) string {
	var out []string
	if err := r.Nodes(func(n state.Node) error {
		out = append(out, n.ID+"@"+n.APIAddr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func capFiles(t *testing.T, r *state.Reader) string {
	var out []string
	if err := r.CapabilityFiles(func(doc []byte) error { out = append(out, string(doc)); return nil }); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func leases(t *testing.T, r *state.Reader) string {
	var out []string
	if err := r.HotLeases(func(id string, l state.HotLease) error {
		out = append(out, fmt.Sprintf("%s:%s:%d", id, l.Node, l.Leased))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return strings.Join(out, " ")
}

func testEmpty(t *testing.T, s *state.Store, _ func() *state.Store) {
	view(t, s, func(r *state.Reader) error {
		if r.Bootstrapped() || r.Policy() != nil || r.RegistryIndex() != 0 || r.OpenHotLeases() != 0 {
			t.Error("empty state has meta values")
		}
		if principals(t, r)+nodes(t, r)+capFiles(t, r)+leases(t, r) != "" {
			t.Error("empty state has records")
		}
		if _, found, err := r.Link(hash(1)); found || err != nil {
			t.Errorf("link: %v %v", found, err)
		}
		if _, found, err := r.HotLease("x"); found || err != nil {
			t.Errorf("lease: %v %v", found, err)
		}
		if _, found, err := request(r, "k_1", "r1"); found || err != nil {
			t.Errorf("request: %v %v", found, err)
		}
		return nil
	})
}

func testMeta(t *testing.T, s *state.Store, _ func() *state.Store) {
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.SetBootstrapped(), w.SetPolicy([]byte(`{"default":"deny"}`)))
	})
	view(t, s, func(r *state.Reader) error {
		if !r.Bootstrapped() || string(r.Policy()) != `{"default":"deny"}` {
			t.Errorf("bootstrapped %v policy %q", r.Bootstrapped(), r.Policy())
		}
		return nil
	})
	update(t, s, func(w *state.Writer) error { return w.SetPolicy([]byte(`{"default":"allow"}`)) })
	view(t, s, func(r *state.Reader) error {
		if p := r.Policy(); string(p) != `{"default":"allow"}` {
			t.Errorf("policy %q", p)
		}
		return nil
	})
}

func testPrincipals(t *testing.T, s *state.Store, _ func() *state.Store) {
	ps := []principal.Principal{prin("carol", false), prin("alice", true), prin("bob", false)}
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.PutPrincipal(ps[0]), w.PutPrincipal(ps[1]), w.PutPrincipal(ps[2]))
	})
	// Replacing a principal keeps one record per key.
	ps[2].Admin = true
	update(t, s, func(w *state.Writer) error { return w.PutPrincipal(ps[2]) })
	want := make([]string, 0, 3)
	for _, p := range ps {
		want = append(want, fmt.Sprintf("%s:%s:%v", p.KeyID, p.AgentID, p.Admin))
	}
	sort.Strings(want) // key id order
	view(t, s, func(r *state.Reader) error {
		if got := principals(t, r); got != strings.Join(want, " ") {
			t.Errorf("principals %s, want %s", got, strings.Join(want, " "))
		}
		return r.Principals(func(p principal.Principal) error {
			if p.KeyID == ps[1].KeyID && (p.Tenant != "acme" || string(p.PublicKey) != string(ps[1].PublicKey)) {
				t.Errorf("alice read back as %+v", p)
			}
			return nil
		})
	})
}

func testNodes(t *testing.T, s *state.Store, _ func() *state.Store) {
	n := func(id, api string) state.Node {
		pub := key(id)
		return state.Node{ID: id, RaftAddr: id + ":7000", APIAddr: api, PublicKey: pub, KeyID: principal.IDOf(pub), Voter: true, GossipAddr: id + ":7946"}
	}
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.PutNode(n("n2", "a2")), w.PutNode(n("n1", "a1")), w.PutNode(n("n3", "a3")))
	})
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.PutNode(n("n2", "a2b")), w.DeleteNode("n3"), w.DeleteNode("never"))
	})
	view(t, s, func(r *state.Reader) error {
		if got := nodes(t, r); got != "n1@a1 n2@a2b" {
			t.Errorf("nodes %s", got)
		}
		return r.Nodes(func(got state.Node) error {
			if want := n(got.ID, got.APIAddr); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("node read back as %+v, want %+v", got, want)
			}
			return nil
		})
	})
}

func testTombstones(t *testing.T, s *state.Store, _ func() *state.Store) {
	tomb := func(id string, index uint64) state.Tombstone {
		return state.Tombstone{ID: id, KeyID: principal.IDOf(key(id)), RaftAddr: id + ":7000", Index: index, Time: int64(index) * 10,
			By: "token", Cause: "cluster remove " + id}
	}
	update(t, s, func(w *state.Writer) error {
		a, b := tomb("n3", 7), tomb("n1", 9)
		return errors.Join(w.PutRemovedID(a), w.PutRemovedKey(a.KeyID, a), w.PutRemovedID(b), w.PutRemovedKey(b.KeyID, b))
	})
	update(t, s, func(w *state.Writer) error { // n1 readmitted: its id and key are cleared
		return errors.Join(w.DeleteRemovedID("n1"), w.DeleteRemovedKey(principal.IDOf(key("n1"))), w.DeleteRemovedID("never"))
	})
	view(t, s, func(r *state.Reader) error {
		var ids, keys []string
		err := errors.Join(r.RemovedIDs(func(got state.Tombstone) error {
			if want := tomb(got.ID, got.Index); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("tombstone read back as %+v, want %+v", got, want)
			}
			ids = append(ids, fmt.Sprintf("%s@%d", got.ID, got.Index))
			return nil
		}), r.RemovedKeys(func(k principal.KeyID, got state.Tombstone) error {
			if k != got.KeyID {
				t.Errorf("key %s holds the tombstone of %s", k, got.KeyID)
			}
			keys = append(keys, got.ID)
			return nil
		}))
		if fmt.Sprint(ids) != "[n3@7]" || fmt.Sprint(keys) != "[n3]" {
			t.Errorf("ids %v keys %v", ids, keys)
		}
		return err
	})
}

func testCapabilityFiles(t *testing.T, s *state.Store, _ func() *state.Store) {
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.AddCapabilityFile([]byte("zz"), 5), w.AddCapabilityFile([]byte("aa"), 6))
	})
	// Registration order, not document order, across transactions; more
	// than 255 to cross a byte of the sequence.
	update(t, s, func(w *state.Writer) error {
		for i := 0; i < 300; i++ {
			if err := w.AddCapabilityFile([]byte(fmt.Sprintf("f%03d", 299-i)), 9); err != nil {
				return err
			}
		}
		return w.AddCapabilityFile([]byte("mm"), 10)
	})
	view(t, s, func(r *state.Reader) error {
		var docs []string
		r.CapabilityFiles(func(d []byte) error { docs = append(docs, string(d)); return nil })
		if len(docs) != 303 || docs[0] != "zz" || docs[1] != "aa" || docs[2] != "f299" || docs[301] != "f000" || docs[302] != "mm" {
			t.Errorf("%d files, order %v ... %v", len(docs), docs[:3], docs[len(docs)-2:])
		}
		if r.RegistryIndex() != 10 {
			t.Errorf("registry index %d, want 10", r.RegistryIndex())
		}
		return nil
	})
}

func testLinks(t *testing.T, s *state.Store, _ func() *state.Store) {
	a := state.LinkState{Hash: hash(1), Issuer: "k_a", Audience: "k_b", MaxUses: 3, NotAfter: 99, Uses: 2, FirstUsed: 7}
	b := state.LinkState{Hash: hash(2), Revoked: true, RevokedAt: 8, RevokedBy: "k_admin", Reason: "lost"}
	update(t, s, func(w *state.Writer) error { return errors.Join(w.PutLink(a), w.PutLink(b)) })
	a.Uses = 3
	update(t, s, func(w *state.Writer) error { return w.PutLink(a) })
	view(t, s, func(r *state.Reader) error {
		for _, want := range []state.LinkState{a, b} {
			got, found, err := r.Link(want.Hash)
			if err != nil || !found || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("link %x: %+v %v %v, want %+v", want.Hash[:2], got, found, err, want)
			}
		}
		if _, found, _ := r.Link(hash(3)); found {
			t.Error("unknown link found")
		}
		return nil
	})
}

func testHotLeases(t *testing.T, s *state.Store, _ func() *state.Store) {
	l := func(node string, leased uint64) state.HotLease {
		return state.HotLease{Node: node, Certificate: "cert_1", Links: []delegation.Hash{hash(1), hash(2)}, Leased: leased, Opened: 5}
	}
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.PutHotLease("n2/s1", l("n2", 4)), w.PutHotLease("n1/s1", l("n1", 3)), w.AddOpenHotLeases(1), w.AddOpenHotLeases(1))
	})
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.PutHotLease("n1/s1", l("n1", 9)), w.DeleteHotLease("n2/s1"), w.AddOpenHotLeases(-1))
	})
	view(t, s, func(r *state.Reader) error {
		if got := leases(t, r); got != "n1/s1:n1:9" || r.OpenHotLeases() != 1 {
			t.Errorf("leases %s, %d open", got, r.OpenHotLeases())
		}
		got, found, err := r.HotLease("n1/s1")
		if err != nil || !found || fmt.Sprint(got) != fmt.Sprint(l("n1", 9)) {
			t.Errorf("lease %+v %v %v", got, found, err)
		}
		return nil
	})
	// The count never goes below zero.
	update(t, s, func(w *state.Writer) error { return w.AddOpenHotLeases(-5) })
	view(t, s, func(r *state.Reader) error {
		if r.OpenHotLeases() != 0 {
			t.Errorf("%d open", r.OpenHotLeases())
		}
		return nil
	})
}

func testRequests(t *testing.T, s *state.Store, _ func() *state.Store) {
	res := result{Decision: "allow", Index: 7, Counts: []uint64{1, 2}}
	update(t, s, func(w *state.Writer) error {
		return errors.Join(remember(w, "k_a", "r1", "d1", res, 10), remember(w, "k_b", "r1", "d2", result{Decision: "deny"}, 10))
	})
	view(t, s, func(r *state.Reader) error {
		rec, found, err := request(r, "k_a", "r1")
		if err != nil || !found || rec.Digest != "d1" || rec.Seq != 1 || fmt.Sprint(rec.Result) != fmt.Sprint(res) {
			t.Errorf("k_a/r1: %+v %v %v", rec, found, err)
		}
		// Request ids are per invoker.
		rec, found, _ = request(r, "k_b", "r1")
		if !found || rec.Digest != "d2" || rec.Seq != 2 || rec.Result.Decision != "deny" {
			t.Errorf("k_b/r1: %+v %v", rec, found)
		}
		if _, found, _ := request(r, "k_a", "r2"); found {
			t.Error("k_a/r2 found")
		}
		return nil
	})
}

// The table forgets its oldest entries beyond max in the order they were
// remembered (not key order), across transactions.
func testRequestEviction(t *testing.T, s *state.Store, _ func() *state.Store) {
	ids := []string{"z", "y", "x", "a", "b"}
	for _, id := range ids[:3] {
		update(t, s, func(w *state.Writer) error { return remember(w, "k_a", id, "d-"+id, result{}, 3) })
	}
	update(t, s, func(w *state.Writer) error {
		return errors.Join(remember(w, "k_a", "a", "d-a", result{}, 3), remember(w, "k_a", "b", "d-b", result{}, 3))
	})
	view(t, s, func(r *state.Reader) error {
		var kept []string
		for _, id := range ids {
			if rec, found, _ := request(r, "k_a", id); found {
				kept = append(kept, fmt.Sprintf("%s:%d", id, rec.Seq))
			}
		}
		if got := strings.Join(kept, " "); got != "x:3 a:4 b:5" {
			t.Errorf("kept %s, want x:3 a:4 b:5", got)
		}
		return nil
	})
	// A forgotten id may be remembered again, as the newest entry.
	update(t, s, func(w *state.Writer) error { return remember(w, "k_a", "z", "d-z2", result{}, 3) })
	view(t, s, func(r *state.Reader) error {
		rec, found, _ := request(r, "k_a", "z")
		_, xFound, _ := request(r, "k_a", "x")
		if !found || rec.Seq != 6 || rec.Digest != "d-z2" || xFound {
			t.Errorf("z %+v %v, x found %v", rec, found, xFound)
		}
		return nil
	})
}

func testReadYourWrites(t *testing.T, s *state.Store, _ func() *state.Store) {
	update(t, s, func(w *state.Writer) error {
		if err := errors.Join(w.PutPrincipal(prin("alice", true)), w.PutLink(state.LinkState{Hash: hash(1), Uses: 1}),
			remember(w, "k_a", "r1", "d", result{Index: 3}, 10), w.AddCapabilityFile([]byte("f1"), 4), w.SetBootstrapped()); err != nil {
			return err
		}
		if principals(t, &w.Reader) == "" || capFiles(t, &w.Reader) != "f1" || !w.Bootstrapped() || w.RegistryIndex() != 4 {
			return errors.New("writes not visible in their transaction")
		}
		if st, found, _ := w.Link(hash(1)); !found || st.Uses != 1 {
			return errors.New("link not visible in its transaction")
		}
		if rec, found, _ := request(&w.Reader, "k_a", "r1"); !found || rec.Result.Index != 3 {
			return errors.New("request not visible in its transaction")
		}
		if rec, found, _ := request(w, "k_a", "r1"); !found || rec.Result.Index != 3 {
			return errors.New("request not visible to the writer's index in its transaction")
		}
		return nil
	})
}

// A transaction that fails leaves nothing behind: no record, no advanced
// sequence.
func testRollback(t *testing.T, s *state.Store, _ func() *state.Store) {
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.AddCapabilityFile([]byte("f1"), 1), remember(w, "k_a", "r1", "d", result{}, 10))
	})
	boom := errors.New("boom")
	err := s.Update(func(w *state.Writer) error {
		if err := errors.Join(w.SetBootstrapped(), w.SetPolicy([]byte("p")), w.PutPrincipal(prin("alice", true)),
			w.PutNode(state.Node{ID: "n1"}), w.AddCapabilityFile([]byte("f2"), 2), w.PutLink(state.LinkState{Hash: hash(1), Uses: 1}),
			w.PutHotLease("l", state.HotLease{Node: "n1"}), w.AddOpenHotLeases(1), remember(w, "k_a", "r2", "d", result{}, 10)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want the function's error", err)
	}
	view(t, s, func(r *state.Reader) error {
		_, linkFound, _ := r.Link(hash(1))
		_, reqFound, _ := request(r, "k_a", "r2")
		if r.Bootstrapped() || r.Policy() != nil || principals(t, r) != "" || nodes(t, r) != "" || capFiles(t, r) != "f1" ||
			r.RegistryIndex() != 1 || linkFound || leases(t, r) != "" || r.OpenHotLeases() != 0 || reqFound {
			t.Error("a rolled-back transaction left writes behind")
		}
		return nil
	})
	// The sequences did not advance: the next entries follow the committed ones.
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.AddCapabilityFile([]byte("f3"), 3), remember(w, "k_a", "r3", "d", result{}, 10))
	})
	view(t, s, func(r *state.Reader) error {
		rec, _, _ := request(r, "k_a", "r3")
		if capFiles(t, r) != "f1 f3" || rec.Seq != 2 {
			t.Errorf("after rollback: files %s, request seq %d", capFiles(t, r), rec.Seq)
		}
		return nil
	})
}

func testReopen(t *testing.T, s *state.Store, reopen func() *state.Store) {
	if reopen == nil {
		t.Skip("not persistent")
	}
	alice := prin("alice", true)
	update(t, s, func(w *state.Writer) error {
		return errors.Join(w.SetBootstrapped(), w.SetPolicy([]byte("p1")), w.PutPrincipal(alice), w.PutNode(state.Node{ID: "n1", APIAddr: "a1"}),
			w.AddCapabilityFile([]byte("f1"), 4), w.PutLink(state.LinkState{Hash: hash(1), Uses: 2}),
			w.PutHotLease("l1", state.HotLease{Node: "n1", Leased: 3}), w.AddOpenHotLeases(1))
	})
	for i, id := range []string{"r1", "r2", "r3"} {
		update(t, s, func(w *state.Writer) error { return remember(w, "k_a", id, "d", result{Index: uint64(i)}, 2) })
	}
	check := func(s *state.Store) {
		t.Helper()
		view(t, s, func(r *state.Reader) error {
			st, _, _ := r.Link(hash(1))
			_, r1, _ := request(r, "k_a", "r1")
			rec3, r3, _ := request(r, "k_a", "r3")
			if !r.Bootstrapped() || string(r.Policy()) != "p1" || principals(t, r) != fmt.Sprintf("%s:alice:true", alice.KeyID) ||
				nodes(t, r) != "n1@a1" || capFiles(t, r) != "f1" || r.RegistryIndex() != 4 || st.Uses != 2 ||
				leases(t, r) != "l1:n1:3" || r.OpenHotLeases() != 1 || r1 || !r3 || rec3.Result.Index != 2 || rec3.Seq != 3 {
				t.Error("state differs after reopen")
			}
			return nil
		})
	}
	s = reopen()
	check(s)
	// The request table goes on where it stopped.
	update(t, s, func(w *state.Writer) error { return remember(w, "k_a", "r4", "d", result{}, 2) })
	s = reopen()
	view(t, s, func(r *state.Reader) error {
		rec, found, _ := request(r, "k_a", "r4")
		_, r2, _ := request(r, "k_a", "r2")
		if !found || rec.Seq != 4 || r2 {
			t.Errorf("after a second reopen: r4 %+v %v, r2 still there %v", rec, found, r2)
		}
		return nil
	})
}

// A writer finds every id the table holds through its index, across
// transactions, rollbacks, evictions and a reopen; a rolled-back id is
// not found, and its sequence number goes to the next.
func testRequestIndex(t *testing.T, s *state.Store, reopen func() *state.Store) {
	const max, n = 50, 180
	id := func(i int) string { return fmt.Sprintf("id-%03d", i) }
	for i := 0; i < n; i += 20 {
		update(t, s, func(w *state.Writer) error {
			for j := i; j < i+20; j++ {
				// An id remembered earlier in the same transaction is found.
				if j > i {
					if rec, found, err := request(w, "k_a", id(j-1)); err != nil || !found || rec.Result.Index != uint64(j-1) {
						return fmt.Errorf("%s in its transaction: %+v %v %v", id(j-1), rec, found, err)
					}
				}
				if err := remember(w, "k_a", id(j), "d-"+id(j), result{Index: uint64(j)}, max); err != nil {
					return err
				}
			}
			return nil
		})
	}
	boom := errors.New("boom")
	if err := s.Update(func(w *state.Writer) error {
		if err := remember(w, "k_a", "rolled-back", "d", result{}, max); err != nil {
			return err
		}
		if _, found, _ := request(w, "k_a", "rolled-back"); !found {
			return errors.New("not found in its own transaction")
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	check := func(s *state.Store, when string) {
		t.Helper()
		update(t, s, func(w *state.Writer) error {
			for i := 0; i < n; i++ {
				rec, found, err := request(w, "k_a", id(i))
				if err != nil || found != (i >= n-max) || (found && (rec.Seq != uint64(i+1) || rec.Result.Index != uint64(i) || rec.Digest != "d-"+id(i))) {
					t.Errorf("%s: %s: %+v found %v %v", when, id(i), rec, found, err)
				}
			}
			if _, found, _ := request(w, "k_a", "rolled-back"); found {
				t.Errorf("%s: a rolled-back id is found", when)
			}
			return nil
		})
	}
	check(s, "after the rollback")
	// (With a larger bound, so that nothing more is forgotten.)
	update(t, s, func(w *state.Writer) error { return remember(w, "k_b", "next", "d", result{}, 2*n) })
	view(t, s, func(r *state.Reader) error {
		if rec, found, _ := request(r, "k_b", "next"); !found || rec.Seq != n+1 {
			t.Errorf("next: %+v %v, want seq %d", rec, found, n+1)
		}
		return nil
	})
	if reopen != nil {
		s = reopen()
		check(s, "after reopen")
	}
}
