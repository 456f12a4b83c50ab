package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/units"
)

func newStationCmd(a *app) *cobra.Command {
	cmd := groupCmd("station", "Manage stations")
	cmd.AddCommand(newStationCreateCmd(a), newStationUpdateCmd(a), newStationListCmd(a), newStationDescribeCmd(a), newStationDeleteCmd(a), newStationRepairCmd(a))
	cmd.AddCommand(newStationAttachSchemaCmd(a), newStationDetachSchemaCmd(a))
	return cmd
}

func newStationUpdateCmd(a *app) *cobra.Command {
	var (
		maxDeliveries int
		partitions    int
		replicas      int
		retMessages   int64
		dlq           string
		retAge, dedup durationFlag
		retBytes      sizeFlag
		maxMsg        sizeFlag
		retAck        bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME",
		Short: "Change a station's retention, dedup window, dead-letter station, limits or partitions",
		Long: `Change the settings of a station given as flags; the others stay as they
are. Storage and fsync cannot change after creation.

--partitions N grows a disk station to N partitions (it cannot shrink).
Existing partitions keep their messages and every group its offsets; the
new partitions start empty. The station is reopened to grow: pulls and
produces in flight at that moment fail and are retried by clients, and
deliveries awaiting ack are redelivered. A keyed message goes to the
partition of its key's hash modulo the partition count, so after growing a
key may map to another partition: order per key holds among the messages
produced after the change, not across it.

--replicas N must be a count the broker accepts: 1 on a single node, the
number of voters on a cluster (every station is kept on all of them).`,
		Example: `  junction station update events --retention-age 30d
  junction station update jobs --dlq jobs-dead --max-deliveries 10
  junction station update orders --retention-bytes 0   # no byte limit
  junction station update orders --partitions 8`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			changed := false
			for _, name := range []string{"retention-age", "retention-bytes", "retention-messages", "retention-ack", "dedup-window", "dlq", "max-deliveries", "max-message-bytes", "partitions", "replicas"} {
				changed = changed || f.Changed(name)
			}
			if !changed {
				return usagef("name at least one setting to change (see --help)")
			}
			if retMessages < 0 || maxDeliveries < 0 {
				return usagef("--retention-messages and --max-deliveries must not be negative")
			}
			if f.Changed("partitions") && (partitions < 1 || partitions > 1<<16) {
				return usagef("--partitions: must be between 1 and 65536, got %d", partitions)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var u client.StationUpdate
			if f.Changed("retention-age") || f.Changed("retention-bytes") || f.Changed("retention-messages") || f.Changed("retention-ack") {
				st, err := c.Station(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				r := st.Retention
				if f.Changed("retention-age") {
					r.MaxAge = retAge.v
				}
				if f.Changed("retention-bytes") {
					r.MaxBytes = retBytes.v
				}
				if f.Changed("retention-messages") {
					r.MaxMessages = retMessages
				}
				if f.Changed("retention-ack") {
					r.Ack = retAck
				}
				u.Retention = &r
			}
			if f.Changed("dedup-window") {
				u.DedupWindow = &dedup.v
			}
			if f.Changed("dlq") {
				u.DeadLetterStation = &dlq
			}
			if f.Changed("max-deliveries") {
				u.MaxDeliveries = &maxDeliveries
			}
			if f.Changed("max-message-bytes") {
				n := int(maxMsg.v)
				u.MaxMessageBytes = &n
			}
			if f.Changed("partitions") {
				u.Partitions = &partitions
			}
			if f.Changed("replicas") {
				if replicas < 0 {
					return usagef("--replicas: must not be negative, got %d", replicas)
				}
				u.Replicas = &replicas
			}
			st, err := c.UpdateStation(cmd.Context(), args[0], u)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "station %q updated\n", st.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(&retAge, "retention-age", "delete messages older than this (0: no limit)")
	f.Var(&retBytes, "retention-bytes", "keep at most about this many bytes per partition (0: no limit)")
	f.Int64Var(&retMessages, "retention-messages", 0, "keep at most about this many messages per partition (0: no limit)")
	f.BoolVar(&retAck, "retention-ack", false, "delete messages once every consumer group acked them (--retention-ack=false to stop)")
	f.Var(&dedup, "dedup-window", "drop repeated message ids within this window (0: off)")
	f.StringVar(&dlq, "dlq", "", "dead-letter station (empty: none)")
	f.IntVar(&maxDeliveries, "max-deliveries", 0, "deliveries before a message is dead-lettered (0: broker default)")
	f.Var(&maxMsg, "max-message-bytes", "largest accepted message (0: the broker's default)")
	f.IntVar(&partitions, "partitions", 0, "grow to this many partitions (keyed messages may then map to other partitions; see above)")
	f.IntVar(&replicas, "replicas", 0, "nodes that keep the station: 1 on a single node, the voter count on a cluster (0: that default)")
	return cmd
}

func newStationCreateCmd(a *app) *cobra.Command {
	var (
		partitions, maxDeliveries int
		replicas                  int
		retMessages               int64
		storage, fsync, dlq       string
		retAge, dedup             durationFlag
		retBytes, maxMsg          sizeFlag
		retAck                    bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a station",
		Example: `  junction station create orders
  junction station create events --partitions 8 --retention-age 7d --retention-bytes 10GiB
  junction station create jobs --retention-ack --dlq jobs-dead --max-deliveries 5`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if partitions < 1 || partitions > 1<<16 {
				return usagef("--partitions: must be between 1 and 65536, got %d", partitions)
			}
			if err := oneOf("storage", storage, "disk", "memory"); err != nil {
				return err
			}
			if f.Changed("fsync") {
				if err := oneOf("fsync", fsync, "always", "interval", "never"); err != nil {
					return err
				}
			}
			if retMessages < 0 {
				return usagef("--retention-messages: must not be negative, got %d", retMessages)
			}
			if maxDeliveries < 0 {
				return usagef("--max-deliveries: must not be negative, got %d", maxDeliveries)
			}
			if replicas < 0 {
				return usagef("--replicas: must not be negative, got %d", replicas)
			}
			if maxMsg.set && (maxMsg.v <= 0 || maxMsg.v > 1<<32-1) {
				return usagef("--max-message-bytes: must be between 1B and 4GiB, got %s", units.FormatSize(maxMsg.v))
			}
			cfg := client.StationConfig{
				Name:       args[0],
				Partitions: partitions,
				Storage:    client.Storage(storage),
				Retention: client.Retention{
					MaxAge: retAge.v, MaxBytes: retBytes.v, MaxMessages: retMessages, Ack: retAck,
				},
				Fsync:             client.FsyncPolicy(fsync),
				DedupWindow:       dedup.v,
				DeadLetterStation: dlq,
				MaxDeliveries:     maxDeliveries,
				MaxMessageBytes:   int(maxMsg.v),
				Replicas:          replicas,
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			st, err := c.CreateStation(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "station %q created\n", st.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&partitions, "partitions", 1, "number of partitions")
	f.StringVar(&storage, "storage", "disk", "storage type: disk or memory")
	f.Var(&retAge, "retention-age", "delete messages older than this (e.g. 24h, 7d)")
	f.Var(&retBytes, "retention-bytes", "keep at most about this many bytes per partition (e.g. 10GiB)")
	f.Int64Var(&retMessages, "retention-messages", 0, "keep at most about this many messages per partition")
	f.BoolVar(&retAck, "retention-ack", false, "delete messages once every consumer group acked them")
	f.StringVar(&fsync, "fsync", "always", "when to fsync: always, interval or never")
	f.Var(&dedup, "dedup-window", "drop repeated message ids within this window (e.g. 2m)")
	f.StringVar(&dlq, "dlq", "", "dead-letter station for messages that exhausted --max-deliveries")
	f.IntVar(&maxDeliveries, "max-deliveries", 0, "deliveries before a message is dead-lettered (0: broker default)")
	f.Var(&maxMsg, "max-message-bytes", "largest accepted message (default: the broker's)")
	f.IntVar(&replicas, "replicas", 0, "nodes that keep the station: 1 on a single node, the voter count on a cluster (0: that default)")
	return cmd
}

func newStationListCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List stations",
		Example: `  junction station list
  junction station list -o json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fetch := func(ctx context.Context, c *client.Client) ([]client.Station, error) { return c.Stations(ctx) }
			return show(a, cmd, fetch, func(sts []client.Station) any {
				out := make([]stationJSON, 0, len(sts))
				for i := range sts {
					out = append(out, toStationJSON(&sts[i]))
				}
				return out
			}, func(w io.Writer, sts []client.Station) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPARTITIONS\tSTORAGE\tMESSAGES\tBYTES\tGROUPS")
				for _, s := range sts {
					fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\n", s.Name, s.Partitions, orDefault(string(s.Storage)),
						s.Stats.Messages, units.HumanSize(s.Stats.Bytes), s.Stats.Groups)
				}
				return tw.Flush()
			})
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newStationDescribeCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "describe NAME",
		Short:   "Show a station's settings and statistics",
		Example: `  junction station describe orders -o json`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fetch := func(ctx context.Context, c *client.Client) (*client.Station, error) { return c.Station(ctx, args[0]) }
			return show(a, cmd, fetch, func(s *client.Station) any { return toStationJSON(s) }, describeStation)
		},
	}
	a.addOutputFlag(cmd)
	return cmd
}

func newStationDeleteCmd(a *app) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a station with its messages and consumer groups",
		Long: `Delete a station with its messages and consumer groups.

A station that other stations name as their dead-letter station is kept
unless --force is given; they then get it back, empty, on their next dead
letter.`,
		Example: `  junction station delete orders
  junction station delete orders-dlq --force`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var opts []client.DeleteOption
			if force {
				opts = append(opts, client.Force())
			}
			if err := c.DeleteStation(cmd.Context(), args[0], opts...); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "station %q deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete even if other stations use it as their dead-letter station")
	return cmd
}

func describeStation(w io.Writer, s *client.Station) error {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Name", s.Name)
	row("Partitions", strconv.Itoa(s.Partitions))
	row("Storage", orDefault(string(s.Storage)))
	row("Fsync", orDefault(string(s.Fsync)))
	if s.Replicas > 0 {
		row("Replicas", strconv.Itoa(s.Replicas))
	}
	ret := "none"
	if r := s.Retention; r != (client.Retention{}) {
		ret = ""
		add := func(p string) {
			if ret != "" {
				ret += ", "
			}
			ret += p
		}
		if r.MaxAge > 0 {
			add("age " + units.FormatDuration(r.MaxAge))
		}
		if r.MaxBytes > 0 {
			add("bytes " + units.FormatSize(r.MaxBytes))
		}
		if r.MaxMessages > 0 {
			add("messages " + strconv.FormatInt(r.MaxMessages, 10))
		}
		if r.Ack {
			add("until acked")
		}
	}
	row("Retention", ret)
	row("Dedup window", durOrOff(s.DedupWindow))
	row("Dead-letter station", orNone(s.DeadLetterStation))
	if s.Schema != nil {
		row("Schema", stationSchemaText(s.Schema)+" (on invalid: "+string(s.Schema.OnInvalid)+")")
	}
	row("Max deliveries", maxDeliveriesText(s.MaxDeliveries))
	if s.MaxMessageBytes > 0 {
		row("Max message bytes", units.FormatSize(int64(s.MaxMessageBytes)))
	} else {
		row("Max message bytes", "default")
	}
	if !s.CreatedAt.IsZero() {
		row("Created", s.CreatedAt.Local().Format(time.RFC3339))
	}
	row("Messages", strconv.FormatUint(s.Stats.Messages, 10))
	row("Bytes", units.HumanSize(s.Stats.Bytes))
	row("Groups", strconv.Itoa(s.Stats.Groups))
	if s.Stats.DeadLetterError != "" {
		row("Dead letters", "FAILING: "+s.Stats.DeadLetterError)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Stats.Partitions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tSTART\tNEXT\tBYTES\tSEGMENTS")
		for _, p := range s.Stats.Partitions {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\n", p.Partition, p.StartOffset, p.NextOffset, units.HumanSize(p.Bytes), p.Segments)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return describeIntegrity(w, s)
	}
	return nil
}

// stationJSON is the -o json form of a station; durations are written as
// flags accept them ("1w", "30d", "1h30m"), empty when unset.
type stationJSON struct {
	Name              string          `json:"name"`
	Partitions        int             `json:"partitions"`
	Storage           string          `json:"storage,omitempty"`
	Fsync             string          `json:"fsync,omitempty"`
	Retention         retentionJSON   `json:"retention"`
	DedupWindow       string          `json:"dedup_window,omitempty"`
	DeadLetterStation string          `json:"dead_letter_station,omitempty"`
	MaxDeliveries     int             `json:"max_deliveries,omitempty"`
	MaxMessageBytes   int             `json:"max_message_bytes,omitempty"`
	Replicas          int             `json:"replicas,omitempty"`
	CreatedAt         *time.Time      `json:"created_at,omitempty"`
	Schema            *schemaRef      `json:"schema,omitempty"`
	Stats             stationStatJSON `json:"stats"`
}

type retentionJSON struct {
	MaxAge      string `json:"max_age,omitempty"`
	MaxBytes    int64  `json:"max_bytes,omitempty"`
	MaxMessages int64  `json:"max_messages,omitempty"`
	Ack         bool   `json:"ack,omitempty"`
}

type stationStatJSON struct {
	Messages   uint64          `json:"messages"`
	Bytes      int64           `json:"bytes"`
	Groups     int             `json:"groups"`
	Partitions []partitionJSON `json:"partitions,omitempty"`
	// DeadLetterError is set while dead letters cannot be stored.
	DeadLetterError string `json:"dead_letter_error,omitempty"`
}

type partitionJSON struct {
	Partition   int           `json:"partition"`
	StartOffset uint64        `json:"start_offset"`
	NextOffset  uint64        `json:"next_offset"`
	Bytes       int64         `json:"bytes"`
	Segments    int           `json:"segments"`
	Damaged     []damagedJSON `json:"damaged,omitempty"`
	Lost        []lostJSON    `json:"lost,omitempty"`
}

func toStationJSON(s *client.Station) stationJSON {
	j := stationJSON{
		Name: s.Name, Partitions: s.Partitions, Storage: string(s.Storage), Fsync: string(s.Fsync),
		Retention: retentionJSON{
			MaxAge: durString(s.Retention.MaxAge), MaxBytes: s.Retention.MaxBytes,
			MaxMessages: s.Retention.MaxMessages, Ack: s.Retention.Ack,
		},
		DedupWindow: durString(s.DedupWindow), DeadLetterStation: s.DeadLetterStation,
		MaxDeliveries: s.MaxDeliveries, MaxMessageBytes: s.MaxMessageBytes, Replicas: s.Replicas,
		Stats: stationStatJSON{Messages: s.Stats.Messages, Bytes: s.Stats.Bytes, Groups: s.Stats.Groups, DeadLetterError: s.Stats.DeadLetterError},
	}
	j.Schema = s.Schema
	if !s.CreatedAt.IsZero() {
		t := s.CreatedAt
		j.CreatedAt = &t
	}
	for _, p := range s.Stats.Partitions {
		j.Stats.Partitions = append(j.Stats.Partitions, toPartitionJSON(p))
	}
	return j
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func durString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return units.FormatDuration(d)
}

func durOrOff(d time.Duration) string {
	if d == 0 {
		return "off"
	}
	return units.FormatDuration(d)
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func intOrDefault(n int) string {
	if n == 0 {
		return "default"
	}
	return strconv.Itoa(n)
}
