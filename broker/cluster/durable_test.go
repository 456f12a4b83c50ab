package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
)

// soloNode is a one-node cluster on a data directory.
type soloNode struct {
	n *Node
	b *broker.Broker
}

func startSolo(t *testing.T, dir, raftAddr string) *soloNode {
	t.Helper()
	return startSoloLogging(t, dir, raftAddr, io.Discard)
}

func startSoloLogging(t *testing.T, dir, raftAddr string, log io.Writer) *soloNode {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(log, nil))
	n, err := New(Config{NodeID: "solo", RaftListen: raftAddr, DataDir: dir, Logger: logger,
		SnapshotThreshold: 1 << 20, SnapshotInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(broker.Options{DataDir: dir, Replicator: n, ScrubBytesPerSecond: -1, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background(), b, "127.0.0.1:1"); err != nil {
		b.Close()
		t.Fatal(err)
	}
	return &soloNode{n: n, b: b}
}

func (s *soloNode) close(t *testing.T) {
	t.Helper()
	if err := s.n.Close(); err != nil {
		t.Error(err)
	}
	if err := s.b.Close(); err != nil {
		t.Error(err)
	}
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTornTailReplayed: a node applies appends to its segment log without
// fsyncing them, and a snapshot syncs the log first. A crash that loses
// or tears what was applied after the snapshot (here a hole of zeros
// between intact batches, and a torn last batch) is not damage: the
// node cuts the tail, and raft's replay of the entries after the snapshot
// re-fills it byte for byte.
func TestTornTailReplayed(t *testing.T) {
	raftAddr := freeAddr(t)
	dir := t.TempDir()
	ctx := context.Background()

	s := startSolo(t, dir, raftAddr)
	await(t, "leadership", s.n.IsLeader)
	if _, err := s.b.CreateStation(ctx, broker.StationConfig{Name: "s", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			msgs := make([]broker.Message, 1+i%3)
			for j := range msgs {
				msgs[j] = broker.Message{Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat(fmt.Appendf(nil, "v%d.%d|", i, j), 20)}
			}
			if _, err := s.b.Produce(ctx, "s", msgs); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 20)
	if err := s.n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	mark := s.n.lookup("s", 0).State().HighWaterMark
	_, synced := s.n.lookup("s", 0).Bounds()
	if mark != synced {
		t.Fatalf("high-water mark %d after the snapshot, want the log's next offset %d", mark, synced)
	}
	produce(20, 40)
	_, want := s.n.lookup("s", 0).Bounds()
	s.close(t)

	// What a power loss can leave: the state file as the snapshot's sync
	// wrote it (Close wrote a later one), a page of the tail that never
	// reached the disk, and a last batch cut short.
	pdir := s.b.PartitionDir("s", 0)
	seg := filepath.Join(pdir, fmt.Sprintf("%020d.log", 0))
	orig, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	state, err := json.Marshal(map[string]any{"version": 1, "high_water_mark": mark})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "state.json"), state, 0o644); err != nil {
		t.Fatal(err)
	}
	var ends []int
	var bases []uint64
	for p := 0; p < len(orig); {
		recs, n, err := seglog.DecodeBatch(orig[p:])
		if err != nil {
			t.Fatalf("position %d: %v", p, err)
		}
		bases = append(bases, recs[0].Offset)
		p += n
		ends = append(ends, p)
	}
	first := -1 // the first batch after the mark
	for i, b := range bases {
		if b == mark {
			first = i
		}
	}
	if first < 1 || len(bases)-first < 5 {
		t.Fatalf("batches %v: none starts at the mark %d with enough after it", bases, mark)
	}
	torn := bytes.Clone(orig[:len(orig)-7])
	clear(torn[ends[first] : ends[first+1]+5])
	if err := os.WriteFile(seg, torn, 0o644); err != nil {
		t.Fatal(err)
	}

	s = startSolo(t, dir, raftAddr)
	defer s.close(t)
	await(t, "leadership", s.n.IsLeader)
	rl := s.n.lookup("s", 0)
	if st := rl.State(); st.Corrupt() {
		t.Fatalf("the torn tail was taken for damage: %+v", st.Damaged)
	}
	await(t, "the replay", func() bool { _, next := rl.Bounds(); return next >= want })
	if _, next := rl.Bounds(); next != want {
		t.Fatalf("next offset %d after the replay, want %d", next, want)
	}
	if err := s.n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, orig) {
		t.Fatalf("the replayed segment (%d bytes) differs from the one before the crash (%d bytes)", len(got), len(orig))
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncedBuffer is a log destination safe for concurrent writers.
type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestShortOfSnapshotAlone: a partition that lost records the last
// snapshot covers (here all of them, as if a snapshot install had not
// finished) cannot be refilled from the raft log, and a cluster of one
// has no other member to fetch them from; the node says so at start, and
// once when the entries after the snapshot land past its end, and
// refuses produces to the partition rather than give offsets it
// acknowledged before to other records.
func TestShortOfSnapshotAlone(t *testing.T) {
	raftAddr, dir, ctx := freeAddr(t), t.TempDir(), context.Background()
	s := startSolo(t, dir, raftAddr)
	await(t, "leadership", s.n.IsLeader)
	if _, err := s.b.CreateStation(ctx, broker.StationConfig{Name: "s", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := s.b.Produce(ctx, "s", []broker.Message{{Value: []byte("v")}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.n.raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.b.Produce(ctx, "s", []broker.Message{{Value: []byte("after")}}); err != nil {
			t.Fatal(err)
		}
	}
	s.close(t)
	pdir := s.b.PartitionDir("s", 0)
	if err := os.Remove(filepath.Join(pdir, "state.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(pdir, fmt.Sprintf("%020d.log", 0)), 0); err != nil {
		t.Fatal(err)
	}
	var log syncedBuffer
	s = startSoloLogging(t, dir, raftAddr, &log)
	defer s.close(t)
	if !strings.Contains(log.String(), "fewer records than the last snapshot") {
		t.Fatalf("nothing logged of the partition short of the snapshot:\n%s", log.String())
	}
	const gap = "an append lands past this node's end of the partition"
	await(t, "the replayed appends to be refused", func() bool { return strings.Contains(log.String(), gap) })
	for range 2 {
		if _, err := s.b.Produce(ctx, "s", []broker.Message{{Value: []byte("later")}}); !errors.Is(err, ErrShortPartition) {
			t.Fatalf("produce to the short partition: %v, want ErrShortPartition", err)
		}
	}
	if _, next := s.n.lookup("s", 0).Bounds(); next != 0 {
		t.Fatalf("the short partition's next offset is %d, want 0 (nothing stored)", next)
	}
	if n := strings.Count(log.String(), gap); n != 1 {
		t.Fatalf("the gap was logged %d times, want once:\n%s", n, log.String())
	}
}
