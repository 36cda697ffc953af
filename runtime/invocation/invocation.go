package invocation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/cnv-project/cnv/runtime/capability"
	"github.com/cnv-project/cnv/runtime/cnverr"
	"github.com/cnv-project/cnv/runtime/codec"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
)

// Sentinel errors.
var (
	ErrInvalid      = cnverr.New(cnverr.InvalidInput, "invalid invocation")
	ErrTooLarge     = cnverr.New(cnverr.TooLarge, "invocation too large")
	ErrBadSignature = cnverr.New(cnverr.Unauthenticated, "invocation signature does not verify")
	ErrUnknownKey   = cnverr.New(cnverr.Unauthenticated, "invoker key is not registered")
)

// Arg is one named argument. Order is kept and names may repeat, as on a
// command line.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Invocation is one request to run a capability.
type Invocation struct {
	// Capability is the dotted path, optionally with "@version".
	Capability string   `json:"capability"`
	Args       []Arg    `json:"args,omitempty"`
	Positional []string `json:"positional,omitempty"`
	// Payload carries a document for governance capabilities (a policy,
	// a capability file, a principal record); limited separately.
	Payload       []byte `json:"payload,omitempty"`
	Tenant        string `json:"tenant,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	// RequestID makes the invocation idempotent: the cluster answers a
	// repeated (invoker, request id) with the recorded result.
	RequestID string `json:"request_id"`
	// Chain holds the encoded delegation links, root first; empty for a
	// direct invocation.
	Chain  [][]byte `json:"chain,omitempty"`
	DryRun bool     `json:"dry_run,omitempty"`
}

// Ref parses the capability reference.
func (inv *Invocation) Ref() (capability.Ref, error) { return capability.ParseRef(inv.Capability) }

// Validate checks every field against its limit.
func (inv *Invocation) Validate() error {
	if _, err := inv.Ref(); err != nil {
		return err
	}
	if len(inv.Args)+len(inv.Positional) > limits.MaxArgs {
		return fmt.Errorf("%w: %d arguments, limit %d", ErrTooLarge, len(inv.Args)+len(inv.Positional), limits.MaxArgs)
	}
	for _, a := range inv.Args {
		if a.Name == "" || len(a.Name) > limits.MaxArgKeyLen || strings.ContainsAny(a.Name, " \t\n=") {
			return fmt.Errorf("%w: argument name %q (1 to %d characters, no spaces or '=')", ErrInvalid, a.Name, limits.MaxArgKeyLen)
		}
		if len(a.Value) > limits.MaxArgValueLen {
			return fmt.Errorf("%w: argument %q is %d bytes, limit %d", ErrTooLarge, a.Name, len(a.Value), limits.MaxArgValueLen)
		}
	}
	for i, p := range inv.Positional {
		if len(p) > limits.MaxArgValueLen {
			return fmt.Errorf("%w: positional %d is %d bytes, limit %d", ErrTooLarge, i, len(p), limits.MaxArgValueLen)
		}
	}
	if len(inv.Payload) > limits.MaxPayloadBytes {
		return fmt.Errorf("%w: payload is %d bytes, limit %d", ErrTooLarge, len(inv.Payload), limits.MaxPayloadBytes)
	}
	if len(inv.Chain) > limits.MaxChainDepth {
		return fmt.Errorf("%w: chain of %d links, limit %d", ErrTooLarge, len(inv.Chain), limits.MaxChainDepth)
	}
	if inv.Tenant != "" {
		if err := principal.CheckID("tenant", inv.Tenant); err != nil {
			return err
		}
	}
	if inv.CorrelationID != "" {
		if err := principal.CheckID("correlation_id", inv.CorrelationID); err != nil {
			return err
		}
	}
	return principal.CheckID("request_id", inv.RequestID)
}

// CommandLine renders the invocation as the ledger records it:
// "user.create --name alice pos1".
func (inv *Invocation) CommandLine() string {
	var b strings.Builder
	b.WriteString(inv.Capability)
	for _, a := range inv.Args {
		b.WriteString(" --")
		b.WriteString(a.Name)
		if a.Value != "" {
			b.WriteByte(' ')
			b.WriteString(quoteIfNeeded(a.Value))
		}
	}
	for _, p := range inv.Positional {
		b.WriteByte(' ')
		b.WriteString(quoteIfNeeded(p))
	}
	s := b.String()
	if len(s) > limits.MaxCommandLineLen {
		s = s[:limits.MaxCommandLineLen]
	}
	return s
}

func quoteIfNeeded(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"'") {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// ArgsDigest is the hex SHA-256 of the canonical encoding of the args,
// positionals and payload: what the ledger records instead of the values.
func (inv *Invocation) ArgsDigest() string {
	sum := sha256.Sum256(codec.MustMarshal(struct {
		Args       []Arg    `json:"args"`
		Positional []string `json:"positional"`
		Payload    []byte   `json:"payload"`
	}{inv.Args, inv.Positional, inv.Payload}))
	return hex.EncodeToString(sum[:])
}

// Arg returns the first value of a named argument.
func (inv *Invocation) Arg(name string) (string, bool) {
	for _, a := range inv.Args {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

// ParseWords parses command-line words into an invocation's capability and
// arguments:
//
//	user.create --name alice --age=30 extra   dotted path, then arguments
//	user create --name alice                  words before the first flag form the path
//	file copy -- a.txt b.txt                  "--" ends the path; the rest are positionals
//
// In the dotted form, words that are not flags or flag values are
// positionals. A flag followed by another flag, or last, has the empty
// value (a boolean flag).
func ParseWords(words []string) (Invocation, error) {
	if len(words) == 0 {
		return Invocation{}, fmt.Errorf("%w: no capability given", ErrInvalid)
	}
	var inv Invocation
	rest := words[1:]
	if strings.Contains(words[0], ".") {
		inv.Capability = words[0]
	} else {
		i := 0
		for i < len(words) && !strings.HasPrefix(words[i], "-") {
			i++
		}
		inv.Capability = strings.Join(words[:i], ".")
		rest = words[i:]
		if len(rest) > 0 && rest[0] == "--" {
			inv.Positional = append(inv.Positional, rest[1:]...)
			rest = nil
		}
	}
	if err := parseArgs(&inv, rest); err != nil {
		return Invocation{}, err
	}
	if _, err := inv.Ref(); err != nil {
		return Invocation{}, err
	}
	return inv, nil
}

func parseArgs(inv *Invocation, words []string) error {
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			inv.Positional = append(inv.Positional, words[i+1:]...)
			return nil
		case strings.HasPrefix(w, "--"):
			name, value, hasValue := strings.Cut(w[2:], "=")
			if !hasValue && i+1 < len(words) && !strings.HasPrefix(words[i+1], "--") {
				value = words[i+1]
				i++
			}
			if name == "" {
				return fmt.Errorf("%w: empty flag name in %q", ErrInvalid, w)
			}
			inv.Args = append(inv.Args, Arg{Name: name, Value: value})
		default:
			inv.Positional = append(inv.Positional, w)
		}
	}
	return nil
}
