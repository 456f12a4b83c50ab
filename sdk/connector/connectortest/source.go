package connectortest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// RunSource runs the conformance suite for def's source. setup is called
// once per subtest and must return a config for a fresh, empty origin.
func RunSource(t *testing.T, def connector.Definition, setup func(t *testing.T) SourceHarness, opts ...Option) {
	o := newOptions(opts)
	if def.Source == nil {
		t.Fatal("definition has no Source")
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
		checkSpec(t, ctx, def, connector.KindSource)
	})
	run("BadConfig", func(t *testing.T, ctx context.Context) {
		checkBadConfig(t, ctx, def, def.Spec(), connector.KindSource, setup(t).Config)
	})
	run("RoundTrip", func(t *testing.T, ctx context.Context) {
		h := setup(t)
		recs := testRecords(o.records, 1, func(uint32) uint64 { return 0 })
		inst := Start(t, def)
		configure(t, ctx, inst, connector.KindSource, h.Config)
		if err := inst.Source.Open(ctx, nil); err != nil {
			t.Fatalf("Open: %v", err)
		}
		half := len(recs) / 2
		produce(t, h, recs[:half])
		got, _ := readN(t, ctx, inst.Source, half)
		produce(t, h, recs[half:])
		more, _ := readN(t, ctx, inst.Source, len(recs)-half)
		compareValues(t, append(got, more...), recs)
		if err := inst.Source.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
	})
	run("RestartFromCheckpoint", func(t *testing.T, ctx context.Context) {
		h := setup(t)
		recs := testRecords(o.records, 1, func(uint32) uint64 { return 0 })
		half := len(recs) / 2

		first := Start(t, def)
		configure(t, ctx, first, connector.KindSource, h.Config)
		if err := first.Source.Open(ctx, nil); err != nil {
			t.Fatalf("Open: %v", err)
		}
		produce(t, h, recs[:half])
		got, positions := readN(t, ctx, first.Source, half)
		compareValues(t, got, recs[:half])
		if err := first.Source.Ack(ctx, positions); err != nil {
			t.Fatalf("Ack: %v", err)
		}
		if err := first.Source.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
		first.Close()

		produce(t, h, recs[half:])
		second := Start(t, def)
		configure(t, ctx, second, connector.KindSource, h.Config)
		if err := second.Source.Open(ctx, positions[len(positions)-1]); err != nil {
			t.Fatalf("Open at checkpoint: %v", err)
		}
		rest, _ := readN(t, ctx, second.Source, len(recs)-half)
		compareValues(t, rest, recs[half:])
		// Nothing may follow: a duplicate would show up here.
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		b, err := second.Source.Read(short)
		if err == nil && len(b.Records) > 0 {
			t.Errorf("after the checkpoint and all records, Read returned %d more (duplicates?)", len(b.Records))
		} else if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("idle Read: %v, want a deadline error", err)
		}
		if err := second.Source.Teardown(ctx); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
	})
}

func produce(t *testing.T, h SourceHarness, recs []connector.Record) {
	t.Helper()
	if err := h.Produce(recs); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}

// readN reads until n records arrived, returning them and the positions of
// the batches.
func readN(t *testing.T, ctx context.Context, s connector.Source, n int) ([]connector.Record, []connector.Position) {
	t.Helper()
	var got []connector.Record
	var positions []connector.Position
	for len(got) < n {
		b, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(got), n, err)
		}
		if len(b.Rejected) > 0 {
			t.Errorf("Read rejected %d records: %s", len(b.Rejected), b.Rejected[0].Reason)
		}
		if len(b.Position) == 0 {
			t.Errorf("Read returned a batch without a position")
		}
		got = append(got, b.Records...)
		positions = append(positions, b.Position)
	}
	return got, positions
}

func compareValues(t *testing.T, got, want []connector.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("read %d records, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !bytes.Equal(got[i].Value, want[i].Value) {
			t.Errorf("record %d: value %q, want %q", i, got[i].Value, want[i].Value)
			return
		}
	}
}
