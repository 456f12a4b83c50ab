package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/units"
)

func newGroupCmd(a *app) *cobra.Command {
	cmd := groupCmd("group", "Inspect and manage consumer groups")
	cmd.AddCommand(newGroupCreateCmd(a), newGroupListCmd(a), newGroupDescribeCmd(a), newGroupDeleteCmd(a), newGroupResetCmd(a))
	return cmd
}

func newGroupListCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list STATION",
		Aliases: []string{"ls"},
		Short:   "List the consumer groups of a station",
		Example: `  junction group list orders`,
		Args:    exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(ctx context.Context, c *client.Client) ([]*client.Group, error) { return c.Groups(ctx, args[0]) }
			return show(a, cmd, fetch, func(gs []*client.Group) any {
				out := make([]groupJSON, 0, len(gs))
				for _, g := range gs {
					out = append(out, toGroupJSON(g))
				}
				return out
			}, func(w io.Writer, gs []*client.Group) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "GROUP\tLAG\tPENDING\tDEAD-LETTERED")
				for _, g := range gs {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", g.Name, g.Lag, g.Pending, g.DeadLettered)
				}
				return tw.Flush()
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newGroupDescribeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe STATION GROUP",
		Short:   "Show a consumer group's settings, offsets and lag",
		Example: `  junction group describe orders billing`,
		Args:    exactArgs("STATION", "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(ctx context.Context, c *client.Client) (*client.Group, error) {
				return c.Group(ctx, args[0], args[1])
			}
			return show(a, cmd, fetch, func(g *client.Group) any { return toGroupJSON(g) }, describeGroup)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newGroupDeleteCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete STATION GROUP",
		Aliases: []string{"rm"},
		Short:   "Delete a consumer group and its committed offsets",
		Example: `  junction group delete orders billing`,
		Args:    exactArgs("STATION", "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.DeleteGroup(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "group %q of station %q deleted\n", args[1], args[0])
			return nil
		},
	}
}

func newGroupResetCmd(a *app) *cobra.Command {
	var to startFlag
	cmd := &cobra.Command{
		Use:   "reset STATION GROUP --to earliest|latest|OFFSET|RFC3339",
		Short: "Move a consumer group to a new position",
		Long: `Move every partition of a consumer group to a new position. Deliveries
awaiting acknowledgement are forgotten.`,
		Example: `  junction group reset orders billing --to earliest
  junction group reset orders billing --to 2024-05-01T00:00:00Z`,
		Args: exactArgs("STATION", "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !to.set {
				return usagef("--to is required: earliest, latest, an offset or an RFC 3339 time")
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			g, err := c.ResetGroupOffset(cmd.Context(), args[0], args[1], to.v)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "group %q of station %q reset to %s (lag %d)\n", g.Name, g.Station, to.v, g.Lag)
			return nil
		},
	}
	cmd.Flags().Var(&to, "to", "new position: earliest, latest, an offset or an RFC 3339 time")
	return cmd
}

func describeGroup(w io.Writer, g *client.Group) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Station", g.Station)
	row("Group", g.Name)
	if g.Config.AckDeadline > 0 {
		row("Ack deadline", units.FormatDuration(g.Config.AckDeadline))
	} else {
		row("Ack deadline", "default")
	}
	row("Max deliveries", maxDeliveriesText(g.Config.MaxDeliveries))
	row("Max ack pending", intOrDefault(g.Config.MaxAckPending))
	if !g.CreatedAt.IsZero() {
		row("Created", g.CreatedAt.Local().Format(time.RFC3339))
	}
	row("Lag", strconv.FormatUint(g.Lag, 10))
	row("Pending", strconv.Itoa(g.Pending))
	row("Redelivered", strconv.FormatUint(g.Redelivered, 10))
	row("Dead-lettered", strconv.FormatUint(g.DeadLettered, 10))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(g.Partitions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tCOMMITTED\tNEXT\tLAG\tPENDING")
		for _, p := range g.Partitions {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\n", p.Partition, p.CommittedOffset, p.NextOffset, p.Lag, p.Pending)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return describeGroupAhead(w, g)
	}
	return nil
}

type groupJSON struct {
	Station       string             `json:"station"`
	Name          string             `json:"name"`
	AckDeadline   string             `json:"ack_deadline,omitempty"`
	MaxDeliveries any                `json:"max_deliveries,omitempty"`
	MaxAckPending int                `json:"max_ack_pending,omitempty"`
	Lag           uint64             `json:"lag"`
	Pending       int                `json:"pending"`
	DeadLettered  uint64             `json:"dead_lettered"`
	CreatedAt     *time.Time         `json:"created_at,omitempty"`
	Partitions    []partitionLagJSON `json:"partitions,omitempty"`
}

type partitionLagJSON struct {
	Partition       int    `json:"partition"`
	CommittedOffset uint64 `json:"committed_offset"`
	NextOffset      uint64 `json:"next_offset"`
	Lag             uint64 `json:"lag"`
	Pending         int    `json:"pending"`
}

func toGroupJSON(g *client.Group) groupJSON {
	j := groupJSON{
		Station: g.Station, Name: g.Name, AckDeadline: durString(g.Config.AckDeadline),
		MaxDeliveries: maxDeliveriesJSON(g.Config.MaxDeliveries), MaxAckPending: g.Config.MaxAckPending,
		Lag: g.Lag, Pending: g.Pending, DeadLettered: g.DeadLettered,
	}
	if !g.CreatedAt.IsZero() {
		t := g.CreatedAt
		j.CreatedAt = &t
	}
	for _, p := range g.Partitions {
		j.Partitions = append(j.Partitions, partitionLagJSON(p))
	}
	return j
}
