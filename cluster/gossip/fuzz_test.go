package gossip

import (
	"bytes"
	"testing"

	"github.com/cnv-project/cnv/runtime/codec"
)

// FuzzDecodeMeta: metadata from peers never panics, and whatever decodes
// re-encodes to bytes that decode to the same metadata.
func FuzzDecodeMeta(f *testing.F) {
	m := validMeta()
	f.Add(codec.MustMarshal(&m))
	f.Add(codec.MustMarshal(&Meta{Version: metaVersion, NodeID: "e", Role: RoleEdge}))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		enc, err := EncodeMeta(&m)
		if err != nil {
			t.Fatalf("decoded meta does not re-encode: %v", err)
		}
		again, err := DecodeMeta(enc)
		if err != nil || !codec.Equal(again, m) {
			t.Fatalf("re-decoded %+v (%v), want %+v", again, err, m)
		}
	})
}

// FuzzDecodeExchange: push/pull state from peers never panics, and
// whatever decodes has a consistent version.
func FuzzDecodeExchange(f *testing.F) {
	f.Add(codec.MustMarshal(&exchange{Version: 1}))
	f.Add(codec.MustMarshal(&exchange{Version: 1, Index: 5, Hash: bytes.Repeat([]byte{1}, 32), Snapshot: []byte("x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := decodeExchange(b)
		if err != nil {
			return
		}
		if (x.Index == 0) != (len(x.Hash) == 0) || (x.Index == 0 && len(x.Snapshot) > 0) {
			t.Fatalf("inconsistent exchange accepted: %+v", x)
		}
	})
}
