package event_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/cnv-project/cnv/ledger/event/eventtest"
)

// The canonical and JSON bytes of one event of every type are pinned, as
// the ledger stores them (index i, raft index 7, time t0). The ledger's
// TestPinnedEncoding pins the same events through the store (which also
// derives the Checkpoint's fields, left empty here). Adding the
// MembershipChanged sample moved these; the other samples alone still
// pin 52191e0f… and 91809bfa…, as before it.
func TestPinnedCanonicalBytes(t *testing.T) {
	var canon, js bytes.Buffer
	for i, e := range eventtest.Samples() {
		e.Index, e.RaftIndex, e.Time = uint64(i), 7, t0
		e.Normalize()
		b, err := e.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		canon.Write(b)
		j, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		js.Write(j)
		js.WriteByte('\n')
	}
	for _, c := range []struct{ what, got, want string }{
		{"canonical", sum(canon.Bytes()), "3aeb41e6849bcc5288a7ad2dd664a185d83b365ba5dd1d558ad0ca440249f01a"},
		{"json", sum(js.Bytes()), "e6df0dccd01110f52d772efe899d393f1a5f34b87b20d4361da5235c2b30be8e"},
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
