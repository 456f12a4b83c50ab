package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// Redeliveries join a sink batch as record batches of their own, one per
// run of consecutive offsets, before the first deliveries, and the batch's
// ranges cover exactly the records it holds.
func TestSinkBatchEncodesRedeliveries(t *testing.T) {
	rec := func(off uint64, v string) broker.Record {
		return broker.Record{Offset: off, Timestamp: int64(off) * 1000, Value: []byte(v),
			Headers: []broker.Header{{Key: "h", Value: []byte(v)}}}
	}
	rest := []broker.Delivery{
		{Partition: 0, Record: rec(5, "a"), DeliveryCount: 2},
		{Partition: 0, Record: rec(6, "bb"), DeliveryCount: 2},
		{Partition: 0, Record: rec(8, "c"), DeliveryCount: 3},
		{Partition: 1, Record: rec(9, "d"), DeliveryCount: 2},
	}
	stored := []broker.Record{rec(20, "e"), rec(21, "f")}
	first := []broker.PartitionBatches{{Partition: 1, Data: seglog.EncodeBatch(nil, 20, stored), Count: 2, Bytes: 2,
		Ranges: []broker.OffsetRange{{Partition: 1, From: 20, To: 22}}}}
	var b sinkBatch
	b.add(rest, first)
	wantRanges := []broker.OffsetRange{{Partition: 0, From: 5, To: 7}, {Partition: 0, From: 8, To: 9}, {Partition: 1, From: 9, To: 10}, {Partition: 1, From: 20, To: 22}}
	if fmt.Sprint(b.ranges) != fmt.Sprint(wantRanges) || b.count != 6 || b.bytes != 7 {
		t.Fatalf("ranges %v, count %d, bytes %d; want %v, 6, 7", b.ranges, b.count, b.bytes, wantRanges)
	}
	recs, err := b.records()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%d/%d=%s@%d[%s]", r.Partition, r.Offset, r.Value, r.Timestamp.UnixNano(), r.Headers[0].Value))
	}
	want := "[0/5=a@5000[a] 0/6=bb@6000[bb] 0/8=c@8000[c] 1/9=d@9000[d] 1/20=e@20000[e] 1/21=f@21000[f]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("records %v\nwant %s", got, want)
	}
}

// rejectingSink writes every record but those whose value is a multiple
// of 50, which it rejects; it takes record batches when batches is set.
type rejectingSink struct {
	connector.UnimplementedSink
	batches bool

	mu      sync.Mutex
	written map[string]int // partition/offset -> writes
}

func (s *rejectingSink) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) {
	return nil, nil
}

func (s *rejectingSink) Write(_ context.Context, recs []connector.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	be := &connector.BatchError{Failed: map[int]error{}}
	for i, r := range recs {
		if n, _ := strconv.Atoi(string(r.Value)); n%50 == 0 {
			be.Failed[i] = fmt.Errorf("value %d is refused", n)
			continue
		}
		s.written[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]++
	}
	if len(be.Failed) > 0 {
		return be
	}
	return nil
}

func (s *rejectingSink) TakesRecordBatches() bool { return s.batches }

func (s *rejectingSink) WriteRecordBatches(ctx context.Context, bs []protocol.RecordBatches) error {
	if !s.batches {
		return errors.New("WriteRecordBatches called on a sink that does not take batches")
	}
	recs, err := protocol.DecodeRecordBatches(bs)
	if err != nil {
		return err
	}
	return s.Write(ctx, recs)
}

// Records a sink rejects go to the dead-letter station with the reason,
// the connector and the sink's error, every other one is written once, and
// the group moves past all of them: for a sink that takes record batches
// and for one that takes records.
func TestSinkRejectionsAreDeadLettered(t *testing.T) {
	for _, batches := range []bool{true, false} {
		t.Run(fmt.Sprintf("batches=%v", batches), func(t *testing.T) {
			e := startEnv(t, t.TempDir(), RestartPolicy{})
			defer e.close()
			if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s", Partitions: 2}); err != nil {
				t.Fatal(err)
			}
			const n = 1000
			e.produce(t, "s", 0, n)
			def := &config.Connector{Name: "picky", Station: "s", Kind: config.KindSink, DLQ: "s.dlq", Timeout: 30 * time.Second,
				Batch: config.Batch{MaxRecords: 300, MaxBytes: 1 << 20, MaxWait: time.Millisecond}}
			r := newRunner(e.h, def, Installed{}, record{})
			sink := &rejectingSink{batches: batches, written: map[string]int{}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.runSink(ctx, sink) }()
			waitFor(t, "every record written or rejected", 30*time.Second, func() bool {
				gi, err := e.b.Group("s", GroupName("picky"))
				return err == nil && gi.Lag == 0 && gi.Pending == 0
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("runSink = %v", err)
			}
			if len(sink.written) != n-n/50 {
				t.Fatalf("%d records written, want %d", len(sink.written), n-n/50)
			}
			for k, c := range sink.written {
				if c != 1 {
					t.Fatalf("record %s written %d times", k, c)
				}
			}
			if c := r.total.load(); c.RecordsOut != n-n/50 || c.Rejected != n/50 || c.RecordsIn != n {
				t.Fatalf("counters %+v, want %d in, %d out, %d rejected", c, n, n-n/50, n/50)
			}
			ds, err := e.b.Pull(t.Context(), "s.dlq", "check", broker.PullOptions{Max: 100, MaxWait: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			dead := map[string]bool{}
			for _, d := range ds {
				h := map[string]string{}
				for _, kv := range d.Record.Headers {
					h[kv.Key] = string(kv.Value)
				}
				v := string(d.Record.Value)
				if h[HeaderDLQReason] != "sink_rejected" || h[HeaderDLQConnector] != "picky" || h[HeaderDLQError] != "value "+v+" is refused" {
					t.Fatalf("dead letter %q has headers %v", v, h)
				}
				dead[v] = true
			}
			if len(dead) != n/50 || !dead["0"] || !dead["950"] {
				t.Fatalf("dead letters %v, want the %d multiples of 50", dead, n/50)
			}
		})
	}
}
