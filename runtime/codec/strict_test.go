package codec

import (
	"errors"
	"strings"
	"testing"
)

type strictArg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type strictDoc struct {
	Capability string      `json:"capability"`
	Args       []strictArg `json:"args"`
	Payload    []byte      `json:"payload,omitempty"`
}

// mp builds msgpack by hand so tests can write what our encoder never would.
func mp(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fixstr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }
func fixmap(n int) []byte    { return []byte{0x80 | byte(n)} }
func fixarr(n int) []byte    { return []byte{0x90 | byte(n)} }

func TestUnmarshalStrictAcceptsWhatWeWrite(t *testing.T) {
	in := strictDoc{Capability: "user.create", Args: []strictArg{{"name", "alice"}}, Payload: []byte{0, 0xff}}
	b := MustMarshal(in)
	var out strictDoc
	if err := UnmarshalStrict(b, len(b), &out); err != nil {
		t.Fatal(err)
	}
	if !Equal(in, out) {
		t.Fatalf("%+v", out)
	}
}

func TestUnmarshalStrictRefuses(t *testing.T) {
	cases := map[string]struct {
		in   []byte
		want string
	}{
		"duplicate key": {mp(fixmap(2), fixstr("capability"), fixstr("a.b"), fixstr("capability"), fixstr("c.d")),
			`duplicate map key "capability"`},
		"case-changed key": {mp(fixmap(1), fixstr("Capability"), fixstr("a.b")), "Capability"},
		"unknown key":      {mp(fixmap(1), fixstr("zz"), fixstr("a.b")), "zz"},
		"invalid UTF-8 in an argument value": {mp(fixmap(1), fixstr("args"), fixarr(1), fixmap(2),
			fixstr("name"), fixstr("n"), fixstr("value"), fixstr("\xff\xfe")), "args[0].value"},
		"a length past the end":      {mp(fixmap(1), fixstr("payload"), []byte{0xc6, 0xff, 0xff, 0xff, 0xff}), "runs past the end"},
		"an array larger than input": {mp(fixmap(1), fixstr("args"), []byte{0xdd, 0xff, 0xff, 0xff, 0xff}), "an array of"},
		"a map larger than input":    {[]byte{0xdf, 0x7f, 0xff, 0xff, 0xff}, "a map of"},
		"trailing bytes":             {mp(fixmap(0), []byte{0xc0}), "trailing"},
		"not a type":                 {[]byte{0xc1}, "not a msgpack type"},
		"too deep":                   {append([]byte(strings.Repeat("\x91", 100)), 0xc0), "nesting deeper"},
	}
	for name, c := range cases {
		var out strictDoc
		err := UnmarshalStrict(c.in, 1<<20, &out)
		if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (want %q)", name, err, c.want)
		}
	}
	if err := UnmarshalStrict(make([]byte, 10), 5, &strictDoc{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
}

// bin values are bytes, not text: any content is fine there.
func TestCheckAllowsBinaryInBin(t *testing.T) {
	b := mp(fixmap(1), fixstr("payload"), []byte{0xc4, 2, 0xff, 0xfe})
	var out strictDoc
	if err := UnmarshalStrict(b, len(b), &out); err != nil || string(out.Payload) != "\xff\xfe" {
		t.Fatalf("%v %q", err, out.Payload)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add(MustMarshal(strictDoc{Capability: "a.b", Args: []strictArg{{"x", "y"}}}))
	f.Add([]byte{0xdf, 0, 0, 0, 1, 0xa1, 'a', 0xc0})
	f.Add([]byte{0xc7, 1, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		var out strictDoc
		serr := UnmarshalStrict(b, len(b), &out)
		if err != nil && serr == nil {
			t.Fatalf("Check refused (%v) what UnmarshalStrict took", err)
		}
	})
}
