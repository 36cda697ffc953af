package httpapi

import (
	"crypto/ed25519"
	"testing"

	"github.com/cnv-project/cnv/cluster"
	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// FuzzDecodeRequests feeds arbitrary bodies, as JSON and as msgpack, to
// the decoders of every request the API reads, then opens what decoded as
// an invocation batch: nothing may panic.
func FuzzDecodeRequests(f *testing.F) {
	f.Add([]byte(`{"body":"AAAA","signature":"AAAA"}`), false)
	f.Add([]byte(`{"node_id":"n2","raft_addr":"127.0.0.1:1","members":["x"]}`), false)
	f.Add([]byte{0x82, 0xa4, 'b', 'o', 'd', 'y', 0xc4, 0x00, 0xa9, 's', 'i', 'g', 'n', 'a', 't', 'u', 'r', 'e', 0xc4, 0x00}, true)
	none := func(principal.KeyID) (ed25519.PublicKey, bool) { return nil, false }
	f.Fuzz(func(t *testing.T, b []byte, msgpack bool) {
		var s invocation.Signed
		if httpx.DecodeBytes(b, msgpack, &s) == nil {
			s.Open(none, nil)
		}
		var j wire.JoinRequest
		httpx.DecodeBytes(b, msgpack, &j)
		var r wire.RemoveRequest
		httpx.DecodeBytes(b, msgpack, &r)
		var sn cluster.SignedNode
		httpx.DecodeBytes(b, msgpack, &sn)
		var sp cluster.SignedProposal
		httpx.DecodeBytes(b, msgpack, &sp)
	})
}
