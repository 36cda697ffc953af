package event

import (
	"fmt"

	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// MemberChange is what happened to a server's membership.
type MemberChange string

// Membership changes.
const (
	// MemberJoined: the server entered the Raft configuration (as a voter
	// or a non-voter).
	MemberJoined MemberChange = "joined"
	// MemberPromoted: a non-voter became a voter.
	MemberPromoted MemberChange = "promoted"
	// MemberDemoted: a voter became a non-voter.
	MemberDemoted MemberChange = "demoted"
	// MemberRemoved: the server left the configuration; its id and key are
	// tombstoned until an explicit join readmits them.
	MemberRemoved MemberChange = "removed"
	// MemberMoved: the server's Raft (and maybe API) address changed.
	MemberMoved MemberChange = "moved"
)

// MemberChanges lists the five changes.
func MemberChanges() []MemberChange {
	return []MemberChange{MemberJoined, MemberPromoted, MemberDemoted, MemberRemoved, MemberMoved}
}

// Valid reports whether c is one of MemberChanges.
func (c MemberChange) Valid() bool {
	for _, k := range MemberChanges() {
		if c == k {
			return true
		}
	}
	return false
}

// MembershipChanged records a change of the Raft configuration (or of a
// member's address) and who or what caused it. The event's actor is the
// server it is about.
type MembershipChanged struct {
	NodeID string       `json:"node_id"`
	Change MemberChange `json:"change"`
	// KeyID is the server's node key ("" when the leader did not know it:
	// a server that never published its record).
	KeyID    principal.KeyID `json:"key_id,omitempty"`
	RaftAddr string          `json:"raft_addr,omitempty"`
	APIAddr  string          `json:"api_addr,omitempty"`
	// FromRaftAddr and FromAPIAddr are a move's old addresses.
	FromRaftAddr string `json:"from_raft_addr,omitempty"`
	FromAPIAddr  string `json:"from_api_addr,omitempty"`
	// Voter is the server's suffrage after the change.
	Voter bool `json:"voter,omitempty"`
	// Readmitted is the Raft index of the removal a join readmitted (0:
	// the server was not tombstoned).
	Readmitted uint64 `json:"readmitted,omitempty"`
	// By names who or what asked: "autopilot", "token" (a cluster-token
	// holder), "client:NAME" or "node:ID" (a certificate of the cluster's
	// CA), "member" (relayed by a member), "unauthenticated" (a cluster
	// with neither token nor TLS).
	By string `json:"by"`
	// Cause says why, in words: "join request from 127.0.0.1:51234 with
	// the cluster token", "autopilot: nonvoter dead for 2m0s; …".
	Cause string `json:"cause"`
}

// EventType is TypeMembershipChanged.
func (MembershipChanged) EventType() Type { return TypeMembershipChanged }

func (p MembershipChanged) validate() error {
	if !p.Change.Valid() {
		return fmt.Errorf("%w: change %q (want one of %v)", ErrInvalidEvent, p.Change, MemberChanges())
	}
	if p.KeyID != "" && !isKeyID(string(p.KeyID)) {
		return fmt.Errorf("%w: key_id %q is not k_ and 16 lowercase hex digits", ErrInvalidEvent, p.KeyID)
	}
	if p.By == "" || p.Cause == "" {
		return fmt.Errorf("%w: a membership change names who (by) and why (cause)", ErrInvalidEvent)
	}
	if p.Readmitted != 0 && p.Change != MemberJoined {
		return fmt.Errorf("%w: only a join readmits a removed server", ErrInvalidEvent)
	}
	if (p.FromRaftAddr != "" || p.FromAPIAddr != "") != (p.Change == MemberMoved) {
		return fmt.Errorf("%w: from_raft_addr and from_api_addr belong to moves, and a move names one", ErrInvalidEvent)
	}
	return checkAll(checkID("node_id", p.NodeID), checkAddr("raft_addr", p.RaftAddr), checkAddr("api_addr", p.APIAddr),
		checkAddr("from_raft_addr", p.FromRaftAddr), checkAddr("from_api_addr", p.FromAPIAddr),
		checkText("by", p.By), checkText("cause", p.Cause))
}

// isKeyID reports whether s has the form principal.IDOf produces.
func isKeyID(s string) bool {
	if len(s) != 18 || s[:2] != "k_" {
		return false
	}
	for i := 2; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkAddr bounds an address field: printable ASCII without spaces, at
// most limits.MaxGossipAddrLen bytes (what gossip carries too).
func checkAddr(field, s string) error {
	if len(s) > limits.MaxGossipAddrLen {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidEvent, field, len(s), limits.MaxGossipAddrLen)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return fmt.Errorf("%w: %s has a non-printable byte at %d", ErrInvalidEvent, field, i)
		}
	}
	return nil
}
