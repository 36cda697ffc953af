package fsm

import (
	"crypto/sha256"
	"fmt"

	"github.com/cnv-project/cnv/fsm/state"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// invoke decides, charges and ledgers one invocation.
func (a *applier) invoke(c *Invoke) Result {
	inv := &c.Invocation
	args := argsDigest(inv)
	digest := requestDigest(c, args)
	if e, found, err := a.st.Request(c.Invoker, inv.RequestID); err != nil {
		panic(err)
	} else if found {
		if e.Digest != digest {
			return errResult(cnverr.Conflict, "request id %q was already used by %s for a different invocation", inv.RequestID, c.Invoker)
		}
		res := a.recalled(e)
		res.Duplicate = true
		return res
	}
	res, ok := a.decide(c, args)
	if !ok {
		return res // rejected: nothing ledgered, nothing remembered
	}
	ans := answerOf(&res)
	must(a.st.Remember(c.Invoker, inv.RequestID, digest, ans.encode(), maxRequestIDs))
	return res
}

// recalled is the result a request-table entry records.
func (a *applier) recalled(e state.RequestEntry) Result {
	if e.Legacy != nil { // written by an earlier version, whole
		res, err := state.LegacyResult[Result](e)
		if err != nil {
			panic(err)
		}
		return res
	}
	ans, err := decodeAnswer(e.Answer)
	if err != nil {
		panic(fmt.Sprintf("fsm: request table entry %d: %v", e.Seq, err))
	}
	return a.recall(ans)
}

// requestDigest identifies what was asked, so a reused request id with a
// different body is told apart from a retry. args is the invocation's
// ArgsDigest.
func requestDigest(c *Invoke, args string) [32]byte {
	h := sha256.New()
	h.Write([]byte(c.Invocation.Capability))
	h.Write([]byte{0})
	h.Write([]byte(args))
	requestDigestFields(h, c.Invocation.Tenant, c.Invocation.CorrelationID, c.Invocation.DryRun, c.Links)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// decide runs every check against the committed state and ledgers the
// decision. ok is false when the invocation is rejected without a decision
// (unknown invoker or capability, invalid governance payload).
func (a *applier) decide(c *Invoke, args string) (Result, bool) {
	inv := &c.Invocation
	invoker, found := a.w.principals[c.Invoker]
	if !found {
		return errResult(cnverr.Unauthenticated, "invoker key %s is not registered", c.Invoker), false
	}
	ref, err := inv.Ref()
	if err != nil {
		return Result{Err: renderErr(err)}, false
	}
	node, found := a.lookupCapability(ref)
	if !found {
		return errResult(cnverr.CommandNotFound, "capability %s is not registered", ref), false
	}
	ref = capability.Ref{Path: node.Path, Version: node.Version}
	judged, chainErr := a.judged(c, invoker)
	res := a.baseResult(c, ref, node, judged)
	req := policy.Request{
		Capability: ref.Path, Effects: node.Effects, Sensitivity: node.Sensitivity,
		AgentID: judged.AgentID, AgentType: judged.AgentType, Tenant: res.Tenant, KeyID: judged.KeyID,
		Admin: judged.Admin, Invoker: c.Invoker, ChainDepth: len(c.Links), DryRun: inv.DryRun,
	}
	res.Policy = a.w.policy.Evaluate(&req)
	res.Decision, res.Reason = res.Policy.Decision, res.Policy.Reason
	if chainErr == nil && inv.Tenant != "" && inv.Tenant != judged.Tenant && !judged.Admin {
		chainErr = cnverr.New(cnverr.PermissionDenied, "principal %s belongs to tenant %q, not %q", judged.AgentID, judged.Tenant, inv.Tenant)
	}
	if chainErr == nil && len(c.Links) > 0 {
		chainErr = a.checkChain(c, ref.Path, node.Effects.Level())
	}
	if chainErr != nil {
		res.Decision, res.Reason = policy.Deny, chainErr.Error()
	}
	var effect func()
	if res.Decision == policy.Allow && !inv.DryRun {
		if effect, err = a.governance(c, ref.Path); err != nil {
			return Result{Err: renderErr(err)}, false
		}
		if counts, err := a.charge(c.Links); err != nil {
			res.Decision, res.Reason, effect = policy.Deny, err.Error(), nil
		} else {
			res.UseCounts = counts
		}
	}
	a.ledgerDecision(c, &res, &req, args)
	if effect != nil {
		effect()
	}
	return res, true
}

func (a *applier) lookupCapability(ref capability.Ref) (graph.Node, bool) {
	return resolve(a.w.registry, ref)
}

// judged is the principal the policy judges: the invoker for a direct
// invocation, the chain's origin (the first link's issuer) otherwise. An
// unregistered origin denies.
func (a *applier) judged(c *Invoke, invoker principal.Principal) (principal.Principal, error) {
	if len(c.Links) == 0 {
		return invoker, nil
	}
	origin, ok := a.w.principals[c.Links[0].Issuer]
	if !ok {
		return invoker, cnverr.New(cnverr.PermissionDenied, "delegation origin %s is not a registered principal", c.Links[0].Issuer)
	}
	return origin, nil
}

func (a *applier) baseResult(c *Invoke, ref capability.Ref, node graph.Node, judged principal.Principal) Result {
	tenant := c.Invocation.Tenant
	if tenant == "" {
		tenant = judged.Tenant
	}
	return Result{Time: a.now, Capability: ref, Effects: effectsOf(node.Effects, node.Sensitivity), Input: node.Input, Output: node.Output,
		Judged: judged, Invoker: c.Invoker, Tenant: tenant, Chain: linkHashes(c.Links),
		CorrelationID: c.Invocation.CorrelationID}
}

// effectsOf is what a certificate states of a capability's effects.
func effectsOf(effects capability.Effects, s capability.Sensitivity) []capability.Metadata {
	out := make([]capability.Metadata, len(effects))
	for i, e := range effects {
		out[i] = capability.NewMetadata(e)
		out[i].Sensitivity = s
	}
	return out
}

func (a *applier) ledgerDecision(c *Invoke, res *Result, req *policy.Request, args string) {
	recorded := res.Policy
	recorded.Decision, recorded.Reason = res.Decision, res.Reason
	ev := event.Event{
		Actor: res.Judged.AgentID, Tenant: res.Tenant, Correlation: c.Invocation.CorrelationID,
		Capability: res.Capability.Path,
		Data: event.PolicyDecision{
			Request: *req, Result: recorded,
			Command: c.Invocation.CommandLine(), ArgsDigest: args,
			RequestID: c.Invocation.RequestID, ChainLinks: res.Chain, UseCounts: res.UseCounts,
		},
	}
	if c.Invoker != res.Judged.KeyID {
		ev.Metadata = map[string]string{"invoker": string(c.Invoker)}
	}
	ap := a.appendEvents(ev)
	res.LedgerIndex, res.LeafHash = ap[0].Index, ap[0].LeafHash
	res.Event, res.Canonical = ap[0].Event, ap[0].Canonical
}
