// Package metrics builds what a cnv node reports on /metrics with
// prometheus/client_golang: one registry per process holding the Go
// runtime and process collectors, Raft's go-metrics (bridged: snake_case
// names, _total counters, the peer in a label, HELP on every family) and
// whatever each component registers through the Registerer it is given.
// It imports no other cnv package.
package metrics
