package main

import (
	"bufio"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newPeekCmd(a *app) *cobra.Command {
	var (
		partition, count int
		from             startFlag
	)
	cmd := &cobra.Command{
		Use:   "peek STATION",
		Short: "Show stored messages of a partition without a consumer group",
		Long: `Print stored messages of one partition of a station, oldest first, without
a consumer group: nothing is delivered, acknowledged or moved. Each
message's value goes on its own line (-o json: one JSON object per line,
with partition, offset, timestamp, key and headers). The next offset to
peek from is printed on stderr.`,
		Example: `  junction peek orders
  junction peek orders --partition 2 --from 1000 -n 50
  junction peek orders --from 2026-05-01T12:00:00Z -o json`,
		Args: exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if partition < 0 {
				return usagef("--partition: must not be negative, got %d", partition)
			}
			if count < 1 || count > 500 {
				return usagef("--count: must be between 1 and 500, got %d", count)
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.PeekMessages(cmd.Context(), args[0], client.PeekOptions{Partition: partition, From: from.v, Max: count})
			if err != nil {
				return err
			}
			w := bufio.NewWriter(a.stdout)
			for _, m := range res.Messages {
				d := &client.Delivery{Station: args[0], Partition: m.Partition, Offset: m.Offset, Timestamp: m.Timestamp, Key: m.Key, Value: m.Value, Headers: m.Headers}
				if err := writeDelivery(w, d, a.output == "json"); err != nil {
					return err
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "partition %d: offsets %d to %d; next %d\n", partition, res.Start, res.End, res.Next)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&partition, "partition", "p", 0, "partition to read")
	f.Var(&from, "from", "where to start: earliest (default), latest, an offset or an RFC 3339 time")
	f.IntVarP(&count, "count", "n", 20, "most messages to print (at most 500)")
	a.addOutputFlag(cmd)
	return cmd
}
