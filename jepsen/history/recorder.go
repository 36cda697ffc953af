package history

import (
	"sort"
	"sync"
	"time"
)

// Recorder collects operations and faults from concurrent workers. It is
// safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	start  time.Time
	now    func() time.Time
	ops    []Op
	faults []Fault
}

// NewRecorder starts a recorder whose time 0 is now().
func NewRecorder(now func() time.Time) *Recorder {
	return &Recorder{start: now(), now: now}
}

// Since is the recorder's clock: ns since time 0.
func (r *Recorder) Since() int64 { return int64(r.now().Sub(r.start)) }

// StartUnix is time 0 as Unix ns.
func (r *Recorder) StartUnix() int64 { return r.start.UnixNano() }

// Begin stamps op's invoke time and returns it; pass it to Complete.
func (r *Recorder) Begin(op Op) Op {
	op.Invoke = r.Since()
	return op
}

// Complete stamps op's end time and records it.
func (r *Recorder) Complete(op Op) Op {
	op.End = r.Since()
	if op.End < op.Invoke {
		op.End = op.Invoke
	}
	r.mu.Lock()
	op.ID = len(r.ops)
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return op
}

// FaultStart records that a fault began and returns its handle.
func (r *Recorder) FaultStart(nemesis, detail string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, Fault{Nemesis: nemesis, Detail: detail, Start: r.Since()})
	return len(r.faults) - 1
}

// FaultEnd records that the fault h ended. Ending it twice keeps the first end.
func (r *Recorder) FaultEnd(h int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if h >= 0 && h < len(r.faults) && r.faults[h].End == 0 {
		r.faults[h].End = r.Since()
	}
}

// History returns a copy of everything recorded, ops sorted by invoke
// time; faults still open are closed now.
func (r *Recorder) History(scenario string, seed int64, command string) *History {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.Since()
	h := &History{Scenario: scenario, Seed: seed, Command: command, Start: r.StartUnix(),
		Ops: append([]Op(nil), r.ops...), Faults: append([]Fault(nil), r.faults...)}
	for i := range h.Faults {
		if h.Faults[i].End == 0 {
			h.Faults[i].End = now
		}
	}
	sort.SliceStable(h.Ops, func(i, j int) bool { return h.Ops[i].Invoke < h.Ops[j].Invoke })
	return h
}
