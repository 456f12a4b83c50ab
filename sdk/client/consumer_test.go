package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/client"
)

// pullQueue serves batches of deliveries, then empty pulls.
func pullQueue(batches ...[]*junctionv1.Delivery) func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
	var mu sync.Mutex
	return func(req *junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		if len(batches) == 0 {
			return &junctionv1.PullResponse{}, nil
		}
		b := batches[0]
		batches = batches[1:]
		if n := int(req.GetMaxMessages()); len(b) > n {
			panic(fmt.Sprintf("fake: batch of %d for a pull of %d", len(b), n))
		}
		return &junctionv1.PullResponse{Messages: b}, nil
	}
}

func deliveries(part uint32, from, n int) []*junctionv1.Delivery {
	var ds []*junctionv1.Delivery
	for i := from; i < from+n; i++ {
		ds = append(ds, &junctionv1.Delivery{Partition: part, Offset: uint64(i), Value: []byte(strconv.Itoa(i)), DeliveryCount: 1,
			Headers: []*junctionv1.Header{{Key: "k", Value: []byte("v")}}})
	}
	return ds
}

func TestConsumerRunAcksPerBatch(t *testing.T) {
	f := &fakeBroker{pull: pullQueue(deliveries(0, 0, 5), deliveries(1, 5, 3))}
	c := serveFake(t, f)
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 5, MaxWait: 10 * time.Millisecond, NackDelay: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	var seen []string
	err := cons.Run(ctx, func(_ context.Context, d *client.Delivery) error {
		seen = append(seen, string(d.Value))
		if len(d.Headers) != 1 || d.Headers[0].Key != "k" || d.Station != "orders" {
			t.Errorf("delivery %+v", d)
		}
		if d.Offset == 7 {
			cancel() // the last one: stop after it
		}
		if d.Offset == 2 {
			return errors.New("cannot handle")
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v, want context.Canceled", err)
	}
	if fmt.Sprint(seen) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("handled %v", seen)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acks) != 2 {
		t.Fatalf("%d Ack requests, want one per batch (2)", len(f.acks))
	}
	if got := fmt.Sprint(f.acks[0].GetMessages()[0].GetOffsets()); got != "[0 1 3 4]" {
		t.Errorf("first ack offsets %s", got)
	}
	if got := f.acks[1].GetMessages()[0]; got.GetPartition() != 1 || fmt.Sprint(got.GetOffsets()) != "[5 6 7]" {
		t.Errorf("second ack %v", got)
	}
	if len(f.nacks) != 1 || fmt.Sprint(f.nacks[0].GetMessages()[0].GetOffsets()) != "[2]" || f.nacks[0].GetDelay().AsDuration() != time.Second {
		t.Errorf("nacks %v", f.nacks)
	}
}

func TestConsumerPullSendsStartAndConfig(t *testing.T) {
	var got *junctionv1.PullRequest
	f := &fakeBroker{pull: func(req *junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		got = req
		return &junctionv1.PullResponse{Messages: deliveries(0, 0, 2)}, nil
	}}
	c := serveFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{Start: client.AtOffset(42), AckDeadline: time.Minute, MaxAckPending: 10})
	ds, err := cons.Pull(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetMaxMessages() != 7 || got.GetStart().GetOffset() != 42 || got.GetConfig().GetAckDeadline().AsDuration() != time.Minute ||
		got.GetConfig().GetMaxAckPending() != 10 || got.GetMaxWait().AsDuration() != 5*time.Second {
		t.Fatalf("pull request %v", got)
	}
	ds[0].Ack()
	ds[0].Nack(0) // already settled: no effect
	ds[1].Ack()
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Pull(ctx, 1); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Pull after Close: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acks) != 1 || len(f.nacks) != 0 || fmt.Sprint(f.acks[0].GetMessages()[0].GetOffsets()) != "[0 1]" {
		t.Fatalf("acks %v nacks %v", f.acks, f.nacks)
	}
}

func TestErrorMapping(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{brokerError(connect.CodeNotFound, junctionv1.ErrorReason_ERROR_REASON_STATION_NOT_FOUND, "no station"), client.ErrStationNotFound},
		{brokerError(connect.CodeAlreadyExists, junctionv1.ErrorReason_ERROR_REASON_STATION_EXISTS, "exists"), client.ErrStationExists},
		{brokerError(connect.CodeNotFound, junctionv1.ErrorReason_ERROR_REASON_GROUP_NOT_FOUND, "no group"), client.ErrGroupNotFound},
		{brokerError(connect.CodeInvalidArgument, junctionv1.ErrorReason_ERROR_REASON_INVALID_ARGUMENT, "bad"), client.ErrInvalidArgument},
		{brokerError(connect.CodeResourceExhausted, junctionv1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE, "big"), client.ErrMessageTooLarge},
		{brokerError(connect.CodeFailedPrecondition, junctionv1.ErrorReason_ERROR_REASON_NOT_PENDING, "np"), client.ErrNotPending},
		{brokerError(connect.CodeUnavailable, junctionv1.ErrorReason_ERROR_REASON_SHUTTING_DOWN, "bye"), client.ErrUnavailable},
		{connect.NewError(connect.CodeUnavailable, errors.New("no reason")), client.ErrUnavailable},
		{connect.NewError(connect.CodeInvalidArgument, errors.New("no reason")), client.ErrInvalidArgument},
	}
	for _, tc := range cases {
		f := &fakeBroker{produce: func(*junctionv1.ProduceRequest) (*junctionv1.ProduceResponse, error) { return nil, tc.err }}
		c := serveFake(t, f)
		_, err := c.Produce(context.Background(), "orders", client.Message{Value: []byte("x")})
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: errors.Is(%v) false", tc.err, tc.want)
			continue
		}
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v is not a *client.Error", err)
		}
		if e.Code != connect.CodeOf(tc.err) || e.Message == "" {
			t.Errorf("error %+v", e)
		}
		if e.Reason != "" && (e.Station != "orders" || e.Field != "messages") {
			t.Errorf("ErrorInfo not carried: %+v", e)
		}
		for _, other := range []error{client.ErrStationNotFound, client.ErrStationExists, client.ErrGroupNotFound, client.ErrMessageTooLarge, client.ErrNotPending} {
			if other != tc.want && errors.Is(err, other) {
				t.Errorf("%v also matches %v", err, other)
			}
		}
	}
}

func TestConnectFailureNamesAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A port nothing listens on: bind one and close it.
	addr := closedPort(t)
	_, err := client.Connect(ctx, addr)
	if err == nil {
		t.Fatal("Connect to a closed port succeeded")
	}
	if !errors.Is(err, client.ErrUnavailable) || !containsStr(err.Error(), addr) {
		t.Fatalf("err %q: want ErrUnavailable naming %s", err, addr)
	}
	if _, err := client.Connect(ctx, "ftp://x:1"); err == nil {
		t.Fatal("ftp:// accepted")
	}
}

func TestStartPositionParse(t *testing.T) {
	for in, want := range map[string]string{
		"earliest": "earliest", "LATEST": "latest", "42": "42", "2024-05-01T12:00:00Z": "2024-05-01T12:00:00Z",
	} {
		p, err := client.ParseStartPosition(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseStartPosition(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "yesterday", "2024-05-01"} {
		if _, err := client.ParseStartPosition(bad); err == nil {
			t.Errorf("ParseStartPosition(%q) succeeded", bad)
		}
	}
}

// A broker that does not stream (Consume unimplemented, as on brokers that
// predate it) is pulled from by a consumer with Prefetch.
func TestConsumerPrefetchFallsBackToPull(t *testing.T) {
	f := &fakeBroker{pull: pullQueue(deliveries(0, 0, 5), deliveries(0, 5, 3))}
	c := serveFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 5, MaxWait: 10 * time.Millisecond, Prefetch: true})
	var got []uint64
	for range 3 {
		ds, err := cons.Pull(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			got = append(got, d.Offset)
			d.Ack()
		}
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("pulled offsets %v", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var acked []uint64
	for _, a := range f.acks {
		for _, r := range a.GetMessages() {
			acked = append(acked, r.GetOffsets()...)
		}
	}
	if fmt.Sprint(acked) != "[0 1 2 3 4 5 6 7]" {
		t.Fatalf("acked %v", acked)
	}
}
