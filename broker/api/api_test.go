package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
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

// Input a producer must not get away with, each refused with an error
// naming the field, never echoing megabytes of it back.
func TestHostileInputIsRefusedClearly(t *testing.T) {
	a := &api{b: openBroker(t)}
	ctx := context.Background()
	if _, err := (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "s"}})); err != nil {
		t.Fatal(err)
	}
	svc := &messageService{a}
	produce := func(m *v1.Message) error {
		_, err := svc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: "s", Messages: []*v1.Message{{Value: []byte("ok")}, m}}))
		return err
	}
	for _, c := range []struct {
		name string
		msg  *v1.Message
		want string
	}{
		{"CR LF in a header key", &v1.Message{Headers: []*v1.Header{{Key: "a\r\nb", Value: []byte("v")}}}, "messages[1].headers[0].key"},
		{"reserved header key", &v1.Message{Headers: []*v1.Header{{Key: "junction-dlq-reason", Value: []byte("v")}}}, "set by the broker"},
		{"huge header key", &v1.Message{Headers: []*v1.Header{{Key: strings.Repeat("k", 1000)}}}, "over the limit of 256"},
	} {
		err := produce(c.msg)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want invalid argument mentioning %q", c.name, err, c.want)
		}
	}

	huge := strings.Repeat("x", 5<<20)
	_, err := svc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: huge, Messages: []*v1.Message{{Value: []byte("x")}}}))
	if connect.CodeOf(err) != connect.CodeNotFound || len(err.Error()) > 300 {
		t.Fatalf("produce to a 5 MB station name: %d-byte error %.200q", len(err.Error()), err)
	}
	_, err = (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: huge}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || len(err.Error()) > 300 {
		t.Fatalf("create a station with a 5 MB name: %d-byte error", len(err.Error()))
	}
	_, err = (&stationService{a}).CreateStation(ctx, connect.NewRequest(&v1.CreateStationRequest{Station: &v1.Station{Name: "t", DedupWindow: &durationpb.Duration{Seconds: 10000 * 365 * 24 * 3600}}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "dedup_window") {
		t.Fatalf("a 10,000-year dedup window: %v", err)
	}
}
