package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/seglog"
)

// flipInBatch flips one byte inside the batch-th batch of a segment file
// of the station's partition 0 (segment -1: the last) and returns the
// offsets of that batch.
func flipInBatch(t *testing.T, dir, station string, segment, batch int) (from, to uint64) {
	t.Helper()
	pdir := filepath.Join(dir, "stations", station, "0")
	names, err := filepath.Glob(filepath.Join(pdir, "*.log"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no segments in %s: %v", pdir, err)
	}
	slices.Sort(names)
	if segment < 0 {
		segment = len(names) + segment
	}
	b, err := os.ReadFile(names[segment])
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for i := 0; ; i++ {
		recs, n, err := seglog.DecodeBatch(b[pos:])
		if err != nil {
			t.Fatalf("segment %s has no batch %d: %v", names[segment], batch, err)
		}
		if i == batch {
			b[pos+n/2] ^= 0x04
			from, to = recs[0].Offset, recs[len(recs)-1].Offset+1
			break
		}
		pos += n
	}
	if err := os.WriteFile(names[segment], b, 0o644); err != nil {
		t.Fatal(err)
	}
	return from, to
}

func corruptPartitions(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "junction_corrupt_partitions" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no junction_corrupt_partitions metric")
	return 0
}

// TestCorruptTailNeverReusesOffsets is the regression test for a flipped
// byte in the middle of the tail segment: the log used to be cut there,
// its offsets given out again, and a group that had committed past them
// silently skipped the new messages.
func TestCorruptTailNeverReusesOffsets(t *testing.T) {
	dir := t.TempDir()
	noScrub := func(o *Options) { o.ScrubBytesPerSecond = -1 }
	b := openTest(t, dir, noScrub)
	mustCreate(t, b, StationConfig{Name: "dls"})
	mustCreate(t, b, StationConfig{Name: "s", DeadLetterStation: "dls"})
	produceN(t, b, "s", 0, 3000)
	if _, err := b.CreateGroup(t.Context(), "s", "late", StartPosition{Kind: StartEarliest}, GroupConfig{}); err != nil {
		t.Fatal(err)
	}
	wantSequence(t, pullAll(t, b, "s", "g", 3000), 0, 3000)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lostFrom, lostTo := flipInBatch(t, dir, "s", -1, 1)

	reg := prometheus.NewRegistry()
	b = openTest(t, dir, noScrub, func(o *Options) { o.Registerer = reg })
	if next, _ := b.NextOffsets("s"); next[0] != 3000 {
		t.Fatalf("next offset %d after recovery, want 3000", next[0])
	}
	_, stats, err := b.Station("s")
	if err != nil {
		t.Fatal(err)
	}
	if d := stats.Partitions[0].Damaged; len(d) != 1 || d[0].From != lostFrom || d[0].To != lostTo {
		t.Fatalf("station stats damage %+v, want [%d, %d)", d, lostFrom, lostTo)
	}
	if n := corruptPartitions(t, reg); n != 1 {
		t.Fatalf("junction_corrupt_partitions = %v", n)
	}
	produceN(t, b, "s", 3000, 100)
	wantSequence(t, pullAll(t, b, "s", "g", 100), 3000, 100)
	if gi, _ := b.Group("s", "g"); gi.Partitions[0].Committed != 3100 || gi.Lag != 0 {
		t.Fatalf("group g: %+v", gi.Partitions[0])
	}

	// A group behind the damage stops at it: nothing is skipped silently.
	got := pullAll(t, b, "s", "late", int(lostFrom))
	wantSequence(t, got, 0, int(lostFrom))
	if _, err := b.Pull(context.Background(), "s", "late", PullOptions{Max: 10}); !seglog.IsCorruption(err) {
		t.Fatalf("pull at the damage = %v, want a corruption error", err)
	}

	res, err := b.RepairPartition(context.Background(), "s", 0, seglog.RepairSkip)
	if err != nil || len(res.Ranges) != 1 || res.Ranges[0].From != lostFrom || res.Ranges[0].To != lostTo || res.MarkedIn != "dls" {
		t.Fatalf("RepairPartition = %+v, %v", res, err)
	}
	if n := corruptPartitions(t, reg); n != 0 {
		t.Fatalf("junction_corrupt_partitions after repair = %v", n)
	}
	marker := pullAll(t, b, "dls", "ops", 1)
	if !strings.Contains(marker[0], "lost to corruption") {
		t.Fatalf("marker %q", marker[0])
	}
	rest := pullAll(t, b, "s", "late", 3100-int(lostTo))
	wantSequence(t, rest, int(lostTo), 3100-int(lostTo))
	if gi, _ := b.Group("s", "late"); gi.Partitions[0].Committed != 3100 {
		t.Fatalf("group late after the repair: %+v", gi.Partitions[0])
	}
}

// TestScrubFindsCorruptionInOlderSegments is the regression test for a
// flipped byte in an older segment, which used to go unnoticed until a
// read failed and stuck every group.
func TestScrubFindsCorruptionInOlderSegments(t *testing.T) {
	dir := t.TempDir()
	noScrub := func(o *Options) { o.ScrubBytesPerSecond = -1 }
	b := openTest(t, dir, noScrub)
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 2000)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	from, to := flipInBatch(t, dir, "s", 0, 2)
	b = openTest(t, dir, noScrub)
	b.ScrubNow(context.Background())
	_, stats, _ := b.Station("s")
	if d := stats.Partitions[0].Damaged; len(d) != 1 || d[0].From != from || d[0].To != to {
		t.Fatalf("damage after scrub %+v, want [%d, %d)", d, from, to)
	}
	_, err := b.RepairPartition(context.Background(), "s", 0, seglog.RepairCut)
	if err != nil {
		t.Fatal(err)
	}
	_, stats, _ = b.Station("s")
	if p := stats.Partitions[0]; len(p.Damaged) != 0 || len(p.Lost) != 1 || p.Lost[0].From != from {
		t.Fatalf("after repair: %+v", p)
	}
	if _, err := b.RepairPartition(context.Background(), "s", 3, seglog.RepairCut); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("repair of a missing partition = %v", err)
	}
}

// TestCorruptionInDedupWindowDoesNotStopTheBroker: rebuilding the dedup
// window passes over corrupt data instead of failing the station.
func TestCorruptionInDedupWindowDoesNotStopTheBroker(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir, func(o *Options) { o.ScrubBytesPerSecond = -1 })
	mustCreate(t, b, StationConfig{Name: "s", DedupWindow: time.Hour})
	for i := range 20 {
		if _, err := b.Produce(context.Background(), "s", []Message{{Value: []byte("v"), ID: fmt.Sprint("id-", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	flipInBatch(t, dir, "s", -1, 3)
	b = openTest(t, dir, func(o *Options) { o.ScrubBytesPerSecond = -1 })
	res, err := b.Produce(context.Background(), "s", []Message{{Value: []byte("v"), ID: "id-10"}})
	if err != nil || !res[0].Duplicate || res[0].Offset != 10 {
		t.Fatalf("produce of a stored id after recovery = %+v, %v", res, err)
	}
}
