package hotpath

import (
	"math/bits"

	"github.com/cnv-project/cnv/runtime/capability"
)

// mutatingFlags are the bits that change state somewhere.
const mutatingFlags = capability.FlagMutateState | capability.FlagMutateConfig |
	capability.FlagStorage | capability.FlagPrivileged

// writeOrExternal are the bits a read-only invocation must not carry.
const writeOrExternal = mutatingFlags | capability.FlagNetwork

// The predicates below compile to a mask and a compare (SETcc), no branch.

// HasAny reports whether f shares any bit with o (the original's `has`).
func HasAny(f, o capability.Flags) bool { return f&o != 0 }

// IsReadOnly reports whether f declares read_only and nothing that writes
// or reaches outside. Unlike the original (which tested the READ_ONLY bit
// alone), read_only together with mutate_state is not read-only.
func IsReadOnly(f capability.Flags) bool {
	return f&(writeOrExternal|capability.FlagReadOnly) == capability.FlagReadOnly
}

// IsMutating reports whether f carries any state-changing bit.
func IsMutating(f capability.Flags) bool { return f&mutatingFlags != 0 }

// IsPrivileged reports whether f carries the privileged bit.
func IsPrivileged(f capability.Flags) bool { return f&capability.FlagPrivileged != 0 }

// IsIdempotent reports whether f carries the idempotent bit.
func IsIdempotent(f capability.Flags) bool { return f&capability.FlagIdempotent != 0 }

// Within reports whether every bit of f is allowed: the check a session
// makes between a capability's flags and what its certificate permits.
func Within(f, allowed capability.Flags) bool { return f&^allowed == 0 }

// MaxFlags is the number of bits in a FlagSet.
const MaxFlags = 64

// FlagSet is a set of up to 64 small integers in one word.
type FlagSet uint64

// Set adds i. It reports false, leaving s unchanged, when i >= MaxFlags.
func (s *FlagSet) Set(i uint) bool {
	if i >= MaxFlags {
		return false
	}
	*s |= 1 << i
	return true
}

// Clear removes i (no-op when i >= MaxFlags).
func (s *FlagSet) Clear(i uint) {
	if i < MaxFlags {
		*s &^= 1 << i
	}
}

// IsSet reports whether i is in the set; false when i >= MaxFlags.
func (s FlagSet) IsSet(i uint) bool { return i < MaxFlags && s&(1<<i) != 0 }

// Count is the number of members (popcount).
func (s FlagSet) Count() int { return bits.OnesCount64(uint64(s)) }

// mulHi returns the high and low words of a*b; ShardOf uses the high word
// to map a 64-bit hash onto [0,n) without a division.
func mulHi(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }
