package codec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"

	ugorji "github.com/ugorji/go/codec"

	"github.com/cnv-project/cnv/runtime/limits"
)

// ErrDecode wraps every decoding failure, so callers can tell bad input from
// their own bugs with errors.Is.
var ErrDecode = errors.New("codec: malformed input")

// ErrTooLarge is returned when input exceeds the size given to UnmarshalLimit.
var ErrTooLarge = errors.New("codec: input too large")

// handle is configured once here and never modified afterwards; ugorji
// handles are safe for concurrent use once configured.
var handle = newHandle()

type handleT = ugorji.MsgpackHandle

func newHandle() *ugorji.MsgpackHandle {
	h := &ugorji.MsgpackHandle{}
	h.Canonical = true
	// Empty and nil collections must encode identically, or a value that
	// went through JSON ("[]" vs absent) would hash differently: omitempty
	// drops both, and without omitempty both are written as zero-length.
	h.RecursiveEmptyCheck = true
	h.NilCollectionToZeroLength = true
	h.WriteExt = true // str and bin are distinct types on the wire
	h.RawToString = true
	h.SignedInteger = true
	h.MapType = reflect.TypeOf(map[string]interface{}(nil))
	h.MaxInitLen = limits.CodecMaxInitLen
	h.MaxDepth = limits.CodecMaxDepth
	return h
}

var encPool = sync.Pool{New: func() any {
	return &encoder{enc: ugorji.NewEncoderBytes(nil, handle)}
}}

type encoder struct {
	buf []byte
	enc *ugorji.Encoder
}

// Marshal returns the canonical msgpack encoding of v.
func Marshal(v any) ([]byte, error) {
	e := encPool.Get().(*encoder)
	e.buf = e.buf[:0]
	e.enc.ResetBytes(&e.buf)
	err := e.enc.Encode(v)
	out := append([]byte(nil), e.buf...)
	e.release()
	if err != nil {
		return nil, fmt.Errorf("codec: encode %T: %w", v, err)
	}
	return out, nil
}

// release returns the encoder to the pool unless its buffer grew past
// limits.MaxPooledEncodeBuffer (an answer that large is rare; keeping its
// buffer would hold the memory for good).
func (e *encoder) release() {
	if cap(e.buf) <= limits.MaxPooledEncodeBuffer {
		encPool.Put(e)
	}
}

// Write writes the canonical msgpack encoding of v to w, from a pooled
// buffer: no copy of the encoding is made (an API answer of many
// certificates is large).
func Write(w io.Writer, v any) error {
	e := encPool.Get().(*encoder)
	e.buf = e.buf[:0]
	e.enc.ResetBytes(&e.buf)
	err := e.enc.Encode(v)
	if err == nil {
		_, err = w.Write(e.buf)
	} else {
		err = fmt.Errorf("codec: encode %T: %w", v, err)
	}
	e.release()
	return err
}

// MustMarshal is Marshal for values whose encoding cannot fail (plain
// structs of strings, numbers, slices and maps built by cnv itself). It
// panics on error, which would be a programming bug.
func MustMarshal(v any) []byte {
	b, err := Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// Unmarshal decodes canonical msgpack into v. Any failure wraps ErrDecode.
// Decoding never panics on malformed input.
func Unmarshal(data []byte, v any) error { return unmarshalWith(handle, data, v) }

func unmarshalWith(h *handleT, data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrDecode, r)
		}
	}()
	dec := ugorji.NewDecoderBytes(data, h)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if n := dec.NumBytesRead(); n != len(data) {
		return fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(data)-n)
	}
	return nil
}

// UnmarshalLimit is Unmarshal for outside bytes: it refuses input longer
// than max before decoding anything.
func UnmarshalLimit(data []byte, max int, v any) error {
	if len(data) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), max)
	}
	return Unmarshal(data, v)
}

// Equal reports whether a and b have the same canonical encoding.
func Equal(a, b any) bool {
	x, err1 := Marshal(a)
	y, err2 := Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
