package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
	"github.com/cnv-project/cnv/edge"
	"github.com/cnv-project/cnv/peer"
)

type gossipFlags struct {
	addr, advertise, keyFile string
	edge                     bool
	stabilization, deadAfter time.Duration
	profile                  string
}

func addGossipFlags(fl *pflag.FlagSet, g *gossipFlags) {
	fl.StringVar(&g.addr, "gossip-addr", "", "memberlist address (UDP and TCP); enables gossip membership, graph snapshots and autopilot")
	fl.StringVar(&g.advertise, "gossip-advertise", "", "gossip address others dial (default: --gossip-addr)")
	fl.StringVar(&g.keyFile, "gossip-key", "", "file holding the gossip encryption key (16, 24 or 32 bytes, raw or base64)")
	fl.BoolVar(&g.edge, "edge", false, "run an edge node: gossip only (no Raft, no ledger), graph reads, certificate checks, writes forwarded")
	fl.DurationVar(&g.stabilization, "autopilot-stabilization", 10*time.Second, "a new server stays a non-voter until caught up and healthy this long")
	fl.DurationVar(&g.deadAfter, "autopilot-dead-server", 2*time.Minute, "remove a server dead this long (only while a quorum remains)")
	fl.StringVar(&g.profile, "gossip-profile", "lan", "failure-detection timing: lan, or loopback for every member on one machine (sub-second detection)")
}

func (g *gossipFlags) timing() (gossip.Timing, error) {
	switch g.profile {
	case "", "lan":
		return gossip.Timing{}, nil
	case "loopback":
		return gossip.FastTiming(), nil
	}
	return gossip.Timing{}, fmt.Errorf("--gossip-profile %q: want lan or loopback", g.profile)
}

func (g *gossipFlags) secret() ([]byte, error) {
	if g.keyFile == "" {
		return nil, nil
	}
	b, err := readFileLimit(g.keyFile, 1024)
	if err != nil {
		return nil, fmt.Errorf("--gossip-key: %w", err)
	}
	return decodeGossipKey(b)
}

// gossipConfig is the server's gossip configuration (nil without
// --gossip-addr).
func (g *gossipFlags) config(peers *peer.Client) (*cluster.GossipConfig, error) {
	if g.addr == "" {
		return nil, nil
	}
	key, err := g.secret()
	if err != nil {
		return nil, err
	}
	timing, err := g.timing()
	if err != nil {
		return nil, err
	}
	pol := gossip.DefaultPolicy()
	pol.StabilizationTime, pol.DeadServerTimeout = g.stabilization, g.deadAfter
	return &cluster.GossipConfig{BindAddr: g.addr, AdvertiseAddr: g.advertise, SecretKey: key, Timing: timing,
		Autopilot: pol, Fetch: peers.GraphFetcher()}, nil
}

// gossipAddrs maps --join entries to gossip addresses: an HTTP API that
// answers contributes its node's gossip address; anything else is taken to
// be a gossip address already.
func gossipAddrs(ctx context.Context, cl *client.Client, join []string) (gossipJoin, httpJoin []string) {
	for _, a := range join {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := cl.Status(c, a)
		cancel()
		switch {
		case err == nil && st.GossipAddr != "":
			gossipJoin, httpJoin = append(gossipJoin, st.GossipAddr), append(httpJoin, a)
		case err == nil:
			httpJoin = append(httpJoin, a)
		default:
			gossipJoin = append(gossipJoin, a)
		}
	}
	return gossipJoin, httpJoin
}

// joinWithGossip joins the gossip pool and, for a node without Raft
// state, the cluster: through a member's API when one answers, else by
// waiting for the leader's autopilot to add it after hearing of it
// through gossip.
func joinWithGossip(ctx context.Context, node *cluster.Node, cl *client.Client, join []string, log hclog.Logger) error {
	g, h := gossipAddrs(ctx, cl, join)
	if len(g) > 0 {
		if n, err := node.JoinGossip(g); err != nil {
			log.Warn("gossip join failed", "addrs", g, "error", err)
		} else {
			log.Info("joined gossip", "members", n)
		}
	}
	if node.HasState() {
		return nil
	}
	if len(h) > 0 {
		return node.Join(ctx, h)
	}
	for !node.HasState() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not added to the cluster through gossip before the join timeout")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// runEdge runs an edge node until a signal.
func runEdge(f agentFlags, log hclog.Logger) error {
	if f.gossip.addr == "" {
		return exitWith(exitUsage, "--edge needs --gossip-addr")
	}
	key, err := f.gossip.secret()
	if err != nil {
		return inputErr(err)
	}
	timing, err := f.gossip.timing()
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	apiLn, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return exitWith(exitError, "http listener: %v", err)
	}
	peers := peer.New(client.Options{Timeout: 10 * time.Second})
	cl := peers.API()
	clk := f.hooks.clock()
	apiAddr := orDefault(f.apiAdvertise, apiLn.Addr().String())
	g, err := gossip.New(gossip.Config{NodeID: f.nodeID, Role: gossip.RoleEdge, BindAddr: f.gossip.addr, AdvertiseAddr: f.gossip.advertise,
		APIAddr: apiAddr, SecretKey: key, Timing: timing, Fetch: peers.GraphFetcher(), Logger: log, Clock: clk})
	if err != nil {
		apiLn.Close()
		return exitWith(exitError, "gossip: %v", err)
	}
	srv := edge.New(edge.Config{NodeID: f.nodeID, Gossip: g, Peers: peers, Clock: clk, Logger: log})
	go srv.Serve(apiLn)
	ctx, cancel := context.WithTimeout(context.Background(), f.joinTimeout)
	ga, _ := gossipAddrs(ctx, cl, f.join)
	cancel()
	if len(ga) > 0 {
		if _, err := g.Join(ga); err != nil {
			log.Warn("gossip join failed", "addrs", ga, "error", err)
		}
	}
	log.Info("cnv-node ready", "node_id", f.nodeID, "role", "edge", "http", apiAddr, "gossip", g.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	srv.Shutdown(sctx)
	g.Leave(time.Second)
	return g.Shutdown()
}
