package capability

import (
	"errors"
	"strings"
	"testing"
)

// Pinned vectors (computed independently with python hashlib): an ID must
// never change for a path, or every ledger entry naming it would.
func TestIDVectors(t *testing.T) {
	cases := map[string]ID{
		"user.create":      "cap_ccf261c62e8553ce",
		"user.read":        "cap_1ab26a0a32ffea49",
		"user.list":        "cap_32395168af75bc2e",
		"user.delete":      "cap_22f62a654b8f49b9",
		"services.restart": "cap_0263986ff657bbe2",
		"test.cmd":         "cap_e651ba8cf65aeb19",
	}
	for path, want := range cases {
		if got := FromPath(path); got != want {
			t.Errorf("FromPath(%q) = %s, want %s", path, got, want)
		}
		if got := MustPath(path).ID(); got != want {
			t.Errorf("Path(%q).ID() = %s, want %s", path, got, want)
		}
	}
	if got := FromPathVersioned("services.restart", "2.0.0"); got != "cap_1c60d1cdfccf9b9b_2_0_0" {
		t.Errorf("versioned = %s", got)
	}
	ref, err := ParseRef("services.restart@2.0.0")
	if err != nil || ref.ID() != "cap_1c60d1cdfccf9b9b_2_0_0" {
		t.Errorf("ParseRef: %v %v", ref.ID(), err)
	}
}

func TestIDVersioned(t *testing.T) {
	v := FromPathVersioned("services.restart", "2.0.0")
	if !v.IsVersioned() || v.Version() != "2.0.0" {
		t.Errorf("versioned id: IsVersioned=%v Version=%q", v.IsVersioned(), v.Version())
	}
	if FromPath("user.create").IsVersioned() {
		t.Error("plain id reads as versioned")
	}
	// The original read any string with two underscores as versioned.
	if ID("my_custom_id").IsVersioned() || ID("my_custom_id").Version() != "" {
		t.Error("custom id reads as versioned")
	}
	if err := ID("my_custom_id").Validate(); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Validate custom id: %v", err)
	}
	for _, id := range []ID{v, FromPath("a.b")} {
		if err := id.Validate(); err != nil {
			t.Errorf("Validate(%s): %v", id, err)
		}
	}
}

func TestParsePath(t *testing.T) {
	good := []string{"user.create", "api.v2.resource.action", "test.cmd", "a-b.c_d", "User.Create"}
	for _, s := range good {
		p, err := ParsePath(s)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", s, err)
			continue
		}
		if p.String() != s {
			t.Errorf("path changed: %q", p)
		}
	}
	bad := []string{"", "user", ".create", "user.", "user..create", "user.cre ate", "1user.create",
		"user.*", "user/create", strings.Repeat("a.", 200) + "b", "a.b.c.d.e.f.g.h.i"}
	for _, s := range bad {
		if _, err := ParsePath(s); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ParsePath(%q) = %v, want ErrInvalidPath", s, err)
		}
	}
	p := MustPath("api.v2.resource.action")
	if p.Noun() != "api.v2.resource" || p.Verb() != "action" {
		t.Errorf("noun/verb = %q %q", p.Noun(), p.Verb())
	}
}

func TestParseVersion(t *testing.T) {
	for _, v := range []string{"1.0.0", "2.0.0-rc1", "1"} {
		if err := ParseVersion(v); err != nil {
			t.Errorf("ParseVersion(%q): %v", v, err)
		}
	}
	for _, v := range []string{"", "1..0", "1_0", "1.0 ", strings.Repeat("1", 100)} {
		if err := ParseVersion(v); !errors.Is(err, ErrInvalidVersion) {
			t.Errorf("ParseVersion(%q) = %v", v, err)
		}
	}
	if _, err := ParseRef("user.create@"); err == nil {
		t.Error("empty version accepted")
	}
}

func TestPatternMatch(t *testing.T) {
	cases := []struct {
		pat, path string
		want      bool
	}{
		{"user.create", "user.create", true},
		{"user.create", "user.read", false},
		{"user.*", "user.create", true},
		{"user.*", "superuser.create", false},
		{"user.*", "user.admin.create", false},
		{"user.**", "user.admin.create", true},
		{"user.**", "user.create", true},
		{"*.read", "user.read", true},
		{"*.read", "user.create", false},
		{"*", "a.b", true},
		{"**", "a.b.c", true},
		{"user", "superuser.list", false}, // by segment, not by substring
		{"a.*.c", "a.b.c", true},
		{"a.*.c", "a.b.d", false},
	}
	for _, c := range cases {
		if got := Pattern(c.pat).Match(c.path); got != c.want {
			t.Errorf("%q.Match(%q) = %v, want %v", c.pat, c.path, got, c.want)
		}
	}
}

func TestPatternCovers(t *testing.T) {
	cases := []struct {
		p, q string
		want bool
	}{
		{"user.*", "user.read", true},
		{"user.read", "user.*", false},
		{"user.**", "user.*", true},
		{"user.*", "user.**", false},
		{"**", "user.**", true},
		{"*", "a.b.c", true},
		{"*.read", "user.read", true},
		{"user.read", "user.read", true},
		{"user.read", "user.list", false},
	}
	for _, c := range cases {
		if got := Pattern(c.p).Covers(Pattern(c.q)); got != c.want {
			t.Errorf("%q.Covers(%q) = %v, want %v", c.p, c.q, got, c.want)
		}
	}
}

// Covers must agree with Match: if p covers q, every path q matches, p
// matches too.
func TestPatternCoversAgreesWithMatch(t *testing.T) {
	pats := []string{"a.b", "a.*", "a.**", "*.b", "*", "**", "a.b.c", "a.*.c", "*.*", "b.**"}
	paths := []string{"a.b", "a.c", "a.b.c", "b.b", "a.x.c", "b.a.b"}
	for _, p := range pats {
		for _, q := range pats {
			if !Pattern(p).Covers(Pattern(q)) {
				continue
			}
			for _, path := range paths {
				if Pattern(q).Match(path) && !Pattern(p).Match(path) {
					t.Errorf("%q covers %q but %q matches only the latter", p, q, path)
				}
			}
		}
	}
}

func BenchmarkFromPath(b *testing.B) {
	paths := []string{"user.create", "services.restart", "api.v2.resource.action", "test.cmd"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = FromPath(paths[i%len(paths)])
	}
}

func BenchmarkFromPathVersioned(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = FromPathVersioned("services.restart", "2.0.0")
	}
}

func BenchmarkPatternMatch(b *testing.B) {
	p := Pattern("api.*.resource.**")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if !p.Match("api.v2.resource.action") {
			b.Fatal("no match")
		}
	}
}
