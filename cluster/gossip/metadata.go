package gossip

import (
	"bytes"
	"sync"
	"time"
)

// localMeta is this node's current metadata encoding.
type localMeta struct {
	mu      sync.Mutex
	enc     []byte
	leaving bool
}

func (l *localMeta) setLeaving() {
	l.mu.Lock()
	l.leaving = true
	l.mu.Unlock()
}

func (l *localMeta) isLeaving() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leaving
}

func (l *localMeta) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.enc
}

// refreshMeta re-encodes the local metadata and reports whether it changed.
func (g *Gossip) refreshMeta() bool {
	g.meta.mu.Lock()
	defer g.meta.mu.Unlock()
	v := g.graph.version()
	m := Meta{
		Version: metaVersion, NodeID: g.cfg.NodeID, Role: g.cfg.Role,
		RaftAddr: g.cfg.RaftAddr, APIAddr: g.cfg.APIAddr,
		Applied: g.applied.Load(), GraphIndex: v.index, GraphHash: v.raw(),
		Leaving: g.meta.leaving, Proof: g.cfg.Proof, KeyID: g.cfg.KeyID,
	}
	enc, err := EncodeMeta(&m)
	if err != nil {
		// Config validation bounds every field, so this is a bug.
		g.log.Error("cannot encode metadata", "error", err)
		return false
	}
	if bytes.Equal(enc, g.meta.enc) {
		return false
	}
	g.meta.enc = enc
	return true
}

// metaLoop broadcasts metadata changes: graph changes at once, applied
// index changes at most once per MetaInterval.
func (g *Gossip) metaLoop() {
	defer g.wg.Done()
	var last time.Time
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-g.metaKick:
		case <-g.urgentKick:
		}
		if !g.waitMetaInterval(last) {
			return
		}
		last = time.Now()
		g.broadcastMeta()
	}
}

// waitMetaInterval waits out the rest of MetaInterval since last unless an
// urgent change arrives. It returns false on shutdown.
func (g *Gossip) waitMetaInterval(last time.Time) bool {
	wait := g.cfg.MetaInterval - time.Since(last)
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-g.ctx.Done():
		return false
	case <-t.C:
	case <-g.urgentKick:
	}
	return true
}

func (g *Gossip) broadcastMeta() {
	g.leaveMu.Lock()
	defer g.leaveMu.Unlock()
	// After Leave nothing more is announced (memberlist also drops alive
	// messages about itself once it has left).
	if g.isClosed() || g.meta.isLeaving() || !g.refreshMeta() {
		return
	}
	// UpdateNode queues an alive broadcast and then waits for it to finish
	// its retransmits. This loop does not wait (the shortest timeout):
	// memberlist replaces a queued broadcast about this node with a newer
	// one, and waiting would hold back the next change by seconds when the
	// queue is busy. The only error UpdateNode reports besides the timeout
	// is metadata over the size limit, which EncodeMeta already rules out.
	_ = g.ml.UpdateNode(time.Nanosecond)
}
