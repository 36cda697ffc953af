package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/forward"
	"github.com/cnv-project/cnv/httpapi"
	"github.com/cnv-project/cnv/metrics"
	"github.com/cnv-project/cnv/mux"
	"github.com/cnv-project/cnv/peer"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/principal"
)

type agentFlags struct {
	nodeID, dataDir, raftAddr, httpAddr, advertise, apiAdvertise string
	bootstrap                                                    bool
	bootstrapExpect                                              int
	join, adminKeys                                              []string
	logLevel                                                     string
	logJSON, skipVerify                                          bool
	pprofAddr, hotAddr, tokenFile                                string
	gossip                                                       gossipFlags
	joinTimeout                                                  time.Duration
	snapThreshold, trailingLogs                                  uint64
	snapInterval                                                 time.Duration
	// hooks are the fault injector's controls; only a binary built with
	// the cnvtest tag has flags that set them.
	hooks testHooks
	tls   tlsFlags
}

func newAgentCmd() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent --node-id ID --data-dir DIR --raft-addr HOST:PORT --http-addr HOST:PORT",
		Short: "Run a cnv server node",
		Long: `Run a cnv server node: Raft over --raft-addr, the HTTP API on --http-addr.

A new cluster starts with --bootstrap on one node (or --bootstrap-expect N with
--join listing the other initial members on every one of them); other nodes
start with --join MEMBER (a member's HTTP address). A node restarted on the same
data dir comes back with its state and never bootstraps again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAgent(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nodeID, "node-id", "", "node ID (required)")
	fl.StringVar(&f.dataDir, "data-dir", "", "data directory (required)")
	fl.StringVar(&f.raftAddr, "raft-addr", "127.0.0.1:7001", "Raft bind address")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8001", "HTTP API bind address")
	fl.StringVar(&f.advertise, "advertise", "", "Raft address peers dial (default: --raft-addr)")
	fl.StringVar(&f.apiAdvertise, "api-advertise", "", "HTTP address peers dial (default: --http-addr)")
	fl.BoolVar(&f.bootstrap, "bootstrap", false, "start a new single-node cluster (only when the data dir has no Raft state)")
	fl.IntVar(&f.bootstrapExpect, "bootstrap-expect", 0, "start a new cluster once this many servers (this one and --join) are up")
	fl.StringSliceVar(&f.join, "join", nil, "members' HTTP addresses to join (comma-separated or repeated)")
	fl.DurationVar(&f.joinTimeout, "join-timeout", 60*time.Second, "give up joining after this long")
	fl.StringSliceVar(&f.adminKeys, "admin-key", nil, "admin public key file(s) installed when the cluster bootstraps")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fl.BoolVar(&f.logJSON, "log-json", false, "log as JSON")
	fl.BoolVar(&f.skipVerify, "skip-start-verify", false, "skip verifying state.db (structure and every event against the Merkle tree) at start; ~2.6s per million events")
	fl.StringVar(&f.tokenFile, "cluster-token-file", "", "file holding the cluster token that joins, leaves, removes and node-to-node calls must carry (recommended beyond loopback)")
	fl.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's net/http/pprof on this address (profiling; off by default)")
	addGossipFlags(fl, &f.gossip)
	fl.StringVar(&f.hotAddr, "hot-addr", "", "serve the hot-path protocol (certified FastPath sessions) on this address (off by default)")
	fl.Uint64Var(&f.snapThreshold, "raft-snapshot-threshold", 0, "snapshot once this many entries were applied since the last (default 8192)")
	fl.Uint64Var(&f.trailingLogs, "raft-trailing-logs", 0, "entries kept in the log after a snapshot, so a slightly lagging follower needs no snapshot install (default 10240)")
	fl.DurationVar(&f.snapInterval, "raft-snapshot-interval", 0, "how often to check whether to snapshot (default 30s)")
	addTLSFlags(fl, &f.tls)
	addTestHooks(fl, &f.hooks)
	return cmd
}

func runAgent(cmd *cobra.Command, f agentFlags) error {
	if f.nodeID == "" || (f.dataDir == "" && !f.gossip.edge) {
		return exitWith(exitUsage, "--node-id and --data-dir are required (an --edge node needs only --node-id)")
	}
	if f.bootstrap && f.bootstrapExpect > 0 {
		return exitWith(exitUsage, "--bootstrap and --bootstrap-expect are exclusive")
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "cnv", Level: hclog.LevelFromString(f.logLevel), Output: cmd.ErrOrStderr(), JSONFormat: f.logJSON})
	if f.gossip.edge {
		return runEdge(f, log)
	}
	admins, err := loadAdminKeys(f.adminKeys)
	if err != nil {
		return inputErr(err)
	}
	dial, err := f.hooks.dialer()
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	tlsb, err := f.tls.load(f.nodeID)
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	if err := f.tls.requireSecure(tlsb, f.raftAddr, f.httpAddr, f.gossip.addr, f.hotAddr, f.advertise, f.apiAdvertise); err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	raftLn, err := net.Listen("tcp", f.raftAddr)
	if err != nil {
		return exitWith(exitError, "raft listener: %v", err)
	}
	apiLn, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		raftLn.Close()
		return exitWith(exitError, "http listener: %v", err)
	}
	reg := metrics.New()
	if err := reg.BridgeRaft(); err != nil {
		return exitWith(exitError, "metrics: %v", err)
	}
	token, err := readToken(f.tokenFile)
	if err != nil {
		return inputErr(err)
	}
	// The Raft port carries Raft and the node-to-node calls; it proves
	// every connection (the cluster token's challenge) before anything
	// reads a byte from it.
	mcfg := mux.Config{Token: token, Dial: dial.Timeout, Idle: 2 * time.Minute, Logger: log}
	muxTLS(&mcfg, tlsb)
	rmux, err := mux.New(raftLn, mcfg)
	if err != nil {
		raftLn.Close()
		apiLn.Close()
		return exitWith(exitError, "raft port: %v", err)
	}
	raftLayer := rmux.Listen(cluster.MuxRaft)
	peers := peer.New(client.Options{Timeout: 10 * time.Second, Dial: dial.Context, Token: token, TLS: apiClientTLS(tlsb)}).
		WithMembers(muxDialer(rmux, cluster.MuxRPC), 30*time.Second)
	fwd := forward.New(forward.Config{Peers: peers, Logger: log, Registerer: reg})
	apiAddr := orDefault(f.apiAdvertise, apiLn.Addr().String())
	gcfg, err := f.gossip.config(peers)
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	gossipAdmission(gcfg, f.nodeID, orDefault(f.advertise, raftLn.Addr().String()), token, tlsb, rmux)
	node, err := cluster.New(cluster.Config{
		Gossip: gcfg,
		NodeID: f.nodeID, DataDir: f.dataDir, RaftListener: raftLayer, RaftAdvertise: f.advertise,
		APIAddr: apiAddr, Bootstrap: f.bootstrap, AdminKeys: admins, Remote: fwd,
		Dial: raftLayer.Dial, Logger: log, Clock: f.hooks.clock(),
		SnapshotThreshold: f.snapThreshold, TrailingLogs: f.trailingLogs, SnapshotInterval: f.snapInterval,
		SkipVerifyOnStart: f.skipVerify, Metrics: reg,
	})
	if err != nil {
		apiLn.Close()
		return exitWith(exitError, "%v", err)
	}
	left := make(chan struct{})
	fwd.Attach(node)
	srv := httpapi.NewServer(httpapi.Config{Node: node, State: node.FSM(), Ledger: node.Store(), Forward: fwd,
		Metrics: reg.Handler(), Registerer: reg, Logger: log, Token: token, TLS: tlsb != nil,
		OnLeave: func() { close(left) }})
	go srv.Serve(apiTLS(apiLn, tlsb, f.tls.verifyIncoming))
	go srv.ServeInternal(rmux.Listen(cluster.MuxRPC))
	if f.pprofAddr != "" {
		go servePprof(f.pprofAddr, log)
	}
	hot, err := startHot(f.hotAddr, node, f.hooks.clock(), reg, tlsb, log)
	if err != nil {
		shutdown(srv, node, log)
		return exitWith(exitError, "hot path: %v", err)
	}
	log.Info("cnv-node ready", "node_id", f.nodeID, "http", apiAddr, "raft", raftLn.Addr().String())
	join := startMembership
	if gcfg != nil {
		join = startMembershipGossip
	}
	if err := join(node, peers.API(), f, log); err != nil {
		stopHot(hot, log)
		shutdown(srv, node, log)
		return exitWith(joinExit(err), "%v", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case s := <-sig:
		log.Info("signal received; shutting down", "signal", s.String())
	case <-left:
		log.Info("left the cluster; shutting down")
	}
	stopHot(hot, log)
	shutdown(srv, node, log)
	return nil
}

// joinExit is the exit code of a join the cluster refused as it would a
// CLI's request (a duplicate id is 4, a wrong token 3); anything else 1.
func joinExit(err error) int {
	switch k := cnverr.KindOf(err); k {
	case cnverr.Conflict, cnverr.PermissionDenied, cnverr.Unauthenticated, cnverr.InvalidInput:
		return codeOfKind(k)
	}
	return exitError
}

func shutdown(srv *httpapi.Server, node *cluster.Node, log hclog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	if err := node.Shutdown(); err != nil {
		log.Warn("raft shutdown", "error", err)
	}
}

// startMembership joins or bootstraps as the flags ask. A node with Raft
// state already rejoins through its stored configuration.
func startMembership(node *cluster.Node, cl *client.Client, f agentFlags, log hclog.Logger) error {
	if node.HasState() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.joinTimeout)
	defer cancel()
	if f.bootstrapExpect > 0 {
		return bootstrapExpect(ctx, node, cl, f, log)
	}
	if len(f.join) > 0 {
		return node.Join(ctx, f.join)
	}
	return nil
}

// startMembershipGossip is startMembership for a node that gossips: it
// also joins the gossip pool (a restarted node too).
func startMembershipGossip(node *cluster.Node, cl *client.Client, f agentFlags, log hclog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), f.joinTimeout)
	defer cancel()
	if !node.HasState() && f.bootstrapExpect > 0 {
		if err := bootstrapExpect(ctx, node, cl, f, log); err != nil {
			return err
		}
	}
	if len(f.join) == 0 {
		return nil
	}
	return joinWithGossip(ctx, node, cl, f.join, log)
}

// bootstrapExpect waits until --bootstrap-expect servers answer (this one
// and those at --join), then bootstraps them all with the same sorted
// configuration; if one of them already belongs to a cluster, it joins
// instead.
func bootstrapExpect(ctx context.Context, node *cluster.Node, cl *client.Client, f agentFlags, log hclog.Logger) error {
	for {
		peers := []cluster.Peer{{ID: f.nodeID, RaftAddr: node.RaftAddr()}}
		existing := false
		for _, a := range f.join {
			st, err := cl.Status(ctx, a)
			if err != nil {
				continue
			}
			if st.LeaderID != "" || st.LastIndex > 0 {
				existing = true
			}
			peers = append(peers, cluster.Peer{ID: st.NodeID, RaftAddr: st.RaftAddr})
		}
		if existing {
			log.Info("a member already belongs to a cluster; joining it")
			return node.Join(ctx, f.join)
		}
		if len(peers) >= f.bootstrapExpect {
			sort.Slice(peers, func(i, j int) bool { return peers[i].ID < peers[j].ID })
			return node.BootstrapWith(peers)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bootstrap-expect %d: only %d servers answered before the timeout", f.bootstrapExpect, len(peers))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func loadAdminKeys(files []string) ([]ed25519.PublicKey, error) {
	var out []ed25519.PublicKey
	for _, f := range files {
		pub, err := principal.LoadPublic(f)
		if err != nil {
			return nil, fmt.Errorf("--admin-key %s: %w", f, err)
		}
		out = append(out, pub)
	}
	return out, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// servePprof serves the profiling endpoints on their own listener, never
// on the API.
func servePprof(addr string, log hclog.Logger) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.ListenAndServe(); err != nil {
		log.Warn("pprof server stopped", "error", err)
	}
}

// readToken reads a cluster token file ("" when no file is given).
func readToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := readFileLimit(path, 4096)
	if err != nil {
		return "", fmt.Errorf("--cluster-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", fmt.Errorf("--cluster-token-file: the token must have at least 16 characters")
	}
	return tok, nil
}

// muxDialer dials protocol proto of the mux at a member's Raft address,
// within ctx's deadline.
func muxDialer(m *mux.Mux, proto byte) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		timeout := 10 * time.Second
		if d, ok := ctx.Deadline(); ok {
			timeout = time.Until(d)
		}
		return m.Dial(proto, addr, timeout)
	}
}
