package ledger

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzUnmarshalEvent: stored and replicated event bytes never panic the
// decoder, and every valid event that decodes re-encodes to a fixed point.
// (An invalid event may not: an all-zero payload, which no valid event
// has, encodes as absent.)
func FuzzUnmarshalEvent(f *testing.F) {
	for i, e := range sampleEvents() {
		e.Index, e.Time = uint64(i), t0
		e.fillFromPayload()
		b, err := e.MarshalCanonical()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEvent(b)
		if err != nil {
			return
		}
		b1, err := e.MarshalCanonical()
		if err != nil || e.Validate() != nil {
			return
		}
		e2, err := UnmarshalEvent(b1)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		b2, _ := e2.MarshalCanonical()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", b1, b2)
		}
	})
}

// FuzzReadJSONL: import input never panics, and every event it accepts is
// valid and survives a JSON round trip unchanged in canonical form.
func FuzzReadJSONL(f *testing.F) {
	var sb strings.Builder
	for i, e := range sampleEvents() {
		e.Index, e.Time = uint64(i), t0
		e.fillFromPayload()
		b, _ := json.Marshal(e)
		sb.Write(b)
		sb.WriteByte('\n')
		f.Add(string(b) + "\n")
	}
	f.Add(sb.String())
	f.Add("\n\n{}\n")
	f.Fuzz(func(t *testing.T, in string) {
		_ = ReadJSONL(strings.NewReader(in), func(_ int, e Event) error {
			if err := e.Validate(); err != nil {
				t.Fatalf("ReadJSONL passed an invalid event: %v", err)
			}
			c1, err := e.MarshalCanonical()
			if err != nil {
				return nil
			}
			j, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("accepted event does not marshal: %v", err)
			}
			var back Event
			if err := json.Unmarshal(j, &back); err != nil {
				t.Fatalf("JSON round trip: %v\n%s", err, j)
			}
			c2, _ := back.MarshalCanonical()
			if !bytes.Equal(c1, c2) {
				t.Fatalf("JSON round trip changed the canonical form:\n%s", j)
			}
			return nil
		})
	})
}
