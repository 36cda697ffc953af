package cluster

import (
	"crypto/ed25519"
	"testing"

	"github.com/cnv-project/cnv/fsm"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
)

// FuzzProposalCommands decodes arbitrary bytes as a node proposal's
// commands, the way HandleProposal does, and checks kinds: nothing may
// panic.
func FuzzProposalCommands(f *testing.F) {
	b, _ := codec.Marshal([]fsm.Command{{Kind: fsm.KindNodeLeft, NodeLeft: &fsm.NodeLeft{ID: "x"}}})
	f.Add(b)
	f.Add([]byte{0x91, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var cmds []fsm.Command
		if codec.UnmarshalLimit(b, limits.MaxRequestBody, &cmds) == nil {
			for _, c := range cmds {
				fsm.NodeProposable(c.Kind)
			}
		}
		var sn SignedNode
		if codec.UnmarshalLimit(b, 1<<16, &sn) == nil {
			sn.verify()
		}
	})
}

// FuzzJoinRequest decodes arbitrary bytes as a join request (what a
// joining server sends, relayed by members) and verifies it: nothing may
// panic, and a request that verifies still verifies after a round trip
// and stops verifying when a signed field changes.
func FuzzJoinRequest(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	good, _ := signJoin(JoinRequest{NodeID: "n3", RaftAddr: "127.0.0.1:7003", APIAddr: "127.0.0.1:8003", Nonvoter: true, Readmit: 12}, key)
	b, _ := codec.Marshal(&good)
	f.Add(b)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req JoinRequest
		if codec.UnmarshalLimit(b, 1<<16, &req) != nil || !req.verify() {
			return
		}
		again, err := codec.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		var back JoinRequest
		if err := codec.UnmarshalLimit(again, 1<<16, &back); err != nil || !back.verify() {
			t.Fatalf("a verified join does not verify after a round trip: %v", err)
		}
		back.Readmit++
		if back.verify() {
			t.Fatal("a join verifies with another readmit than it was signed for")
		}
	})
}
