package codec

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/cnv-project/cnv/runtime/limits"
)

// strictHandle is the handle for outside bytes: like handle, but a map key
// that names no field of the target struct is an error, not ignored.
var strictHandle = func() *handleT {
	h := newHandle()
	h.ErrorIfNoField = true
	return h
}()

// UnmarshalStrict decodes msgpack that came from outside (a client, a
// peer): at most max bytes; every map has distinct keys; every str is
// valid UTF-8; nesting is bounded; a key that names no field of the
// target struct is refused. Field names must match exactly (case too).
// Any failure wraps ErrDecode and names where in the value it is.
func UnmarshalStrict(data []byte, max int, v any) error {
	if len(data) > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), max)
	}
	if err := Check(data); err != nil {
		return err
	}
	return unmarshalWith(strictHandle, data, v)
}

// Check walks one msgpack value and refuses duplicate map keys, invalid
// UTF-8 in str values, nesting beyond limits.CodecMaxDepth, lengths that
// claim more than the input holds, and trailing bytes.
func Check(data []byte) error {
	w := walker{b: data}
	if err := w.value("", 0); err != nil {
		return err
	}
	if w.off != len(data) {
		return fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(data)-w.off)
	}
	return nil
}

// maxPathKey bounds a key's length in error paths.
const maxPathKey = 64

type walker struct {
	b   []byte
	off int
}

func (w *walker) fail(path, format string, args ...any) error {
	if path == "" {
		path = "the value"
	}
	return fmt.Errorf("%w: %s at %s", ErrDecode, fmt.Sprintf(format, args...), path)
}

func (w *walker) take(path string, n uint64) ([]byte, error) {
	if n > uint64(len(w.b)-w.off) {
		return nil, w.fail(path, "a length of %d runs past the end of the input", n)
	}
	s := w.b[w.off : w.off+int(n)]
	w.off += int(n)
	return s, nil
}

func (w *walker) uint(path string, size int) (uint64, error) {
	s, err := w.take(path, uint64(size))
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(s[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(s)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(s)), nil
	}
	return binary.BigEndian.Uint64(s), nil
}

// value walks one value at path (for messages) and depth.
func (w *walker) value(path string, depth int) error {
	if depth > limits.CodecMaxDepth {
		return w.fail(path, "nesting deeper than %d", limits.CodecMaxDepth)
	}
	t, err := w.take(path, 1)
	if err != nil {
		return err
	}
	c := t[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return nil // fixint, nil, bool
	case c >= 0x80 && c <= 0x8f:
		return w.mapBody(path, uint64(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return w.arrayBody(path, uint64(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return w.str(path, uint64(c&0x1f))
	}
	return w.typed(path, c, depth)
}

// typed walks the values whose first byte names a type with a length or a
// fixed-size body.
func (w *walker) typed(path string, c byte, depth int) error {
	switch c {
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		return w.skipLen(path, 1<<(c-0xc4))
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32: length, type, data
		n, err := w.uint(path, 1<<(c-0xc7))
		if err == nil {
			_, err = w.take(path, n+1)
		}
		return err
	case 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd1, 0xd2, 0xd3:
		_, err := w.take(path, uint64(fixedSize[c-0xca]))
		return err
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type + 1..16 bytes
		_, err := w.take(path, 1+uint64(1)<<(c-0xd4))
		return err
	case 0xd9, 0xda, 0xdb:
		n, err := w.uint(path, 1<<(c-0xd9))
		if err != nil {
			return err
		}
		return w.str(path, n)
	case 0xdc, 0xdd:
		n, err := w.uint(path, 2<<(c-0xdc))
		if err != nil {
			return err
		}
		return w.arrayBody(path, n, depth)
	case 0xde, 0xdf:
		n, err := w.uint(path, 2<<(c-0xde))
		if err != nil {
			return err
		}
		return w.mapBody(path, n, depth)
	}
	return w.fail(path, "byte 0x%02x is not a msgpack type", c)
}

// fixedSize is the body size of float32/64, uint8..64 and int8..64.
var fixedSize = [...]int{4, 8, 1, 2, 4, 8, 1, 2, 4, 8}

func (w *walker) skipLen(path string, size int) error {
	n, err := w.uint(path, size)
	if err == nil {
		_, err = w.take(path, n)
	}
	return err
}

func (w *walker) str(path string, n uint64) error {
	s, err := w.take(path, n)
	if err != nil {
		return err
	}
	if !utf8.Valid(s) {
		return w.fail(path, "a string that is not valid UTF-8")
	}
	return nil
}

func (w *walker) arrayBody(path string, n uint64, depth int) error {
	if n > uint64(len(w.b)-w.off) {
		return w.fail(path, "an array of %d elements in %d bytes", n, len(w.b)-w.off)
	}
	for i := uint64(0); i < n; i++ {
		if err := w.value(path+"["+strconv.FormatUint(i, 10)+"]", depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) mapBody(path string, n uint64, depth int) error {
	if n > uint64(len(w.b)-w.off)/2 {
		return w.fail(path, "a map of %d entries in %d bytes", n, len(w.b)-w.off)
	}
	seen := make(map[string]struct{}, min(n, 64))
	for i := uint64(0); i < n; i++ {
		start := w.off
		if err := w.value(path+"{key}", depth+1); err != nil {
			return err
		}
		key := string(w.b[start:w.off])
		name := keyName(w.b[start:w.off])
		if _, dup := seen[key]; dup {
			return w.fail(path, "duplicate map key %s", name)
		}
		seen[key] = struct{}{}
		if err := w.value(join(path, name), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// keyName renders an encoded map key for messages: a str key as its
// quoted text, anything else as hex.
func keyName(enc []byte) string {
	if len(enc) > 0 && enc[0] >= 0xa0 && enc[0] <= 0xbf {
		return strconv.Quote(string(enc[1:]))
	}
	if len(enc) > 1 && enc[0] == 0xd9 {
		return strconv.Quote(string(enc[2:]))
	}
	return fmt.Sprintf("0x%x", enc[:min(len(enc), 16)])
}

// join extends a path with a key (unquoted; long keys are cut).
func join(path, key string) string {
	if k, err := strconv.Unquote(key); err == nil {
		key = k
	}
	if len(key) > maxPathKey {
		key = key[:maxPathKey] + "…"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
