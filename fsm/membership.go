package fsm

import (
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Membership records a membership change with who asked for it (By) and
// why (Cause). Only the leader proposes it (it is not NodeProposable),
// right after the Raft configuration change it describes — except a
// removal, which is committed first, so that the tombstone exists before
// the server leaves the configuration and nothing can add it back in
// between:
//
//   - joined readmits: it clears the tombstones of the node id and of the
//     joiner's key (the ledger event names the removal it readmitted); an
//     old key of that id stays tombstoned;
//   - promoted and demoted set the node record's voter flag;
//   - removed tombstones the node id and its recorded key (KeyID when it
//     has no record) at this entry's Raft index and time, and deletes its
//     record;
//   - moved sets the record's Raft address (and API address when given).
//
// Every change is one MembershipChanged event. A command whose event
// would not validate changes nothing and answers an error.
type Membership struct {
	Change event.MemberChange `json:"change"`
	NodeID string             `json:"node_id"`
	// KeyID is the server's key when the leader knows it and the node has
	// no record (a join names the joiner's key; autopilot what the server
	// advertises).
	KeyID    principal.KeyID `json:"key_id,omitempty"`
	RaftAddr string          `json:"raft_addr,omitempty"`
	APIAddr  string          `json:"api_addr,omitempty"`
	// FromRaftAddr is a move's old Raft address (the configuration's).
	FromRaftAddr string `json:"from_raft_addr,omitempty"`
	Voter        bool   `json:"voter,omitempty"`
	By           string `json:"by"`
	Cause        string `json:"cause"`
}

func (a *applier) membership(m *Membership) Result {
	ev := event.MembershipChanged{NodeID: m.NodeID, Change: m.Change, KeyID: m.KeyID, RaftAddr: m.RaftAddr,
		APIAddr: m.APIAddr, Voter: m.Voter, By: m.By, Cause: m.Cause}
	rec, hasRec := a.w.nodes[m.NodeID]
	if hasRec {
		ev.KeyID = rec.KeyID
	}
	var readmit []Tombstone
	switch m.Change {
	case event.MemberJoined:
		if m.KeyID != "" {
			ev.KeyID = m.KeyID // the joiner's key, which the record will carry
		}
		readmit = a.tombstonesOf(m.NodeID, ev.KeyID)
		for _, t := range readmit {
			ev.Readmitted = max(ev.Readmitted, t.Index)
		}
	case event.MemberPromoted, event.MemberDemoted:
		ev.Voter = m.Change == event.MemberPromoted
	case event.MemberRemoved:
		if hasRec {
			ev.RaftAddr, ev.APIAddr, ev.Voter = orElse(m.RaftAddr, rec.RaftAddr), rec.APIAddr, rec.Voter
		}
	case event.MemberMoved:
		ev.FromRaftAddr = m.FromRaftAddr
		if hasRec {
			ev.FromRaftAddr = orElse(m.FromRaftAddr, rec.RaftAddr)
			if m.APIAddr != "" && m.APIAddr != rec.APIAddr {
				ev.FromAPIAddr = rec.APIAddr
			}
			ev.Voter = rec.Voter
		}
	}
	e := event.Event{Actor: m.NodeID, Data: ev}
	if err := e.Validate(); err != nil {
		return Result{Err: renderErr(cnverr.Wrap(cnverr.InvalidInput, err, "membership change of %q", m.NodeID))}
	}
	switch m.Change {
	case event.MemberJoined:
		if len(readmit) > 0 {
			a.readmit(m.NodeID, ev.KeyID)
		}
	case event.MemberPromoted, event.MemberDemoted:
		if hasRec && rec.Voter != ev.Voter {
			rec.Voter = ev.Voter
			a.putNode(rec)
		}
	case event.MemberRemoved:
		a.tombstone(Tombstone{ID: m.NodeID, KeyID: ev.KeyID, RaftAddr: ev.RaftAddr, Index: a.raftIndex, Time: a.now,
			By: m.By, Cause: m.Cause})
		if hasRec {
			must(a.st.DeleteNode(m.NodeID))
			a.w.deleteNode(m.NodeID)
		}
	case event.MemberMoved:
		if hasRec {
			rec.RaftAddr = m.RaftAddr
			if m.APIAddr != "" {
				rec.APIAddr = m.APIAddr
			}
			a.putNode(rec)
		}
	}
	ap := a.appendEvents(e)
	return Result{Time: a.now, LedgerIndex: ap[0].Index, LeafHash: ap[0].LeafHash}
}

// tombstonesOf returns the tombstones of id and of key, if any.
func (a *applier) tombstonesOf(id string, key principal.KeyID) []Tombstone {
	var out []Tombstone
	if t, ok := a.w.removed[id]; ok {
		out = append(out, t)
	}
	if t, ok := a.w.removedKeys[key]; key != "" && ok {
		out = append(out, t)
	}
	return out
}

// tombstone records t under its node id and its key.
func (a *applier) tombstone(t Tombstone) {
	a.w.copyRemoved()
	must(a.st.PutRemovedID(t))
	a.w.removed[t.ID] = t
	if t.KeyID != "" {
		must(a.st.PutRemovedKey(t.KeyID, t))
		a.w.removedKeys[t.KeyID] = t
	}
}

// readmit clears the tombstones of id and of key — only those: a server
// readmitted under its id with a new key leaves its old key tombstoned.
func (a *applier) readmit(id string, key principal.KeyID) {
	a.w.copyRemoved()
	if _, ok := a.w.removed[id]; ok {
		must(a.st.DeleteRemovedID(id))
		delete(a.w.removed, id)
	}
	if _, ok := a.w.removedKeys[key]; key != "" && ok {
		must(a.st.DeleteRemovedKey(key))
		delete(a.w.removedKeys, key)
	}
}

func (a *applier) putNode(n Node) {
	must(a.st.PutNode(n))
	a.w.putNode(n)
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
