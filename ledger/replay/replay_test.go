package replay

// Replay behaviours of the original CNV governance ledger (CNV-REFERENCE
// §7, "Governance"): what-if analysis of recorded decisions under another
// policy.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/ledger/event/eventtest"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
)

const t0 = eventtest.T0

var (
	decision          = eventtest.Decision
	delegatedDecision = eventtest.DelegatedDecision
)

func openTest(t testing.TB) *ledger.Store {
	t.Helper()
	s, err := ledger.Open(filepath.Join(t.TempDir(), "state.db"), ledger.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustAppend(t testing.TB, s *ledger.Store, opts ledger.AppendOptions, events ...event.Event) {
	t.Helper()
	if _, err := s.AppendBatch(events, opts, nil); err != nil {
		t.Fatal(err)
	}
}

// fakeEvaluator denies the listed capabilities and allows everything else.
type fakeEvaluator struct {
	deny map[capability.Path]string
	hash string
}

func (f fakeEvaluator) Evaluate(r *policy.Request) policy.Result {
	if reason, ok := f.deny[r.Capability]; ok {
		return policy.Result{Decision: policy.Deny, Reason: reason, MatchedRule: "deny-" + string(r.Capability), PolicyHash: f.hash}
	}
	return policy.Result{Decision: policy.Allow, MatchedRule: "r1", PolicyHash: f.hash}
}

func (f fakeEvaluator) Hash() string { return f.hash }

// sameAsRecorded re-derives exactly what decision() recorded.
type sameAsRecorded struct{}

func (sameAsRecorded) Evaluate(r *policy.Request) policy.Result {
	return policy.Result{Decision: policy.Allow, MatchedRule: "r1", PolicyHash: "p0"}
}
func (sameAsRecorded) Hash() string { return "p0" }

func TestGovReplay(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, ledger.AppendOptions{Time: t0},
		decision("alice", "default", "user.read", policy.Allow, ""),
		decision("bob", "default", "user.delete", policy.Deny, "forbidden"),
		event.Event{Actor: "admin", Data: event.ModeChanged{From: event.ModeNormal, To: event.ModeRestricted, ChangedBy: "admin"}})
	plain, err := Run(s, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.TotalEvents != 3 || plain.PolicyDecisions != 2 || plain.Original.Allow != 1 || plain.Original.Deny != 1 {
		t.Fatalf("timeslice %+v", plain)
	}
	whatIf, _ := Run(s, fakeEvaluator{deny: map[capability.Path]string{"user.read": "sensitive"}, hash: "p1"}, Options{})
	if len(whatIf.Differences) < 1 || whatIf.Differences[0].Capability != "user.read" {
		t.Fatalf("what-if %+v", whatIf.Differences)
	}
	d := whatIf.Differences[0]
	if d.Kind != DiffAllowToDeny || d.Original.Decision != policy.Allow || d.New.Decision != policy.Deny || d.Agent != "alice" {
		t.Fatalf("difference %+v", d)
	}
	same, _ := Run(s, sameAsRecorded{}, Options{From: 0, To: 1})
	if len(same.Differences) != 0 || same.Size != 1 {
		t.Fatalf("same policy: %+v", same)
	}
}

func TestGovReplayStats(t *testing.T) {
	s := openTest(t)
	for i := 0; i < 3; i++ {
		mustAppend(t, s, ledger.AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""))
	}
	for i := 0; i < 2; i++ {
		mustAppend(t, s, ledger.AppendOptions{Time: t0}, decision("a", "t", "user.delete", policy.Deny, "no"))
	}
	rep, _ := Run(s, fakeEvaluator{deny: map[capability.Path]string{"user.delete": "no"}, hash: "p0"}, Options{})
	// The recorded denials name rule r1, the fake names deny-user.delete:
	// a reason change, not a decision change.
	if rep.TotalEvents != 5 || rep.PolicyDecisions != 5 || rep.Original.Allow != 3 || rep.Original.Deny != 2 ||
		rep.Replayed.Allow != 3 || rep.Replayed.Deny != 2 {
		t.Fatalf("stats %+v", rep)
	}
	if len(rep.Differences) != 2 {
		t.Fatalf("%d differences, want the 2 reason changes", len(rep.Differences))
	}
	for _, d := range rep.Differences {
		if d.Kind != DiffReasonChanged {
			t.Fatalf("difference %+v", d)
		}
	}
}

func TestGovReplayDeterministic(t *testing.T) {
	s := openTest(t)
	agents := []string{"zed", "amy", "bob", "kim"}
	caps := []string{"user.read", "user.delete", "billing.charge", "user.list"}
	for i := 0; i < 200; i++ {
		d := policy.Allow
		if i%3 == 0 {
			d = policy.Deny
		}
		mustAppend(t, s, ledger.AppendOptions{Time: t0 + int64(i)}, decision(agents[i%4], "t", caps[(i/4)%4], d, "r"))
	}
	ev := fakeEvaluator{deny: map[capability.Path]string{"user.delete": "no", "billing.charge": "money"}, hash: "p9"}
	var first []byte
	for run := 0; run < 3; run++ {
		rep, err := Run(s, ev, Options{From: 10, To: 190})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		if run == 0 {
			first = b
			if rep.ByAgent[0].Key != "amy" || len(rep.ByCapability) != 4 || rep.Size != 190 {
				t.Fatalf("groups %+v %+v", rep.ByAgent, rep.ByCapability)
			}
		} else if !bytes.Equal(b, first) {
			t.Fatalf("run %d differs", run)
		}
	}
}

func TestReplayProgress(t *testing.T) {
	s := openTest(t)
	for i := 0; i < 10; i++ {
		e := decision("a", "t", "user.read", policy.Allow, "")
		if i%3 == 1 {
			e = event.Event{Actor: "a", Data: event.NodeLeft{NodeID: "n1"}}
		}
		mustAppend(t, s, ledger.AppendOptions{Time: t0}, e)
	}
	var calls [][2]uint64
	_, err := Run(s, sameAsRecorded{}, Options{From: 1, ProgressEvery: 4,
		Progress: func(done, total uint64) { calls = append(calls, [2]uint64{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	// Events 1..9: decisions at 2,3,5,6,8,9 (done = index): reports when
	// done first reaches 4 and 8, then once at the end.
	want := "[[5 9] [8 9] [9 9]]"
	if got := fmt.Sprint(calls); got != want {
		t.Fatalf("progress calls %s, want %s", got, want)
	}
}

// Replay under a real policy set sees the whole recorded request: here the
// agent type and the delegation chain depth decide.
func TestReplayRealPolicy(t *testing.T) {
	set, err := policy.Parse([]byte(`{"default":"allow","rules":[
	  {"name":"no-delegated-create","priority":10,
	   "when":[{"type":"capability","pattern":"user.create"},{"type":"delegated"}],
	   "action":{"type":"deny","reason":"direct only"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s := openTest(t)
	mustAppend(t, s, ledger.AppendOptions{Time: t0},
		decision("amy", "default", "user.create", policy.Allow, ""), // direct
		delegatedDecision(), // bob, through a two-link chain
		decision("bob", "default", "user.read", policy.Allow, ""))
	rep, err := Run(s, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.NewPolicyHash != set.Hash() || len(rep.Differences) != 3 {
		t.Fatalf("%+v", rep)
	}
	// Recorded allows named rule r1; the new set allows by default (no
	// rule) except the delegated create, which it denies.
	kinds := fmt.Sprintf("%s %s %s", rep.Differences[0].Kind, rep.Differences[1].Kind, rep.Differences[2].Kind)
	if kinds != "reason_changed allow_to_deny reason_changed" || rep.Differences[1].Agent != "bob" {
		t.Fatalf("%+v", rep.Differences)
	}
}

// A file with no ledger in it replays as an empty ledger.
func TestReplayReadOnlyEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := ledger.Open(path, ledger.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rep, err := Run(s, sameAsRecorded{}, Options{}); err != nil || rep.TotalEvents != 0 {
		t.Fatalf("replay %v", err)
	}
}
