package connectortest

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

const partitions = 2

// RunSink runs the conformance suite for def's sink. setup is called once
// per subtest and must return a config for a fresh, empty destination.
func RunSink(t *testing.T, def connector.Definition, setup func(t *testing.T) SinkHarness, opts ...Option) {
	o := newOptions(opts)
	if def.Sink == nil {
		t.Fatal("definition has no Sink")
	}
	run := func(name string, f func(t *testing.T, ctx context.Context)) {
		t.Run(name, func(t *testing.T) {
			leakCheck(t, o)
			ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
			defer cancel()
			f(t, ctx)
		})
	}
	run("Spec", func(t *testing.T, ctx context.Context) {
		checkSpec(t, ctx, def, connector.KindSink)
	})
	run("BadConfig", func(t *testing.T, ctx context.Context) {
		checkBadConfig(t, ctx, def, def.Spec(), connector.KindSink, setup(t).Config)
	})
	run("RoundTrip", func(t *testing.T, ctx context.Context) {
		h := setup(t)
		inst := Start(t, def)
		configure(t, ctx, inst, connector.KindSink, h.Config)
		durable, err := inst.Sink.Open(ctx, connector.SinkInfo{Partitions: partitions})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		for p, off := range durable {
			if off != 0 {
				t.Errorf("Open on an empty destination: durable[%d] = %d, want 0 or absent", p, off)
			}
		}
		recs := testRecords(o.records, partitions, func(uint32) uint64 { return 0 })
		writeAll(t, ctx, inst.Sink, recs)
		if err := inst.Sink.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
		compare(t, h, recs)
	})
	run("RestartFromCheckpoint", func(t *testing.T, ctx context.Context) {
		h := setup(t)
		recs := testRecords(o.records, partitions, func(uint32) uint64 { return 0 })
		half := len(recs) / 2

		first := Start(t, def)
		configure(t, ctx, first, connector.KindSink, h.Config)
		if _, err := first.Sink.Open(ctx, connector.SinkInfo{Partitions: partitions}); err != nil {
			t.Fatalf("Open: %v", err)
		}
		writeAll(t, ctx, first.Sink, recs[:half])
		if err := first.Sink.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
		first.Close()

		second := Start(t, def)
		configure(t, ctx, second, connector.KindSink, h.Config)
		durable, err := second.Sink.Open(ctx, connector.SinkInfo{Partitions: partitions})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		want := make(map[uint32]uint64)
		for _, r := range recs[:half] {
			want[r.Partition] = r.Offset + 1
		}
		exactlyOnce := durable != nil
		if exactlyOnce {
			for p, off := range want {
				if durable[p] != off {
					t.Errorf("after restart: durable[%d] = %d, want %d", p, durable[p], off)
				}
			}
		} else {
			t.Log("sink does not report durable offsets: checking at-least-once only")
		}
		// Replay an overlapping range, as the host does after a crash.
		writeAll(t, ctx, second.Sink, recs[half/2:])
		if err := second.Sink.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
		if exactlyOnce {
			compare(t, h, recs)
		} else {
			got, err := h.ReadBack()
			if err != nil {
				t.Fatalf("ReadBack: %v", err)
			}
			if len(got) < len(recs) {
				t.Errorf("ReadBack returned %d records, want at least %d", len(got), len(recs))
			}
		}
	})
}

func writeAll(t *testing.T, ctx context.Context, s connector.Sink, recs []connector.Record) {
	t.Helper()
	for len(recs) > 0 {
		n := min(len(recs), 7)
		if err := s.Write(ctx, recs[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		recs = recs[n:]
	}
}

func compare(t *testing.T, h SinkHarness, want []connector.Record) {
	t.Helper()
	got, err := h.ReadBack()
	if err != nil {
		t.Fatalf("ReadBack: %v", err)
	}
	byPos := func(rs []connector.Record) []connector.Record {
		rs = append([]connector.Record(nil), rs...)
		sort.SliceStable(rs, func(i, j int) bool {
			if rs[i].Partition != rs[j].Partition {
				return rs[i].Partition < rs[j].Partition
			}
			return rs[i].Offset < rs[j].Offset
		})
		return rs
	}
	got, want = byPos(got), byPos(want)
	if len(got) != len(want) {
		t.Errorf("ReadBack returned %d records, want %d (each exactly once)", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameRecord(got[i], want[i]) {
			t.Errorf("record %d:\n got %s\nwant %s", i, show(got[i]), show(want[i]))
			return
		}
	}
}

func show(r connector.Record) string {
	return fmt.Sprintf("p%d@%d key=%q value=%q headers=%v ts=%s", r.Partition, r.Offset, r.Key, r.Value, r.Headers, r.Timestamp)
}
