package gossip

import (
	"bytes"
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"time"

	"github.com/cnv-project/cnv/runtime/limits"
)

// syncLoop fetches newer graph snapshots when prompted (a member advertised
// one) and every GraphSyncInterval, which retries failed fetches.
func (g *Gossip) syncLoop() {
	defer g.wg.Done()
	t := time.NewTicker(g.cfg.GraphSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		case <-g.syncKick:
		}
		g.syncOnce()
	}
}

// syncOnce fetches the newest advertised snapshot from up to
// MaxGossipGraphCandidates members that advertise it.
func (g *Gossip) syncOnce() {
	want, sources := graphSources(g.Members(), g.cfg.NodeID, g.graph.version().index)
	for i, m := range sources {
		if i == limits.MaxGossipGraphCandidates || g.isClosed() {
			return
		}
		g.fetchFrom(m, want)
		if g.graph.version().index >= want.index {
			return
		}
	}
}

// fetchFrom tries Config.Fetch, then a push/pull state exchange with m.
// Whatever arrives is verified against want before it is installed.
func (g *Gossip) fetchFrom(m Member, want graphVersion) {
	if g.cfg.Fetch != nil {
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.FetchTimeout)
		b, err := g.cfg.Fetch(ctx, m)
		cancel()
		if err == nil && g.adoptEncoded(b, want, "fetch from "+m.NodeID) == nil {
			return
		}
		if err != nil {
			g.log.Warn("graph fetch failed", "member", m.NodeID, "error", err)
		}
	}
	if _, err := g.ml.Join([]string{m.GossipAddr}); err != nil {
		g.log.Warn("graph state exchange failed", "member", m.NodeID, "error", err)
	}
}

// graphSources picks the snapshot to fetch, the newest that live members
// advertise above have, and the members to fetch it from, in an order that
// differs per fetching node (rendezvous hashing), so the first members to
// hold a new snapshot are not all asked at once and, as more adopt it,
// fetches spread over edges too rather than loading the servers. When
// members disagree on the hash at the newest index, the version most
// servers advertise wins (then most members, then the smaller hash).
func graphSources(members []Member, self string, have uint64) (graphVersion, []Member) {
	votes := map[graphVersion][2]int{} // servers, all
	var want graphVersion
	for _, m := range members {
		v := m.graph()
		if m.NodeID == self || m.State != StateAlive || !m.Role.Valid() || v.index <= have {
			continue
		}
		c := votes[v]
		c[1]++
		if m.Role == RoleServer {
			c[0]++
		}
		votes[v] = c
		if better(v, c, want, votes[want]) {
			want = v
		}
	}
	if want.index == 0 {
		return want, nil
	}
	return want, orderSources(members, self, want)
}

// better reports whether version a (with its votes) beats b.
func better(a graphVersion, av [2]int, b graphVersion, bv [2]int) bool {
	if c := cmp.Compare(a.index, b.index); c != 0 {
		return c > 0
	}
	if c := cmp.Compare(av[0], bv[0]); c != 0 {
		return c > 0
	}
	if c := cmp.Compare(av[1], bv[1]); c != 0 {
		return c > 0
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}

func orderSources(members []Member, self string, want graphVersion) []Member {
	var out []Member
	for _, m := range members {
		if m.NodeID != self && m.State == StateAlive && m.Role.Valid() && m.graph() == want {
			out = append(out, m)
		}
	}
	rank := func(m Member) uint64 {
		h := fnv.New64a()
		h.Write([]byte(self))
		h.Write([]byte{0})
		h.Write([]byte(m.NodeID))
		return h.Sum64()
	}
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a.NodeID, b.NodeID))
	})
	return out
}
