package delegation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"time"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Grant is what an issuer grants in one link.
type Grant struct {
	Audience    ed25519.PublicKey
	Constraints Constraints
	NotBefore   int64 // Unix ns, inclusive
	NotAfter    int64 // Unix ns, inclusive
	MaxUses     uint64
}

// Issue signs a link granting g with key. With a parent, key must belong to
// the parent's audience, the parent's signature must verify, and the new
// link must narrow the parent in every field (a *FieldError wrapping
// ErrWidened names the first that widens) and stay within
// limits.MaxChainDepth. Constraints are normalised. The nonce is read from
// r (crypto/rand when nil).
func Issue(key ed25519.PrivateKey, g Grant, parent *Link, r io.Reader) (Link, error) {
	if len(key) != ed25519.PrivateKeySize || len(g.Audience) != ed25519.PublicKeySize {
		return Link{}, fmt.Errorf("%w: issuer and audience must be Ed25519 keys", ErrMalformed)
	}
	if err := g.Constraints.Validate(); err != nil {
		return Link{}, err
	}
	cons, err := g.Constraints.Normalize()
	if err != nil {
		return Link{}, err
	}
	pub := key.Public().(ed25519.PublicKey)
	body := Body{
		Version: Version, Nonce: make([]byte, NonceSize),
		Issuer: pub, IssuerID: principal.IDOf(pub),
		Audience: g.Audience, AudienceID: principal.IDOf(g.Audience),
		Constraints: cons, NotBefore: g.NotBefore, NotAfter: g.NotAfter, MaxUses: g.MaxUses,
	}
	if parent != nil {
		if err := underParent(&body, parent); err != nil {
			return Link{}, err
		}
	}
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, body.Nonce); err != nil {
		return Link{}, fmt.Errorf("link nonce: %w", err)
	}
	return Sign(body, key)
}

// underParent links body to parent and checks that it may be issued there.
func underParent(body *Body, parent *Link) error {
	if !bytes.Equal(body.Issuer, parent.body.Audience) {
		return fmt.Errorf("%w: issuer %s is not the parent's audience %s", ErrBrokenChain, body.IssuerID, parent.body.AudienceID)
	}
	if err := parent.VerifySignature(); err != nil {
		return fmt.Errorf("parent: %w", err)
	}
	if int(parent.body.Depth)+1 >= limits.MaxChainDepth {
		return fmt.Errorf("%w: the parent is at depth %d, limit %d links", ErrTooDeep, parent.body.Depth, limits.MaxChainDepth)
	}
	body.Parent, body.Depth = parent.hash, parent.body.Depth+1
	return body.Narrows(&parent.body)
}

// Spec is a grant as a person asks for it (the CLI's flags). Unset fields
// inherit from the parent, or take the root default.
type Spec struct {
	Allow    []string          // nil: the parent's; required for a root link
	Forbid   []string          // added to the parent's forbid list
	Nouns    []string          // nil: the parent's, or any ("*") for a root
	Verbs    []string          // nil: the parent's, or any ("*") for a root
	MaxLevel *capability.Level // nil: the parent's, or read_only for a root
	TTL      time.Duration     // 0: until the parent's not_after; required for a root
	MaxUses  *uint64           // nil: the parent's, or unlimited for a root
}

// Resolve turns s into a grant to audience issued at now (Unix ns). The
// window starts at now, or at the parent's not_before if that is later.
func (s Spec) Resolve(audience ed25519.PublicKey, parent *Link, now int64) (Grant, error) {
	base := rootDefaults()
	if parent != nil {
		base = parent.body
	} else if s.Allow == nil || s.TTL <= 0 {
		return Grant{}, fmt.Errorf("%w: a root link needs an allow list and a ttl", ErrMalformed)
	}
	c := base.Constraints
	pick := func(v, inherited []string) []string {
		if v != nil {
			return v
		}
		return inherited
	}
	level := c.MaxLevel
	if s.MaxLevel != nil {
		level = *s.MaxLevel
	}
	cons, err := NewConstraints(pick(s.Allow, fromPatterns(c.Allow)), append(fromPatterns(c.Forbid), s.Forbid...),
		pick(s.Nouns, c.Nouns), pick(s.Verbs, c.Verbs), level)
	if err != nil {
		return Grant{}, err
	}
	g := Grant{Audience: audience, Constraints: cons, NotBefore: max(now, base.NotBefore), NotAfter: base.NotAfter, MaxUses: base.MaxUses}
	if s.MaxUses != nil {
		g.MaxUses = *s.MaxUses
	}
	if s.TTL > 0 {
		if now > (1<<63-1)-int64(s.TTL) {
			return Grant{}, fmt.Errorf("%w: ttl %v overflows the clock", ErrMalformed, s.TTL)
		}
		g.NotAfter = now + int64(s.TTL)
	}
	return g, nil
}

// rootDefaults is what a root link's unset fields default to.
func rootDefaults() Body {
	return Body{
		Constraints: Constraints{Nouns: []string{"*"}, Verbs: []string{"*"}, MaxLevel: capability.LevelReadOnly},
		NotBefore:   -1 << 63,
	}
}
