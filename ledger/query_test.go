package ledger

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
)

// Randomized: every combination of filters returns exactly what a scan of
// all events would, page by page.
func TestQueryMatchesScan(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewSource(seed))
	s := openTest(t)
	all := appendRandom(t, s, rng, 600)
	for n := 0; n < 300; n++ {
		q := randomQuery(rng, all)
		want := scan(all, q)
		got := collect(t, s, q)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d query %+v:\n got %v\nwant %v", seed, q, got, want)
		}
		if c, _ := s.Count(q); c != uint64(len(scanFrom(all, q))) {
			t.Fatalf("seed %d query %+v: count %d, want %d", seed, q, c, len(scanFrom(all, q)))
		}
	}
}

func seedFor(t *testing.T) int64 {
	var h int64
	for _, c := range t.Name() {
		h = h*31 + int64(c)
	}
	t.Logf("seed %d", h)
	return h
}

func appendRandom(t *testing.T, s *Store, rng *rand.Rand, n int) []event.Event {
	agents := []string{"alice", "bob", "carol", "dave"}
	tenants := []string{"t1", "t2"}
	caps := []string{"user.read", "user.create", "billing.charge"}
	decs := []policy.Decision{policy.Allow, policy.Deny, policy.RequireApproval}
	var all []event.Event
	tm := t0
	for i := 0; i < n; i++ {
		tm += int64(rng.Intn(3)) * 1e6
		var e event.Event
		if rng.Intn(5) == 0 {
			e = event.Event{Actor: agents[rng.Intn(4)], Capability: capability.Path(caps[rng.Intn(3)]), Data: event.CapabilityGranted{GrantedBy: "root"}}
		} else {
			e = decision(agents[rng.Intn(4)], tenants[rng.Intn(2)], caps[rng.Intn(3)], decs[rng.Intn(3)], "")
		}
		if rng.Intn(2) == 0 {
			e.Correlation = fmt.Sprintf("c%d", rng.Intn(5))
		}
		e.Time = tm
		res := mustAppend(t, s, AppendOptions{}, e)
		stored, _ := s.Event(res.Events[0].Index)
		all = append(all, stored)
	}
	return all
}

func randomQuery(rng *rand.Rand, all []event.Event) Query {
	pick := func(vals ...string) string { return vals[rng.Intn(len(vals))] }
	q := Query{Limit: 1 + rng.Intn(40)}
	if rng.Intn(2) == 0 {
		q.Actor = pick("alice", "bob", "carol", "dave", "nobody")
	}
	if rng.Intn(3) == 0 {
		q.Tenant = pick("t1", "t2")
	}
	if rng.Intn(3) == 0 {
		q.Correlation = pick("c0", "c1", "c4")
	}
	if rng.Intn(3) == 0 {
		q.Capability = capability.Path(pick("user.read", "billing.charge"))
	}
	if rng.Intn(4) == 0 {
		q.Type = event.Type(pick(string(event.TypePolicyDecision), string(event.TypeCapabilityGranted)))
	}
	if rng.Intn(3) == 0 {
		q.Decision = policy.Decision(pick("allow", "deny", "require_approval"))
	}
	if rng.Intn(3) == 0 {
		q.Since = all[rng.Intn(len(all))].Time
	}
	if rng.Intn(3) == 0 {
		q.Until = q.Since + int64(rng.Intn(300))*1e6
	}
	if rng.Intn(3) == 0 {
		q.Start = uint64(rng.Intn(len(all)))
	}
	return q
}

func matches(e *event.Event, q Query) bool {
	return (q.Actor == "" || e.Actor == q.Actor) && (q.Tenant == "" || e.Tenant == q.Tenant) &&
		(q.Correlation == "" || e.Correlation == q.Correlation) &&
		(q.Capability == "" || e.Capability == q.Capability) && (q.Type == "" || e.Type() == q.Type) &&
		(q.Decision == "" || e.Decision() == string(q.Decision)) &&
		(q.Since == 0 || e.Time >= q.Since) && (q.Until == 0 || e.Time <= q.Until)
}

func scanFrom(all []event.Event, q Query) []uint64 {
	var out []uint64
	for i := q.Start; i < uint64(len(all)); i++ {
		if matches(&all[i], q) {
			out = append(out, i)
		}
	}
	return out
}

func scan(all []event.Event, q Query) []uint64 { return scanFrom(all, q) }

// collect pages through q to the end.
func collect(t *testing.T, s *Store, q Query) []uint64 {
	var out []uint64
	for pages := 0; ; pages++ {
		p, err := s.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) > q.Limit || (p.More && len(p.Events) != q.Limit) {
			t.Fatalf("page of %d with limit %d, more %v", len(p.Events), q.Limit, p.More)
		}
		for _, e := range p.Events {
			out = append(out, e.Index)
		}
		if !p.More {
			return out
		}
		q.Start = p.Next
	}
}

func TestQueryRejects(t *testing.T) {
	s := openTest(t)
	for _, q := range []Query{
		{Limit: -1}, {Limit: 1 << 30}, {Type: "Nope"}, {Decision: "maybe"},
		{Since: 10, Until: 5}, {Actor: "a\x00b"},
	} {
		if _, err := s.Query(q); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("%+v: %v, want ErrInvalidQuery", q, err)
		}
	}
}

// Reader.Match returns what a scan below its end bound would, from one
// snapshot, and stops at its function's error.
func TestReaderMatchMatchesScan(t *testing.T) {
	seed := seedFor(t)
	rng := rand.New(rand.NewSource(seed))
	s := openTest(t)
	all := appendRandom(t, s, rng, 300)
	for n := 0; n < 200; n++ {
		q := randomQuery(rng, all)
		end := uint64(rng.Intn(len(all) + 10))
		var want []uint64
		for _, i := range scanFrom(all, q) {
			if i < end {
				want = append(want, i)
			}
		}
		var got []uint64
		err := s.Read(func(r *Reader) error {
			if r.Size() != uint64(len(all)) {
				t.Fatalf("snapshot size %d", r.Size())
			}
			return r.Match(q, end, func(e event.Event) error {
				got = append(got, e.Index)
				return nil
			})
		})
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d query %+v end %d: %v\n got %v\nwant %v", seed, q, end, err, got, want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.Read(func(r *Reader) error {
		return r.Match(Query{}, r.Size(), func(event.Event) error { calls++; return stop })
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	if err := s.Read(func(r *Reader) error { return r.Match(Query{Type: "Nope"}, 1, nil) }); !errors.Is(err, ErrInvalidQuery) {
		t.Fatalf("invalid query: %v", err)
	}
}
