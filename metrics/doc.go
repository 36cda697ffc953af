// Package metrics collects what a cnv node reports on /metrics: the
// process-wide go-metrics sink that Raft reports through, rendered as
// Prometheus text. It imports no other cnv package.
package metrics
