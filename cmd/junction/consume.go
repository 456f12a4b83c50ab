package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/junctionhq/junction/sdk/client"
)

func newConsumeCmd(a *app) *cobra.Command {
	var (
		group        string
		batch, count int
		maxWait      durationFlag
		idle         durationFlag
		from         startFlag
		noAck        bool
		gs           groupSettings
	)
	maxWait.v = 5 * time.Second
	cmd := &cobra.Command{
		Use:   "consume STATION --group GROUP",
		Short: "Consume messages from a station in a consumer group",
		Long: `Consume messages from a station as a member of a consumer group, printing
each message's value on its own line (-o json: one JSON object per line).
Messages are acknowledged, in batches, after they are printed.

Without --count or --idle, consume follows the station until interrupted;
an interrupt exits 0 after acknowledging what was printed. --from applies
only when this consume creates the group (default earliest).

In JSON output, key and value are strings when they are valid UTF-8, and
key_base64 / value_base64 otherwise.`,
		Example: `  junction consume orders --group billing
  junction consume orders --group audit --from latest -o json
  junction consume orders --group once --count 100 --idle 5s`,
		Args: exactArgs("STATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			if group == "" {
				return usagef("--group is required")
			}
			if batch < 1 || batch > 1<<20 {
				return usagef("--batch: must be between 1 and 1048576, got %d", batch)
			}
			if count < 0 {
				return usagef("--count: must not be negative, got %d", count)
			}
			if maxWait.v <= 0 {
				return usagef("--max-wait: must be positive")
			}
			gcfg, err := gs.config()
			if err != nil {
				return err
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			return a.consume(cmd.Context(), c, args[0], group, consumeOpts{
				batch: batch, count: count, maxWait: maxWait.v, idle: idle.v, from: from.v, noAck: noAck, group: gcfg,
			})
		},
	}
	f := cmd.Flags()
	f.StringVarP(&group, "group", "g", "", "consumer group (required)")
	f.IntVar(&batch, "batch", 1000, "most messages per pull")
	f.Var(&maxWait, "max-wait", "how long one pull waits for messages")
	f.IntVarP(&count, "count", "n", 0, "exit after this many messages (0: no limit)")
	f.Var(&idle, "idle", "exit when nothing arrived for this long (e.g. 5s)")
	f.Var(&from, "from", "where a new group starts: earliest, latest, an offset or an RFC 3339 time")
	f.BoolVar(&noAck, "no-ack", false, "do not acknowledge messages (they are redelivered after the ack deadline)")
	gs.addFlags(f, ", for a group this consume creates")
	a.addOutputFlag(cmd)
	return cmd
}

type consumeOpts struct {
	batch, count  int
	maxWait, idle time.Duration
	from          client.StartPosition
	noAck         bool
	group         client.GroupConfig // settings of a group this consume creates
}

func (a *app) consume(ctx context.Context, c *client.Client, station, group string, o consumeOpts) error {
	cons := c.NewConsumer(station, group, client.ConsumerOptions{BatchSize: o.batch, MaxWait: o.maxWait, Start: o.from,
		AckDeadline: o.group.AckDeadline, MaxDeliveries: o.group.MaxDeliveries, MaxAckPending: o.group.MaxAckPending})
	// Acks still go out after an interrupt.
	settle := func() error {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return cons.Close(fctx)
	}
	w := bufio.NewWriterSize(a.stdout, 256<<10)
	printed := 0
	lastArrival := time.Now()
	for {
		if o.count > 0 && printed >= o.count {
			return settle()
		}
		wait := o.maxWait
		if o.idle > 0 {
			left := o.idle - time.Since(lastArrival)
			if left <= 0 {
				return settle()
			}
			wait = min(wait, left)
		}
		n := o.batch
		if o.count > 0 {
			n = min(n, o.count-printed)
		}
		ds, err := cons.PullWait(ctx, n, wait)
		if err != nil {
			if ctx.Err() != nil {
				_ = settle()
				return nil // interrupted: a clean stop
			}
			_ = settle()
			return err
		}
		if len(ds) > 0 {
			lastArrival = time.Now()
		}
		for i, d := range ds {
			if (o.count > 0 && printed >= o.count) || ctx.Err() != nil {
				for _, rest := range ds[i:] {
					rest.Nack(0)
				}
				break
			}
			if err := writeDelivery(w, d, a.output == "json"); err != nil {
				return err
			}
			printed++
			if !o.noAck {
				d.Ack()
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			_ = settle()
			return nil
		}
	}
}

type deliveryJSON struct {
	Partition     int          `json:"partition"`
	Offset        uint64       `json:"offset"`
	Timestamp     time.Time    `json:"timestamp"`
	Key           *string      `json:"key,omitempty"`
	KeyBase64     []byte       `json:"key_base64,omitempty"`
	Headers       []headerJSON `json:"headers,omitempty"`
	Value         *string      `json:"value,omitempty"`
	ValueBase64   []byte       `json:"value_base64,omitempty"`
	DeliveryCount int          `json:"delivery_count"`
}

type headerJSON struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// textOrBytes returns b as a string if it is UTF-8, else as bytes that
// encoding/json writes in base64.
func textOrBytes(b []byte) (*string, []byte) {
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

func writeDelivery(w io.Writer, d *client.Delivery, asJSON bool) error {
	if !asJSON {
		if _, err := w.Write(d.Value); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	}
	j := deliveryJSON{Partition: d.Partition, Offset: d.Offset, Timestamp: d.Timestamp, DeliveryCount: d.DeliveryCount}
	if len(d.Key) > 0 {
		j.Key, j.KeyBase64 = textOrBytes(d.Key)
	}
	j.Value, j.ValueBase64 = textOrBytes(d.Value)
	for _, h := range d.Headers {
		hj := headerJSON{Key: h.Key}
		hj.Value, hj.ValueBase64 = textOrBytes(h.Value)
		j.Headers = append(j.Headers, hj)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("encoding message %d/%d: %w", d.Partition, d.Offset, err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}
