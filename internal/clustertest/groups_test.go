package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// consumer pulls and acknowledges a group's messages on the leader,
// following it, and samples the group's checkpointed offsets.
type consumer struct {
	w     *workload // for the leader guess
	group string

	mu         sync.Mutex
	delivered  map[string]int // value → deliveries
	backwards  []string       // checkpointed offsets that went down
	checkpoint map[uint32]uint64

	stop chan struct{}
	wg   sync.WaitGroup
}

func startConsumer(w *workload, group string) *consumer {
	cs := &consumer{w: w, group: group, delivered: make(map[string]int), checkpoint: make(map[uint32]uint64), stop: make(chan struct{})}
	cs.wg.Add(2)
	go cs.consume()
	go cs.sample()
	return cs
}

func (cs *consumer) halt() {
	close(cs.stop)
	cs.wg.Wait()
}

func (cs *consumer) stopped() bool {
	select {
	case <-cs.stop:
		return true
	default:
		return false
	}
}

func (cs *consumer) consume() {
	defer cs.wg.Done()
	w := cs.w
	for !cs.stopped() {
		addr := w.leaderAddr()
		if addr == "" {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		mc := junctionv1connect.NewMessageServiceClient(w.c.hc, "http://"+addr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := mc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: w.station, Group: cs.group, MaxMessages: 50, MaxWait: durationpb.New(200 * time.Millisecond)}))
		if err == nil && len(resp.Msg.Messages) > 0 {
			refs := map[uint32][]uint64{}
			cs.mu.Lock()
			for _, d := range resp.Msg.Messages {
				cs.delivered[string(d.Value)]++
				refs[d.Partition] = append(refs[d.Partition], d.Offset)
			}
			cs.mu.Unlock()
			req := &v1.AckRequest{Station: w.station, Group: cs.group}
			for p, offs := range refs {
				req.Messages = append(req.Messages, &v1.MessageRefs{Partition: p, Offsets: offs})
			}
			_, err = mc.Ack(ctx, connect.NewRequest(req))
		}
		cancel()
		if err != nil {
			w.setTarget(leaderOf(err))
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// sample records the leader's checkpointed offsets, noting any that went
// below one seen before.
func (cs *consumer) sample() {
	defer cs.wg.Done()
	for !cs.stopped() {
		time.Sleep(50 * time.Millisecond)
		l := cs.w.c.leaderNow()
		if l == nil {
			continue
		}
		gc := junctionv1connect.NewGroupServiceClient(cs.w.c.hc, "http://"+l.api)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		resp, err := gc.DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: cs.w.station, Group: cs.group}))
		cancel()
		if err != nil {
			continue
		}
		cs.mu.Lock()
		for _, p := range resp.Msg.Group.Partitions {
			if prev := cs.checkpoint[p.Partition]; p.CheckpointedOffset < prev {
				cs.backwards = append(cs.backwards, fmt.Sprintf("partition %d: checkpointed %d on %s after %d", p.Partition, p.CheckpointedOffset, l.id, prev))
			} else {
				cs.checkpoint[p.Partition] = p.CheckpointedOffset
			}
		}
		cs.mu.Unlock()
	}
}

func (cs *consumer) consumed() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return len(cs.delivered)
}

// TestConsumerGroupFailover consumes a station in a group while producers
// write and the leader is killed: the group resumes on the new leader from
// its last checkpoint (only what was not yet checkpointed comes again),
// checkpointed offsets never go backwards, and every stored message is
// delivered.
func TestConsumerGroupFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, 2, 2)
	cs := startConsumer(w, "g")
	w.awaitAcked(300)
	c.await(60*time.Second, "the consumer to get 200 messages", func() bool { return cs.consumed() >= 200 })

	old := c.leader()
	c.kill(old)
	t.Logf("killed leader %s", old.id)
	w.awaitAcked(200)
	c.start(old)
	ops := w.halt()

	// Every stored message reaches the consumer.
	l := c.leader()
	want := make(map[string]bool)
	for p := range uint32(partitions) {
		recs, _, err := c.readAll(l, station, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			want[string(r.Value)] = true
		}
	}
	c.await(90*time.Second, fmt.Sprintf("the consumer to get all %d stored messages", len(want)), func() bool {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		for v := range want {
			if cs.delivered[v] == 0 {
				return false
			}
		}
		return true
	})
	cs.halt()
	redelivered := 0
	for _, n := range cs.delivered {
		if n > 1 {
			redelivered++
		}
	}
	t.Logf("%d messages delivered, %d of them more than once", len(cs.delivered), redelivered)
	if redelivered > len(want)/2 {
		t.Errorf("%d of %d messages delivered again: the group did not resume from its checkpoint", redelivered, len(want))
	}
	for _, b := range cs.backwards {
		t.Errorf("checkpointed offset went backwards: %s", b)
	}
	check(t, c, station, partitions, ops)
}
