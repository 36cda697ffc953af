package tlsutil

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pki writes a CA, two node certificates and a client certificate.
type pki struct {
	dir    string
	caCert []byte
	caKey  []byte
}

func newPKI(t *testing.T) *pki { return newPKIAt(t, time.Time{}) }

func newPKIAt(t *testing.T, now time.Time) *pki {
	t.Helper()
	c, k, err := CreateCA(CAOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), caCert: c, caKey: k}
	p.write(t, "ca.pem", c)
	return p
}

func (p *pki) write(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) issue(t *testing.T, o CertOptions, name string) Files {
	t.Helper()
	c, k, err := CreateCert(p.caCert, p.caKey, o)
	if err != nil {
		t.Fatal(err)
	}
	return Files{CA: filepath.Join(p.dir, "ca.pem"), Cert: p.write(t, name+".pem", c), Key: p.write(t, name+"-key.pem", k)}
}

func load(t *testing.T, f Files) *Bundle {
	t.Helper()
	b, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// handshake runs one TLS handshake over a pipe and returns the server's
// and the client's errors.
func handshake(srv, cli *tls.Config) (error, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	errs := make(chan error, 1)
	go func() {
		s := tls.Server(a, srv)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{1}) // lets a client see a late rejection
		}
		errs <- err
		a.Close()
	}()
	c := tls.Client(b, cli)
	cerr := c.Handshake()
	if cerr == nil {
		_, cerr = c.Read(make([]byte, 1))
	}
	b.Close()
	return <-errs, cerr
}

func TestNodesAuthenticateEachOther(t *testing.T) {
	p := newPKI(t)
	n1 := load(t, p.issue(t, CertOptions{Node: "n1"}, "n1"))
	n2 := load(t, p.issue(t, CertOptions{Node: "n2"}, "n2"))
	if n1.Identity != (Identity{KindNode, "n1"}) {
		t.Fatalf("identity %v", n1.Identity)
	}
	if serr, cerr := handshake(n1.NodeServer(), n2.NodeClient()); serr != nil || cerr != nil {
		t.Fatalf("node handshake: server %v, client %v", serr, cerr)
	}
}

func TestNodeListenerRefusesOthers(t *testing.T) {
	p := newPKIAt(t, time.Now().AddDate(0, 0, -10))
	n1 := load(t, p.issue(t, CertOptions{Node: "n1"}, "n1"))
	client := load(t, p.issue(t, CertOptions{Client: "ops"}, "ops"))
	noCert := load(t, Files{CA: filepath.Join(p.dir, "ca.pem")})
	other := newPKI(t)
	foreign := load(t, other.issue(t, CertOptions{Node: "n9"}, "n9"))
	expiredFiles := p.issue(t, CertOptions{Node: "n3", Days: 1, Now: time.Now().AddDate(0, 0, -3)}, "n3")
	if _, err := Load(expiredFiles); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("loading an expired certificate: %v", err)
	}
	expired, err := LoadAt(expiredFiles, func() time.Time { return time.Now().Add(-60 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	expired.Now = nil // it presents the certificate today
	for name, cli := range map[string]*Bundle{"client certificate": client, "no certificate": noCert,
		"foreign CA": foreign, "expired": expired} {
		serr, _ := handshake(n1.NodeServer(), cli.NodeClient())
		if serr == nil {
			t.Errorf("%s: the node listener accepted it", name)
		}
	}
	// And a node never talks to a server outside the cluster.
	if _, cerr := handshake(foreign.NodeServer(), n1.NodeClient()); cerr == nil {
		t.Error("a node dialled a server of another CA")
	}
}

func TestAPIVerifyIncoming(t *testing.T) {
	p := newPKI(t)
	n1 := load(t, p.issue(t, CertOptions{Node: "n1"}, "n1"))
	client := load(t, p.issue(t, CertOptions{Client: "ops"}, "ops"))
	noCert := load(t, Files{CA: filepath.Join(p.dir, "ca.pem")})
	if serr, cerr := handshake(n1.APIServer(true), client.APIClient()); serr != nil || cerr != nil {
		t.Fatalf("client with a certificate: %v / %v", serr, cerr)
	}
	if serr, _ := handshake(n1.APIServer(true), noCert.APIClient()); serr == nil {
		t.Fatal("verify-incoming accepted a client without a certificate")
	}
	if serr, cerr := handshake(n1.APIServer(false), noCert.APIClient()); serr != nil || cerr != nil {
		t.Fatalf("without verify-incoming: %v / %v", serr, cerr)
	}
}

func TestLoadRefusesMismatches(t *testing.T) {
	p := newPKI(t)
	n1 := p.issue(t, CertOptions{Node: "n1"}, "n1")
	other := newPKI(t)
	cases := map[string]Files{
		"no CA":            {Cert: n1.Cert, Key: n1.Key},
		"cert without key": {CA: n1.CA, Cert: n1.Cert},
		"another CA":       {CA: filepath.Join(other.dir, "ca.pem"), Cert: n1.Cert, Key: n1.Key},
		"key of another":   {CA: n1.CA, Cert: n1.Cert, Key: p.issue(t, CertOptions{Node: "n2"}, "n2").Key},
	}
	for name, f := range cases {
		if _, err := Load(f); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, _, err := CreateCert(p.caCert, other.caKey, CertOptions{Node: "x"}); err == nil {
		t.Error("signed with a key that is not the CA's")
	}
	for _, o := range []CertOptions{{}, {Node: "a", Client: "b"}, {Node: "bad/name"}} {
		if _, _, err := CreateCert(p.caCert, p.caKey, o); err == nil {
			t.Errorf("%+v: created", o)
		}
	}
}

func TestIdentityOf(t *testing.T) {
	p := newPKI(t)
	b := load(t, p.issue(t, CertOptions{Client: "agent-7"}, "c"))
	if b.Identity != (Identity{KindClient, "agent-7"}) {
		t.Fatalf("identity %v", b.Identity)
	}
	ca, err := ParseCertPEM(p.caCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := IdentityOf(ca); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("CA identity: %v", err)
	}
}

// openssl reads the files: `openssl verify -CAfile` accepts the chain.
func TestOpenSSLReadsThem(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	p := newPKI(t)
	f := p.issue(t, CertOptions{Node: "n1", IPs: []net.IP{net.IPv4(10, 0, 0, 1)}, DNS: []string{"n1.example"}}, "n1")
	out, err := exec.Command("openssl", "verify", "-CAfile", f.CA, f.Cert).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %v: %s", err, out)
	}
	out, err = exec.Command("openssl", "x509", "-in", f.Cert, "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "URI:cnv://node/n1") || !strings.Contains(string(out), "10.0.0.1") {
		t.Fatalf("openssl x509: %v: %s", err, out)
	}
	if out, err := exec.Command("openssl", "pkey", "-in", f.Key, "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey: %v: %s", err, out)
	}
}
