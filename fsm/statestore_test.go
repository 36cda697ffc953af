package fsm

import (
	"path/filepath"
	"testing"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/fsm/state/statetest"
	"github.com/cnv-project/cnv/ledger"
)

// The state store passes its conformance suite in its namespace of the
// ledger's file, as a node keeps it (fsm/state does not import the ledger).
func TestStateInLedgerNamespace(t *testing.T) {
	statetest.RunStoreTests(t, func(t *testing.T) (*state.Store, func() *state.Store) {
		path := filepath.Join(t.TempDir(), "state.db")
		var l *ledger.Store
		open := func() *state.Store {
			var err error
			if l, err = ledger.Open(path, ledger.Options{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			db, err := l.KV(state.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			return state.New(db)
		}
		s := open()
		t.Cleanup(func() { l.Close() })
		return s, func() *state.Store {
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			return open()
		}
	})
}
