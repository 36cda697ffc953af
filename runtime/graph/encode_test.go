package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/cnv-project/cnv/runtime/codec"
)

func exampleSnapshot(t testing.TB) *Snapshot {
	t.Helper()
	data, err := os.ReadFile("testdata/caps.json")
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildFile(data, 42)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The hash pins the canonical encoding: any change to the layout, field
// names or the codec shows up here and must be a deliberate format change.
func TestSnapshotHashVector(t *testing.T) {
	s := newBuild(t, "a", "b").edges(Produces, "a", "b").policy(deny("b")).snap()
	const want = "3cbdf1dd7804af453b8f75ee99cfa7b6a0bbad32c1f758560a91a9bbb300e9cf"
	if s.Hash() != want {
		t.Fatalf("hash %s, want %s", s.Hash(), want)
	}
	sum := sha256.Sum256(s.body)
	if hex.EncodeToString(sum[:]) != s.Hash() {
		t.Fatal("hash is not SHA-256 of the body")
	}
}

func TestSnapshotHashStable(t *testing.T) {
	a, b := exampleSnapshot(t), exampleSnapshot(t)
	if a.Hash() != b.Hash() || !bytes.Equal(a.Encode(), b.Encode()) {
		t.Fatal("two builds of the same file differ")
	}
	other, _ := BuildFile(mustRead(t, "testdata/caps.json"), 43)
	if other.Hash() == a.Hash() {
		t.Fatal("the hash must cover the Raft index")
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRoundTripExample(t *testing.T) {
	s := exampleSnapshot(t)
	d, err := Decode(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if d.Hash() != s.Hash() || d.RaftIndex() != 42 || d.Len() != s.Len() {
		t.Fatal("round trip changed the snapshot")
	}
	i, _ := d.Lookup("user.create")
	if c := d.Node(i).Contract; c == nil || !c.Temporal.Idempotent {
		t.Fatalf("contract lost: %+v", c)
	}
}

// Every single flipped byte must be caught, whether it lands in the
// structure, the hash or the body.
func TestDecodeRejectsEveryFlippedByte(t *testing.T) {
	enc := newBuild(t, "a", "b").edges(Produces, "a", "b").snap().Encode()
	for i := range enc {
		bad := bytes.Clone(enc)
		bad[i] ^= 0x01
		if _, err := Decode(bad); err == nil {
			t.Fatalf("flip at byte %d of %d accepted", i, len(enc))
		}
	}
	for _, n := range []int{0, 1, len(enc) / 2, len(enc) - 1} {
		_, err := Decode(enc[:n])
		wantErr(t, err, ErrInvalidSnapshot)
	}
}

// reseal encodes a hand-made body with a correct hash, as a faulty or
// hostile peer could.
func reseal(t *testing.T, b body) []byte {
	t.Helper()
	raw := codec.MustMarshal(&b)
	sum := sha256.Sum256(raw)
	return codec.MustMarshal(&envelope{Format: snapshotFormat, Hash: hex.EncodeToString(sum[:]), Body: raw})
}

func TestDecodeRejectsInconsistentBodies(t *testing.T) {
	good := newBuild(t, "a", "b").edges(Produces, "a", "b").policy(deny("b")).snap()
	nodes := func() []Node { return []Node{good.nodes[0], good.nodes[1]} }
	cases := map[string]func(b *body){
		"edge to missing node": func(b *body) { b.Edges[0].To = 9 },
		"node ids out of order": func(b *body) {
			b.Nodes[0].ID, b.Nodes[1].ID = 1, 0
		},
		"duplicate capability":                 func(b *body) { b.Nodes[1] = b.Nodes[0]; b.Nodes[1].ID = 1 },
		"wrong capability id":                  func(b *body) { b.Nodes[0].Capability = b.Nodes[1].Capability },
		"missing capability id, not canonical": func(b *body) { b.Nodes[0].Capability = "" },
		"edge id gap":                          func(b *body) { b.Edges[0].ID = 3 },
		"bad edge type":                        func(b *body) { b.Edges[0].Type = 77 },
		"bad reliability":                      func(b *body) { b.Nodes[0].Reliability = 101 },
		"policy names nothing":                 func(b *body) { b.Policies[0].DenyThrough = "cap.zzz" },
		"bad policy":                           func(b *body) { b.Policies[0].To = "cap.a" },
	}
	for name, mutate := range cases {
		b := body{RaftIndex: 1, Nodes: nodes(), Edges: good.Edges(), Policies: good.Policies()}
		mutate(&b)
		if _, err := Decode(reseal(t, b)); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantErr(t, err, ErrInvalidSnapshot)
		}
	}
	b := body{RaftIndex: 1, Nodes: nodes(), Edges: good.Edges(), Policies: good.Policies()}
	if _, err := Decode(reseal(t, b)); err != nil {
		t.Fatalf("the unmodified body must decode: %v", err)
	}
}

func TestDecodeRejectsOtherFormat(t *testing.T) {
	s := newBuild(t, "a").snap()
	bad := codec.MustMarshal(&envelope{Format: 2, Hash: s.hash, Body: s.body})
	wantErr(t, func() error { _, err := Decode(bad); return err }(), ErrInvalidSnapshot)
}
