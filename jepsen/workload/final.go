package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/jepsen/history"
)

// ReadFinal waits up to settle for every node to report the same ledger
// size and root with nothing left to apply, then reads every node's
// verify report and checkpoints, the whole ledger (from the first node
// that serves) and the state of every link. Those reads are a consistent
// cut only if nothing was committed while they ran, so the nodes' status
// is read again afterwards; if it moved (a late membership record, a
// write still in flight), the whole read is repeated until settle passes.
func ReadFinal(ctx context.Context, s *Setup, nodes Nodes, settle time.Duration) (*history.Final, string) {
	deadline := time.Now().Add(settle)
	for {
		f, unsettled := readFinalOnce(ctx, s, nodes, time.Until(deadline))
		if unsettled != "" || time.Now().After(deadline) || ctx.Err() != nil {
			return f, unsettled
		}
		after, why := poll(ctx, s.Admin, nodes)
		if why == "" && sameStates(f.Nodes, after) {
			return f, ""
		}
		time.Sleep(200 * time.Millisecond) // polling interval while waiting for agreement
	}
}

func readFinalOnce(ctx context.Context, s *Setup, nodes Nodes, settle time.Duration) (*history.Final, string) {
	states, unsettled := converge(ctx, s.Admin, nodes, settle)
	f := &history.Final{Nodes: states, Checkpoints: map[uint64][]string{}}
	for i := range states {
		if states[i].Error == "" {
			verify(ctx, s.Admin, nodes.Addr(states[i].Node), &states[i])
			checkpoints(ctx, s.Admin, nodes.Addr(states[i].Node), f.Checkpoints)
		}
	}
	for _, st := range states {
		if st.Error != "" {
			continue
		}
		evs, err := Events(ctx, s.Admin, nodes.Addr(st.Node))
		if err == nil {
			f.Ledger = evs
			break
		}
	}
	for _, l := range s.Links {
		f.Links = append(f.Links, finalLink(ctx, s.Admin, nodes, l))
	}
	return f, unsettled
}

// sameStates reports whether two status reads found every node at the
// same size and root.
func sameStates(a, b []history.NodeState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Node != b[i].Node || a[i].Size != b[i].Size || a[i].Root != b[i].Root || a[i].Error != b[i].Error {
			return false
		}
	}
	return true
}

// verify asks the node to recompute its ledger from its store.
func verify(ctx context.Context, c *client.Client, addr string, ns *history.NodeState) {
	var rep struct {
		OK   bool   `json:"ok"`
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	if err := c.Get(ctx, addr, "/v1/ledger/verify", &rep); err == nil {
		ns.Verified, ns.VerifyOK, ns.VerifySize, ns.VerifyRoot = true, rep.OK, rep.Size, rep.Root
	}
}

// checkpoints adds the node's own checkpoints (a stale, local read) to cps.
func checkpoints(ctx context.Context, c *client.Client, addr string, cps map[uint64][]string) {
	var list []struct {
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	if err := c.Get(ctx, addr, "/v1/ledger/checkpoints?consistency=stale", &list); err != nil {
		return
	}
	for _, cp := range list {
		cps[cp.Size] = append(cps[cp.Size], cp.Root)
	}
}

func finalLink(ctx context.Context, c *client.Client, nodes Nodes, l Link) history.LinkFinal {
	for _, id := range nodes.IDs() {
		st, err := LinkState(ctx, c, nodes.Addr(id), l.Hash)
		if err == nil {
			return history.LinkFinal{Key: l.Hash, Uses: st.Uses, MaxUses: l.MaxUses, Revoked: st.Revoked}
		}
	}
	return history.LinkFinal{Key: l.Hash, MaxUses: l.MaxUses}
}

// converge polls every node until they agree (or settle passes) and
// returns the last states read, and why they did not settle ("" when they
// did).
func converge(ctx context.Context, c *client.Client, nodes Nodes, settle time.Duration) ([]history.NodeState, string) {
	deadline := time.Now().Add(settle)
	for {
		states, why := poll(ctx, c, nodes)
		if why == "" || time.Now().After(deadline) || ctx.Err() != nil {
			return states, why
		}
		time.Sleep(200 * time.Millisecond) // polling interval while waiting for agreement
	}
}

// poll reads every node's status; the reason is "" when they agree: every
// node answers, knows a leader, and reports the same applied index, ledger
// size and root. (The applied index is the state's: it may trail the
// commit index by no-op and barrier entries for good, so the two are not
// compared.)
func poll(ctx context.Context, c *client.Client, nodes Nodes) ([]history.NodeState, string) {
	var states []history.NodeState
	why := ""
	var applied0 uint64
	for _, id := range nodes.IDs() {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Status(sctx, nodes.Addr(id))
		cancel()
		ns := history.NodeState{Node: id, Size: st.LedgerSize, Root: st.LedgerRoot}
		switch {
		case err != nil:
			ns.Error = err.Error()
			why = fmt.Sprintf("%s: %v", id, err)
		case len(states) > 0 && st.AppliedIndex != applied0:
			why = fmt.Sprintf("%s applied %d, %s applied %d", id, st.AppliedIndex, states[0].Node, applied0)
		case st.LeaderID == "":
			why = fmt.Sprintf("%s (%s, term %d) knows no leader", id, st.State, st.Term)
		case len(states) > 0 && (ns.Size != states[0].Size || ns.Root != states[0].Root):
			why = fmt.Sprintf("%s has size %d, %s has %d", id, ns.Size, states[0].Node, states[0].Size)
		}
		if len(states) == 0 {
			applied0 = st.AppliedIndex
		}
		states = append(states, ns)
	}
	return states, why
}

// String describes a node state for logs.
func String(ns history.NodeState) string {
	if ns.Error != "" {
		return fmt.Sprintf("%s: %s", ns.Node, ns.Error)
	}
	return fmt.Sprintf("%s: size %d root %.12s", ns.Node, ns.Size, ns.Root)
}
