package delegation

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/pem"
	"io"
	"testing"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
)

// t0 is the tests' "now": a fixed instant, so nothing depends on the clock.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano()

type party struct {
	name string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

// newParty derives a key pair from name, so tests are reproducible.
func newParty(name string) party {
	seed := sha256.Sum256([]byte("cnv test key " + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	return party{name: name, pub: priv.Public().(ed25519.PublicKey), priv: priv}
}

var (
	alice   = newParty("alice")
	bob     = newParty("bob")
	charlie = newParty("charlie")
	dave    = newParty("dave")
)

// counterReader is a deterministic nonce source.
type counterReader struct{ n byte }

func (c *counterReader) Read(p []byte) (int, error) {
	for i := range p {
		c.n++
		p[i] = c.n
	}
	return len(p), nil
}

var _ io.Reader = (*counterReader)(nil)

func grant(to party, c Constraints, ttl time.Duration, maxUses uint64) Grant {
	return Grant{Audience: to.pub, Constraints: c, NotBefore: t0, NotAfter: t0 + int64(ttl), MaxUses: maxUses}
}

func issue(t testing.TB, from party, g Grant, parent *Link) Link {
	t.Helper()
	l, err := Issue(from.priv, g, parent, nil)
	if err != nil {
		t.Fatalf("issue %s→%x: %v", from.name, g.Audience[:4], err)
	}
	return l
}

func allowC(t testing.TB, level capability.Level, allow ...string) Constraints {
	return mustConstraints(t, allow, nil, []string{"*"}, []string{"*"}, level)
}

// threeHop is alice→bob→charlie→dave with narrowing constraints.
func threeHop(t testing.TB, maxUses uint64) []Link {
	root := issue(t, alice, grant(bob, allowC(t, capability.LevelMutate, "user.*", "report.*"), time.Hour, maxUses), nil)
	mid := issue(t, bob, grant(charlie, allowC(t, capability.LevelMutate, "user.*"), 30*time.Minute, maxUses), &root)
	leaf := issue(t, charlie, grant(dave, allowC(t, capability.LevelReadOnly, "user.read", "user.list"), 10*time.Minute, maxUses), &mid)
	return []Link{root, mid, leaf}
}

func pemEncode(typ string, b []byte, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: headers})
}
