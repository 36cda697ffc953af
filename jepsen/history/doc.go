// Package history owns the record of one fault-injection run: every client
// operation (what was asked, of which node, when it was invoked and when it
// completed, and its outcome ok / fail / unknown) and every fault interval.
// Workloads append to a Recorder; checkers and the report read the History.
// A History is saved as JSON and can be loaded again to re-check a run
// offline (Decode is fuzzed: it reads files from outside).
//
// Times are int64 nanoseconds since the run's start, from a monotonic clock.
//
// The package imports only the standard library and runtime/limits.
package history
