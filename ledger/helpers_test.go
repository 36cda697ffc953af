package ledger

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/ledger/event/eventtest"
	"github.com/cnv-project/cnv/runtime/codec"
)

// t0 is a fixed base time for tests (2026-01-01T00:00:00Z).
const t0 = eventtest.T0

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// decision, sampleEvents (one event of every type, valid as given) and
// delegatedDecision (a decision through a two-link chain) are eventtest's.
var (
	decision          = eventtest.Decision
	sampleEvents      = eventtest.Samples
	delegatedDecision = eventtest.DelegatedDecision
)

func withCorr(e event.Event, corr string) event.Event {
	e.Correlation = corr
	return e
}

func at(e event.Event, t int64) event.Event {
	e.Time = t
	return e
}

func mustAppend(t testing.TB, s *Store, opts AppendOptions, events ...event.Event) BatchResult {
	t.Helper()
	res, err := s.AppendBatch(events, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
