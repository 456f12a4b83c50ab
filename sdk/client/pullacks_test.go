package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/client"
)

func rangesString(rs []*junctionv1.OffsetRange) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("[%d,%d)", r.GetFrom(), r.GetTo())
	}
	return s
}

// Once the broker says it takes acks with pulls, a consumer's acks ride
// on its next pull instead of an Ack request; acks of a pull that failed
// are sent again in an Ack request.
func TestConsumerSendsAcksWithPulls(t *testing.T) {
	var mu sync.Mutex
	var reqs []*junctionv1.PullRequest
	failNext := false
	f := &fakeBroker{pull: func(req *junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		reqs = append(reqs, req)
		if failNext {
			failNext = false
			return nil, connect.NewError(connect.CodeUnavailable, errors.New("fake: unavailable"))
		}
		from := 10 * len(reqs)
		return &junctionv1.PullResponse{Messages: deliveries(0, from, 3), AcksApplied: true}, nil
	}}
	c := serveFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 10})
	ack := func(ds []*client.Delivery, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			d.Ack()
		}
	}
	ack(cons.Pull(ctx, 0)) // offsets 10-12
	ack(cons.Pull(ctx, 0)) // 20-22
	mu.Lock()
	failNext = true
	mu.Unlock()
	if _, err := cons.Pull(ctx, 0); err == nil {
		t.Fatal("the failing pull succeeded")
	}
	ack(cons.Pull(ctx, 0)) // 40-42
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"", "[10,13)", "[20,23)", ""}
	for i, w := range want {
		if got := rangesString(reqs[i].GetAckRanges()); got != w {
			t.Errorf("pull %d carried acks %s, want %q", i, got, w)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acks) != 2 || rangesString(f.acks[0].GetRanges()) != "[20,23)" || rangesString(f.acks[1].GetRanges()) != "[40,43)" {
		t.Fatalf("Ack requests %v; want the failed pull's, of [20,23), then Close's, of [40,43)", f.acks)
	}
}
