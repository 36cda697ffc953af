package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/cnv-project/cnv/hot/proto"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// raw is a hand-driven protocol connection for tests of malformed input.
type raw struct {
	t       testing.TB
	nc      net.Conn
	welcome proto.WelcomeMsg
}

func dialRaw(t testing.TB, addr string, hello bool) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	r := &raw{t: t, nc: nc}
	if hello {
		r.control(proto.FrameHello, proto.HelloMsg{Magic: proto.Magic, Version: proto.Version})
		typ, body := r.read()
		if typ != proto.FrameWelcome {
			t.Fatalf("got %s", typ)
		}
		if err := proto.ParseControl(typ, body, &r.welcome); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *raw) send(b []byte) {
	r.t.Helper()
	if _, err := r.nc.Write(b); err != nil {
		r.t.Fatal(err)
	}
}

func (r *raw) control(typ proto.FrameType, v any) {
	r.t.Helper()
	b, err := proto.AppendControl(nil, typ, v)
	if err != nil {
		r.t.Fatal(err)
	}
	r.send(b)
}

// read returns the next frame, failing the test after 10s.
func (r *raw) read() (proto.FrameType, []byte) {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, body, err := proto.ReadFrame(r.nc)
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return typ, body
}

func (r *raw) readError() proto.ErrorMsg {
	r.t.Helper()
	typ, body := r.read()
	if typ != proto.FrameError {
		r.t.Fatalf("got %s, want error", typ)
	}
	var m proto.ErrorMsg
	if err := proto.ParseControl(typ, body, &m); err != nil {
		r.t.Fatal(err)
	}
	return m
}

// expectClosed checks the server closed the connection.
func (r *raw) expectClosed() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := proto.ReadFrame(r.nc); err == nil {
		r.t.Fatal("connection still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatal("connection still open after 10s")
	}
}

// openSession opens a session for a on the raw connection.
func (r *raw) openSession(n *node, a agent, path capability.Path, e capability.EffectType, window int) uint32 {
	r.t.Helper()
	cert := n.issue(certSpec{path: path, effects: []capability.EffectType{e}, holder: a.pub})
	sig, pub := proto.SignProof(a.priv, r.welcome.Challenge, cert)
	r.control(proto.FrameOpen, proto.OpenMsg{ID: 9, Certificate: cert, PublicKey: pub, Signature: sig, Window: window})
	typ, body := r.read()
	var m proto.OpenedMsg
	if typ != proto.FrameOpened || proto.ParseControl(typ, body, &m) != nil || m.ID != 9 {
		r.t.Fatalf("open answered %s %x", typ, body)
	}
	return m.Session
}

func frameWithLength(n uint32, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), rest...)
}

// Bytes that lose framing get a fatal error frame and a closed connection;
// bytes that are merely wrong get an error frame and the connection goes on.
// Either way the server keeps serving its other connections.
func TestMalformedFrames(t *testing.T) {
	n := newNode(t, nodeOpts{})
	good := dialRaw(t, n.addr, true)
	goodID := good.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, 0)
	fatal := []struct {
		name  string
		hello bool
		bytes []byte
		want  error
	}{
		{"zero length", true, frameWithLength(0), proto.ErrMalformedFrame},
		{"length beyond limit", true, frameWithLength(limits.MaxHotFrameBytes + 1), proto.ErrFrameTooLarge},
		{"control frame beyond limit before a session", true, frameWithLength(limits.MaxHotControlBytes + 1), proto.ErrFrameTooLarge},
		{"http request", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), proto.ErrFrameTooLarge},
		{"no hello", false, proto.AppendInvoke(nil, 1, 1, nil), proto.ErrProtocol},
		{"bad magic", false, mustControl(t, proto.FrameHello, proto.HelloMsg{Magic: "other", Version: proto.Version}), proto.ErrProtocol},
		{"bad version", false, mustControl(t, proto.FrameHello, proto.HelloMsg{Magic: proto.Magic, Version: 99}), proto.ErrProtocol},
		{"garbage hello body", false, append(frameWithLength(4, byte(proto.FrameHello)), 0xc1, 0xc1, 0xc1), proto.ErrProtocol},
	}
	for i, tc := range fatal {
		r := dialRaw(t, n.addr, tc.hello)
		r.send(tc.bytes)
		m := r.readError()
		if !m.Fatal || !errors.Is(m.Err(), tc.want) {
			t.Errorf("%s: %+v", tc.name, m)
		}
		r.expectClosed()
		good.send(proto.AppendInvoke(nil, goodID, uint64(i+1), []byte(tc.name)))
		if res := readResult(t, good); res.Refused || res.Err() != nil || string(res.Output) != tc.name {
			t.Fatalf("after %s the other connection fails: %q %v", tc.name, res.Output, res.Err())
		}
	}

	r := dialRaw(t, n.addr, true)
	nonFatal := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"unknown type", append(frameWithLength(3, 0x7e), 1, 2), proto.ErrUnknownFrame},
		{"short invoke", append(frameWithLength(5, byte(proto.FrameInvoke)), 0, 0, 0, 1), proto.ErrMalformedFrame},
		{"garbage open", append(frameWithLength(2, byte(proto.FrameOpen)), 0xc1), proto.ErrMalformedFrame},
		{"second hello", mustControl(t, proto.FrameHello, proto.HelloMsg{Magic: proto.Magic, Version: proto.Version}), proto.ErrProtocol},
		{"server frame type", mustControl(t, proto.FrameOpened, proto.OpenedMsg{}), proto.ErrUnknownFrame},
	}
	for _, tc := range nonFatal {
		r.send(tc.bytes)
		if m := r.readError(); m.Fatal || !errors.Is(m.Err(), tc.want) {
			t.Errorf("%s: %+v", tc.name, m)
		}
	}
	// The same connection still works.
	id := r.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, 0)
	r.send(proto.AppendInvoke(nil, id, 1, []byte("still here")))
	res := readResult(t, r)
	if res.Refused || res.Seq != 1 || string(res.Output) != "still here" {
		t.Fatalf("%+v", res)
	}
	if st := n.srv.Stats(); st.ProtocolErrors < uint64(len(fatal)+len(nonFatal)) {
		t.Errorf("stats %+v", st)
	}
}

func mustControl(t testing.TB, typ proto.FrameType, v any) []byte {
	b, err := proto.AppendControl(nil, typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readResult(t testing.TB, r *raw) proto.ResultFrame {
	t.Helper()
	typ, body := r.read()
	res, err := proto.ParseResult(typ, body)
	if err != nil || (typ != proto.FrameResult && typ != proto.FrameRefused) {
		t.Fatalf("%s: %v", typ, err)
	}
	res.Output = bytes.Clone(res.Output)
	return res
}

// Invocation-level mistakes are refusals naming the sequence.
func TestInvocationRefusals(t *testing.T) {
	n := newNode(t, nodeOpts{})
	r := dialRaw(t, n.addr, true)
	id := r.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, 0)
	cases := []struct {
		session uint32
		seq     uint64
		args    []byte
		want    error
	}{
		{id, 5, nil, nil},
		{id, 5, nil, proto.ErrSeqOrder},
		{id, 4, nil, proto.ErrSeqOrder},
		{id + 1, 6, nil, proto.ErrUnknownSession},
		{id, 7, make([]byte, limits.MaxHotArgsBytes+1), proto.ErrArgsTooLarge},
		{id, 9, []byte("x"), nil},
	}
	for _, tc := range cases {
		r.send(proto.AppendInvoke(nil, tc.session, tc.seq, tc.args))
		res := readResult(t, r)
		if res.Session != tc.session || res.Seq != tc.seq || res.Refused != (tc.want != nil) || !errors.Is(res.Err(), tc.want) {
			t.Errorf("session %d seq %d: %+v err %v, want %v", tc.session, tc.seq, res, res.Err(), tc.want)
		}
	}
}

// A client that ignores the granted window is refused per invocation with
// ErrSessionWindow, never queued without bound.
func TestBackPressureSessionWindow(t *testing.T) {
	release := make(chan struct{})
	slow := capability.MustPath("hot.slow")
	n := newNode(t, nodeOpts{register: func(n *node) {
		_, err := n.catalog.Register(n.disp, slow.ID(), slow, func(ctx context.Context, c *hotpath.Call) error {
			<-release
			return nil
		}, hotpath.Spec{Flags: capability.FlagReadOnly})
		if err != nil {
			t.Fatal(err)
		}
	}})
	r := dialRaw(t, n.addr, true)
	const window, total = 4, 40
	id := r.openSession(n, newAgent(t), slow, capability.ReadOnly, window)
	var batch []byte
	for seq := uint64(1); seq <= total; seq++ {
		batch = proto.AppendInvoke(batch, id, seq, nil)
	}
	r.send(batch)
	for range total - window {
		res := readResult(t, r)
		if !res.Refused || !errors.Is(res.Err(), hotpath.ErrSessionWindow) || res.Seq <= window {
			t.Fatalf("%+v %v", res, res.Err())
		}
	}
	close(release)
	for seq := uint64(1); seq <= window; seq++ {
		if res := readResult(t, r); res.Refused || res.Seq != seq {
			t.Fatalf("%+v", res)
		}
	}
}

// A client that does not read its responses makes the server stop reading
// its requests (bounded memory), not drop anything: once it reads, every
// invocation is answered.
func TestSlowReaderBackPressure(t *testing.T) {
	n := newNode(t, nodeOpts{})
	r := dialRaw(t, n.addr, true)
	const window = 1024
	id := r.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, window)
	args := make([]byte, limits.MaxHotArgsBytes-64)
	go func() {
		var batch []byte
		for seq := uint64(1); seq <= window; seq++ {
			batch = proto.AppendInvoke(batch[:0], id, seq, args)
			if _, err := r.nc.Write(batch); err != nil {
				return
			}
		}
	}()
	testcluster.WaitFor(t, "the server to stop reading", 10*time.Second, n.stalled(func(st Stats) uint64 { return st.OutputStalls }))
	for seq := uint64(1); seq <= window; seq++ {
		res := readResult(t, r)
		if res.Refused || res.Seq != seq || len(res.Output) != len(args) {
			t.Fatalf("seq %d: %+v", seq, res.Err())
		}
	}
}

// An invocation longer than any frame loses framing even on a session:
// the connection ends with a fatal error frame.
func TestInvokeBeyondFrameLimit(t *testing.T) {
	n := newNode(t, nodeOpts{})
	r := dialRaw(t, n.addr, true)
	id := r.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, 0)
	r.send(proto.AppendInvoke(nil, id, 1, make([]byte, limits.HotReadChunkBytes+10)))
	if m := r.readError(); !m.Fatal || !errors.Is(m.Err(), proto.ErrFrameTooLarge) {
		t.Fatalf("%+v", m)
	}
	r.expectClosed()
}

// A peer that has proved nothing cannot hold memory or a connection: a
// frame begun and not finished ends the connection after FrameTimeout; a
// silent connection after hello ends after the handshake and open
// timeouts; a connection whose sessions are all closed ends after
// IdleTimeout; beyond limits.MaxHotPreAuthConns unauthenticated
// connections are refused.
func TestUnauthenticatedPeersAreBounded(t *testing.T) {
	n := newNode(t, nodeOpts{server: func(c *Config) {
		c.HandshakeTimeout, c.OpenTimeout = 100*time.Millisecond, 100*time.Millisecond
		c.FrameTimeout, c.IdleTimeout = 100*time.Millisecond, 200*time.Millisecond
	}})
	partial := dialRaw(t, n.addr, true)
	partial.send(append(frameWithLength(uint32(limits.MaxHotControlBytes), byte(proto.FrameOpen)), make([]byte, 4<<10)...))
	partial.expectClosed()
	silent := dialRaw(t, n.addr, true)
	silent.expectClosed()
	idle := dialRaw(t, n.addr, true)
	id := idle.openSession(n, newAgent(t), EchoPath, capability.ReadOnly, 0)
	idle.control(proto.FrameClose, proto.CloseMsg{ID: 2, Session: id})
	if typ, _ := idle.read(); typ != proto.FrameClosed {
		t.Fatalf("close answered %s", typ)
	}
	idle.expectClosed()
	dialRaw(t, n.addr, true) // still serving
}

func TestPreAuthConnectionCap(t *testing.T) {
	n := newNode(t, nodeOpts{})
	for i := 0; i < limits.MaxHotPreAuthConns; i++ {
		dialRaw(t, n.addr, true)
	}
	r := dialRaw(t, n.addr, false)
	if m := r.readError(); !m.Fatal || !errors.Is(m.Err(), proto.ErrTooManyConns) {
		t.Fatalf("%+v", m)
	}
	r.expectClosed()
}

// A client that never says hello is disconnected after the handshake
// timeout; the server goes on serving.
func TestHandshakeTimeout(t *testing.T) {
	n := newNode(t, nodeOpts{server: func(c *Config) { c.HandshakeTimeout = 50 * time.Millisecond }})
	r := dialRaw(t, n.addr, false)
	r.expectClosed()
	dialRaw(t, n.addr, true) // fails the test unless hello is answered by welcome
}
