package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
)

func TestSessionSetupAndInvoke(t *testing.T) {
	n := newNode(t, nodeOpts{})
	c, echo := n.open(EchoPath, capability.ReadOnly)
	if c.Node() != "n1" {
		t.Errorf("node %q", c.Node())
	}
	info := echo.Info()
	if info.Capability != string(EchoPath) || info.Tenant != "acme" || info.Agent != "agent-1" ||
		info.Window != 1024 || info.ID == 0 || info.ExpiresAt != t0.Add(certificate.DefaultTTL).UnixNano() {
		t.Errorf("info %+v", info)
	}
	out, err := echo.Invoke(ctx(t), []byte("hello hot path"))
	if err != nil || string(out) != "hello hot path" {
		t.Fatalf("echo: %q %v", out, err)
	}
	_, counter := n.open(CounterPath, capability.MutateState)
	for i, arg := range []string{"", "41", ""} {
		out, err := counter.Invoke(ctx(t), []byte(arg))
		want := []string{"1", "42", "43"}[i]
		if err != nil || string(out) != want {
			t.Fatalf("counter %d: %q %v, want %q", i, out, err, want)
		}
	}
	_, err = counter.Invoke(ctx(t), []byte("x"))
	if cnverr.KindOf(err) != cnverr.InvalidInput || err.Error() != ErrBadCount.Error() {
		t.Fatalf("bad count: %v", err)
	}
	rep, err := echo.Close(ctx(t))
	if err != nil || rep.Accepted != 1 || rep.Refused != 0 {
		t.Fatalf("close: %+v %v", rep, err)
	}
	if _, err := echo.Invoke(ctx(t), nil); !errors.Is(err, hotpath.ErrSessionClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// A certificate is refused unless a trusted node signed it, it is within
// its window, it was issued to the key that proves itself, and its
// capability is served on the hot path within its effects.
func TestOpenRefusals(t *testing.T) {
	n := newNode(t, nodeOpts{})
	a := newAgent(t)
	c := n.dial(a, nil)
	other := newAgent(t)
	forger := newAgent(t).priv

	var w certificate.Answer
	if err := json.Unmarshal(n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub}), &w); err != nil {
		t.Fatal(err)
	}
	w.Signature[0] ^= 1
	tampered, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}

	ro := []capability.EffectType{capability.ReadOnly}
	cases := []struct {
		name string
		cert []byte
		want error
	}{
		{"forged signer", n.issue(certSpec{path: EchoPath, effects: ro, holder: a.pub, signer: forger}), certificate.ErrUntrustedSigner},
		{"tampered signature", tampered, certificate.ErrBadSignature},
		{"other holder", n.issue(certSpec{path: EchoPath, effects: ro, holder: other.pub}), proto.ErrWrongHolder},
		{"not hot path", n.issue(certSpec{path: "user.create", effects: ro, holder: a.pub}), proto.ErrNotHotPath},
		{"effects exceeded", n.issue(certSpec{path: CounterPath, effects: ro, holder: a.pub}), hotpath.ErrEffectNotAllowed},
		{"garbage", []byte(`{"signed_bytes":"AAAA"}`), certificate.ErrInvalid},
	}
	for _, tc := range cases {
		_, err := c.OpenSession(ctx(t), tc.cert)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// The connection survives every refusal.
	s, err := c.OpenSession(ctx(t), n.issue(certSpec{path: EchoPath, effects: ro, holder: a.pub}))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Invoke(ctx(t), []byte("ok")); err != nil || string(out) != "ok" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestExpiredCertificate(t *testing.T) {
	n := newNode(t, nodeOpts{})
	a := newAgent(t)
	c := n.dial(a, nil)
	ro := []capability.EffectType{capability.ReadOnly}
	cert := n.issue(certSpec{path: EchoPath, effects: ro, holder: a.pub, ttl: time.Minute})
	s, err := c.OpenSession(ctx(t), cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invoke(ctx(t), []byte("x")); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(time.Minute)
	if _, err := s.Invoke(ctx(t), []byte("x")); err != nil {
		t.Fatalf("at the expiry instant: %v", err)
	}
	n.clock.Advance(time.Nanosecond)
	// Opening with the expired certificate is refused.
	if _, err := c.OpenSession(ctx(t), cert); !errors.Is(err, certificate.ErrExpired) {
		t.Fatalf("open expired: %v", err)
	}
	// The open session ends at the expiry: invocations are refused.
	call := s.Go([]byte("late"), nil)
	<-call.Done
	if !call.Refused || !errors.Is(call.Err, proto.ErrSessionExpired) || cnverr.KindOf(call.Err) != cnverr.PermissionDenied {
		t.Fatalf("late invoke: refused=%v %v", call.Refused, call.Err)
	}
	// The client is told the session ended; later submissions fail at once.
	testcluster.WaitFor(t, "session killed", 10*time.Second, invokeFails(t, s, proto.ErrSessionExpired))
	if _, err := s.Close(ctx(t)); err != nil {
		t.Fatalf("close of an expired session: %v", err)
	}
}

// Pipelined invocations on one session run in order and each is answered
// once: the counter's answer to invocation k is k.
func TestPipeliningOrder(t *testing.T) {
	n := newNode(t, nodeOpts{})
	_, s := n.open(CounterPath, capability.MutateState)
	const total = 20000
	got := make([]uint64, total+1)
	done := make(chan struct{})
	var count int
	fn := func(r *client.Result) {
		if r.Err != nil {
			t.Errorf("seq %d: %v", r.Seq, r.Err)
		}
		v, _ := strconv.ParseUint(string(r.Output), 10, 64)
		got[r.Seq] = v
		if count++; count == total {
			close(done)
		}
	}
	for range total {
		if err := s.Submit(nil, fn); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	for seq := uint64(1); seq <= total; seq++ {
		if got[seq] != seq {
			t.Fatalf("seq %d answered %d", seq, got[seq])
		}
	}
	if n.builtins.total() != total {
		t.Fatalf("counter %d", n.builtins.total())
	}
}

// A full shard queue refuses with an answer naming each refused sequence;
// everything accepted still runs.
func TestBackPressureShardFull(t *testing.T) {
	release := make(chan struct{})
	var slowIdx uint32
	slow := capability.MustPath("hot.slow")
	n := newNode(t, nodeOpts{
		dispatcher: func(c *hotpath.Config) { c.QueueDepth = 4; c.Shards = 1 },
		register: func(n *node) {
			e, err := n.catalog.Register(n.disp, slow.ID(), slow, func(ctx context.Context, c *hotpath.Call) error {
				select {
				case <-release:
				case <-ctx.Done():
				}
				return nil
			}, hotpath.Spec{Flags: capability.FlagReadOnly})
			if err != nil {
				t.Fatal(err)
			}
			slowIdx = e.Index
		},
	})
	_ = slowIdx
	_, s := n.open(slow, capability.ReadOnly)
	const total = 64
	results := make(chan client.Result, total)
	fn := func(r *client.Result) { results <- client.Result{Seq: r.Seq, Refused: r.Refused, Err: r.Err} }
	for range total {
		if err := s.Submit(nil, fn); err != nil {
			t.Fatal(err)
		}
	}
	// At most one running and four queued are accepted; the rest are
	// refused, each by sequence.
	refused := map[uint64]bool{}
	for len(refused) < total-5 {
		r := <-results
		if !r.Refused || !errors.Is(r.Err, hotpath.ErrShardFull) {
			t.Fatalf("seq %d: refused=%v %v", r.Seq, r.Refused, r.Err)
		}
		refused[r.Seq] = true
	}
	close(release)
	seen := map[uint64]bool{}
	for len(refused)+len(seen) < total {
		r := <-results
		if r.Refused {
			refused[r.Seq] = true
			continue
		}
		if r.Err != nil || seen[r.Seq] || refused[r.Seq] {
			t.Fatalf("seq %d answered twice or failed: %v", r.Seq, r.Err)
		}
		seen[r.Seq] = true
	}
	if st := n.srv.Stats(); st.Refused != uint64(len(refused)) {
		t.Fatalf("stats %+v, refused %d", st, len(refused))
	}
	rep, err := s.Close(ctx(t))
	if err != nil || rep.Accepted != uint64(len(seen)) || rep.Refused != uint64(len(refused)) {
		t.Fatalf("close %+v %v; seen %d refused %d", rep, err, len(seen), len(refused))
	}
}

// A leased quota is spent exactly: the rest is refused, and the unused part
// goes back to the authority at close.
func TestQuotaExhaustedAndReturned(t *testing.T) {
	n, ra := recordingNode(t, 5, nil)
	_, s := n.open(CounterPath, capability.MutateState)
	var ok, exhausted int
	for range 8 {
		_, err := s.Invoke(ctx(t), nil)
		switch {
		case err == nil:
			ok++
		case errors.Is(err, hotpath.ErrQuotaExhausted):
			exhausted++
		default:
			t.Fatal(err)
		}
	}
	if ok != 5 || exhausted != 3 {
		t.Fatalf("ok %d exhausted %d", ok, exhausted)
	}
	if _, err := s.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	cl := ra.closed()
	if len(cl) != 1 || cl[0].usage.Accepted != 5 || cl[0].usage.Refused != 3 || cl[0].returned != 0 {
		t.Fatalf("closes %+v", cl)
	}
}

// A dropped connection closes its sessions and hands their quota back.
func TestConnDropReturnsQuota(t *testing.T) {
	n, ra := recordingNode(t, 100, nil)
	c, s := n.open(CounterPath, capability.MutateState)
	for range 3 {
		if _, err := s.Invoke(ctx(t), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	testcluster.WaitFor(t, "authority close", 10*time.Second, ra.closedCount(1))
	if cl := ra.closed()[0]; cl.usage.Accepted != 3 || cl.returned != 97 {
		t.Fatalf("close %+v", cl)
	}
	if _, err := s.Invoke(ctx(t), nil); !errors.Is(err, proto.ErrConnClosed) {
		t.Fatalf("after conn close: %v", err)
	}
}

func TestRevocationEndsSession(t *testing.T) {
	revoked := make(chan struct{})
	n, ra := recordingNode(t, 0, revoked)
	_, s := n.open(EchoPath, capability.ReadOnly)
	if _, err := s.Invoke(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	close(revoked)
	testcluster.WaitFor(t, "revocation", 10*time.Second, invokeFails(t, s, proto.ErrRevoked))
	testcluster.WaitFor(t, "authority close", 10*time.Second, ra.closedCount(1))
}

func TestSessionLimit(t *testing.T) {
	n := newNode(t, nodeOpts{server: func(c *Config) { c.MaxSessions = 2 }})
	a := newAgent(t)
	c := n.dial(a, nil)
	cert := func() []byte {
		return n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub})
	}
	s1, err := c.OpenSession(ctx(t), cert())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenSession(ctx(t), cert()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenSession(ctx(t), cert()); !errors.Is(err, proto.ErrTooManySessions) {
		t.Fatalf("third: %v", err)
	}
	if _, err := s1.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenSession(ctx(t), cert()); err != nil {
		t.Fatalf("after a close: %v", err)
	}
}

func TestConnLimit(t *testing.T) {
	n := newNode(t, nodeOpts{server: func(c *Config) { c.MaxConns = 1 }})
	a := newAgent(t)
	n.dial(a, nil)
	if _, err := client.Dial(n.addr, client.Options{Key: a.priv}); !errors.Is(err, proto.ErrTooManyConns) {
		t.Fatalf("second conn: %v", err)
	}
}

// Closing the server answers what is in flight, then ends the connections
// with proto.ErrServerClosed.
func TestServerClose(t *testing.T) {
	n, ra := recordingNode(t, 10, nil)
	c, s := n.open(EchoPath, capability.ReadOnly)
	if _, err := s.Invoke(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	n.srv.Close()
	<-c.Done()
	if !errors.Is(c.Err(), proto.ErrServerClosed) {
		t.Fatalf("conn ended with %v", c.Err())
	}
	if cl := ra.closed(); len(cl) != 1 || cl[0].returned != 9 {
		t.Fatalf("closes %+v", cl)
	}
}

// Every accepted invocation is in exactly one batch of its session, the
// batches chain, and the last is final.
func TestBatchesAccountForEveryInvocation(t *testing.T) {
	n := newNode(t, nodeOpts{dispatcher: func(c *hotpath.Config) { c.BatchMaxCount = 100 }})
	_, s := n.open(EchoPath, capability.ReadOnly)
	const total = 1000
	done := make(chan struct{})
	count := 0
	for range total {
		if err := s.Submit([]byte("a"), func(r *client.Result) {
			if count++; count == total {
				close(done)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	if _, err := s.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	bs := n.batchesOf(s.Info().Key)
	var sum uint64
	var prev hotpath.Digest
	for i, b := range bs {
		if b.Number != uint64(i+1) || b.Prev != prev || b.OK != b.Count {
			t.Fatalf("batch %d: %+v", i, b)
		}
		sum, prev = sum+b.Count, b.Digest
	}
	if sum != total || len(bs) == 0 || !bs[len(bs)-1].Final {
		t.Fatalf("%d batches, %d invocations", len(bs), sum)
	}
}

// A certificate has at most one live session per node, so its batches form
// one chain; it may open again once closed, also from another connection.
func TestOneLiveSessionPerCertificate(t *testing.T) {
	n := newNode(t, nodeOpts{})
	a := newAgent(t)
	c1, c2 := n.dial(a, nil), n.dial(a, nil)
	cert := n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub})
	s, err := c1.OpenSession(ctx(t), cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OpenSession(ctx(t), cert); !errors.Is(err, proto.ErrSessionExists) || cnverr.KindOf(err) != cnverr.Conflict {
		t.Fatalf("second session: %v", err)
	}
	if _, err := s.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OpenSession(ctx(t), cert); err != nil {
		t.Fatalf("after close: %v", err)
	}
}

// blockingAuthority holds every open until released.
type blockingAuthority struct {
	*recordingAuthority
	release chan struct{}
}

func (a blockingAuthority) OpenSession(ctx context.Context, cert []byte, holder ed25519.PublicKey) (Grant, error) {
	<-a.release
	return a.recordingAuthority.OpenSession(ctx, cert, holder)
}

// A session whose opener gave up waiting is closed, not leaked.
func TestAbandonedOpenIsClosed(t *testing.T) {
	release := make(chan struct{})
	var ra *recordingAuthority
	n := newNode(t, nodeOpts{authority: func(a *CertAuthority) Authority {
		ra = &recordingAuthority{Authority: a}
		return blockingAuthority{ra, release}
	}})
	a := newAgent(t)
	c := n.dial(a, nil)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.OpenSession(short, n.issue(certSpec{path: EchoPath, effects: []capability.EffectType{capability.ReadOnly}, holder: a.pub}))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("open: %v", err)
	}
	close(release)
	testcluster.WaitFor(t, "the orphan to be closed", 10*time.Second, ra.closedCount(1))
}

func TestRunLoad(t *testing.T) {
	n := newNode(t, nodeOpts{})
	_, s1 := n.open(CounterPath, capability.MutateState)
	_, s2 := n.open(CounterPath, capability.MutateState)
	rep, err := client.RunLoad(ctx(t), client.LoadConfig{Sessions: []*client.Session{s1, s2}, Nodes: 1, Duration: 200 * time.Millisecond, Pipeline: 8})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed == 0 || rep.Errors != 0 || rep.Denied != 0 || rep.Clients != 2 || rep.Batch != 8 ||
		rep.P50ms <= 0 || rep.P99ms < rep.P50ms || rep.MaxMs < rep.P999ms || rep.FirstError != "" {
		t.Fatalf("%+v", rep)
	}
	// Every answered invocation ran exactly once.
	if got := n.builtins.total(); got != uint64(rep.Committed) {
		t.Fatalf("counter %d, committed %d", got, rep.Committed)
	}
}

func TestRunLoadCountsRefusals(t *testing.T) {
	n, _ := recordingNode(t, 50, nil)
	_, s := n.open(EchoPath, capability.ReadOnly)
	rep, err := client.RunLoad(ctx(t), client.LoadConfig{Sessions: []*client.Session{s}, Duration: 100 * time.Millisecond, Pipeline: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Committed != 50 || rep.Refused == 0 || !strings.Contains(rep.FirstError, "quota") {
		t.Fatalf("%+v", rep)
	}
}

func TestRunLines(t *testing.T) {
	n := newNode(t, nodeOpts{})
	_, s := n.open(CounterPath, capability.MutateState)
	var out bytes.Buffer
	ok, failed, err := client.RunLines(ctx(t), s, strings.NewReader("\n5\nnope\n\n2\n"), &out)
	if err != nil || ok != 2 || failed != 1 {
		t.Fatalf("%d %d %v", ok, failed, err)
	}
	want := "5\nerror: InvalidInput: " + ErrBadCount.Error() + "\n7\n"
	if out.String() != want {
		t.Fatalf("%q, want %q", out.String(), want)
	}
}
