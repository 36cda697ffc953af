package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError_ carries a specific exit code out of a command.
type exitError_ struct {
	code int
	msg  string
}

func (e *exitError_) Error() string { return e.msg }

// exitWith returns an error that makes the process exit with code after
// printing msg (when not empty) on stderr.
func exitWith(code int, format string, args ...any) error {
	return &exitError_{code: code, msg: fmt.Sprintf(format, args...)}
}

// jsonOutput reports whether --json was given.
func jsonOutput(cmd *cobra.Command) bool {
	v, _ := cmd.Flags().GetBool("json")
	return v
}

// emit prints v as indented JSON with --json, and otherwise calls human.
func emit(cmd *cobra.Command, v any, human func(w io.Writer)) error {
	w := cmd.OutOrStdout()
	if jsonOutput(cmd) {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	human(w)
	return nil
}
