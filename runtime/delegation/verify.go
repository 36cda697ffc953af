package delegation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Effective is what a verified chain grants: the intersection of its links'
// constraints and windows, who it comes from and who holds it, and the
// hashes of its links (root first). Its slices are shared with the verifier's
// cache and must not be modified.
type Effective struct {
	Constraints Constraints     `json:"constraints"`
	NotBefore   int64           `json:"not_before"`
	NotAfter    int64           `json:"not_after"`
	Origin      principal.KeyID `json:"origin"`  // the root link's issuer; the invoker when direct
	Invoker     principal.KeyID `json:"invoker"` // the last link's audience
	Links       []Hash          `json:"links"`
	Depth       int             `json:"depth"` // the number of links
}

// Verifier verifies chains. It caches verified signatures by link hash and
// prepared chains by the hash of their last link (which commits to every
// body of the chain through the parent hashes), both bounded. It is safe
// for concurrent use.
type Verifier struct {
	sigs   *hashCache[[ed25519.SignatureSize]byte]
	chains *hashCache[*Chain]
}

// NewVerifier returns a verifier whose caches have entries slots each,
// rounded up to a power of two (limits.DelegationCacheEntries when entries
// <= 0).
func NewVerifier(entries int) *Verifier {
	if entries <= 0 {
		entries = limits.DelegationCacheEntries
	}
	return &Verifier{
		sigs:   newHashCache[[ed25519.SignatureSize]byte](entries),
		chains: newHashCache[*Chain](entries),
	}
}

// Verify checks that invoker may invoke path, whose effect level is level,
// at now (Unix ns) through chain, and returns what the chain grants. An
// empty chain is a direct invocation: it grants everything, and the policy
// decides. A nil st means no revocations and no uses.
func (v *Verifier) Verify(chain []Link, invoker ed25519.PublicKey, path capability.Path, level capability.Level, now int64, st State) (Effective, error) {
	if len(chain) == 0 {
		id := principal.IDOf(invoker)
		return Effective{Constraints: Unrestricted(), NotBefore: math.MinInt64, NotAfter: math.MaxInt64, Origin: id, Invoker: id}, nil
	}
	c, err := v.Prepare(chain)
	if err != nil {
		return Effective{}, err
	}
	if err := c.check(invoker, path, level, now, st); err != nil {
		return Effective{}, err
	}
	return c.eff, nil
}

// Chain is a chain whose static properties have been verified: signatures,
// linkage, narrowing at every hop, depth, and its effective constraints. What
// changes with time and state is checked by Check.
type Chain struct {
	links    []Link
	eff      Effective
	audience ed25519.PublicKey // the last link's audience
	limited  []int             // indices of links with max_uses
	match    compiled          // eff.Constraints, compiled
	memo     atomic.Pointer[revocationMemo]
}

// revocationMemo records that no link was revoked at epoch v of e.
type revocationMemo struct {
	e *Epoch
	v uint64
}

// Prepare verifies chain's static properties, or returns the cached result
// for a chain with the same link hashes and signatures.
func (v *Verifier) Prepare(chain []Link) (*Chain, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w: empty chain", ErrBrokenChain)
	}
	if len(chain) > limits.MaxChainDepth {
		return nil, fmt.Errorf("%w: %d links, limit %d", ErrTooDeep, len(chain), limits.MaxChainDepth)
	}
	leaf := &chain[len(chain)-1].hash
	if c, ok := v.chains.get(leaf); ok && c.sameLinks(chain) {
		return c, nil
	}
	c, err := v.prepare(chain)
	if err != nil {
		return nil, err
	}
	v.chains.put(leaf, c)
	return c, nil
}

func (v *Verifier) prepare(chain []Link) (*Chain, error) {
	for i := range chain {
		if err := checkHop(chain, i); err != nil {
			return nil, err
		}
		if err := v.checkSignature(&chain[i]); err != nil {
			return nil, fmt.Errorf("link %d: %w", i, err)
		}
	}
	c := &Chain{links: append([]Link(nil), chain...)}
	if err := c.computeEffective(); err != nil {
		return nil, err
	}
	return c, nil
}

// checkHop checks link i's shape and how it hangs from link i-1.
func checkHop(chain []Link, i int) error {
	l := &chain[i]
	if l.raw == nil {
		return fmt.Errorf("%w: link %d is empty", ErrMalformed, i)
	}
	if i == 0 {
		if !l.IsRoot() {
			return fmt.Errorf("%w: link 0 is at depth %d; a chain starts at a root link", ErrBrokenChain, l.body.Depth)
		}
		return nil
	}
	p := &chain[i-1]
	switch {
	case l.body.Parent != p.hash:
		return fmt.Errorf("%w: link %d names parent %v, but link %d is %v", ErrBrokenChain, i, l.body.Parent, i-1, p.hash)
	case int(l.body.Depth) != i:
		return fmt.Errorf("%w: link %d has depth %d", ErrBrokenChain, i, l.body.Depth)
	case !bytes.Equal(l.body.Issuer, p.body.Audience):
		return fmt.Errorf("%w: link %d is issued by %s, but link %d was granted to %s",
			ErrBrokenChain, i, l.body.IssuerID, i-1, p.body.AudienceID)
	}
	if err := l.body.Narrows(&p.body); err != nil {
		return fmt.Errorf("link %d: %w", i, err)
	}
	return nil
}

// checkSignature verifies l's signature, or finds it in the cache.
func (v *Verifier) checkSignature(l *Link) error {
	if sig, ok := v.sigs.get(&l.hash); ok && bytes.Equal(sig[:], l.sig) {
		return nil
	}
	if err := l.VerifySignature(); err != nil {
		return err
	}
	var sig [ed25519.SignatureSize]byte
	copy(sig[:], l.sig)
	v.sigs.put(&l.hash, sig)
	return nil
}

func (c *Chain) computeEffective() error {
	cons := Unrestricted()
	eff := Effective{NotBefore: math.MinInt64, NotAfter: math.MaxInt64, Links: make([]Hash, len(c.links)), Depth: len(c.links)}
	for i := range c.links {
		b := &c.links[i].body
		var err error
		if cons, err = Intersect(cons, b.Constraints); err != nil {
			return fmt.Errorf("effective constraints at link %d: %w", i, err)
		}
		eff.NotBefore, eff.NotAfter = max(eff.NotBefore, b.NotBefore), min(eff.NotAfter, b.NotAfter)
		eff.Links[i] = c.links[i].hash
		if b.MaxUses != 0 {
			c.limited = append(c.limited, i)
		}
	}
	last := &c.links[len(c.links)-1].body
	eff.Constraints, eff.Origin, eff.Invoker = cons, c.links[0].body.IssuerID, last.AudienceID
	c.eff, c.audience, c.match = eff, last.Audience, compile(cons)
	return nil
}

// sameLinks reports whether chain has exactly c's links and signatures.
// Signature bytes never change after a link is made (the package hands out
// copies only), so a signature sharing c's backing array is c's signature
// and needs no byte comparison.
func (c *Chain) sameLinks(chain []Link) bool {
	if len(chain) != len(c.links) {
		return false
	}
	for i := range chain {
		a, b := &chain[i], &c.links[i]
		if !equalKey(a.hash[:], b.hash[:]) || len(a.sig) != len(b.sig) || len(a.sig) == 0 {
			return false
		}
		if &a.sig[0] != &b.sig[0] && !bytes.Equal(a.sig, b.sig) {
			return false
		}
	}
	return true
}

// Effective returns what the chain grants, before time and state checks.
func (c *Chain) Effective() Effective { return c.eff }

// Links returns the chain's links. They must not be modified.
func (c *Chain) Links() []Link { return c.links }

// Check performs the per-invocation checks on a prepared chain: the invoker
// is the last audience, now lies in every link's window, no link is revoked
// or used up, and the effective constraints allow path at level. It does not
// allocate on success.
func (c *Chain) Check(invoker ed25519.PublicKey, path capability.Path, level capability.Level, now int64, st State) (Effective, error) {
	if err := c.check(invoker, path, level, now, st); err != nil {
		return Effective{}, err
	}
	return c.eff, nil
}

func (c *Chain) check(invoker ed25519.PublicKey, path capability.Path, level capability.Level, now int64, st State) error {
	if !equalKey(invoker, c.audience) {
		return fmt.Errorf("%w: the chain is granted to %s, not to invoker %s",
			ErrBrokenChain, c.eff.Invoker, principal.IDOf(invoker))
	}
	if now < c.eff.NotBefore || now > c.eff.NotAfter {
		return c.windowError(now)
	}
	if st != nil {
		if err := c.checkRevoked(st); err != nil {
			return err
		}
		for _, i := range c.limited {
			if n, l := st.Uses(c.eff.Links[i]), c.links[i].body.MaxUses; n >= l {
				return fmt.Errorf("%w: link %d (%v) used %d of %d", ErrUsageLimitExceeded, i, c.eff.Links[i], n, l)
			}
		}
	}
	if !c.match.allows(path, level) {
		return c.refusal(path, level)
	}
	return nil
}

// equalKey compares two public keys; for 32-byte keys it compares words
// inline instead of calling into memequal.
func equalKey(a, b []byte) bool {
	if len(a) != ed25519.PublicKeySize || len(b) != ed25519.PublicKeySize {
		return bytes.Equal(a, b)
	}
	return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) &&
		binary.LittleEndian.Uint64(a[8:]) == binary.LittleEndian.Uint64(b[8:]) &&
		binary.LittleEndian.Uint64(a[16:]) == binary.LittleEndian.Uint64(b[16:]) &&
		binary.LittleEndian.Uint64(a[24:]) == binary.LittleEndian.Uint64(b[24:])
}

// refusal explains why the effective constraints refuse path at level.
func (c *Chain) refusal(path capability.Path, level capability.Level) error {
	if err := c.eff.Constraints.Allows(path, level); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s refused by the compiled constraints but allowed by %+v", ErrNotAllowed, path, c.eff.Constraints)
}

// windowError names the first link whose window excludes now.
func (c *Chain) windowError(now int64) error {
	for i := range c.links {
		b := &c.links[i].body
		if now < b.NotBefore {
			return fmt.Errorf("%w: link %d is valid from %s, now is %s", ErrNotYetValid, i, nanosString(b.NotBefore), nanosString(now))
		}
		if now > b.NotAfter {
			return fmt.Errorf("%w: link %d was valid until %s, now is %s", ErrExpired, i, nanosString(b.NotAfter), nanosString(now))
		}
	}
	return fmt.Errorf("%w: now %d is outside [%d, %d]", ErrExpired, now, c.eff.NotBefore, c.eff.NotAfter)
}

// checkRevoked asks st about every link, unless st's revocation epoch is the
// one at which this chain was last found clean.
func (c *Chain) checkRevoked(st State) error {
	es, hasEpoch := st.(EpochState)
	var e *Epoch
	var gen uint64
	if hasEpoch {
		e = es.RevocationEpoch()
		gen = e.Load()
		if m := c.memo.Load(); m != nil && m.e == e && m.v == gen {
			return nil
		}
	}
	for i, h := range c.eff.Links {
		if st.Revoked(h) {
			return fmt.Errorf("%w: link %d (%v)", ErrRevoked, i, h)
		}
	}
	if hasEpoch {
		c.memo.Store(&revocationMemo{e: e, v: gen})
	}
	return nil
}

// Charge is the package Charge over the chain's links.
func (c *Chain) Charge(st State) ([]LinkCharge, error) { return Charge(c.links, st) }
