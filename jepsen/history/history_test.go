package history

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// stepClock advances by 1ms on every reading.
func stepClock() func() time.Time {
	var mu sync.Mutex
	t := time.Unix(1_700_000_000, 0)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func TestRecorderStampsAndSorts(t *testing.T) {
	r := NewRecorder(stepClock())
	a := r.Begin(Op{Kind: Append, Value: "a", Outcome: OK})
	b := r.Begin(Op{Kind: Append, Value: "b", Outcome: Unknown})
	r.Complete(b)
	r.Complete(a)
	h := r.FaultStart("kill-leader", "killed n1")
	open := r.FaultStart("pause-one", "paused n2")
	r.FaultEnd(h)
	r.FaultEnd(h) // keeps the first end
	hist := r.History("s", 7, "cmd")
	if len(hist.Ops) != 2 || hist.Ops[0].Value != "a" || hist.Ops[0].End <= hist.Ops[0].Invoke {
		t.Fatalf("ops %+v", hist.Ops)
	}
	if hist.Faults[0].End == 0 || hist.Faults[open].End == 0 || hist.Faults[0].End >= hist.Faults[open].End {
		t.Fatalf("faults %+v: every fault closed, the open one at History time", hist.Faults)
	}
	if err := hist.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	h := &History{Scenario: "x", Seed: 3, Ops: []Op{
		{Kind: Invoke, Outcome: OK, Decision: Allow, Key: "k", Invoke: 1, End: 2, Uses: 1, MaxUses: 3},
		{Kind: Read, Outcome: OK, Size: 2, Events: []string{"a", "b"}, Invoke: 1, End: 5},
	}, Final: &Final{Ledger: []string{"a", "b"}, Checkpoints: map[uint64][]string{2: {"r"}}}}
	var buf bytes.Buffer
	if err := Encode(&buf, h); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ops[1].Events[1] != "b" || got.Final.Checkpoints[2][0] != "r" {
		t.Fatalf("round trip lost data: %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	bad := map[string]string{
		"not json":       "{",
		"trailing":       `{} {}`,
		"outcome":        `{"ops":[{"kind":"append","outcome":"maybe"}]}`,
		"kind":           `{"ops":[{"kind":"write","outcome":"ok"}]}`,
		"interval":       `{"ops":[{"kind":"append","outcome":"ok","invoke":5,"end":4}]}`,
		"decision":       `{"ops":[{"kind":"invoke","outcome":"ok"}]}`,
		"events vs size": `{"ops":[{"kind":"read","outcome":"ok","size":1,"events":["a","b"]}]}`,
		"fault":          `{"faults":[{"start":3,"end":1}]}`,
	}
	for name, in := range bad {
		if _, err := Decode(strings.NewReader(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"scenario":"s","ops":[{"kind":"read","outcome":"ok","size":1,"events":["a"]}]}`))
	f.Add([]byte(`{"ops":[{"kind":"invoke","outcome":"ok","decision":"allow"}],"final":{"ledger":["a"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, h); err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(&buf); err != nil {
			t.Fatalf("re-decoding an accepted history: %v", err)
		}
	})
}
