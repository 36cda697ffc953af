package checker

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cnv-project/cnv/jepsen/history"
)

// CounterResult is the counter check: its verdict, and the model and
// linearization info porcupine.Visualize draws.
type CounterResult struct {
	Verdict Verdict
	Model   porcupine.Model
	Info    porcupine.LinearizationInfo
	Ops     int
}

// counterState is one link's replicated state: uses charged and whether a
// revocation committed.
type counterState struct {
	Uses    uint64
	Revoked bool
}

// counterIn is an operation's input.
type counterIn struct {
	Key  string
	Kind history.Kind
	Max  uint64
}

// counterOut is an operation's output.
type counterOut struct {
	Outcome  history.Outcome
	Decision history.Decision
	Uses     uint64 // allow: count after the charge (0 = not reported); read: count read
	Revoked  bool
}

// CounterModel is the sequential specification of one delegation link:
// an allow needs uses < max and no revocation and charges one use (and
// reports the new count); a usage-limit denial needs uses >= max; a
// revocation denial needs a committed revocation; other denials leave the
// state alone; a read returns the state. An unknown outcome may or may not
// have happened.
func CounterModel() porcupine.Model {
	m := porcupine.NondeterministicModel{
		Partition:         partitionByKey,
		Init:              func() []any { return []any{counterState{}} },
		Step:              counterStep,
		Equal:             func(a, b any) bool { return a.(counterState) == b.(counterState) },
		DescribeOperation: describeCounterOp,
		DescribeState: func(s any) string {
			c := s.(counterState)
			if c.Revoked {
				return fmt.Sprintf("uses %d, revoked", c.Uses)
			}
			return fmt.Sprintf("uses %d", c.Uses)
		},
	}
	return m.ToModel()
}

func partitionByKey(ops []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, o := range ops {
		k := o.Input.(counterIn).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], o)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}

func counterStep(state, input, output any) []any {
	s, in, out := state.(counterState), input.(counterIn), output.(counterOut)
	next, ok := applyCounter(s, in, out)
	if out.Outcome == history.Unknown {
		if ok {
			return []any{s, next}
		}
		return []any{s}
	}
	if !ok {
		return nil
	}
	return []any{next}
}

// applyCounter returns the state after the operation took effect with its
// output, or false when it could not have.
func applyCounter(s counterState, in counterIn, out counterOut) (counterState, bool) {
	switch in.Kind {
	case history.Revoke:
		return counterState{Uses: s.Uses, Revoked: true}, true
	case history.LinkRead:
		return s, out.Uses == s.Uses && out.Revoked == s.Revoked
	}
	if out.Outcome == history.Unknown {
		return counterState{Uses: s.Uses + 1}, !s.Revoked && s.Uses < in.Max
	}
	switch out.Decision {
	case history.Allow:
		n := counterState{Uses: s.Uses + 1}
		return n, !s.Revoked && s.Uses < in.Max && (out.Uses == 0 || out.Uses == n.Uses)
	case history.DenyLimit:
		return s, s.Uses >= in.Max
	case history.DenyRevoked:
		return s, s.Revoked
	}
	return s, true
}

func describeCounterOp(input, output any) string {
	in, out := input.(counterIn), output.(counterOut)
	switch {
	case out.Outcome == history.Unknown:
		return fmt.Sprintf("%s → unknown", in.Kind)
	case in.Kind == history.LinkRead:
		return fmt.Sprintf("read → uses %d revoked %v", out.Uses, out.Revoked)
	case in.Kind == history.Revoke:
		return "revoke → ok"
	case out.Decision == history.Allow:
		return fmt.Sprintf("invoke → allow (%d/%d)", out.Uses, in.Max)
	}
	return fmt.Sprintf("invoke → %s (max %d)", out.Decision, in.Max)
}

// counterOps turns the history's counter operations into porcupine
// operations. Failed operations definitely did not happen and are left
// out; unknown ones stay pending until after the last completion.
func counterOps(ops []history.Op) []porcupine.Operation {
	var end int64
	for _, o := range ops {
		end = max(end, o.End)
	}
	var out []porcupine.Operation
	for _, o := range ops {
		if (o.Kind != history.Invoke && o.Kind != history.Revoke && o.Kind != history.LinkRead) || o.Outcome == history.Fail {
			continue
		}
		if o.Kind == history.LinkRead && o.Outcome != history.OK {
			continue // a read that returned nothing constrains nothing
		}
		ret := o.End
		if o.Outcome == history.Unknown {
			ret = end + int64(time.Second)
		}
		out = append(out, porcupine.Operation{ClientId: o.Process, Call: o.Invoke, Return: ret,
			Input:  counterIn{Key: o.Key, Kind: o.Kind, Max: o.MaxUses},
			Output: counterOut{Outcome: o.Outcome, Decision: o.Decision, Uses: o.Uses, Revoked: o.Revoked}})
	}
	return out
}

// Counter checks that every link's counter history is linearizable.
func Counter(ops []history.Op, timeout time.Duration) *CounterResult {
	b := newVerdict("counter-linearizability")
	model := CounterModel()
	pops := counterOps(ops)
	res, info := porcupine.CheckOperationsVerbose(model, pops, timeout)
	switch res {
	case porcupine.Illegal:
		b.fail("the delegation counter history is not linearizable: see the counter visualisation")
	case porcupine.Unknown:
		b.v.Status = Unknown
		b.v.Problems = append(b.v.Problems, fmt.Sprintf("porcupine did not decide within %v", timeout))
	}
	keys := map[string]bool{}
	for _, o := range pops {
		keys[o.Input.(counterIn).Key] = true
	}
	v := b.done("%d operations on %d links: %s", len(pops), len(keys), res)
	return &CounterResult{Verdict: v, Model: model, Info: info, Ops: len(pops)}
}
