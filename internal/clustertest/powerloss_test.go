package clustertest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
)

// TestWholeClusterPowerLoss SIGKILLs all three nodes at once while
// producers run, twice, with snapshots (which sync the segment logs and
// let raft compact its log) taken every few dozen entries. Before each
// restart it takes from every segment log what a power loss may take:
// whatever was not fsynced, with a hole of zeros where a page never
// reached the disk while a later one did. Every acknowledged record must
// come back, from the raft log, identical on every node.
func TestWholeClusterPowerLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "40", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	for round := range 2 {
		w.awaitAcked(300)
		for _, n := range c.nodes {
			c.signal(n, syscall.SIGKILL)
		}
		for _, n := range c.nodes {
			c.kill(n)
		}
		dropped := 0
		for _, n := range c.nodes {
			dropped += dropUnsynced(t, n.data)
		}
		t.Logf("round %d: killed every node; dropped %d unsynced bytes of segment logs", round, dropped)
		for _, n := range c.nodes {
			c.start(n)
		}
		c.waitMembers(len(c.nodes))
	}
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
}

// dropUnsynced does to every partition log under data what a power loss
// may: of the tail segment, the batches at or above the high-water mark
// (state.json, raised when the log was last synced) are lost, the first
// of them left as zeros and the rest cut off when there are two or more,
// all cut otherwise. It returns the bytes lost.
func dropUnsynced(t *testing.T, data string) int {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(data, "stations", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for _, dir := range parts {
		var mark uint64
		if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
			var st struct {
				HighWaterMark uint64 `json:"high_water_mark"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("%s: %v", dir, err)
			}
			mark = st.HighWaterMark
		} else if !os.IsNotExist(err) {
			t.Fatal(err)
		}
		segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
		if err != nil || len(segs) == 0 {
			continue
		}
		slices.Sort(segs)
		tail := segs[len(segs)-1]
		base, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(tail), ".log"), 10, 64)
		if err != nil || base > mark {
			t.Fatalf("%s: tail segment above the high-water mark %d", tail, mark)
		}
		b, err := os.ReadFile(tail)
		if err != nil {
			t.Fatal(err)
		}
		var starts []int // positions of the batches at or above the mark
		for p := 0; p < len(b); {
			recs, n, err := seglog.DecodeBatch(b[p:])
			if err != nil {
				t.Fatalf("%s position %d: %v", tail, p, err)
			}
			if recs[0].Offset >= mark {
				starts = append(starts, p)
			}
			p += n
		}
		if len(starts) == 0 {
			continue
		}
		out := b[:starts[0]]
		if len(starts) >= 2 {
			out = b[:starts[len(starts)-1]]
			clear(out[starts[0]:starts[1]])
		}
		lost += len(b) - starts[0]
		if err := os.WriteFile(tail, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return lost
}
