package proto

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Version is the protocol version this package speaks.
const Version = 1

// Magic opens every hello, so a server can tell a hot-path client from
// anything else that connects to its port.
const Magic = "cnv-hotwire"

// FrameType is a frame's type byte.
type FrameType uint8

// Frame types. Client to server: 0x01-0x7f; server to client: 0x80-0xff.
const (
	FrameHello   FrameType = 0x01
	FrameOpen    FrameType = 0x02
	FrameClose   FrameType = 0x03
	FrameInvoke  FrameType = 0x10
	FrameWelcome FrameType = 0x81
	FrameOpened  FrameType = 0x82
	FrameClosed  FrameType = 0x83
	FrameError   FrameType = 0x84
	FrameResult  FrameType = 0x90
	FrameRefused FrameType = 0x91
)

// Fixed sizes. LenSize is the length prefix, HeaderSize the prefix and
// the type byte.
const (
	LenSize       = 4
	HeaderSize    = LenSize + 1 // length and type
	invokeFixed   = 4 + 8       // session, seq
	resultFixed   = 4 + 8 + 1 + 2 + 1
	refusedFixed  = 4 + 8 + 1
	maxKindLen    = 255
	maxMessageLen = 1024
)

func (t FrameType) String() string {
	switch t {
	case FrameHello:
		return "hello"
	case FrameOpen:
		return "open"
	case FrameClose:
		return "close"
	case FrameInvoke:
		return "invoke"
	case FrameWelcome:
		return "welcome"
	case FrameOpened:
		return "opened"
	case FrameClosed:
		return "closed"
	case FrameError:
		return "error"
	case FrameResult:
		return "result"
	case FrameRefused:
		return "refused"
	}
	return fmt.Sprintf("frame(%#x)", uint8(t))
}

// FrameSize reads the length prefix at the start of buf and returns the
// whole frame's size (prefix included), or 0 when fewer than four bytes are
// present. A length of 0 or beyond max means framing is lost.
func FrameSize(buf []byte, max int) (int, error) {
	if len(buf) < LenSize {
		return 0, nil
	}
	n := binary.BigEndian.Uint32(buf)
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: zero length", ErrMalformedFrame)
	case uint64(n) > uint64(max):
		return 0, fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, n, max)
	}
	return LenSize + int(n), nil
}

// DecodeFrame splits the first complete frame off buf. It returns n == 0
// when buf does not yet hold a whole frame, and an error (framing lost) for
// a bad length field.
func DecodeFrame(buf []byte, max int) (t FrameType, body []byte, n int, err error) {
	size, err := FrameSize(buf, max)
	if err != nil || size == 0 || len(buf) < size {
		return 0, nil, 0, err
	}
	return FrameType(buf[LenSize]), buf[HeaderSize:size], size, nil
}

// putHeader appends a frame header for a body of bodyLen bytes.
func putHeader(dst []byte, t FrameType, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(bodyLen+1))
	return append(dst, byte(t))
}

// AppendInvoke appends an invoke frame.
func AppendInvoke(dst []byte, session uint32, seq uint64, args []byte) []byte {
	dst = putHeader(dst, FrameInvoke, invokeFixed+len(args))
	dst = binary.BigEndian.AppendUint32(dst, session)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	return append(dst, args...)
}

// ParseInvoke decodes an invoke body; args alias body.
func ParseInvoke(body []byte) (session uint32, seq uint64, args []byte, err error) {
	if len(body) < invokeFixed {
		return 0, 0, nil, fmt.Errorf("%w: invoke body of %d bytes", ErrMalformedFrame, len(body))
	}
	return binary.BigEndian.Uint32(body), binary.BigEndian.Uint64(body[4:]), body[invokeFixed:], nil
}

// ResultFrame is a decoded result or refused frame. Output, Kind and
// Message alias the frame.
type ResultFrame struct {
	Session  uint32
	Seq      uint64
	Refused  bool
	Outcome  hotpath.Outcome
	Attempts uint16
	Code     uint8
	Output   []byte
	Kind     []byte
	Message  []byte
}

// AppendResultOK appends a successful result carrying out.
func AppendResultOK(dst []byte, session uint32, seq uint64, attempts int, out []byte) []byte {
	dst = putHeader(dst, FrameResult, resultFixed+len(out))
	dst = appendResultHead(dst, session, seq, hotpath.OutcomeOK, attempts, 0)
	return append(dst, out...)
}

// AppendResultErr appends a result that carries an error instead of output.
func AppendResultErr(dst []byte, session uint32, seq uint64, o hotpath.Outcome, attempts int, err error) []byte {
	code, kind, msg := describe(err)
	dst = putHeader(dst, FrameResult, resultFixed+1+len(kind)+len(msg))
	dst = appendResultHead(dst, session, seq, o, attempts, code)
	return appendKindMessage(dst, kind, msg)
}

func appendResultHead(dst []byte, session uint32, seq uint64, o hotpath.Outcome, attempts int, code uint8) []byte {
	dst = binary.BigEndian.AppendUint32(dst, session)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, byte(o))
	dst = binary.BigEndian.AppendUint16(dst, uint16(min(attempts, 0xffff)))
	return append(dst, code)
}

// AppendRefused appends a refusal of one invocation.
func AppendRefused(dst []byte, session uint32, seq uint64, err error) []byte {
	code, kind, msg := describe(err)
	dst = putHeader(dst, FrameRefused, refusedFixed+1+len(kind)+len(msg))
	dst = binary.BigEndian.AppendUint32(dst, session)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = append(dst, code)
	return appendKindMessage(dst, kind, msg)
}

func appendKindMessage(dst []byte, kind, msg string) []byte {
	dst = append(dst, byte(len(kind)))
	dst = append(dst, kind...)
	return append(dst, msg...)
}

// describe renders err for a frame. A well-known sentinel travels as its
// code alone (no allocation); anything else as its kind and message, the
// message cut to maxMessageLen.
func describe(err error) (code uint8, kind, msg string) {
	code = CodeOf(err)
	if code != 0 && Sentinel(code) == err {
		return code, "", ""
	}
	kind = string(cnverr.KindOf(err))
	msg = err.Error()
	if len(msg) > maxMessageLen {
		msg = msg[:maxMessageLen]
	}
	return code, kind, msg
}

// ParseResult decodes a result or refused body.
func ParseResult(t FrameType, body []byte) (ResultFrame, error) {
	var r ResultFrame
	fixed := resultFixed
	if t == FrameRefused {
		fixed = refusedFixed
	}
	if len(body) < fixed {
		return r, fmt.Errorf("%w: %s body of %d bytes", ErrMalformedFrame, t, len(body))
	}
	r.Session = binary.BigEndian.Uint32(body)
	r.Seq = binary.BigEndian.Uint64(body[4:])
	if t == FrameRefused {
		r.Refused, r.Code = true, body[12]
	} else {
		r.Outcome, r.Attempts, r.Code = hotpath.Outcome(body[12]), binary.BigEndian.Uint16(body[13:]), body[15]
		if r.Outcome > hotpath.OutcomeAborted {
			return r, fmt.Errorf("%w: outcome %d", ErrMalformedFrame, r.Outcome)
		}
		if r.Outcome == hotpath.OutcomeOK && r.Code == 0 {
			r.Output = body[fixed:]
			return r, nil
		}
	}
	return r, r.parseKindMessage(body[fixed:])
}

func (r *ResultFrame) parseKindMessage(b []byte) error {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return fmt.Errorf("%w: truncated error description", ErrMalformedFrame)
	}
	r.Kind, r.Message = b[1:1+int(b[0])], b[1+int(b[0]):]
	return nil
}

// Err is the error a non-OK result or a refusal carries.
func (r *ResultFrame) Err() error {
	if r.Code == 0 && len(r.Kind) == 0 && !r.Refused && r.Outcome == hotpath.OutcomeOK {
		return nil
	}
	return remoteError(r.Code, string(r.Kind), string(r.Message))
}

// Control frames: one msgpack map each (runtime/codec).

// HelloMsg is the client's first frame.
type HelloMsg struct {
	Magic   string `json:"magic"`
	Version int    `json:"version"`
	Client  string `json:"client,omitempty"`
}

// WelcomeMsg is the server's answer to hello: its limits and the
// connection's challenge.
type WelcomeMsg struct {
	Version     int    `json:"version"`
	Node        string `json:"node,omitempty"`
	Challenge   []byte `json:"challenge"`
	MaxFrame    int    `json:"max_frame"`
	MaxArgs     int    `json:"max_args"`
	MaxWindow   int    `json:"max_window"`
	MaxSessions int    `json:"max_sessions"`
}

// OpenMsg asks to open a session: the certificate, the holder key and
// its proof of possession (SignProof).
type OpenMsg struct {
	ID          uint64 `json:"id"`
	Certificate []byte `json:"certificate"`
	PublicKey   []byte `json:"public_key"`
	Signature   []byte `json:"signature"`
	Window      int    `json:"window,omitempty"`
}

// OpenedMsg answers an open with the session the server granted.
type OpenedMsg struct {
	ID         uint64 `json:"id"`
	Session    uint32 `json:"session"`
	Key        string `json:"key"`
	Capability string `json:"capability"`
	Agent      string `json:"agent"`
	Tenant     string `json:"tenant"`
	Window     int    `json:"window"`
	Shard      int    `json:"shard"`
	ExpiresAt  int64  `json:"expires_at"`
}

// CloseMsg asks to close a session.
type CloseMsg struct {
	ID      uint64 `json:"id"`
	Session uint32 `json:"session"`
}

// ClosedMsg answers a close with the session's counts.
type ClosedMsg struct {
	ID       uint64 `json:"id"`
	Session  uint32 `json:"session"`
	Accepted uint64 `json:"accepted"`
	Refused  uint64 `json:"refused"`
}

// ErrorMsg is an error frame: the answer to a request (ID), the end of a
// session (Session), or of the connection (Fatal).
type ErrorMsg struct {
	ID      uint64 `json:"id,omitempty"`
	Session uint32 `json:"session,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Code    uint8  `json:"code,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// NewErrorMsg describes err for an error frame.
func NewErrorMsg(err error) ErrorMsg {
	code, kind, msg := describe(err)
	if kind == "" {
		kind, msg = string(cnverr.KindOf(err)), err.Error()
	}
	return ErrorMsg{Code: code, Kind: kind, Message: msg}
}

// Err is the error the frame describes.
func (m ErrorMsg) Err() error { return remoteError(m.Code, m.Kind, m.Message) }

// AppendControl appends a control frame carrying v.
func AppendControl(dst []byte, t FrameType, v any) ([]byte, error) {
	b, err := codec.Marshal(v)
	if err != nil {
		return dst, err
	}
	if len(b)+1 > limits.MaxHotControlBytes {
		return dst, fmt.Errorf("%w: %s frame of %d bytes", ErrFrameTooLarge, t, len(b))
	}
	dst = putHeader(dst, t, len(b))
	return append(dst, b...), nil
}

// ParseControl decodes a control body into v.
func ParseControl(t FrameType, body []byte, v any) error {
	if err := codec.UnmarshalLimit(body, limits.MaxHotControlBytes, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformedFrame, t, err)
	}
	return nil
}

// AppendControlOrLog is AppendControl for frames that cannot fail to
// encode in practice: an error is logged and dst returned unchanged.
func AppendControlOrLog(dst []byte, t FrameType, v any, log hclog.Logger) []byte {
	out, err := AppendControl(dst, t, v)
	if err != nil {
		log.Error("cannot encode control frame", "frame", t.String(), "error", err)
	}
	return out
}

// MinRead is the least free space a reader reads into; with less left in
// its buffer it moves on (the server to its next chunk, the client to the
// front of its buffer).
const MinRead = 4 << 10

// ReadFrame reads one whole frame from r (the client's handshake, tests).
func ReadFrame(r io.Reader) (FrameType, []byte, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	size, err := FrameSize(h[:], limits.MaxHotFrameBytes)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, size-HeaderSize)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return FrameType(h[LenSize]), body, nil
}
