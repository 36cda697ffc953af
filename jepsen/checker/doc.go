// Package checker judges a run's history (jepsen/history) against what cnv
// promises:
//
//   - Counter: the delegation use-counter history of every link is
//     linearizable (porcupine), unknown outcomes counted as "may have
//     happened";
//   - Ledger: every acknowledged append is present exactly once (at the
//     index it was acknowledged at), no append appears twice, a failed
//     append never appears, reads are prefixes of the final ledger and
//     respect real-time order;
//   - Usage: max_uses is never exceeded, no two allowed invocations report
//     the same count, nothing is charged after a committed revocation;
//   - Convergence: after healing every serving node has the same ledger
//     size and Merkle root, and every checkpoint size has one root.
//
// Each checker returns a Verdict; a checker that cannot fail is a defect,
// so each has tests on histories that must fail.
//
// The package imports jepsen/history, porcupine and the standard library;
// it must not import cluster/, fsm/ or transport/.
package checker
