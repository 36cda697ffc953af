package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/policy"
	"github.com/cnv-project/cnv/runtime/principal"
)

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Policy sets: check a decision offline",
	}
	cmd.AddCommand(newPolicyCheckCmd(), newPolicySetCmd(), newPolicyShowCmd())
	return cmd
}

type policyCheckFlags struct {
	file, capability, agentID, agentType, tenant, sensitivity string
	effects                                                   []string
	admin, delegated                                          bool
	chainDepth                                                int
}

func newPolicyCheckCmd() *cobra.Command {
	var f policyCheckFlags
	cmd := &cobra.Command{
		Use:   "check --policy FILE.json --capability PATH [flags]",
		Short: "Evaluate a policy file for one request and print the decision and its trace",
		Long: "Evaluate a policy file for one request. Prints the decision, the evaluated rules and\n" +
			"the matched rule. Exit 0 when allowed, 3 when denied or approval is required.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPolicyCheck(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "policy", "", "policy document (JSON)")
	fl.StringVar(&f.capability, "capability", "", "capability path, e.g. user.create")
	fl.StringSliceVar(&f.effects, "effect", nil, "effect types of the capability (comma-separated snake_case)")
	fl.StringVar(&f.sensitivity, "sensitivity", "low", "capability sensitivity: low, medium, high, critical")
	fl.StringVar(&f.agentID, "agent", "agent", "agent ID of the judged principal")
	fl.StringVar(&f.agentType, "agent-type", "agent", "agent type: human, agent, service, system")
	fl.StringVar(&f.tenant, "tenant", principal.DefaultTenant, "tenant")
	fl.BoolVar(&f.admin, "admin", false, "the judged principal is an admin key")
	fl.IntVar(&f.chainDepth, "chain-depth", 0, "delegation chain depth (0 = direct)")
	return cmd
}

func runPolicyCheck(cmd *cobra.Command, f policyCheckFlags) error {
	if f.file == "" || f.capability == "" {
		return exitWith(exitUsage, "--policy and --capability are required")
	}
	set, err := loadPolicy(f.file)
	if err != nil {
		return inputErr(err)
	}
	req, err := policyRequest(f)
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	res := set.Evaluate(req)
	if err := emit(cmd, res, func(w io.Writer) { printPolicyResult(w, res) }); err != nil {
		return err
	}
	if !res.Allowed() {
		return exitWith(exitDenied, "")
	}
	return nil
}

func loadPolicy(path string) (*policy.Set, error) {
	data, err := readFileLimit(path, limits.MaxPolicyBytes)
	if err != nil {
		return nil, err
	}
	set, err := policy.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}

func policyRequest(f policyCheckFlags) (*policy.Request, error) {
	path, err := capability.ParsePath(f.capability)
	if err != nil {
		return nil, err
	}
	effects, err := capability.ParseEffects(f.effects)
	if err != nil {
		return nil, err
	}
	sens, err := capability.ParseSensitivity(f.sensitivity)
	if err != nil {
		return nil, err
	}
	at, err := principal.ParseAgentType(f.agentType)
	if err != nil {
		return nil, err
	}
	return &policy.Request{
		Capability: path, Effects: effects, Sensitivity: sens,
		AgentID: f.agentID, AgentType: at, Tenant: f.tenant,
		Admin: f.admin, ChainDepth: f.chainDepth,
	}, nil
}

func printPolicyResult(w io.Writer, r policy.Result) {
	fmt.Fprintf(w, "decision:  %s\n", r.Decision)
	if r.Reason != "" {
		fmt.Fprintf(w, "reason:    %s\n", r.Reason)
	}
	if r.Suggestion != "" {
		fmt.Fprintf(w, "suggest:   %s\n", r.Suggestion)
	}
	if r.Approver != "" {
		fmt.Fprintf(w, "approver:  %s\n", r.Approver)
	}
	matched := r.MatchedRule
	if matched == "" {
		matched = "(default)"
	}
	fmt.Fprintf(w, "matched:   %s\n", matched)
	fmt.Fprintf(w, "evaluated: %s\n", strings.Join(r.EvaluatedRules, ", "))
	fmt.Fprintf(w, "policy:    %s\n", r.PolicyHash)
}

// readFileLimit reads a file, refusing one larger than max bytes.
func readFileLimit(path string, max int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return data, nil
}
