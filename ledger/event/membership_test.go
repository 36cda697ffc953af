package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
)

func TestMembershipPayloadValidation(t *testing.T) {
	base := event.MembershipChanged{NodeID: "n3", Change: event.MemberRemoved, KeyID: "k_0123456789abcdef",
		RaftAddr: "127.0.0.1:7003", By: "client:ops", Cause: "cluster remove from 127.0.0.1:4000 by client certificate ops"}
	mod := func(f func(*event.MembershipChanged)) event.MembershipChanged {
		p := base
		f(&p)
		return p
	}
	cases := []struct {
		name string
		p    event.MembershipChanged
		ok   bool
	}{
		{"removal", base, true},
		{"every change", mod(func(p *event.MembershipChanged) { p.Change = event.MemberPromoted; p.Voter = true }), true},
		{"readmitting join", mod(func(p *event.MembershipChanged) { p.Change, p.Readmitted = event.MemberJoined, 9 }), true},
		{"move", mod(func(p *event.MembershipChanged) { p.Change, p.FromRaftAddr = event.MemberMoved, "127.0.0.1:7999" }), true},
		{"no key (never registered)", mod(func(p *event.MembershipChanged) { p.KeyID = "" }), true},
		{"unknown change", mod(func(p *event.MembershipChanged) { p.Change = "kicked" }), false},
		{"no node id", mod(func(p *event.MembershipChanged) { p.NodeID = "" }), false},
		{"bad key id", mod(func(p *event.MembershipChanged) { p.KeyID = "k_XYZ" }), false},
		{"no cause", mod(func(p *event.MembershipChanged) { p.Cause = "" }), false},
		{"no by", mod(func(p *event.MembershipChanged) { p.By = "" }), false},
		{"long cause", mod(func(p *event.MembershipChanged) { p.Cause = strings.Repeat("x", 4097) }), false},
		{"address with a space", mod(func(p *event.MembershipChanged) { p.RaftAddr = "a b" }), false},
		{"readmitted on a removal", mod(func(p *event.MembershipChanged) { p.Readmitted = 3 }), false},
		{"move without its old address", mod(func(p *event.MembershipChanged) { p.Change = event.MemberMoved }), false},
		{"old address on a join", mod(func(p *event.MembershipChanged) { p.Change, p.FromAPIAddr = event.MemberJoined, "x:1" }), false},
	}
	for _, c := range cases {
		e := event.Event{Actor: c.p.NodeID, Data: c.p}
		if c.p.NodeID == "" {
			e.Actor = "n3"
		}
		err := e.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && !errors.Is(err, event.ErrInvalidEvent) {
			t.Errorf("%s: %v is not ErrInvalidEvent", c.name, err)
		}
	}
}

// A membership event survives both encodings unchanged, and its type
// parses (ledger query --type MembershipChanged).
func TestMembershipRoundTrips(t *testing.T) {
	in := event.Event{Index: 4, RaftIndex: 9, Time: t0, Actor: "n2", Data: event.MembershipChanged{NodeID: "n2", Change: event.MemberMoved,
		KeyID: "k_0123456789abcdef", RaftAddr: "10.0.0.2:7000", FromRaftAddr: "10.0.0.1:7000", Voter: true, By: "token",
		Cause: "cluster move-member from 127.0.0.1:5000 by a cluster-token holder"}}
	b, err := in.MarshalCanonical()
	if err != nil {
		t.Fatal(err)
	}
	out, err := event.UnmarshalEvent(b)
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("canonical: %+v %v", out, err)
	}
	b2, _ := out.MarshalCanonical()
	if !bytes.Equal(b, b2) {
		t.Fatal("canonical encoding is not a fixed point")
	}
	j, err := json.Marshal(&in)
	if err != nil {
		t.Fatal(err)
	}
	var back event.Event
	if err := json.Unmarshal(j, &back); err != nil || !reflect.DeepEqual(in, back) {
		t.Fatalf("json %s: %+v %v", j, back, err)
	}
	if typ, err := event.ParseType("MembershipChanged"); err != nil || typ != event.TypeMembershipChanged {
		t.Fatalf("ParseType: %v %v", typ, err)
	}
}
