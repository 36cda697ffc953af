package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/delegation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

func newDelegationCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delegation",
		Short: "Signed delegation links: grant, inspect and verify chains offline",
	}
	cmd.AddCommand(newDelegationGrantCmd(), newDelegationInspectCmd(), newDelegationVerifyCmd(),
		newDelegationRevokeCmd(), newDelegationShowCmd())
	return cmd
}

type grantFlags struct {
	key, to, parent, out, maxEffect string
	allow, forbid, nouns, verbs     []string
	ttl                             time.Duration
	maxUses                         uint64
}

func newDelegationGrantCmd() *cobra.Command {
	var f grantFlags
	cmd := &cobra.Command{
		Use:   "grant --key ISSUER.key --to AUDIENCE.pub --allow PATTERNS --ttl DURATION --out FILE.tok [flags]",
		Short: "Sign a delegation link from the key's owner to the audience",
		Long: "Sign a delegation link and write it as a token file. Without --parent this is a root\n" +
			"link: --allow and --ttl are required, --nouns and --verbs default to any and\n" +
			"--max-effect to read_only. With --parent, the issuer must be the parent's audience,\n" +
			"unset fields inherit the parent's, --forbid adds to the parent's forbid list, and a\n" +
			"link that widens the parent in any field is refused (exit 3, naming the field).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGrant(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "issuer's private key (PEM PKCS#8)")
	fl.StringVar(&f.to, "to", "", "audience's public key (PEM SPKI)")
	fl.StringSliceVar(&f.allow, "allow", nil, "allowed capability patterns (comma-separated; ** = any)")
	fl.StringSliceVar(&f.forbid, "forbid", nil, "forbidden capability patterns (always win over --allow)")
	fl.StringSliceVar(&f.nouns, "nouns", nil, "allowed noun patterns (default: the parent's, or any)")
	fl.StringSliceVar(&f.verbs, "verbs", nil, "allowed verbs (default: the parent's, or any)")
	fl.StringVar(&f.maxEffect, "max-effect", "", "highest effect level: read_only, mutate, network, privileged (or an effect type)")
	fl.DurationVar(&f.ttl, "ttl", 0, "validity from now, e.g. 1h (default with --parent: until the parent expires)")
	fl.Uint64Var(&f.maxUses, "max-uses", 0, "uses allowed through this link, 0 = unlimited (default with --parent: the parent's)")
	fl.StringVar(&f.parent, "parent", "", "parent link token to sub-delegate from")
	fl.StringVar(&f.out, "out", "", "token file to write")
	return cmd
}

func runGrant(cmd *cobra.Command, f grantFlags) error {
	if f.key == "" || f.to == "" || f.out == "" {
		return exitWith(exitUsage, "--key, --to and --out are required")
	}
	key, err := principal.LoadPrivate(f.key)
	if err != nil {
		return inputErr(err)
	}
	audience, err := principal.LoadPublic(f.to)
	if err != nil {
		return inputErr(err)
	}
	var parent *delegation.Link
	if f.parent != "" {
		p, err := loadToken(f.parent)
		if err != nil {
			return inputErr(err)
		}
		parent = &p
	}
	spec, err := grantSpec(cmd, f)
	if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	g, err := spec.Resolve(audience, parent, time.Now().UnixNano())
	if err != nil {
		return delegationExit(err, exitUsage)
	}
	link, err := delegation.Issue(key, g, parent, nil)
	if err != nil {
		return delegationExit(err, exitUsage)
	}
	return writeGrant(cmd, link, f.out)
}

// grantSpec turns the flags into a Spec; flags not given stay unset so that
// they inherit.
func grantSpec(cmd *cobra.Command, f grantFlags) (delegation.Spec, error) {
	fl := cmd.Flags()
	s := delegation.Spec{Forbid: f.forbid, TTL: f.ttl}
	if fl.Changed("allow") {
		s.Allow = nonNil(f.allow)
	}
	if fl.Changed("nouns") {
		s.Nouns = nonNil(f.nouns)
	}
	if fl.Changed("verbs") {
		s.Verbs = nonNil(f.verbs)
	}
	if fl.Changed("max-uses") {
		s.MaxUses = &f.maxUses
	}
	if fl.Changed("ttl") && f.ttl <= 0 {
		return s, fmt.Errorf("--ttl must be positive, got %v", f.ttl)
	}
	if f.maxEffect != "" {
		l, err := capability.ParseLevel(f.maxEffect)
		if err != nil {
			return s, err
		}
		s.MaxLevel = &l
	}
	return s, nil
}

// nonNil keeps "--allow ”" (allow nothing) distinct from an unset flag.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeGrant(cmd *cobra.Command, link delegation.Link, out string) error {
	text, err := delegation.Encode(link)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, text, 0o644); err != nil {
		return err
	}
	view := link.View()
	res := struct {
		delegation.LinkView
		File string `json:"file"`
	}{view, out}
	return emit(cmd, res, func(w io.Writer) {
		fmt.Fprintf(w, "granted %s to %s (depth %d, until %s)\nwrote %s\n", view.Hash, view.Audience, view.Depth, view.NotAfterAt, out)
	})
}

func loadToken(path string) (delegation.Link, error) {
	data, err := readFileLimit(path, limits.MaxTokenBytes)
	if err != nil {
		return delegation.Link{}, err
	}
	l, err := delegation.Decode(data)
	if err != nil {
		return delegation.Link{}, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// delegationExit maps a delegation error to an exit code: refusals exit 3,
// a malformed grant or chain malformed (usage for a grant made from
// flags, input for a chain read from files), anything else 1.
func delegationExit(err error, malformed int) error {
	switch reason := delegation.Reason(err); reason {
	case "malformed", "too_deep", "too_complex":
		return exitWith(malformed, "%v", err)
	case "":
		return err
	default:
		if f := delegation.FailedField(err); f != "" {
			return exitWith(exitDenied, "%s (%s): %v", reason, f, err)
		}
		return exitWith(exitDenied, "%s: %v", reason, err)
	}
}

func newDelegationInspectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE.tok",
		Short: "Print every field of a delegation link, its hash and whether its signature verifies",
		Long:  "Print every field of a delegation link, its hash and whether its signature verifies.\nExit 3 when the signature does not verify.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			link, err := loadToken(args[0])
			if err != nil {
				return inputErr(err)
			}
			sigErr := link.VerifySignature()
			res := struct {
				delegation.LinkView
				SignatureValid bool `json:"signature_valid"`
			}{link.View(), sigErr == nil}
			if err := emit(cmd, res, func(w io.Writer) { printLink(w, res.LinkView, sigErr) }); err != nil {
				return err
			}
			if sigErr != nil {
				return exitWith(exitDenied, "%v", sigErr)
			}
			return nil
		},
	}
}

func printLink(w io.Writer, v delegation.LinkView, sigErr error) {
	parent := v.Parent
	if parent == "" {
		parent = "(root)"
	}
	sig := "valid"
	if sigErr != nil {
		sig = "INVALID"
	}
	c := v.Constraints
	fmt.Fprintf(w, "hash:        %s\nversion:     %d\nnonce:       %s\n", v.Hash, v.Version, v.Nonce)
	fmt.Fprintf(w, "issuer:      %s\naudience:    %s\nparent:      %s\ndepth:       %d\n", v.Issuer, v.Audience, parent, v.Depth)
	fmt.Fprintf(w, "allow:       %s\nforbid:      %s\n", joinPatterns(c.Allow), joinPatterns(c.Forbid))
	fmt.Fprintf(w, "nouns:       %s\nverbs:       %s\nmax effect:  %s\n", strings.Join(c.Nouns, ","), strings.Join(c.Verbs, ","), c.MaxLevel)
	fmt.Fprintf(w, "not before:  %s\nnot after:   %s\nmax uses:    %s\nsignature:   %s\n", v.NotBeforeAt, v.NotAfterAt, usesText(v.MaxUses), sig)
}

func joinPatterns(ps []capability.Pattern) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ",")
}

func usesText(n uint64) string {
	if n == 0 {
		return "unlimited"
	}
	return fmt.Sprint(n)
}

type verifyFlags struct {
	chain         []string
	invoker, path string
	effect, at    string
}

func newDelegationVerifyCmd() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --chain A.tok,B.tok --invoker X.pub --capability PATH [--effect LEVEL] [--at TIME]",
		Short: "Check that a chain lets the invoker invoke a capability now",
		Long: "Verify a delegation chain (root first) offline: signatures, linkage, narrowing, depth,\n" +
			"time window and effective constraints, for the capability at the given effect level\n" +
			"(default read_only; there is no registry offline). There is no replicated state\n" +
			"offline, so revocations and use counts are not consulted. Exit 0 when allowed,\n" +
			"3 with the reason (expired, broken_chain, bad_signature, not_allowed,\n" +
			"effect_too_high, ...) otherwise.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runVerify(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.chain, "chain", nil, "token files, root first (comma-separated)")
	fl.StringVar(&f.invoker, "invoker", "", "invoker's public key (PEM SPKI)")
	fl.StringVar(&f.path, "capability", "", "capability path, e.g. user.read")
	fl.StringVar(&f.effect, "effect", "read_only", "the capability's effect level or effect type")
	fl.StringVar(&f.at, "at", "", "check at this time (RFC 3339) instead of now")
	return cmd
}

type verifyResult struct {
	Allowed   bool                  `json:"allowed"`
	Reason    string                `json:"reason,omitempty"`
	Field     string                `json:"field,omitempty"`
	Error     string                `json:"error,omitempty"`
	Effective *delegation.Effective `json:"effective,omitempty"`
}

func runVerify(cmd *cobra.Command, f verifyFlags) error {
	chain, invoker, path, level, now, err := verifyInputs(f)
	var ee *exitError_
	if errors.As(err, &ee) {
		return err
	} else if err != nil {
		return exitWith(exitUsage, "%v", err)
	}
	eff, verr := delegation.NewVerifier(0).Verify(chain, invoker, path, level, now, nil)
	res := verifyResult{Allowed: verr == nil}
	if verr != nil {
		res.Reason, res.Field, res.Error = delegation.Reason(verr), delegation.FailedField(verr), verr.Error()
	} else {
		res.Effective = &eff
	}
	if err := emit(cmd, res, func(w io.Writer) { printVerify(w, path, res) }); err != nil {
		return err
	}
	if verr != nil {
		return delegationExit(verr, exitInput)
	}
	return nil
}

func verifyInputs(f verifyFlags) (chain []delegation.Link, invoker ed25519.PublicKey, path capability.Path, level capability.Level, now int64, err error) {
	if len(f.chain) == 0 || f.invoker == "" || f.path == "" {
		return nil, nil, "", 0, 0, errors.New("--chain, --invoker and --capability are required")
	}
	for _, file := range f.chain {
		l, err := loadToken(strings.TrimSpace(file))
		if err != nil {
			return nil, nil, "", 0, 0, inputErr(err)
		}
		chain = append(chain, l)
	}
	if invoker, err = principal.LoadPublic(f.invoker); err != nil {
		return nil, nil, "", 0, 0, inputErr(err)
	}
	if path, err = capability.ParsePath(f.path); err != nil {
		return nil, nil, "", 0, 0, err
	}
	if level, err = capability.ParseLevel(f.effect); err != nil {
		return nil, nil, "", 0, 0, err
	}
	now = time.Now().UnixNano()
	if f.at != "" {
		t, err := time.Parse(time.RFC3339Nano, f.at)
		if err != nil {
			return nil, nil, "", 0, 0, fmt.Errorf("--at: %v", err)
		}
		now = t.UnixNano()
	}
	return chain, invoker, path, level, now, nil
}

func printVerify(w io.Writer, path capability.Path, res verifyResult) {
	if !res.Allowed {
		fmt.Fprintf(w, "denied: %s\n", res.Reason)
		return
	}
	e := res.Effective
	fmt.Fprintf(w, "allowed: %s for %s through %d link(s) from %s\n", path, e.Invoker, e.Depth, e.Origin)
	fmt.Fprintf(w, "valid:   %s to %s\n", time.Unix(0, e.NotBefore).UTC().Format(time.RFC3339), time.Unix(0, e.NotAfter).UTC().Format(time.RFC3339))
}
