package gossip

import (
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// MemberState is a member's health as gossip sees it.
type MemberState string

const (
	// StateAlive members answer probes.
	StateAlive MemberState = "alive"
	// StateSuspect members missed this node's probes and may be dead;
	// they still count as members (see suspicion.go for what is visible).
	StateSuspect MemberState = "suspect"
	// StateDead members were declared failed by the failure detector.
	StateDead MemberState = "dead"
	// StateLeft members left gracefully.
	StateLeft MemberState = "left"
)

// Gone reports whether the member is dead or left.
func (s MemberState) Gone() bool { return s == StateDead || s == StateLeft }

// Member is one node as this node's gossip sees it. Role is empty when the
// member's metadata could not be decoded (its other metadata fields are
// empty too).
type Member struct {
	NodeID     string `json:"node_id"`
	Role       Role   `json:"role"`
	GossipAddr string `json:"gossip_addr"`
	RaftAddr   string `json:"raft_addr,omitempty"`
	APIAddr    string `json:"api_addr,omitempty"`
	Applied    uint64 `json:"applied_index"`
	GraphIndex uint64 `json:"graph_index"`
	// GraphHash is the hex hash of the member's graph snapshot, as
	// graph.Snapshot.Hash reports it.
	GraphHash string      `json:"graph_hash,omitempty"`
	State     MemberState `json:"gossip"`
	// Since is when this node first saw the member in its current State.
	Since   time.Time `json:"since"`
	Leaving bool      `json:"leaving,omitempty"`
	// Proof is what the member advertises to be admitted (see Meta.Proof).
	Proof []byte `json:"-"`
	// KeyID is the node key the member claims ("" when it claims none).
	KeyID string `json:"key_id,omitempty"`
}

// graph returns the version the member advertises.
func (m *Member) graph() graphVersion {
	var v graphVersion
	if m.GraphIndex == 0 {
		return v
	}
	b, err := hex.DecodeString(m.GraphHash)
	if err != nil {
		return v
	}
	return versionOf(m.GraphIndex, b)
}

// memberOf builds a Member from a memberlist node. Undecodable metadata
// leaves the member with an empty role and the error to log.
func memberOf(n *memberlist.Node) (Member, error) {
	m := Member{NodeID: n.Name, GossipAddr: n.Address()}
	meta, err := DecodeMeta(n.Meta)
	if err == nil && meta.NodeID != n.Name {
		err = ErrInvalidMeta.With("node_id", meta.NodeID).With("memberlist_name", n.Name)
	}
	if err != nil {
		return m, err
	}
	m.Role, m.RaftAddr, m.APIAddr = meta.Role, meta.RaftAddr, meta.APIAddr
	m.Applied, m.GraphIndex, m.Leaving, m.Proof, m.KeyID = meta.Applied, meta.GraphIndex, meta.Leaving, meta.Proof, string(meta.KeyID)
	if meta.GraphIndex != 0 {
		m.GraphHash = hex.EncodeToString(meta.GraphHash)
	}
	return m, nil
}

// table is this node's record of every member, dead and left ones
// included until they are reaped.
type table struct {
	mu      sync.Mutex
	members map[string]*Member
}

func newTable() *table { return &table{members: make(map[string]*Member)} }

// alive records a join or metadata update. It returns the event to emit.
func (t *table) alive(m Member, now time.Time) EventType {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.members[m.NodeID]
	ev := EventUpdate
	m.State, m.Since = StateAlive, now
	switch {
	case prev == nil || prev.State.Gone():
		ev = EventJoin
	case prev.State == StateAlive:
		m.Since = prev.Since
	}
	t.members[m.NodeID] = &m
	return ev
}

// gone records a failure or a graceful leave: left when the member said it
// was leaving, dead otherwise.
func (t *table) gone(m Member, now time.Time) Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev := t.members[m.NodeID]; prev != nil {
		leaving := m.Leaving || prev.Leaving
		if m.Role == "" {
			m = *prev
		}
		m.Leaving = leaving
	}
	m.State, m.Since = StateDead, now
	if m.Leaving {
		m.State = StateLeft
	}
	t.members[m.NodeID] = &m
	return m
}

// peerView applies another member's view of the cluster from a push/pull
// exchange: a live member the peer suspects or declared dead becomes
// suspect here (memberlist will suspect it too), and a suspect member the
// peer sees alive is alive again. It returns the members that changed.
func (t *table) peerView(nodes []*memberlist.Node, self string, now time.Time) []Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []Member
	for _, n := range nodes {
		m := t.members[n.Name]
		if m == nil || n.Name == self {
			continue
		}
		next := m.State
		switch {
		case m.State == StateAlive && (n.State == memberlist.StateSuspect || n.State == memberlist.StateDead):
			next = StateSuspect
		case m.State == StateSuspect && n.State == memberlist.StateAlive:
			next = StateAlive
		}
		if next != m.State {
			m.State, m.Since = next, now
			changed = append(changed, *m)
		}
	}
	return changed
}

// setSuspect moves a member from alive to suspect (on) or back (off) and
// returns it when it changed.
func (t *table) setSuspect(id string, on bool, now time.Time) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.members[id]
	from, to := StateAlive, StateSuspect
	if !on {
		from, to = to, from
	}
	if m == nil || m.State != from {
		return Member{}, false
	}
	m.State, m.Since = to, now
	return *m, true
}

// list returns every member sorted by node id, first dropping dead and left
// members older than retention.
func (t *table) list(now time.Time, retention time.Duration) []Member {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Member, 0, len(t.members))
	for id, m := range t.members {
		if m.State.Gone() && now.Sub(m.Since) > retention {
			delete(t.members, id)
			continue
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out
}

// get returns one member.
func (t *table) get(id string) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.members[id]
	if m == nil {
		return Member{}, false
	}
	return *m, true
}
