package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newStationRepairCmd(a *app) *cobra.Command {
	var (
		partition int
		cut, skip bool
	)
	cmd := &cobra.Command{
		Use:   "repair STATION --partition N --skip|--cut",
		Short: "Settle a partition's corrupt data, reporting the offsets lost",
		Long: `Settle the damaged ranges of one partition of a station, as listed by
junction station describe. A partition with corrupt data serves what is
intact and holds back consumer groups at the damage until an operator
decides:

  --skip  keep every intact message and pass over the damaged offsets
          (the bad bytes stay on disk)
  --cut   truncate each damaged segment file at its bad bytes, dropping
          whatever follows in that segment

Either way the offsets are declared lost and never reused, consumer groups
move past them, and a marker message naming them goes to the station's
dead-letter station (or, with none, to the broker's log).`,
		Example: `  junction station describe orders
  junction station repair orders --partition 0 --skip`,
		Args: exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cut == skip {
				return usagef("give exactly one of --skip and --cut")
			}
			if !cmd.Flags().Changed("partition") || partition < 0 {
				return usagef("--partition: give the partition to repair (0 or more)")
			}
			mode := client.RepairSkip
			if cut {
				mode = client.RepairCut
			}
			// A repair is of one node's files: on a cluster, of the
			// member --server names.
			c, err := a.connectNode(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.RepairPartition(cmd.Context(), args[0], partition, mode)
			if err != nil {
				return err
			}
			return writeRepair(a.stdout, args[0], partition, res)
		},
	}
	f := cmd.Flags()
	f.IntVarP(&partition, "partition", "p", 0, "partition to repair")
	f.BoolVar(&skip, "skip", false, "keep intact messages and pass over the damaged offsets")
	f.BoolVar(&cut, "cut", false, "truncate each damaged segment at its bad bytes")
	return cmd
}

func writeRepair(w io.Writer, station string, partition int, res *client.RepairResult) error {
	if len(res.Lost) == 0 {
		_, err := fmt.Fprintf(w, "station %q partition %d has no damage to repair\n", station, partition)
		return err
	}
	var lost uint64
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOST FROM\tTO\tOFFSETS\tBYTES REMOVED\tREASON")
	for _, l := range res.Lost {
		lost += l.To - l.From
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\n", l.From, l.To, l.To-l.From, l.BytesRemoved, l.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	where := "the broker's log"
	if res.MarkedIn != "" {
		where = fmt.Sprintf("dead-letter station %q", res.MarkedIn)
	}
	_, err := fmt.Fprintf(w, "station %q partition %d repaired: %d offsets lost, recorded in %s\n", station, partition, lost, where)
	return err
}

// describeIntegrity lists the damaged and lost ranges of a station's
// partitions, if any.
func describeIntegrity(w io.Writer, s *client.Station) error {
	var damaged, lost bool
	for _, p := range s.Stats.Partitions {
		damaged = damaged || len(p.Damaged) > 0
		lost = lost || len(p.Lost) > 0
	}
	if damaged {
		fmt.Fprintln(w, "\nCORRUPT DATA (serving what is intact; settle with junction station repair):")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tFROM\tTO\tSEGMENT\tPOSITION\tBYTES\tREASON")
		for _, p := range s.Stats.Partitions {
			for _, d := range p.Damaged {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%d\t%d\t%s\n", p.Partition, d.From, d.To, orNone(d.Segment), d.Position, d.Bytes, d.Reason)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if lost {
		fmt.Fprintln(w, "\nLOST OFFSETS:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PARTITION\tFROM\tTO\tAT\tREASON")
		for _, p := range s.Stats.Partitions {
			for _, l := range p.Lost {
				fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\n", p.Partition, l.From, l.To, l.At.Local().Format(time.RFC3339), l.Reason)
			}
		}
		return tw.Flush()
	}
	return nil
}

type damagedJSON struct {
	From     uint64 `json:"from_offset"`
	To       uint64 `json:"to_offset"`
	Segment  string `json:"segment,omitempty"`
	Position int64  `json:"position"`
	Bytes    int64  `json:"bytes"`
	Reason   string `json:"reason"`
}

type lostJSON struct {
	From   uint64    `json:"from_offset"`
	To     uint64    `json:"to_offset"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

func toPartitionJSON(p client.PartitionStats) partitionJSON {
	j := partitionJSON{Partition: p.Partition, StartOffset: p.StartOffset, NextOffset: p.NextOffset, Bytes: p.Bytes, Segments: p.Segments}
	for _, d := range p.Damaged {
		j.Damaged = append(j.Damaged, damagedJSON{d.From, d.To, d.Segment, d.Position, d.Bytes, d.Reason})
	}
	for _, l := range p.Lost {
		j.Lost = append(j.Lost, lostJSON{l.From, l.To, l.At, l.Reason})
	}
	return j
}

// describeGroupAhead warns about partitions where a group's committed
// offset lies beyond the log's end: messages the group consumed are gone
// from the log.
func describeGroupAhead(w io.Writer, g *client.Group) error {
	for _, p := range g.Partitions {
		if p.CommittedOffset > p.NextOffset {
			if _, err := fmt.Fprintf(w, "WARNING: partition %d: committed offset %d is beyond the log's end %d; see junction station describe %s\n",
				p.Partition, p.CommittedOffset, p.NextOffset, g.Station); err != nil {
				return err
			}
		}
	}
	return nil
}
