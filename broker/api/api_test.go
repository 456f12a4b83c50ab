package api

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/api/junction/v1"
	"github.com/junctionhq/junction/broker"
)

func openBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Open(broker.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// A Pull whose caller is gone when the broker has the messages hands them
// back at once instead of leaving them pending until their ack deadline.
func TestCancelledPullReleasesMessages(t *testing.T) {
	a := &api{b: openBroker(t)}
	ctx := context.Background()
	if _, err := (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	msgs := []*v1.Message{{Value: []byte("a")}, {Value: []byte("b")}, {Value: []byte("c")}}
	svc := &messageService{a}
	if _, err := svc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: msgs})); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := svc.Pull(gone, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 10})); connect.CodeOf(err) != connect.CodeCanceled {
		t.Fatalf("pull with a cancelled context: err = %v, want canceled", err)
	}
	// Without the hand-back they would wait out the 30 s ack deadline.
	resp, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 10, MaxWait: durationpb.New(time.Second)}))
	if err != nil || len(resp.Msg.Messages) != 3 {
		t.Fatalf("next pull got %d messages, err %v; want all 3 at once", len(resp.Msg.GetMessages()), err)
	}
}
