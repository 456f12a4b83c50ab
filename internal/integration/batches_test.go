package integration_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// A consumer that takes record batches sees every message as stored (keys,
// values, headers, timestamps), first deliveries and redeliveries mixed,
// and its range acks leave nothing behind.
func TestIntegrationRecordBatchesDeliverWhatIsStored(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "events", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	const n = 3000
	p := c.NewProducer("events", client.ProducerOptions{MaxBatchMessages: 128})
	for i := range n {
		m := client.Message{Value: []byte(strconv.Itoa(i))}
		if i%2 == 0 {
			m.Key = []byte("k" + strconv.Itoa(i%7))
		}
		if i%3 == 0 {
			m.Headers = []client.Header{{Key: "trace", Value: []byte(strconv.Itoa(i))}, {Key: "empty"}}
		}
		p.Send(ctx, m)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	stored := map[string]client.StoredMessage{}
	for part := range 2 {
		from := client.AtOffset(0)
		for {
			r, err := c.PeekMessages(ctx, "events", client.PeekOptions{Partition: part, From: from, Max: 500})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range r.Messages {
				stored[fmt.Sprint(m.Partition, "/", m.Offset)] = m
			}
			if r.Next >= r.End {
				break
			}
			from = client.AtOffset(r.Next)
		}
	}
	if len(stored) != n {
		t.Fatalf("peeked %d messages, want %d", len(stored), n)
	}

	cons := c.NewConsumer("events", "g", client.ConsumerOptions{BatchSize: 700, MaxWait: time.Second})
	seen := map[string]int{}
	redelivered := 0
	for len(seen) < n {
		ds, err := cons.Pull(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Fatalf("no deliveries after %d of %d", len(seen), n)
		}
		for _, d := range ds {
			key := fmt.Sprint(d.Partition, "/", d.Offset)
			want, ok := stored[key]
			if !ok || !bytes.Equal(d.Key, want.Key) || !bytes.Equal(d.Value, want.Value) || !d.Timestamp.Equal(want.Timestamp) ||
				fmt.Sprint(d.Headers) != fmt.Sprint(want.Headers) {
				t.Fatalf("delivery %s: %+v; stored %+v", key, d, want)
			}
			if d.DeliveryCount > 1 {
				redelivered++
			}
			// Every tenth message fails once.
			if d.Offset%10 == 0 && d.DeliveryCount == 1 {
				d.Nack(0)
				continue
			}
			seen[key]++
			d.Ack()
		}
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if redelivered == 0 {
		t.Fatal("no redeliveries")
	}
	g, err := c.Group(ctx, "events", "g")
	if err != nil || g.Lag != 0 || g.Pending != 0 {
		t.Fatalf("group after acking everything: %+v, %v", g, err)
	}
}
