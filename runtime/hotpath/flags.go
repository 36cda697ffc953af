package hotpath

import (
	"math/bits"

	"github.com/cnv-project/cnv/runtime/capability"
)

// Within reports whether every bit of f is allowed: the check a session
// makes between a capability's flags and what its certificate permits. It
// compiles to a mask and a compare, no branch.
func Within(f, allowed capability.Flags) bool { return f&^allowed == 0 }

// mulHi returns the high and low words of a*b; ShardOf uses the high word
// to map a 64-bit hash onto [0,n) without a division.
func mulHi(a, b uint64) (hi, lo uint64) { return bits.Mul64(a, b) }
