// Package harness owns the real cnv-node processes of a run: it builds the
// binary, starts N nodes on loopback with their own data directories and
// free ports, routes every peer dial through a nemesis.Mesh of proxies
// (--test-dial-map), bootstraps the first node and joins the rest with
// `cnv-node cluster join`, and implements nemesis.Cluster (kill -9,
// restart, SIGSTOP/SIGCONT, clock offset on restart). Close stops every
// process and frees every port; it runs from t.Cleanup in tests and from
// the signal handler of the jepsen command, and child processes die with
// the harness (Pdeathsig) even if it is killed.
//
// The package talks to nodes only through client and the CLI;
// it must not import cluster/ or fsm/.
package harness
