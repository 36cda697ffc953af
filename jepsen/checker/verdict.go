package checker

import (
	"fmt"
	"time"

	"github.com/cnv-project/cnv/jepsen/history"
)

// Status is a checker's result.
type Status string

// Statuses. Unknown means the checker could not decide (a linearizability
// search that timed out); a run passes only when every verdict is Pass.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Unknown Status = "unknown"
)

// maxProblems bounds the problems a verdict lists; the count is kept.
const maxProblems = 20

// Verdict is one checker's judgement.
type Verdict struct {
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Summary  string   `json:"summary"`
	Problems []string `json:"problems,omitempty"`
	Count    int      `json:"problem_count"` // every problem, listed or not
}

// verdict builds verdicts, capping the listed problems.
type verdict struct{ v Verdict }

func newVerdict(name string) *verdict { return &verdict{v: Verdict{Name: name, Status: Pass}} }

func (b *verdict) fail(format string, args ...any) {
	b.v.Status = Fail
	b.v.Count++
	if len(b.v.Problems) < maxProblems {
		b.v.Problems = append(b.v.Problems, fmt.Sprintf(format, args...))
	}
}

func (b *verdict) done(format string, args ...any) Verdict {
	b.v.Summary = fmt.Sprintf(format, args...)
	if b.v.Count > 0 {
		b.v.Summary += fmt.Sprintf("; %d problem(s)", b.v.Count)
	}
	return b.v
}

// Options tune the checkers.
type Options struct {
	// LinearizabilityTimeout bounds porcupine's search per run; 0 = 1 minute.
	LinearizabilityTimeout time.Duration
}

// Result is every verdict of a run, and the counter check's data for the
// report's visualisation.
type Result struct {
	Verdicts []Verdict
	Counter  *CounterResult
}

// OK reports whether every verdict passed.
func (r *Result) OK() bool {
	for _, v := range r.Verdicts {
		if v.Status != Pass {
			return false
		}
	}
	return true
}

// Check runs every checker on h.
func Check(h *history.History, opt Options) *Result {
	if opt.LinearizabilityTimeout <= 0 {
		opt.LinearizabilityTimeout = time.Minute
	}
	cr := Counter(h.Ops, opt.LinearizabilityTimeout)
	return &Result{Counter: cr, Verdicts: []Verdict{
		Ledger(h.Ops, h.Final),
		cr.Verdict,
		Usage(h.Ops, h.Final),
		Convergence(h.Final),
	}}
}

// ofKind returns the ops of kind k.
func ofKind(ops []history.Op, k history.Kind) []history.Op {
	n := 0
	for i := range ops {
		if ops[i].Kind == k {
			n++
		}
	}
	out := make([]history.Op, 0, n)
	for _, o := range ops {
		if o.Kind == k {
			out = append(out, o)
		}
	}
	return out
}

func ms(ns int64) string { return time.Duration(ns).Round(time.Millisecond).String() }
