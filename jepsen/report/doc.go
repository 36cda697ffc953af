// Package report writes a run's HTML page: the fault timeline shaded over a
// latency and throughput plot (inline SVG, nothing fetched from the
// internet), the checker verdicts, the seed and the exact command that
// reproduces the run, with porcupine's visualisation of the delegation
// counter history beside it (counter.html) and the raw history
// (history.json, which `jepsen --check` re-checks offline).
//
// The package imports jepsen/history, jepsen/checker, porcupine and the
// standard library; it must not import cluster/, fsm/ or transport/.
package report
