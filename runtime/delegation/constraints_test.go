package delegation

import (
	"errors"
	"reflect"
	"testing"

	"github.com/cnv-project/cnv/runtime/capability"
)

func mustConstraints(t testing.TB, allow, forbid, nouns, verbs []string, l capability.Level) Constraints {
	t.Helper()
	c, err := NewConstraints(allow, forbid, nouns, verbs, l)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var any1 = []string{"*"}

func TestUnrestrictedAndStrict(t *testing.T) {
	paths := []string{"user.read", "user.delete", "api.v2.resource.action", "a.b"}
	for _, p := range paths {
		for l := capability.LevelReadOnly; l <= capability.LevelPrivileged; l++ {
			if err := Unrestricted().Allows(capability.MustPath(p), l); err != nil {
				t.Errorf("unrestricted refused %s at %s: %v", p, l, err)
			}
		}
		if err := Strict().Allows(capability.MustPath(p), capability.LevelReadOnly); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("strict allowed %s: %v", p, err)
		}
	}
	if err := Unrestricted().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := Strict().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestAllowsNamesTheField(t *testing.T) {
	c := mustConstraints(t, []string{"user.*", "report.build"}, []string{"user.delete"}, []string{"user", "report"},
		[]string{"read", "list", "delete", "build"}, capability.LevelMutate)
	cases := []struct {
		path  string
		level capability.Level
		field string
		err   error
	}{
		{"user.read", capability.LevelReadOnly, "", nil},
		{"user.list", capability.LevelMutate, "", nil},
		{"report.build", capability.LevelReadOnly, "", nil},
		{"user.delete", capability.LevelReadOnly, "forbid", ErrNotAllowed},
		{"superuser.read", capability.LevelReadOnly, "allow", ErrNotAllowed},
		{"user.admin.read", capability.LevelReadOnly, "allow", ErrNotAllowed},
		{"user.create", capability.LevelReadOnly, "verbs", ErrNotAllowed},
		{"user.read", capability.LevelNetwork, "max_effect", ErrEffectTooHigh},
	}
	for _, tc := range cases {
		err := c.Allows(capability.MustPath(tc.path), tc.level)
		if tc.err == nil {
			if err != nil {
				t.Errorf("%s: %v", tc.path, err)
			}
			continue
		}
		if !errors.Is(err, tc.err) || FailedField(err) != tc.field {
			t.Errorf("%s at %s: got %v (field %q), want %v on %q", tc.path, tc.level, err, FailedField(err), tc.err, tc.field)
		}
	}
}

// Nouns and verbs are checked on their own: an allow list of "**" still
// refuses a noun outside the noun list, on every link of a chain.
func TestNounsAndVerbsEnforced(t *testing.T) {
	c := mustConstraints(t, []string{"**"}, nil, []string{"api.**"}, []string{"get"}, capability.LevelReadOnly)
	if err := c.Allows("api.v2.users.get", capability.LevelReadOnly); err != nil {
		t.Fatal(err)
	}
	if err := c.Allows("db.users.get", capability.LevelReadOnly); FailedField(err) != "nouns" {
		t.Fatalf("noun outside the list: %v", err)
	}
	if err := c.Allows("api.v2.users.put", capability.LevelReadOnly); FailedField(err) != "verbs" {
		t.Fatalf("verb outside the list: %v", err)
	}
}

// Intersection: {read, write} ∩ {read, list} = {read}
// and min(Mutate, ReadOnly) = ReadOnly; forbidden sets are united.
func TestIntersectReference(t *testing.T) {
	a := mustConstraints(t, []string{"doc.read", "doc.write"}, []string{"doc.purge"}, any1, any1, capability.LevelMutate)
	b := mustConstraints(t, []string{"doc.read", "doc.list"}, []string{"doc.shred"}, any1, any1, capability.LevelReadOnly)
	got, err := Intersect(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := Constraints{
		Allow:    []capability.Pattern{"doc.read"},
		Forbid:   []capability.Pattern{"doc.purge", "doc.shred"},
		Nouns:    []string{"*"},
		Verbs:    []string{"*"},
		MaxLevel: capability.LevelReadOnly,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestIntersectWildcards(t *testing.T) {
	cases := []struct {
		a, b, want []string
	}{
		{[]string{"user.*"}, []string{"*.read"}, []string{"user.read"}},
		{[]string{"api.**"}, []string{"*.v2.*"}, []string{"api.v2.*"}},
		{[]string{"**"}, []string{"user.read", "user.*"}, []string{"user.*"}},
		{[]string{"*"}, []string{"**"}, []string{"**"}},
		{[]string{"user.*"}, []string{"user.admin.**"}, []string{}},
		{[]string{"user.**"}, []string{"user.admin.**"}, []string{"user.admin.**"}},
		{[]string{"a.*", "b.*"}, []string{"*.x", "*.y"}, []string{"a.x", "a.y", "b.x", "b.y"}},
		{[]string{"a.b"}, []string{"a.c"}, []string{}},
	}
	for _, tc := range cases {
		a := mustConstraints(t, tc.a, nil, any1, any1, 0)
		b := mustConstraints(t, tc.b, nil, any1, any1, 0)
		got, err := Intersect(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if g := fromPatterns(got.Allow); !reflect.DeepEqual(g, tc.want) {
			t.Errorf("%v ∩ %v = %v, want %v", tc.a, tc.b, g, tc.want)
		}
	}
}

func TestNarrows(t *testing.T) {
	parent := mustConstraints(t, []string{"user.*", "report.build"}, []string{"user.delete"}, []string{"user", "report"},
		[]string{"read", "list", "build", "delete"}, capability.LevelMutate)
	ok := []Constraints{
		parent,
		mustConstraints(t, []string{"user.read"}, []string{"user.delete"}, []string{"user"}, []string{"read"}, capability.LevelReadOnly),
		mustConstraints(t, []string{"user.*"}, []string{"user.*"}, []string{"user"}, []string{"read"}, capability.LevelMutate),
		// A child that cannot reach a parent's forbidden capability need not
		// repeat the forbid.
		mustConstraints(t, []string{"user.read"}, nil, []string{"user"}, []string{"read"}, capability.LevelReadOnly),
		Strict(),
	}
	for _, c := range ok {
		if err := c.Narrows(parent); err != nil {
			t.Errorf("%+v must narrow the parent: %v", c, err)
		}
	}
	widen := map[string]Constraints{
		"allow":      mustConstraints(t, []string{"user.**"}, []string{"user.delete"}, []string{"user"}, []string{"read"}, 0),
		"forbid":     mustConstraints(t, []string{"user.*"}, []string{"user.purge"}, []string{"user"}, []string{"read"}, 0),
		"nouns":      mustConstraints(t, []string{"user.read"}, []string{"user.delete"}, any1, []string{"read"}, 0),
		"verbs":      mustConstraints(t, []string{"user.read"}, []string{"user.delete"}, []string{"user"}, any1, 0),
		"max_effect": mustConstraints(t, []string{"user.read"}, []string{"user.delete"}, []string{"user"}, []string{"read"}, capability.LevelNetwork),
	}
	for field, c := range widen {
		err := c.Narrows(parent)
		if !errors.Is(err, ErrWidened) || FailedField(err) != field {
			t.Errorf("widening %s: got %v (field %q)", field, err, FailedField(err))
		}
	}
}

func TestConstraintsValidate(t *testing.T) {
	bad := []Constraints{
		{Allow: []capability.Pattern{"user"}},
		{Allow: []capability.Pattern{"**.read"}},
		{Forbid: []capability.Pattern{""}},
		{Nouns: []string{"user.**.x"}},
		{Nouns: []string{""}},
		{Nouns: []string{"us er"}},
		{Verbs: []string{"read.x"}},
		{Verbs: []string{"**"}},
		{Verbs: []string{"1read"}},
		{MaxLevel: capability.LevelPrivileged + 1},
		{Allow: make([]capability.Pattern, 257)},
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%+v: want ErrMalformed, got %v", c, err)
		}
	}
	good := Constraints{Allow: []capability.Pattern{"*", "a.*.c", "a.**"}, Nouns: []string{"a", "a.b", "*", "**", "a.*", "a.**"}, Verbs: []string{"*", "read"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
}
