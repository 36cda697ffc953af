package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/wire"
)

func newInvokeCmd() *cobra.Command {
	var tenant, correlation, requestID, payloadFile string
	var chain []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "invoke [flags] CAPABILITY-WORDS... [--ARG VALUE ...]",
		Short: "Invoke a capability on the cluster and print the signed certificate",
		Long: `Invoke a capability: "cnv-node invoke user create --name alice" or the dotted
form "cnv-node invoke user.create --name alice". Flags of this command go before
the capability words; everything after them is the invocation.

Exit status: 0 allowed, 3 denied or approval required; the other codes are in
cnv-node --help (4 a file or request refused as invalid, 5 no such capability, 6 no node answered).`,
		Args:               cobra.MinimumNArgs(1),
		DisableFlagParsing: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := invocation.ParseWords(args)
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			inv.Tenant, inv.CorrelationID, inv.RequestID, inv.DryRun = tenant, correlation, requestID, dryRun
			for _, f := range chain {
				tok, err := readFileLimit(f, limits.MaxTokenBytes)
				if err != nil {
					return exitWith(exitInput, "--chain: %v", err)
				}
				inv.Chain = append(inv.Chain, tok)
			}
			if payloadFile != "" {
				if inv.Payload, err = readFileLimit(payloadFile, limits.MaxPayloadBytes); err != nil {
					return exitWith(exitInput, "--payload: %v", err)
				}
			}
			return runInvoke(cmd, inv)
		},
	}
	cmd.Flags().SetInterspersed(false)
	addRemoteFlags(cmd, true)
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant to act in")
	cmd.Flags().StringSliceVar(&chain, "chain", nil, "delegation link token files, root first (comma-separated)")
	cmd.Flags().StringVar(&correlation, "correlation", "", "correlation id")
	cmd.Flags().StringVar(&requestID, "request-id", "", "request id (idempotency key; random when empty)")
	cmd.Flags().StringVar(&payloadFile, "payload", "", "file whose bytes are the invocation payload")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "decide and ledger, but do not act")
	return cmd
}

func runInvoke(cmd *cobra.Command, inv invocation.Invocation) error {
	cl, addr, ctx, cancel, err := remote(cmd, true)
	if err != nil {
		return err
	}
	defer cancel()
	outs, err := cl.Invoke(ctx, addr, inv)
	if err != nil {
		return remoteErr(err)
	}
	o := outs[0]
	if o.Error != nil {
		return exitWith(codeOfKind(o.Error.Kind), "%s: %s", o.Error.Kind, o.Error.Message)
	}
	if err := emit(cmd, o, func(w io.Writer) { printOutcome(w, &o) }); err != nil {
		return err
	}
	if o.Decision != "allow" {
		return exitWith(exitDenied, "")
	}
	return nil
}

func printOutcome(w io.Writer, o *wire.Outcome) {
	fmt.Fprintf(w, "decision:     %s\n", o.Decision)
	if o.Reason != "" {
		fmt.Fprintf(w, "reason:       %s\n", o.Reason)
	}
	if o.Suggestion != "" {
		fmt.Fprintf(w, "suggestion:   %s\n", o.Suggestion)
	}
	fmt.Fprintf(w, "request id:   %s\n", o.RequestID)
	fmt.Fprintf(w, "ledger index: %d\nleaf hash:    %s\nsigner:       %s\n", o.LedgerIndex, o.LeafHash, o.Signer)
	if o.Certificate != nil {
		c := o.Certificate
		fmt.Fprintf(w, "certificate:  %s\ncapability:   %s (%s)\nagent:        %s (tenant %s)\n", c.ID, c.Capability, c.CapabilityID, c.AgentID, c.Tenant)
	}
	for _, u := range o.UseCounts {
		fmt.Fprintf(w, "uses:         %s %d/%d\n", u.Link[:16], u.Used, u.Max)
	}
	if o.Duplicate {
		fmt.Fprintln(w, "(a repeated request id: this is the recorded answer)")
	}
	_ = strings.TrimSpace
}
