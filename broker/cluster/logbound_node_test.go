package cluster

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
)

// TestRaftLogBoundedInBytes runs a one-node cluster whose entry-count
// thresholds are never reached: the byte bound alone has it snapshot,
// compact its raft log and keep few trailing entries.
func TestRaftLogBoundedInBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := New(Config{NodeID: "solo", RaftListen: raftAddr, DataDir: dir, Logger: logger,
		SnapshotThreshold: 1 << 20, TrailingLogs: 1 << 20, SnapshotBytes: 64 << 10, TrailingBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(broker.Options{DataDir: dir, Replicator: n, ScrubBytesPerSecond: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer n.Close()
	ctx := context.Background()
	if err := n.Start(ctx, b, "127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	await("leadership", n.IsLeader)
	if _, err := b.CreateStation(ctx, broker.StationConfig{Name: "s", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	value := make([]byte, 1<<10)
	const produced = 400
	for range produced {
		if _, err := b.Produce(ctx, "s", []broker.Message{{Value: value}}); err != nil {
			t.Fatal(err)
		}
	}
	// At about 1 KiB an entry: a snapshot every ~64 entries, and the
	// minimum of 64 entries kept behind it.
	var first, last uint64
	await("the raft log compacted to its byte bound", func() bool {
		first, _ = n.store.FirstIndex()
		last, _ = n.store.LastIndex()
		return first > 1 && last-first+1 <= 2*minTrailingLogs+16
	})
	if got := n.raft.ReloadableConfig().TrailingLogs; got != minTrailingLogs {
		t.Errorf("trailing logs %d, want %d for 16 KiB of 1 KiB entries", got, minTrailingLogs)
	}
	t.Logf("raft log holds entries [%d, %d] after %d produces", first, last, produced)
}
