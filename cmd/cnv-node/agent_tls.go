package main

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/mux"
	"github.com/cnv-project/cnv/tlsutil"
)

// tlsFlags are an agent's TLS settings.
type tlsFlags struct {
	files          tlsutil.Files
	verifyIncoming bool
	insecure       bool
}

func addTLSFlags(fl *pflag.FlagSet, t *tlsFlags) {
	fl.StringVar(&t.files.CA, "tls-ca", "", "the cluster CA certificate (PEM): with --tls-cert and --tls-key, Raft, node-to-node calls, the API and the hot path use TLS")
	fl.StringVar(&t.files.Cert, "tls-cert", "", "this node's certificate (PEM; `cnv-node tls cert create --node ID`)")
	fl.StringVar(&t.files.Key, "tls-key", "", "this node's certificate key (PEM)")
	fl.BoolVar(&t.verifyIncoming, "verify-incoming", false, "with TLS: every API client must present a certificate of the cluster's CA")
	fl.BoolVar(&t.insecure, "insecure", false, "allow plaintext (no TLS) on addresses other than loopback")
}

// load reads the node's TLS material (nil without TLS flags) and checks
// that the certificate names this node.
func (t *tlsFlags) load(nodeID string) (*tlsutil.Bundle, error) {
	if !t.files.Enabled() {
		if t.verifyIncoming {
			return nil, fmt.Errorf("--verify-incoming needs --tls-ca, --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if t.files.CA == "" || t.files.Cert == "" || t.files.Key == "" {
		return nil, fmt.Errorf("TLS needs all of --tls-ca, --tls-cert and --tls-key")
	}
	b, err := tlsutil.Load(t.files)
	if err != nil {
		return nil, err
	}
	if want := (tlsutil.Identity{Kind: tlsutil.KindNode, Name: nodeID}); b.Identity != want {
		return nil, fmt.Errorf("--tls-cert names %v, not node %s (create one with `cnv-node tls cert create --node %s`)", b.Identity, nodeID, nodeID)
	}
	return b, nil
}

// requireSecure refuses plaintext on an address other than loopback unless
// --insecure says so.
func (t *tlsFlags) requireSecure(b *tlsutil.Bundle, addrs ...string) error {
	if b != nil || t.insecure {
		return nil
	}
	for _, a := range addrs {
		if a != "" && !loopback(a) {
			return fmt.Errorf("%s is not a loopback address and this node has no TLS: anyone who reaches it could join, forward and take part in Raft. Give --tls-ca, --tls-cert and --tls-key (see `cnv-node tls`), or --insecure to run plaintext anyway", a)
		}
	}
	return nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// muxTLS sets the Raft port's TLS: only node certificates of the cluster's
// CA connect, and the peer's node id names it for the per-peer cap.
func muxTLS(cfg *mux.Config, b *tlsutil.Bundle) {
	if b == nil {
		return
	}
	cfg.ServerTLS, cfg.ClientTLS = b.NodeServer(), b.NodeClient()
	cfg.Identity = func(cs tls.ConnectionState) string {
		id, _ := tlsutil.PeerIdentity(cs)
		return id.Name
	}
}

// apiTLS wraps the API's listener in TLS (ln unchanged without TLS).
func apiTLS(ln net.Listener, b *tlsutil.Bundle, verifyIncoming bool) net.Listener {
	if b == nil {
		return ln
	}
	return tls.NewListener(ln, b.APIServer(verifyIncoming))
}

// apiClientTLS is how this node speaks to other nodes' APIs (nil: plain
// HTTP): it checks their node certificate and offers its own.
func apiClientTLS(b *tlsutil.Bundle) *tls.Config {
	if b == nil {
		return nil
	}
	return b.APIClient()
}
