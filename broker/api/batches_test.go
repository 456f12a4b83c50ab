package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/junctionhq/junction/broker/seglog"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

func produceValues(t *testing.T, svc *messageService, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := (&stationService{svc.api}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	var msgs []*v1.Message
	for i := range n {
		msgs = append(msgs, &v1.Message{Value: []byte{byte('a' + i)}})
	}
	if _, err := svc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: msgs})); err != nil {
		t.Fatal(err)
	}
}

// A Consume stream that asked for record batches gets them, and an Ack of
// ranges settles them; an Ack that names messages and ranges applies both.
func TestConsumeStreamsRecordBatches(t *testing.T) {
	svc := &messageService{&api{b: openBroker(t)}}
	produceValues(t, svc, 5)
	mux := http.NewServeMux()
	mux.Handle(junctionv1connect.NewMessageServiceHandler(svc))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{Protocols: srv.Config.Protocols}}
	cl := junctionv1connect.NewMessageServiceClient(hc, srv.URL, connect.WithGRPC())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := cl.Consume(ctx, connect.NewRequest(&v1.ConsumeRequest{Station: "s", Group: "g", BatchSize: 10, RecordBatches: true}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatalf("no batch: %v", stream.Err())
	}
	msg := stream.Msg()
	if len(msg.GetMessages()) != 0 || len(msg.GetBatches()) != 1 {
		t.Fatalf("response %v; want one partition's batches", msg)
	}
	recs, _, err := seglog.DecodeBatch(msg.GetBatches()[0].GetData())
	if err != nil || len(recs) != 5 || string(recs[4].Value) != "e" {
		t.Fatalf("decoded %d records, %v", len(recs), err)
	}
	cancel()
	stream.Close()

	bctx := context.Background()
	_, err = cl.Ack(bctx, connect.NewRequest(&v1.AckRequest{Station: "s", Group: "g",
		Messages: []*v1.MessageRefs{{Partition: 0, Offsets: []uint64{1}}},
		Ranges:   []*v1.OffsetRange{{Partition: 0, From: 0, To: 1}, {Partition: 0, From: 2, To: 4}}}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cl.Ack(bctx, connect.NewRequest(&v1.AckRequest{Station: "s", Group: "g",
		Messages: []*v1.MessageRefs{{Partition: 0, Offsets: []uint64{0}}},
		Ranges:   []*v1.OffsetRange{{Partition: 0, From: 4, To: 5}}}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("acking offset 0 again: %v; want failed precondition", err)
	}
	_, err = cl.Ack(bctx, connect.NewRequest(&v1.AckRequest{Station: "s", Group: "g", Ranges: []*v1.OffsetRange{{Partition: 0, From: 3, To: 1}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("an inverted range: %v; want invalid argument", err)
	}
	gi, err := svc.b.Group("s", "g")
	if err != nil || gi.Pending != 0 || gi.Lag != 0 {
		t.Fatalf("group %+v, %v; want everything acked, the range after the refused message too", gi, err)
	}
}

// A batch pull whose caller is gone hands its messages back at once.
func TestCancelledBatchPullReleasesMessages(t *testing.T) {
	svc := &messageService{&api{b: openBroker(t)}}
	produceValues(t, svc, 3)
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.Pull(gone, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 10, RecordBatches: true})); connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("pull with a cancelled context: err = %v, want canceled", err)
	}
	// They were delivered once, so they come back one by one, counted.
	resp, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 10, MaxWait: durationpb.New(time.Second), RecordBatches: true}))
	if err != nil || len(resp.Msg.GetMessages()) != 3 || len(resp.Msg.GetBatches()) != 0 {
		t.Fatalf("next pull: %v, %v; want the 3 messages again, as redeliveries", resp, err)
	}
	for _, d := range resp.Msg.GetMessages() {
		if d.GetDeliveryCount() != 2 {
			t.Fatalf("redelivery %v; want delivery count 2", d)
		}
	}
}
