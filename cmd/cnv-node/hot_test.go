package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hotserver "github.com/cnv-project/cnv/hot/server"
	"github.com/cnv-project/cnv/ledger/cert/certtest"
	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/clock"
	"github.com/cnv-project/cnv/runtime/hotpath"
	"github.com/cnv-project/cnv/runtime/principal"
)

// hotServer starts a dispatcher with the built-ins behind a hot-path server
// trusting a fresh node key, and returns its address and a certificate
// issuer for the counter.
func hotServer(t *testing.T) (string, func(holder []byte) []byte) {
	t.Helper()
	dc := hotpath.DefaultConfig()
	dc.Shards = 1
	d, err := hotpath.New(dc)
	if err != nil {
		t.Fatal(err)
	}
	cat := hotserver.NewCatalog()
	if _, err := hotserver.RegisterBuiltins(d, cat, hotserver.BuiltinOptions{Timeout: 10 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := principal.Generate(nil)
	auth, err := hotserver.NewCertAuthority(certificate.NewTrust(pub), cat, clock.System{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := hotserver.New(hotserver.Config{Dispatcher: d, Authority: auth, NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		d.Stop(context.Background())
	})
	issue := func(holder []byte) []byte {
		return certtest.JSON(certtest.Spec{Capability: hotserver.CounterPath, Effects: capability.Effects{capability.MutateState},
			Holder: holder, AgentID: "a1", Tenant: "t", RequestID: "r1", Time: time.Now().UnixNano()}, priv)
	}
	return l.Addr().String(), issue
}

func runHot(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errb)
	code := exitOK
	if err := root.Execute(); err != nil {
		code = exitError
		if ee, ok := err.(*exitError_); ok {
			code = ee.code
		}
		errb.WriteString(err.Error())
	}
	return code, out.String(), errb.String()
}

func TestHotSession(t *testing.T) {
	addr, issue := hotServer(t)
	dir := t.TempDir()
	pub, priv, _ := principal.Generate(nil)
	if err := principal.WriteKeyPair(filepath.Join(dir, "agent"), pub, priv); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "cert.json")
	if err := os.WriteFile(certFile, issue(pub), 0o600); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "agent.key")
	// The first address is dead: the session opens on the next.
	code, out, errs := runHot(t, "2\n\n40\n", "hot", "session", "--addr", deadAddr(t)+","+addr, "--key", key, "--certificate", certFile)
	if code != exitOK || out != "2\n42\n" || !strings.Contains(errs, "2 ok, 0 failed") {
		t.Fatalf("code %d out %q err %q", code, out, errs)
	}
	code, out, _ = runHot(t, "x\n1\n", "hot", "session", "--json", "--addr", addr, "--key", key, "--certificate", certFile)
	if code != exitError || !strings.Contains(out, "error: InvalidInput") || !strings.Contains(out, `"accepted": 2`) {
		t.Fatalf("code %d out %q", code, out)
	}
	// A certificate issued to another key is refused: exit code 3.
	other := filepath.Join(dir, "other")
	opub, opriv, _ := principal.Generate(nil)
	if err := principal.WriteKeyPair(other, opub, opriv); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runHot(t, "", "hot", "session", "--addr", addr, "--key", other+".key", "--certificate", certFile)
	if code != exitDenied || !strings.Contains(errs, "another key") {
		t.Fatalf("code %d err %q", code, errs)
	}
}
