package ledger

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const hhash = "bb00000000000000000000000000000000000000000000000000000000000000"

func hotBatch(sessions ...HotPathSession) HotPathBatch {
	var total uint64
	for _, s := range sessions {
		total += s.Count
	}
	return HotPathBatch{NodeID: "n1", Since: t0, Until: t0 + 1, Shards: []ShardCount{{0, total}}, Total: total,
		Digest: hhash, Sessions: sessions}
}

func hotSession(cert string, count, ok uint64) HotPathSession {
	return HotPathSession{Certificate: cert, Number: 1, Count: count, OK: ok, Failed: count - ok,
		First: t0, Last: t0 + 2, Prev: hhash, Digest: hhash}
}

func TestHotPathPayloadValidation(t *testing.T) {
	lease := HotPathLease{NodeID: "n1", Lease: "n1/1", Certificate: "cert_1", Op: LeaseGranted, Uses: 3,
		UseCounts: []UseCount{{Link: hhash, Used: 3, Max: 10}}}
	bad := func(f func(*HotPathLease)) HotPathLease {
		l := lease
		l.UseCounts = append([]UseCount(nil), lease.UseCounts...)
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
		p    Payload
		ok   bool
	}{
		{"batch with sessions", hotBatch(hotSession("c1", 2, 2), hotSession("c2", 5, 4)), true},
		{"batch without sessions", hotBatch(), true},
		{"sessions do not sum to total", sumWrong, false},
		{"ok+failed != count", hotBatch(HotPathSession{Certificate: "c1", Number: 1, Count: 2, OK: 1, Prev: hhash, Digest: hhash}), false},
		{"batch number 0", noNumber, false},
		{"session digest not hex", hotBatch(HotPathSession{Certificate: "c1", Number: 1, Prev: hhash, Digest: "xy"}), false},
		{"lease", lease, true},
		{"return", bad(func(l *HotPathLease) { l.Op, l.Uses, l.Spent = LeaseReturned, 0, 7 }), true},
		{"unknown op", bad(func(l *HotPathLease) { l.Op = "steal" }), false},
		{"lease of zero", bad(func(l *HotPathLease) { l.Uses = 0 }), false},
		{"no use counts", bad(func(l *HotPathLease) { l.UseCounts = nil }), false},
		{"long lease id", bad(func(l *HotPathLease) { l.Lease = strings.Repeat("x", 65) }), false},
		{"bad link", bad(func(l *HotPathLease) { l.UseCounts[0].Link = "zz" }), false},
	}
	for _, c := range cases {
		e := Event{Actor: "n1", Data: c.p}
		err := e.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v is not ErrInvalidEvent", c.name, err)
		}
	}
}

func TestHotPathLeaseJSONRoundTrip(t *testing.T) {
	in := Event{Actor: "n1", Data: HotPathLease{NodeID: "n1", Lease: "n1/1", Certificate: "cert_1", Op: LeaseReturned,
		Uses: 2, Spent: 5, UseCounts: []UseCount{{Link: hhash, Used: 5, Max: 10}}}}
	b, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Event
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.Type() != TypeHotPathLease || !reflect.DeepEqual(out.Data, in.Data) {
		t.Fatalf("round trip: %+v", out)
	}
	if _, err := ParseType("HotPathLease"); err != nil {
		t.Fatal(err)
	}
}
