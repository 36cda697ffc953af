package checker

import (
	"sort"

	"github.com/cnv-project/cnv/jepsen/history"
)

// linkOps groups one link's operations.
type linkOps struct {
	max                    uint64
	allowed, unknown       []history.Op
	revokes                []history.Op // acknowledged
	allowedCount, unknowns int
}

func groupLinks(ops []history.Op) (map[string]*linkOps, []string) {
	links := map[string]*linkOps{}
	var keys []string
	for _, o := range ops {
		if o.Kind != history.Invoke && o.Kind != history.Revoke {
			continue
		}
		l := links[o.Key]
		if l == nil {
			l = &linkOps{}
			links[o.Key] = l
			keys = append(keys, o.Key)
		}
		l.add(o)
	}
	sort.Strings(keys)
	return links, keys
}

func (l *linkOps) add(o history.Op) {
	if o.MaxUses > 0 {
		l.max = o.MaxUses
	}
	switch {
	case o.Kind == history.Revoke && o.Outcome == history.OK:
		l.revokes = append(l.revokes, o)
	case o.Kind == history.Invoke && o.Outcome == history.Unknown:
		l.unknown = append(l.unknown, o)
	case o.Kind == history.Invoke && o.Outcome == history.OK && o.Decision == history.Allow:
		l.allowed = append(l.allowed, o)
	}
}

// Usage checks max_uses and revocation on every link: allowed invocations
// never exceed max_uses, no two report the same count, none is charged
// after a committed revocation (by ledger index) or invoked after one was
// acknowledged, and the final counts agree with what clients saw.
func Usage(ops []history.Op, final *history.Final) Verdict {
	b := newVerdict("max-uses-and-revocation")
	links, keys := groupLinks(ops)
	allowed, other := 0, 0
	for i := range ops {
		if ops[i].Kind == history.Invoke && ops[i].Outcome == history.OK && ops[i].Decision == history.DenyOther {
			other++
		}
	}
	for _, k := range keys {
		l := links[k]
		allowed += len(l.allowed)
		checkLimit(b, k, l)
		checkRevocation(b, k, l)
	}
	if final != nil {
		checkFinalLinks(b, links, final.Links)
	}
	return b.done("%d links, %d allowed invocations, %d denied for reasons the counter does not model", len(keys), allowed, other)
}

func checkLimit(b *verdict, key string, l *linkOps) {
	if l.max > 0 && uint64(len(l.allowed)) > l.max {
		b.fail("overshoot: link %s allowed %d invocations with max_uses %d", short(key), len(l.allowed), l.max)
	}
	seen := map[uint64]int{}
	for _, a := range l.allowed {
		if l.max > 0 && a.Uses > l.max {
			b.fail("overshoot: op %d on link %s reports %d uses of %d", a.ID, short(key), a.Uses, l.max)
		}
		if prev, dup := seen[a.Uses]; dup && a.Uses > 0 {
			b.fail("double charge: ops %d and %d on link %s both report use %d", prev, a.ID, short(key), a.Uses)
		}
		seen[a.Uses] = a.ID
	}
}

func checkRevocation(b *verdict, key string, l *linkOps) {
	for _, r := range l.revokes {
		for _, a := range l.allowed {
			if r.HasIndex && a.HasIndex && a.Index > r.Index {
				b.fail("charged after revocation: op %d on link %s allowed at ledger index %d, revocation committed at %d",
					a.ID, short(key), a.Index, r.Index)
			} else if a.Invoke > r.End {
				b.fail("charged after revocation: op %d on link %s invoked at %s, after revocation op %d was acknowledged at %s",
					a.ID, short(key), ms(a.Invoke), r.ID, ms(r.End))
			}
		}
	}
}

func checkFinalLinks(b *verdict, links map[string]*linkOps, finals []history.LinkFinal) {
	for _, f := range finals {
		l := links[f.Key]
		if l == nil {
			continue
		}
		if f.MaxUses > 0 && f.Uses > f.MaxUses {
			b.fail("overshoot: link %s ends with %d uses of %d", short(f.Key), f.Uses, f.MaxUses)
		}
		if f.Uses < uint64(len(l.allowed)) {
			b.fail("lost charge: link %s ends with %d uses but %d invocations were allowed", short(f.Key), f.Uses, len(l.allowed))
		}
		if f.Uses > uint64(len(l.allowed)+len(l.unknown)) {
			b.fail("phantom charge: link %s ends with %d uses; clients saw %d allowed and %d unknown",
				short(f.Key), f.Uses, len(l.allowed), len(l.unknown))
		}
		if len(l.revokes) > 0 && !f.Revoked {
			b.fail("lost revocation: link %s was revoked (op %d) but ends unrevoked", short(f.Key), l.revokes[0].ID)
		}
	}
}

func short(key string) string {
	if len(key) > 12 {
		return key[:12]
	}
	return key
}
