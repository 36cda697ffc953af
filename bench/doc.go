// Package bench is cnv's load generator: N clients invoking a capability
// through a set of nodes for a duration, measuring committed invocations
// per second and latency percentiles. `cnv-node bench` drives it.
//
// It imports only client and runtime packages.
package bench
