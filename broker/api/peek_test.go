package api

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func produceN(t *testing.T, svc *messageService, station string, from, n int) {
	t.Helper()
	msgs := make([]*v1.Message, n)
	for i := range msgs {
		msgs[i] = &v1.Message{Key: []byte(fmt.Sprintf("k%d", from+i)), Value: []byte(fmt.Sprintf(`{"n":%d}`, from+i)),
			Headers: []*v1.Header{{Key: "h", Value: []byte("v")}}}
	}
	if _, err := svc.Produce(context.Background(), connect.NewRequest(&v1.ProduceRequest{Station: station, Messages: msgs})); err != nil {
		t.Fatal(err)
	}
}

// Peeking reads by offset and by time, pages with next_offset, and moves
// no consumer group.
func TestPeekMessages(t *testing.T) {
	a := &api{b: openBroker(t), rates: newRates(time.Now)}
	ctx := context.Background()
	if _, err := (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	svc := &messageService{a}
	produceN(t, svc, "s", 0, 10)
	mid := time.Now()
	time.Sleep(2 * time.Millisecond) // timestamps are the broker clock's: the next batch is stored after mid
	produceN(t, svc, "s", 10, 10)
	if _, err := (&groupService{a}).CreateGroup(ctx, connect.NewRequest(&v1.CreateGroupRequest{Station: "s", Group: "g"})); err != nil {
		t.Fatal(err)
	}

	peek := func(req *v1.PeekMessagesRequest) *v1.PeekMessagesResponse {
		t.Helper()
		req.Station = "s"
		resp, err := svc.PeekMessages(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg
	}
	r := peek(&v1.PeekMessagesRequest{From: &v1.PeekMessagesRequest_Offset{Offset: 5}, MaxMessages: 3})
	if len(r.Messages) != 3 || r.Messages[0].Offset != 5 || r.NextOffset != 8 || r.StartOffset != 0 || r.EndOffset != 20 {
		t.Fatalf("peek from 5: %d messages from %v, next %d, bounds [%d, %d)", len(r.Messages), r.Messages, r.NextOffset, r.StartOffset, r.EndOffset)
	}
	m := r.Messages[0]
	if string(m.Key) != "k5" || string(m.Value) != `{"n":5}` || len(m.Headers) != 1 || m.Headers[0].Key != "h" || m.DeliveryCount != 0 || m.Timestamp == nil {
		t.Fatalf("peeked message = %v", m)
	}
	r = peek(&v1.PeekMessagesRequest{From: &v1.PeekMessagesRequest_Time{Time: timestamppb.New(mid)}})
	if len(r.Messages) != 10 || r.Messages[0].Offset != 10 {
		t.Fatalf("peek from the time between batches: %d messages, first %v; want 10 from offset 10", len(r.Messages), r.Messages[0])
	}
	r = peek(&v1.PeekMessagesRequest{})
	if len(r.Messages) != defaultPeekMessages || r.Messages[0].Offset != 0 {
		t.Fatalf("peek from the start: %d messages", len(r.Messages))
	}
	r = peek(&v1.PeekMessagesRequest{From: &v1.PeekMessagesRequest_Offset{Offset: 1000}})
	if len(r.Messages) != 0 || r.NextOffset != 20 {
		t.Fatalf("peek past the end: %d messages, next %d", len(r.Messages), r.NextOffset)
	}

	g, err := a.b.Group("s", "g")
	if err != nil || g.Lag != 20 || g.Pending != 0 {
		t.Fatalf("group after peeking: lag %d, pending %d, err %v; want untouched", g.Lag, g.Pending, err)
	}
	resp, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 1, MaxWait: durationpb.New(time.Second)}))
	if err != nil || len(resp.Msg.Messages) != 1 || resp.Msg.Messages[0].Offset != 0 || resp.Msg.Messages[0].DeliveryCount != 1 {
		t.Fatalf("first pull after peeking: %v, %v", resp.Msg.GetMessages(), err)
	}

	for _, c := range []struct {
		req  *v1.PeekMessagesRequest
		code connect.Code
	}{
		{&v1.PeekMessagesRequest{Station: "s", Partition: 3}, connect.CodeInvalidArgument},
		{&v1.PeekMessagesRequest{Station: "nope"}, connect.CodeNotFound},
		{&v1.PeekMessagesRequest{Station: "s", MaxMessages: 100000}, connect.CodeInvalidArgument},
		{&v1.PeekMessagesRequest{Station: "s", From: &v1.PeekMessagesRequest_Time{Time: &timestamppb.Timestamp{Nanos: -1}}}, connect.CodeInvalidArgument},
	} {
		if _, err := svc.PeekMessages(ctx, connect.NewRequest(c.req)); connect.CodeOf(err) != c.code {
			t.Errorf("peek %v: %v; want %v", c.req, err, c.code)
		}
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Rates come from the broker's counters sampled on each call, at most once
// a second, and keep a bounded history.
func TestStationRates(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_000_000, 0)}
	a := &api{b: openBroker(t), rates: newRates(clock.Now)}
	ctx := context.Background()
	stations := &stationService{a}
	for _, n := range []string{"a", "b"} {
		if _, err := stations.CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: n}})); err != nil {
			t.Fatal(err)
		}
	}
	rates := func(names ...string) map[string]*v1.StationRates {
		t.Helper()
		resp, err := stations.GetStationRates(ctx, connect.NewRequest(&v1.GetStationRatesRequest{Stations: names}))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*v1.StationRates{}
		for _, r := range resp.Msg.Stations {
			out[r.Station] = r
		}
		return out
	}
	if r := rates(); len(r) != 2 || r["a"].Current.MessagesIn != 0 {
		t.Fatalf("first call: %v", r)
	}
	svc := &messageService{a}
	produceN(t, svc, "a", 0, 20)
	clock.Add(2 * time.Second)
	r := rates("a")
	if len(r) != 1 || r["a"].Current.MessagesIn != 10 || len(r["a"].History) != 1 || r["a"].Current.BytesIn <= 0 {
		t.Fatalf("after 20 messages in 2s: %v; want 10 msg/s in", r["a"])
	}
	// A call within the second samples nothing new.
	produceN(t, svc, "a", 20, 10)
	if r := rates("a"); len(r["a"].History) != 1 {
		t.Fatalf("a second call at once added a sample: %v", r["a"].History)
	}
	if _, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "a", Group: "g", MaxMessages: 30})); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	r = rates()
	if got := r["a"].Current; got.MessagesIn != 10 || got.MessagesOut != 10 {
		t.Fatalf("over 3s with 30 in and 30 out: %v; want 10/s each", got)
	}
	if r["b"].Current.MessagesIn != 0 || len(r["b"].History) != 2 {
		t.Fatalf("idle station: %v", r["b"])
	}
	for range rateHistory + 10 {
		clock.Add(time.Second)
		rates()
	}
	if r := rates("a"); len(r["a"].History) != rateHistory-1 {
		t.Fatalf("history holds %d samples; want it bounded at %d", len(r["a"].History), rateHistory-1)
	}
	if _, err := stations.GetStationRates(ctx, connect.NewRequest(&v1.GetStationRatesRequest{Stations: []string{"nope"}})); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("rates of a missing station: %v", err)
	}
}

// A group reports how many deliveries it made again.
func TestGroupCountsRedeliveries(t *testing.T) {
	a := &api{b: openBroker(t), rates: newRates(time.Now)}
	ctx := context.Background()
	if _, err := (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	svc := &messageService{a}
	produceN(t, svc, "s", 0, 2)
	pull := func() []*v1.Delivery {
		t.Helper()
		resp, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 10, MaxWait: durationpb.New(time.Second)}))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Msg.Messages
	}
	ds := pull()
	if _, err := svc.Nack(ctx, connect.NewRequest(&v1.NackRequest{Station: "s", Group: "g", Messages: []*v1.MessageRefs{{Partition: 0, Offsets: []uint64{ds[0].Offset, ds[1].Offset}}}})); err != nil {
		t.Fatal(err)
	}
	if again := pull(); len(again) != 2 || again[0].DeliveryCount != 2 {
		t.Fatalf("after a nack: %v", again)
	}
	resp, err := (&groupService{a}).DescribeGroup(ctx, connect.NewRequest(&v1.DescribeGroupRequest{Station: "s", Group: "g"}))
	if err != nil || resp.Msg.Group.Redelivered != 2 {
		t.Fatalf("group: %v, %v; want 2 redelivered", resp.Msg.GetGroup(), err)
	}
}
