package forward

import (
	"context"
	"time"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/limits"
)

// Prepared requests to the leader.
//
// A server that prepared a client's batch itself (cluster.Node.Prepare)
// hands it to the leader with the others waiting at that moment, as one
// message on its node-to-node channel; up to preparedInflight messages are
// in flight at once, so one message's round trip never holds back the
// next. A message cut off by a leader change goes again to the new leader:
// every request in it carries request ids, so the cluster answers a
// request committed before the change with its recorded outcome.

// preparedInflight is how many messages of prepared requests a node has in
// flight to the leader: enough to keep the leader's group commit fed while
// one message waits for its entry, few enough that each carries many
// requests.
const preparedInflight = 4

// preparedCall is one request waiting for its outcomes.
type preparedCall struct {
	req  cluster.Prepared
	done chan preparedResult
}

type preparedResult struct {
	node string
	outs []certificate.Answer
	err  error
}

// batcher gathers prepared requests into messages.
type batcher struct {
	f     *Forwarder
	queue chan *preparedCall
	slots chan struct{}
}

func (f *Forwarder) batcher() *batcher {
	f.batchOnce.Do(func() {
		f.batch = &batcher{f: f, queue: make(chan *preparedCall, 4*limits.MaxPreparedRequests), slots: make(chan struct{}, preparedInflight)}
		go f.batch.run()
	})
	return f.batch
}

// InvokePrepared hands a prepared request to the leader and returns the
// leader's node ID and the request's outcomes, one per invocation.
func (f *Forwarder) InvokePrepared(ctx context.Context, req cluster.Prepared) (string, []certificate.Answer, error) {
	b := f.batcher()
	call := &preparedCall{req: req, done: make(chan preparedResult, 1)}
	select {
	case b.queue <- call:
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	select {
	case r := <-call.done:
		return r.node, r.outs, r.err
	case <-ctx.Done():
		return "", nil, cluster.ErrUnknownOutcome
	}
}

// run takes a free slot, then everything queued (up to the message
// limits) and sends it.
func (b *batcher) run() {
	done := b.f.done()
	for {
		b.slots <- struct{}{}
		var first *preparedCall
		select {
		case first = <-b.queue:
		case <-done:
			return
		}
		calls, commands := []*preparedCall{first}, len(first.req.Commands)
	gather:
		for len(calls) < limits.MaxPreparedRequests {
			select {
			case c := <-b.queue:
				if commands+len(c.req.Commands) > limits.MaxPreparedCommands {
					go b.send([]*preparedCall{c}) // too large to join: on its own
					continue
				}
				calls, commands = append(calls, c), commands+len(c.req.Commands)
			default:
				break gather
			}
		}
		go func() {
			defer func() { <-b.slots }()
			b.send(calls)
		}()
	}
}

// sendTimeout bounds one message: a leader that accepts it but never
// answers does not hold the requests forever.
const sendTimeout = 30 * time.Second

func (b *batcher) send(calls []*preparedCall) {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	reqs := make([]cluster.Prepared, len(calls))
	for i, c := range calls {
		reqs[i] = c.req
	}
	ans, err := toLeader(ctx, b.f, "invoke_prepared", func(ctx context.Context, addr string) (cluster.PreparedAnswer, error) {
		return b.f.cfg.Peers.InvokePrepared(ctx, addr, reqs)
	})
	if err == nil && len(ans.Outcomes) != len(calls) {
		err = cluster.ErrUnknownOutcome
	}
	for i, c := range calls {
		if err != nil {
			c.done <- preparedResult{err: err}
			continue
		}
		c.done <- preparedResult{node: ans.Node, outs: ans.Outcomes[i]}
	}
}
