package integration_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// A consumer with Prefetch streams its deliveries: each message arrives
// once, in order, as stored, whatever size the Pulls ask for; its acks
// leave nothing behind; and what it had not handed out when it closed is
// delivered to the next member (what it had received at once, what was
// still on the way after the ack deadline).
func TestIntegrationPrefetchStreamsInOrder(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "events"}); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	p := c.NewProducer("events", client.ProducerOptions{MaxBatchMessages: 300})
	for i := range n {
		p.Send(ctx, client.Message{Value: []byte(strconv.Itoa(i))})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	cons := c.NewConsumer("events", "g", client.ConsumerOptions{BatchSize: 400, MaxWait: time.Second, Prefetch: true,
		AckDeadline: 5 * time.Second})
	next := 0
	for pull := 0; next < n-100; pull++ {
		// Pulls of odd sizes take batches apart.
		ds, err := cons.Pull(ctx, 1+pull%3*150)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Fatalf("no deliveries after %d of %d", next, n)
		}
		for _, d := range ds {
			if d.Offset != uint64(next) || string(d.Value) != strconv.Itoa(next) || d.DeliveryCount != 1 {
				t.Fatalf("delivery %+v, want offset %d, first delivery", d, next)
			}
			d.Ack()
			next++
		}
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Pull(ctx, 1); err == nil {
		t.Fatal("Pull after Close succeeded")
	}

	cons = c.NewConsumer("events", "g", client.ConsumerOptions{BatchSize: 400, MaxWait: 20 * time.Second, Prefetch: true})
	seen := map[uint64]bool{}
	for next+len(seen) < n {
		ds, err := cons.Pull(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Fatalf("no deliveries after %d of %d", next+len(seen), n)
		}
		for _, d := range ds {
			if d.Offset < uint64(next) || seen[d.Offset] {
				t.Fatalf("delivery %+v again", d)
			}
			seen[d.Offset] = true
			d.Ack()
		}
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := c.Group(ctx, "events", "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Lag != 0 || g.Pending != 0 {
		t.Fatalf("after acking everything: lag %d, %d pending", g.Lag, g.Pending)
	}
}
