// Package nemesis owns the faults the suite injects into a running cluster
// and the record of when each was active.
//
// Network faults go through harness-owned TCP proxies, one per directed pair
// of nodes and per address a node dials (Raft and HTTP). Every node is
// started with a dial map that sends its peer dials through its proxies, so
// the link from A to B can pass, blackhole (accept, forward nothing), delay
// with jitter, drop a percentage of connections and chunks, or reset every
// connection — independently of the link from B to A. Partitions
// (majority/minority, isolated node, bridge, one-way) are sets of directed
// links put into a fault mode.
//
// Process faults (kill -9 and restart, SIGSTOP/SIGCONT, a clock offset set
// on restart, byte flips or truncation in a stopped node's data files) act
// through the small Cluster interface the harness implements.
//
// A Nemesis starts and stops one fault; Run drives one through cycles and
// records every interval's start and end with a Recorder.
//
// The package imports the standard library and runtime/cnverr only; it must
// not import cluster/, fsm/ or transport/.
package nemesis
