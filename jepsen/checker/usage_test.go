package checker

import (
	"testing"

	"github.com/cnv-project/cnv/jepsen/history"
)

func TestUsagePasses(t *testing.T) {
	var h hb
	h.invoke("k", 2, A, 1, 0, 1).HasIndex = true
	h.invoke("k", 2, A, 2, 2, 3)
	h.unknown(history.Invoke, "k", 2, 4)
	h.revoke("k", 20, 5, 6)
	h.invoke("k", 2, DR, 0, 7, 8)
	f := &history.Final{Links: []history.LinkFinal{{Key: "k", Uses: 2, MaxUses: 2, Revoked: true}}}
	wantPass(t, Usage(h.ops, f))
}

func TestUsageOvershoot(t *testing.T) {
	var h hb
	h.invoke("k", 2, A, 1, 0, 1)
	h.invoke("k", 2, A, 2, 2, 3)
	h.invoke("k", 2, A, 3, 4, 5)
	wantFail(t, Usage(h.ops, nil), "overshoot", "allowed 3", "max_uses 2")
	wantFail(t, Usage(h.ops, nil), "overshoot", "3 uses of 2")
	f := &history.Final{Links: []history.LinkFinal{{Key: "k", Uses: 3, MaxUses: 2}}}
	wantFail(t, Usage(h.ops, f), "ends with 3 uses of 2")
}

func TestUsageDoubleCharge(t *testing.T) {
	var h hb
	h.invoke("k", 5, A, 1, 0, 1)
	h.invoke("k", 5, A, 1, 0, 1)
	wantFail(t, Usage(h.ops, nil), "double charge", "use 1")
}

func TestUsageChargeAfterRevocationByIndex(t *testing.T) {
	var h hb
	h.revoke("k", 10, 0, 100)
	a := h.invoke("k", 5, A, 1, 50, 60) // concurrent in time, but committed after
	a.Index, a.HasIndex = 11, true
	wantFail(t, Usage(h.ops, nil), "charged after revocation", "index 11", "at 10")
}

func TestUsageChargeAfterAcknowledgedRevocation(t *testing.T) {
	var h hb
	h.revoke("k", 0, 0, 10)
	h.invoke("k", 5, A, 1, 11, 12)
	wantFail(t, Usage(h.ops, nil), "charged after revocation", "acknowledged")
}

func TestUsageFinalDisagrees(t *testing.T) {
	var h hb
	h.invoke("k", 5, A, 1, 0, 1)
	h.invoke("k", 5, A, 2, 2, 3)
	h.revoke("k", 0, 4, 5)
	lost := &history.Final{Links: []history.LinkFinal{{Key: "k", Uses: 1, MaxUses: 5, Revoked: true}}}
	wantFail(t, Usage(h.ops, lost), "lost charge")
	phantom := &history.Final{Links: []history.LinkFinal{{Key: "k", Uses: 3, MaxUses: 5, Revoked: true}}}
	wantFail(t, Usage(h.ops, phantom), "phantom charge")
	unrevoked := &history.Final{Links: []history.LinkFinal{{Key: "k", Uses: 2, MaxUses: 5}}}
	wantFail(t, Usage(h.ops, unrevoked), "lost revocation")
}
