package cluster

import (
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
