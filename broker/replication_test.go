package broker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

// recordingReplicator agrees with itself: it applies every station change
// at once, and records what went through it.
type recordingReplicator struct {
	b       *Broker
	changes []StationChange
	wrapped []string
}

func (r *recordingReplicator) WrapLog(station string, partition uint32, local PartitionLog) PartitionLog {
	r.wrapped = append(r.wrapped, station)
	return local
}

func (r *recordingReplicator) Writable(context.Context) error { return nil }

func (r *recordingReplicator) GroupStore(local meta.GroupStore) meta.GroupStore { return local }

func (r *recordingReplicator) ReplicateStation(ctx context.Context, c StationChange) (StationConfig, error) {
	r.changes = append(r.changes, c)
	return r.b.ApplyStationChange(ctx, c)
}

func TestReplicatorSeesStationChangesAndLogs(t *testing.T) {
	r := &recordingReplicator{}
	b, err := Open(Options{DataDir: t.TempDir(), Replicator: r, ScrubBytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r.b = b
	ctx := context.Background()
	cfg, err := b.CreateStation(ctx, StationConfig{Name: "orders", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CreatedAt.IsZero() || len(r.changes) != 1 || r.changes[0].Op != OpCreateStation || !r.changes[0].Config.CreatedAt.Equal(cfg.CreatedAt) {
		t.Fatalf("create went through as %+v, returned %+v", r.changes, cfg)
	}
	if len(r.wrapped) != 2 {
		t.Errorf("wrapped %d partition logs, want 2", len(r.wrapped))
	}
	window := time.Minute
	if _, err := b.UpdateStation(ctx, "orders", StationUpdate{DedupWindow: &window}); err != nil {
		t.Fatal(err)
	}
	if c, _, _ := b.Station("orders"); c.DedupWindow != window {
		t.Errorf("dedup window %v after the update, want %v", c.DedupWindow, window)
	}
	if err := b.DeleteStation(ctx, "orders", false); err != nil {
		t.Fatal(err)
	}
	if len(r.changes) != 3 || r.changes[1].Op != OpUpdateStation || r.changes[2].Op != OpDeleteStation {
		t.Errorf("changes %+v", r.changes)
	}

	// What a cluster cannot keep is refused before it is proposed.
	for _, c := range []StationConfig{{Name: "mem", Storage: StorageMemory}, {Name: "lazy", Fsync: FsyncInterval}} {
		if _, err := b.CreateStation(ctx, c); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("create %+v: got %v, want ErrInvalidArgument", c, err)
		}
	}
	if len(r.changes) != 3 {
		t.Errorf("refused stations were proposed: %+v", r.changes[3:])
	}
}

func TestReplicatedRecordsJoinTheDedupWindow(t *testing.T) {
	b, err := Open(Options{DataDir: t.TempDir(), ScrubBytesPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := b.CreateStation(ctx, StationConfig{Name: "orders", Partitions: 1, DedupWindow: time.Hour}); err != nil {
		t.Fatal(err)
	}
	st, _ := b.station("orders")
	rec := Record{Offset: 0, Timestamp: b.now().UnixNano(), Value: []byte("v"), Headers: []Header{{Key: HeaderMessageID, Value: []byte("id-1")}}}
	if err := st.logs[0].(ReplicaLog).AppendAssigned(ctx, []Record{rec}); err != nil {
		t.Fatal(err)
	}
	b.Replicated("orders", 0, []Record{rec})
	res, err := b.Produce(ctx, "orders", []Message{{Value: []byte("v"), ID: "id-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Duplicate || res[0].Offset != 0 {
		t.Errorf("a produce of a replicated id got %+v, want the duplicate at offset 0", res[0])
	}
	if err := st.logs[0].(ReplicaLog).AppendAssigned(ctx, []Record{{Offset: 5}}); err == nil {
		t.Error("AppendAssigned took records that do not continue the log")
	}
}
