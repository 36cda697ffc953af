package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/tlsutil"
)

// upSecurity is what cluster up runs its nodes with: TLS material and a
// gossip key (both nil with --insecure), and a client for the nodes.
type upSecurity struct {
	dir       string
	tls       *tlsutil.Files // the CLI's: the CA and the "ops" client certificate
	gossipKey string
	client    *client.Client
}

// ensureSecurity makes, on the first run, a CA with a node certificate
// per node and a client certificate "ops" in DIR/tls, and a gossip key in
// DIR/gossip.key; later runs reuse them.
func ensureSecurity(f upFlags) (*upSecurity, error) {
	sec := &upSecurity{dir: filepath.Join(f.dataDir, "tls")}
	if f.insecure {
		sec.client = client.New(client.Options{Timeout: 2 * time.Second})
		return sec, nil
	}
	if err := ensureCA(sec.dir); err != nil {
		return nil, err
	}
	for i := 0; i < f.nodes; i++ {
		if err := ensureCert(sec.dir, tlsutil.CertOptions{Node: fmt.Sprintf("n%d", i+1)}); err != nil {
			return nil, err
		}
	}
	if err := ensureCert(sec.dir, tlsutil.CertOptions{Client: "ops"}); err != nil {
		return nil, err
	}
	cert, key := clientCertFiles("ops")
	sec.tls = &tlsutil.Files{CA: filepath.Join(sec.dir, caCertFile), Cert: filepath.Join(sec.dir, cert), Key: filepath.Join(sec.dir, key)}
	b, err := tlsutil.Load(*sec.tls)
	if err != nil {
		return nil, err
	}
	sec.client = client.New(client.Options{Timeout: 2 * time.Second, TLS: b.APIClient()})
	if f.gossipPort > 0 {
		sec.gossipKey = filepath.Join(f.dataDir, "gossip.key")
		if err := ensureGossipKey(sec.gossipKey); err != nil {
			return nil, err
		}
	}
	return sec, nil
}

// agentArgs are the TLS and gossip-key flags of node id.
func (s *upSecurity) agentArgs(id string, verifyIncoming bool) []string {
	if s.tls == nil {
		return nil
	}
	cert, key := nodeCertFiles(id)
	a := []string{"--tls-ca", s.tls.CA, "--tls-cert", filepath.Join(s.dir, cert), "--tls-key", filepath.Join(s.dir, key)}
	if verifyIncoming {
		a = append(a, "--verify-incoming")
	}
	if s.gossipKey != "" {
		a = append(a, "--gossip-key", s.gossipKey)
	}
	return a
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func ensureCA(dir string) error {
	if ok, err := exists(filepath.Join(dir, caCertFile)); ok || err != nil {
		return err
	}
	c, k, err := tlsutil.CreateCA(tlsutil.CAOptions{Name: "cnv local cluster CA"})
	if err != nil {
		return err
	}
	_, err = writeCertPair(dir, caCertFile, caKeyFile, c, k)
	return err
}

func ensureCert(dir string, o tlsutil.CertOptions) error {
	cert, key := nodeCertFiles(o.Node)
	if o.Client != "" {
		cert, key = clientCertFiles(o.Client)
	}
	if ok, err := exists(filepath.Join(dir, cert)); ok || err != nil {
		return err
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return err
	}
	c, k, err := tlsutil.CreateCert(caPEM, keyPEM, o)
	if err != nil {
		return err
	}
	_, err = writeCertPair(dir, cert, key, c, k)
	return err
}

func ensureGossipKey(path string) error {
	if ok, err := exists(path); ok || err != nil {
		return err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600)
}
