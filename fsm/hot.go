package fsm

import (
	"fmt"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Hot-path quota leases.
//
// A node serving a hot-path session whose certificate's chain has max_uses
// leases blocks of uses here: each lease charges every link of the chain by
// the granted count (granted = min(wanted, what every limited link has
// left), all or nothing), exactly as that many invocations would. The node
// spends them locally. When the session ends the node settles: it reports
// how many it spent and the unspent rest is credited back to every link.
//
// The lease record keeps the total granted to the session, so the
// settlement is exact even when a lease's outcome was lost on its way back
// to the node (those uses are simply credited at settlement), and settling
// twice is a no-op (the record is gone). A node that crashes never settles:
// its leased uses stay charged, so the cluster-wide sum of spent uses never
// exceeds max_uses.

var (
	// ErrLeaseClosed is a further lease for a session already settled.
	ErrLeaseClosed = cnverr.New(cnverr.Conflict, "hot-path lease already settled")
	// ErrUnknownLink is a lease naming a link the replicated state has
	// never charged (no certificate was issued through it).
	ErrUnknownLink = cnverr.New(cnverr.NotFound, "delegation link unknown to the cluster")
	// ErrTooManyLeases is a new lease beyond limits.MaxOpenHotLeases.
	ErrTooManyLeases = cnverr.New(cnverr.ResourceExhausted, "too many open hot-path leases")
	// ErrBadHotCommand is a hot-path command that fails its shape checks.
	ErrBadHotCommand = cnverr.New(cnverr.InvalidInput, "malformed hot-path command")
)

// HotLease asks for a block of uses for one hot-path session.
type HotLease struct {
	// Lease names the session's leases (node-chosen, unique per session).
	Lease       string            `json:"lease"`
	Node        string            `json:"node_id"`
	Certificate string            `json:"certificate_id"`
	Links       []delegation.Hash `json:"links"`
	Want        uint64            `json:"want"`
	// First opens the lease record; a later lease needs the record open.
	First bool `json:"first,omitempty"`
}

// HotReturn settles a session: Spent of its leased uses were used, the
// rest is credited back.
type HotReturn struct {
	Lease string `json:"lease"`
	Node  string `json:"node_id"`
	Spent uint64 `json:"spent"`
}

// HotBatch is a node's hot-path accounting, ledgered as is.
type HotBatch struct {
	Batch event.HotPathBatch `json:"batch"`
}

func (l *HotLease) check() error {
	switch {
	case l.Want == 0 || l.Want > limits.MaxHotLeaseBlock:
		return fmt.Errorf("%w: want %d (1 to %d)", ErrBadHotCommand, l.Want, limits.MaxHotLeaseBlock)
	case len(l.Links) == 0 || len(l.Links) > limits.MaxChainDepth:
		return fmt.Errorf("%w: %d links (1 to %d)", ErrBadHotCommand, len(l.Links), limits.MaxChainDepth)
	}
	return checkHotIDs(l.Lease, "node_id", l.Node, "certificate_id", l.Certificate)
}

// checkHotIDs checks a lease ID and the (field, value) ID pairs that follow.
func checkHotIDs(lease string, pairs ...string) error {
	if len(lease) > limits.MaxHotLeaseIDLen {
		return fmt.Errorf("%w: lease id of %d bytes", ErrBadHotCommand, len(lease))
	}
	pairs = append([]string{"lease", lease}, pairs...)
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := principal.CheckID(pairs[i], pairs[i+1]); err != nil {
			return fmt.Errorf("%w: %v", ErrBadHotCommand, err)
		}
	}
	return nil
}

func (a *applier) leaseRecord(id string) (state.HotLease, bool) {
	r, found, err := a.st.HotLease(id)
	if err != nil {
		panic(err)
	}
	return r, found
}

// hotLease grants min(Want, what every limited link has left) uses and
// charges them on every link, or refuses and changes nothing.
func (a *applier) hotLease(l *HotLease) Result {
	if err := l.check(); err != nil {
		return Result{Err: renderErr(err)}
	}
	rec, found := a.leaseRecord(l.Lease)
	switch {
	case !found && !l.First:
		return Result{Err: renderErr(fmt.Errorf("%w: %s", ErrLeaseClosed, l.Lease))}
	case !found && a.st.OpenHotLeases() >= limits.MaxOpenHotLeases:
		return Result{Err: renderErr(fmt.Errorf("%w: %d", ErrTooManyLeases, limits.MaxOpenHotLeases))}
	case !found:
		rec = state.HotLease{Node: l.Node, Certificate: l.Certificate, Links: l.Links, Opened: a.now}
	}
	states, granted, err := a.leasable(rec.Links, l.Want)
	if err != nil {
		return Result{Err: renderErr(err)}
	}
	if !found {
		must(a.st.AddOpenHotLeases(1))
	}
	counts := a.shiftUses(states, int64(granted))
	rec.Leased += granted
	must(a.st.PutHotLease(l.Lease, rec))
	ap := a.appendEvents(event.Event{Actor: rec.Node, Data: event.HotPathLease{NodeID: rec.Node, Lease: l.Lease,
		Certificate: rec.Certificate, Op: event.LeaseGranted, Uses: granted, UseCounts: counts}})
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash, UseCounts: counts, Leased: granted}
}

// leasable reads the links' states and how many of want every limited link
// can still give: an unknown, revoked or expired link, or none left,
// refuses the lease.
func (a *applier) leasable(links []delegation.Hash, want uint64) ([]LinkState, uint64, error) {
	states := make([]LinkState, len(links))
	granted := want
	for i, h := range links {
		st, ok := a.linkState(h)
		switch {
		case !ok:
			return nil, 0, fmt.Errorf("%w: %s", ErrUnknownLink, h)
		case st.Revoked:
			return nil, 0, fmt.Errorf("%w: link %s", delegation.ErrRevoked, h)
		case st.NotAfter != 0 && a.now > st.NotAfter:
			return nil, 0, fmt.Errorf("%w: link %s", delegation.ErrExpired, h)
		case st.MaxUses > 0 && st.Uses >= st.MaxUses:
			return nil, 0, fmt.Errorf("%w: link %s used %d of %d", delegation.ErrUsageLimitExceeded, h, st.Uses, st.MaxUses)
		case st.MaxUses > 0:
			granted = min(granted, st.MaxUses-st.Uses)
		}
		states[i] = st
	}
	return states, granted, nil
}

// shiftUses adds delta (negative: credits, never below zero) to every
// link's use counter and returns the counters after.
func (a *applier) shiftUses(states []LinkState, delta int64) []event.UseCount {
	counts := make([]event.UseCount, len(states))
	for i := range states {
		st := &states[i]
		if delta >= 0 {
			st.Uses += uint64(delta)
		} else {
			st.Uses -= min(uint64(-delta), st.Uses)
		}
		must(a.st.PutLink(*st))
		counts[i] = event.UseCount{Link: st.Hash.String(), Used: st.Uses, Max: st.MaxUses}
	}
	return counts
}

// hotReturn settles a lease: the uses leased and not spent are credited
// back to every link, and the record is removed. Settling a lease that is
// not open (settled before, or never opened) changes nothing.
func (a *applier) hotReturn(r *HotReturn) Result {
	if err := checkHotIDs(r.Lease, "node_id", r.Node); err != nil {
		return Result{Err: renderErr(err)}
	}
	rec, found := a.leaseRecord(r.Lease)
	if !found {
		return Result{Time: a.now}
	}
	spent := min(r.Spent, rec.Leased)
	credit := rec.Leased - spent
	states := make([]LinkState, len(rec.Links))
	for i, h := range rec.Links {
		st, ok := a.linkState(h)
		if !ok {
			st = LinkState{Hash: h}
		}
		states[i] = st
	}
	counts := a.shiftUses(states, -int64(credit))
	must(a.st.DeleteHotLease(r.Lease))
	must(a.st.AddOpenHotLeases(-1))
	ap := a.appendEvents(event.Event{Actor: rec.Node, Data: event.HotPathLease{NodeID: rec.Node, Lease: r.Lease,
		Certificate: rec.Certificate, Op: event.LeaseReturned, Uses: credit, Spent: spent, UseCounts: counts}})
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash, UseCounts: counts}
}

// hotBatch ledgers a node's hot-path accounting after validating it (an
// invalid event would poison the whole entry's transaction).
func (a *applier) hotBatch(b *HotBatch) Result {
	ev := event.Event{Actor: b.Batch.NodeID, Data: b.Batch}
	if err := ev.Validate(); err != nil {
		return Result{Err: renderErr(fmt.Errorf("%w: %v", ErrBadHotCommand, err))}
	}
	ap := a.appendEvents(ev)
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash}
}

// HotLeasesOpen is the number of open hot-path lease records.
func (f *FSM) HotLeasesOpen() (uint64, error) {
	var n uint64
	err := f.state.View(func(r *state.Reader) error {
		n = r.OpenHotLeases()
		return nil
	})
	return n, err
}

// LinkStates reads several links' replicated states in one read
// transaction; found[i] is false for a link the state has never seen.
func (f *FSM) LinkStates(hs []delegation.Hash) (states []LinkState, found []bool, err error) {
	states, found = make([]LinkState, len(hs)), make([]bool, len(hs))
	err = f.state.View(func(r *state.Reader) error {
		for i, h := range hs {
			var err error
			if states[i], found[i], err = r.Link(h); err != nil {
				return err
			}
		}
		return nil
	})
	return states, found, err
}

// HotLeasesOf lists the IDs of the open hot-path leases recorded for node,
// in key order.
func (f *FSM) HotLeasesOf(node string) ([]string, error) {
	var out []string
	err := f.state.View(func(r *state.Reader) error {
		return r.HotLeases(func(id string, l state.HotLease) error {
			if l.Node == node {
				out = append(out, id)
			}
			return nil
		})
	})
	return out, err
}
