package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/client"
)

// TestClientsFollowTheLeader runs an SDK producer (every message with an
// id) and an SDK consumer group through a client made by ConnectCluster,
// and SIGKILLs the leader while both run: neither may fail, every
// acknowledged message is stored exactly once where the producer was told,
// and the consumer receives every one of them.
func TestClientsFollowTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	const st = "follow"
	c := newCluster(t, 3)
	c.createStation(st, partitions, time.Hour)
	var addrs []string
	for _, n := range c.nodes {
		addrs = append(addrs, n.api)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := client.ConnectCluster(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	var (
		mu       sync.Mutex
		acked    = map[string]client.Result{}
		failures []error
		received = map[string]int{}
	)
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(acked), len(received)
	}

	prod := cl.NewProducer(st, client.ProducerOptions{})
	stopProducing := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			default:
			}
			v := fmt.Sprintf("m-%06d", i)
			prod.SendFunc(ctx, client.Message{ID: v, Value: []byte(v)}, func(r client.Result, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failures = append(failures, fmt.Errorf("%s: %w", v, err))
					return
				}
				acked[v] = r
			})
			if i%50 == 49 {
				time.Sleep(5 * time.Millisecond) // a steady stream, not a flood
			}
		}
	}()

	cons := cl.NewConsumer(st, "g", client.ConsumerOptions{MaxWait: 200 * time.Millisecond})
	cctx, stopConsuming := context.WithCancel(ctx)
	consumed := make(chan error, 1)
	go func() {
		consumed <- cons.Run(cctx, func(_ context.Context, d *client.Delivery) error {
			mu.Lock()
			received[string(d.Value)]++
			mu.Unlock()
			return nil
		})
	}()

	c.await(60*time.Second, "300 produced and 100 consumed", func() bool { a, r := count(); return a >= 300 && r >= 100 })
	l := c.leader()
	c.kill(l)
	before, _ := count()
	t.Logf("killed leader %s after %d acknowledged messages", l.id, before)
	c.await(90*time.Second, "300 more acknowledged on the new leader", func() bool { a, _ := count(); return a >= before+300 })
	close(stopProducing)
	<-produced
	if err := prod.Close(ctx); err != nil {
		t.Errorf("close the producer: %v", err)
	}
	total, _ := count()
	c.await(90*time.Second, "the consumer to receive every acknowledged message", func() bool {
		select {
		case err := <-consumed:
			t.Fatalf("the consumer stopped with %v", err)
		default:
		}
		mu.Lock()
		defer mu.Unlock()
		for v := range acked {
			if received[v] == 0 {
				return false
			}
		}
		return true
	})
	stopConsuming()
	if err := <-consumed; !errors.Is(err, context.Canceled) {
		t.Errorf("the consumer stopped with %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, err := range failures {
		t.Errorf("a send failed across the failover: %v", err)
	}
	nl := c.leader()
	stored := map[string]int{}
	for p := range uint32(partitions) {
		recs, _, err := c.readAll(nl, st, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			v := string(r.Value)
			stored[v]++
			if res, ok := acked[v]; ok && (uint32(res.Partition) != p || res.Offset != r.Offset) {
				t.Errorf("%s acknowledged at partition %d offset %d, stored at %d/%d", v, res.Partition, res.Offset, p, r.Offset)
			}
		}
	}
	for v := range acked {
		if stored[v] != 1 {
			t.Errorf("acknowledged message %s is stored %d times", v, stored[v])
		}
	}
	for v, k := range stored {
		if k != 1 {
			t.Errorf("message %s is stored %d times", v, k)
		}
	}
	redelivered := 0
	for _, k := range received {
		redelivered += k - 1
	}
	t.Logf("%d acknowledged, %d stored, %d received (%d redeliveries) across the failover from %s to %s",
		total, len(stored), len(received), redelivered, l.id, nl.id)
}
