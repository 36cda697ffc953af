package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/cnv-project/cnv/runtime/cnverr"
)

// Exit codes: one table for every command. The same kind of mistake
// always gets the same code.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitDenied      = 3
	exitInput       = 4
	exitNotFound    = 5
	exitUnavailable = 6
)

// exitTable documents the codes (root --help, README).
var exitTable = []struct {
	code    int
	name    string
	meaning string
}{
	{exitOK, "ok", "done; an invocation or check was allowed"},
	{exitError, "error", "anything not below (an internal error, a damaged ledger, a node that failed)"},
	{exitUsage, "usage", "the command line is wrong: unknown command or flag, a required flag or argument missing, a flag value that does not parse"},
	{exitDenied, "denied", "refused: the policy denied it or needs approval, a signature or chain does not verify, wrong cluster token, unknown key"},
	{exitInput, "input", "an input file cannot be read or does not parse (a policy, a capability file, a key, a token, a certificate), or the cluster refuses the request's content as invalid (400, 409, 413)"},
	{exitNotFound, "not found", "what was named does not exist (a node, an event, a delegation, a capability, a data directory's ledger)"},
	{exitUnavailable, "unavailable", "no endpoint answered, no leader, or the request timed out"},
}

// exitHelp is the table as text.
func exitHelp() string {
	var b strings.Builder
	b.WriteString("Exit codes (every command):\n")
	for _, e := range exitTable {
		fmt.Fprintf(&b, "  %d  %-11s %s\n", e.code, e.name, e.meaning)
	}
	return b.String()
}

// inputErr is an input file (or content) that cannot be used.
func inputErr(err error) error { return &exitError_{code: exitInput, msg: err.Error()} }

// codeOfKind maps an API error kind to its exit code.
func codeOfKind(k cnverr.Kind) int {
	switch k {
	case cnverr.PermissionDenied, cnverr.GuardExceeded, cnverr.Unauthenticated:
		return exitDenied
	case cnverr.InvalidInput, cnverr.InvalidStructure, cnverr.TooLarge, cnverr.Conflict:
		return exitInput
	case cnverr.NotFound, cnverr.CommandNotFound, cnverr.VerbNotFound:
		return exitNotFound
	case cnverr.Unavailable, cnverr.DeadlineExceeded, cnverr.ResourceExhausted:
		return exitUnavailable
	}
	return exitError
}

// codeOf classifies an error no command classified itself.
func codeOf(err error) int {
	var ee *exitError_
	var ce *cnverr.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		return codeOfKind(ce.Kind)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &oe):
		return exitUnavailable
	}
	return exitError
}
