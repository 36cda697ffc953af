package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/capability"
)

func newCapabilityCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capability",
		Short: "Capability identities and the capability registry",
	}
	cmd.AddCommand(newCapabilityIDCmd(), newCapabilityRegisterCmd(), newCapabilityListCmd())
	return cmd
}

func newCapabilityIDCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "id PATH[@VERSION]",
		Short: "Print the capability ID of a dotted path (user.create, services.restart@2.0.0)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := capability.ParseRef(args[0])
			if err != nil {
				return exitWith(exitUsage, "%v", err)
			}
			res := map[string]string{"path": string(ref.Path), "version": ref.Version, "id": string(ref.ID())}
			return emit(cmd, res, func(w io.Writer) { fmt.Fprintln(w, ref.ID()) })
		},
	}
}
