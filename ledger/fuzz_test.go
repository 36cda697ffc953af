package ledger

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
)

// FuzzReadJSONL: import input never panics, and every event it accepts is
// valid and survives a JSON round trip unchanged in canonical form.
func FuzzReadJSONL(f *testing.F) {
	var sb strings.Builder
	for i, e := range sampleEvents() {
		e.Index, e.Time = uint64(i), t0
		e.Normalize()
		b, _ := json.Marshal(e)
		sb.Write(b)
		sb.WriteByte('\n')
		f.Add(string(b) + "\n")
	}
	f.Add(sb.String())
	f.Add("\n\n{}\n")
	f.Fuzz(func(t *testing.T, in string) {
		_ = ReadJSONL(strings.NewReader(in), func(_ int, e event.Event) error {
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
			var back event.Event
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
