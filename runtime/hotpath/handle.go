package hotpath

import "github.com/cnv-project/cnv/runtime/capability"

// AgentHandle is a node-local compact name for an agent. Handles are
// assigned by the embedder (hot/server when it maps a certified session);
// they mean nothing outside the node that issued them.
type AgentHandle uint64

// ID returns the handle's number.
func (h AgentHandle) ID() uint64 { return uint64(h) }

// TenantHandle is a node-local compact name for a tenant. The dispatcher
// chooses a tenant's shard from it.
type TenantHandle uint64

// ID returns the handle's number.
func (h TenantHandle) ID() uint64 { return uint64(h) }

// Context is everything the hot path needs to know about one invocation,
// pre-resolved into 32 bytes: who (agent, tenant), what (the capability's
// index in the dispatcher's dense handler table), its effect flags and a
// correlation hash. It is a plain value: copy it freely.
type Context struct {
	Agent       AgentHandle
	Tenant      TenantHandle
	Correlation uint64
	CapIndex    uint32
	Flags       capability.Flags
}

// WithCorrelation returns c with its correlation hash set from id.
func (c Context) WithCorrelation(id string) Context {
	c.Correlation = CorrelationHash(id)
	return c
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// CorrelationHash is FNV-1a 64 over id, stable across builds and machines.
// The one input whose FNV-1a hash is 0 would be indistinguishable from "no
// correlation", so 0 maps to 1.
func CorrelationHash(id string) uint64 {
	h := uint64(fnvOffset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= fnvPrime64
	}
	if h == 0 {
		h = 1
	}
	return h
}

// mix64 is the SplitMix64 finaliser: a bijective mix that spreads
// sequential handles evenly over shards.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// ShardOf returns the shard (0..n-1) a tenant's invocations run on. It is a
// pure function of the handle and n, so every caller agrees on it.
func ShardOf(t TenantHandle, n int) int {
	hi, _ := mulHi(mix64(uint64(t)), uint64(n))
	return int(hi)
}
