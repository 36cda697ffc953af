package checker

import (
	"strings"
	"testing"

	"github.com/cnv-project/cnv/jepsen/history"
)

// hb builds synthetic histories; times are in ms.
type hb struct{ ops []history.Op }

func (h *hb) add(o history.Op, from, to int64) *history.Op {
	o.ID, o.Invoke, o.End = len(h.ops), from*1e6, to*1e6
	if o.Outcome == "" {
		o.Outcome = history.OK
	}
	h.ops = append(h.ops, o)
	return &h.ops[len(h.ops)-1]
}

func (h *hb) appendOK(v string, idx uint64, from, to int64) {
	h.add(history.Op{Kind: history.Append, Value: v, Index: idx, HasIndex: true}, from, to)
}

func (h *hb) read(size uint64, from, to int64, events ...string) {
	h.add(history.Op{Kind: history.Read, Size: size, Events: events}, from, to)
}

func (h *hb) invoke(key string, max uint64, d history.Decision, uses uint64, from, to int64) *history.Op {
	return h.add(history.Op{Kind: history.Invoke, Key: key, MaxUses: max, Decision: d, Uses: uses}, from, to)
}

func (h *hb) unknown(kind history.Kind, key string, max uint64, from int64) {
	h.add(history.Op{Kind: kind, Key: key, MaxUses: max, Outcome: history.Unknown}, from, from+1)
}

func (h *hb) revoke(key string, idx uint64, from, to int64) {
	h.add(history.Op{Kind: history.Revoke, Key: key, Index: idx, HasIndex: idx > 0}, from, to)
}

func wantPass(t *testing.T, v Verdict) {
	t.Helper()
	if v.Status != Pass {
		t.Fatalf("%s: %s %s %v, want pass", v.Name, v.Status, v.Summary, v.Problems)
	}
}

// wantFail fails unless v failed with a problem containing every word.
func wantFail(t *testing.T, v Verdict, words ...string) {
	t.Helper()
	if v.Status != Fail {
		t.Fatalf("%s: %s (%s), want fail mentioning %v", v.Name, v.Status, v.Summary, words)
	}
	for _, p := range v.Problems {
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(p, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("%s failed, but no problem mentions %v: %v", v.Name, words, v.Problems)
}
