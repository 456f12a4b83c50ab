package broker

import (
	"path/filepath"
	"testing"
)

// TestOpenPartitionLogCopiesAPartition rebuilds a copy of a partition in a
// log of its own, with the records' offsets and timestamps kept.
func TestOpenPartitionLogCopiesAPartition(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders", Partitions: 1})
	produceN(t, b, "orders", 0, 50)
	if got, want := b.PartitionDir("orders", 0), filepath.Join(b.opts.DataDir, "stations", "orders", "0"); got != want {
		t.Errorf("PartitionDir = %s, want %s", got, want)
	}
	src, err := b.Read("orders", 0, 0, 1<<20)
	if err != nil || len(src) == 0 {
		t.Fatalf("read partition 0: %d records, %v", len(src), err)
	}
	dir := filepath.Join(t.TempDir(), "copy")
	l, err := b.OpenPartitionLog("orders", 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.(ReplicaLog).AppendAssigned(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = b.OpenPartitionLog("orders", 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.Read(0, 1<<20)
	if err != nil || len(got) != len(src) {
		t.Fatalf("read the copy: %d records of %d, %v", len(got), len(src), err)
	}
	for i := range src {
		if got[i].Offset != src[i].Offset || got[i].Timestamp != src[i].Timestamp || string(got[i].Value) != string(src[i].Value) {
			t.Fatalf("record %d: %+v, want %+v", i, got[i], src[i])
		}
	}

	mustCreate(t, b, StationConfig{Name: "mem", Partitions: 1, Storage: StorageMemory})
	if _, err := b.OpenPartitionLog("mem", 0, t.TempDir()); err == nil {
		t.Error("opened a log file for a station kept in memory")
	}
	if _, err := b.OpenPartitionLog("missing", 0, t.TempDir()); err == nil {
		t.Error("opened a log for a station that does not exist")
	}
}
