package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/junctionhq/junction/sdk/client"
)

// deliveriesFlag is a pflag.Value for a delivery count or "unlimited".
type deliveriesFlag struct{ v int }

func (f *deliveriesFlag) String() string {
	if f.v == 0 {
		return ""
	}
	return maxDeliveriesText(f.v)
}

func (f *deliveriesFlag) Set(s string) error {
	if s == "unlimited" {
		f.v = unlimitedDeliveries
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > unlimitedDeliveries {
		return fmt.Errorf("want a number of deliveries from 1 or unlimited, got %q", s)
	}
	f.v = n
	return nil
}

func (f *deliveriesFlag) Type() string { return "count" }

// groupSettings are the flags that configure a consumer group when it is
// created: by 'group create', or by the first 'consume' of a group.
type groupSettings struct {
	ackDeadline   durationFlag
	maxDeliveries deliveriesFlag
	maxAckPending int
}

func (g *groupSettings) addFlags(f *pflag.FlagSet, when string) {
	f.Var(&g.ackDeadline, "ack-deadline", "time a delivery may await its ack before it is redelivered"+when+" (default: the broker's, 30s)")
	f.Var(&g.maxDeliveries, "max-deliveries", "deliveries before a message is dead-lettered, or unlimited"+when+" (default: the station's)")
	f.IntVar(&g.maxAckPending, "max-ack-pending", 0, "most deliveries awaiting ack at once"+when+" (default: the broker's, 10000)")
}

func (g *groupSettings) config() (client.GroupConfig, error) {
	if g.maxAckPending < 0 {
		return client.GroupConfig{}, usagef("--max-ack-pending: must not be negative, got %d", g.maxAckPending)
	}
	return client.GroupConfig{AckDeadline: g.ackDeadline.v, MaxDeliveries: g.maxDeliveries.v, MaxAckPending: g.maxAckPending}, nil
}

func newGroupCreateCmd(a *app) *cobra.Command {
	var (
		from startFlag
		gs   groupSettings
	)
	cmd := &cobra.Command{
		Use:   "create STATION GROUP",
		Short: "Create a consumer group with its settings",
		Long: `Create a consumer group before anything consumes it: where it starts
(--from, default earliest), its ack deadline, how many deliveries a message
gets before it is dead-lettered, and how many deliveries may await ack at
once. A group is also created by its first consume, which takes the same
flags. Settings not given are the broker's and station's defaults.`,
		Example: `  junction group create orders billing --ack-deadline 2m --max-deliveries 10
  junction group create orders audit --from latest --max-ack-pending 50000
  junction group create jobs workers --max-deliveries unlimited`,
		Args: exactArgs("STATION", "GROUP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := gs.config()
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			g, err := c.CreateGroup(cmd.Context(), args[0], args[1], from.v, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "group %q of station %q created (lag %d)\n", g.Name, g.Station, g.Lag)
			return nil
		},
	}
	cmd.Flags().Var(&from, "from", "where the group starts: earliest, latest, an offset or an RFC 3339 time")
	gs.addFlags(cmd.Flags(), "")
	return cmd
}
