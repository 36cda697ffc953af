// Command jepsen is cnv's fault-injection suite: it starts real cnv-node
// processes, drives workloads against them while nemeses inject faults,
// checks the recorded histories and writes an HTML report per run.
//
//	go run ./jepsen --scenario NAME --seed S --duration 60s --nodes 5
//	go run ./jepsen --scenario all --runs 100
//	go run ./jepsen --list
//	go run ./jepsen --check runs/NAME-S/history.json
//
// It exits 0 only when every checker of every run passes, and prints the
// report's path (or the campaign summary's) as its last line of output.
// main only wires flags to jepsen/runner; it imports client
// through the packages below it and never cluster/ or fsm/.
package main
