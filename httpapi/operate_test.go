package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// memberGone waits until id is no longer a member as seen through via.
func (c *testCluster) memberGone(via *testNode, id string) {
	c.t.Helper()
	waitFor(c.t, id+" removed", 10*time.Second, func() error {
		ms, err := c.client.Members(context.Background(), via.apiAddr)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if m.NodeID == id {
				return fmt.Errorf("%s still a member", id)
			}
		}
		return nil
	})
}

// transfer-leader through a follower reaches the leader, moves the
// leadership to the voter named, and the answer names it; without --to
// any voter takes over; an unknown target is a 404.
func TestTransferLeader(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	old := c.leader()
	target := c.followers()[1]
	res, err := c.client.TransferLeader(context.Background(), c.followers()[0].apiAddr, target.id)
	if err != nil || res.LeaderID != target.id || res.From != old.id {
		t.Fatalf("transfer to %s: %+v %v", target.id, res, err)
	}
	if l := c.waitLeader(); l != target {
		t.Fatalf("leader is %s, want %s", l.id, target.id)
	}
	res, err = c.client.TransferLeader(context.Background(), target.apiAddr, "")
	if err != nil || res.LeaderID == target.id || res.LeaderID == "" {
		t.Fatalf("transfer to any: %+v %v", res, err)
	}
	_, err = c.client.TransferLeader(context.Background(), target.apiAddr, "nosuch")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("unknown target: %v", err)
	}
}

// Removing a server that is not a member is a 404 naming it; removing
// the leader hands leadership over first and answers success.
func TestRemoveUnknownAndLeader(t *testing.T) {
	c := newTestCluster(t, 3, nil)
	c.adminInvoke(c.leader(), "capability.register", []byte(testCaps))
	err := c.client.Remove(context.Background(), c.followers()[0].apiAddr, "nosuch")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Err.Kind != cnverr.NotFound {
		t.Fatalf("remove nosuch: %v", err)
	}
	old := c.leader()
	if err := c.client.Remove(context.Background(), old.apiAddr, old.id); err != nil {
		t.Fatalf("remove the leader: %v", err)
	}
	var l *testNode
	waitFor(t, "a new leader", 10*time.Second, func() error {
		if l = c.leader(); l == nil || l == old {
			return fmt.Errorf("no new leader")
		}
		return nil
	})
	c.memberGone(l, old.id)
	c.stop(old)
	if outs, err := c.invoke(l, nil, invocation.Invocation{Capability: "user.read"}); err != nil || outs[0].Decision != "allow" {
		t.Fatalf("after removing the leader: %v %+v", err, outs)
	}
}

// A node joining with the wrong cluster token is refused at once, not
// retried until its deadline.
func TestJoinWithWrongTokenFailsAtOnce(t *testing.T) {
	const token = "0123456789abcdef0123"
	c := newTestCluster(t, 1, nil)
	c.stop(c.nodes[0])
	c.nodes[0].token = token
	c.restart(c.nodes[0])
	c.waitReady(c.nodes[0])
	tn := &testNode{id: "n2", dir: t.TempDir(), raftAddr: "127.0.0.1:0", apiAddr: "127.0.0.1:0", token: "wrong-token-wrong-token"}
	c.nodes = append(c.nodes, tn)
	c.start(tn, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := tn.node.Join(ctx, []string{c.nodes[0].apiAddr})
	if cnverr.KindOf(err) != cnverr.Unauthenticated || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("join with a wrong token: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("refusal took %v: it was retried", took)
	}
}

// Posting {} to /v1/invoke is a 400 naming the missing fields and where
// the format is documented.
func TestInvokeEmptyBodyNamesWhatIsMissing(t *testing.T) {
	c := newTestCluster(t, 1, nil)
	err := c.client.Do(context.Background(), http.MethodPost, c.nodes[0].apiAddr, "/v1/invoke", map[string]any{}, nil, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		t.Fatalf("{}: %v", err)
	}
	for _, want := range []string{"missing body", "signature", "docs/SIGNING.md"} {
		if !strings.Contains(ae.Err.Message, want) {
			t.Fatalf("{}: %q lacks %q", ae.Err.Message, want)
		}
	}
}
