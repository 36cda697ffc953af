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
		{"root", res.Head.Root.String(), "c9d332585c229e2de1df5f69dffb7df5523372d01dcb4984a55534ead86f74e3"},
		{"leaf hashes", sum(leaves.Bytes()), "33f599e771c4f5dd3d09240ec5f545086656fc0f5226309f043ecfa33b6eb78f"},
		{"export", sum(export.Bytes()), "21f1b644bcc1981fcdc3246617b69e287c6def2a70c8a76dc45ddfb910347ea0"},
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
