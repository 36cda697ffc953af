package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/spf13/pflag"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/cluster/gossip"
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

// gossipAdmission sets how the leader's autopilot admits a server heard
// of only through gossip: with TLS, a handshake with it must show the
// node certificate of the id it gossips; with a cluster token, the proof
// it advertises (an HMAC of its id and Raft address under the token) must
// verify. With neither, no server is admitted through gossip alone.
func gossipAdmission(gc *cluster.GossipConfig, nodeID, raftAddr, token string, b *tlsutil.Bundle, m *mux.Mux) {
	if gc == nil {
		return
	}
	if token != "" {
		gc.Proof = admissionProof(token, nodeID, raftAddr)
	}
	if b == nil && token == "" {
		return
	}
	gc.Admit = func(ctx context.Context, mem gossip.Member) error {
		if b != nil {
			return admitByCertificate(m, mem)
		}
		if !hmac.Equal(mem.Proof, admissionProof(token, mem.NodeID, mem.RaftAddr)) {
			return fmt.Errorf("server %s at %s advertises no valid proof of the cluster token", mem.NodeID, mem.RaftAddr)
		}
		return nil
	}
}

func admissionProof(token, nodeID, raftAddr string) []byte {
	h := hmac.New(sha256.New, []byte(token))
	h.Write([]byte("cnv-gossip-admission-v1\n" + nodeID + "\n" + raftAddr))
	return h.Sum(nil)
}

// admitByCertificate opens the server's node-to-node channel: the TLS
// handshake shows its certificate, which must name the id it gossips.
func admitByCertificate(m *mux.Mux, mem gossip.Member) error {
	c, err := m.Dial(cluster.MuxRPC, mem.RaftAddr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("server %s at %s: %w", mem.NodeID, mem.RaftAddr, err)
	}
	defer c.Close()
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return fmt.Errorf("server %s at %s did not speak TLS", mem.NodeID, mem.RaftAddr)
	}
	id, err := tlsutil.PeerIdentity(tc.ConnectionState())
	if err != nil || id != (tlsutil.Identity{Kind: tlsutil.KindNode, Name: mem.NodeID}) {
		return fmt.Errorf("server at %s gossips id %s but its certificate names %v", mem.RaftAddr, mem.NodeID, id)
	}
	return nil
}
