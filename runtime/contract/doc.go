// Package contract owns execution contracts: what a capability promises about
// time (duration class, timeout, deadline, retry policy, idempotence) and
// about concurrency (concurrency model, isolation, resource limits), the
// admission checks over them (CanSatisfy, EstimateResources). A capability
// file carries its contract (runtime/graph); the hot-path dispatcher
// enforces the parts its Spec holds; this package only defines and checks
// them, with pure functions and no clock.
//
// It imports only runtime/capability, runtime/cnverr and runtime/limits.
//
// # JSON form
//
// A contract is written by hand inside a capability file, so its JSON form is
// one flat object; every field is optional and defaults as in Default():
//
//	{
//	  "class": "fast_path",          // fast_path | interactive (default) | user_initiated | batch | long_running
//	  "timeout": "5ms",              // Go duration string; absent = the class's max
//	  "deadline": {"hard": "5ms"},   // "none" (default) | {"hard": D} | {"soft": D} | {"must_start_by": D}
//	  "retry": {"exponential": {"max_attempts": 5, "initial_delay": "10ms", "max_delay": "1s",
//	            "multiplier": 2, "jitter": 0.2}},
//	                                 // "none" (default) | {"exponential": {…}} |
//	                                 // {"linear": {"max_attempts": 3, "delay": "100ms", "max_delay": "1s"}} |
//	                                 // {"forever": {"initial_delay": "10ms", "max_delay": "10s", "multiplier": 2, "jitter": 0.2}}
//	  "idempotent": true,            // default false; a retry policy requires true
//	  "concurrency": {"tenant_wide_shared": 3},
//	                                 // "unlimited" (default) | "single_tenant_exclusive" |
//	                                 // {"tenant_wide_shared": N} | {"global_shared": N} |
//	                                 // {"global_shared": {"max": N, "rate_limit_rps": R}}
//	  "isolation": "tenant_isolated",// shared (default) | tenant_isolated | fully_isolated | sandboxed
//	  "resources": {"max_memory_bytes": 104857600, "max_cpu_time": "60s",
//	                "max_file_descriptors": 10, "max_network_connections": 5},
//	                                 // each field optional; absent or 0 = no limit
//	  "version": "1.0.0",            // default "1.0.0"
//	  "experimental": false,
//	  "description": "…"
//	}
//
// Unknown fields are errors, and decoding validates the result. Durations
// are Go duration strings ("250ms", "1h30m").
//
// # Codec form
//
// The canonical msgpack form (runtime/codec) is the Go struct itself:
// {"temporal":{…},"concurrency":{…},"metadata":{…}} with enums as small
// integers and durations as int64 nanoseconds. It is what the capability
// registry hashes and replicates. Codec decoding does not validate; call
// Validate on anything decoded from outside bytes.
//
// # Retry backoff
//
// Attempts are numbered from 1, and attempt 1 is the first try: max_attempts
// counts the first try, so max_attempts 3 allows the first try and two
// retries. Delay(n) is the wait after attempt n failed and before attempt
// n+1:
//
//	exponential: min(max_delay, initial_delay × multiplier^(n−1)), for n < max_attempts
//	linear:      min(max_delay, delay × n) (no cap when max_delay is 0), for n < max_attempts
//	forever:     min(max_delay, initial_delay × multiplier^(n−1)), for every n
//
// The multiplier defaults to 2 when zero. Jitter is a fraction j in [0, 1):
// JitteredDelay(n, seed) subtracts up to j of the delay, deterministically
// from (seed, n) through a SplitMix64 hash, so the wait lies in
// (delay×(1−j), delay] and never exceeds the cap. Delay is the un-jittered
// upper bound.
package contract
