package tlsutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"
)

// Validity of what the CLI creates unless told otherwise.
const (
	DefaultCADays   = 5 * 365
	DefaultCertDays = 365
)

// CAOptions configure CreateCA.
type CAOptions struct {
	// Name is the CA's common name (default "cnv CA").
	Name string
	Days int
	// Now is the start of validity (default time.Now; tests pass their own).
	Now time.Time
}

// CreateCA returns a new self-signed CA certificate and its private key,
// both PEM.
func CreateCA(o CAOptions) (certPEM, keyPEM []byte, err error) {
	if o.Name == "" {
		o.Name = "cnv CA"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := nowOr(o.Now)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: o.Name, Organization: []string{"cnv"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.AddDate(0, 0, daysOr(o.Days, DefaultCADays)),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	k, err := encodeKey(key)
	return encodeCert(der), k, err
}

// CertOptions configure CreateCert: exactly one of Node and Client.
type CertOptions struct {
	// Node makes a node certificate for this node id (server and client
	// use); Client makes a client certificate for this name.
	Node, Client string
	// DNS and IPs are extra subject alternative names (a node certificate
	// always names localhost and 127.0.0.1, so loopback clusters work).
	DNS  []string
	IPs  []net.IP
	Days int
	Now  time.Time
}

// CreateCert returns a certificate signed by the CA and its private key.
func CreateCert(caCertPEM, caKeyPEM []byte, o CertOptions) (certPEM, keyPEM []byte, err error) {
	id, err := o.identity()
	if err != nil {
		return nil, nil, err
	}
	ca, caKey, err := parseCA(caCertPEM, caKeyPEM)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := nowOr(o.Now)
	tmpl := &x509.Certificate{
		SerialNumber:   serial(),
		Subject:        pkix.Name{CommonName: id.Name, Organization: []string{"cnv"}},
		NotBefore:      now.Add(-time.Minute),
		NotAfter:       now.AddDate(0, 0, daysOr(o.Days, DefaultCertDays)),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		URIs:           []*url.URL{id.URI()},
		DNSNames:       o.DNS,
		IPAddresses:    o.IPs,
		SubjectKeyId:   keyID(key.Public()),
		AuthorityKeyId: ca.SubjectKeyId,
	}
	if id.Kind == KindNode {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.DNSNames = appendNew(tmpl.DNSNames, "localhost")
		tmpl.IPAddresses = appendIP(tmpl.IPAddresses, net.IPv4(127, 0, 0, 1))
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	k, err := encodeKey(key)
	return encodeCert(der), k, err
}

func (o CertOptions) identity() (Identity, error) {
	switch {
	case o.Node != "" && o.Client != "":
		return Identity{}, errors.New("tlsutil: a certificate is for a node or for a client, not both")
	case o.Node != "":
		return newIdentity(KindNode, o.Node)
	case o.Client != "":
		return newIdentity(KindClient, o.Client)
	}
	return Identity{}, errors.New("tlsutil: name the node (--node ID) or the client (--client NAME)")
}

func parseCA(certPEM, keyPEM []byte) (*x509.Certificate, crypto.Signer, error) {
	ca, err := ParseCertPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, nil, errors.New("tlsutil: the CA certificate is not a CA")
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("tlsutil: CA key: %w", err)
	}
	pub, ok := key.Public().(*ecdsa.PublicKey)
	if caPub, isEC := ca.PublicKey.(*ecdsa.PublicKey); !ok || !isEC || !pub.Equal(caPub) {
		return nil, nil, errors.New("tlsutil: the CA key does not belong to the CA certificate")
	}
	return ca, key, nil
}

// ParseCertPEM parses the first certificate in a PEM file.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New("no CERTIFICATE block")
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

// ParseKeyPEM parses a PKCS#8 or SEC 1 private key.
func ParseKeyPEM(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("unsupported key type")
	}
	return x509.ParseECPrivateKey(blk.Bytes)
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n
}

func keyID(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(der)
	return sum[:20]
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func daysOr(d, def int) int {
	if d <= 0 {
		return def
	}
	return d
}

func appendNew(list []string, s string) []string {
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

func appendIP(list []net.IP, ip net.IP) []net.IP {
	for _, v := range list {
		if v.Equal(ip) {
			return list
		}
	}
	return append(list, ip)
}
