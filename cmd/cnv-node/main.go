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
		newSnapshotCmd,
		newTLSCmd,
		newVersionCmd,
	} {
		root.AddCommand(newCmd())
	}
	usageErrors(root)
	return root
}

// usageErrors makes every command-line mistake cobra finds a usage error
// (exit 2): a wrong number of arguments, and an unknown subcommand of a
// command group (which otherwise prints help and exits 0, or exits 1).
func usageErrors(c *cobra.Command) {
	for _, sub := range c.Commands() {
		usageErrors(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.Args, c.RunE = cobra.ArbitraryArgs, runGroup
		return
	}
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return exitWith(exitUsage, "%s: %v", cmd.CommandPath(), err)
			}
			return nil
		}
	}
}

// runGroup runs a command group: its help, or a usage error for a
// subcommand it does not have.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return exitWith(exitUsage, "unknown command %q for %q (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())
	}
	return cmd.Help()
}
