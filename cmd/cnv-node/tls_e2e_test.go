package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/internal/testcluster"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/tlsutil"
)

// tlsDir makes a CA, node certificates for ids and a client certificate
// "ops" in dir with the CLI.
func tlsDir(t *testing.T, bin, dir string, ids ...string) {
	t.Helper()
	if out, code := runBin(t, bin, "tls", "ca", "create", "--dir", dir); code != 0 {
		t.Fatalf("tls ca create: %s", out)
	}
	for _, id := range ids {
		if out, code := runBin(t, bin, "tls", "cert", "create", "--node", id, "--dir", dir); code != 0 {
			t.Fatalf("tls cert create %s: %s", id, out)
		}
	}
	if out, code := runBin(t, bin, "tls", "cert", "create", "--client", "ops", "--dir", dir); code != 0 {
		t.Fatalf("tls cert create --client: %s", out)
	}
}

func tlsArgs(dir, id string) []string {
	return []string{"--tls-ca", filepath.Join(dir, "cnv-ca.pem"), "--tls-cert", filepath.Join(dir, "node-"+id+".pem"),
		"--tls-key", filepath.Join(dir, "node-"+id+"-key.pem")}
}

func tlsClient(t *testing.T, dir, cert string, key ed25519.PrivateKey) *client.Client {
	t.Helper()
	f := tlsutil.Files{CA: filepath.Join(dir, "cnv-ca.pem")}
	if cert != "" {
		f.Cert, f.Key = filepath.Join(dir, cert+".pem"), filepath.Join(dir, cert+"-key.pem")
	}
	b, err := tlsutil.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return client.New(client.Options{TLS: b.APIClient(), Key: key, Timeout: 5 * time.Second})
}

// With TLS, Raft, node-to-node calls and the API are TLS, and a process
// without a certificate of the cluster's CA cannot join, forward, or take
// part in Raft; with --verify-incoming it cannot even read.
func TestTLSCluster(t *testing.T) {
	bin, dir, admin, procs := processCluster(t, 3)
	pki := filepath.Join(dir, "pki")
	tlsDir(t, bin, pki, "n1", "n2", "n3", "n4")
	other := filepath.Join(dir, "other")
	tlsDir(t, bin, other, "n9")
	for i, p := range procs {
		p.args = append(p.args, tlsArgs(pki, p.id)...)
		p.args = append(p.args, "--verify-incoming")
		if i == 0 {
			p.args = append(p.args, "--bootstrap")
		} else {
			p.args = append(p.args, "--join", procs[0].http)
		}
		p.start(t, bin)
	}
	adminKey, err := principal.LoadPrivate(admin + ".key")
	if err != nil {
		t.Fatal(err)
	}
	ops := tlsClient(t, pki, "client-ops", adminKey)
	for _, p := range procs {
		testcluster.WaitFor(t, p.id+" ready", 30*time.Second, func() error { return ops.Get(context.Background(), p.http, "/readyz", nil) })
	}
	if _, err := ops.Invoke(context.Background(), procs[2].http, invocation.Invocation{Capability: "ledger.checkpoint", RequestID: "tls-1"}); err != nil {
		t.Fatalf("invoke over TLS through a follower: %v", err)
	}
	// Without a client certificate, or with another CA's, nothing answers.
	for name, cl := range map[string]*client.Client{"no client certificate": tlsClient(t, pki, "", adminKey),
		"another CA": tlsClient(t, other, "node-n9", adminKey)} {
		if err := cl.Get(context.Background(), procs[0].http, "/v1/cluster/status", nil); err == nil {
			t.Errorf("%s: the API answered", name)
		}
	}
	if err := client.New(client.Options{Timeout: 2 * time.Second}).Get(context.Background(), procs[0].http, "/v1/cluster/status", nil); err == nil {
		t.Error("plain HTTP: the API answered")
	}
	// Raft's own transport, plaintext: the Raft port gives it nothing.
	tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, 2*time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var resp raft.AppendEntriesResponse
	if err := tr.AppendEntries("n2", raft.ServerAddress(procs[1].raft), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("n1")}, Term: math.MaxUint64}, &resp); err == nil {
		t.Error("a plaintext AppendEntries reached Raft")
	}
	// A node with another CA's certificate, or none, cannot join.
	rogue := &proc{id: "n9", raft: freeAddr(t), http: freeAddr(t), dir: filepath.Join(dir, "n9")}
	rogue.args = append([]string{"agent", "--node-id", "n9", "--data-dir", rogue.dir, "--raft-addr", rogue.raft, "--http-addr", rogue.http,
		"--join", procs[0].http, "--join-timeout", "3s", "--log-level", "warn"}, tlsArgs(other, "n9")...)
	t.Cleanup(rogue.kill)
	rogue.start(t, bin)
	if err := rogue.cmd.Wait(); err == nil {
		t.Error("a node with another CA's certificate joined")
	}
	// A node with its own valid certificate cannot take another's id.
	c4 := tlsClient(t, pki, "node-n4", nil)
	err = c4.Do(context.Background(), "POST", procs[0].http, "/v1/cluster/join",
		map[string]any{"node_id": "n2", "raft_addr": "127.0.0.1:1", "api_addr": "127.0.0.1:2"}, nil, nil)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(ae.Error(), "n4") {
		t.Fatalf("n4's certificate joining as n2: %v", err)
	}
	ms, err := ops.Members(context.Background(), procs[0].http)
	if err != nil || len(ms) != 3 {
		t.Fatalf("members after the attempts: %v %+v", err, ms)
	}
}
