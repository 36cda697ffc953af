package state_test

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/fsm/state/statetest"
	"github.com/cnv-project/cnv/kv"
)

func TestMemStore(t *testing.T) {
	statetest.RunStoreTests(t, func(t *testing.T) (*state.Store, func() *state.Store) {
		return state.New(kv.NewMem()), nil
	})
}

func TestBoltStore(t *testing.T) {
	statetest.RunStoreTests(t, func(t *testing.T) (*state.Store, func() *state.Store) {
		path := filepath.Join(t.TempDir(), "state.db")
		var db *kv.BoltDB
		open := func() *state.Store {
			var err error
			if db, err = kv.OpenBolt(path, &bolt.Options{NoSync: true}); err != nil {
				t.Fatal(err)
			}
			return state.New(db)
		}
		s := open()
		t.Cleanup(func() { db.Close() })
		return s, func() *state.Store {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return open()
		}
	})
}
