package fsm

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// FSM is cnv's raft.FSM and raft.BatchingFSM. Apply and ApplyBatch are
// called by raft from one goroutine; View, Store and the read methods may
// be called concurrently with them.
type FSM struct {
	store *ledger.Store
	// state is the replicated state in its namespace of the store's file,
	// for reads outside Apply (Apply writes it in the ledger's Tx).
	state *state.Store
	log   hclog.Logger
	view  atomic.Pointer[View]
	// lastTime is the latest envelope time applied, for clamping.
	lastTime int64
	// recent holds the latest applied entries' ledger batch proofs.
	recent recentProofs
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// New returns an FSM over an open ledger store, loading the replicated
// state it holds.
func New(store *ledger.Store, log hclog.Logger) (*FSM, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	db, err := store.KV(state.Namespace)
	if err != nil {
		return nil, err
	}
	f := &FSM{store: store, state: state.New(db), log: log}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Store is the underlying ledger store (for ledger reads).
func (f *FSM) Store() *ledger.Store { return f.store }

// View returns the current view of the slowly changing state.
func (f *FSM) View() *View { return f.view.Load() }

// AppliedIndex is the last Raft index applied to the store.
func (f *FSM) AppliedIndex() uint64 { return f.store.AppliedIndex() }

// reload rebuilds the view from the store (on open and after Restore).
func (f *FSM) reload() error {
	v := &View{Nodes: map[string]Node{}, Principals: map[principal.KeyID]principal.Principal{},
		Removed: map[string]Tombstone{}, RemovedKeys: map[principal.KeyID]Tombstone{}}
	err := f.state.View(func(r *state.Reader) error { return loadView(r, v) })
	if err != nil {
		return err
	}
	v.Index = f.store.AppliedIndex()
	f.state.Reset() // the request table's index, rebuilt by the next batch
	f.recent.reset()
	g, err := v.Registry.Snapshot(v.RegistryIndex)
	if err != nil {
		return fmt.Errorf("fsm: build graph snapshot: %w", err)
	}
	v.Graph = g
	f.view.Store(v)
	f.lastTime = f.store.Head().LastTime
	return nil
}

func loadView(r *state.Reader, v *View) error {
	v.Bootstrapped = r.Bootstrapped()
	v.Policy = policy.AdminOnly()
	if raw := r.Policy(); raw != nil {
		s, err := policy.Parse(raw)
		if err != nil {
			return fmt.Errorf("fsm: stored policy: %w", err)
		}
		v.Policy = s
	}
	err := r.Principals(func(p principal.Principal) error {
		v.Principals[p.KeyID] = p
		return nil
	})
	if err != nil {
		return err
	}
	err = r.Nodes(func(n Node) error {
		v.Nodes[n.ID] = n
		return nil
	})
	if err != nil {
		return err
	}
	err = r.RemovedIDs(func(t Tombstone) error {
		v.Removed[t.ID] = t
		return nil
	})
	if err != nil {
		return err
	}
	err = r.RemovedKeys(func(k principal.KeyID, t Tombstone) error {
		v.RemovedKeys[k] = t
		return nil
	})
	if err != nil {
		return err
	}
	v.RegistryIndex = r.RegistryIndex()
	v.Registry, err = loadRegistry(r)
	return err
}

// loadRegistry rebuilds the capability registry: the built-in capabilities,
// then every registered file in the order it was applied.
func loadRegistry(r *state.Reader) (*graph.Registry, error) {
	reg, err := builtinRegistry()
	if err != nil {
		return nil, err
	}
	n := 0
	err = r.CapabilityFiles(func(raw []byte) error {
		n++
		file, err := graph.ParseFile(raw)
		if err != nil {
			return fmt.Errorf("fsm: stored capability file %d: %w", n, err)
		}
		return reg.Merge(file)
	})
	return reg, err
}

// Apply applies one log entry.
func (f *FSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies entries in one bbolt transaction. It returns, per
// entry, a []Result (one per command) for command entries and nil for
// others. A storage failure stops the node (panic): applying an entry on
// some nodes and not others would make the replicas diverge, while a
// restart re-applies it from the log.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	w := newWork(f.view.Load())
	lastTime := f.lastTime
	var lastIndex uint64
	var proofs []entryProofs
	_, err := f.store.Update(func(tx *ledger.Tx) error {
		proofs = proofs[:0]
		kvtx, err := tx.KV(state.Namespace)
		if err != nil {
			return err
		}
		st := f.state.Writer(kvtx) // the state's writes commit with the ledger's
		for i, l := range logs {
			if l.Index <= tx.AppliedIndex() {
				continue // applied before a restart
			}
			if l.Type == raft.LogCommand {
				tx.BeginBatch()
				res, t := f.applyEntry(tx, st, w, l, lastTime)
				out[i], lastTime = res, t
				if p := tx.EndBatch(); p.Len() > 0 {
					proofs = append(proofs, entryProofs{index: l.Index, proofs: p})
				}
			}
			if err := tx.SetAppliedIndex(l.Index); err != nil {
				return err
			}
			lastIndex = l.Index
		}
		return nil
	})
	if err != nil {
		f.log.Error("applying raft entries failed; stopping to keep replicas identical", "error", err)
		panic(fmt.Sprintf("fsm: apply: %v", err))
	}
	f.lastTime = lastTime
	f.recent.add(proofs)
	if lastIndex != 0 && w.dirty() {
		v, err := w.publish(lastIndex)
		if err != nil {
			panic(fmt.Sprintf("fsm: publish view: %v", err))
		}
		f.view.Store(v)
	}
	return out
}

// applyEntry decodes one command entry and applies its commands. A
// malformed entry is logged and answered with an error per entry; it
// changes nothing (every node rejects it identically).
func (f *FSM) applyEntry(tx *ledger.Tx, st *state.Writer, w *work, l *raft.Log, lastTime int64) ([]Result, int64) {
	env, err := DecodeEnvelope(l.Data)
	if errors.Is(err, ErrCorruptEntry) {
		f.log.Error("raft entry is damaged on this node's disk; stopping rather than diverging", "index", l.Index)
		panic(fmt.Sprintf("fsm: entry %d: %v", l.Index, err))
	}
	if err != nil {
		f.log.Error("skipping malformed raft entry", "index", l.Index, "error", err)
		return []Result{{Err: renderErr(err)}}, lastTime
	}
	t := env.Time
	if t < lastTime {
		t = lastTime // the leader's stamp never goes backwards
	}
	a := &applier{f: f, tx: tx, st: st, w: w, raftIndex: l.Index, now: t}
	results := make([]Result, len(env.Commands))
	for i := range env.Commands {
		results[i] = a.apply(&env.Commands[i])
	}
	return results, t
}

// Snapshot returns a snapshot that copies the store when persisted. The
// copy may include entries applied after this call; that is safe because
// the state records its own applied index and entries at or below it are
// skipped on replay.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{store: f.store}, nil
}

// Restore replaces the whole state with a snapshot.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.store.Restore(rc); err != nil {
		return fmt.Errorf("fsm: restore: %w", err)
	}
	return f.reload()
}

type snapshot struct{ store *ledger.Store }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.store.WriteTo(sink); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
