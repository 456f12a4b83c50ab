package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newClusterCmd(a *app) *cobra.Command {
	cmd := groupCmd("cluster", "Inspect and change a cluster of brokers")
	cmd.Long = `Inspect and change a cluster of brokers started with 'junction server
--node-id ID --cluster-listen ADDR'. Changes go to the leader: when --server
names a follower, the command follows it to the leader.`
	cmd.AddCommand(newClusterStatusCmd(a), newClusterAddNodeCmd(a), newClusterRemoveNodeCmd(a), newClusterTransferCmd(a))
	return cmd
}

func newClusterStatusCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's members, leader and raft positions",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return show(a, cmd, func(ctx context.Context, c *client.Client) (*client.ClusterStatus, error) {
				return c.ClusterStatus(ctx)
			}, asIs, writeClusterStatus)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func writeClusterStatus(w io.Writer, st *client.ClusterStatus) error {
	fmt.Fprintf(w, "node %s: %s, term %d, commit index %d, applied index %d\n", st.NodeID, st.State, st.Term, st.CommitIndex, st.AppliedIndex)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRAFT ADDRESS\tAPI ADDRESS")
	for _, n := range st.Nodes {
		role := "follower"
		switch {
		case n.Leader:
			role = "leader"
		case n.Repairing:
			role = "repairing"
		case !n.Voter:
			role = "non-voter"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", n.ID, role, n.RaftAddress, n.APIAddress)
	}
	return tw.Flush()
}

func newClusterAddNodeCmd(a *app) *cobra.Command {
	var apiAddr string
	cmd := &cobra.Command{
		Use:   "add-node ID RAFT_ADDRESS",
		Short: "Add a node to the cluster as a voter",
		Long: `Add a node to the cluster as a voter. A node started with --join adds
itself; this is for one started without it.`,
		Example: `  junction cluster add-node n4 10.0.0.4:7401 --api 10.0.0.4:7400`,
		Args:    exactArgs("ID", "RAFT_ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onLeader(cmd.Context(), func(ctx context.Context, c *client.Client) error {
				return c.AddNode(ctx, args[0], args[1], apiAddr)
			})
		},
	}
	cmd.Flags().StringVar(&apiAddr, "api", "", "the node's API address, where followers send its clients")
	return cmd
}

func newClusterRemoveNodeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-node ID",
		Short: "Remove a node from the cluster",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onLeader(cmd.Context(), func(ctx context.Context, c *client.Client) error {
				return c.RemoveNode(ctx, args[0])
			})
		},
	}
}

func newClusterTransferCmd(a *app) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "transfer-leader",
		Short: "Hand the leadership to another node, as before a planned stop",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.onLeader(cmd.Context(), func(ctx context.Context, c *client.Client) error {
				return c.TransferLeader(ctx, to)
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "node id to hand it to (default: the most up-to-date voter)")
	return cmd
}

// onLeader runs fn against --server, and again against the leader a
// follower names.
func (a *app) onLeader(ctx context.Context, fn func(context.Context, *client.Client) error) error {
	c, err := a.connect(ctx)
	if err != nil {
		return err
	}
	err = fn(ctx, c)
	c.Close()
	var ce *client.Error
	if !errors.As(err, &ce) || !errors.Is(err, client.ErrNotLeader) || ce.Leader == "" {
		return err
	}
	c, err = client.Connect(ctx, ce.Leader)
	if err != nil {
		return fmt.Errorf("connect to the leader %s: %w", ce.Leader, err)
	}
	defer c.Close()
	return fn(ctx, c)
}
