package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// The stored bytes of one event of every type, the tree over them and
// their JSON export are pinned: any change to the canonical encoding, the
// leaf hashing or the JSON forms fails here.
func TestPinnedEncoding(t *testing.T) {
	s := openTest(t)
	res := mustAppend(t, s, AppendOptions{Time: t0, RaftIndex: 7}, sampleEvents()...)
	var leaves bytes.Buffer
	for _, a := range res.Events {
		leaves.Write(a.LeafHash)
	}
	var export bytes.Buffer
	if _, err := s.Export(&export, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ what, got, want string }{
		{"root", res.Head.Root.String(), "7dc6895d5d0d25f84becfeb47948a9ff7739b5990ef3bd13d963a54a0f0ea4dd"},
		{"leaf hashes", sum(leaves.Bytes()), "cba1f353016fd8812ee009796225ca8c812580a3a1cbb3550cd878ee3d460c06"},
		{"export", sum(export.Bytes()), "ce823da588bdf4d4504b89e61522d7863adf264cc3ff90b3b9a1b9d068f7057e"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.what, c.got, c.want)
		}
	}
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
