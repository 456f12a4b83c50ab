package api

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Acks that ride on a pull are applied before it takes anything; offsets
// that were not pending are counted, not an error; a bad range fails the
// pull.
func TestPullAppliesAckRanges(t *testing.T) {
	svc := &messageService{&api{b: openBroker(t)}}
	produceValues(t, svc, 5)
	ctx := context.Background()
	pull := func(acks ...*v1.OffsetRange) (*v1.PullResponse, error) {
		resp, err := svc.Pull(ctx, connect.NewRequest(&v1.PullRequest{Station: "s", Group: "g", MaxMessages: 3,
			MaxWait: durationpb.New(10 * time.Millisecond), RecordBatches: true, AckRanges: acks}))
		if err != nil {
			return nil, err
		}
		return resp.Msg, nil
	}
	first, err := pull()
	if err != nil {
		t.Fatal(err)
	}
	if !first.GetAcksApplied() || first.GetAcksNotPending() != 0 {
		t.Fatalf("first pull: acks_applied %v, not pending %d", first.GetAcksApplied(), first.GetAcksNotPending())
	}
	// [0, 3) was delivered; 3 and 4 were not.
	second, err := pull(&v1.OffsetRange{Partition: 0, From: 0, To: 2}, &v1.OffsetRange{Partition: 0, From: 4, To: 5})
	if err != nil {
		t.Fatal(err)
	}
	if second.GetAcksNotPending() != 1 {
		t.Fatalf("acks not pending %d, want 1 (offset 4 was not delivered yet)", second.GetAcksNotPending())
	}
	gi, err := svc.b.Group("s", "g")
	if err != nil || gi.Partitions[0].Committed != 2 || gi.Pending != 3 {
		t.Fatalf("group %+v, %v; want committed 2 and offsets 2, 3, 4 pending", gi, err)
	}
	if _, err := pull(&v1.OffsetRange{Partition: 0, From: 3, To: 1}); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("an inverted range: %v; want invalid argument", err)
	}
	if gi, _ := svc.b.Group("s", "g"); gi.Pending != 3 {
		t.Fatalf("%d pending after a refused pull, want 3: it must not deliver", gi.Pending)
	}
	resp, err := pull(&v1.OffsetRange{Partition: 0, From: 2, To: 5})
	if err != nil || resp.GetAcksNotPending() != 0 {
		t.Fatalf("acking the rest: %v, %d not pending", err, resp.GetAcksNotPending())
	}
	if gi, _ := svc.b.Group("s", "g"); gi.Pending != 0 || gi.Lag != 0 {
		t.Fatalf("group %+v; want everything acked", gi)
	}
}
