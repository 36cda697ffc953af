// Package runner owns the scenarios of the fault-injection suite and runs
// them: one run starts a cluster of real processes (jepsen/harness),
// prepares and drives the workload (jepsen/workload) while a nemesis
// (jepsen/nemesis) injects faults, heals, reads the final state, checks the
// history (jepsen/checker) and writes the report (jepsen/report).
//
// It talks to nodes only through client and the CLI; it must
// not import cluster/ or fsm/.
package runner
