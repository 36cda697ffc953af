package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

// sameAsCodec checks that the hand-written encoder covers e and writes
// what runtime/codec writes for it.
func sameAsCodec(t *testing.T, e *Event) {
	t.Helper()
	want, err := e.marshalCodec()
	if err != nil {
		t.Fatal(err)
	}
	d := e.Data.(PolicyDecision)
	got, ok := appendDecision([]byte("prefix"), e, &d)
	if !ok {
		t.Fatalf("not covered: %+v", e)
	}
	if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[6:], want) {
		t.Fatalf("hand-written encoding differs\n got %x\nwant %x\nevent %+v", got[6:], want, e)
	}
	viaMarshal, err := e.MarshalCanonical()
	if len(want) > limits.MaxEventBytes {
		if err == nil {
			t.Fatalf("an event of %d bytes encodes", len(want))
		}
	} else if err != nil || !bytes.Equal(viaMarshal, want) {
		t.Fatalf("MarshalCanonical: %x %v", viaMarshal, err)
	}
}

// Lengths and values at every boundary of a msgpack form.
var (
	edgeLens  = []int{0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536}
	edgeUints = []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}
	edgeInts  = []int64{0, 1, -1, -32, -33, 127, 128, -128, -129, 32767, 32768, -32768, -32769,
		math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
)

type gen struct{ r *rand.Rand }

func (g gen) pick(n int) int { return g.r.Intn(n) }

func (g gen) str() string {
	if g.pick(3) == 0 {
		return ""
	}
	n := edgeLens[g.pick(len(edgeLens)-2)] // strings up to 256 bytes mostly
	if g.pick(40) == 0 {
		n = edgeLens[len(edgeLens)-2+g.pick(2)]
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcxyz-._/\x00\xc3\xa9"[g.pick(13)]
	}
	return string(b)
}

func (g gen) strs() []string {
	if g.pick(3) == 0 {
		return nil
	}
	out := make([]string, []int{0, 1, 2, 15, 16, 17}[g.pick(6)])
	for i := range out {
		out[i] = g.str()
	}
	return out
}

func (g gen) uint() uint64 {
	if g.pick(2) == 0 {
		return edgeUints[g.pick(len(edgeUints))]
	}
	return g.r.Uint64() >> g.pick(64)
}

func (g gen) int() int64 {
	if g.pick(2) == 0 {
		return edgeInts[g.pick(len(edgeInts))]
	}
	v := int64(g.r.Uint64() >> g.pick(64))
	if g.pick(2) == 0 {
		v = -v
	}
	return v
}

func (g gen) event() Event {
	req := policy.Request{
		Capability: capability.Path(g.str()), Sensitivity: capability.Sensitivity(g.pick(256)),
		AgentID: g.str(), AgentType: principal.AgentType(g.str()), Tenant: g.str(),
		KeyID: principal.KeyID(g.str()), Admin: g.pick(2) == 0, Invoker: principal.KeyID(g.str()),
		ChainDepth: int(g.int()), DryRun: g.pick(2) == 0,
	}
	for i := g.pick(3) * g.pick(9); i > 0; i-- {
		req.Effects = append(req.Effects, capability.EffectType(g.pick(256)))
	}
	for _, s := range g.strs() {
		req.DataTags = append(req.DataTags, capability.DataTag(s))
	}
	res := policy.Result{Decision: policy.Decision(g.str()), Reason: g.str(), Suggestion: g.str(), Approver: g.str(),
		EvaluatedRules: g.strs(), MatchedRule: g.str(), PolicyHash: g.str()}
	if g.pick(4) == 0 {
		res.EvaluatedRules = []string{}
	}
	d := PolicyDecision{Request: req, Result: res, Command: g.str(), ArgsDigest: g.str(), RequestID: g.str(), ChainLinks: g.strs()}
	for i := g.pick(3) * g.pick(5); i > 0; i-- {
		d.UseCounts = append(d.UseCounts, UseCount{Link: g.str(), Used: g.uint(), Max: g.uint() * uint64(g.pick(2))})
	}
	e := Event{Index: g.uint(), RaftIndex: g.uint(), Time: g.int(), Actor: g.str(), Tenant: g.str(),
		Correlation: g.str(), Capability: capability.Path(g.str()), Data: d}
	if n := []int{0, 0, 1, 3, 15, 16, 17}[g.pick(7)]; n > 0 || g.pick(4) == 0 {
		e.Metadata = map[string]string{}
		for i := 0; i < n; i++ {
			e.Metadata[g.str()+string(rune('a'+i))] = g.str()
		}
	}
	return e
}

// The hand-written encoder writes codec's bytes for generated decisions
// covering every length and integer form, empty and nil collections and
// map ordering.
func TestCanonicalDecisionMatchesCodec(t *testing.T) {
	g := gen{rand.New(rand.NewSource(1))}
	for i := 0; i < 3000; i++ {
		e := g.event()
		sameAsCodec(t, &e)
	}
	// Long strings and many entries: the 16- and 32-bit forms.
	e := g.event()
	d := e.Data.(PolicyDecision)
	d.Command = strings.Repeat("c", 70000)
	d.Result.EvaluatedRules = make([]string, 66000)
	d.ChainLinks = make([]string, 300)
	e.Data = d
	e.Metadata = map[string]string{}
	for i := 0; i < 300; i++ {
		e.Metadata[fmt.Sprintf("k%03d", 299-i)] = "v"
	}
	sameAsCodec(t, &e)
}

// What the hand-written encoder does not cover goes through codec.
func TestCanonicalFallback(t *testing.T) {
	c := delegation.Unrestricted()
	e := Event{Actor: "a", Data: PolicyDecision{Constraints: &c}}
	d := e.Data.(PolicyDecision)
	if _, ok := appendDecision(nil, &e, &d); ok {
		t.Fatal("a decision with constraints is covered")
	}
	want, _ := e.marshalCodec()
	if got, err := e.MarshalCanonical(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%x %v", got, err)
	}
	p := &PolicyDecision{Command: "x"}
	e = Event{Actor: "a", Data: p}
	want, _ = e.marshalCodec()
	if got, err := e.MarshalCanonical(); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("pointer payload: %x %v", got, err)
	}
	big := Event{Actor: "a", Data: PolicyDecision{Command: strings.Repeat("x", 300<<10)}}
	if _, err := big.MarshalCanonical(); err == nil {
		t.Fatal("an event over MaxEventBytes encodes")
	}
}

// Pinned: the canonical bytes of fixed decisions as the write path makes
// them (hashed, so a change to the hand-written encoder that codec would
// not make fails here too). The value was computed through codec before
// the hand-written encoder existed.
func TestPinnedDecisionBytes(t *testing.T) {
	g := gen{rand.New(rand.NewSource(7))}
	h := sha256.New()
	for i := 0; i < 50; i++ {
		e := g.event()
		b, err := e.MarshalCanonical()
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	if got, want := hex.EncodeToString(h.Sum(nil)), pinnedDecisions; got != want {
		t.Fatalf("canonical decisions %s, want %s", got, want)
	}
}

const pinnedDecisions = "36c081429e4addfee393181be11d7870e72d7153dbb8c3d7f5703021af8ea0bb"

// FuzzCanonicalDecision compares the two encoders on decisions built from
// fuzzed fields.
func FuzzCanonicalDecision(f *testing.F) {
	f.Add("agent", "acme", "user.read", "allow", "rule", "k_1", uint64(7), int64(1e18), 2, uint64(300), "m", true)
	f.Add("", "", "", "", "", "", uint64(0), int64(-1), -40000, uint64(math.MaxUint64), "", false)
	f.Fuzz(func(t *testing.T, actor, tenant, capPath, decision, rule, key string, index uint64, tm int64, depth int, used uint64, meta string, admin bool) {
		e := Event{Index: index, RaftIndex: used, Time: tm, Actor: actor, Tenant: tenant, Capability: capability.Path(capPath),
			Data: PolicyDecision{
				Request: policy.Request{Capability: capability.Path(capPath), AgentID: actor, Tenant: tenant, KeyID: principal.KeyID(key),
					Invoker: principal.KeyID(key), Admin: admin, ChainDepth: depth, Effects: capability.Effects{capability.EffectType(depth)}},
				Result:    policy.Result{Decision: policy.Decision(decision), MatchedRule: rule, EvaluatedRules: []string{rule, meta}},
				RequestID: meta, UseCounts: []UseCount{{Link: rule, Used: used, Max: index}},
			}}
		if meta != "" {
			e.Metadata = map[string]string{meta: rule, rule + "x": meta}
		}
		sameAsCodec(t, &e)
	})
}

// isLowerHex64 accepts exactly what the hex round trip accepted.
func TestIsLowerHex64(t *testing.T) {
	ok := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{ok, ok[:63], ok + "0", strings.ToUpper(ok), ok[:63] + "g", ok[:63] + "F", "", ok[:62] + "\x00a"} {
		b, err := hex.DecodeString(s)
		want := err == nil && len(b) == 32 && hex.EncodeToString(b) == s
		if got := isLowerHex64(s); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}
