package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/cnverr"
)

// proposal is one caller's commands, committed together in one entry.
type proposal struct {
	cmds []fsm.Command
	done chan committed // buffered 1
}

// committed is a proposal's outcome.
type committed struct {
	results []fsm.Result
	index   uint64
	err     error
}

// inflight is one Raft entry on its way and the proposals it carries.
type inflight struct {
	future raft.ApplyFuture
	props  []*proposal
	err    error
}

// proposer group-commits: while one entry is being replicated, new
// proposals queue; the next entry takes everything queued (up to
// MaxBatchCommands). Up to MaxInflight entries are pipelined.
type proposer struct {
	n        *Node
	queue    chan *proposal
	inflight chan inflight
	stopCh   chan struct{}
	lastTime int64
}

func newProposer(n *Node) *proposer {
	return &proposer{
		n:        n,
		queue:    make(chan *proposal, 4096),
		inflight: make(chan inflight, n.cfg.MaxInflight),
		stopCh:   make(chan struct{}),
	}
}

func (p *proposer) stop() { close(p.stopCh) }

// submit proposes cmds and waits for their results.
func (p *proposer) submit(ctx context.Context, cmds []fsm.Command) ([]fsm.Result, uint64, error) {
	pr := &proposal{cmds: cmds, done: make(chan committed, 1)}
	select {
	case p.queue <- pr:
	case <-ctx.Done():
		return nil, 0, cnverr.Wrap(cnverr.Unavailable, ctx.Err(), "write queue full")
	case <-p.stopCh:
		return nil, 0, ErrShutdown
	}
	start := time.Now()
	select {
	case c := <-pr.done:
		if c.err == nil {
			p.n.metrics.commitLatency.Observe(time.Since(start).Seconds())
		}
		return c.results, c.index, c.err
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("%w: %v", ErrUnknownOutcome, ctx.Err())
	case <-p.stopCh:
		return nil, 0, ErrShutdown
	}
}

// run gathers queued proposals into entries.
func (p *proposer) run() {
	defer close(p.inflight)
	for {
		var first *proposal
		select {
		case first = <-p.queue:
		case <-p.stopCh:
			return
		}
		batch, count := []*proposal{first}, len(first.cmds)
	gather:
		for count < p.n.cfg.MaxBatchCommands {
			select {
			case pr := <-p.queue:
				batch = append(batch, pr)
				count += len(pr.cmds)
			default:
				break gather
			}
		}
		p.inflight <- p.propose(batch, count)
	}
}

func (p *proposer) stamp() int64 {
	t := p.n.cfg.Clock.Now().UnixNano()
	if t < p.lastTime {
		t = p.lastTime
	}
	p.lastTime = t
	return t
}

func (p *proposer) propose(batch []*proposal, count int) inflight {
	env := fsm.Envelope{Version: fsm.EnvelopeVersion, Time: p.stamp(), Commands: make([]fsm.Command, 0, count)}
	for _, pr := range batch {
		env.Commands = append(env.Commands, pr.cmds...)
	}
	data, err := env.Encode()
	if err != nil {
		return inflight{props: batch, err: cnverr.Wrap(cnverr.InternalError, err, "encode entry")}
	}
	return inflight{future: p.n.raft.Apply(data, 10*time.Second), props: batch}
}

// complete waits for each entry in order and answers its proposals.
func (p *proposer) complete() {
	for in := range p.inflight {
		err := in.err
		var results []fsm.Result
		var index uint64
		if err == nil {
			err = raftErr(in.future.Error())
		}
		if err == nil {
			index = in.future.Index()
			results, _ = in.future.Response().([]fsm.Result)
			if len(results) == 1 && results[0].Err != nil && len(in.props) > 0 && countCmds(in.props) != 1 {
				err = results[0].Err // the whole entry was refused
			}
		}
		off := 0
		for _, pr := range in.props {
			c := committed{index: index, err: err}
			if err == nil {
				if off+len(pr.cmds) > len(results) {
					c.err = cnverr.New(cnverr.InternalError, "entry %d answered %d results for %d commands", index, len(results), countCmds(in.props))
				} else {
					c.results = results[off : off+len(pr.cmds)]
				}
			}
			off += len(pr.cmds)
			pr.done <- c
		}
	}
}

func countCmds(props []*proposal) int {
	n := 0
	for _, pr := range props {
		n += len(pr.cmds)
	}
	return n
}
