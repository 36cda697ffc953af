package ledger

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	bolt "go.etcd.io/bbolt"

	"github.com/cnv-project/cnv/ledger/event"
)

// maxProblems bounds the problems a verify report lists; the count of all
// problems is still reported.
const maxProblems = 100

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Structure first runs bbolt's page-level consistency check.
	Structure bool
	// TrustedKeys, when set, requires every checkpoint to carry a
	// signature by at least one of these note verifier keys.
	TrustedKeys []string
	// Progress, when set, is called every ProgressEvery events (default
	// 65536) with the events checked so far and the total.
	Progress      func(done, total uint64)
	ProgressEvery uint64
}

// Problem is one inconsistency found by Verify.
type Problem struct {
	// Index is the first event index the problem concerns, when it
	// concerns one.
	Index   *uint64 `json:"index,omitempty"`
	Kind    string  `json:"kind"`
	Message string  `json:"message"`
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	OK   bool   `json:"ok"`
	Size uint64 `json:"size"`
	// Root is recomputed from the stored events.
	Root        Hash `json:"root"`
	Checkpoints int  `json:"checkpoints"`
	// FirstBadIndex is the lowest event index any problem concerns.
	FirstBadIndex *uint64   `json:"first_bad_index,omitempty"`
	ProblemCount  int       `json:"problem_count"`
	Problems      []Problem `json:"problems,omitempty"`
}

func (r *VerifyReport) add(index *uint64, kind, format string, args ...any) {
	r.ProblemCount++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, Problem{Index: index, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	if index != nil && (r.FirstBadIndex == nil || *index < *r.FirstBadIndex) {
		i := *index
		r.FirstBadIndex = &i
	}
}

func ptr(i uint64) *uint64 { return &i }

// Verify recomputes every leaf hash and the Merkle root from the stored
// events, compares them with the stored tree and every stored checkpoint,
// checks each checkpoint's signatures and the consistency between
// successive checkpoints. A changed byte in any stored event is reported
// with its index. It reads one consistent snapshot.
func (s *Store) Verify(opts VerifyOptions) (*VerifyReport, error) {
	rep := &VerifyReport{}
	err := s.boltView(func(tx *bolt.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil { // bbolt panics on some page corruption
				rep.add(nil, "structure", "reading the file failed: %v", p)
				err = nil
			}
		}()
		if opts.Structure {
			checkStructure(tx, rep)
		}
		newVerifier(newReader(tx), rep, opts).run()
		return nil
	})
	rep.OK = rep.ProblemCount == 0
	return rep, err
}

func checkStructure(tx *bolt.Tx, rep *VerifyReport) {
	for err := range tx.Check() {
		rep.add(nil, "structure", "%v", err)
	}
}

type verifier struct {
	r     *reader
	rep   *VerifyReport
	opts  VerifyOptions
	rng   *compact.Range
	nodes *ledgerNodes
	cps   []CheckpointRecord
	// roots recomputed at each checkpoint size
	cpRoots  map[uint64][]byte
	lastBad  uint64
	anyBad   bool
	lastTime int64
}

func newVerifier(r *reader, rep *VerifyReport, opts VerifyOptions) *verifier {
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 1 << 16
	}
	return &verifier{r: r, rep: rep, opts: opts, rng: rangeFactory.NewEmptyRange(0), nodes: r.nodes(),
		cpRoots: map[uint64][]byte{}}
}

func (v *verifier) run() {
	v.rep.Size = v.r.size
	if v.r.empty {
		v.rep.Root = EmptyRoot()
		return
	}
	v.loadCheckpoints()
	v.scanEvents()
	v.rep.Root = rangeRoot(v.rng)
	v.checkHead()
	v.checkCheckpoints()
}

func (v *verifier) bad(i uint64, kind, format string, args ...any) {
	v.rep.add(ptr(i), kind, format, args...)
	if !v.anyBad || i > v.lastBad {
		v.lastBad = i
	}
	v.anyBad = true
}

func (v *verifier) loadCheckpoints() {
	c := v.r.checkpointsB().Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		rec, err := decodeCheckpoint(val)
		size, _ := getU64(k)
		if err == nil && rec.Size != size {
			err = fmt.Errorf("stored under size %d but signs size %d", size, rec.Size)
		}
		if err != nil {
			v.rep.add(nil, "checkpoint", "checkpoint %x: %v", k, err)
			continue
		}
		v.cps = append(v.cps, rec)
	}
	v.rep.Checkpoints = len(v.cps)
	v.cpRoots[0] = EmptyRoot()
}

// scanEvents walks the events in index order.
func (v *verifier) scanEvents() {
	ec := v.r.eventsB().Cursor()
	ek, ev := ec.First()
	want := map[uint64]bool{}
	for _, cp := range v.cps {
		want[cp.Size] = true
	}
	var i uint64
	for ; ek != nil; i++ {
		if !bytes.Equal(ek, u64(i)) {
			v.bad(i, "sequence", "expected event %d, found key %x", i, ek)
			return
		}
		if len(ev) < leafSize {
			v.bad(i, "event", "event %d is truncated", i)
			return
		}
		leaf := LeafHash(ev[leafSize:])
		if !bytes.Equal(ev[:leafSize], leaf) {
			v.bad(i, "leaf", "event %d does not hash to its stored leaf hash (its bytes or the hash changed)", i)
		}
		v.checkEvent(i, ev[leafSize:])
		v.appendLeaf(i, leaf)
		if want[i+1] {
			v.cpRoots[i+1] = rangeRoot(v.rng)
		}
		ek, ev = ec.Next()
		v.progress(i + 1)
	}
	if i != v.r.size {
		v.bad(i, "sequence", "%d events stored, meta size says %d", i, v.r.size)
	}
}

func (v *verifier) progress(done uint64) {
	if v.opts.Progress != nil && (done%v.opts.ProgressEvery == 0 || done == v.r.size) {
		v.opts.Progress(done, v.r.size)
	}
}

func (v *verifier) checkEvent(i uint64, b []byte) {
	e, err := event.UnmarshalEvent(b)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		v.bad(i, "event", "event %d: %v", i, err)
		return
	}
	if e.Index != i {
		v.bad(i, "event", "event stored at %d says index %d", i, e.Index)
	}
	if e.Time < v.lastTime {
		v.bad(i, "event", "event %d time %d is before its predecessor's %d", i, e.Time, v.lastTime)
	}
	v.lastTime = e.Time
}

// appendLeaf adds the recomputed leaf and compares every completed
// interior node with the stored one, unless it covers a leaf already
// reported bad (then the difference is that leaf's consequence).
func (v *verifier) appendLeaf(i uint64, leaf []byte) {
	_ = appendLeaf(v.rng, leaf, func(id compact.NodeID, h []byte) error {
		if id.Level < minStoredLevel {
			return nil
		}
		begin, _ := id.Coverage()
		if v.anyBad && v.lastBad >= begin {
			return nil
		}
		if stored, _ := v.nodes.node(id); !bytes.Equal(stored, h) {
			v.bad(begin, "tree", "stored tree node (level %d, index %d) over events %d.. disagrees with the events", id.Level, id.Index, begin)
		}
		return nil
	})
}

// checkHead compares the recomputed root with the root the stored nodes give.
func (v *verifier) checkHead() {
	stored, err := rootAtSize(v.r.nodes(), v.r.size)
	if err != nil {
		v.rep.add(nil, "tree", "%v", err)
		return
	}
	if !bytes.Equal(stored, v.rep.Root) && !v.anyBad {
		v.rep.add(nil, "tree", "stored tree root %x differs from the root of the events %x", stored, v.rep.Root)
	}
}

func (v *verifier) checkCheckpoints() {
	sort.Slice(v.cps, func(i, j int) bool { return v.cps[i].Size < v.cps[j].Size })
	for n, cp := range v.cps {
		v.checkCheckpoint(cp)
		if n > 0 {
			v.checkConsistency(v.cps[n-1], cp)
		}
	}
}

func (v *verifier) checkCheckpoint(cp CheckpointRecord) {
	if cp.Size > v.r.size {
		v.rep.add(nil, "checkpoint", "checkpoint at size %d is beyond the ledger's %d", cp.Size, v.r.size)
		return
	}
	if got := v.cpRoots[cp.Size]; !bytes.Equal(got, cp.Root) {
		v.bad(max(cp.Size, 1)-1, "checkpoint", "signed checkpoint at size %d has root %x, the events give %x", cp.Size, cp.Root, got)
	}
	if len(v.opts.TrustedKeys) > 0 && !trustedSigner(cp, v.opts.TrustedKeys) {
		v.rep.add(nil, "checkpoint", "checkpoint at size %d has no signature by a trusted key", cp.Size)
	}
}

func trustedSigner(cp CheckpointRecord, trusted []string) bool {
	for _, k := range cp.VerifierKeys {
		for _, t := range trusted {
			if k == t {
				return true
			}
		}
	}
	return false
}

func (v *verifier) checkConsistency(a, b CheckpointRecord) {
	if b.Size > v.r.size {
		return
	}
	p, err := consistencyProof(v.r.nodes(), a.Size, b.Size)
	if err == nil {
		err = proof.VerifyConsistency(hasher, a.Size, b.Size, p, a.Root, b.Root)
	}
	if err != nil {
		v.rep.add(nil, "checkpoint", "checkpoints at sizes %d and %d are not consistent: %v", a.Size, b.Size, err)
	}
}
