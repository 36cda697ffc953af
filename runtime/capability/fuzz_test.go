package capability

import (
	"encoding/json"
	"testing"
)

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"user.create", "api.v2.resource.action", "", "a..b", "user.*", "x@1.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			return
		}
		if string(p) != s || p.Noun()+"."+p.Verb() != s {
			t.Fatalf("path %q split into %q %q", s, p.Noun(), p.Verb())
		}
		if !Pattern(s).Match(s) {
			t.Fatalf("literal pattern %q does not match itself", s)
		}
		if err := p.ID().Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzParseRef(f *testing.F) {
	f.Add("services.restart@2.0.0")
	f.Add("a.b@")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.String() != s {
			t.Fatalf("ref %q renders as %q", s, r.String())
		}
		if r.Version != "" && r.ID().Version() != r.Version {
			t.Fatalf("version %q does not round-trip through %s", r.Version, r.ID())
		}
	})
}

func FuzzPattern(f *testing.F) {
	f.Add("user.*", "user.create")
	f.Add("**", "a.b")
	f.Fuzz(func(t *testing.T, pat, path string) {
		pt, err := ParsePattern(pat)
		if err != nil {
			return
		}
		if _, err := ParsePath(path); err != nil {
			return
		}
		m := pt.Match(path)
		if pt.IsLiteral() && m != (pat == path) {
			t.Fatalf("literal %q vs %q: %v", pat, path, m)
		}
		if m && !Pattern("**").Match(path) {
			t.Fatal("** must match every path")
		}
		if pt.Covers(Pattern(path)) != m {
			t.Fatalf("Covers(%q, literal %q) = %v, Match = %v", pat, path, !m, m)
		}
	})
}

func FuzzSchemaJSON(f *testing.F) {
	f.Add(`{"type":"object","properties":{"a":"string"}}`)
	f.Add(`"User"`)
	f.Fuzz(func(t *testing.T, s string) {
		var sc Schema
		if json.Unmarshal([]byte(s), &sc) != nil || sc.Validate() != nil {
			return
		}
		_ = sc.Hash()
		if !sc.AcceptsFrom(&sc) {
			t.Fatalf("schema %s does not accept itself", s)
		}
	})
}
