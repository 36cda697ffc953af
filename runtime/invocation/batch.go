package invocation

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Domain separates invocation signatures from every other signature made
// with the same key.
const Domain = "cnv-invocation-batch-v1"

// Batch is what an invoker signs: one or more invocations under one key.
type Batch struct {
	Domain      string          `json:"domain"`
	Invoker     principal.KeyID `json:"invoker"`
	Invocations []Invocation    `json:"invocations"`
}

// Signed is a batch on the wire: the exact signed bytes and the signature.
type Signed struct {
	Body      []byte `json:"body"`
	Signature []byte `json:"signature"`
}

// CheckPresent names the fields of a signed batch that are missing (a
// body such as {} from a client that does not know the format), before
// anything is decoded.
func (s *Signed) CheckPresent() error {
	var missing []string
	if len(s.Body) == 0 {
		missing = append(missing, "body (base64 of the batch's canonical msgpack bytes)")
	}
	if len(s.Signature) == 0 {
		missing = append(missing, "signature (base64 of the invoker's Ed25519 signature of body)")
	}
	if len(missing) == 0 {
		return nil
	}
	return cnverr.New(cnverr.InvalidInput, "invalid invocation: missing %s; the format is in docs/SIGNING.md",
		strings.Join(missing, " and ")).With("missing", missing)
}

// Sign encodes and signs invocations with priv.
func Sign(priv ed25519.PrivateKey, invs []Invocation) (Signed, error) {
	if len(invs) == 0 || len(invs) > limits.MaxBatchInvocations {
		return Signed{}, fmt.Errorf("%w: %d invocations in a batch (1 to %d)", ErrInvalid, len(invs), limits.MaxBatchInvocations)
	}
	for i := range invs {
		if err := invs[i].Validate(); err != nil {
			return Signed{}, fmt.Errorf("invocation %d: %w", i, err)
		}
	}
	b := Batch{Domain: Domain, Invoker: principal.IDOf(priv.Public().(ed25519.PublicKey)), Invocations: invs}
	body, err := codec.Marshal(b)
	if err != nil {
		return Signed{}, err
	}
	return Signed{Body: body, Signature: ed25519.Sign(priv, body)}, nil
}

// Hash is the SHA-256 of the signed bytes: the batch's identity.
func (s *Signed) Hash() [32]byte { return sha256.Sum256(s.Body) }

// KeyLookup returns the public key registered for a key ID.
type KeyLookup func(principal.KeyID) (ed25519.PublicKey, bool)

// Open decodes and authenticates a signed batch: size limits, shape, the
// invoker's key is known, and the signature verifies (skipped when cache
// already holds this exact body as verified under the same key). Every
// invocation is validated.
func (s *Signed) Open(lookup KeyLookup, cache *VerifyCache) (*Batch, error) {
	if len(s.Body) > limits.MaxRequestBody {
		return nil, fmt.Errorf("%w: batch is %d bytes, limit %d", ErrTooLarge, len(s.Body), limits.MaxRequestBody)
	}
	var b Batch
	if err := codec.UnmarshalStrict(s.Body, limits.MaxRequestBody, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if b.Domain != Domain {
		return nil, fmt.Errorf("%w: not an invocation batch", ErrInvalid)
	}
	if len(b.Invocations) == 0 || len(b.Invocations) > limits.MaxBatchInvocations {
		return nil, fmt.Errorf("%w: %d invocations in a batch (1 to %d)", ErrInvalid, len(b.Invocations), limits.MaxBatchInvocations)
	}
	pub, ok := lookup(b.Invoker)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownKey, b.Invoker)
	}
	if err := s.verify(pub, cache); err != nil {
		return nil, err
	}
	for i := range b.Invocations {
		if err := b.Invocations[i].Validate(); err != nil {
			return nil, fmt.Errorf("invocation %d: %w", i, err)
		}
	}
	return &b, nil
}

func (s *Signed) verify(pub ed25519.PublicKey, cache *VerifyCache) error {
	key := cacheKey(s.Body, s.Signature, pub)
	if cache.has(key) {
		return nil
	}
	if len(s.Signature) != ed25519.SignatureSize || !ed25519.Verify(pub, s.Body, s.Signature) {
		return ErrBadSignature
	}
	cache.add(key)
	return nil
}

// cacheKey binds body, signature and key: a cached entry for one key never
// vouches for the same body under another.
func cacheKey(body, sig []byte, pub ed25519.PublicKey) [32]byte {
	h := sha256.New()
	h.Write(pub)
	h.Write(sig)
	h.Write(body)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// VerifyCache remembers verified (key, signature, body) hashes. It is
// bounded: when full, it drops everything and starts again, which costs
// only re-verification. A nil cache caches nothing. Safe for concurrent use.
type VerifyCache struct {
	mu   sync.Mutex
	max  int
	seen map[[32]byte]struct{}
}

// NewVerifyCache returns a cache holding up to max entries.
func NewVerifyCache(max int) *VerifyCache {
	return &VerifyCache{max: max, seen: make(map[[32]byte]struct{}, max)}
}

func (c *VerifyCache) has(k [32]byte) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	_, ok := c.seen[k]
	c.mu.Unlock()
	return ok
}

func (c *VerifyCache) add(k [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.seen) >= c.max {
		c.seen = make(map[[32]byte]struct{}, c.max)
	}
	c.seen[k] = struct{}{}
	c.mu.Unlock()
}
