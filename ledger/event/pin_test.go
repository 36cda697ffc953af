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
// derives the Checkpoint's fields, left empty here).
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
		{"canonical", sum(canon.Bytes()), "52191e0f629fdd4c6f58264b463063d51cf7b1ecaa8836d454197cfa8311bff0"},
		{"json", sum(js.Bytes()), "91809bfa9b6f988763c2a1970543737c61376cc9c413524408d354eb43c0897f"},
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
