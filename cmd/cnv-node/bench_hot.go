package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	hotclient "github.com/cnv-project/cnv/hot/client"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// hotBench is `cnv-node bench --hot`.
type hotBench struct {
	apiAddrs, hotAddrs []string
	key                ed25519.PrivateKey
	capPath            string
	connections        int
	pipeline           int
	duration           time.Duration
	argsLen            int
	// maxUses > 0 runs the sessions as a delegated agent under a link with
	// that max_uses, so every session leases its uses through Raft.
	maxUses uint64
	// tls, when set, speaks TLS to the API and the hot path.
	tls *tls.Config
}

// runHotBench registers the hot capabilities, obtains one certificate per
// connection through the API, opens a session per connection (round-robin
// over the hot addresses) and runs the closed-loop load.
func runHotBench(cmd *cobra.Command, b hotBench) error {
	if len(b.hotAddrs) == 0 || b.hotAddrs[0] == "" {
		return exitWith(exitUsage, "--hot needs --hot-addr (the nodes' hot-path addresses)")
	}
	if b.connections < 1 || b.connections > limits.MaxBatchInvocations {
		return exitWith(exitUsage, "--connections must be between 1 and %d", limits.MaxBatchInvocations)
	}
	cl := client.New(client.Options{Key: b.key, Timeout: 30 * time.Second, TLS: b.tls})
	defer cl.Close()
	ctx := cmd.Context()
	var chain [][]byte
	var err error
	if b.maxUses > 0 {
		if cl, chain, err = hotAgent(ctx, cl, &b); err != nil {
			return err
		}
		defer cl.Close()
	}
	certs, err := hotCertificates(ctx, cl, b.apiAddrs[0], b.capPath, b.connections, chain)
	if err != nil {
		return err
	}
	sessions, closeAll, err := openHotSessions(ctx, b, certs)
	defer closeAll()
	if err != nil {
		return exitWith(hotExitCode(err), "%v", err)
	}
	cfg := hotclient.LoadConfig{Sessions: sessions, Nodes: len(b.hotAddrs), Duration: b.duration, Pipeline: b.pipeline,
		Args: []byte(strings.Repeat("x", b.argsLen))}
	if isTerminal(os.Stderr) && !jsonOutput(cmd) {
		cfg.Progress = func(el time.Duration, n, e int64) {
			fmt.Fprintf(cmd.ErrOrStderr(), "\r%5.1fs  %10d ok  %10.0f/s  %d errors ", el.Seconds(), n, float64(n)/el.Seconds(), e)
		}
	}
	rep, err := hotclient.RunLoad(ctx, cfg)
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cmd.ErrOrStderr())
	}
	return emit(cmd, rep, func(w io.Writer) { printHotBench(w, rep) })
}

// hotAgent registers a fresh agent principal, delegates hot.* to it from
// the admin key with max_uses, and returns a client signing as the agent
// and the chain; the sessions then run as that agent (b.key changes).
func hotAgent(ctx context.Context, admin *client.Client, b *hotBench) (*client.Client, [][]byte, error) {
	pub, priv, err := principal.Generate(nil)
	if err != nil {
		return nil, nil, err
	}
	id := "bench-" + string(principal.IDOf(pub))[2:10]
	doc, _ := json.Marshal(map[string]any{"public_key": []byte(pub), "agent_id": id, "agent_type": principal.Agent,
		"tenant": principal.DefaultTenant})
	if _, err := admin.Invoke(ctx, b.apiAddrs[0], invocationOf("principal.register", doc)); err != nil {
		return nil, nil, remoteErr(err)
	}
	cons, err := delegation.NewConstraints([]string{"hot.*"}, nil, []string{"**"}, []string{"*"}, capability.LevelPrivileged)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	link, err := delegation.Issue(b.key, delegation.Grant{Audience: pub, Constraints: cons, NotBefore: now.Add(-time.Minute).UnixNano(),
		NotAfter: now.Add(time.Hour).UnixNano(), MaxUses: b.maxUses}, nil, rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tok, err := delegation.Encode(link)
	if err != nil {
		return nil, nil, err
	}
	b.key = priv
	return client.New(client.Options{Key: priv, Timeout: 30 * time.Second, TLS: b.tls}), [][]byte{tok}, nil
}

// hotCertificates invokes capPath n times in one signed batch and returns
// the certificates' wire-form JSON.
func hotCertificates(ctx context.Context, cl *client.Client, addr, capPath string, n int, chain [][]byte) ([][]byte, error) {
	invs := make([]invocation.Invocation, n)
	for i := range invs {
		invs[i] = invocation.Invocation{Capability: capPath, Chain: chain}
	}
	outs, err := cl.Invoke(ctx, addr, invs...)
	if err != nil {
		return nil, remoteErr(err)
	}
	certs := make([][]byte, 0, n)
	for _, o := range outs {
		if o.Decision != "allow" || o.Certificate == nil {
			return nil, exitWith(exitDenied, "certificate for %s: %s %s", capPath, o.Decision, o.Reason)
		}
		b, err := json.Marshal(&o)
		if err != nil {
			return nil, err
		}
		certs = append(certs, b)
	}
	return certs, nil
}

// openHotSessions dials one connection per certificate and opens its
// session; closeAll closes whatever was opened.
func openHotSessions(ctx context.Context, b hotBench, certs [][]byte) ([]*hotclient.Session, func(), error) {
	var conns []*hotclient.Conn
	var sessions []*hotclient.Session
	closeAll := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range sessions {
			s.Close(cctx)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	for i, cert := range certs {
		addr := b.hotAddrs[i%len(b.hotAddrs)]
		conn, err := hotclient.Dial(addr, hotclient.Options{Key: b.key, Name: "cnv-node bench --hot", TLS: b.tls})
		if err != nil {
			return nil, closeAll, fmt.Errorf("%s: %w", addr, err)
		}
		conns = append(conns, conn)
		s, err := conn.OpenSession(ctx, cert)
		if err != nil {
			return nil, closeAll, fmt.Errorf("%s: open session: %w", addr, err)
		}
		sessions = append(sessions, s)
	}
	return sessions, closeAll, nil
}

func printHotBench(w io.Writer, r *hotclient.LoadReport) {
	fmt.Fprintf(w, "hot path: %d connections, pipeline %d, %d nodes, %.1fs\n", r.Clients, r.Batch, r.Nodes, r.DurationS)
	fmt.Fprintf(w, "ok          %d (%.0f/s)\nrefused     %d\nerrors      %d\n", r.Committed, r.Throughput, r.Refused, r.Errors)
	fmt.Fprintf(w, "latency     p50 %.3f ms  p99 %.3f ms  p99.9 %.3f ms  max %.3f ms (per invocation)\n", r.P50ms, r.P99ms, r.P999ms, r.MaxMs)
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error %s\n", r.FirstError)
	}
}
