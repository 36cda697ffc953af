package replay

import (
	"fmt"
	"sort"

	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/ledger/event"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/policy"
)

// Evaluator re-evaluates recorded requests: *policy.Set implements it.
// Evaluate must be a pure function of the request.
type Evaluator interface {
	Evaluate(req *policy.Request) policy.Result
	Hash() string
}

var _ Evaluator = (*policy.Set)(nil)

// Difference kinds.
const (
	DiffAllowToDeny     = "allow_to_deny"
	DiffDenyToAllow     = "deny_to_allow"
	DiffDecisionChanged = "decision_changed" // any other change of decision
	DiffReasonChanged   = "reason_changed"   // same decision, other reason or deciding rule
)

// Options select the range and report progress.
type Options struct {
	// From and To select events [From, To); To == 0 means the ledger's
	// size at the start of the replay.
	From, To uint64
	// Progress, when set, is called every ProgressEvery events (default
	// 65536) and at the end.
	Progress      func(done, total uint64)
	ProgressEvery uint64
}

// Outcome is a decision with its explanation.
type Outcome struct {
	Decision    policy.Decision `json:"decision"`
	Reason      string          `json:"reason,omitempty"`
	MatchedRule string          `json:"matched_rule,omitempty"`
}

// Difference is one recorded decision that the new policy decides
// differently.
type Difference struct {
	Index      uint64          `json:"index"`
	Time       int64           `json:"time"`
	Kind       string          `json:"kind"`
	Capability capability.Path `json:"capability"`
	Agent      string          `json:"agent"`
	Tenant     string          `json:"tenant,omitempty"`
	Command    string          `json:"command,omitempty"`
	Original   Outcome         `json:"original"`
	New        Outcome         `json:"new"`
}

// Group counts differences for one capability or one agent.
type Group struct {
	Key             string `json:"key"`
	Decisions       uint64 `json:"decisions"`
	Differences     uint64 `json:"differences"`
	AllowToDeny     uint64 `json:"allow_to_deny"`
	DenyToAllow     uint64 `json:"deny_to_allow"`
	DecisionChanged uint64 `json:"decision_changed"`
	ReasonChanged   uint64 `json:"reason_changed"`
}

// Counts tallies decisions.
type Counts struct {
	Allow           uint64 `json:"allow"`
	Deny            uint64 `json:"deny"`
	RequireApproval uint64 `json:"require_approval"`
}

func (c *Counts) add(d policy.Decision) {
	switch d {
	case policy.Allow:
		c.Allow++
	case policy.Deny:
		c.Deny++
	case policy.RequireApproval:
		c.RequireApproval++
	}
}

// Report is the deterministic result of a replay: the same ledger,
// range and policy always give the same report.
type Report struct {
	// Size and Root identify the ledger replayed: the tree of Size events
	// (the end of the range), and its root.
	Size uint64      `json:"size"`
	Root ledger.Hash `json:"root"`
	From uint64      `json:"from"`
	To   uint64      `json:"to"`
	// OldPolicyHashes are the policy hashes recorded in the replayed
	// decisions, sorted; NewPolicyHash is the evaluator's.
	OldPolicyHashes []string     `json:"old_policy_hashes"`
	NewPolicyHash   string       `json:"new_policy_hash"`
	TotalEvents     uint64       `json:"total_events"`
	PolicyDecisions uint64       `json:"policy_decisions"`
	Original        Counts       `json:"original"`
	Replayed        Counts       `json:"replayed"`
	Differences     []Difference `json:"differences"`
	ByCapability    []Group      `json:"by_capability"`
	ByAgent         []Group      `json:"by_agent"`
}

// Run re-evaluates every PolicyDecision in [From, To) of the ledger with
// ev, on the full recorded request, and lists every difference from the
// recorded result, grouped by capability and by agent. With a nil
// evaluator it only tallies the recorded decisions. It reads one
// consistent snapshot.
func Run(s *ledger.Store, ev Evaluator, opts Options) (*Report, error) {
	var rep *Report
	err := s.Read(func(r *ledger.Reader) error {
		to := opts.To
		if to == 0 {
			to = r.Size()
		}
		if opts.From > to || to > r.Size() {
			return fmt.Errorf("%w: replay range [%d, %d), ledger size %d", ledger.ErrOutOfRange, opts.From, to, r.Size())
		}
		root, err := r.Root(to)
		if err != nil {
			return err
		}
		rp := newReplayer(ev, opts)
		rep, err = rp.run(r, opts.From, to)
		if rep != nil {
			rep.Size, rep.Root = to, root
		}
		return err
	})
	return rep, err
}

type replayer struct {
	ev      Evaluator
	opts    Options
	rep     *Report
	hashes  map[string]bool
	byCap   map[string]*Group
	byAgent map[string]*Group
	// progress reporting state
	reported, nextReport uint64
}

func newReplayer(ev Evaluator, opts Options) *replayer {
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 1 << 16
	}
	rep := &Report{From: opts.From, OldPolicyHashes: []string{}, Differences: []Difference{}}
	if ev != nil {
		rep.NewPolicyHash = ev.Hash()
	}
	return &replayer{ev: ev, opts: opts, rep: rep, hashes: map[string]bool{},
		byCap: map[string]*Group{}, byAgent: map[string]*Group{}, nextReport: opts.ProgressEvery, reported: ^uint64(0)}
}

func (rp *replayer) run(r *ledger.Reader, from, to uint64) (*Report, error) {
	rp.rep.To = to
	if from < to {
		err := r.Match(ledger.Query{Type: event.TypePolicyDecision, Start: from}, to, func(e event.Event) error {
			rp.decision(&e)
			rp.progress(e.Index+1-from, to-from)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	rp.rep.TotalEvents = to - from
	rp.progress(to-from, to-from)
	return rp.finish(), nil
}

// progress reports each time another ProgressEvery events are done, and
// once at the end.
func (rp *replayer) progress(done, total uint64) {
	if rp.opts.Progress == nil || rp.reported == total || (done < rp.nextReport && done < total) {
		return
	}
	rp.opts.Progress(done, total)
	rp.reported = done
	rp.nextReport = done - done%rp.opts.ProgressEvery + rp.opts.ProgressEvery
}

func (rp *replayer) decision(e *event.Event) {
	d := e.Data.(event.PolicyDecision)
	rp.rep.PolicyDecisions++
	rp.rep.Original.add(d.Result.Decision)
	rp.hashes[d.Result.PolicyHash] = true
	capG := group(rp.byCap, string(e.Capability))
	agentG := group(rp.byAgent, e.Actor)
	capG.Decisions++
	agentG.Decisions++
	if rp.ev == nil {
		return
	}
	req := d.Request
	res := rp.ev.Evaluate(&req)
	rp.rep.Replayed.add(res.Decision)
	kind := diffKind(d.Result, res)
	if kind == "" {
		return
	}
	rp.rep.Differences = append(rp.rep.Differences, Difference{
		Index: e.Index, Time: e.Time, Kind: kind, Capability: e.Capability, Agent: e.Actor,
		Tenant: e.Tenant, Command: d.Command, Original: outcome(d.Result), New: outcome(res),
	})
	capG.count(kind)
	agentG.count(kind)
}

func outcome(r policy.Result) Outcome {
	return Outcome{Decision: r.Decision, Reason: r.Reason, MatchedRule: r.MatchedRule}
}

// diffKind classifies how a new result differs from the recorded one (""
// when it does not).
func diffKind(old, new policy.Result) string {
	switch {
	case old.Decision == policy.Allow && new.Decision == policy.Deny:
		return DiffAllowToDeny
	case old.Decision == policy.Deny && new.Decision == policy.Allow:
		return DiffDenyToAllow
	case old.Decision != new.Decision:
		return DiffDecisionChanged
	case old.Reason != new.Reason || old.MatchedRule != new.MatchedRule:
		return DiffReasonChanged
	}
	return ""
}

func group(m map[string]*Group, key string) *Group {
	g := m[key]
	if g == nil {
		g = &Group{Key: key}
		m[key] = g
	}
	return g
}

func (g *Group) count(kind string) {
	g.Differences++
	switch kind {
	case DiffAllowToDeny:
		g.AllowToDeny++
	case DiffDenyToAllow:
		g.DenyToAllow++
	case DiffDecisionChanged:
		g.DecisionChanged++
	case DiffReasonChanged:
		g.ReasonChanged++
	}
}

// finish sorts everything that came from maps, for a deterministic report.
func (rp *replayer) finish() *Report {
	for h := range rp.hashes {
		rp.rep.OldPolicyHashes = append(rp.rep.OldPolicyHashes, h)
	}
	sort.Strings(rp.rep.OldPolicyHashes)
	rp.rep.ByCapability = sortedGroups(rp.byCap)
	rp.rep.ByAgent = sortedGroups(rp.byAgent)
	return rp.rep
}

func sortedGroups(m map[string]*Group) []Group {
	out := make([]Group, 0, len(m))
	for _, g := range m {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
