package event_test

import (
	"bytes"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/ledger/event/eventtest"
)

const t0 = eventtest.T0

// FuzzUnmarshalEvent: stored and replicated event bytes never panic the
// decoder, and every valid event that decodes re-encodes to a fixed point.
// (An invalid event may not: an all-zero payload, which no valid event
// has, encodes as absent.)
func FuzzUnmarshalEvent(f *testing.F) {
	for i, e := range eventtest.Samples() {
		e.Index, e.Time = uint64(i), t0
		e.Normalize()
		b, err := e.MarshalCanonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := event.UnmarshalEvent(b)
		if err != nil {
			return
		}
		b1, err := e.MarshalCanonical()
		if err != nil || e.Validate() != nil {
			return
		}
		e2, err := event.UnmarshalEvent(b1)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		b2, _ := e2.MarshalCanonical()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", b1, b2)
		}
	})
}
