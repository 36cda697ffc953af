package gossip

import "github.com/hashicorp/memberlist"

// delegate adapts Gossip to memberlist's callbacks. memberlist may call it
// before New returns, so it never touches Gossip.ml.
type delegate struct{ g *Gossip }

var (
	_ memberlist.Delegate      = (*delegate)(nil)
	_ memberlist.EventDelegate = (*delegate)(nil)
	_ memberlist.MergeDelegate = (*delegate)(nil)
)

// NodeMeta returns the local metadata; EncodeMeta keeps it within
// memberlist.MetaMaxSize.
func (d *delegate) NodeMeta(limit int) []byte { return d.g.meta.bytes() }

// NotifyMsg ignores user messages: cnv sends none.
func (d *delegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to add: everything rides in metadata.
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }

func (d *delegate) LocalState(join bool) []byte { return d.g.localState(join) }

func (d *delegate) MergeRemoteState(buf []byte, join bool) { d.g.mergeState(buf) }

func (d *delegate) NotifyJoin(n *memberlist.Node) { d.g.observeAlive(n) }

func (d *delegate) NotifyUpdate(n *memberlist.Node) { d.g.observeAlive(n) }

func (d *delegate) NotifyLeave(n *memberlist.Node) { d.g.observeGone(n) }

// NotifyMerge never vetoes a merge; it reads the peer's view of who is
// suspect.
func (d *delegate) NotifyMerge(peers []*memberlist.Node) error {
	d.g.observePeers(peers)
	return nil
}

func (g *Gossip) observeAlive(n *memberlist.Node) {
	m, err := memberOf(n)
	if err != nil {
		g.log.Warn("member metadata rejected", "member", n.Name, "error", err)
	}
	ev := g.table.alive(m, g.cfg.Clock.Now())
	m, _ = g.table.get(m.NodeID)
	g.emit(Event{Type: ev, Member: m})
	if m.NodeID != g.cfg.NodeID && m.GraphIndex > g.graph.version().index {
		kick(g.syncKick)
	}
}

func (g *Gossip) observeGone(n *memberlist.Node) {
	m, err := memberOf(n)
	if err != nil {
		g.log.Debug("departed member's metadata rejected", "member", n.Name, "error", err)
	}
	m = g.table.gone(m, g.cfg.Clock.Now())
	g.log.Info("member gone", "member", m.NodeID, "state", m.State)
	g.emit(Event{Type: EventLeave, Member: m})
}

func (g *Gossip) observePeers(peers []*memberlist.Node) {
	for _, m := range g.table.peerView(peers, g.cfg.NodeID, g.cfg.Clock.Now()) {
		g.emit(Event{Type: EventUpdate, Member: m})
	}
}
