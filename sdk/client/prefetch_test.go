package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/sdk/internal/golden"
)

// streamingFake is a fakeBroker that also streams: its Consume sends the
// given responses, then ends the stream with end if set, or else waits for
// the client to go.
type streamingFake struct {
	*fakeBroker
	responses []*junctionv1.ConsumeResponse
	end       error
	req       chan *junctionv1.ConsumeRequest
}

func (f *streamingFake) Consume(ctx context.Context, req *connect.Request[junctionv1.ConsumeRequest], st *connect.ServerStream[junctionv1.ConsumeResponse]) error {
	f.req <- req.Msg
	for _, r := range f.responses {
		if err := st.Send(r); err != nil {
			return err
		}
	}
	if f.end != nil {
		return f.end
	}
	<-ctx.Done()
	return nil
}

func serveStreamingFake(t *testing.T, f *streamingFake) *client.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(junctionv1connect.NewMessageServiceHandler(f))
	mux.Handle(junctionv1connect.NewStationServiceHandler(f))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := client.Connect(context.Background(), srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A consumer with Prefetch takes record batches from one Consume stream,
// hands them out in the sizes asked for, acks ranges, and on Close nacks
// what it received and handed out to nobody.
func TestConsumerPrefetchStreams(t *testing.T) {
	f := &streamingFake{
		fakeBroker: &fakeBroker{pull: func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("a streaming consumer pulled"))
		}},
		responses: []*junctionv1.ConsumeResponse{{Batches: []*junctionv1.RecordBatches{{Partition: 3, Data: golden.RecordBatches(t)}}}},
		req:       make(chan *junctionv1.ConsumeRequest, 1),
	}
	c := serveStreamingFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 10, MaxWait: 5 * time.Second, Prefetch: true})
	var got []uint64
	for range 2 {
		ds, err := cons.Pull(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			got = append(got, d.Offset)
			d.Ack()
		}
	}
	if fmt.Sprint(got) != "[100 101]" {
		t.Fatalf("pulled offsets %v", got)
	}
	if req := <-f.req; !req.GetRecordBatches() || req.GetBatchSize() != 10 || req.GetStation() != "orders" || req.GetGroup() != "g" {
		t.Fatalf("consume request %v", req)
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var acked, nacked []string
	for _, a := range f.acks {
		for _, r := range a.GetRanges() {
			acked = append(acked, fmt.Sprintf("%d:[%d,%d)", r.GetPartition(), r.GetFrom(), r.GetTo()))
		}
	}
	for _, n := range f.nacks {
		for _, r := range n.GetMessages() {
			nacked = append(nacked, fmt.Sprintf("%d:%v", r.GetPartition(), r.GetOffsets()))
		}
	}
	if fmt.Sprint(acked) != "[3:[100,101) 3:[101,102)]" && fmt.Sprint(acked) != "[3:[100,102)]" {
		t.Errorf("acked %v", acked)
	}
	if fmt.Sprint(nacked) != "[3:[102 200]]" {
		t.Errorf("nacked %v", nacked)
	}
}

// A stream that breaks after it delivered fails that Pull; the next Pull
// streams again.
func TestConsumerPrefetchReopensStream(t *testing.T) {
	f := &streamingFake{
		fakeBroker: &fakeBroker{pull: func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
			return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("a streaming consumer pulled"))
		}},
		responses: []*junctionv1.ConsumeResponse{{Batches: []*junctionv1.RecordBatches{{Partition: 3, Data: golden.RecordBatches(t)}}}},
		end:       connect.NewError(connect.CodeUnavailable, fmt.Errorf("broker shutting down")),
		req:       make(chan *junctionv1.ConsumeRequest, 2),
	}
	c := serveStreamingFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 10, MaxWait: 5 * time.Second, Prefetch: true})
	ds, err := cons.Pull(ctx, 0)
	if err != nil || len(ds) != 4 {
		t.Fatalf("first pull: %d deliveries, %v", len(ds), err)
	}
	if _, err := cons.Pull(ctx, 0); !errors.Is(err, client.ErrUnavailable) {
		t.Fatalf("pull of a broken stream: %v, want ErrUnavailable", err)
	}
	ds, err = cons.Pull(ctx, 0)
	if err != nil || len(ds) != 4 || ds[0].Offset != 100 {
		t.Fatalf("pull after the break: %d deliveries, %v", len(ds), err)
	}
	if len(f.req) != 2 {
		t.Fatalf("%d consume requests, want 2", len(f.req))
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
