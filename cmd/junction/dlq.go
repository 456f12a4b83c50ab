package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newDLQCmd(a *app) *cobra.Command {
	cmd := groupCmd("dlq", "Browse, replay and purge dead-letter stations")
	cmd.Long = `A dead-letter station holds messages that exhausted their deliveries to a
consumer group, or failed their station's schema (with --on-invalid
dead-letter). List them with why and where from they came, replay them to
their origin once the cause is fixed, or purge them.`
	cmd.AddCommand(newDLQListCmd(a), newDLQReplayCmd(a), newDLQPurgeCmd(a))
	return cmd
}

// deadLetterJSON is the -o json form of a dead letter. The key and value
// are strings when they are UTF-8, else base64 in key_base64/value_base64.
type deadLetterJSON struct {
	Partition       int               `json:"partition"`
	Offset          uint64            `json:"offset"`
	Time            time.Time         `json:"time"`
	Reason          string            `json:"reason,omitempty"`
	OriginStation   string            `json:"origin_station,omitempty"`
	OriginPartition *int              `json:"origin_partition,omitempty"`
	OriginOffset    *uint64           `json:"origin_offset,omitempty"`
	Deliveries      int               `json:"deliveries,omitempty"`
	Group           string            `json:"group,omitempty"`
	Error           string            `json:"error,omitempty"`
	Schema          string            `json:"schema,omitempty"`
	Key             *string           `json:"key,omitempty"`
	KeyBase64       []byte            `json:"key_base64,omitempty"`
	Value           *string           `json:"value,omitempty"`
	ValueBase64     []byte            `json:"value_base64,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	Replayed        bool              `json:"replayed"`
}

func toDeadLetterJSON(ds []client.DeadLetter) []deadLetterJSON {
	out := make([]deadLetterJSON, len(ds))
	for i, d := range ds {
		j := deadLetterJSON{
			Partition: d.Partition, Offset: d.Offset, Time: d.Time, Reason: d.Reason, OriginStation: d.OriginStation,
			Deliveries: d.Deliveries, Group: d.Group, Error: d.Error, Schema: d.Schema, Replayed: d.Replayed,
		}
		if d.HasOriginOffset {
			j.OriginPartition, j.OriginOffset = &d.OriginPartition, &d.OriginOffset
		}
		if d.Key != nil {
			if utf8.Valid(d.Key) {
				s := string(d.Key)
				j.Key = &s
			} else {
				j.KeyBase64 = d.Key
			}
		}
		if utf8.Valid(d.Value) {
			s := string(d.Value)
			j.Value = &s
		} else {
			j.ValueBase64 = d.Value
		}
		for _, h := range d.Headers {
			if j.Headers == nil {
				j.Headers = map[string]string{}
			}
			j.Headers[h.Key] = string(h.Value)
		}
		out[i] = j
	}
	return out
}

func newDLQListCmd(a *app) *cobra.Command {
	var (
		from  uint64
		limit int
	)
	cmd := &cobra.Command{
		Use:     "list STATION",
		Aliases: []string{"ls"},
		Short:   "List the messages of a dead-letter station with why and where from they came",
		Example: `  junction dlq list orders-dlq
  junction dlq list orders-dlq --from 100 --limit 10 -o json`,
		Args: exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > 10000 {
				return usagef("--limit must be between 1 and 10000, got %d", limit)
			}
			fetch := func(ctx context.Context, c *client.Client) ([]client.DeadLetter, error) {
				return c.DeadLetters(ctx, args[0], from, limit)
			}
			return show(a, cmd, fetch, func(ds []client.DeadLetter) any { return toDeadLetterJSON(ds) }, listDeadLetters)
		},
	}
	cmd.Flags().Uint64Var(&from, "from", 0, "list from this offset of each partition on")
	cmd.Flags().IntVar(&limit, "limit", 100, "list at most this many messages")
	a.addOutputFlag(cmd)
	return cmd
}

func listDeadLetters(w io.Writer, ds []client.DeadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tOFFSET\tTIME\tREASON\tORIGIN\tDELIVERIES\tREPLAYED\tDETAIL")
	for _, d := range ds {
		origin := orNone(d.OriginStation)
		if d.HasOriginOffset {
			origin += "/" + strconv.Itoa(d.OriginPartition) + "@" + strconv.FormatUint(d.OriginOffset, 10)
		}
		detail := d.Error
		if d.Schema != "" {
			detail = d.Schema + " " + detail
		}
		if d.Group != "" {
			detail = "group " + d.Group
		}
		replayed := "no"
		if d.Replayed {
			replayed = "yes"
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", d.Partition, d.Offset, d.Time.Local().Format(time.RFC3339),
			orNone(d.Reason), origin, d.Deliveries, replayed, strings.ReplaceAll(detail, "\n", " "))
	}
	return tw.Flush()
}

func newDLQReplayCmd(a *app) *cobra.Command {
	var (
		offset    uint64
		partition int
		all       bool
		to        string
	)
	cmd := &cobra.Command{
		Use:   "replay STATION (--offset N [--partition P] | --all) [--to STATION]",
		Short: "Produce dead letters again to the station they came from",
		Long: `Produce dead letters again to their origin station (or --to), where they are
validated like any produced message. Each dead letter is replayed at most
once: the broker records its progress, so a replay that was interrupted can
simply be run again. Messages that fail again (say the origin's schema
still rejects them) are listed and stay in the dead-letter station.`,
		Example: `  junction dlq replay orders-dlq --all
  junction dlq replay orders-dlq --offset 42
  junction dlq replay orders-dlq --all --to orders-retry`,
		Args: exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if f.Changed("offset") == all {
				return usagef("give exactly one of --offset N and --all")
			}
			if all && f.Changed("partition") {
				return usagef("--partition goes with --offset")
			}
			if partition < 0 {
				return usagef("--partition must not be negative")
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.ReplayDeadLetters(cmd.Context(), args[0], client.ReplayOptions{Partition: partition, Offset: offset, All: all, To: to})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d %s replayed", res.Replayed, plural(int64(res.Replayed), "message", "messages"))
			if res.AlreadyReplayed > 0 {
				fmt.Fprintf(a.stderr, ", %d already replayed before", res.AlreadyReplayed)
			}
			fmt.Fprintln(a.stderr)
			for _, fl := range res.Failed {
				fmt.Fprintf(a.stderr, "  partition %d offset %d: %s\n", fl.Partition, fl.Offset, fl.Error)
			}
			if len(res.Failed) > 0 {
				return fmt.Errorf("%d %s not replayed", len(res.Failed), plural(int64(len(res.Failed)), "message", "messages"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Uint64Var(&offset, "offset", 0, "replay the message at this offset")
	f.IntVar(&partition, "partition", 0, "the partition of --offset")
	f.BoolVar(&all, "all", false, "replay every message not replayed yet")
	f.StringVar(&to, "to", "", "produce to this station instead of each message's origin")
	return cmd
}

func newDLQPurgeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "purge STATION",
		Short:   "Drop every message now in a dead-letter station",
		Example: `  junction dlq purge orders-dlq`,
		Args:    exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			n, err := c.PurgeDeadLetters(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d %s purged from %q\n", n, plural(int64(n), "message", "messages"), args[0])
			return nil
		},
	}
}
