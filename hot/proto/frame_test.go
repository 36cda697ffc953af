package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

func TestFrameRoundTrip(t *testing.T) {
	var b []byte
	b = AppendInvoke(b, 7, 1<<40, []byte("args"))
	b = AppendResultOK(b, 7, 2, 1, []byte("out"))
	b = AppendResultErr(b, 7, 3, hotpath.OutcomeFailed, 3, cnverr.New(cnverr.ExecutionError, "boom"))
	b = AppendResultErr(b, 7, 4, hotpath.OutcomeDeadlineExceeded, 1, hotpath.ErrDeadline)
	b = AppendRefused(b, 7, 5, hotpath.ErrShardFull)
	b = AppendRefused(b, 7, 6, fmt.Errorf("wrapped: %w", ErrSessionExpired))

	typ, body, n, err := DecodeFrame(b, limits.MaxHotFrameBytes)
	if err != nil || typ != FrameInvoke {
		t.Fatal(typ, err)
	}
	id, seq, args, err := ParseInvoke(body)
	if err != nil || id != 7 || seq != 1<<40 || string(args) != "args" {
		t.Fatalf("invoke %d %d %q %v", id, seq, args, err)
	}
	b = b[n:]
	want := []struct {
		typ     FrameType
		seq     uint64
		outcome hotpath.Outcome
		out     string
		err     error
		kind    cnverr.Kind
		msg     string
	}{
		{FrameResult, 2, hotpath.OutcomeOK, "out", nil, "", ""},
		{FrameResult, 3, hotpath.OutcomeFailed, "", nil, cnverr.ExecutionError, "boom"},
		{FrameResult, 4, hotpath.OutcomeDeadlineExceeded, "", hotpath.ErrDeadline, cnverr.DeadlineExceeded, hotpath.ErrDeadline.Error()},
		{FrameRefused, 5, 0, "", hotpath.ErrShardFull, cnverr.ResourceExhausted, hotpath.ErrShardFull.Error()},
		{FrameRefused, 6, 0, "", ErrSessionExpired, cnverr.PermissionDenied, "wrapped: " + ErrSessionExpired.Error()},
	}
	for _, w := range want {
		typ, body, n, err := DecodeFrame(b, limits.MaxHotFrameBytes)
		if err != nil || typ != w.typ {
			t.Fatal(typ, err)
		}
		r, err := ParseResult(typ, body)
		if err != nil || r.Session != 7 || r.Seq != w.seq || r.Outcome != w.outcome || string(r.Output) != w.out {
			t.Fatalf("seq %d: %+v %v", w.seq, r, err)
		}
		e := r.Err()
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
		if c := CodeOf(codeTable[i]); c != uint8(i) {
			t.Errorf("%v: code %d, want %d", codeTable[i], c, i)
		}
		if e := remoteError(uint8(i), "", ""); e != codeTable[i] {
			t.Errorf("code %d: %v", i, e)
		}
	}
	if CodeOf(errors.New("x")) != 0 || Sentinel(250) != nil {
		t.Fatal("unknown errors must have code 0")
	}
	e := remoteError(0, "", "")
	if cnverr.KindOf(e) != cnverr.InternalError {
		t.Fatal(e)
	}
}

func TestFrameSizeLimits(t *testing.T) {
	if _, err := FrameSize(frameWithLength(0), 10); !errors.Is(err, ErrMalformedFrame) {
		t.Fatal(err)
	}
	if _, err := FrameSize(frameWithLength(11), 10); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
	if n, err := FrameSize(frameWithLength(10)[:3], 10); n != 0 || err != nil {
		t.Fatal(n, err)
	}
	if _, _, n, err := DecodeFrame(frameWithLength(10, 1, 2), 10); n != 0 || err != nil {
		t.Fatal("a partial frame must ask for more bytes", n, err)
	}
	big := &HelloMsg{Client: string(make([]byte, limits.MaxHotControlBytes))}
	if _, err := AppendControl(nil, FrameHello, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatal(err)
	}
}

// FuzzDecodeFrame splits arbitrary bytes into frames and decodes every body
// by its type: nothing panics, and a decoded invoke or result re-encodes to
// the very bytes it came from.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(AppendInvoke(nil, 1, 2, []byte("args")))
	f.Add(AppendResultOK(nil, 1, 2, 1, []byte("out")))
	f.Add(AppendResultErr(nil, 1, 2, hotpath.OutcomeFailed, 1, errors.New("x")))
	f.Add(AppendRefused(nil, 1, 2, hotpath.ErrShardFull))
	f.Add(mustControl(f, FrameOpen, OpenMsg{ID: 1, Certificate: []byte("{}"), Window: 3}))
	f.Add(mustControl(f, FrameError, ErrorMsg{Kind: "InvalidInput", Message: "m", Fatal: true}))
	f.Add(frameWithLength(0))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for len(data) > 0 {
			typ, body, n, err := DecodeFrame(data, limits.MaxHotFrameBytes)
			if err != nil || n == 0 {
				return
			}
			checkFrame(t, typ, body, data[:n])
			data = data[n:]
		}
	})
}

func checkFrame(t *testing.T, typ FrameType, body, frame []byte) {
	switch typ {
	case FrameInvoke:
		id, seq, args, err := ParseInvoke(body)
		if err == nil && !bytes.Equal(AppendInvoke(nil, id, seq, args), frame) {
			t.Fatalf("invoke does not round-trip: %x", frame)
		}
	case FrameResult, FrameRefused:
		r, err := ParseResult(typ, body)
		if err == nil {
			_ = r.Err()
			if typ == FrameResult && r.Outcome == hotpath.OutcomeOK && r.Code == 0 &&
				!bytes.Equal(AppendResultOK(nil, r.Session, r.Seq, int(r.Attempts), r.Output), frame) {
				t.Fatalf("result does not round-trip: %x", frame)
			}
		}
	default:
		for _, v := range []any{&HelloMsg{}, &WelcomeMsg{}, &OpenMsg{}, &OpenedMsg{}, &CloseMsg{}, &ClosedMsg{}, &ErrorMsg{}} {
			_ = ParseControl(typ, body, v)
		}
		var m ErrorMsg
		if ParseControl(typ, body, &m) == nil {
			_ = m.Err()
		}
	}
}

func frameWithLength(n uint32, rest ...byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), rest...)
}

func mustControl(t testing.TB, typ FrameType, v any) []byte {
	b, err := AppendControl(nil, typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
