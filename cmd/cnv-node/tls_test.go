package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/tlsutil"
)

func TestTLSCommands(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := cli(t, "tls", "cert", "create", "--node", "n1", "--dir", dir); code != exitUsage || !strings.Contains(errOut, "tls ca create") {
		t.Fatalf("cert before a CA: %d %q", code, errOut)
	}
	if _, errOut, code := cli(t, "tls", "ca", "create", "--dir", dir); code != 0 {
		t.Fatalf("ca create: %d %s", code, errOut)
	}
	if _, _, code := cli(t, "tls", "cert", "create", "--node", "n1", "--ip", "10.0.0.7", "--dir", dir); code != 0 {
		t.Fatal("node cert")
	}
	if _, _, code := cli(t, "tls", "cert", "create", "--client", "ops", "--dir", dir); code != 0 {
		t.Fatal("client cert")
	}
	for _, bad := range [][]string{{"--node", "n1"}, {"--node", "a", "--client", "b"}, {}, {"--node", "no/slash"}} {
		args := append([]string{"tls", "cert", "create", "--dir", dir}, bad...)
		if _, _, code := cli(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
	if _, _, code := cli(t, "tls", "ca", "create", "--dir", dir); code != exitUsage {
		t.Error("overwrote the CA")
	}
	b, err := tlsutil.Load(tlsutil.Files{CA: filepath.Join(dir, "cnv-ca.pem"), Cert: filepath.Join(dir, "node-n1.pem"), Key: filepath.Join(dir, "node-n1-key.pem")})
	if err != nil || b.Identity != (tlsutil.Identity{Kind: tlsutil.KindNode, Name: "n1"}) {
		t.Fatalf("node cert loads as %v: %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "client-ops-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("client key mode: %v %v", fi, err)
	}
}
