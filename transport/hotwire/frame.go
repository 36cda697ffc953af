package hotwire

import (
	"encoding/binary"
	"fmt"

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

type frameType uint8

// Frame types. Client to server: 0x01-0x7f; server to client: 0x80-0xff.
const (
	frameHello   frameType = 0x01
	frameOpen    frameType = 0x02
	frameClose   frameType = 0x03
	frameInvoke  frameType = 0x10
	frameWelcome frameType = 0x81
	frameOpened  frameType = 0x82
	frameClosed  frameType = 0x83
	frameError   frameType = 0x84
	frameResult  frameType = 0x90
	frameRefused frameType = 0x91
)

// Fixed sizes.
const (
	lenSize       = 4
	headerSize    = lenSize + 1 // length and type
	invokeFixed   = 4 + 8       // session, seq
	resultFixed   = 4 + 8 + 1 + 2 + 1
	refusedFixed  = 4 + 8 + 1
	maxKindLen    = 255
	maxMessageLen = 1024
)

func (t frameType) String() string {
	switch t {
	case frameHello:
		return "hello"
	case frameOpen:
		return "open"
	case frameClose:
		return "close"
	case frameInvoke:
		return "invoke"
	case frameWelcome:
		return "welcome"
	case frameOpened:
		return "opened"
	case frameClosed:
		return "closed"
	case frameError:
		return "error"
	case frameResult:
		return "result"
	case frameRefused:
		return "refused"
	}
	return fmt.Sprintf("frame(%#x)", uint8(t))
}

func isControl(t frameType) bool {
	switch t {
	case frameHello, frameOpen, frameClose, frameWelcome, frameOpened, frameClosed, frameError:
		return true
	}
	return false
}

// frameSize reads the length prefix at the start of buf and returns the
// whole frame's size (prefix included), or 0 when fewer than four bytes are
// present. A length of 0 or beyond max means framing is lost.
func frameSize(buf []byte, max int) (int, error) {
	if len(buf) < lenSize {
		return 0, nil
	}
	n := binary.BigEndian.Uint32(buf)
	switch {
	case n == 0:
		return 0, fmt.Errorf("%w: zero length", ErrMalformedFrame)
	case uint64(n) > uint64(max):
		return 0, fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, n, max)
	}
	return lenSize + int(n), nil
}

// decodeFrame splits the first complete frame off buf. It returns n == 0
// when buf does not yet hold a whole frame, and an error (framing lost) for
// a bad length field.
func decodeFrame(buf []byte, max int) (t frameType, body []byte, n int, err error) {
	size, err := frameSize(buf, max)
	if err != nil || size == 0 || len(buf) < size {
		return 0, nil, 0, err
	}
	return frameType(buf[lenSize]), buf[headerSize:size], size, nil
}

// putHeader appends a frame header for a body of bodyLen bytes.
func putHeader(dst []byte, t frameType, bodyLen int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(bodyLen+1))
	return append(dst, byte(t))
}

// appendInvoke appends an invoke frame.
func appendInvoke(dst []byte, session uint32, seq uint64, args []byte) []byte {
	dst = putHeader(dst, frameInvoke, invokeFixed+len(args))
	dst = binary.BigEndian.AppendUint32(dst, session)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	return append(dst, args...)
}

// parseInvoke decodes an invoke body; args alias body.
func parseInvoke(body []byte) (session uint32, seq uint64, args []byte, err error) {
	if len(body) < invokeFixed {
		return 0, 0, nil, fmt.Errorf("%w: invoke body of %d bytes", ErrMalformedFrame, len(body))
	}
	return binary.BigEndian.Uint32(body), binary.BigEndian.Uint64(body[4:]), body[invokeFixed:], nil
}

// result is a decoded result or refused frame. Output aliases the frame.
type result struct {
	session  uint32
	seq      uint64
	refused  bool
	outcome  hotpath.Outcome
	attempts uint16
	code     uint8
	output   []byte
	kind     []byte
	message  []byte
}

// appendResultOK appends a successful result carrying out.
func appendResultOK(dst []byte, session uint32, seq uint64, attempts int, out []byte) []byte {
	dst = putHeader(dst, frameResult, resultFixed+len(out))
	dst = appendResultHead(dst, session, seq, hotpath.OutcomeOK, attempts, 0)
	return append(dst, out...)
}

// appendResultErr appends a result that carries an error instead of output.
func appendResultErr(dst []byte, session uint32, seq uint64, o hotpath.Outcome, attempts int, err error) []byte {
	code, kind, msg := describe(err)
	dst = putHeader(dst, frameResult, resultFixed+1+len(kind)+len(msg))
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

// appendRefused appends a refusal of one invocation.
func appendRefused(dst []byte, session uint32, seq uint64, err error) []byte {
	code, kind, msg := describe(err)
	dst = putHeader(dst, frameRefused, refusedFixed+1+len(kind)+len(msg))
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
	code = codeOf(err)
	if code != 0 && sentinel(code) == err {
		return code, "", ""
	}
	kind = string(cnverr.KindOf(err))
	msg = err.Error()
	if len(msg) > maxMessageLen {
		msg = msg[:maxMessageLen]
	}
	return code, kind, msg
}

// parseResult decodes a result or refused body.
func parseResult(t frameType, body []byte) (result, error) {
	var r result
	fixed := resultFixed
	if t == frameRefused {
		fixed = refusedFixed
	}
	if len(body) < fixed {
		return r, fmt.Errorf("%w: %s body of %d bytes", ErrMalformedFrame, t, len(body))
	}
	r.session = binary.BigEndian.Uint32(body)
	r.seq = binary.BigEndian.Uint64(body[4:])
	if t == frameRefused {
		r.refused, r.code = true, body[12]
	} else {
		r.outcome, r.attempts, r.code = hotpath.Outcome(body[12]), binary.BigEndian.Uint16(body[13:]), body[15]
		if r.outcome > hotpath.OutcomeAborted {
			return r, fmt.Errorf("%w: outcome %d", ErrMalformedFrame, r.outcome)
		}
		if r.outcome == hotpath.OutcomeOK && r.code == 0 {
			r.output = body[fixed:]
			return r, nil
		}
	}
	return r, r.parseKindMessage(body[fixed:])
}

func (r *result) parseKindMessage(b []byte) error {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return fmt.Errorf("%w: truncated error description", ErrMalformedFrame)
	}
	r.kind, r.message = b[1:1+int(b[0])], b[1+int(b[0]):]
	return nil
}

// err is the error a non-OK result or a refusal carries.
func (r *result) err() error {
	if r.code == 0 && len(r.kind) == 0 && !r.refused && r.outcome == hotpath.OutcomeOK {
		return nil
	}
	return remoteError(r.code, string(r.kind), string(r.message))
}

// Control frames: one msgpack map each (runtime/codec).

type helloMsg struct {
	Magic   string `json:"magic"`
	Version int    `json:"version"`
	Client  string `json:"client,omitempty"`
}

type welcomeMsg struct {
	Version     int    `json:"version"`
	Node        string `json:"node,omitempty"`
	Challenge   []byte `json:"challenge"`
	MaxFrame    int    `json:"max_frame"`
	MaxArgs     int    `json:"max_args"`
	MaxWindow   int    `json:"max_window"`
	MaxSessions int    `json:"max_sessions"`
}

type openMsg struct {
	ID          uint64 `json:"id"`
	Certificate []byte `json:"certificate"`
	PublicKey   []byte `json:"public_key"`
	Signature   []byte `json:"signature"`
	Window      int    `json:"window,omitempty"`
}

type openedMsg struct {
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

type closeMsg struct {
	ID      uint64 `json:"id"`
	Session uint32 `json:"session"`
}

type closedMsg struct {
	ID       uint64 `json:"id"`
	Session  uint32 `json:"session"`
	Accepted uint64 `json:"accepted"`
	Refused  uint64 `json:"refused"`
}

type errorMsg struct {
	ID      uint64 `json:"id,omitempty"`
	Session uint32 `json:"session,omitempty"`
	Seq     uint64 `json:"seq,omitempty"`
	Code    uint8  `json:"code,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Fatal   bool   `json:"fatal,omitempty"`
}

// newErrorMsg describes err for an error frame.
func newErrorMsg(err error) errorMsg {
	code, kind, msg := describe(err)
	if kind == "" {
		kind, msg = string(cnverr.KindOf(err)), err.Error()
	}
	return errorMsg{Code: code, Kind: kind, Message: msg}
}

func (m errorMsg) err() error { return remoteError(m.Code, m.Kind, m.Message) }

// appendControl appends a control frame carrying v.
func appendControl(dst []byte, t frameType, v any) ([]byte, error) {
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

// parseControl decodes a control body into v.
func parseControl(t frameType, body []byte, v any) error {
	if err := codec.UnmarshalLimit(body, limits.MaxHotControlBytes, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrMalformedFrame, t, err)
	}
	return nil
}
