package client_test

import (
	"context"
	"sync"
	"testing"
	"time"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/client"
)

// A pull asks the broker to coalesce only after a pull that returned
// several messages: a lone message is never held back.
func TestConsumerCoalescesWhileMessagesFlow(t *testing.T) {
	var mu sync.Mutex
	var reqs []*junctionv1.PullRequest
	sizes := []int{1, 3, 1, 0, 2}
	f := &fakeBroker{pull: func(req *junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		n := sizes[len(reqs)]
		reqs = append(reqs, req)
		return &junctionv1.PullResponse{Messages: deliveries(0, 10*len(reqs), n)}, nil
	}}
	c := serveFake(t, f)
	ctx := context.Background()
	for _, tc := range []struct {
		opts client.ConsumerOptions
		wait []time.Duration // batch_wait asked for by each pull
	}{
		{client.ConsumerOptions{BatchSize: 50}, []time.Duration{0, 0, time.Millisecond, 0, 0}},
		{client.ConsumerOptions{BatchSize: 50, BatchWait: 3 * time.Millisecond}, []time.Duration{0, 0, 3 * time.Millisecond, 0, 0}},
		{client.ConsumerOptions{BatchSize: 50, BatchWait: -1}, []time.Duration{0, 0, 0, 0, 0}},
	} {
		mu.Lock()
		reqs = nil
		mu.Unlock()
		cons := c.NewConsumer("orders", "g", tc.opts)
		for range sizes {
			if _, err := cons.Pull(ctx, 0); err != nil {
				t.Fatal(err)
			}
		}
		mu.Lock()
		for i, r := range reqs {
			wantMin := uint32(0)
			if tc.wait[i] > 0 {
				wantMin = 50
			}
			if got := r.GetBatchWait().AsDuration(); got != tc.wait[i] || r.GetMinMessages() != wantMin {
				t.Errorf("%+v: pull %d asked for min %d within %v, want %d within %v", tc.opts, i, r.GetMinMessages(), got, wantMin, tc.wait[i])
			}
		}
		mu.Unlock()
	}
}
