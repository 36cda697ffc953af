package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/jepsen/history"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/wire"
)

// Mix weighs the operations a worker chooses from.
type Mix struct {
	Append, Read, FullRead, Invoke, LinkRead, Revoke int
}

func (m Mix) total() int { return m.Append + m.Read + m.FullRead + m.Invoke + m.LinkRead + m.Revoke }

// Config is a workload.
type Config struct {
	Workers   int
	Mix       Mix
	Rotate    time.Duration // how long a pair of links stays in use (default 2s)
	OpTimeout time.Duration // per operation (default 5s)
	Pace      time.Duration // a worker's mean pause between operations
	// Reads is the consistency of workload reads: "linearizable" (the
	// default) or "stale" — a self-test: stale reads under a partition
	// must make the checkers fail.
	Reads string
}

// Nodes is where the workers send operations.
type Nodes interface {
	IDs() []string
	Addr(id string) string
}

// Run drives cfg.Workers workers until ctx ends and records every
// operation. Operations already in flight when ctx ends finish under
// their own timeout.
func Run(ctx context.Context, s *Setup, nodes Nodes, rec *history.Recorder, cfg Config, seed int64) {
	if cfg.Rotate <= 0 {
		cfg.Rotate = 2 * time.Second
	}
	if cfg.OpTimeout <= 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if cfg.Mix.total() == 0 {
		return
	}
	if cfg.Reads == "" {
		cfg.Reads = linearizable.Consistency
	}
	var wg sync.WaitGroup
	rv := &revoked{done: map[string]bool{}}
	for w := range cfg.Workers {
		wk := &worker{id: w, revoked: rv, s: s, nodes: nodes, rec: rec, cfg: cfg,
			rng: rand.New(rand.NewPCG(uint64(seed), uint64(w)+1))}
		wg.Add(1)
		go func() { defer wg.Done(); wk.loop(ctx) }()
	}
	wg.Wait()
}

// revoked remembers the links a worker has revoked, so each is revoked at
// most once and its counter keeps being exercised before that.
type revoked struct {
	mu   sync.Mutex
	done map[string]bool
}

func (r *revoked) claim(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done[key] {
		return false
	}
	r.done[key] = true
	return true
}

type worker struct {
	id      int
	revoked *revoked
	s       *Setup
	nodes   Nodes
	rec     *history.Recorder
	cfg     Config
	rng     *rand.Rand
	n       int
}

func (w *worker) loop(ctx context.Context) {
	ids := w.nodes.IDs()
	for ctx.Err() == nil {
		node := ids[w.rng.IntN(len(ids))]
		octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.OpTimeout)
		w.rec.Complete(w.one(octx, node))
		cancel()
		if w.cfg.Pace > 0 {
			pause := time.Duration(w.rng.Int64N(int64(2 * w.cfg.Pace)))
			select {
			case <-ctx.Done():
			case <-time.After(pause): // pacing the load, not waiting for a condition
			}
		}
	}
}

// one runs one randomly chosen operation against node.
func (w *worker) one(ctx context.Context, node string) history.Op {
	m := w.cfg.Mix
	r := w.rng.IntN(m.total())
	base := history.Op{Process: w.id, Node: node}
	addr := w.nodes.Addr(node)
	switch {
	case r < m.Append:
		return w.append(ctx, addr, base)
	case r < m.Append+m.Read:
		return w.read(ctx, addr, base)
	case r < m.Append+m.Read+m.FullRead:
		return w.fullRead(ctx, addr, base)
	case r < m.Append+m.Read+m.FullRead+m.Invoke:
		return w.invoke(ctx, addr, base)
	case r < m.Append+m.Read+m.FullRead+m.Invoke+m.LinkRead:
		return w.linkRead(ctx, addr, base)
	}
	return w.revoke(ctx, addr, base)
}

// link picks one of the two links in use now.
func (w *worker) link() Link {
	i := int(time.Duration(w.rec.Since())/w.cfg.Rotate) + w.rng.IntN(2)
	return w.s.Links[min(i, len(w.s.Links)-1)]
}

func (w *worker) append(ctx context.Context, _ string, op history.Op) history.Op {
	w.n++
	op.Kind, op.Value = history.Append, fmt.Sprintf("w%d-%d", w.id, w.n)
	op = w.rec.Begin(op)
	return w.submit(ctx, w.s.Admin, op, invocation.Invocation{Capability: CapAppend, CorrelationID: op.Value}, "")
}

// submit invokes inv on op's node; when the outcome is unknown it retries
// once, with the same request id, on another node, as a careful client
// would. The cluster must answer the retry with the recorded result and
// never apply it twice.
func (w *worker) submit(ctx context.Context, c *client.Client, op history.Op, inv invocation.Invocation, key string) history.Op {
	inv.RequestID = client.NewRequestID()
	outs, err := c.Invoke(ctx, w.nodes.Addr(op.Node), inv)
	op = writeOutcome(op, outs, err, key)
	if op.Outcome != history.Unknown || ctx.Err() != nil || w.rng.IntN(2) == 0 {
		return op
	}
	ids := w.nodes.IDs()
	other := ids[w.rng.IntN(len(ids))]
	first := op.Error
	outs, err = c.Invoke(ctx, w.nodes.Addr(other), inv)
	op = writeOutcome(op, outs, err, key)
	if op.Outcome == history.Fail {
		op.Outcome = history.Unknown // the first attempt may still have been applied
	}
	op.Error = fmt.Sprintf("%s; retried on %s: %s", first, other, op.Error)
	return op
}

func (w *worker) invoke(ctx context.Context, _ string, op history.Op) history.Op {
	l := w.link()
	op.Kind, op.Key, op.MaxUses = history.Invoke, l.Hash, l.MaxUses
	op = w.rec.Begin(op)
	return w.submit(ctx, w.s.Agent, op, invocation.Invocation{Capability: CapUse, Chain: [][]byte{l.Token}}, l.Hash)
}

// revoke revokes a link in use, once per link; when both links in use are
// already revoked it invokes instead.
func (w *worker) revoke(ctx context.Context, _ string, op history.Op) history.Op {
	l := w.link()
	if !w.revoked.claim(l.Hash) {
		return w.invoke(ctx, "", op)
	}
	op.Kind, op.Key, op.MaxUses = history.Revoke, l.Hash, l.MaxUses
	op = w.rec.Begin(op)
	op = w.submit(ctx, w.s.Admin, op, invocation.Invocation{Capability: "delegation.revoke",
		Args: []invocation.Arg{{Name: "link", Value: l.Hash}, {Name: "reason", Value: "jepsen"}}}, "")
	if op.Outcome == history.OK && op.Decision != history.Allow {
		op.Outcome, op.Error = history.Fail, "revocation denied: "+op.Reason
	}
	op.Decision = ""
	return op
}

var linearizable = client.Read{Consistency: "linearizable"}

func (w *worker) read(ctx context.Context, addr string, op history.Op) history.Op {
	op.Kind = history.Read
	op = w.rec.Begin(op)
	st, err := w.s.Admin.LedgerStatus(ctx, addr, client.Read{Consistency: w.cfg.Reads})
	if err != nil {
		return failRead(op, err)
	}
	op.Outcome, op.Size = history.OK, st.Size
	return op
}

func (w *worker) fullRead(ctx context.Context, addr string, op history.Op) history.Op {
	op.Kind = history.Read
	op = w.rec.Begin(op)
	evs, err := events(ctx, w.s.Admin, addr, client.Read{Consistency: w.cfg.Reads})
	if err != nil {
		return failRead(op, err)
	}
	op.Outcome, op.Events, op.Size = history.OK, evs, uint64(len(evs))
	return op
}

func (w *worker) linkRead(ctx context.Context, addr string, op history.Op) history.Op {
	l := w.link()
	op.Kind, op.Key, op.MaxUses = history.LinkRead, l.Hash, l.MaxUses
	op = w.rec.Begin(op)
	st, err := linkState(ctx, w.s.Admin, addr, l.Hash, client.Read{Consistency: w.cfg.Reads})
	if err != nil {
		return failRead(op, err)
	}
	op.Outcome, op.Uses, op.Revoked = history.OK, st.Uses, st.Revoked
	return op
}

// LinkState reads a link linearizably; a link never used or revoked is
// unknown to the cluster and reads as zero.
func LinkState(ctx context.Context, c *client.Client, addr, hash string) (wire.LinkState, error) {
	return linkState(ctx, c, addr, hash, linearizable)
}

func linkState(ctx context.Context, c *client.Client, addr, hash string, r client.Read) (wire.LinkState, error) {
	st, err := c.Delegation(ctx, addr, hash, r)
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return wire.LinkState{Hash: hash}, nil
	}
	return st, err
}

// failRead: a read that returned nothing constrains nothing.
func failRead(op history.Op, err error) history.Op {
	op.Outcome, op.Error = history.Fail, err.Error()
	return op
}

// writeOutcome classifies a write: a transport failure or a whole-request
// rejection is unknown unless definite; a per-item error applied nothing;
// otherwise the decision was committed at its ledger index.
func writeOutcome(op history.Op, outs []wire.Outcome, err error, key string) history.Op {
	if err != nil {
		op.Outcome, op.Error = history.Unknown, err.Error()
		if client.IsDefinite(err) {
			op.Outcome = history.Fail
		}
		return op
	}
	o := outs[0]
	switch {
	case o.Error != nil:
		op.Outcome, op.Error = history.Fail, o.Error.Error()
	case o.Decision == "":
		op.Outcome, op.Error = history.Unknown, "no decision in the answer"
	default:
		op.Outcome, op.Index, op.HasIndex, op.Reason = history.OK, o.LedgerIndex, true, o.Reason
		op.Decision = Classify(o.Decision, o.Reason)
		op.Uses = usesOf(o.UseCounts, key)
	}
	return op
}

// Classify maps a committed decision to the counter model's decisions.
// The wire carries the denial's reason as text (the FSM renders the
// delegation sentinel's message into it), so the sentinel's own message
// is what is looked for.
func Classify(decision, reason string) history.Decision {
	switch {
	case decision == "allow":
		return history.Allow
	case strings.Contains(reason, delegation.ErrUsageLimitExceeded.Error()):
		return history.DenyLimit
	case strings.Contains(reason, delegation.ErrRevoked.Error()):
		return history.DenyRevoked
	}
	return history.DenyOther
}

func usesOf(counts []wire.UseCount, key string) uint64 {
	for _, c := range counts {
		if c.Link == key {
			return c.Used
		}
	}
	return 0
}

// Events reads the whole ledger's correlation ids, page by page, each page
// a linearizable read.
func Events(ctx context.Context, c *client.Client, addr string) ([]string, error) {
	return events(ctx, c, addr, linearizable)
}

func events(ctx context.Context, c *client.Client, addr string, r client.Read) ([]string, error) {
	const page = 1000
	var out []string
	for start := uint64(0); ; {
		evs, next, err := c.LedgerEvents(ctx, addr, start, page, r)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if e.Index != uint64(len(out)) {
				return nil, fmt.Errorf("ledger page from %d: event index %d at position %d", start, e.Index, len(out))
			}
			out = append(out, e.Correlation)
		}
		if len(evs) < page {
			return out, nil
		}
		start = next
	}
}
