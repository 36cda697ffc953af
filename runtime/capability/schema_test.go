package capability

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/cnv-project/cnv/runtime/codec"
)

func mustSchema(t *testing.T, s string) *Schema {
	t.Helper()
	var sc Schema
	if err := json.Unmarshal([]byte(s), &sc); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	if err := sc.Validate(); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return &sc
}

func TestSchemaShorthand(t *testing.T) {
	s := mustSchema(t, `"User"`)
	if s.Type != KindReference || s.Ref != "User" {
		t.Errorf("%+v", s)
	}
	p := mustSchema(t, `"string"`)
	if p.Type != KindPrimitive || p.Primitive != "string" {
		t.Errorf("%+v", p)
	}
}

func TestSchemaHashDeterministic(t *testing.T) {
	// Many keys: map order must not make equal schemas hash differently.
	a := `{"type":"object","properties":{"a":"string","b":"number","c":"boolean","d":"User","e":{"type":"array","items":"string"}}}`
	b := `{"type":"object","properties":{"e":{"type":"array","items":"string"},"d":"User","c":"boolean","b":"number","a":"string"}}`
	ha, hb := mustSchema(t, a).Hash(), mustSchema(t, b).Hash()
	if ha != hb || len(ha) != 32 {
		t.Errorf("hashes %s %s", ha, hb)
	}
	explicit := `{"type":"object","properties":{"a":"string","b":"number","c":"boolean","d":"User","e":{"type":"array","items":"string"}},"required":["e","d","c","b","a"]}`
	if mustSchema(t, explicit).Hash() != ha {
		t.Error("explicit full required list hashes differently")
	}
	if mustSchema(t, `"User"`).Hash() == mustSchema(t, `"Users"`).Hash() {
		t.Error("different schemas collide")
	}
	if (*Schema)(nil).Hash() != PrimitiveSchema("null").Hash() {
		t.Error("nil schema is the null primitive")
	}
	// Pinned: changing the codec or the schema encoding changes every
	// certificate's schema hashes, so it must be deliberate.
	if got := mustSchema(t, `"User"`).Hash(); got != pinnedUserHash {
		t.Errorf("hash of reference User = %s, pinned %s", got, pinnedUserHash)
	}
}

const pinnedUserHash = "750c7734f8ca886ed084d81131aec0ac"

func TestSchemaCompatibility(t *testing.T) {
	user := mustSchema(t, `{"type":"object","properties":{"name":"string","age":"number"}}`)
	nameOnly := mustSchema(t, `{"type":"object","properties":{"name":"string"}}`)
	nameNum := mustSchema(t, `{"type":"object","properties":{"name":"number"}}`)
	opt := mustSchema(t, `{"type":"object","properties":{"name":"string","nick":"string"},"required":["name"]}`)
	cases := []struct {
		want, from *Schema
		ok         bool
	}{
		{nameOnly, user, true},  // width subtyping
		{user, nameOnly, false}, // missing age
		{nameNum, user, false},  // wrong property type
		{opt, user, true},       // optional nick absent
		{mustSchema(t, `"string"`), mustSchema(t, `"string"`), true},
		{mustSchema(t, `"string"`), mustSchema(t, `"number"`), false},
		{mustSchema(t, `"User"`), mustSchema(t, `"User"`), true},
		{mustSchema(t, `"User"`), mustSchema(t, `"Account"`), false},
		{mustSchema(t, `{"type":"array","items":"string"}`), mustSchema(t, `{"type":"array","items":"string"}`), true},
		{mustSchema(t, `{"type":"array","items":"string"}`), mustSchema(t, `{"type":"array","items":"number"}`), false},
		{mustSchema(t, `{"type":"union","options":["string","number"]}`), mustSchema(t, `"number"`), true},
		{mustSchema(t, `"number"`), mustSchema(t, `{"type":"union","options":["string","number"]}`), false},
		{mustSchema(t, `{"type":"union","options":["string","number","null"]}`), mustSchema(t, `{"type":"union","options":["string","number"]}`), true},
		{mustSchema(t, `"User"`), user, false},
	}
	for i, c := range cases {
		if got := c.want.AcceptsFrom(c.from); got != c.ok {
			t.Errorf("case %d: AcceptsFrom = %v, want %v", i, got, c.ok)
		}
	}
}

func TestSchemaValidate(t *testing.T) {
	bad := []string{
		`{"type":"primitive","primitive_type":"date"}`,
		`{"type":"array"}`,
		`{"type":"object","properties":{"a":"string"},"required":["b"]}`,
		`{"type":"union","options":[]}`,
		`{"type":"tuple"}`,
		`{"type":"reference","type_ref":""}`,
	}
	for _, s := range bad {
		var sc Schema
		if err := json.Unmarshal([]byte(s), &sc); err != nil {
			continue
		}
		if err := sc.Validate(); !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("%s: %v", s, err)
		}
	}
	deep := `"x"`
	for i := 0; i < 20; i++ {
		deep = `{"type":"array","items":` + deep + `}`
	}
	var sc Schema
	if err := json.Unmarshal([]byte(deep), &sc); err != nil {
		t.Fatal(err)
	}
	if err := sc.Validate(); !errors.Is(err, ErrInvalidSchema) {
		t.Errorf("deep schema: %v", err)
	}
}

// An explicit empty "required" (nothing required) keeps its meaning
// through the canonical msgpack encoding, which drops empty lists; an
// absent one means every property.
func TestSchemaRequiredSurvivesCodec(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want int
	}{
		{`{"type":"object","properties":{"a":"string","b":"number"},"required":[]}`, 0},
		{`{"type":"object","properties":{"a":"string","b":"number"}}`, 2},
		{`{"type":"object","properties":{"a":"string","b":"number"},"required":["b"]}`, 1},
	} {
		var s Schema
		if err := json.Unmarshal([]byte(tc.doc), &s); err != nil {
			t.Fatal(err)
		}
		b, err := codec.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		var back Schema
		if err := codec.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := len(back.requiredList()); got != tc.want || back.Hash() != s.Hash() {
			t.Errorf("%s: %d required after round trip, want %d (hash %s vs %s)", tc.doc, got, tc.want, back.Hash(), s.Hash())
		}
	}
}
