package cluster

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Outcome is one invocation's answer: the committed result and, for a
// ledgered decision, its ledger certificate (allowed) or receipt. Err set
// means the invocation was rejected and nothing was applied.
type Outcome struct {
	RequestID string
	Result    fsm.Result
	// Answer is the ledger certificate (allow) or receipt with its proof.
	Answer *certificate.Answer
	Err    *cnverr.Error
}

// Invoke authenticates a signed batch, proposes its invocations as one
// group and answers each with its outcome. Only the leader invokes; a
// follower gets ErrNotLeader (the forward layer relays the request). A
// whole-request error (bad signature, unknown key, malformed batch) means
// nothing was proposed.
func (n *Node) Invoke(ctx context.Context, s *invocation.Signed) ([]Outcome, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	view := n.fsm.View()
	lookup := func(k principal.KeyID) (ed25519.PublicKey, bool) {
		p, ok := view.Principal(k)
		return p.PublicKey, ok
	}
	batch, err := s.Open(lookup, n.vcache)
	if err != nil {
		return nil, err
	}
	outs := make([]Outcome, len(batch.Invocations))
	cmds := make([]fsm.Command, 0, len(outs))
	slots := make([]int, 0, len(outs))
	for i := range batch.Invocations {
		inv := batch.Invocations[i]
		outs[i].RequestID = inv.RequestID
		cmd, err := n.prepare(view, batch.Invoker, inv)
		if err != nil {
			outs[i].Err = render(err)
			continue
		}
		cmds = append(cmds, cmd)
		slots = append(slots, i)
	}
	if len(cmds) == 0 {
		return outs, nil
	}
	results, index, err := n.props.submit(ctx, cmds)
	if err != nil {
		return nil, err
	}
	for j, res := range results {
		n.finish(&outs[slots[j]], index, res)
	}
	return outs, nil
}

// prepare checks what does not need the committed state — the capability
// exists, the links decode, verify and chain to the invoker — and builds
// the command.
func (n *Node) prepare(view *fsm.View, invoker principal.KeyID, inv invocation.Invocation) (fsm.Command, error) {
	ref, err := inv.Ref()
	if err != nil {
		return fsm.Command{}, err
	}
	if _, ok := view.Capability(ref); !ok {
		return fsm.Command{}, cnverr.New(cnverr.CommandNotFound, "capability %s is not registered", ref)
	}
	links, err := n.links(inv.Chain, invoker)
	if err != nil {
		return fsm.Command{}, err
	}
	inv.Chain = nil
	return fsm.Command{Kind: fsm.KindInvoke, Invoke: &fsm.Invoke{Invoker: invoker, Invocation: inv, Links: links}}, nil
}

// links decodes and verifies a chain's signatures, linkage and narrowing
// (cached by the verifier) and that its last audience is the invoker.
func (n *Node) links(chain [][]byte, invoker principal.KeyID) ([]fsm.Link, error) {
	if len(chain) == 0 {
		return nil, nil
	}
	if len(chain) > limits.MaxChainDepth {
		return nil, cnverr.New(cnverr.InvalidInput, "delegation chain has %d links; at most %d", len(chain), limits.MaxChainDepth)
	}
	decoded := make([]delegation.Link, len(chain))
	for i, raw := range chain {
		l, err := delegation.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("delegation link %d: %w", i, err)
		}
		decoded[i] = l
	}
	if _, err := n.verifier.Prepare(decoded); err != nil {
		return nil, err
	}
	last := decoded[len(decoded)-1].Body()
	if last.AudienceID != invoker {
		return nil, cnverr.New(cnverr.PermissionDenied, "delegation chain ends at %s, not at the invoker %s", last.AudienceID, invoker)
	}
	// Time windows are not checked here: the committed time decides them
	// (a node's own clock may be skewed), and the decision is ledgered.
	// What is refused before Raft is only what fails authentication or
	// shape: signatures, linkage, narrowing, the chain's end.
	out := make([]fsm.Link, len(decoded))
	for i, l := range decoded {
		b := l.Body()
		out[i] = fsm.Link{Hash: l.Hash(), Issuer: b.IssuerID, Audience: b.AudienceID, Constraints: b.Constraints,
			NotBefore: b.NotBefore, NotAfter: b.NotAfter, MaxUses: b.MaxUses}
	}
	return out, nil
}

// finish turns a result committed in the Raft entry at raftIndex into an
// outcome with its proof: the decision's event, its inclusion proof into
// the ledger at the end of that entry (from the entry's batch proofs while
// they are kept, else from the store at its current head) and that head,
// signed once however many outcomes it proves.
func (n *Node) finish(o *Outcome, raftIndex uint64, res fsm.Result) {
	o.Result = res
	if res.Err != nil {
		o.Err = res.Err
		return
	}
	a := &certificate.Answer{RequestID: o.RequestID, Duplicate: res.Duplicate}
	if err := n.prove(a, raftIndex, &res); err != nil {
		o.Err = render(err)
		return
	}
	o.Answer = a
}

func (n *Node) prove(a *certificate.Answer, raftIndex uint64, res *fsm.Result) error {
	if res.Event == nil || res.Canonical == nil {
		return cnverr.New(cnverr.InternalError, "ledger index %d: the result carries no event", res.LedgerIndex)
	}
	var (
		inclusion  [][]byte
		size, idx  = uint64(0), res.LedgerIndex
		root       []byte
		fromMemory bool
	)
	if p, ok := n.fsm.BatchProofs(raftIndex); ok && idx >= p.Begin() && idx < p.Size() {
		pr, err := p.Inclusion(idx)
		if err != nil {
			return err
		}
		inclusion, size, root, fromMemory = pr, p.Size(), p.Root(), true
	}
	if !fromMemory {
		ip, err := n.fsm.Store().InclusionProof(idx, n.fsm.Store().Head().Size)
		if err != nil {
			return err
		}
		size, root = ip.Size, ip.Root
		for _, h := range ip.Proof {
			inclusion = append(inclusion, h)
		}
	}
	h, err := n.heads.sign(size, root)
	if err != nil {
		return err
	}
	return cert.Issue(a, res.Event, res.Canonical, inclusion, h)
}

func render(err error) *cnverr.Error { return cnverr.Render(err) }
