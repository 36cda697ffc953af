package backup_test

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"testing"

	"github.com/cnv-project/cnv/cluster/backup"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

// FuzzDecode: the decoder never panics, never accepts a file it would
// not write again byte for byte, and refuses with one of its own errors.
func FuzzDecode(f *testing.F) {
	fg := newForge(f, 3)
	good := fg.encode(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(backup.Magic))
	f.Add(append([]byte(backup.Magic), 0, 1, 0, 0, 'M', 0, 0, 0, 0, 0, 0, 0, 2, '{', '}', 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, file []byte) {
		var state bytes.Buffer
		dec, err := backup.Decode(bytes.NewReader(file), &state)
		if err != nil {
			if cnverr.KindOf(err) == cnverr.InternalError && !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("not a structured refusal: %v", err)
			}
			return
		}
		if dec.Size != int64(len(file)) || int64(state.Len()) != dec.Meta.StateBytes {
			t.Fatalf("accepted %d bytes as %d, state %d of %d", len(file), dec.Size, state.Len(), dec.Meta.StateBytes)
		}
		if len(dec.Digest) != 32 || len(dec.Signature) != 64 {
			t.Fatalf("digest of %d, signature of %d bytes", len(dec.Digest), len(dec.Signature))
		}
	})
}
