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
	cmd := &cobra.Command{Use: "cluster", Short: "Run a local cluster, join, leave, remove, move and inspect members"}
	cmd.AddCommand(newClusterUpCmd(), newClusterJoinCmd(), newClusterLeaveCmd(), newClusterRemoveCmd(), newClusterMoveMemberCmd(),
		newClusterTransferLeaderCmd(), newClusterMembersCmd(), newClusterStatusCmd(), newClusterKeysCmd())
	return cmd
}

func newClusterJoinCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join --addr THIS-NODE MEMBER",
		Short: "Make the node at --addr join the cluster MEMBER (an HTTP address) belongs to",
		Long: `Make the node at --addr join the cluster MEMBER (an HTTP address) belongs to.

The node signs its join with its node key. This is the explicit join: a node
that was removed (cluster remove, cluster leave, or autopilot's dead-server
cleanup) is readmitted by it, and by nothing else. A join naming a member's
id with another Raft address or key, a member's address, or a member's key
is refused (exit 4) with both sides named: remove the member first, or move
it with cluster move-member.`,
		Args: cobra.ExactArgs(1),
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
		Long: `Remove server NODE-ID from the cluster (the leader hands leadership over first).

The removal is committed as a tombstone of the node id and its key, ledgered
(MembershipChanged) with who asked: autopilot never adds the server back,
even while it still runs and gossips, and only an explicit join of that node
(cluster join, or agent --join on an empty data dir) readmits it.`,
		Args: cobra.ExactArgs(1),
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

func newClusterMoveMemberCmd() *cobra.Command {
	var raftAddr, httpAddr string
	cmd := &cobra.Command{
		Use:   "move-member --addr NODES NODE-ID --raft-addr NEW [--http-addr NEW]",
		Short: "Tell the cluster that member NODE-ID now listens at a new Raft (and HTTP) address",
		Long: `Tell the cluster that member NODE-ID now listens at a new Raft (and HTTP) address.

The leader changes the member's address in the Raft configuration (keeping
its vote) and in its node record, and ledgers the move (MembershipChanged,
change moved) with who asked. Nothing moves a member on its own: a server
restarted on its data dir at another address is unreachable (it logs this
command) until it is moved. Moving the leader hands leadership over first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if raftAddr == "" {
				return exitWith(exitUsage, "--raft-addr is required")
			}
			return remoteRun(cmd, false, func(ctx context.Context, cl *client.Client, addr string) error {
				if err := cl.MoveMember(ctx, addr, args[0], raftAddr, httpAddr); err != nil {
					return err
				}
				return emit(cmd, map[string]string{"status": "moved", "node_id": args[0], "raft_addr": raftAddr, "api_addr": httpAddr}, func(w io.Writer) {
					fmt.Fprintf(w, "moved %s to %s\n", args[0], raftAddr)
				})
			})
		},
	}
	addRemoteFlags(cmd, false)
	cmd.Flags().StringVar(&raftAddr, "raft-addr", "", "the member's new Raft address (host:port; required)")
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "the member's new HTTP API address (host:port; default: unchanged)")
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
