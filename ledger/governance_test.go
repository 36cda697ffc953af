package ledger

// Behaviours of the original CNV governance ledger (CNV-REFERENCE §7,
// "Governance"), with its bugs fixed: a checkpoint counts the events since
// the previous checkpoint, and reopening continues the index.

import (
	"github.com/cnv-project/cnv/ledger/event"

	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
)

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

func count(t *testing.T, s *Store, q Query) uint64 {
	t.Helper()
	n, err := s.Count(q)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGovFirstIDAndCounting(t *testing.T) {
	s := openTest(t)
	if count(t, s, Query{}) != 0 {
		t.Fatal("new ledger not empty")
	}
	res := mustAppend(t, s, AppendOptions{Time: t0}, decision("alice", "default", "user.read", policy.Allow, ""))
	if res.Events[0].Index != 0 {
		t.Fatalf("first index %d", res.Events[0].Index)
	}
	for i, e := range sampleEvents() {
		mustAppend(t, s, AppendOptions{Time: t0}, e)
		if got := count(t, s, Query{}); got != uint64(i+2) {
			t.Fatalf("after %s: count %d, want %d", e.Type(), got, i+2)
		}
	}
}

func TestGovCheckpointCountsSinceLast(t *testing.T) {
	s := openTest(t)
	for i := 0; i < 5; i++ {
		mustAppend(t, s, AppendOptions{Time: t0}, decision("alice", "default", "user.read", policy.Allow, ""))
	}
	res := mustAppend(t, s, AppendOptions{Time: t0}, event.Event{Actor: "system", Data: event.AuditCheckpoint{CheckpointID: "cp1", EventsSinceLast: 999}})
	if s.Head().Size != 6 {
		t.Fatalf("size %d, want 6", s.Head().Size)
	}
	first, _ := s.Event(res.Events[0].Index)
	if got := first.Data.(event.AuditCheckpoint).EventsSinceLast; got != 5 {
		t.Fatalf("first checkpoint events_since_last %d, want 5", got)
	}
	for i := 0; i < 3; i++ {
		mustAppend(t, s, AppendOptions{Time: t0}, decision("bob", "default", "user.read", policy.Allow, ""))
	}
	before := s.Head()
	res = mustAppend(t, s, AppendOptions{Time: t0}, event.Event{Actor: "system", Data: event.Checkpoint{}})
	second, _ := s.Event(res.Events[0].Index)
	cp := second.Data.(event.Checkpoint)
	if cp.EventsSinceLast != 3 || cp.Size != before.Size || cp.Root != before.Root.String() {
		t.Fatalf("second checkpoint %+v, head before %d %s", cp, before.Size, before.Root)
	}
}

func TestGovQueries(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{},
		at(withCorr(decision("alice", "default", "user.read", policy.Allow, ""), "batch-1"), t0),
		at(withCorr(decision("bob", "default", "user.delete", policy.Deny, "no"), "batch-1"), t0+10e6),
		at(withCorr(decision("carol", "other", "user.list", policy.Allow, ""), "batch-2"), t0+20e6))
	for _, c := range []struct {
		q    Query
		want uint64
	}{
		{Query{Since: t0, Until: t0 + 20e6}, 3},
		{Query{Since: t0 + 10e6, Until: t0 + 20e6}, 2},
		{Query{Since: t0 + 10e6}, 2},
		{Query{Until: t0 + 10e6}, 2},
		{Query{Since: t0 + 1, Until: t0 + 10e6 - 1}, 0},
		{Query{Actor: "alice"}, 1},
		{Query{Actor: "bob"}, 1},
		{Query{Actor: "dave"}, 0},
		{Query{Correlation: "batch-1"}, 2},
		{Query{Tenant: "default"}, 2},
		{Query{Capability: "user.delete"}, 1},
		{Query{Type: event.TypePolicyDecision}, 3},
		{Query{Type: event.TypeAuditCheckpoint}, 0},
		{Query{Decision: policy.Deny}, 1},
		{Query{Decision: policy.Allow, Correlation: "batch-1"}, 1},
		{Query{Decision: policy.Allow, Tenant: "default", Since: t0 + 5}, 0},
	} {
		if got := count(t, s, c.q); got != c.want {
			t.Errorf("%+v: %d, want %d", c.q, got, c.want)
		}
	}
	page, err := s.Query(Query{Actor: "bob"})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("%v %+v", err, page)
	}
	if e := page.Events[0]; e.Actor != "bob" || e.Correlation != "batch-1" {
		t.Fatalf("queried event lost fields: %+v", e)
	}
}

func TestGovSeverityAndChangeTypes(t *testing.T) {
	if !(event.SeverityLow.Rank() < event.SeverityMedium.Rank() && event.SeverityMedium.Rank() < event.SeverityHigh.Rank() &&
		event.SeverityHigh.Rank() < event.SeverityCritical.Rank()) || event.Severity("x").Rank() != 0 {
		t.Fatal("severity order")
	}
	s := openTest(t)
	for _, c := range event.ChangeTypes() {
		mustAppend(t, s, AppendOptions{Time: t0}, event.Event{Actor: "admin", Data: event.PolicyChanged{PolicyID: "p", Change: c, ChangedBy: "admin"}})
	}
	if got := count(t, s, Query{Type: event.TypePolicyChanged}); got != 5 {
		t.Fatalf("%d change events", got)
	}
	_, err := s.AppendBatch([]event.Event{{Actor: "a", Data: event.PolicyChanged{PolicyID: "p", Change: "renamed", ChangedBy: "a"}}}, AppendOptions{}, nil)
	if err == nil {
		t.Fatal("unknown change type accepted")
	}
}

func TestGovReplay(t *testing.T) {
	s := openTest(t)
	mustAppend(t, s, AppendOptions{Time: t0},
		decision("alice", "default", "user.read", policy.Allow, ""),
		decision("bob", "default", "user.delete", policy.Deny, "forbidden"),
		event.Event{Actor: "admin", Data: event.ModeChanged{From: event.ModeNormal, To: event.ModeRestricted, ChangedBy: "admin"}})
	plain, err := s.Replay(nil, ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if plain.TotalEvents != 3 || plain.PolicyDecisions != 2 || plain.Original.Allow != 1 || plain.Original.Deny != 1 {
		t.Fatalf("timeslice %+v", plain)
	}
	whatIf, _ := s.Replay(fakeEvaluator{deny: map[capability.Path]string{"user.read": "sensitive"}, hash: "p1"}, ReplayOptions{})
	if len(whatIf.Differences) < 1 || whatIf.Differences[0].Capability != "user.read" {
		t.Fatalf("what-if %+v", whatIf.Differences)
	}
	d := whatIf.Differences[0]
	if d.Kind != DiffAllowToDeny || d.Original.Decision != policy.Allow || d.New.Decision != policy.Deny || d.Agent != "alice" {
		t.Fatalf("difference %+v", d)
	}
	same, _ := s.Replay(sameAsRecorded{}, ReplayOptions{From: 0, To: 1})
	if len(same.Differences) != 0 || same.Size != 1 {
		t.Fatalf("same policy: %+v", same)
	}
}

func TestGovReplayStats(t *testing.T) {
	s := openTest(t)
	for i := 0; i < 3; i++ {
		mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.read", policy.Allow, ""))
	}
	for i := 0; i < 2; i++ {
		mustAppend(t, s, AppendOptions{Time: t0}, decision("a", "t", "user.delete", policy.Deny, "no"))
	}
	rep, _ := s.Replay(fakeEvaluator{deny: map[capability.Path]string{"user.delete": "no"}, hash: "p0"}, ReplayOptions{})
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
		mustAppend(t, s, AppendOptions{Time: t0 + int64(i)}, decision(agents[i%4], "t", caps[(i/4)%4], d, "r"))
	}
	ev := fakeEvaluator{deny: map[capability.Path]string{"user.delete": "no", "billing.charge": "money"}, hash: "p9"}
	var first []byte
	for run := 0; run < 3; run++ {
		rep, err := s.Replay(ev, ReplayOptions{From: 10, To: 190})
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
		mustAppend(t, s, AppendOptions{Time: t0}, e)
	}
	var calls [][2]uint64
	_, err := s.Replay(sameAsRecorded{}, ReplayOptions{From: 1, ProgressEvery: 4,
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
	mustAppend(t, s, AppendOptions{Time: t0},
		decision("amy", "default", "user.create", policy.Allow, ""), // direct
		delegatedDecision(), // bob, through a two-link chain
		decision("bob", "default", "user.read", policy.Allow, ""))
	rep, err := s.Replay(set, ReplayOptions{})
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
