package nemesis

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

func TestProxyPass(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "hello")
	big := make([]byte, 1<<20)
	rand.Read(big)
	got, err := roundTrip(c, big, 10*time.Second)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("1 MiB round trip: %v", err)
	}
	// The echo can reach the client before the proxy counts its last
	// chunk: wait for the counters rather than read them once.
	deadline := time.Now().Add(5 * time.Second)
	for s := p.Stats(); s.Accepted != 1 || s.BytesForwarded < 2<<20; s = p.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProxyBlackholeNewAndExisting(t *testing.T) {
	p := newProxy(t, echoServer(t))
	old := dial(t, p.Addr())
	mustEcho(t, old, "before")
	p.Set(Fault{Mode: Blackhole})
	if _, err := roundTrip(old, []byte("x"), 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("existing connection under blackhole: %v, want timeout", err)
	}
	fresh := dial(t, p.Addr()) // accepted, never answered
	if _, err := roundTrip(fresh, []byte("y"), 200*time.Millisecond); !isTimeout(err) {
		t.Fatalf("new connection under blackhole: %v, want timeout", err)
	}
	p.Set(Fault{Mode: Pass})
	mustEcho(t, fresh, "after")
	mustEcho(t, dial(t, p.Addr()), "again")
}

func TestProxyDelayKeepsOrder(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	p.Set(Fault{Mode: Delay, Delay: 60 * time.Millisecond, Jitter: 30 * time.Millisecond})
	start := time.Now()
	mustEcho(t, c, "ping")
	if rtt := time.Since(start); rtt < 60*time.Millisecond {
		t.Fatalf("round trip %v through two delayed hops, want >= 60ms", rtt)
	}
	var want bytes.Buffer
	go func() {
		for i := range 200 {
			c.Write([]byte{byte(i)})
		}
	}()
	for i := range 200 {
		want.WriteByte(byte(i))
	}
	got := make([]byte, 200)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("delayed chunks out of order or lost: %v", err)
	}
}

func TestProxyDropPercentOfConnections(t *testing.T) {
	p := newProxy(t, echoServer(t))
	p.Set(Fault{Mode: Drop, Percent: 50})
	const n = 60
	failed := 0
	for range n {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			failed++
			continue
		}
		if _, err := roundTrip(c, []byte("z"), 150*time.Millisecond); err != nil {
			failed++
		}
		c.Close()
	}
	// 50% of connections are refused; a share of the survivors' single
	// chunks is dropped too, so well over a third fail and some pass.
	if failed < n/3 || failed == n {
		t.Fatalf("%d of %d connections failed under drop 50%%", failed, n)
	}
	if p.Stats().Refused == 0 || p.Stats().BytesDropped == 0 {
		t.Fatalf("stats %+v: want refusals and dropped bytes", p.Stats())
	}
	p.Set(Fault{Mode: Drop, Percent: 0})
	mustEcho(t, dial(t, p.Addr()), "all pass at 0%")
}

func TestProxyResetExistingAndNew(t *testing.T) {
	p := newProxy(t, echoServer(t))
	c := dial(t, p.Addr())
	mustEcho(t, c, "up")
	p.Set(Fault{Mode: Reset})
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a reset connection: %v, want a connection error", err)
	}
	// A new connection is reset too: at connect (the reset can reach the
	// dialer first) or at its first exchange.
	if c2, err := net.DialTimeout("tcp", p.Addr(), 2*time.Second); err == nil {
		if _, err := roundTrip(c2, []byte("r"), 2*time.Second); err == nil || isTimeout(err) {
			t.Fatalf("new connection under reset: %v, want a connection error", err)
		}
		c2.Close()
	} else if isTimeout(err) {
		t.Fatalf("dial under reset timed out: %v", err)
	}
	p.Set(Fault{Mode: Pass})
	mustEcho(t, dial(t, p.Addr()), "healed")
}

func TestProxyCloseFreesPortAndGoroutines(t *testing.T) {
	noLeaks(t)
	target := echoServer(t)
	p, err := NewProxy(target, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c := dial(t, p.Addr())
	mustEcho(t, c, "open")
	p.Set(Fault{Mode: Delay, Delay: time.Hour}) // a chunk stuck in the queue
	c.Write([]byte("stuck"))
	waitFor(t, 5*time.Second, "the chunk to be queued", func() bool { return p.Stats().BytesQueued == 5 })
	addr := p.Addr()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if c2, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c2.Close()
		t.Fatalf("closed proxy still accepts on %s", addr)
	}
}

func TestModeAndFaultStrings(t *testing.T) {
	cases := map[string]Fault{
		"pass":           {},
		"blackhole":      {Mode: Blackhole},
		"delay 10ms±5ms": {Mode: Delay, Delay: 10 * time.Millisecond, Jitter: 5 * time.Millisecond},
		"drop 30%":       {Mode: Drop, Percent: 30},
		"reset":          {Mode: Reset},
	}
	for want, f := range cases {
		if got := f.String(); got != want {
			t.Errorf("%+v: %q, want %q", f, got, want)
		}
	}
	if got := Mode(99).String(); got != "mode(99)" {
		t.Errorf("unknown mode: %q", got)
	}
}
