package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/junctionhq/junction/sdk/internal/golden"
	"strings"
	"testing"
	"time"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/client"
)

func TestConsumerDecodesRecordBatchesAndAcksRanges(t *testing.T) {
	var got *junctionv1.PullRequest
	redelivery := &junctionv1.Delivery{Partition: 0, Offset: 7, Value: []byte("again"), DeliveryCount: 2}
	f := &fakeBroker{pull: func(req *junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		got = req
		return &junctionv1.PullResponse{
			Messages: []*junctionv1.Delivery{redelivery},
			Batches:  []*junctionv1.RecordBatches{{Partition: 3, Data: golden.RecordBatches(t)}},
		}, nil
	}}
	c := serveFake(t, f)
	ctx := context.Background()
	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{})
	ds, err := cons.Pull(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !got.GetRecordBatches() {
		t.Fatal("the pull did not ask for record batches")
	}
	const ts = 1700000000123456789
	want := []struct {
		part       int
		off        uint64
		ts         int64
		key, value string
		headers    string
		count      int
	}{
		{0, 7, 0, "", "again", "[]", 2},
		{3, 100, ts, "k1", "hello", "[content-type=text/plain]", 1},
		{3, 101, ts + 5, "", "", "[]", 1},
		{3, 102, ts - 3, "", "", "[a= a=2]", 1},
		{3, 200, ts + 1000, "", "x", "[]", 1},
	}
	if len(ds) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(ds), len(want))
	}
	for i, w := range want {
		d := ds[i]
		var hs []string
		for _, h := range d.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		if d.Partition != w.part || d.Offset != w.off || string(d.Key) != w.key || string(d.Value) != w.value ||
			fmt.Sprint(hs) != w.headers || d.DeliveryCount != w.count || d.Station != "orders" {
			t.Errorf("delivery %d: %+v; want %+v", i, d, w)
		}
		if w.ts != 0 && !d.Timestamp.Equal(time.Unix(0, w.ts)) {
			t.Errorf("delivery %d: timestamp %v, want %v", i, d.Timestamp, time.Unix(0, w.ts))
		}
	}
	for _, d := range ds {
		if d.Offset != 101 {
			d.Ack()
		}
	}
	if err := cons.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.acks) != 1 {
		t.Fatalf("%d ack requests", len(f.acks))
	}
	var rs []string
	for _, r := range f.acks[0].GetRanges() {
		rs = append(rs, fmt.Sprintf("%d:[%d,%d)", r.GetPartition(), r.GetFrom(), r.GetTo()))
	}
	if fmt.Sprint(rs) != "[0:[7,8) 3:[100,101) 3:[102,103) 3:[200,201)]" || len(f.acks[0].GetMessages()) != 0 {
		t.Fatalf("acked ranges %v, messages %v", rs, f.acks[0].GetMessages())
	}
}

// A batch damaged on the way is refused, whole, with an error naming it.
func TestConsumerRefusesCorruptBatch(t *testing.T) {
	data := golden.RecordBatches(t)
	i := bytes.Index(data, []byte("hello"))
	data[i] = 'j'
	f := &fakeBroker{pull: func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		return &junctionv1.PullResponse{Batches: []*junctionv1.RecordBatches{{Partition: 3, Data: data}}}, nil
	}}
	c := serveFake(t, f)
	ds, err := c.NewConsumer("orders", "g", client.ConsumerOptions{}).Pull(context.Background(), 10)
	if !errors.Is(err, client.ErrCorruptBatch) || len(ds) != 0 {
		t.Fatalf("pull of a damaged batch: %d deliveries, %v; want ErrCorruptBatch", len(ds), err)
	}
	for _, s := range []string{`station "orders" partition 3`, "checksum"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
}

// A broker that sends more than a pull asked for is refused.
func TestConsumerRefusesOversizedPull(t *testing.T) {
	f := &fakeBroker{pull: func(*junctionv1.PullRequest) (*junctionv1.PullResponse, error) {
		return &junctionv1.PullResponse{Batches: []*junctionv1.RecordBatches{{Partition: 3, Data: golden.RecordBatches(t)}}}, nil
	}}
	c := serveFake(t, f)
	ds, err := c.NewConsumer("orders", "g", client.ConsumerOptions{}).Pull(context.Background(), 3)
	if err == nil || len(ds) != 0 || !strings.Contains(err.Error(), "4 deliveries for a pull of at most 3") {
		t.Fatalf("4 deliveries for a pull of 3: %d, %v", len(ds), err)
	}
}
