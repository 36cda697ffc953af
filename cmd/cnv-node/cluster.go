package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/cnv-project/cnv/client"
	"github.com/cnv-project/cnv/wire"
)

func newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Run a local cluster, join, leave, remove and inspect members"}
	cmd.AddCommand(newClusterUpCmd(), newClusterJoinCmd(), newClusterLeaveCmd(), newClusterRemoveCmd(),
		newClusterTransferLeaderCmd(), newClusterMembersCmd(), newClusterStatusCmd(), newClusterKeysCmd())
	return cmd
}

func newClusterJoinCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join --addr THIS-NODE MEMBER",
		Short: "Make the node at --addr join the cluster MEMBER (an HTTP address) belongs to",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := nodeAddrOf(cmd); err != nil {
				return err
			}
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				if err := cl.Join(ctx, addr, args[0]); err != nil {
					return err
				}
				return emit(cmd, map[string]string{"status": "joined", "node": addr, "via": args[0]}, func(w io.Writer) {
					fmt.Fprintf(w, "%s joined the cluster via %s\n", addr, args[0])
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	cmd.Flags().Set("timeout", "90s")
	return cmd
}

func newClusterLeaveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "leave --addr NODE",
		Short: "Make the node at --addr leave the cluster (handing leadership over first) and stop",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := nodeAddrOf(cmd); err != nil {
				return err
			}
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				if err := cl.Leave(ctx, addr); err != nil {
					return err
				}
				return emit(cmd, map[string]string{"status": "left", "node": addr}, func(w io.Writer) {
					fmt.Fprintf(w, "%s left the cluster\n", addr)
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	return cmd
}

func newClusterRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "remove --addr NODE NODE-ID",
		Short: "Remove server NODE-ID from the cluster (the leader hands leadership over first)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				if err := cl.Remove(ctx, addr, args[0]); err != nil {
					return err
				}
				return emit(cmd, map[string]string{"status": "removed", "node_id": args[0]}, func(w io.Writer) {
					fmt.Fprintf(w, "removed %s\n", args[0])
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	return cmd
}

func newClusterTransferLeaderCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "transfer-leader --addr NODES [--to NODE-ID]",
		Short: "Hand Raft leadership to another voter (--to, or any up-to-date voter) and name the new leader",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				res, err := cl.TransferLeader(ctx, addr, to)
				if err != nil {
					return err
				}
				return emit(cmd, res, func(w io.Writer) {
					fmt.Fprintf(w, "leadership moved from %s to %s\n", res.From, res.LeaderID)
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	cmd.Flags().StringVar(&to, "to", "", "node ID of the voter to hand leadership to (default: any up-to-date voter)")
	return cmd
}

func newClusterMembersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "members --addr NODE",
		Short: "List the cluster's servers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				ms, err := cl.Members(ctx, addr)
				if err != nil {
					return err
				}
				return emit(cmd, ms, func(w io.Writer) { printMembers(w, ms) })
			})
		},
	}
	addRemoteFlags(cmd, false)
	return cmd
}

func printMembers(w io.Writer, ms []wire.Member) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRAFT\tLEADER\tRAFT ADDR\tAPI ADDR\tGOSSIP\tKEY")
	for _, m := range ms {
		leader := ""
		if m.Leader {
			leader = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.NodeID, orDefault(m.Role, "server"), m.Raft, leader,
			orDefault(m.RaftAddr, "-"), m.APIAddr, orDefault(m.Gossip, "-"), orDefault(m.KeyID, "-"))
	}
	tw.Flush()
}

func newClusterStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status --addr NODE",
		Short: "Show a node's Raft and ledger status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				st, err := cl.Status(ctx, addr)
				if err != nil {
					return err
				}
				return emit(cmd, st, func(w io.Writer) {
					fmt.Fprintf(w, "node:          %s (%s)\nstate:         %s\nleader:        %s (%s)\nterm:          %d\n", st.NodeID, st.KeyID, st.State, st.LeaderID, st.Leader, st.Term)
					fmt.Fprintf(w, "commit index:  %d\napplied index: %d\nledger size:   %d\nledger root:   %s\n", st.CommitIndex, st.AppliedIndex, st.LedgerSize, st.LedgerRoot)
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	return cmd
}

func newClusterKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys --addr NODE",
		Short: "List the nodes' certificate-signing public keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				ks, err := cl.Keys(ctx, addr)
				if err != nil {
					return err
				}
				return emit(cmd, ks, func(w io.Writer) {
					for _, k := range ks {
						fmt.Fprintf(w, "%s %s\n%s", k.NodeID, k.KeyID, k.PublicKeyPEM)
					}
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	return cmd
}
