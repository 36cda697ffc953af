// Package replay answers "what if this policy had been in force?": it
// re-evaluates the PolicyDecision events recorded in a ledger, each on its
// full recorded request, under another policy (any Evaluator, such as a
// *policy.Set), and reports every decision that comes out differently,
// grouped by capability and by agent.
//
// It reads the ledger through ledger.Store.Read (one consistent snapshot,
// the decisions found through the type index), so it never sees storage.
// The report is deterministic: the same ledger, range and policy always
// give the same report.
//
// It imports ledger, ledger/event and runtime packages; nothing from fsm,
// cluster or above.
package replay
