package checker

import (
	"fmt"
	"testing"
	"time"

	"github.com/cnv-project/cnv/jepsen/history"
)

// synthetic builds a passing history of n appends and n/2 reads by 8
// processes, and its final ledger.
func synthetic(n int) ([]history.Op, *history.Final) {
	var ops []history.Op
	ledger := make([]string, n)
	for i := range n {
		v := fmt.Sprintf("w%d-%d", i%8, i)
		ledger[i] = v
		t := int64(i) * 1000
		ops = append(ops, history.Op{ID: len(ops), Process: i % 8, Kind: history.Append, Value: v, Outcome: history.OK,
			Index: uint64(i), HasIndex: true, Invoke: t, End: t + 500})
		if i%2 == 0 {
			ops = append(ops, history.Op{ID: len(ops), Process: i % 8, Kind: history.Read, Outcome: history.OK,
				Size: uint64(i + 1), Invoke: t + 600, End: t + 900})
		}
	}
	return ops, &history.Final{Ledger: ledger}
}

func BenchmarkLedgerChecker(b *testing.B) {
	ops, final := synthetic(100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if v := Ledger(ops, final); v.Status != Pass {
			b.Fatal(v.Problems)
		}
	}
}

// counterHistory: links of max 3 each used by 8 concurrent invocations.
func counterHistory(links int) []history.Op {
	var ops []history.Op
	for l := range links {
		key := fmt.Sprintf("link-%d", l)
		base := int64(l) * 10_000
		for i := range 8 {
			op := history.Op{ID: len(ops), Process: i, Kind: history.Invoke, Key: key, MaxUses: 3,
				Outcome: history.OK, Invoke: base + int64(i), End: base + 100 + int64(i)}
			if i < 3 {
				op.Decision, op.Uses = history.Allow, uint64(i+1)
			} else if i == 7 {
				op.Outcome = history.Unknown
			} else {
				op.Decision = history.DenyLimit
			}
			ops = append(ops, op)
		}
	}
	return ops
}

func BenchmarkCounterChecker(b *testing.B) {
	ops := counterHistory(500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := Counter(ops, time.Minute); r.Verdict.Status != Pass {
			b.Fatal(r.Verdict.Problems)
		}
	}
}
