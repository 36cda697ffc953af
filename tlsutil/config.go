package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// Files names the PEM files of one process: the cluster CA, and this
// process's certificate and key.
type Files struct {
	CA, Cert, Key string
}

// Enabled reports whether any TLS file is named.
func (f Files) Enabled() bool { return f.CA != "" || f.Cert != "" || f.Key != "" }

// Bundle is loaded TLS material.
type Bundle struct {
	pool *x509.CertPool
	cert *tls.Certificate // nil for a client that only verifies servers
	// Identity is what this process's certificate names (zero without one).
	Identity Identity
	// Now is the clock certificates are checked against (nil: time.Now).
	Now func() time.Time
}

// Load reads the files: the CA is required; the certificate and key go
// together, and the certificate must be valid now under the CA.
func Load(f Files) (*Bundle, error) { return LoadAt(f, time.Now) }

// LoadAt is Load with the clock that certificates are checked against.
func LoadAt(f Files, now func() time.Time) (*Bundle, error) {
	if f.CA == "" {
		return nil, errors.New("tlsutil: the CA file (--tls-ca) is required with TLS")
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tlsutil: %s holds no PEM certificate", f.CA)
	}
	b := &Bundle{pool: pool, Now: now}
	if f.Cert == "" && f.Key == "" {
		return b, nil
	}
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("tlsutil: a certificate needs its key and a key its certificate (--tls-cert and --tls-key)")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %w", err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tlsutil: %s: %w", f.Cert, err)
	}
	opts := x509.VerifyOptions{Roots: pool, CurrentTime: b.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, fmt.Errorf("tlsutil: %s is not signed by the CA in %s: %w", f.Cert, f.CA, err)
	}
	if b.Identity, err = IdentityOf(leaf); err != nil {
		return nil, fmt.Errorf("tlsutil: %s: %w", f.Cert, err)
	}
	cert.Leaf = leaf
	b.cert = &cert
	return b, nil
}

func (b *Bundle) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Pool is the CA pool.
func (b *Bundle) Pool() *x509.CertPool { return b.pool }

// NodeServer is the tls.Config of a node-to-node listener (Raft and
// internal calls): the peer must present a node certificate of the CA.
func (b *Bundle) NodeServer() *tls.Config {
	c := b.base()
	c.ClientAuth = tls.RequireAnyClientCert
	c.VerifyConnection = b.verifyPeer(x509.ExtKeyUsageClientAuth, KindNode)
	return c
}

// NodeClient is the tls.Config with which a node dials another node: the
// server must present a node certificate of the CA (node addresses are
// what Raft stores, so the identity, not the host name, is checked).
func (b *Bundle) NodeClient() *tls.Config {
	c := b.base()
	c.InsecureSkipVerify = true // the chain and identity are checked in VerifyConnection
	c.VerifyConnection = b.verifyPeer(x509.ExtKeyUsageServerAuth, KindNode)
	return c
}

// APIServer is the HTTP API's tls.Config; with verifyIncoming every
// client must present a certificate of the CA (node or client).
func (b *Bundle) APIServer(verifyIncoming bool) *tls.Config {
	c := b.base()
	if verifyIncoming {
		c.ClientAuth = tls.RequireAnyClientCert
		c.VerifyConnection = b.verifyPeer(x509.ExtKeyUsageClientAuth, "")
	} else {
		c.ClientAuth = tls.VerifyClientCertIfGiven
		c.ClientCAs = b.pool
	}
	return c
}

// APIClient is the tls.Config of an API client (the CLI, the SDK, a node
// calling another node's API): the server must present a node certificate
// of the CA; this process's certificate, if any, is offered.
func (b *Bundle) APIClient() *tls.Config { return b.NodeClient() }

func (b *Bundle) base() *tls.Config {
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: b.pool, Time: b.now}
	if b.cert != nil {
		cert := b.cert
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// verifyPeer checks the peer's chain against the CA for usage and, when
// kind is set, that its certificate names a cnv identity of that kind.
func (b *Bundle) verifyPeer(usage x509.ExtKeyUsage, kind Kind) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("tlsutil: the peer presented no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		opts := x509.VerifyOptions{Roots: b.pool, Intermediates: inter, CurrentTime: b.now(), KeyUsages: []x509.ExtKeyUsage{usage}}
		if _, err := leaf.Verify(opts); err != nil {
			return fmt.Errorf("tlsutil: peer certificate %q: %w", leaf.Subject.CommonName, err)
		}
		id, err := IdentityOf(leaf)
		if err != nil {
			return err
		}
		if kind != "" && id.Kind != kind {
			return fmt.Errorf("tlsutil: the peer is %s, not a %s", id, kind)
		}
		return nil
	}
}
