package hotwire

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

func TestFrameRoundTrip(t *testing.T) {
	var b []byte
	b = appendInvoke(b, 7, 1<<40, []byte("args"))
	b = appendResultOK(b, 7, 2, 1, []byte("out"))
	b = appendResultErr(b, 7, 3, hotpath.OutcomeFailed, 3, cnverr.New(cnverr.ExecutionError, "boom"))
	b = appendResultErr(b, 7, 4, hotpath.OutcomeDeadlineExceeded, 1, hotpath.ErrDeadline)
	b = appendRefused(b, 7, 5, hotpath.ErrShardFull)
	b = appendRefused(b, 7, 6, fmt.Errorf("wrapped: %w", ErrSessionExpired))

	typ, body, n, err := decodeFrame(b, limits.MaxHotFrameBytes)
	if err != nil || typ != frameInvoke {
		t.Fatal(typ, err)
	}
	id, seq, args, err := parseInvoke(body)
	if err != nil || id != 7 || seq != 1<<40 || string(args) != "args" {
		t.Fatalf("invoke %d %d %q %v", id, seq, args, err)
	}
	b = b[n:]
	want := []struct {
		typ     frameType
		seq     uint64
		outcome hotpath.Outcome
		out     string
		err     error
		kind    cnverr.Kind
		msg     string
	}{
		{frameResult, 2, hotpath.OutcomeOK, "out", nil, "", ""},
		{frameResult, 3, hotpath.OutcomeFailed, "", nil, cnverr.ExecutionError, "boom"},
		{frameResult, 4, hotpath.OutcomeDeadlineExceeded, "", hotpath.ErrDeadline, cnverr.DeadlineExceeded, hotpath.ErrDeadline.Error()},
		{frameRefused, 5, 0, "", hotpath.ErrShardFull, cnverr.ResourceExhausted, hotpath.ErrShardFull.Error()},
		{frameRefused, 6, 0, "", ErrSessionExpired, cnverr.PermissionDenied, "wrapped: " + ErrSessionExpired.Error()},
	}
	for _, w := range want {
		typ, body, n, err := decodeFrame(b, limits.MaxHotFrameBytes)
		if err != nil || typ != w.typ {
			t.Fatal(typ, err)
		}
		r, err := parseResult(typ, body)
		if err != nil || r.session != 7 || r.seq != w.seq || r.outcome != w.outcome || string(r.output) != w.out {
			t.Fatalf("seq %d: %+v %v", w.seq, r, err)
		}
		e := r.err()
		if w.kind == "" {
			if e != nil {
				t.Fatalf("seq %d: %v", w.seq, e)
			}
		} else if cnverr.KindOf(e) != w.kind || e.Error() != w.msg || (w.err != nil && !errors.Is(e, w.err)) {
			t.Fatalf("seq %d: %v (%s)", w.seq, e, cnverr.KindOf(e))
		}
		b = b[n:]
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes left", len(b))
	}
}

// A sentinel travels as its code alone and comes back as itself.
func TestCodeTable(t *testing.T) {
	for i := 1; i < len(codeTable); i++ {
		if c := codeOf(codeTable[i]); c != uint8(i) {
			t.Errorf("%v: code %d, want %d", codeTable[i], c, i)
		}
		if e := remoteError(uint8(i), "", ""); e != codeTable[i] {
			t.Errorf("code %d: %v", i, e)
		}
	}
	if codeOf(errors.New("x")) != 0 || sentinel(250) != nil {
		t.Fatal("unknown errors must have code 0")
	}
	e := remoteError(0, "", "")
	if cnverr.KindOf(e) != cnverr.InternalError {
		t.Fatal(e)
	}
}

func TestFrameSizeLimits(t *testing.T) {
	if _, err := frameSize(frameWithLength(0), 10); !errors.Is(err, ErrMalformedFrame) {
		t.Fatal(err)
	}
	if _, err := frameSize(frameWithLength(11), 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
	if n, err := frameSize(frameWithLength(10)[:3], 10); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if _, _, n, err := decodeFrame(frameWithLength(10, 1, 2), 10); n != 0 || err != nil {
		t.Fatal("a partial frame must ask for more bytes", n, err)
	}
	big := &helloMsg{Client: string(make([]byte, limits.MaxHotControlBytes))}
	if _, err := appendControl(nil, frameHello, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
}

// FuzzDecodeFrame splits arbitrary bytes into frames and decodes every body
// by its type: nothing panics, and a decoded invoke or result re-encodes to
// the very bytes it came from.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendInvoke(nil, 1, 2, []byte("args")))
	f.Add(appendResultOK(nil, 1, 2, 1, []byte("out")))
	f.Add(appendResultErr(nil, 1, 2, hotpath.OutcomeFailed, 1, errors.New("x")))
	f.Add(appendRefused(nil, 1, 2, hotpath.ErrShardFull))
	f.Add(mustControl(f, frameOpen, openMsg{ID: 1, Certificate: []byte("{}"), Window: 3}))
	f.Add(mustControl(f, frameError, errorMsg{Kind: "InvalidInput", Message: "m", Fatal: true}))
	f.Add(frameWithLength(0))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for len(data) > 0 {
			typ, body, n, err := decodeFrame(data, limits.MaxHotFrameBytes)
			if err != nil || n == 0 {
				return
			}
			checkFrame(t, typ, body, data[:n])
			data = data[n:]
		}
	})
}

func checkFrame(t *testing.T, typ frameType, body, frame []byte) {
	switch typ {
	case frameInvoke:
		id, seq, args, err := parseInvoke(body)
		if err == nil && !bytes.Equal(appendInvoke(nil, id, seq, args), frame) {
			t.Fatalf("invoke does not round-trip: %x", frame)
		}
	case frameResult, frameRefused:
		r, err := parseResult(typ, body)
		if err == nil {
			_ = r.err()
			if typ == frameResult && r.outcome == hotpath.OutcomeOK && r.code == 0 &&
				!bytes.Equal(appendResultOK(nil, r.session, r.seq, int(r.attempts), r.output), frame) {
				t.Fatalf("result does not round-trip: %x", frame)
			}
		}
	default:
		for _, v := range []any{&helloMsg{}, &welcomeMsg{}, &openMsg{}, &openedMsg{}, &closeMsg{}, &closedMsg{}, &errorMsg{}} {
			_ = parseControl(typ, body, v)
		}
		var m errorMsg
		if parseControl(typ, body, &m) == nil {
			_ = m.err()
		}
	}
}

// FuzzServerStream sends arbitrary bytes after a hello and a session open
// to a live server: it must answer or close, never panic or hang, and keep
// serving other connections.
func FuzzServerStream(f *testing.F) {
	n := newNode(f, nodeOpts{server: func(c *Config) { c.Log = nil }})
	a := newAgent(f)
	cert := n.issue(certSpec{path: CounterPath, effects: []capability.EffectType{capability.MutateState}, holder: a.pub, ttl: 1000 * time.Hour})
	f.Add(appendInvoke(nil, 1, 1, []byte("5")))
	f.Add(append(appendInvoke(nil, 1, 2, nil), appendInvoke(nil, 1, 1, []byte("x"))...))
	f.Add(mustControl(f, frameClose, closeMsg{ID: 3, Session: 1}))
	f.Add(append(frameWithLength(3, 0x7e), 1, 2))
	f.Add(frameWithLength(0))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := dialRaw(t, n.addr, true)
		sig, pub := signProof(a.priv, r.welcome.Challenge, cert)
		r.control(frameOpen, openMsg{ID: 1, Certificate: cert, PublicKey: pub, Signature: sig})
		if typ, _ := r.read(); typ != frameOpened {
			t.Fatalf("open: %s", typ)
		}
		r.send(data)
		r.nc.(*net.TCPConn).CloseWrite()
		r.drain()
	})
}

// drain reads until the server closes the connection.
func (r *raw) drain() {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := readFrame(r.nc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatal("server did not close the connection")
			}
			return
		}
	}
}
