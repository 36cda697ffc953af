package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// The request-id table keeps, beside the digest of what was asked, a
// compact answer: the ledger index of the decision and the little its
// PolicyDecision event does not hold. A retry's Result is rebuilt from the
// event (recall), so the table stays small (tens of bytes an entry instead
// of the whole Result) and remembering costs no encoding of the Result.
//
// What the event does not hold, and the answer does (each only when it
// is not what the rest gives):
//
//   - the capability's version (the event names the path);
//   - the judged principal's tenant when it is not the result's (an
//     admin invoking for another tenant) and its metadata; the rest of
//     the principal is in the request, and its public key is bound to its
//     key id by hash, so it is read from the principal record;
//   - the policy's own decision and reason when the chain checks or
//     max_uses overrode them (the event records the final ones).
//
// Input and output schemas come from the capability's registration, which
// never changes once made.

// answer is the compact answer kept in the request-id table.
type answer struct {
	index     uint64
	version   string
	hasTenant bool
	tenant    string
	metadata  map[string]string
	hasPolicy bool
	decision  policy.Decision
	reason    string
}

const (
	ansVersion = 1 << iota
	ansTenant
	ansMetadata
	ansPolicy
	ansAll = ansVersion | ansTenant | ansMetadata | ansPolicy
)

var errBadAnswer = errors.New("fsm: malformed request-table answer")

// answerOf is what the table keeps of a decided invocation's result.
func answerOf(r *Result) answer {
	a := answer{index: r.LedgerIndex, version: r.Capability.Version, metadata: r.Judged.Metadata}
	if r.Judged.Tenant != r.Tenant {
		a.hasTenant, a.tenant = true, r.Judged.Tenant
	}
	if r.Policy.Decision != r.Decision || r.Policy.Reason != r.Reason {
		a.hasPolicy, a.decision, a.reason = true, r.Policy.Decision, r.Policy.Reason
	}
	return a
}

func (a *answer) encode() []byte {
	b := binary.AppendUvarint(make([]byte, 0, 16), a.index)
	var flags byte
	if a.version != "" {
		flags |= ansVersion
	}
	if a.hasTenant {
		flags |= ansTenant
	}
	if len(a.metadata) > 0 {
		flags |= ansMetadata
	}
	if a.hasPolicy {
		flags |= ansPolicy
	}
	b = append(b, flags)
	if flags&ansVersion != 0 {
		b = appendStr(b, a.version)
	}
	if flags&ansTenant != 0 {
		b = appendStr(b, a.tenant)
	}
	if flags&ansMetadata != 0 {
		keys := make([]string, 0, len(a.metadata))
		for k := range a.metadata {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendStr(appendStr(b, k), a.metadata[k])
		}
	}
	if flags&ansPolicy != 0 {
		b = appendStr(appendStr(b, string(a.decision)), a.reason)
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// answerReader reads what encode wrote, refusing anything encode would
// not write (so that decoding and encoding again gives the same bytes).
type answerReader struct {
	b   []byte
	err error
}

func (r *answerReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		r.err = errBadAnswer
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *answerReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadAnswer
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func decodeAnswer(b []byte) (answer, error) {
	r := answerReader{b: b}
	a := answer{index: r.uvarint()}
	if r.err != nil || len(r.b) == 0 || r.b[0]&^ansAll != 0 {
		return answer{}, errBadAnswer
	}
	flags := r.b[0]
	r.b = r.b[1:]
	if flags&ansVersion != 0 {
		if a.version = r.str(); a.version == "" {
			r.err = errBadAnswer
		}
	}
	if flags&ansTenant != 0 {
		a.hasTenant, a.tenant = true, r.str()
	}
	if flags&ansMetadata != 0 {
		n := r.uvarint()
		if n == 0 || n > uint64(len(r.b)) {
			r.err = errBadAnswer
		}
		a.metadata = make(map[string]string, min(n, 64))
		last := ""
		for i := uint64(0); i < n && r.err == nil; i++ {
			k := r.str()
			if i > 0 && k <= last {
				r.err = errBadAnswer
			}
			a.metadata[k], last = r.str(), k
		}
	}
	if flags&ansPolicy != 0 {
		a.hasPolicy, a.decision, a.reason = true, policy.Decision(r.str()), r.str()
	}
	if r.err != nil || len(r.b) != 0 {
		return answer{}, errBadAnswer
	}
	return a, nil
}

// recall rebuilds the result recorded for a request id from its answer
// and the decision's event. A table entry that names no decision means
// the state is damaged: the node stops.
func (a *applier) recall(ans answer) Result {
	ev, canonical, leaf, err := a.tx.EventBytes(ans.index)
	if err != nil {
		panic(fmt.Sprintf("fsm: request table: %v", err))
	}
	pd, ok := ev.Data.(event.PolicyDecision)
	if !ok {
		panic(fmt.Sprintf("fsm: request table names ledger index %d, a %s event", ans.index, ev.Type()))
	}
	req := &pd.Request
	ref := capability.Ref{Path: req.Capability, Version: ans.version}
	node, found := a.lookupCapability(ref)
	if !found {
		panic(fmt.Sprintf("fsm: request table: capability %s of ledger index %d is not registered", ref, ans.index))
	}
	judged := principal.Principal{KeyID: req.KeyID, AgentID: req.AgentID, AgentType: req.AgentType,
		Tenant: req.Tenant, Admin: req.Admin, Metadata: ans.metadata}
	if ans.hasTenant {
		judged.Tenant = ans.tenant
	}
	if p, ok := a.w.principals[req.KeyID]; ok {
		judged.PublicKey = p.PublicKey
	}
	pol := pd.Result
	if ans.hasPolicy {
		pol.Decision, pol.Reason = ans.decision, ans.reason
	}
	return Result{
		Decision: pd.Result.Decision, Reason: pd.Result.Reason, Policy: pol,
		LedgerIndex: ans.index, LeafHash: leaf, Time: ev.Time, UseCounts: pd.UseCounts,
		Capability: ref, Effects: effectsOf(req.Effects, req.Sensitivity), Input: node.Input, Output: node.Output,
		Judged: judged, Invoker: req.Invoker, Tenant: req.Tenant, Chain: pd.ChainLinks,
		CorrelationID: ev.Correlation, Event: &ev, Canonical: canonical,
	}
}
