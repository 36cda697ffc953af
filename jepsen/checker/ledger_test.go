package checker

import (
	"testing"

	"github.com/cnv-project/cnv/jepsen/history"
)

func final(ledger ...string) *history.Final { return &history.Final{Ledger: ledger} }

func TestLedgerPasses(t *testing.T) {
	var h hb
	h.appendOK("a", 0, 0, 10)
	h.add(history.Op{Kind: history.Append, Value: "u1", Outcome: history.Unknown}, 5, 20) // applied
	h.add(history.Op{Kind: history.Append, Value: "u2", Outcome: history.Unknown}, 5, 20) // not applied
	h.add(history.Op{Kind: history.Append, Value: "f", Outcome: history.Fail}, 5, 6)
	h.read(1, 11, 12, "a")
	h.read(1, 8, 30)  // concurrent with nothing newer: fine
	h.read(2, 13, 14) // saw the unknown append
	h.appendOK("b", 2, 21, 25)
	h.read(3, 26, 27, "a", "u1", "b")
	wantPass(t, Ledger(h.ops, final("a", "u1", "b", "")))
}

func TestLedgerLostAck(t *testing.T) {
	var h hb
	h.appendOK("a", 0, 0, 10)
	h.appendOK("b", 1, 0, 10)
	wantFail(t, Ledger(h.ops, final("a")), "lost", `"b"`)
}

func TestLedgerDuplicate(t *testing.T) {
	var h hb
	h.add(history.Op{Kind: history.Append, Value: "u", Outcome: history.Unknown}, 0, 10)
	wantFail(t, Ledger(h.ops, final("u", "x", "u")), "duplicate", `"u"`)
	var h2 hb
	h2.appendOK("a", 0, 0, 1)
	wantFail(t, Ledger(h2.ops, final("a", "a")), "duplicate")
}

func TestLedgerFailedAppendApplied(t *testing.T) {
	var h hb
	h.add(history.Op{Kind: history.Append, Value: "f", Outcome: history.Fail, Error: "denied"}, 0, 1)
	wantFail(t, Ledger(h.ops, final("f")), "failed append")
}

func TestLedgerMovedAck(t *testing.T) {
	var h hb
	h.appendOK("a", 3, 0, 1)
	wantFail(t, Ledger(h.ops, final("x", "a")), "moved", "index 3")
}

func TestLedgerStaleReadMissesAck(t *testing.T) {
	var h hb
	h.appendOK("a", 0, 0, 10)
	h.appendOK("b", 1, 0, 10)
	h.read(1, 11, 12) // began after b was acknowledged at index 1
	wantFail(t, Ledger(h.ops, final("a", "b")), "stale read", "index 1")
}

func TestLedgerStaleReadGoesBack(t *testing.T) {
	var h hb
	h.appendOK("a", 0, 0, 1)
	h.read(3, 2, 5)
	h.read(2, 6, 7)
	wantFail(t, Ledger(h.ops, final("a", "b", "c")), "stale read", "size 2", "seen 3")
}

func TestLedgerReadNotAPrefix(t *testing.T) {
	var h hb
	h.read(2, 0, 1, "a", "z")
	wantFail(t, Ledger(h.ops, final("a", "b")), "not a prefix", "index 1")
	var h2 hb
	h2.read(5, 0, 1)
	wantFail(t, Ledger(h2.ops, final("a")), "lost")
}

func TestLedgerWithoutFinal(t *testing.T) {
	wantFail(t, Ledger(nil, nil), "no final ledger")
}
