package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// TestDedupSnapshotAcrossCleanRestart: a clean shutdown leaves the dedup
// index beside the partitions; the next start loads it instead of reading
// the window from the log, and removes it.
func TestDedupSnapshotAcrossCleanRestart(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 2, DedupWindow: time.Hour})
	produceIDs := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := b.Produce(context.Background(), "s", []Message{{Key: []byte(fmt.Sprint(i)), Value: []byte("v"), ID: fmt.Sprint("id-", i)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceIDs(0, 50)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(dir, "stations", "s", dedupSnapshotName)
	raw, err := os.ReadFile(snap)
	if err != nil {
		t.Fatalf("no dedup snapshot after a clean close: %v", err)
	}
	s, err := decodeDedupSnapshot(raw)
	if err != nil || len(s.entries) != 50 || s.next[0]+s.next[1] != 50 {
		t.Fatalf("snapshot: %d entries, next %v, %v", len(s.entries), s.next, err)
	}

	b = openTest(t, dir)
	if _, err := os.Stat(snap); !os.IsNotExist(err) {
		t.Fatalf("snapshot not removed once loaded: %v", err)
	}
	produceIDs(50, 60)
	for _, id := range []int{3, 49, 55} {
		res, err := b.Produce(context.Background(), "s", []Message{{Key: []byte(fmt.Sprint(id)), Value: []byte("again"), ID: fmt.Sprint("id-", id)}})
		if err != nil || !res[0].Duplicate {
			t.Fatalf("id-%d not a duplicate after restart: %+v %v", id, res, err)
		}
	}
}

func TestDedupSnapshotRoundTrip(t *testing.T) {
	s := dedupSnapshot{next: []uint64{7, 9}, entries: []snapshotEntry{
		{id: "a", result: ProduceResult{Partition: 1, Offset: 8}, expires: time.Unix(0, 12345)},
		{id: "bb", result: ProduceResult{Partition: 0, Offset: 2}, expires: time.Unix(0, -1)},
	}}
	got, err := decodeDedupSnapshot(encodeDedupSnapshot(s))
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	b := encodeDedupSnapshot(s)
	b[10] ^= 1
	if _, err := decodeDedupSnapshot(b); err == nil {
		t.Fatal("a flipped byte decoded")
	}
}

func FuzzDecodeDedupSnapshot(f *testing.F) {
	f.Add(encodeDedupSnapshot(dedupSnapshot{next: []uint64{1}, entries: []snapshotEntry{{id: "x", expires: time.Unix(1, 0)}}}))
	f.Add([]byte("JDDS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeDedupSnapshot(b)
		if err != nil {
			return
		}
		for _, e := range s.entries {
			if len(e.id) == 0 || len(e.id) > MaxMessageIDBytes || int(e.result.Partition) >= len(s.next) {
				t.Fatalf("accepted bad entry %+v", e)
			}
		}
		again, err := decodeDedupSnapshot(encodeDedupSnapshot(s))
		if err != nil || len(again.entries) != len(s.entries) {
			t.Fatalf("re-encoding: %v", err)
		}
	})
}
