package event_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
)

const hhash = "bb00000000000000000000000000000000000000000000000000000000000000"

func hotBatch(sessions ...event.HotPathSession) event.HotPathBatch {
	var total uint64
	for _, s := range sessions {
		total += s.Count
	}
	return event.HotPathBatch{NodeID: "n1", Since: t0, Until: t0 + 1, Shards: []event.ShardCount{{0, total}}, Total: total,
		Digest: hhash, Sessions: sessions}
}

func hotSession(cert string, count, ok uint64) event.HotPathSession {
	return event.HotPathSession{Certificate: cert, Number: 1, Count: count, OK: ok, Failed: count - ok,
		First: t0, Last: t0 + 2, Prev: hhash, Digest: hhash}
}

func TestHotPathPayloadValidation(t *testing.T) {
	lease := event.HotPathLease{NodeID: "n1", Lease: "n1/1", Certificate: "cert_1", Op: event.LeaseGranted, Uses: 3,
		UseCounts: []event.UseCount{{Link: hhash, Used: 3, Max: 10}}}
	bad := func(f func(*event.HotPathLease)) event.HotPathLease {
		l := lease
		l.UseCounts = append([]event.UseCount(nil), lease.UseCounts...)
		f(&l)
		return l
	}
	sumWrong := hotBatch(hotSession("c1", 2, 2))
	sumWrong.Sessions[0].Count = 3
	sumWrong.Sessions[0].Failed = 1
	noNumber := hotBatch(hotSession("c1", 2, 2))
	noNumber.Sessions[0].Number = 0
	cases := []struct {
		name string
		p    event.Payload
		ok   bool
	}{
		{"batch with sessions", hotBatch(hotSession("c1", 2, 2), hotSession("c2", 5, 4)), true},
		{"batch without sessions", hotBatch(), true},
		{"sessions do not sum to total", sumWrong, false},
		{"ok+failed != count", hotBatch(event.HotPathSession{Certificate: "c1", Number: 1, Count: 2, OK: 1, Prev: hhash, Digest: hhash}), false},
		{"batch number 0", noNumber, false},
		{"session digest not hex", hotBatch(event.HotPathSession{Certificate: "c1", Number: 1, Prev: hhash, Digest: "xy"}), false},
		{"lease", lease, true},
		{"return", bad(func(l *event.HotPathLease) { l.Op, l.Uses, l.Spent = event.LeaseReturned, 0, 7 }), true},
		{"unknown op", bad(func(l *event.HotPathLease) { l.Op = "steal" }), false},
		{"lease of zero", bad(func(l *event.HotPathLease) { l.Uses = 0 }), false},
		{"no use counts", bad(func(l *event.HotPathLease) { l.UseCounts = nil }), false},
		{"long lease id", bad(func(l *event.HotPathLease) { l.Lease = strings.Repeat("x", 65) }), false},
		{"bad link", bad(func(l *event.HotPathLease) { l.UseCounts[0].Link = "zz" }), false},
	}
	for _, c := range cases {
		e := event.Event{Actor: "n1", Data: c.p}
		err := e.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, event.ErrInvalidEvent) {
			t.Errorf("%s: %v is not ErrInvalidEvent", c.name, err)
		}
	}
}

func TestHotPathLeaseJSONRoundTrip(t *testing.T) {
	in := event.Event{Actor: "n1", Data: event.HotPathLease{NodeID: "n1", Lease: "n1/1", Certificate: "cert_1", Op: event.LeaseReturned,
		Uses: 2, Spent: 5, UseCounts: []event.UseCount{{Link: hhash, Used: 5, Max: 10}}}}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out event.Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Type() != event.TypeHotPathLease || !reflect.DeepEqual(out.Data, in.Data) {
		t.Fatalf("round trip: %+v", out)
	}
	if _, err := event.ParseType("HotPathLease"); err != nil {
		t.Fatal(err)
	}
}
