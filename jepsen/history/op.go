package history

import "time"

// Outcome is what a client knows about an operation once it completed.
type Outcome string

// Outcomes. Unknown means the operation may or may not have taken effect
// (timeout, connection lost, 5xx): checkers treat it as "may have happened".
const (
	OK      Outcome = "ok"
	Fail    Outcome = "fail"
	Unknown Outcome = "unknown"
)

// Kind names an operation type.
type Kind string

// Operation kinds.
const (
	// Append invokes a capability with a unique correlation id (Value); an
	// ok append carries the ledger index it was acknowledged at.
	Append Kind = "append"
	// Read is a linearizable read of the ledger: its size, and optionally
	// the correlation ids of events [0, size) in order.
	Read Kind = "read"
	// Invoke invokes a capability through a delegation chain whose counted
	// link is Key.
	Invoke Kind = "invoke"
	// Revoke revokes the link Key.
	Revoke Kind = "revoke"
	// LinkRead is a linearizable read of the link Key's state.
	LinkRead Kind = "link-read"
)

// Decision is how an ok Invoke was decided.
type Decision string

// Decisions. DenyOther is a denial for a reason the counter model does not
// track (for example an expired window under a skewed clock).
const (
	Allow       Decision = "allow"
	DenyLimit   Decision = "deny-limit"
	DenyRevoked Decision = "deny-revoked"
	DenyOther   Decision = "deny-other"
)

// Op is one client operation.
type Op struct {
	ID      int     `json:"id"`
	Process int     `json:"process"` // client (worker) number, from 0
	Node    string  `json:"node"`
	Kind    Kind    `json:"kind"`
	Key     string  `json:"key,omitempty"`   // link hash (Invoke, Revoke, LinkRead)
	Value   string  `json:"value,omitempty"` // correlation id (Append)
	Invoke  int64   `json:"invoke"`          // ns since run start
	End     int64   `json:"end"`             // ns since run start
	Outcome Outcome `json:"outcome"`
	Error   string  `json:"error,omitempty"`

	Index    uint64   `json:"index,omitempty"` // ledger index of an ok Append / Invoke / Revoke
	HasIndex bool     `json:"has_index,omitempty"`
	Decision Decision `json:"decision,omitempty"` // ok Invoke
	Reason   string   `json:"reason,omitempty"`
	MaxUses  uint64   `json:"max_uses,omitempty"` // Invoke, LinkRead: the link's limit
	Uses     uint64   `json:"uses,omitempty"`     // ok Invoke: count after charge; LinkRead: count read
	Revoked  bool     `json:"revoked,omitempty"`  // ok LinkRead
	Size     uint64   `json:"size,omitempty"`     // ok Read
	Events   []string `json:"events,omitempty"`   // ok Read: correlation ids of [0, len)
}

// Latency is the operation's duration.
func (o *Op) Latency() time.Duration { return time.Duration(o.End - o.Invoke) }

// Fault is one nemesis interval: a fault that was active from Start to End
// (End is 0 while still active, and set when the run ends).
type Fault struct {
	Nemesis string `json:"nemesis"`
	Detail  string `json:"detail"`
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
}

// NodeState is one node's ledger after healing.
type NodeState struct {
	Node  string `json:"node"`
	Size  uint64 `json:"size"`
	Root  string `json:"root"`
	Error string `json:"error,omitempty"` // the node did not answer
	// Damaged: a nemesis damaged this node's files; it may refuse to
	// serve, but must not serve different data.
	Damaged bool `json:"damaged,omitempty"`
	// Verified: the node recomputed every leaf and its root from its store
	// (GET /v1/ledger/verify); VerifyOK, VerifySize and VerifyRoot are
	// what it found.
	Verified   bool   `json:"verified,omitempty"`
	VerifyOK   bool   `json:"verify_ok,omitempty"`
	VerifySize uint64 `json:"verify_size,omitempty"`
	VerifyRoot string `json:"verify_root,omitempty"`
}

// LinkFinal is a link's state read after healing.
type LinkFinal struct {
	Key     string `json:"key"`
	Uses    uint64 `json:"uses"`
	MaxUses uint64 `json:"max_uses"`
	Revoked bool   `json:"revoked"`
}

// Final is what the harness reads once every fault is healed.
type Final struct {
	Ledger []string    `json:"ledger"` // correlation ids of every event, by index ("" if none)
	Nodes  []NodeState `json:"nodes"`
	Links  []LinkFinal `json:"links,omitempty"`
	// Checkpoints maps a checkpointed ledger size to the roots nodes report
	// for it; every root listed for one size must be the same.
	Checkpoints map[uint64][]string `json:"checkpoints,omitempty"`
}

// History is a whole run.
type History struct {
	Scenario string  `json:"scenario"`
	Seed     int64   `json:"seed"`
	Command  string  `json:"command"`
	Start    int64   `json:"start"` // Unix ns of time 0
	Ops      []Op    `json:"ops"`
	Faults   []Fault `json:"faults"`
	Final    *Final  `json:"final,omitempty"`
}
