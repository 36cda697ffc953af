package fsm

import (
	"errors"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Result is the outcome of one command. Err set means the command was
// rejected and changed nothing (nothing was ledgered); otherwise the
// decision was ledgered at LedgerIndex.
type Result struct {
	Err       *cnverr.Error `json:"error,omitempty"`
	Duplicate bool          `json:"duplicate,omitempty"`

	Decision    policy.Decision  `json:"decision,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	Policy      policy.Result    `json:"policy"`
	LedgerIndex uint64           `json:"ledger_index"`
	LeafHash    ledger.Hash      `json:"leaf_hash,omitempty"`
	Time        int64            `json:"time"`
	UseCounts   []event.UseCount `json:"use_counts,omitempty"`
	// Leased is the block a hot-path lease granted (KindHotLease).
	Leased uint64 `json:"leased,omitempty"`

	// What a certificate for this decision states, taken from the state
	// at commit time.
	Capability capability.Ref        `json:"capability"`
	Effects    []capability.Metadata `json:"effects,omitempty"`
	Input      *capability.Schema    `json:"input,omitempty"`
	Output     *capability.Schema    `json:"output,omitempty"`
	Judged     principal.Principal   `json:"judged"`
	Invoker    principal.KeyID       `json:"invoker"`
	Tenant     string                `json:"tenant"`
	Chain      []string              `json:"chain,omitempty"`
	// CorrelationID is the invocation's correlation id.
	CorrelationID string `json:"correlation_id,omitempty"`

	// Event is the decision's ledger event as stored and Canonical its
	// canonical encoding (the leaf), from which the answer's certificate
	// or receipt is made. Only the applying node's result holds them; they
	// are never replicated. Read them, never modify them.
	Event     *event.Event `json:"-"`
	Canonical []byte       `json:"-"`
}

// Allowed reports whether the command was applied and allowed.
func (r *Result) Allowed() bool { return r.Err == nil && r.Decision == policy.Allow }

func renderErr(err error) *cnverr.Error {
	var e *cnverr.Error
	if errors.As(err, &e) {
		return &cnverr.Error{Kind: e.Kind, Message: err.Error(), Details: e.Details}
	}
	return &cnverr.Error{Kind: cnverr.InternalError, Message: err.Error()}
}

func errResult(kind cnverr.Kind, format string, args ...any) Result {
	return Result{Err: cnverr.New(kind, format, args...)}
}
