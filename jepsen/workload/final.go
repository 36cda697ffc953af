package workload

import (
	"context"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/jepsen/history"
	"github.com/cnv-project/cnv/transport/client"
)

// ReadFinal waits up to settle for every node to report the same ledger
// size and root with nothing left to apply, then reads every node's
// state, the whole ledger (from the first node that serves) and the state
// of every link.
func ReadFinal(ctx context.Context, s *Setup, nodes Nodes, settle time.Duration) *history.Final {
	states := converge(ctx, s.Admin, nodes, settle)
	f := &history.Final{Nodes: states}
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
	return f
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
// returns the last states read.
func converge(ctx context.Context, c *client.Client, nodes Nodes, settle time.Duration) []history.NodeState {
	deadline := time.Now().Add(settle)
	for {
		states, agreed := poll(ctx, c, nodes)
		if agreed || time.Now().After(deadline) || ctx.Err() != nil {
			return states
		}
		time.Sleep(200 * time.Millisecond) // polling interval while waiting for agreement
	}
}

func poll(ctx context.Context, c *client.Client, nodes Nodes) ([]history.NodeState, bool) {
	var states []history.NodeState
	agreed := true
	for _, id := range nodes.IDs() {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := c.Status(sctx, nodes.Addr(id))
		cancel()
		ns := history.NodeState{Node: id, Size: st.LedgerSize, Root: st.LedgerRoot}
		switch {
		case err != nil:
			ns.Error, agreed = err.Error(), false
		case st.AppliedIndex < st.CommitIndex || st.LeaderID == "":
			agreed = false
		}
		if len(states) > 0 && (ns.Size != states[0].Size || ns.Root != states[0].Root) {
			agreed = false
		}
		states = append(states, ns)
	}
	return states, agreed
}

// String describes a node state for logs.
func String(ns history.NodeState) string {
	if ns.Error != "" {
		return fmt.Sprintf("%s: %s", ns.Node, ns.Error)
	}
	return fmt.Sprintf("%s: size %d root %.12s", ns.Node, ns.Size, ns.Root)
}
