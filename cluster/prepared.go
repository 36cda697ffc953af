package cluster

import (
	"context"
	"crypto/ed25519"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Prepared requests: spreading the write path.
//
// Any node can check what does not depend on the committed state: a
// batch's signature under the invoker's key (a key ID names one public
// key, so every node's answer is the same), the delegation links'
// signatures and linkage. The node a client reached does that and hands
// the leader only commands, many requests per message (package forward);
// the leader orders, applies and signs. Everything that depends on the
// state — is the key registered, is the capability, is a link revoked,
// what does the policy say — is decided by the FSM at apply, on every
// replica, as for a request the leader prepared itself. A member is
// trusted with this as it is trusted to lead.

// Prepared is a signed batch authenticated by the node that received it,
// as the leader's commands.
type Prepared struct {
	RequestIDs []string      `json:"request_ids"`
	Commands   []fsm.Command `json:"commands"`
}

// PreparedAnswer is the leader's answer to a message of prepared
// requests: each request's outcomes, in order.
type PreparedAnswer struct {
	Node     string                 `json:"node"`
	Outcomes [][]certificate.Answer `json:"outcomes"`
}

// Prepare authenticates s against this node's view and prepares every
// invocation. Any error means the batch could not be prepared here — a key
// or capability this node has not applied yet included — and the request
// goes to the leader as it came.
func (n *Node) Prepare(s *invocation.Signed) (Prepared, error) {
	view := n.fsm.View()
	lookup := func(k principal.KeyID) (ed25519.PublicKey, bool) {
		p, ok := view.Principal(k)
		return p.PublicKey, ok
	}
	batch, err := s.Open(lookup, n.vcache)
	if err != nil {
		return Prepared{}, err
	}
	p := Prepared{RequestIDs: make([]string, 0, len(batch.Invocations)), Commands: make([]fsm.Command, 0, len(batch.Invocations))}
	for _, inv := range batch.Invocations {
		cmd, err := n.prepare(view, batch.Invoker, inv)
		if err != nil {
			return Prepared{}, err
		}
		p.RequestIDs = append(p.RequestIDs, inv.RequestID)
		p.Commands = append(p.Commands, cmd)
	}
	return p, nil
}

// InvokePrepared proposes prepared requests from members as one group and
// answers each request's outcomes. Only the leader invokes; the commands
// must be invocations, one per request id.
func (n *Node) InvokePrepared(ctx context.Context, reqs []Prepared) ([][]Outcome, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	if len(reqs) == 0 || len(reqs) > limits.MaxPreparedRequests {
		return nil, cnverr.New(cnverr.InvalidInput, "%d prepared requests in one message, want 1 to %d", len(reqs), limits.MaxPreparedRequests)
	}
	total := 0
	for i := range reqs {
		r := &reqs[i]
		if len(r.Commands) == 0 || len(r.Commands) != len(r.RequestIDs) {
			return nil, cnverr.New(cnverr.InvalidInput, "prepared request %d: %d commands for %d request ids", i, len(r.Commands), len(r.RequestIDs))
		}
		for j := range r.Commands {
			c := &r.Commands[j]
			if c.Kind != fsm.KindInvoke || c.Invoke == nil || c.Invoke.Invoker == "" || c.Invoke.Invocation.RequestID != r.RequestIDs[j] {
				return nil, cnverr.New(cnverr.InvalidInput, "prepared request %d: command %d is not an invocation of request %q", i, j, r.RequestIDs[j])
			}
		}
		total += len(r.Commands)
	}
	if total > limits.MaxPreparedCommands {
		return nil, cnverr.New(cnverr.TooLarge, "%d prepared commands in one message, limit %d", total, limits.MaxPreparedCommands)
	}
	cmds := make([]fsm.Command, 0, total)
	for i := range reqs {
		cmds = append(cmds, reqs[i].Commands...)
	}
	results, index, err := n.props.submit(ctx, cmds)
	if err != nil {
		return nil, err
	}
	out := make([][]Outcome, len(reqs))
	k := 0
	for i := range reqs {
		out[i] = make([]Outcome, len(reqs[i].Commands))
		for j := range out[i] {
			out[i][j].RequestID = reqs[i].RequestIDs[j]
			n.finish(&out[i][j], index, results[k])
			k++
		}
	}
	return out, nil
}
