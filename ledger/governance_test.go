package ledger

// Behaviours of the original CNV governance ledger (CNV-REFERENCE §7,
// "Governance"), with its bugs fixed: a checkpoint counts the events since
// the previous checkpoint, and reopening continues the index. Replay's are
// in ledger/replay.

import (
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/policy"
)

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
