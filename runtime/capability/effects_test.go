package capability

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cnv-project/cnv/runtime/codec"
)

func TestEffectNamesRoundTrip(t *testing.T) {
	for _, e := range allEffectTypes() {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back EffectType
		if err := json.Unmarshal(b, &back); err != nil || back != e {
			t.Errorf("%s: json round trip gave %v %v", e, back, err)
		}
		mb, err := codec.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var mback EffectType
		if err := codec.Unmarshal(mb, &mback); err != nil || mback != e {
			t.Errorf("%s: msgpack round trip gave %v %v", e, mback, err)
		}
	}
	if b, _ := json.Marshal(ReadOnly); string(b) != `"read_only"` {
		t.Errorf("read_only encodes as %s", b)
	}
	var e EffectType
	if err := json.Unmarshal([]byte(`"readonly"`), &e); !errors.Is(err, ErrUnknownEffect) {
		t.Errorf("readonly accepted: %v", err)
	}
}

func TestEffectPredicates(t *testing.T) {
	for _, e := range allEffectTypes() {
		wantMut := e != ReadOnly && e != NetworkAccess
		if e.IsMutating() != wantMut {
			t.Errorf("%s IsMutating = %v", e, e.IsMutating())
		}
	}
	if !Privileged.IsCritical() || !MutateSecurity.IsCritical() || !MutateOntology.IsCritical() || MutateState.IsCritical() {
		t.Error("IsCritical wrong")
	}
	if !StorageWrite.WritesStorage() || !MutateState.WritesStorage() || !MutateConfig.WritesStorage() || NetworkAccess.WritesStorage() {
		t.Error("WritesStorage wrong")
	}
}

func TestEffectLevels(t *testing.T) {
	want := map[EffectType]Level{
		ReadOnly: LevelReadOnly, MutateState: LevelMutate, MutateConfig: LevelMutate,
		MutateOntology: LevelMutate, StorageWrite: LevelMutate, NetworkAccess: LevelNetwork,
		MutateSecurity: LevelPrivileged, Privileged: LevelPrivileged,
	}
	for e, l := range want {
		if e.Level() != l {
			t.Errorf("%s level = %s, want %s", e, e.Level(), l)
		}
	}
	if !(LevelReadOnly < LevelMutate && LevelMutate < LevelNetwork && LevelNetwork < LevelPrivileged) {
		t.Error("level order")
	}
	if (Effects{ReadOnly, NetworkAccess, MutateState}).Level() != LevelNetwork {
		t.Error("max level over effects")
	}
	if (Effects{}).Level() != LevelReadOnly {
		t.Error("empty effects level")
	}
	if l, err := ParseLevel("read_only"); err != nil || l != LevelReadOnly {
		t.Error("ParseLevel read_only")
	}
	if l, err := ParseLevel("mutate_state"); err != nil || l != LevelMutate {
		t.Error("ParseLevel by effect name")
	}
	if _, err := ParseLevel("root"); !errors.Is(err, ErrUnknownLevel) {
		t.Error("ParseLevel accepts junk")
	}
}

func TestFlags(t *testing.T) {
	f := Flags(0).With(FlagReadOnly).With(FlagIdempotent)
	if !f.Has(FlagReadOnly) || !f.Has(FlagIdempotent) || f.Has(FlagPrivileged) {
		t.Error("with/has")
	}
	if !f.Has(FlagReadOnly|FlagIdempotent) || f.Has(FlagReadOnly|FlagNetwork) {
		t.Error("multi-bit has")
	}
	// Semilattice laws over every pair and triple of small flag sets.
	vals := []Flags{0, 1, 2, 3, 8, 33, 255, 64}
	for _, a := range vals {
		if a.Merge(a) != a {
			t.Errorf("not idempotent: %d", a)
		}
		for _, b := range vals {
			if a.Merge(b) != b.Merge(a) {
				t.Errorf("not commutative: %d %d", a, b)
			}
			for _, c := range vals {
				if a.Merge(b).Merge(c) != a.Merge(b.Merge(c)) {
					t.Errorf("not associative: %d %d %d", a, b, c)
				}
			}
		}
	}
	if (Effects{ReadOnly, NetworkAccess}).Flags() != FlagReadOnly|FlagNetwork {
		t.Error("Effects.Flags")
	}
}

func TestSensitivityAndMetadata(t *testing.T) {
	if !(SensitivityLow < SensitivityMedium && SensitivityMedium < SensitivityHigh && SensitivityHigh < SensitivityCritical) {
		t.Error("order")
	}
	if _, err := ParseSensitivity("extreme"); !errors.Is(err, ErrUnknownSensitivity) {
		t.Error("unknown sensitivity accepted")
	}
	m := NewMetadata(MutateState)
	if !m.Idempotent || m.IsHighRisk() || m.RequiresIsolation() {
		t.Errorf("defaults: %+v", m)
	}
	m.Sensitivity = SensitivityHigh
	if !m.IsHighRisk() {
		t.Error("high sensitivity is high risk")
	}
	m2 := NewMetadata(ReadOnly)
	m2.DataTags = []DataTag{DataPII}
	if !m2.IsHighRisk() {
		t.Error("data tag is high risk")
	}
	if !NewMetadata(Privileged).IsHighRisk() {
		t.Error("critical type is high risk")
	}
	m2.Isolation = IsolationSandboxed
	if !m2.RequiresIsolation() {
		t.Error("isolation")
	}
	b, _ := json.Marshal(NewMetadata(ReadOnly))
	if string(b) != `{"effect_type":"read_only","sensitivity":"low","idempotent":true,"isolation":"shared","supports_dry_run":false}` {
		t.Errorf("metadata json: %s", b)
	}
}

// allEffectTypes lists the vocabulary in declaration order.
func allEffectTypes() []EffectType {
	out := make([]EffectType, numEffectTypes)
	for i := range out {
		out[i] = EffectType(i)
	}
	return out
}
