package httpapi

import (
	"context"
	"io"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// Node is what the API asks of the server node it serves. *cluster.Node
// implements it. Leader-only methods answer cluster.ErrNotLeader on a
// follower; the handlers then go through the forwarder.
type Node interface {
	ID() string
	Now() time.Time
	Status() cluster.Status
	Members() ([]cluster.Member, error)
	Ready() error
	AppliedIndex() uint64
	Invoke(ctx context.Context, s *invocation.Signed) ([]cluster.Outcome, error)
	Prepare(s *invocation.Signed) (cluster.Prepared, error)
	InvokePrepared(ctx context.Context, reqs []cluster.Prepared) ([][]cluster.Outcome, error)
	AddServer(ctx context.Context, req cluster.JoinRequest) error
	RemoveServer(ctx context.Context, req cluster.RemoveRequest) error
	TransferLeadership(ctx context.Context, to string) (string, error)
	Join(ctx context.Context, members []string) error
	Leave(ctx context.Context, o cluster.Origin) error
	MoveServer(ctx context.Context, req cluster.MoveRequest) error
	RegisterNode(ctx context.Context, sn cluster.SignedNode) error
	HandleProposal(ctx context.Context, sp cluster.SignedProposal) ([]fsm.Result, error)
	ReadIndex(ctx context.Context) (uint64, error)
	Read(ctx context.Context, c cluster.Consistency, minIndex uint64) (uint64, error)
}

// State is the replicated state the API reads. *fsm.FSM implements it.
type State interface {
	View() *fsm.View
	LinkStateOf(h delegation.Hash) (fsm.LinkState, bool, error)
}

// Ledger is the ledger the API reads. *ledger.Store implements it.
type Ledger interface {
	Head() ledger.Head
	Query(q ledger.Query) (*ledger.Page, error)
	Event(i uint64) (event.Event, error)
	InclusionProof(index, size uint64) (*ledger.InclusionProof, error)
	ConsistencyProof(from, to uint64) (*ledger.ConsistencyProof, error)
	Checkpoints() ([]ledger.CheckpointRecord, error)
	Verify(opts ledger.VerifyOptions) (*ledger.VerifyReport, error)
	Export(w io.Writer, from, to uint64) (uint64, error)
}

var (
	_ Node   = (*cluster.Node)(nil)
	_ State  = (*fsm.FSM)(nil)
	_ Ledger = (*ledger.Store)(nil)
)
