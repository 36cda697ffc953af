package checker

import (
	"sort"

	"github.com/cnv-project/cnv/jepsen/history"
)

// Ledger checks appends and reads against the final ledger.
func Ledger(ops []history.Op, final *history.Final) Verdict {
	b := newVerdict("ledger")
	if final == nil {
		b.fail("no final ledger was read")
		return b.done("not checked")
	}
	appends, reads := ofKind(ops, history.Append), ofKind(ops, history.Read)
	pos := positions(final.Ledger)
	acked := checkAppends(b, appends, pos)
	checkReads(b, reads, appends, pos, final.Ledger)
	return b.done("%d appends (%d acknowledged), %d reads, final ledger %d events",
		len(appends), acked, len(reads), len(final.Ledger))
}

// positions maps each correlation id to the indexes it appears at.
func positions(ledger []string) map[string][]uint64 {
	pos := make(map[string][]uint64, len(ledger))
	for i, v := range ledger {
		if v != "" {
			pos[v] = append(pos[v], uint64(i))
		}
	}
	return pos
}

// checkAppends returns the number of acknowledged appends.
func checkAppends(b *verdict, appends []history.Op, pos map[string][]uint64) int {
	acked := 0
	for _, a := range appends {
		at := pos[a.Value]
		if len(at) > 1 {
			b.fail("duplicate: %s append %q (op %d) appears %d times, at %v", a.Outcome, a.Value, a.ID, len(at), at)
		}
		switch a.Outcome {
		case history.OK:
			acked++
			if len(at) == 0 {
				b.fail("lost: acknowledged append %q (op %d, index %d, done at %s) is not in the final ledger", a.Value, a.ID, a.Index, ms(a.End))
			} else if a.HasIndex && at[0] != a.Index {
				b.fail("moved: append %q was acknowledged at index %d but is at %d", a.Value, a.Index, at[0])
			}
		case history.Fail:
			if len(at) > 0 {
				b.fail("failed append %q (op %d: %s) is in the ledger at %v", a.Value, a.ID, a.Error, at)
			}
		}
	}
	return acked
}

// checkReads checks that every read is a prefix of the final ledger, sees
// every append acknowledged before it began, and sees no less than any
// read that finished before it began.
func checkReads(b *verdict, reads, appends []history.Op, pos map[string][]uint64, ledger []string) {
	ok := okOnly(reads)
	for i := range ok {
		checkPrefix(b, &ok[i], ledger)
	}
	sorted := byInvoke(ok)
	checkSeesAcked(b, sorted, ackedIndexes(appends, pos))
	checkMonotonic(b, sorted)
}

func okOnly(ops []history.Op) []history.Op {
	out := make([]history.Op, 0, len(ops))
	for _, o := range ops {
		if o.Outcome == history.OK {
			out = append(out, o)
		}
	}
	return out
}

func checkPrefix(b *verdict, r *history.Op, ledger []string) {
	if r.Size > uint64(len(ledger)) {
		b.fail("read %d (node %s) saw size %d but the final ledger has %d: events were lost", r.ID, r.Node, r.Size, len(ledger))
	}
	for i, v := range r.Events {
		if i >= len(ledger) || ledger[i] != v {
			b.fail("read %d (node %s) is not a prefix of the final ledger: index %d is %q", r.ID, r.Node, i, v)
			return
		}
	}
}

// timed is an event at a time with a value.
type timed struct {
	at  int64
	val uint64
	id  int
}

// ackedIndexes returns, for every acknowledged append, its end time and
// final index (or acknowledged index when it was lost: checkAppends already
// reported that).
func ackedIndexes(appends []history.Op, pos map[string][]uint64) []timed {
	out := make([]timed, 0, len(appends))
	for _, a := range appends {
		if a.Outcome != history.OK {
			continue
		}
		idx := a.Index
		if at := pos[a.Value]; len(at) > 0 {
			idx = at[0]
		} else if !a.HasIndex {
			continue
		}
		out = append(out, timed{at: a.End, val: idx, id: a.ID})
	}
	return out
}

// latestBefore walks events sorted by time and, for each query time in
// increasing order, yields the event with the largest value among those
// at a time strictly before it.
type latestBefore struct {
	evs  []timed
	next int
	best timed
	any  bool
}

func newLatestBefore(evs []timed) *latestBefore {
	sort.Slice(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	return &latestBefore{evs: evs}
}

func (l *latestBefore) at(t int64) (timed, bool) {
	for l.next < len(l.evs) && l.evs[l.next].at < t {
		if e := l.evs[l.next]; !l.any || e.val > l.best.val {
			l.best, l.any = e, true
		}
		l.next++
	}
	return l.best, l.any
}

// byInvoke sorts ops by invoke time, in place, and returns them.
func byInvoke(ops []history.Op) []history.Op {
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
	return ops
}

// checkSeesAcked: a read that began after an append was acknowledged at
// index i must report a size above i. reads are sorted by invoke time.
func checkSeesAcked(b *verdict, reads []history.Op, acked []timed) {
	lb := newLatestBefore(acked)
	for _, r := range reads {
		if a, ok := lb.at(r.Invoke); ok && r.Size <= a.val {
			b.fail("stale read: read %d (node %s, from %s) saw size %d, but append op %d was acknowledged at index %d before it began",
				r.ID, r.Node, ms(r.Invoke), r.Size, a.id, a.val)
		}
	}
}

// checkMonotonic: a read that began after another read ended sees at
// least as much. reads are sorted by invoke time.
func checkMonotonic(b *verdict, reads []history.Op) {
	ends := make([]timed, len(reads))
	for i, r := range reads {
		ends[i] = timed{at: r.End, val: r.Size, id: r.ID}
	}
	lb := newLatestBefore(ends)
	for _, r := range reads {
		if p, ok := lb.at(r.Invoke); ok && r.Size < p.val {
			b.fail("stale read: read %d (node %s, from %s) saw size %d after read %d had seen %d",
				r.ID, r.Node, ms(r.Invoke), r.Size, p.id, p.val)
		}
	}
}
