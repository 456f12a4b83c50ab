package broker

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
)

var updateWireGolden = flag.Bool("update-wire", false, "rewrite the record batch wire golden file")

// The wire golden file lives with the SDK's decoder, which decodes it in
// its own tests.
var wireGolden = filepath.Join("..", "sdk", "recordbatch", "testdata", "batch-v1.hex")

// goldenDeliveries are the deliveries of the wire golden file: two runs of
// partition 3 (so two batches), with nil and empty keys and values,
// repeated and nil-valued headers, and timestamps out of order.
func goldenDeliveries() []Delivery {
	const ts = 1700000000123456789
	return []Delivery{
		{Partition: 3, DeliveryCount: 1, Record: Record{Offset: 100, Timestamp: ts, Key: []byte("k1"), Value: []byte("hello"),
			Headers: []Header{{Key: "content-type", Value: []byte("text/plain")}}}},
		{Partition: 3, DeliveryCount: 1, Record: Record{Offset: 101, Timestamp: ts + 5, Value: []byte{}}},
		{Partition: 3, DeliveryCount: 1, Record: Record{Offset: 102, Timestamp: ts - 3, Key: []byte{},
			Headers: []Header{{Key: "a", Value: nil}, {Key: "a", Value: []byte("2")}}}},
		{Partition: 3, DeliveryCount: 1, Record: Record{Offset: 200, Timestamp: ts + 1000, Value: []byte("x")}},
	}
}

func TestRecordBatchWireGolden(t *testing.T) {
	_, bs := batchFirstDeliveries(goldenDeliveries())
	if len(bs) != 1 || len(bs[0].Ranges) != 2 || bs[0].Count != 4 {
		t.Fatalf("batches: %+v; want one partition with two ranges", bs)
	}
	got := hexLines(bs[0].Data)
	if *updateWireGolden {
		if err := os.WriteFile(wireGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(wireGolden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("the record batch wire encoding changed (a format change needs a new version byte; go test -run WireGolden -update-wire rewrites %s):\ngot\n%s\nwant\n%s", wireGolden, got, want)
	}
}

func hexLines(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		n := min(len(b), 32)
		sb.WriteString(hex.EncodeToString(b[:n]))
		sb.WriteByte('\n')
		b = b[n:]
	}
	return sb.String()
}

// decodeBatches decodes PartitionBatches into deliveries as a client does.
func decodeBatches(t *testing.T, bs []PartitionBatches) []Delivery {
	t.Helper()
	var out []Delivery
	for _, pb := range bs {
		n, size := 0, 0
		for data := pb.Data; len(data) > 0; {
			recs, k, err := seglog.DecodeBatch(data)
			if err != nil {
				t.Fatalf("partition %d: %v", pb.Partition, err)
			}
			for _, r := range recs {
				out = append(out, Delivery{Partition: pb.Partition, Record: r, DeliveryCount: 1})
				size += len(r.Key) + len(r.Value)
			}
			n += len(recs)
			data = data[k:]
		}
		if n != pb.Count || size != pb.Bytes {
			t.Fatalf("partition %d: %d records of %d bytes in the batches, Count and Bytes say %d and %d", pb.Partition, n, size, pb.Count, pb.Bytes)
		}
	}
	return out
}

// A batch pull delivers exactly what a per-message pull delivers, mixed
// with redeliveries, which keep their own form.
func TestPullBatchesDeliversWhatPullDelivers(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 3})
	ctx := context.Background()
	var msgs []Message
	for i := range 300 {
		m := Message{Value: []byte(strings.Repeat("v", i%7)), Key: []byte{byte(i)}}
		if i%3 == 0 {
			m.Key = nil
		}
		if i%5 == 0 {
			m.Headers = []Header{{Key: "n", Value: []byte{byte(i)}}, {Key: "empty"}}
		}
		msgs = append(msgs, m)
	}
	for i := 0; i < len(msgs); i += 50 {
		if _, err := b.Produce(ctx, "s", msgs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	opts := PullOptions{Max: 120, MaxWait: time.Second}
	var plain, batched []Delivery
	for len(plain) < 300 {
		ds, err := b.Pull(ctx, "s", "plain", opts)
		if err != nil || len(ds) == 0 {
			t.Fatalf("pull: %d, %v", len(ds), err)
		}
		plain = append(plain, ds...)
	}
	// The batch group nacks its first pull: those come back as
	// redeliveries, with the rest as batches.
	ds, bs, err := b.PullBatches(ctx, "s", "batched", opts)
	if err != nil || len(ds) != 0 || len(bs) == 0 {
		t.Fatalf("first batch pull: %d deliveries, %d batches, %v; want batches only", len(ds), len(bs), err)
	}
	first := decodeBatches(t, bs)
	if err := b.Nack(ctx, "s", "batched", refsOf(first), 0); err != nil {
		t.Fatal(err)
	}
	redelivered := 0
	for len(batched) < 300 {
		ds, bs, err := b.PullBatches(ctx, "s", "batched", opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ds {
			if ds[i].DeliveryCount != 2 {
				t.Fatalf("per-message delivery %+v; want only redeliveries", ds[i])
			}
			ds[i].DeliveryCount = 1 // to compare with the first deliveries
			redelivered++
		}
		batched = append(batched, ds...)
		batched = append(batched, decodeBatches(t, bs)...)
	}
	if redelivered != len(first) {
		t.Fatalf("%d redeliveries, want %d", redelivered, len(first))
	}
	if pm, bm := byRef(plain), byRef(batched); !reflect.DeepEqual(pm, bm) {
		for ref, d := range pm {
			if !reflect.DeepEqual(d, bm[ref]) {
				t.Fatalf("%v: per-message pull delivered %+v, batch pull %+v", ref, d, bm[ref])
			}
		}
		t.Fatalf("the batch pulls delivered %d messages, the per-message pulls %d", len(bm), len(pm))
	}
	if err := b.AckRanges(ctx, "s", "batched", []OffsetRange{{0, 0, 1000}, {1, 0, 1000}, {2, 0, 1000}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("acking wide ranges: %v; want not pending for the offsets never delivered", err)
	}
	if gi, _ := b.Group("s", "batched"); gi.Pending != 0 || gi.Lag != 0 {
		t.Fatalf("after acking everything: %d pending, lag %d", gi.Pending, gi.Lag)
	}
}

func byRef(ds []Delivery) map[MessageRef]Delivery {
	m := make(map[MessageRef]Delivery, len(ds))
	for _, d := range ds {
		d.span = nil
		m[MessageRef{d.Partition, d.Record.Offset}] = d
	}
	return m
}

// A range ack acknowledges exactly the range.
func TestAckRangesAcksExactlyTheRange(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 20)
	ctx := context.Background()
	ds, _, err := b.PullBatches(ctx, "s", "g", PullOptions{Max: 20, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Fatalf("%d per-message deliveries on a first pull", len(ds))
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{0, 5, 3}}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a range ending before it starts: %v", err)
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{0, 0, 5}, {0, 7, 9}, {0, 12, 12}}); err != nil {
		t.Fatal(err)
	}
	gi, err := b.Group("s", "g")
	if err != nil {
		t.Fatal(err)
	}
	if gi.Pending != 13 || gi.Partitions[0].Committed != 5 {
		t.Fatalf("pending %d, committed %d; want 13 and 5", gi.Pending, gi.Partitions[0].Committed)
	}
	// Acked ones are not pending any more; the others of the range are
	// acked nonetheless.
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{0, 4, 7}}); !errors.Is(err, ErrNotPending) || !strings.Contains(err.Error(), "1 of the messages") {
		t.Fatalf("acking [4, 7) with 4 acked: %v", err)
	}
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{5, 0, 1}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("a partition the station lacks: %v", err)
	}
	gi, _ = b.Group("s", "g")
	if gi.Pending != 11 || gi.Partitions[0].Committed != 9 {
		t.Fatalf("pending %d, committed %d; want 11 and 9", gi.Pending, gi.Partitions[0].Committed)
	}
	// A range far wider than what is pending costs what is pending.
	if err := b.AckRanges(ctx, "s", "g", []OffsetRange{{0, 9, 1 << 62}}); !errors.Is(err, ErrNotPending) {
		t.Fatalf("acking [9, 2^62): %v", err)
	}
	if gi, _ = b.Group("s", "g"); gi.Pending != 0 || gi.Partitions[0].Committed != 20 {
		t.Fatalf("pending %d, committed %d; want 0 and 20", gi.Pending, gi.Partitions[0].Committed)
	}
}

// A stored batch delivered whole goes out as stored; the deliveries of a
// partly delivered one are encoded afresh.
func TestBatchFirstDeliveriesSendsWholeBatchesAsStored(t *testing.T) {
	whole := &rawSpan{base: 10, next: 12, data: []byte("stored 10-11")}
	part := &rawSpan{base: 12, next: 15, data: []byte("stored 12-14")}
	rec := func(off uint64) Record { return Record{Offset: off, Timestamp: 1, Value: []byte("v")} }
	ds := []Delivery{
		{Partition: 0, DeliveryCount: 2, Record: rec(3)},
		{Partition: 0, DeliveryCount: 1, Record: rec(10), span: whole},
		{Partition: 1, DeliveryCount: 1, Record: rec(7)},
		{Partition: 0, DeliveryCount: 1, Record: rec(11), span: whole},
		{Partition: 0, DeliveryCount: 1, Record: rec(12), span: part},
		{Partition: 0, DeliveryCount: 1, Record: rec(13), span: part},
	}
	// Partitions interleave in a pull; each keeps its offset order.
	ds[2], ds[3] = ds[3], ds[2]
	rest, bs := batchFirstDeliveries(ds)
	if len(rest) != 1 || rest[0].Record.Offset != 3 {
		t.Fatalf("per-message deliveries %+v; want the redelivery", rest)
	}
	if len(bs) != 3 {
		t.Fatalf("%d entries, want 3: %+v", len(bs), bs)
	}
	if string(bs[0].Data) != "stored 10-11" || bs[0].Count != 2 || bs[0].Ranges[0] != (OffsetRange{0, 10, 12}) {
		t.Fatalf("the whole batch went out as %+v", bs[0])
	}
	if bs[1].Partition != 1 || bs[2].Partition != 0 || bs[2].Ranges[0] != (OffsetRange{0, 12, 14}) {
		t.Fatalf("entries %+v", bs[1:])
	}
	got := decodeBatches(t, bs[1:])
	if len(got) != 3 || got[0].Record.Offset != 7 || got[1].Record.Offset != 12 || got[2].Record.Offset != 13 {
		t.Fatalf("encoded deliveries %+v", got)
	}
}

// A batch pull ends at the end of a stored batch where it can, and sends
// the stored batches as they are.
func TestPullBatchesEndsAtStoredBatches(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	for i := range 4 {
		produceN(t, b, "s", 5*i, 5) // one stored batch each
	}
	st, err := b.station("s")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		max      int
		from, to uint64
		stored   bool
	}{
		{3, 0, 3, false},    // no whole batch fits: part of one
		{8, 3, 10, false},   // the rest of the first batch and the second
		{7, 10, 15, true},   // one whole batch, not 7
		{100, 15, 20, true}, // all there is
	} {
		ds, bs, err := b.PullBatches(ctx, "s", "g", PullOptions{Max: c.max, MaxWait: time.Second})
		if err != nil || len(ds) != 0 || len(bs) == 0 {
			t.Fatalf("pull of %d: %d deliveries, %d batches, %v", c.max, len(ds), len(bs), err)
		}
		got := decodeBatches(t, bs)
		if first, last := got[0].Record.Offset, got[len(got)-1].Record.Offset; first != c.from || last+1 != c.to || len(got) != int(c.to-c.from) {
			t.Fatalf("pull of %d delivered [%d, %d] (%d); want [%d, %d)", c.max, first, last, len(got), c.from, c.to)
		}
		if c.stored {
			want, _, err := st.logs[0].(BatchReader).ReadBatches(c.from, int(c.to-c.from)*20)
			if err != nil {
				t.Fatal(err)
			}
			var data []byte
			for _, pb := range bs {
				data = append(data, pb.Data...)
			}
			if !bytes.Equal(data, want) {
				t.Fatalf("pull of %d: the batches are not as stored", c.max)
			}
		}
	}
}
