package delegation

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Property tests over a small alphabet, so that random patterns and paths
// overlap often. Each prints its seed; rerun one with that seed to
// reproduce.

func newRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, seed>>1|1))
}

var letters = []string{"a", "b", "c"}

func genSegs(r *rand.Rand, minSegs int) []string {
	n := minSegs + r.IntN(3)
	segs := make([]string, n)
	for i := range segs {
		switch k := r.IntN(6); {
		case k == 0:
			segs[i] = "*"
		case k == 1 && i == n-1:
			segs[i] = "**"
		default:
			segs[i] = letters[r.IntN(len(letters))]
		}
	}
	return segs
}

func genPatterns(r *rand.Rand, minSegs, max int) []string {
	out := make([]string, r.IntN(max+1))
	for i := range out {
		if r.IntN(8) == 0 {
			out[i] = []string{"*", "**"}[r.IntN(2)]
			continue
		}
		out[i] = strings.Join(genSegs(r, minSegs), ".")
	}
	return out
}

func genVerbs(r *rand.Rand) []string {
	out := make([]string, r.IntN(3))
	for i := range out {
		out[i] = append([]string{"*"}, letters...)[r.IntN(4)]
	}
	return out
}

func genConstraints(r *rand.Rand) Constraints {
	c := Constraints{
		Allow:    toPatterns(genPatterns(r, 2, 3)),
		Forbid:   toPatterns(genPatterns(r, 2, 2)),
		Nouns:    genPatterns(r, 1, 2),
		Verbs:    genVerbs(r),
		MaxLevel: capability.Level(r.IntN(4)),
	}
	if c.Validate() != nil {
		panic("generated invalid constraints")
	}
	return c
}

func genPath(r *rand.Rand) capability.Path {
	segs := make([]string, 2+r.IntN(3))
	for i := range segs {
		segs[i] = letters[r.IntN(len(letters))]
	}
	return capability.MustPath(strings.Join(segs, "."))
}

// instantiate returns a path matched by pattern p.
func instantiate(r *rand.Rand, p string) capability.Path {
	var segs []string
	for _, s := range splitPattern(p) {
		switch s {
		case "*":
			segs = append(segs, letters[r.IntN(3)])
		case "**":
			for n := 1 + r.IntN(2); n > 0; n-- {
				segs = append(segs, letters[r.IntN(3)])
			}
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) < 2 {
		segs = append(segs, "a")
	}
	return capability.MustPath(strings.Join(segs, "."))
}

func allowed(c Constraints, p capability.Path, l capability.Level) bool { return c.Allows(p, l) == nil }

func TestPropIntersectCommutative(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 2000; i++ {
		a, b := genConstraints(r), genConstraints(r)
		ab, err1 := Intersect(a, b)
		ba, err2 := Intersect(b, a)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(ab, ba) {
			t.Fatalf("a=%+v b=%+v\na∩b=%+v (%v)\nb∩a=%+v (%v)", a, b, ab, err1, ba, err2)
		}
	}
}

// The intersection allows exactly what both sides allow, and narrows both.
func TestPropIntersectExactAndNarrowing(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 2000; i++ {
		a, b := genConstraints(r), genConstraints(r)
		ab, err := Intersect(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := ab.Narrows(a); err != nil {
			t.Fatalf("a∩b does not narrow a: %v\na=%+v\nb=%+v\na∩b=%+v", err, a, b, ab)
		}
		if err := ab.Narrows(b); err != nil {
			t.Fatalf("a∩b does not narrow b: %v\na=%+v\nb=%+v\na∩b=%+v", err, a, b, ab)
		}
		for j := 0; j < 20; j++ {
			p, l := genPath(r), capability.Level(r.IntN(4))
			if got, want := allowed(ab, p, l), allowed(a, p, l) && allowed(b, p, l); got != want {
				t.Fatalf("%s at %s: a∩b allows=%v, a and b allow=%v\na=%+v\nb=%+v\na∩b=%+v", p, l, got, want, a, b, ab)
			}
		}
	}
}

// Narrows is sound: whatever a narrowing child allows, the parent allows.
func TestPropNarrowsIsSound(t *testing.T) {
	r := newRand(t)
	checked := 0
	for i := 0; i < 20000; i++ {
		parent, child := genConstraints(r), genConstraints(r)
		if child.Narrows(parent) != nil {
			continue
		}
		checked++
		for j := 0; j < 20; j++ {
			p, l := genPath(r), capability.Level(r.IntN(4))
			if allowed(child, p, l) && !allowed(parent, p, l) {
				t.Fatalf("child narrows parent but allows %s at %s\nparent=%+v\nchild=%+v", p, l, parent, child)
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d narrowing pairs generated", checked)
	}
}

// Forbid always wins: a path matching a forbid pattern is refused whatever
// the allow list says.
func TestPropForbiddenAlwaysWins(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 2000; i++ {
		c := genConstraints(r)
		c.Allow = append(c.Allow, "**")
		c.Nouns, c.Verbs = append(c.Nouns, "*"), append(c.Verbs, "*")
		for _, f := range c.Forbid {
			p := instantiate(r, string(f))
			if !f.Match(string(p)) {
				t.Fatalf("instantiate(%q) = %q does not match", f, p)
			}
			err := c.Allows(p, capability.LevelReadOnly)
			if !errors.Is(err, ErrNotAllowed) || FailedField(err) != "forbid" {
				t.Fatalf("%s matches forbid %q but got %v", p, f, err)
			}
		}
	}
}

// Through real chains: a child issued under a parent has effective
// constraints and a window within the parent's, and allows nothing the
// parent chain does not.
func TestPropChildEffectiveWithinParent(t *testing.T) {
	r := newRand(t)
	v := NewVerifier(0)
	issued := 0
	for i := 0; i < 3000 && issued < 200; i++ {
		pc := genConstraints(r)
		parent, err := Issue(alice.priv, grant(bob, pc, time.Hour, uint64(r.IntN(3))), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		g := grant(charlie, genConstraints(r), time.Duration(r.IntN(90))*time.Minute, uint64(r.IntN(4)))
		child, err := Issue(bob.priv, g, &parent, nil)
		if errors.Is(err, ErrWidened) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		issued++
		pe := mustPrepare(t, v, parent).Effective()
		ce := mustPrepare(t, v, parent, child).Effective()
		if err := ce.Constraints.Narrows(pe.Constraints); err != nil || ce.NotBefore < pe.NotBefore || ce.NotAfter > pe.NotAfter {
			t.Fatalf("child effective %+v is wider than parent %+v: %v", ce, pe, err)
		}
		for j := 0; j < 20; j++ {
			p, l := genPath(r), capability.Level(r.IntN(4))
			_, cerr := v.Verify([]Link{parent, child}, charlie.pub, p, l, t0, nil)
			_, perr := v.Verify([]Link{parent}, bob.pub, p, l, t0, nil)
			if cerr == nil && perr != nil {
				t.Fatalf("child chain allows %s at %s, parent refuses: %v", p, l, perr)
			}
		}
	}
	if issued < 50 {
		t.Fatalf("only %d narrowing children issued", issued)
	}
}

func mustPrepare(t *testing.T, v *Verifier, chain ...Link) *Chain {
	t.Helper()
	c, err := v.Prepare(chain)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The compiled matcher of a prepared chain answers exactly as
// Constraints.Allows.
func TestPropCompiledMatchesAllows(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 3000; i++ {
		c := genConstraints(r)
		m := compile(c)
		for j := 0; j < 30; j++ {
			p, l := genPath(r), capability.Level(r.IntN(4))
			if j%3 == 0 && len(c.Allow) > 0 {
				p = instantiate(r, string(c.Allow[r.IntN(len(c.Allow))]))
			}
			if got, want := m.allows(p, l), allowed(c, p, l); got != want {
				t.Fatalf("%s at %s: compiled %v, Allows %v, constraints %+v", p, l, got, want, c)
			}
		}
	}
}
