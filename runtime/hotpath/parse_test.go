package hotpath

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unsafe"
)

func parse(t *testing.T, in string) Parsed {
	t.Helper()
	var args [16]Arg
	var pos [16]string
	p, err := Parse(in, args[:], pos[:])
	if err != nil {
		t.Fatalf("%q: %v", in, err)
	}
	return p
}

func TestParseCases(t *testing.T) {
	cases := []struct {
		in   string
		path string
		args []Arg
		pos  []string
	}{
		{"user.create --name alice --age 30 active", "user.create",
			[]Arg{{Key: "name", Value: "alice"}, {Key: "age", Value: "30"}}, []string{"active"}},
		{"file.copy source.txt dest.txt", "file.copy", nil, []string{"source.txt", "dest.txt"}},
		// As in the original, an option followed by a plain token takes it
		// as its value (write --force=true or put the file first otherwise).
		{"deploy.app myapp --region us-west --replicas 3 --force config.yaml", "deploy.app",
			[]Arg{{Key: "region", Value: "us-west"}, {Key: "replicas", Value: "3"}, {Key: "force", Value: "config.yaml"}},
			[]string{"myapp"}},
		// Fixed: "--dry-run --force" no longer eats "--force" as a value.
		{"deploy.app --dry-run --force", "deploy.app",
			[]Arg{{Key: "dry-run", Bool: true}, {Key: "force", Bool: true}}, nil},
		{"git.commit -v", "git.commit", []Arg{{Key: "v", Bool: true}}, nil},
		{"git.commit -m msg -v", "git.commit", []Arg{{Key: "m", Value: "msg"}, {Key: "v", Bool: true}}, nil},
		// Fixed: --k=v is split.
		{"user.create --name=alice --note=", "user.create",
			[]Arg{{Key: "name", Value: "alice"}, {Key: "note", Value: ""}}, nil},
		// Repeated keys keep every occurrence.
		{"acl.grant --role a --role b --role=c", "acl.grant",
			[]Arg{{Key: "role", Value: "a"}, {Key: "role", Value: "b"}, {Key: "role", Value: "c"}}, nil},
		// Quotes: whitespace inside, quotes stripped, escapes not interpreted.
		{`user.create --name "alice smith" --note 'say "hi"' "two words"`, "user.create",
			[]Arg{{Key: "name", Value: "alice smith"}, {Key: "note", Value: `say "hi"`}}, []string{"two words"}},
		{`x.y --path="C:\dir x\"`, "x.y", []Arg{{Key: "path", Value: `C:\dir x\`}}, nil},
		{`x.y --a "--not-an-option" ""`, "x.y", []Arg{{Key: "a", Value: "--not-an-option"}}, []string{""}},
		// Negative numbers are values; "-" and "-xy" are positional.
		{"acct.adjust --delta -5 - -xy", "acct.adjust", []Arg{{Key: "delta", Value: "-5"}}, []string{"-", "-xy"}},
		// "--" ends options.
		{"run.cmd --v -- --x -y z", "run.cmd", []Arg{{Key: "v", Bool: true}}, []string{"--x", "-y", "z"}},
		{"  \t svc.status\n", "svc.status", nil, nil},
	}
	for _, c := range cases {
		p := parse(t, c.in)
		if p.Path != c.path || !sameArgs(p.Args, c.args) || !reflect.DeepEqual(nonNil(p.Positional), nonNil(c.pos)) {
			t.Errorf("%q:\n got %q %+v %q\nwant %q %+v %q", c.in, p.Path, p.Args, p.Positional, c.path, c.args, c.pos)
		}
	}
}

func sameArgs(a, b []Arg) bool { return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b)) }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestParseFlagsByName(t *testing.T) {
	// The original indexed flags by the positional count, so "-v" and "-q"
	// here both landed on bit 0. Names keep them apart.
	p := parse(t, "log.tail -v -q --follow")
	if !p.Flag("v") || !p.Flag("q") || !p.Flag("follow") || p.Flag("x") {
		t.Fatalf("flags %+v", p.Args)
	}
	p = parse(t, "acl.grant --role a --role b --dry")
	if v, ok := p.Get("role"); !ok || v != "a" || p.Count("role") != 2 {
		t.Fatalf("get %q %v count %d", v, ok, p.Count("role"))
	}
	if got := p.Values("role", nil); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("values %q", got)
	}
	if _, ok := p.Get("dry"); ok {
		t.Fatal("boolean flag has a value")
	}
}

func TestParseErrors(t *testing.T) {
	var args [2]Arg
	var pos [1]string
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", ErrEmptyInput},
		{" \t\n", ErrEmptyInput},
		{"--name x", ErrSyntax},
		{`"user.create"`, ErrSyntax},
		{`a.b "unterminated`, ErrSyntax},
		{`a.b --k='open`, ErrSyntax},
		{`a.b "x"y`, ErrSyntax},
		{`a.b --=v`, ErrSyntax},
		{"a.b --a 1 --b 2 --c 3", ErrBufferOverflow},
		{"a.b p1 p2", ErrBufferOverflow},
		{"a.b " + strings.Repeat("x", 16<<10), ErrInputTooLong},
	} {
		if _, err := Parse(c.in, args[:], pos[:]); !errors.Is(err, c.want) {
			t.Errorf("%q: got %v, want %v", trim(c.in), err, c.want)
		}
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func TestParseDoesNotAllocate(t *testing.T) {
	var args [8]Arg
	var pos [8]string
	in := `user.create --name "alice smith" --age=30 active --force`
	n := testing.AllocsPerRun(100, func() {
		if _, err := Parse(in, args[:], pos[:]); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocs per parse", n)
	}
}

// within reports whether s lies inside in's bytes (or is empty).
func within(in, s string) bool {
	if len(s) == 0 {
		return true
	}
	base := uintptr(unsafe.Pointer(unsafe.StringData(in)))
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	return p >= base && p+uintptr(len(s)) <= base+uintptr(len(in))
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"user.create --name alice --age 30 active",
		"deploy.app myapp --region us-west --replicas 3 --force config.yaml",
		"git.commit -v", `a.b --k="x y" 'z' -- --q`, "a.b --=", `a.b "`, "a.b -5 -", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var args [8]Arg
		var pos [8]string
		p, err := Parse(in, args[:], pos[:])
		if err != nil {
			if p.Path != "" || p.Args != nil || p.Positional != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		if p.Path == "" || !within(in, p.Path) || p.Path[0] == '-' {
			t.Fatalf("path %q", p.Path)
		}
		for _, a := range p.Args {
			if a.Key == "" || !within(in, a.Key) || !within(in, a.Value) || (a.Bool && a.Value != "") {
				t.Fatalf("arg %+v not a slice of the input", a)
			}
		}
		for _, s := range p.Positional {
			if !within(in, s) {
				t.Fatalf("positional %q not a slice of the input", s)
			}
		}
		if strings.Trim(in, " \t\r\n") == "" {
			t.Fatal("blank input parsed")
		}
	})
}
