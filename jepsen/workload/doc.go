// Package workload owns the client side of a run: it prepares the cluster
// (a capability for appends and one for counted uses, an agent principal,
// delegation links with small max_uses issued by the admin), drives
// concurrent workers that append to the ledger with unique correlation
// ids, read it linearizably, invoke through the counted links from every
// node, read the links and revoke them, and records every operation with
// its invoke and complete times, node and outcome (ok / fail / unknown) in
// a history.Recorder. After healing, ReadFinal reads the ledger, every
// node's size and root, and every link's state.
//
// It talks to nodes only through client (and runtime/ helpers to
// sign links); it must not import cluster/ or fsm/.
package workload
