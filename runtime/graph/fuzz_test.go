package graph

import (
	"bytes"
	"os"
	"testing"
)

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(newBuild(f, "a", "b", "c").edges(Produces, "a", "b", "c").edges(Equivalent, "a", "c").policy(deny("b")).snap().Encode())
	f.Add(newBuild(f).snap().Encode())
	if data, err := os.ReadFile("testdata/caps.json"); err == nil {
		if s, err := BuildFile(data, 3); err == nil {
			f.Add(s.Encode())
		}
	}
	f.Add([]byte{0x83})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes is canonical and answers queries without
		// panicking.
		if !bytes.Equal(s.Encode(), data) {
			t.Fatal("accepted bytes that are not the canonical encoding")
		}
		exercise(t, s)
	})
}

func FuzzParseFile(f *testing.F) {
	f.Add([]byte(issueExample))
	if data, err := os.ReadFile("testdata/caps.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"capabilities":[{"path":"a.b","input":{"type":"union","options":["x",{"type":"array","items":"y"}]}}]}`))
	f.Add([]byte(`{"capabilities":[{"path":"a.b","path":"a.c"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		r := NewRegistry()
		if r.Merge(file) != nil {
			return
		}
		s, err := r.Snapshot(1)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Decode(s.Encode())
		if err != nil || d.Hash() != s.Hash() {
			t.Fatalf("a parsed file's snapshot does not round-trip: %v", err)
		}
		exercise(t, s)
	})
}

// exercise runs every query over a few node pairs.
func exercise(t *testing.T, s *Snapshot) {
	n := min(s.Len(), 4)
	for a := range Index(n) {
		for b := range Index(n) {
			s.Reachable(a, b)
			s.Dominates(a, b)
			if _, _, _, err := s.ShortestPath(nil, a, b); err != nil {
				t.Fatal(err)
			}
			s.AllPaths(a, b, 4, func([]Index, int) bool { return true })
		}
	}
	for _, op := range []string{OpClasses, OpStats, OpDot} {
		if _, err := Execute(s, Request{Op: op}); err != nil {
			t.Fatal(err)
		}
	}
	if n > 0 {
		nd := s.Node(0)
		if _, _, _, err := s.Compose(nil, nd.Input, nd.Output); err != nil {
			t.Fatal(err)
		}
	}
}
