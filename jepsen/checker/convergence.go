package checker

import (
	"sort"

	"github.com/cnv-project/cnv/jepsen/history"
)

// Convergence checks that, after healing, every node serves and reports
// the same ledger size and root as the final ledger, and that each
// checkpointed size has one root. A node whose files were damaged may
// refuse to serve (it is counted, not failed); serving different data is
// never allowed.
func Convergence(final *history.Final) Verdict {
	b := newVerdict("convergence")
	if final == nil || len(final.Nodes) == 0 {
		b.fail("no node states were read after healing")
		return b.done("not checked")
	}
	ref, serving, refused := reference(final)
	for _, n := range final.Nodes {
		if n.Error != "" {
			if !n.Damaged {
				b.fail("down: node %s does not serve after healing: %s", n.Node, n.Error)
			}
			continue
		}
		switch {
		case n.Verified && !n.VerifyOK:
			b.fail("damaged store: node %s serves size %d root %s but its store does not verify (size %d, root %s)",
				n.Node, n.Size, short(n.Root), n.VerifySize, short(n.VerifyRoot))
		case n.Verified && n.VerifySize == n.Size && n.VerifyRoot != n.Root:
			b.fail("damaged store: node %s serves root %s at size %d but its store verifies to root %s at that size",
				n.Node, short(n.Root), n.Size, short(n.VerifyRoot))
		case n.Verified && n.VerifySize != n.Size:
			b.fail("not a consistent cut: node %s reported size %d but verified size %d (the ledger moved during the final read)",
				n.Node, n.Size, n.VerifySize)
		}
		if n.Size != ref.Size || n.Root != ref.Root {
			b.fail("diverged: node %s has size %d root %s; node %s has size %d root %s",
				n.Node, n.Size, short(n.Root), ref.Node, ref.Size, short(ref.Root))
		}
	}
	if serving > 0 && final.Ledger != nil && uint64(len(final.Ledger)) != ref.Size {
		b.fail("the final ledger read has %d events but nodes report size %d", len(final.Ledger), ref.Size)
	}
	checkCheckpoints(b, final.Checkpoints)
	if serving == 0 {
		b.fail("no node serves after healing")
	}
	return b.done("%d nodes serve size %d root %s; %d refused", serving, ref.Size, short(ref.Root), refused)
}

func reference(final *history.Final) (ref history.NodeState, serving, refused int) {
	for _, n := range final.Nodes {
		if n.Error != "" {
			refused++
			continue
		}
		if serving == 0 {
			ref = n
		}
		serving++
	}
	return ref, serving, refused
}

func checkCheckpoints(b *verdict, cps map[uint64][]string) {
	sizes := make([]uint64, 0, len(cps))
	for s := range cps {
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] < sizes[j] })
	for _, s := range sizes {
		roots := cps[s]
		for _, r := range roots[1:] {
			if r != roots[0] {
				b.fail("checkpoint fork: size %d has roots %s and %s", s, short(roots[0]), short(r))
				break
			}
		}
	}
}
