package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// memberGone waits until id is no longer a member as seen through via.
func memberGone(c *testcluster.Cluster, via *testcluster.Node, id string) {
	c.T().Helper()
	testcluster.WaitFor(c.T(), id+" removed", 10*time.Second, func() error {
		ms, err := c.Client().Members(context.Background(), via.APIAddr())
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
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	old := c.Leader()
	target := c.Followers()[1]
	res, err := c.Client().TransferLeader(context.Background(), c.Followers()[0].APIAddr(), target.ID)
	if err != nil || res.LeaderID != target.ID || res.From != old.ID {
		t.Fatalf("transfer to %s: %+v %v", target.ID, res, err)
	}
	if l := c.WaitLeader(); l != target {
		t.Fatalf("leader is %s, want %s", l.ID, target.ID)
	}
	res, err = c.Client().TransferLeader(context.Background(), target.APIAddr(), "")
	if err != nil || res.LeaderID == target.ID || res.LeaderID == "" {
		t.Fatalf("transfer to any: %+v %v", res, err)
	}
	_, err = c.Client().TransferLeader(context.Background(), target.APIAddr(), "nosuch")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("unknown target: %v", err)
	}
}

// Removing a server that is not a member is a 404 naming it; removing
// the leader hands leadership over first and answers success.
func TestRemoveUnknownAndLeader(t *testing.T) {
	c := testcluster.NewHTTP(t, 3, testcluster.Options{})
	c.AdminInvokeAPI(c.Leader(), "capability.register", []byte(testCaps))
	err := c.Client().Remove(context.Background(), c.Followers()[0].APIAddr(), "nosuch")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || ae.Err.Kind != cnverr.NotFound {
		t.Fatalf("remove nosuch: %v", err)
	}
	old := c.Leader()
	if err := c.Client().Remove(context.Background(), old.APIAddr(), old.ID); err != nil {
		t.Fatalf("remove the leader: %v", err)
	}
	var l *testcluster.Node
	testcluster.WaitFor(t, "a new leader", 10*time.Second, func() error {
		if l = c.Leader(); l == nil || l == old {
			return fmt.Errorf("no new leader")
		}
		return nil
	})
	memberGone(c, l, old.ID)
	c.Stop(old)
	if outs, err := c.InvokeAPI(l, nil, invocation.Invocation{Capability: "user.read", RequestID: "after-removal"}); err != nil || outs[0].Decision != "allow" {
		t.Fatalf("after removing the leader: %v %+v", err, outs)
	}
}

// A node joining with the wrong cluster token is refused at once, not
// retried until its deadline.
func TestJoinWithWrongTokenFailsAtOnce(t *testing.T) {
	const token = "0123456789abcdef0123"
	c := testcluster.NewHTTP(t, 1, testcluster.Options{Token: token})
	tn := c.NewNode()
	c.Stop(tn)
	tn.SetToken("wrong-token-wrong-token")
	c.Restart(tn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err := tn.Node().Join(ctx, []string{c.Node(0).APIAddr()})
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
	c := testcluster.NewHTTP(t, 1, testcluster.Options{})
	err := c.Client().Do(context.Background(), http.MethodPost, c.Node(0).APIAddr(), "/v1/invoke", map[string]any{}, nil, nil)
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
