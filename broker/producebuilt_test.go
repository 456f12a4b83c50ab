package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/junctionhq/junction/broker/seglog"
)

func builtBatch(prefix string, n int, keyed bool) *seglog.BatchBuilder {
	var bb seglog.BatchBuilder
	for i := range n {
		var key []byte
		if keyed {
			key = fmt.Appendf(nil, "%s-k%d", prefix, i)
		}
		bb.Add(key, fmt.Appendf(nil, "%s-%d", prefix, i))
	}
	return &bb
}

// A built produce is stored like the same messages produced one by one:
// in order, after what came before, with one result per message, and the
// builder is left empty for the next request.
func TestProduceBuiltAsync(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 3)
	bb := builtBatch("built", 5, true)
	p, ok, err := b.ProduceBuiltAsync(ctx, "s", bb)
	if err != nil || !ok {
		t.Fatalf("ProduceBuiltAsync: ok %v, %v", ok, err)
	}
	if bb.Len() != 0 {
		t.Fatalf("builder holds %d records after the produce", bb.Len())
	}
	results, err := p.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.Partition != 0 || r.Offset != uint64(3+i) || r.Duplicate || r.Rejected {
			t.Fatalf("result %d: %+v, want offset %d", i, r, 3+i)
		}
	}
	recs, err := b.Read("s", 0, 3, 1<<20)
	if err != nil || len(recs) != 5 {
		t.Fatalf("read %d records, %v", len(recs), err)
	}
	for i, r := range recs {
		if !bytes.Equal(r.Key, fmt.Appendf(nil, "built-k%d", i)) || !bytes.Equal(r.Value, fmt.Appendf(nil, "built-%d", i)) || r.Timestamp == 0 {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
	if _, st, err := b.Station("s"); err != nil || st.Messages != 8 {
		t.Fatalf("station stats: %+v, %v", st, err)
	}
}

// What a built batch cannot carry is left to ProduceAsync, untouched.
func TestProduceBuiltAsyncDeclines(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "parts", Partitions: 3})
	mustCreate(t, b, StationConfig{Name: "small", MaxMessageBytes: 8})
	mustCreate(t, b, StationConfig{Name: "orders"})
	if _, _, err := b.CreateSchema(ctx, "order", jsonSource(orderSchemaV1), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AttachSchema(ctx, "orders", StationSchema{Name: "order"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		station string
		bb      *seglog.BatchBuilder
	}{
		{"parts", builtBatch("keyed", 4, true)},
		{"small", builtBatch("longer-than-eight", 2, false)},
		{"orders", builtBatch("order", 2, false)},
		{"orders", new(seglog.BatchBuilder)},
	} {
		p, ok, err := b.ProduceBuiltAsync(ctx, c.station, c.bb)
		if ok || err != nil || p != nil {
			t.Fatalf("%s: ok %v, %v; want it declined", c.station, ok, err)
		}
		if c.bb.Len() == 0 && c.station != "orders" {
			t.Fatalf("%s: a declined builder lost its records", c.station)
		}
		if _, st, _ := b.Station(c.station); st.Messages != 0 {
			t.Fatalf("%s: a declined produce stored %d messages", c.station, st.Messages)
		}
	}
	// Unkeyed messages of one request go to one partition, round robin.
	for range 3 {
		p, ok, err := b.ProduceBuiltAsync(ctx, "parts", builtBatch("rr", 2, false))
		if !ok || err != nil {
			t.Fatalf("unkeyed on 3 partitions: ok %v, %v", ok, err)
		}
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	_, st, err := b.Station("parts")
	if err != nil {
		t.Fatal(err)
	}
	for i, ps := range st.Partitions {
		if ps.NextOffset != 2 {
			t.Fatalf("partition %d holds %d records, want 2 (%+v)", i, ps.NextOffset, st.Partitions)
		}
	}
	if _, _, err := b.ProduceBuiltAsync(ctx, "nope", builtBatch("x", 1, false)); !errors.Is(err, ErrStationNotFound) {
		t.Fatalf("missing station: %v", err)
	}
}
