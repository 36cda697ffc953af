package gossip

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Suffrage is a Raft server's voting status.
type Suffrage string

const (
	// Voter servers vote in elections and count toward the commit quorum.
	Voter Suffrage = "voter"
	// Nonvoter servers receive the log but do not vote.
	Nonvoter Suffrage = "nonvoter"
)

// RaftServer is one entry of the Raft configuration.
type RaftServer struct {
	ID       string   `json:"id"`
	Addr     string   `json:"addr"`
	Suffrage Suffrage `json:"suffrage"`
	// KeyID is the key of the server's node record ("" before it
	// published one).
	KeyID string `json:"key_id,omitempty"`
}

// RaftConfig is what Reconcile needs to know about Raft: the configuration,
// the leader running it, the leader's commit index, and the committed
// removals (tombstones) by node id and by key, each with the Raft index of
// its removal.
type RaftConfig struct {
	Servers     []RaftServer      `json:"servers"`
	LeaderID    string            `json:"leader_id"`
	CommitIndex uint64            `json:"commit_index"`
	RemovedIDs  map[string]uint64 `json:"removed_ids,omitempty"`
	RemovedKeys map[string]uint64 `json:"removed_keys,omitempty"`
}

// Policy tunes Reconcile.
type Policy struct {
	// MaxLag is how many entries behind the commit index a non-voter may be
	// and still count as caught up.
	MaxLag uint64 `json:"max_lag"`
	// StabilizationTime is how long a non-voter must stay alive and caught
	// up before it is promoted.
	StabilizationTime time.Duration `json:"stabilization_time"`
	// DeadServerTimeout is how long a server must be dead, left or unknown
	// to gossip before it is removed from the configuration.
	DeadServerTimeout time.Duration `json:"dead_server_timeout"`
	// ReportDelay is how old a gossiped applied index may be (the metadata
	// interval plus gossip propagation). A member's applied index is
	// compared with the commit index of ReportDelay ago, so under steady
	// writes a caught-up follower is not judged by the entries committed
	// since it reported.
	ReportDelay time.Duration `json:"report_delay"`
}

// DefaultPolicy is Consul's autopilot defaults for lag and stabilization,
// and a removal delay longer than a reboot, so a restarting server keeps
// its vote.
func DefaultPolicy() Policy {
	return Policy{MaxLag: 250, StabilizationTime: 10 * time.Second, DeadServerTimeout: 5 * time.Minute,
		ReportDelay: 3 * time.Second}
}

// State is what Reconcile remembers between rounds: since when each server
// of the configuration has been healthy or dead. It is plain data: the
// caller keeps it and passes it to every round. The zero value is ready.
type State struct {
	Servers map[string]ServerState `json:"servers"`
	// Commits samples the commit index over the last ReportDelay.
	Commits []CommitSample `json:"commits,omitempty"`
}

// CommitSample is the commit index seen at a time.
type CommitSample struct {
	At    time.Time `json:"at"`
	Index uint64    `json:"index"`
}

// ServerState is one server's timers; a zero time means "not now".
type ServerState struct {
	HealthySince time.Time `json:"healthy_since,omitzero"`
	DeadSince    time.Time `json:"dead_since,omitzero"`
}

// ActionKind is a Raft configuration change.
type ActionKind string

const (
	// ActionAddNonvoter: raft.AddNonvoter(ID, Addr).
	ActionAddNonvoter ActionKind = "add_nonvoter"
	// ActionPromote: raft.AddVoter(ID, Addr) for a server already present.
	ActionPromote ActionKind = "promote"
	// ActionRemove: raft.RemoveServer(ID).
	ActionRemove ActionKind = "remove"
	// ActionRefuse changes nothing: a server gossip reports is not added
	// (or not counted as the member it names), for Refusal; the leader
	// logs it.
	ActionRefuse ActionKind = "refuse"
)

// Why autopilot refuses a server it hears of (Action.Refusal).
const (
	// RefusedRemoved: the server's id or key was removed (tombstoned).
	RefusedRemoved = "removed"
	// RefusedDuplicateID: it gossips a member's id with another Raft
	// address or another key.
	RefusedDuplicateID = "duplicate_id"
	// RefusedDuplicateKey: it claims another member's key.
	RefusedDuplicateKey = "duplicate_key"
	// RefusedDuplicateAddr: another member has its Raft address.
	RefusedDuplicateAddr = "duplicate_addr"
	// RefusedMoved: a member (same id and key) advertises a new Raft
	// address; an operator moves it (cnv-node cluster move-member).
	RefusedMoved = "moved"
)

// Action is one configuration change Reconcile proposes; the leader applies
// them in order.
type Action struct {
	Kind   ActionKind `json:"kind"`
	ID     string     `json:"id"`
	Addr   string     `json:"addr,omitempty"`
	Reason string     `json:"reason"`
	// Refusal is why an ActionRefuse refuses (Refused*).
	Refusal string `json:"refusal,omitempty"`
	// KeyID is the key an added server claims in gossip.
	KeyID string `json:"key_id,omitempty"`
}

// Reconcile is the autopilot: from the Raft configuration, the gossip
// members and the remembered timers it proposes configuration changes.
// It is pure and deterministic: time is an argument and st is the only
// thing it modifies.
//
//   - A live server member that is not in the configuration is added as a
//     non-voter, unless its id or the key it claims was removed
//     (RemovedIDs, RemovedKeys), or a member holds its Raft address or
//     its key: those are refused (ActionRefuse). Edge members never enter
//     Raft.
//   - A live server member gossiping a configured id with another Raft
//     address or another key is refused, and does not count as that
//     member: the member is neither alive nor dead for the timers below
//     (so an impostor can neither keep it alive nor get it removed). The
//     same id and key at a new address is refused as moved.
//   - A non-voter is promoted once it has been alive and within MaxLag of
//     the commit index for StabilizationTime.
//   - A server that has been dead, left or unknown to gossip for
//     DeadServerTimeout is removed, at most one per round, never the
//     leader, and a voter only if the voters still alive form a quorum of
//     the configured voters. Non-voters go first.
//
// Timers are updated on every call; actions are proposed only when the
// configuration names a leader that is one of its servers.
func Reconcile(cfg RaftConfig, members []Member, st *State, now time.Time, p Policy) []Action {
	v := newView(cfg, members)
	v.ref = st.sampleCommit(now, cfg.CommitIndex, p.ReportDelay)
	st.observe(v, now, p)
	if _, ok := v.config[cfg.LeaderID]; !ok {
		return nil
	}
	acts := v.additions()
	acts = append(acts, v.promotions(st, now, p)...)
	if a, ok := v.removal(st, now, p); ok {
		acts = append(acts, a)
	}
	return acts
}

// view indexes one round's inputs.
type view struct {
	cfg     RaftConfig
	servers []RaftServer // sorted by ID
	config  map[string]RaftServer
	members map[string]Member
	ids     []string // member ids, sorted
	ref     uint64   // commit index applied indexes are compared with
}

func newView(cfg RaftConfig, members []Member) *view {
	v := &view{cfg: cfg, config: map[string]RaftServer{}, members: map[string]Member{}}
	for _, s := range cfg.Servers {
		if _, dup := v.config[s.ID]; !dup {
			v.config[s.ID] = s
			v.servers = append(v.servers, s)
		}
	}
	slices.SortFunc(v.servers, func(a, b RaftServer) int { return strings.Compare(a.ID, b.ID) })
	for _, m := range members {
		if _, dup := v.members[m.NodeID]; !dup {
			v.members[m.NodeID] = m
			v.ids = append(v.ids, m.NodeID)
		}
	}
	slices.Sort(v.ids)
	return v
}

// alive reports whether server id is alive in gossip; the leader always is.
func (v *view) alive(id string) bool {
	m, ok := v.members[id]
	return id == v.cfg.LeaderID || ok && v.matches(id) && m.State == StateAlive
}

// dead reports whether server id is dead, left or unknown to gossip.
// Suspect servers, and servers whose gossip name another member claims,
// are neither alive nor dead.
func (v *view) dead(id string) bool {
	m, ok := v.members[id]
	return id != v.cfg.LeaderID && (!ok || v.matches(id) && m.State.Gone())
}

// matches reports whether the gossip member named id is the configured
// server id: the same Raft address, and the same key when both are known.
func (v *view) matches(id string) bool {
	_, conflict := v.conflict(v.config[id], v.members[id])
	return !conflict
}

// conflict says why gossip member m, which names configured server s,
// is not s.
func (v *view) conflict(s RaftServer, m Member) (Action, bool) {
	refuse := func(why, format string, args ...any) (Action, bool) {
		return Action{Kind: ActionRefuse, ID: m.NodeID, Addr: m.RaftAddr, Refusal: why, KeyID: m.KeyID,
			Reason: fmt.Sprintf(format, args...)}, true
	}
	switch {
	case m.RaftAddr == "" || m.Role != RoleServer:
		return Action{}, false // nothing to compare (a member with undecodable metadata)
	case m.RaftAddr != s.Addr && s.KeyID != "" && m.KeyID == s.KeyID:
		return refuse(RefusedMoved, "member %s (key %s) now advertises raft address %s, the configuration has %s: "+
			"move it with `cnv-node cluster move-member %s --raft-addr %s`", s.ID, s.KeyID, m.RaftAddr, s.Addr, s.ID, m.RaftAddr)
	case m.RaftAddr != s.Addr:
		return refuse(RefusedDuplicateID, "a server gossiping id %s at %s (key %s) is not member %s at %s (key %s)",
			m.NodeID, m.RaftAddr, orNone(m.KeyID), s.ID, s.Addr, orNone(s.KeyID))
	case s.KeyID != "" && m.KeyID != "" && m.KeyID != s.KeyID:
		return refuse(RefusedDuplicateID, "a server gossiping id %s at %s claims key %s, member %s's record has key %s: "+
			"a node with a new key is removed and joins again", m.NodeID, m.RaftAddr, m.KeyID, s.ID, s.KeyID)
	}
	return Action{}, false
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// lag is how far server id's applied index trails the reference commit
// index.
func (v *view) lag(id string) uint64 {
	applied := v.members[id].Applied
	if applied >= v.ref {
		return 0
	}
	return v.ref - applied
}

func (v *view) healthy(id string, p Policy) bool {
	return v.alive(id) && v.members[id].Role == RoleServer && v.lag(id) <= p.MaxLag
}

// observe starts and clears the timers and forgets servers that left the
// configuration.
func (st *State) observe(v *view, now time.Time, p Policy) {
	next := make(map[string]ServerState, len(v.servers))
	for _, s := range v.servers {
		ss := st.Servers[s.ID]
		ss.HealthySince = since(ss.HealthySince, v.healthy(s.ID, p), now)
		ss.DeadSince = since(ss.DeadSince, v.dead(s.ID), now)
		next[s.ID] = ss
	}
	st.Servers = next
}

// sampleCommit records the commit index and returns the one to compare
// applied indexes with: the newest sample at least delay old, or the
// oldest kept when none is that old yet (which overstates lag, never
// understates it). Samples closer than delay/16 are coalesced, so at most
// about 17 are kept however often Reconcile runs.
func (st *State) sampleCommit(now time.Time, index uint64, delay time.Duration) uint64 {
	n := len(st.Commits)
	switch {
	case n > 0 && now.Before(st.Commits[n-1].At):
		st.Commits = nil // the clock went back: start over
	case n > 0 && now.Sub(st.Commits[n-1].At) < delay/16:
		st.Commits[n-1].Index = max(st.Commits[n-1].Index, index)
		return st.reference(now, delay)
	}
	st.Commits = append(st.Commits, CommitSample{At: now, Index: index})
	return st.reference(now, delay)
}

func (st *State) reference(now time.Time, delay time.Duration) uint64 {
	cut := now.Add(-delay)
	k := 0
	for i, c := range st.Commits {
		if !c.At.After(cut) {
			k = i
		}
	}
	st.Commits = st.Commits[k:]
	return st.Commits[0].Index
}

func since(t time.Time, cond bool, now time.Time) time.Time {
	switch {
	case !cond:
		return time.Time{}
	case t.IsZero():
		return now
	}
	return t
}

// additions proposes every live server member outside the configuration
// and refuses those that were removed or collide with a member (its id,
// Raft address or key).
func (v *view) additions() []Action {
	var out []Action
	for _, id := range v.ids {
		m := v.members[id]
		if m.Role != RoleServer || m.State != StateAlive || m.RaftAddr == "" {
			continue
		}
		if s, in := v.config[id]; in {
			if a, bad := v.conflict(s, m); bad {
				out = append(out, a)
			}
			continue
		}
		if a, bad := v.refuseNew(m); bad {
			out = append(out, a)
			continue
		}
		out = append(out, Action{Kind: ActionAddNonvoter, ID: id, Addr: m.RaftAddr, KeyID: m.KeyID,
			Reason: "live server member not in the raft configuration"})
	}
	return out
}

// refuseNew says why a server outside the configuration is not added.
func (v *view) refuseNew(m Member) (Action, bool) {
	refuse := func(why, format string, args ...any) (Action, bool) {
		return Action{Kind: ActionRefuse, ID: m.NodeID, Addr: m.RaftAddr, Refusal: why, KeyID: m.KeyID,
			Reason: fmt.Sprintf(format, args...)}, true
	}
	if idx, ok := v.cfg.RemovedIDs[m.NodeID]; ok {
		return refuse(RefusedRemoved, "server %s was removed at raft index %d; autopilot does not add it back: "+
			"join it explicitly (`cnv-node cluster join --addr %s MEMBER`)", m.NodeID, idx, orNone(m.APIAddr))
	}
	if idx, ok := v.cfg.RemovedKeys[m.KeyID]; m.KeyID != "" && ok {
		return refuse(RefusedRemoved, "server %s claims key %s, removed at raft index %d; autopilot does not add it back: "+
			"join it explicitly (`cnv-node cluster join --addr %s MEMBER`)", m.NodeID, m.KeyID, idx, orNone(m.APIAddr))
	}
	for _, s := range v.servers {
		switch {
		case s.Addr == m.RaftAddr:
			return refuse(RefusedDuplicateAddr, "server %s advertises raft address %s, which is member %s's", m.NodeID, m.RaftAddr, s.ID)
		case m.KeyID != "" && s.KeyID == m.KeyID:
			return refuse(RefusedDuplicateKey, "server %s at %s claims key %s, which is member %s's (at %s)", m.NodeID, m.RaftAddr, m.KeyID, s.ID, s.Addr)
		}
	}
	return Action{}, false
}

// promotions proposes every non-voter healthy for StabilizationTime.
func (v *view) promotions(st *State, now time.Time, p Policy) []Action {
	var out []Action
	for _, s := range v.servers {
		h := st.Servers[s.ID].HealthySince
		if _, removed := v.cfg.RemovedIDs[s.ID]; removed || s.Suffrage != Nonvoter || h.IsZero() || now.Sub(h) < p.StabilizationTime {
			continue
		}
		out = append(out, Action{Kind: ActionPromote, ID: s.ID, Addr: s.Addr,
			Reason: fmt.Sprintf("caught up (lag %d <= %d) and healthy for %v", v.lag(s.ID), p.MaxLag, now.Sub(h))})
	}
	return out
}

// removal picks at most one server dead for DeadServerTimeout: non-voters
// first, then voters while the live voters keep a quorum.
func (v *view) removal(st *State, now time.Time, p Policy) (Action, bool) {
	voters, live := 0, 0
	for _, s := range v.servers {
		if s.Suffrage == Voter {
			voters++
			if v.alive(s.ID) {
				live++
			}
		}
	}
	quorum := voters/2 + 1
	var pick *RaftServer
	for i, s := range v.servers {
		d := st.Servers[s.ID].DeadSince
		if s.ID == v.cfg.LeaderID || d.IsZero() || now.Sub(d) < p.DeadServerTimeout {
			continue
		}
		if s.Suffrage == Voter && live < quorum {
			continue
		}
		if pick == nil || pick.Suffrage == Voter && s.Suffrage != Voter {
			pick = &v.servers[i]
		}
	}
	if pick == nil {
		return Action{}, false
	}
	d := st.Servers[pick.ID].DeadSince
	return Action{Kind: ActionRemove, ID: pick.ID, Addr: pick.Addr,
		Reason: fmt.Sprintf("%s dead for %v; %d of %d voters alive (quorum %d)", pick.Suffrage, now.Sub(d), live, voters, quorum)}, true
}
