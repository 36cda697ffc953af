package fsm

import (
	"crypto/sha256"
	"math/rand"
	"strings"
	"testing"

	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/invocation"
)

// The request digest as it was computed through codec (reflection); the
// hand-written one must equal it, or stored request-table entries would
// no longer match their retries.
func codecRequestDigest(c *Invoke) [32]byte {
	h := sha256.New()
	h.Write([]byte(c.Invocation.Capability))
	h.Write([]byte{0})
	h.Write([]byte(c.Invocation.ArgsDigest()))
	h.Write(codec.MustMarshal(struct {
		Tenant, Correlation string
		DryRun              bool
		Links               []string
	}{c.Invocation.Tenant, c.Invocation.CorrelationID, c.Invocation.DryRun, linkHashes(c.Links)}))
	var d [32]byte
	h.Sum(d[:0])
	return d
}

func sameDigests(t *testing.T, c *Invoke) {
	t.Helper()
	if got, want := argsDigest(&c.Invocation), c.Invocation.ArgsDigest(); got != want {
		t.Fatalf("args digest %s, want %s for %+v", got, want, c.Invocation)
	}
	if got, want := requestDigest(c, argsDigest(&c.Invocation)), codecRequestDigest(c); got != want {
		t.Fatalf("request digest %x, want %x for %+v", got, want, c)
	}
}

func TestDigestsMatchCodec(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	lens := []int{0, 1, 31, 32, 255, 256, 65535, 65536}
	str := func() string { return strings.Repeat("aé\x00", lens[r.Intn(len(lens)-2)]/3+r.Intn(2)) }
	for i := 0; i < 2000; i++ {
		inv := invocation.Invocation{Capability: str(), Tenant: str(), CorrelationID: str(), DryRun: r.Intn(2) == 0}
		for n := []int{0, 1, 2, 15, 16, 17}[r.Intn(6)]; n > 0; n-- {
			inv.Args = append(inv.Args, invocation.Arg{Name: str(), Value: str()})
		}
		for n := []int{0, 0, 1, 16}[r.Intn(4)]; n > 0; n-- {
			inv.Positional = append(inv.Positional, str())
		}
		switch r.Intn(4) {
		case 1:
			inv.Payload = []byte{}
		case 2:
			inv.Payload = []byte(str())
		case 3:
			inv.Payload = make([]byte, lens[r.Intn(len(lens))])
		}
		c := &Invoke{Invocation: inv}
		for n := []int{0, 1, 3, 16}[r.Intn(4)]; n > 0; n-- {
			var l Link
			r.Read(l.Hash[:])
			c.Links = append(c.Links, l)
		}
		sameDigests(t, c)
	}
}

func FuzzDigests(f *testing.F) {
	f.Add("user.read", "name", "alice", "pos", []byte("{}"), "acme", "corr", true, uint8(2))
	f.Add("", "", "", "", []byte(nil), "", "", false, uint8(0))
	f.Fuzz(func(t *testing.T, capPath, name, value, pos string, payload []byte, tenant, corr string, dry bool, links uint8) {
		inv := invocation.Invocation{Capability: capPath, Args: []invocation.Arg{{Name: name, Value: value}},
			Positional: []string{pos}, Payload: payload, Tenant: tenant, CorrelationID: corr, DryRun: dry}
		if len(payload) == 0 && dry {
			inv.Payload = nil
		}
		c := &Invoke{Invocation: inv}
		for i := 0; i < int(links%9); i++ {
			var l Link
			l.Hash[0], l.Hash[31] = byte(i), links
			c.Links = append(c.Links, l)
		}
		sameDigests(t, c)
	})
}
