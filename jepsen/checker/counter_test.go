package checker

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cnv-project/cnv/jepsen/history"
)

const A, D, DL, DR = history.Allow, history.DenyOther, history.DenyLimit, history.DenyRevoked

func counter(t *testing.T, h hb) Verdict {
	t.Helper()
	return Counter(h.ops, 10*time.Second).Verdict
}

func TestCounterPasses(t *testing.T) {
	var h hb
	h.invoke("k", 2, A, 0, 0, 10) // count not reported
	h.invoke("k", 2, A, 2, 5, 12) // concurrent with the first
	h.invoke("k", 2, DL, 0, 13, 14)
	h.invoke("k", 2, D, 0, 13, 14) // other denials are always possible
	h.add(history.Op{Kind: history.LinkRead, Key: "k", Uses: 2}, 15, 16)
	h.revoke("k", 9, 17, 18)
	h.invoke("k", 2, DR, 0, 19, 20)
	h.invoke("j", 1, A, 1, 0, 1)                                                                // another link, its own counter
	h.add(history.Op{Kind: history.Invoke, Key: "j", MaxUses: 1, Outcome: history.Fail}, 0, 30) // did not happen
	wantPass(t, counter(t, h))
}

func TestCounterUnknownMayHaveHappened(t *testing.T) {
	var h hb
	h.invoke("k", 2, A, 1, 0, 1)
	h.unknown(history.Invoke, "k", 2, 2)
	h.invoke("k", 2, DL, 0, 10, 11) // only if the unknown took the second use
	wantPass(t, counter(t, h))
	var h2 hb
	h2.invoke("k", 2, A, 1, 0, 1)
	h2.unknown(history.Invoke, "k", 2, 2)
	h2.invoke("k", 2, A, 2, 10, 11) // only if it did not
	wantPass(t, counter(t, h2))
}

func TestCounterOvershoot(t *testing.T) {
	var h hb
	for i := range int64(3) {
		h.invoke("k", 2, A, 0, i*10, i*10+1)
	}
	wantFail(t, counter(t, h), "not linearizable")
}

func TestCounterEarlyLimitDenial(t *testing.T) {
	var h hb
	h.invoke("k", 2, A, 1, 0, 1)
	h.invoke("k", 2, DL, 0, 2, 3) // 1 < 2: the limit was not reached
	wantFail(t, counter(t, h), "not linearizable")
}

func TestCounterAllowAfterRevocation(t *testing.T) {
	var h hb
	h.revoke("k", 0, 0, 1)
	h.invoke("k", 5, A, 1, 2, 3)
	wantFail(t, counter(t, h), "not linearizable")
}

func TestCounterStaleLinkRead(t *testing.T) {
	var h hb
	h.invoke("k", 5, A, 1, 0, 1)
	h.invoke("k", 5, A, 2, 2, 3)
	h.add(history.Op{Kind: history.LinkRead, Key: "k", Uses: 1}, 4, 5)
	wantFail(t, counter(t, h), "not linearizable")
}

func TestCounterWrongReportedCount(t *testing.T) {
	var h hb
	h.invoke("k", 5, A, 1, 0, 1)
	h.invoke("k", 5, A, 1, 2, 3) // a lost update: both saw 0
	wantFail(t, counter(t, h), "not linearizable")
}

func TestCounterVisualizes(t *testing.T) {
	var h hb
	h.invoke("k", 1, A, 1, 0, 1)
	h.invoke("k", 1, A, 2, 2, 3)
	r := Counter(h.ops, time.Second)
	var buf bytes.Buffer
	if err := porcupine.Visualize(r.Model, r.Info, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "invoke → allow (2/1)") {
		t.Fatal("the visualisation does not describe the operations")
	}
}
