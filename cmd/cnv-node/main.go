// Command cnv-node is the cnv server and its command-line client.
//
// Commands are noun-verb ("cnv-node delegation grant", "cnv-node ledger
// verify"). This package only wires: every command parses its flags, calls
// into the packages that do the work, and prints the result, as JSON with
// --json.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int { return runIO(args, os.Stdout, os.Stderr) }

// runIO runs one command line with the given output streams and returns
// the process exit code. Tests call it directly.
func runIO(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "error:", msg)
	}
	return codeOf(err)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "cnv-node",
		Short:         "cnv: governed capability invocations for agent swarms, replicated with Raft",
		SilenceUsage:  true,
		SilenceErrors: true,
		Long:          "cnv: governed capability invocations for agent swarms, replicated with Raft.\n\n" + exitHelp(),
	}
	root.PersistentFlags().Bool("json", false, "print data as JSON")
	root.Version = readBuildInfo().Version
	root.SetVersionTemplate(readBuildInfo().String())
	// A flag mistake is a usage mistake, whatever the command.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return exitWith(exitUsage, "%v", err) })
	// Each noun contributes one constructor; keep this list sorted.
	for _, newCmd := range []func() *cobra.Command{
		newAgentCmd,
		newBenchCmd,
		newCapabilityCmd,
		newCertCmd,
		newClusterCmd,
		newDelegationCmd,
		newGraphCmd,
		newHotCmd,
		newInvokeCmd,
		newKeygenCmd,
		newLedgerCmd,
		newPolicyCmd,
		newPrincipalCmd,
		newTLSCmd,
		newVersionCmd,
	} {
		root.AddCommand(newCmd())
	}
	return root
}
