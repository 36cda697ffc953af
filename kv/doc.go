// Package kv is the storage layer under the replicated state: a minimal
// transactional key-value interface (Reader, Tx, DB) of named buckets of
// byte keys in byte order, with a bbolt implementation and an in-memory
// one.
//
// The ledger keeps its own buckets in its bbolt file through bbolt
// directly; what it hands the FSM for everything else in the same file is
// a kv.Tx over bbolt buckets named by a namespace prefix (OnBolt), so the
// FSM's writes and the ledger's commit in one transaction. The replicated
// state (fsm/state) is written against this interface only, and runs
// unchanged over memory (NewMem), a bbolt file of its own (OpenBolt) or
// the ledger's file. Package kvtest holds the conformance suite every
// implementation passes.
//
// It imports nothing of the module: it sits below the ledger and the FSM.
package kv
