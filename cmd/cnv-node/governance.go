package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/internal/httpx"
	"github.com/cnv-project/cnv/ledger/cert"
	"github.com/cnv-project/cnv/runtime/certificate"
	"github.com/cnv-project/cnv/runtime/graph"
	"github.com/cnv-project/cnv/runtime/invocation"
	"github.com/cnv-project/cnv/runtime/limits"
	"github.com/cnv-project/cnv/runtime/principal"
	"github.com/cnv-project/cnv/wire"
)

// govInvoke invokes a built-in governance capability and prints the
// outcome like `invoke` does.
func govInvoke(cmd *cobra.Command, capPath string, payload []byte, args ...invocation.Arg) error {
	return runInvoke(cmd, invocation.Invocation{Capability: capPath, Payload: payload, Args: args})
}

func newCapabilityRegisterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "register --addr NODE --key ADMIN.key FILE.json",
		Short: "Register the capabilities of a capability file (invokes capability.register)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileLimit(args[0], limits.MaxCapabilityFileBytes)
			if err != nil {
				return inputErr(err)
			}
			if _, err := graph.ParseFile(data); err != nil {
				return exitWith(exitInput, "%s: %v", args[0], err)
			}
			return govInvoke(cmd, "capability.register", data)
		},
	}
	addRemoteFlags(cmd, true)
	return cmd
}

func newCapabilityListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list --addr NODE",
		Short: "List the registered capabilities",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteGet(cmd, "/v1/capabilities", printCapabilities)
		},
	}
	addRemoteFlags(cmd, false)
	addReadFlags(cmd)
	return cmd
}

type capabilityList struct {
	Index        uint64       `json:"index"`
	Hash         string       `json:"hash"`
	Capabilities []graph.Node `json:"capabilities"`
}

func printCapabilities(w io.Writer, out capabilityList) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CAPABILITY\tVERSION\tID\tEFFECTS")
	for _, n := range out.Capabilities {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", n.Path, n.Version, n.Capability, n.Effects)
	}
	tw.Flush()
	fmt.Fprintf(w, "(graph at raft index %d, hash %s)\n", out.Index, out.Hash)
}

// addReadFlags adds --consistency and --min-index.
func addReadFlags(cmd *cobra.Command) {
	cmd.Flags().String("consistency", "", "linearizable or stale (default depends on the read)")
	cmd.Flags().Uint64("min-index", 0, "stale reads: wait until the node has applied this index")
}

func readQuery(cmd *cobra.Command) string {
	v := url.Values{}
	if c, _ := cmd.Flags().GetString("consistency"); c != "" {
		v.Set("consistency", c)
	}
	if m, _ := cmd.Flags().GetUint64("min-index"); m > 0 {
		v.Set("min_index", fmt.Sprint(m))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func newPolicySetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "set --addr NODE --key ADMIN.key POLICY.json",
		Short: "Replace the cluster's policy set (invokes policy.set)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileLimit(args[0], limits.MaxPolicyBytes)
			if err != nil {
				return inputErr(err)
			}
			return govInvoke(cmd, "policy.set", data)
		},
	}
	addRemoteFlags(cmd, true)
	return cmd
}

func newPolicyShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show --addr NODE",
		Short: "Print the cluster's policy set",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteGet(cmd, "/v1/policy", func(w io.Writer, out policyShow) {
				fmt.Fprintf(w, "hash: %s\n%s\n", out.Hash, out.Policy)
			})
		},
	}
	addRemoteFlags(cmd, false)
	addReadFlags(cmd)
	return cmd
}

type policyShow struct {
	Hash   string          `json:"hash"`
	Policy json.RawMessage `json:"policy"`
}

func newPrincipalCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "principal", Short: "Register and list principals (agents, humans, services)"}
	cmd.AddCommand(newPrincipalRegisterCmd(), newPrincipalListCmd())
	return cmd
}

func newPrincipalRegisterCmd() *cobra.Command {
	var agentID, agentType, tenant string
	var admin bool
	cmd := &cobra.Command{
		Use:   "register --addr NODE --key ADMIN.key --agent-id ID [--agent-type agent] [--tenant T] PUBLIC.pub",
		Short: "Register a public key as a principal (invokes principal.register)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pub, err := principal.LoadPublic(args[0])
			if err != nil {
				return inputErr(err)
			}
			at, err := principal.ParseAgentType(agentType)
			if err != nil {
				return exitWith(exitUsage, "--agent-type: %v", err)
			}
			doc, _ := json.Marshal(map[string]any{"public_key": []byte(pub), "agent_id": agentID, "agent_type": at, "tenant": tenant, "admin": admin})
			return govInvoke(cmd, "principal.register", doc)
		},
	}
	addRemoteFlags(cmd, true)
	cmd.Flags().StringVar(&agentID, "agent-id", "", "the principal's agent id (required)")
	cmd.Flags().StringVar(&agentType, "agent-type", "agent", "human, agent, service or system")
	cmd.Flags().StringVar(&tenant, "tenant", principal.DefaultTenant, "tenant")
	cmd.Flags().BoolVar(&admin, "admin", false, "make the principal an admin")
	cmd.MarkFlagRequired("agent-id")
	return cmd
}

func newPrincipalListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list --addr NODE",
		Short: "List registered principals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteGet(cmd, "/v1/principals", func(w io.Writer, ps []principal.Principal) {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "AGENT\tTYPE\tTENANT\tKEY\tADMIN")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", p.AgentID, p.AgentType, p.Tenant, p.KeyID, p.Admin)
				}
				tw.Flush()
			})
		},
	}
	addRemoteFlags(cmd, false)
	addReadFlags(cmd)
	return cmd
}

func newDelegationRevokeCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "revoke --addr NODE --key K.key LINK-HASH",
		Short: "Revoke a delegation link and every chain through it (invokes delegation.revoke)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := []invocation.Arg{{Name: "link", Value: args[0]}}
			if reason != "" {
				a = append(a, invocation.Arg{Name: "reason", Value: reason})
			}
			return govInvoke(cmd, "delegation.revoke", nil, a...)
		},
	}
	addRemoteFlags(cmd, true)
	cmd.Flags().StringVar(&reason, "reason", "", "why")
	return cmd
}

func newDelegationShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show --addr NODE LINK-HASH",
		Short: "Show a delegation link's replicated state: uses charged and revocation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return remoteGet(cmd, "/v1/delegations/"+url.PathEscape(args[0]), printLinkState)
		},
	}
	addRemoteFlags(cmd, false)
	addReadFlags(cmd)
	return cmd
}

func printLinkState(w io.Writer, ls wire.LinkState) {
	fmt.Fprintf(w, "link:     %s\nissuer:   %s\naudience: %s\nuses:     %d", ls.Hash, ls.Issuer, ls.Audience, ls.Uses)
	if ls.MaxUses > 0 {
		fmt.Fprintf(w, " of %d", ls.MaxUses)
	}
	fmt.Fprintln(w)
	if ls.Revoked {
		fmt.Fprintf(w, "revoked:  by %s at %d (%s)\n", ls.RevokedBy, ls.RevokedAt, ls.Reason)
	}
}

func newCertCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "Certificates: verify offline"}
	cmd.AddCommand(newCertVerifyCmd())
	return cmd
}

func newCertVerifyCmd() *cobra.Command {
	var trust []string
	cmd := &cobra.Command{
		Use:   "verify FILE --trust node1.pub,...",
		Short: "Verify a certificate or receipt (the JSON `invoke --json` prints) against trusted node keys",
		Long: `Verify a ledger certificate (an allow) or receipt offline: the checkpoint
it carries is signed by one of the --trust keys, its inclusion proof leads
from its event to the checkpoint's root, every field the document shows
agrees with the event (a field that does not is named), and a certificate
is within its validity window now. docs/CERTIFICATES.md has the format.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readFileLimit(args[0], limits.MaxCertificateBytes)
			if err != nil {
				return inputErr(err)
			}
			keys := certificate.Trust{}
			for _, f := range trust {
				pub, err := principal.LoadPublic(f)
				if err != nil {
					return exitWith(exitInput, "--trust %s: %v", f, err)
				}
				keys[principal.IDOf(pub)] = pub
			}
			c, err := cert.VerifyDocument(data, false, keys, time.Now().UnixNano())
			switch {
			case errors.Is(err, certificate.ErrInvalid):
				return exitWith(exitInput, "%s: not a certificate: %v", args[0], err)
			case err != nil:
				return exitWith(exitDenied, "certificate does not verify: %v", err)
			}
			v := c.View
			return emit(cmd, httpx.VerifiedOf(c), func(w io.Writer) {
				kind := "receipt"
				if v.Allowed() {
					kind = "certificate"
				}
				fmt.Fprintf(w, "valid %s %s: %s %s for %s (key %s), ledger index %d of %d, signed by %s\n",
					kind, v.ID, v.Decision, v.Capability, v.AgentID, v.KeyID, v.LedgerIndex, v.TreeSize, v.Signer)
			})
		},
	}
	cmd.Flags().StringSliceVar(&trust, "trust", nil, "trusted node public key files (comma-separated)")
	cmd.MarkFlagRequired("trust")
	return cmd
}

func invocationOf(capPath string, payload []byte) invocation.Invocation {
	return invocation.Invocation{Capability: capPath, Payload: payload}
}
