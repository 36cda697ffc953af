package gossip

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestTableTransitions(t *testing.T) {
	tb := newTable()
	m := mem("a", StateAlive, 1)
	if ev := tb.alive(m, t0); ev != EventJoin {
		t.Fatalf("first sight: %s", ev)
	}
	if ev := tb.alive(m, t0.Add(time.Second)); ev != EventUpdate {
		t.Fatalf("update: %s", ev)
	}
	if got, _ := tb.get("a"); !got.Since.Equal(t0) {
		t.Fatalf("an update moved since to %v", got.Since)
	}
	if _, ok := tb.setSuspect("a", true, t0.Add(2*time.Second)); !ok {
		t.Fatal("alive member not suspected")
	}
	if _, ok := tb.setSuspect("a", true, t0.Add(3*time.Second)); ok {
		t.Fatal("suspect member suspected twice")
	}
	if got, _ := tb.setSuspect("a", false, t0.Add(4*time.Second)); got.State != StateAlive || !got.Since.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("cleared suspicion: %+v", got)
	}
	if got := tb.gone(Member{NodeID: "a"}, t0.Add(5*time.Second)); got.State != StateDead || got.Role != RoleServer {
		t.Fatalf("death with unreadable metadata: %+v", got)
	}
	if ev := tb.alive(m, t0.Add(6*time.Second)); ev != EventJoin {
		t.Fatalf("back from the dead: %s", ev)
	}
	leaving := m
	leaving.Leaving = true
	tb.alive(leaving, t0.Add(7*time.Second))
	if got := tb.gone(m, t0.Add(8*time.Second)); got.State != StateLeft {
		t.Fatalf("member that announced leaving is %s", got.State)
	}
	if n := len(tb.list(t0.Add(8*time.Second+time.Hour), time.Hour)); n != 1 {
		t.Fatalf("left member reaped early: %d members", n)
	}
	if n := len(tb.list(t0.Add(8*time.Second+time.Hour+1), time.Hour)); n != 0 {
		t.Fatalf("left member not reaped after retention: %d members", n)
	}
}

func TestPeerViewSuspicion(t *testing.T) {
	tb := newTable()
	tb.alive(mem("a", StateAlive, 1), t0)
	tb.alive(mem("me", StateAlive, 1), t0)
	view := []*memberlist.Node{{Name: "a", State: memberlist.StateDead}, {Name: "me", State: memberlist.StateSuspect}, {Name: "zz", State: memberlist.StateDead}}
	if ch := tb.peerView(view, "me", t0); len(ch) != 1 || ch[0].NodeID != "a" || ch[0].State != StateSuspect {
		t.Fatalf("changes %+v", ch)
	}
	view[0].State = memberlist.StateAlive
	if ch := tb.peerView(view, "me", t0); len(ch) != 1 || ch[0].State != StateAlive {
		t.Fatalf("changes %+v", ch)
	}
}

func TestLogSniffer(t *testing.T) {
	var got []string
	var out []byte
	s := &logSniffer{next: writerFunc(func(p []byte) { out = append(out, p...) }), onSuspect: func(n string) { got = append(got, n) }}
	for _, line := range []string{
		"[INFO] memberlist: Suspect s3 has failed, no acks received\n",
		"[INFO] memberlist: Marking s3 as failed, suspect timeout reached (0 peer confirmations)\n",
		"[DEBUG] memberlist: Suspect s4 has failed, no acks received\n",
	} {
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 || got[0] != "s3" || len(out) == 0 {
		t.Fatalf("suspects %v, forwarded %d bytes", got, len(out))
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

func TestSlowConsumerDropsEvents(t *testing.T) {
	g := start(t, testConfig(t, "solo", RoleEdge))
	for range 2 * cap(g.events) {
		g.emit(Event{Type: EventUpdate})
	}
	if d := g.Dropped(); d < uint64(cap(g.events)) {
		t.Fatalf("dropped %d of %d events into a full channel", d, 2*cap(g.events))
	}
}
