package gossip

import (
	"crypto/sha256"
	"fmt"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// exchangeVersion is the layout version of exchange.
const exchangeVersion = 1

// exchange is what a member sends in a memberlist push/pull: the version of
// its graph snapshot and, on joins when it holds the newest snapshot it
// knows of and the snapshot fits, the snapshot itself.
type exchange struct {
	Version  uint8  `json:"v"`
	Index    uint64 `json:"gi,omitempty"`
	Hash     []byte `json:"gh,omitempty"`
	Snapshot []byte `json:"s,omitempty"`
}

// exchangeOverhead bounds the encoding of an exchange beyond its snapshot.
const exchangeOverhead = 128

func decodeExchange(b []byte) (exchange, error) {
	var x exchange
	if err := codec.UnmarshalLimit(b, limits.MaxGossipStateBytes, &x); err != nil {
		return exchange{}, fmt.Errorf("%w: %v", ErrInvalidState, err)
	}
	switch {
	case x.Version != exchangeVersion:
		return exchange{}, fmt.Errorf("%w: version %d, want %d", ErrInvalidState, x.Version, exchangeVersion)
	case len(x.Hash) != 0 && len(x.Hash) != sha256.Size:
		return exchange{}, fmt.Errorf("%w: graph hash of %d bytes", ErrInvalidState, len(x.Hash))
	case (x.Index == 0) != (len(x.Hash) == 0):
		return exchange{}, fmt.Errorf("%w: graph index %d with %d hash bytes", ErrInvalidState, x.Index, len(x.Hash))
	case x.Index == 0 && len(x.Snapshot) != 0:
		return exchange{}, fmt.Errorf("%w: snapshot without a version", ErrInvalidState)
	}
	return x, nil
}

// localState is this node's side of a push/pull.
func (g *Gossip) localState(join bool) []byte {
	x := exchange{Version: exchangeVersion}
	if cur := g.graph.cur.Load(); cur != nil {
		x.Index, x.Hash = cur.v.index, cur.v.raw()
		if join && len(cur.enc)+exchangeOverhead <= limits.MaxGossipStateBytes && !g.newerAdvertised(cur.v.index) {
			x.Snapshot = cur.enc
		}
	}
	return codec.MustMarshal(&x)
}

// mergeState handles a peer's side of a push/pull: a carried snapshot that
// is newer and advertised by some member is verified and installed; a
// newer version without one prompts the sync loop to fetch it.
func (g *Gossip) mergeState(buf []byte) {
	x, err := decodeExchange(buf)
	if err != nil {
		g.log.Warn("push/pull state rejected", "error", err)
		return
	}
	if x.Index <= g.graph.version().index {
		return
	}
	want := versionOf(x.Index, x.Hash)
	switch {
	case len(x.Snapshot) == 0:
	case !g.advertised(want):
		g.log.Warn("graph snapshot rejected: no member advertises it", "index", want.index, "hash", want.hex())
	default:
		if g.adoptEncoded(x.Snapshot, want, "state exchange") == nil {
			return
		}
	}
	kick(g.syncKick)
}

// advertised reports whether a live member advertises version v.
func (g *Gossip) advertised(v graphVersion) bool {
	for _, m := range g.Members() {
		if !m.State.Gone() && m.graph() == v {
			return true
		}
	}
	return false
}

// newerAdvertised reports whether a live member advertises a snapshot newer
// than index.
func (g *Gossip) newerAdvertised(index uint64) bool {
	for _, m := range g.Members() {
		if !m.State.Gone() && m.GraphIndex > index {
			return true
		}
	}
	return false
}
