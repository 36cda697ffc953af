package codec

import (
	"bytes"
	"errors"
	"testing"
)

type sample struct {
	Name  string            `json:"name"`
	N     int64             `json:"n"`
	Tags  map[string]string `json:"tags,omitempty"`
	Bytes []byte            `json:"bytes,omitempty"`
	Inner *sample           `json:"inner,omitempty"`
}

func TestCanonicalMaps(t *testing.T) {
	a := sample{Name: "x", Tags: map[string]string{}}
	b := sample{Name: "x", Tags: map[string]string{}}
	for i := 0; i < 50; i++ {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		a.Tags[k] = k
	}
	// Insert in the opposite order.
	for i := 49; i >= 0; i-- {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		b.Tags[k] = k
	}
	x, _ := Marshal(a)
	y, _ := Marshal(b)
	if !bytes.Equal(x, y) {
		t.Fatal("equal maps encode differently")
	}
	if !Equal(a, b) {
		t.Fatal("Equal")
	}
}

func TestRoundTrip(t *testing.T) {
	in := sample{Name: "n", N: -5, Bytes: []byte{0, 1, 2}, Inner: &sample{Name: "i", N: 1 << 40}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out sample
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !Equal(in, out) || out.Inner.N != 1<<40 {
		t.Fatalf("%+v", out)
	}
	// Pinned bytes: a change here changes every hash and signature in cnv.
	if got, want := string(MustMarshal(sample{Name: "a", N: 1})), "\x82\xa1n\x01\xa4name\xa1a"; got != want {
		t.Errorf("encoding changed: %q, want %q", got, want)
	}
}

// Nil and empty collections must not be told apart by the encoding.
func TestNilEqualsEmpty(t *testing.T) {
	type withSlices struct {
		A []string          `json:"a"`
		B []string          `json:"b,omitempty"`
		M map[string]string `json:"m"`
	}
	x := MustMarshal(withSlices{})
	y := MustMarshal(withSlices{A: []string{}, B: []string{}, M: map[string]string{}})
	if !bytes.Equal(x, y) {
		t.Fatalf("nil %q vs empty %q", x, y)
	}
}

func TestMalformed(t *testing.T) {
	var s sample
	for _, in := range [][]byte{{0xc1}, {0x82, 0xa1}, {0xdf, 0xff, 0xff, 0xff, 0xff}, {0x80, 0x00}} {
		if err := Unmarshal(in, &s); !errors.Is(err, ErrDecode) {
			t.Errorf("%x: %v", in, err)
		}
	}
	if err := UnmarshalLimit(make([]byte, 10), 5, &s); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: %v", err)
	}
}

func TestDepthLimit(t *testing.T) {
	// 200 nested one-element arrays.
	in := bytes.Repeat([]byte{0x91}, 200)
	in = append(in, 0x00)
	var v any
	if err := Unmarshal(in, &v); !errors.Is(err, ErrDecode) {
		t.Errorf("deep nesting: %v", err)
	}
}

func FuzzUnmarshal(f *testing.F) {
	f.Add(MustMarshal(sample{Name: "a", N: 1, Tags: map[string]string{"k": "v"}}))
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sample
		if err := Unmarshal(data, &s); err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same value.
		b, err := Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var s2 sample
		if err := Unmarshal(b, &s2); err != nil || !Equal(s, s2) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}
