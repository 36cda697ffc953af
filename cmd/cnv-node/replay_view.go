package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cnv-project/cnv/ledger/replay"
)

// replayOutput is `ledger replay`'s answer: the replay's report, with its
// differences split into decision changes (allow→deny, deny→allow, any
// other change of decision), grouped by capability and by agent, and
// rule-only changes (the same decision reached through another rule or
// reason), which are counted and listed apart.
type replayOutput struct {
	*replay.Report
	DecisionChanges changeSet `json:"decision_changes"`
	RuleChanges     changeSet `json:"rule_changes"`
}

// changeSet is one class of differences: their number, counts by kind,
// the groups by capability and by agent, and the list.
type changeSet struct {
	Count        int                 `json:"count"`
	ByKind       map[string]int      `json:"by_kind"`
	ByCapability []changeGroup       `json:"by_capability"`
	ByAgent      []changeGroup       `json:"by_agent"`
	List         []replay.Difference `json:"list"`
}

// changeGroup counts one capability's or one agent's changes by kind.
type changeGroup struct {
	Key    string         `json:"key"`
	Count  int            `json:"count"`
	ByKind map[string]int `json:"by_kind"`
}

func newReplayOutput(rep *replay.Report) replayOutput {
	var decisions, rules []replay.Difference
	for _, d := range rep.Differences {
		if d.Kind == replay.DiffReasonChanged {
			rules = append(rules, d)
		} else {
			decisions = append(decisions, d)
		}
	}
	return replayOutput{Report: rep, DecisionChanges: newChangeSet(decisions), RuleChanges: newChangeSet(rules)}
}

func newChangeSet(ds []replay.Difference) changeSet {
	cs := changeSet{Count: len(ds), ByKind: map[string]int{}, List: ds}
	if cs.List == nil {
		cs.List = []replay.Difference{}
	}
	for _, d := range ds {
		cs.ByKind[d.Kind]++
	}
	cs.ByCapability = groupChanges(ds, func(d replay.Difference) string { return string(d.Capability) })
	cs.ByAgent = groupChanges(ds, func(d replay.Difference) string { return d.Agent })
	return cs
}

// groupChanges groups ds by key, largest group first (then by key).
func groupChanges(ds []replay.Difference, key func(replay.Difference) string) []changeGroup {
	idx := map[string]int{}
	out := []changeGroup{}
	for _, d := range ds {
		k := key(d)
		i, ok := idx[k]
		if !ok {
			i, idx[k] = len(out), len(out)
			out = append(out, changeGroup{Key: k, ByKind: map[string]int{}})
		}
		out[i].Count++
		out[i].ByKind[d.Kind]++
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// kindNames are the difference kinds in the order they are shown.
var kindNames = []struct{ kind, label string }{
	{replay.DiffAllowToDeny, "allow→deny"},
	{replay.DiffDenyToAllow, "deny→allow"},
	{replay.DiffDecisionChanged, "other decision change"},
	{replay.DiffReasonChanged, "rule only"},
}

// kindSummary is "allow→deny 2, deny→allow 1".
func kindSummary(by map[string]int) string {
	s := ""
	for _, k := range kindNames {
		if n := by[k.kind]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%s %d", k.label, n)
		}
	}
	return s
}

func printReplay(w io.Writer, out replayOutput, listRules bool) {
	rep := out.Report
	fmt.Fprintf(w, "ledger size %d root %s, events [%d, %d)\n", rep.Size, rep.Root, rep.From, rep.To)
	fmt.Fprintf(w, "policy %s -> %s\n", orDefault(strings.Join(rep.OldPolicyHashes, ","), "(none recorded)"), rep.NewPolicyHash)
	fmt.Fprintf(w, "%d decisions: allow %d deny %d approval %d -> allow %d deny %d approval %d\n\n",
		rep.PolicyDecisions, rep.Original.Allow, rep.Original.Deny, rep.Original.RequireApproval,
		rep.Replayed.Allow, rep.Replayed.Deny, rep.Replayed.RequireApproval)
	printDecisionChanges(w, out.DecisionChanges)
	printRuleChanges(w, out.RuleChanges, listRules)
}

func printDecisionChanges(w io.Writer, cs changeSet) {
	if cs.Count == 0 {
		fmt.Fprintln(w, "decision changes: none")
		return
	}
	fmt.Fprintf(w, "decision changes: %d (%s)\n", cs.Count, kindSummary(cs.ByKind))
	printGroups(w, "by capability", cs.ByCapability)
	printGroups(w, "by agent", cs.ByAgent)
	fmt.Fprintln(w, "  changes:")
	printDiffs(w, cs.List)
}

func printRuleChanges(w io.Writer, cs changeSet, list bool) {
	fmt.Fprintf(w, "\nrule-only changes (same decision, another rule or reason): %d\n", cs.Count)
	if cs.Count == 0 {
		return
	}
	if !list {
		fmt.Fprintln(w, "  not listed; --rule-changes lists them (--json always carries them)")
		return
	}
	printGroups(w, "by capability", cs.ByCapability)
	printDiffs(w, cs.List)
}

func printGroups(w io.Writer, title string, gs []changeGroup) {
	fmt.Fprintf(w, "  %s:\n", title)
	for _, g := range gs {
		fmt.Fprintf(w, "    %-24s %d (%s)\n", g.Key, g.Count, kindSummary(g.ByKind))
	}
}

func printDiffs(w io.Writer, ds []replay.Difference) {
	for _, d := range ds {
		fmt.Fprintf(w, "    #%d %s %s: %s (%s) -> %s (%s) %s\n", d.Index, d.Capability, d.Agent,
			d.Original.Decision, orDefault(d.Original.MatchedRule, "default"),
			d.New.Decision, orDefault(d.New.MatchedRule, "default"), d.New.Reason)
	}
}
