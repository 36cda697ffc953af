package testcluster

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/ledger"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// callTimeout bounds one helper call, as the API client's timeout did.
const callTimeout = 20 * time.Second

// Invoke signs invs with key (nil: the admin key; empty request ids get
// random ones) and invokes them on n in process; a follower's refusal
// goes to the leader as the forwarder sends it. As over the API, a batch
// of one rejected invocation answers with the rejection as the error.
func (c *Cluster) Invoke(n *Node, key ed25519.PrivateKey, invs ...invocation.Invocation) ([]cluster.Outcome, error) {
	if key == nil {
		key = c.admin
	}
	for i := range invs {
		if invs[i].RequestID == "" {
			invs[i].RequestID = client.NewRequestID()
		}
	}
	s, err := invocation.Sign(key, invs)
	if err != nil {
		return nil, err
	}
	return c.InvokeSigned(n, &s)
}

// InvokeSigned invokes an already signed batch (as Invoke does).
func (c *Cluster) InvokeSigned(n *Node, s *invocation.Signed) ([]cluster.Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	outs, err := with(n, func(cn *cluster.Node) ([]cluster.Outcome, error) {
		outs, err := cn.Invoke(ctx, s)
		if errors.Is(err, cluster.ErrNotLeader) {
			return toLeader(ctx, n, cn, func(l *cluster.Node) ([]cluster.Outcome, error) { return l.Invoke(ctx, s) })
		}
		return outs, err
	})
	if err != nil {
		return nil, err
	}
	if len(outs) == 1 && outs[0].Err != nil {
		return nil, outs[0].Err
	}
	return outs, nil
}

// AdminInvoke runs one governance invocation with the admin key on n and
// requires it to be allowed.
func (c *Cluster) AdminInvoke(n *Node, capPath string, payload []byte, args ...invocation.Arg) cluster.Outcome {
	c.t.Helper()
	outs, err := c.Invoke(n, nil, invocation.Invocation{Capability: capPath, Payload: payload, Args: args})
	if err != nil {
		c.t.Fatalf("%s: %v", capPath, err)
	}
	if outs[0].Result.Decision != policy.Allow {
		c.t.Fatalf("%s: %+v", capPath, outs[0])
	}
	return outs[0]
}

// Register makes a principal, registers it through n and returns its key.
func (c *Cluster) Register(n *Node, agentID string, at principal.AgentType, tenant string) ed25519.PrivateKey {
	c.t.Helper()
	priv, doc := c.principal(agentID, at, tenant)
	c.AdminInvoke(n, "principal.register", doc)
	return priv
}

func (c *Cluster) principal(agentID string, at principal.AgentType, tenant string) (ed25519.PrivateKey, []byte) {
	c.t.Helper()
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	doc, err := json.Marshal(map[string]any{"public_key": []byte(pub), "agent_id": agentID, "agent_type": at, "tenant": tenant})
	if err != nil {
		c.t.Fatal(err)
	}
	return priv, doc
}

// Grant issues a root delegation link from the admin to audience for the
// capabilities allow (valid from a minute ago until notAfter).
func (c *Cluster) Grant(audience ed25519.PublicKey, maxUses uint64, notAfter time.Time, allow ...string) delegation.Link {
	c.t.Helper()
	cons, err := delegation.NewConstraints(allow, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
	if err != nil {
		c.t.Fatal(err)
	}
	l, err := delegation.Issue(c.admin, delegation.Grant{Audience: audience, Constraints: cons,
		NotBefore: time.Now().Add(-time.Minute).UnixNano(), NotAfter: notAfter.UnixNano(), MaxUses: maxUses}, nil, rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// Token is a link's encoding, as an invocation's chain carries it.
func (c *Cluster) Token(l delegation.Link) []byte {
	c.t.Helper()
	b, err := delegation.Encode(l)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// Read makes n's state fit for a read at consistency cons (waiting for
// minIndex) and returns the index it reflects.
func (c *Cluster) Read(n *Node, cons cluster.Consistency, minIndex uint64) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return with(n, func(cn *cluster.Node) (uint64, error) { return cn.Read(ctx, cons, minIndex) })
}

// Head is n's ledger head after a linearizable read on n (what GET
// /v1/ledger/status answers).
func (c *Cluster) Head(n *Node) (ledger.Head, error) {
	return with(n, func(cn *cluster.Node) (ledger.Head, error) {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		if _, err := cn.Read(ctx, cluster.Linearizable, 0); err != nil {
			return ledger.Head{}, err
		}
		return cn.Store().Head(), nil
	})
}

// WaitConverged waits (30s) until every running node has the ledger
// size and root of the leader's linearizable view, and returns that head.
func (c *Cluster) WaitConverged() ledger.Head {
	c.t.Helper()
	var want ledger.Head
	WaitFor(c.t, "ledgers converge", 30*time.Second, func() error {
		l := c.Leader()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		h, err := c.Head(l)
		if err != nil {
			return err
		}
		want = h
		for _, n := range c.Nodes() {
			cn := n.Node()
			if cn == nil {
				continue
			}
			if got := cn.Store().Head(); got.Size != h.Size || got.Root.String() != h.Root.String() {
				return fmt.Errorf("%s at %d, leader at %d", n.ID, got.Size, h.Size)
			}
		}
		return nil
	})
	return want
}

// InvokeAPI invokes invs signed by key (nil: the admin key) through n's
// HTTP API.
func (c *Cluster) InvokeAPI(n *Node, key ed25519.PrivateKey, invs ...invocation.Invocation) ([]wire.Outcome, error) {
	c.needHTTP("InvokeAPI")
	cl := c.client
	if key != nil {
		cl = client.New(client.Options{Key: key, Timeout: callTimeout})
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return cl.Invoke(ctx, n.APIAddr(), invs...)
}

// AdminInvokeAPI runs a governance invocation with the admin key through
// n's API and requires it to be allowed.
func (c *Cluster) AdminInvokeAPI(n *Node, capPath string, payload []byte, args ...invocation.Arg) wire.Outcome {
	c.t.Helper()
	outs, err := c.InvokeAPI(n, nil, invocation.Invocation{Capability: capPath, Payload: payload, Args: args})
	if err != nil {
		c.t.Fatalf("%s: %v", capPath, err)
	}
	if outs[0].Decision != "allow" {
		c.t.Fatalf("%s: %+v", capPath, outs[0])
	}
	return outs[0]
}

// RegisterAPI is Register through n's API.
func (c *Cluster) RegisterAPI(n *Node, agentID string, at principal.AgentType, tenant string) ed25519.PrivateKey {
	c.t.Helper()
	priv, doc := c.principal(agentID, at, tenant)
	c.AdminInvokeAPI(n, "principal.register", doc)
	return priv
}

// Status is n's status through its API.
func (c *Cluster) Status(n *Node) wire.Status {
	c.t.Helper()
	c.needHTTP("Status")
	st, err := c.client.Status(context.Background(), n.APIAddr())
	if err != nil {
		c.t.Fatalf("%s status: %v", n.ID, err)
	}
	return st
}
