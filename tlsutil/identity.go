package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// Kind is what a certificate is for.
type Kind string

const (
	// KindNode is a cluster node: it serves and dials Raft, node-to-node
	// calls and the API.
	KindNode Kind = "node"
	// KindClient is an API client (the CLI, an agent, an operator).
	KindClient Kind = "client"
)

// Identity is who a certificate names.
type Identity struct {
	Kind Kind
	Name string
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ErrNoIdentity is a certificate without a cnv identity (URI SAN).
var ErrNoIdentity = errors.New("tlsutil: certificate names no cnv node or client (URI SAN cnv://node/ID or cnv://client/NAME)")

func newIdentity(k Kind, name string) (Identity, error) {
	if !nameRE.MatchString(name) {
		return Identity{}, fmt.Errorf("tlsutil: %s name %q: letters, digits, '.', '_', '-' only, at most 64", k, name)
	}
	return Identity{Kind: k, Name: name}, nil
}

// URI is the identity's URI SAN.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: "cnv", Host: string(id.Kind), Path: "/" + id.Name}
}

func (id Identity) String() string { return string(id.Kind) + " " + id.Name }

// IdentityOf reads the cnv identity of a certificate.
func IdentityOf(c *x509.Certificate) (Identity, error) {
	var found []Identity
	for _, u := range c.URIs {
		if u.Scheme != "cnv" || len(u.Path) < 2 {
			continue
		}
		id, err := newIdentity(Kind(u.Host), u.Path[1:])
		if err == nil && (id.Kind == KindNode || id.Kind == KindClient) {
			found = append(found, id)
		}
	}
	if len(found) != 1 {
		return Identity{}, ErrNoIdentity
	}
	return found[0], nil
}

// PeerIdentity is the identity the other end of a verified TLS connection
// proved with its certificate.
func PeerIdentity(cs tls.ConnectionState) (Identity, error) {
	if len(cs.PeerCertificates) == 0 {
		return Identity{}, errors.New("tlsutil: the peer presented no certificate")
	}
	return IdentityOf(cs.PeerCertificates[0])
}
