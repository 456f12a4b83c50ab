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

// TestFollowerShortOfSnapshot SIGKILLs a follower under load and cuts its
// segment logs below the offsets of the last snapshot it stored, as a
// crash between raft storing an installed snapshot and the node fetching
// the records behind it leaves them: raft keeps no entries to refill
// them. Restarted, the follower must fetch what it lacks from the others
// without voting or leading meanwhile, apply every later entry, and end
// with the same records as every other node.
func TestFollowerShortOfSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "40", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(300)
	f := c.follower()
	c.await(60*time.Second, f.id+" storing a snapshot of 100 records or more", func() bool {
		var sum uint64
		for _, next := range lastSnapshotNext(t, f.data, station) {
			sum += next
		}
		return sum >= 100
	})
	c.signal(f, syscall.SIGKILL)
	c.kill(f)
	snap := lastSnapshotNext(t, f.data, station)
	cut := 0
	for p, want := range snap {
		if cutBelow(t, filepath.Join(f.data, "stations", station, strconv.Itoa(p)), want) {
			cut++
		}
	}
	if cut == 0 {
		t.Fatalf("no partition of %s held records below its last snapshot's offsets %v to cut", f.id, snap)
	}
	t.Logf("cut %d partitions of %s below its last snapshot's offsets %v", cut, f.id, snap)
	before, err := os.ReadFile(f.logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	c.start(f)
	w.awaitAcked(w.acked() + 100)
	ops := w.halt()
	check(t, c, station, partitions, ops)

	b, err := os.ReadFile(f.logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b[min(len(before), len(b)):])
	if !strings.Contains(log, "holds fewer records than the last snapshot") {
		t.Errorf("%s did not find its partitions short of its last snapshot", f.id)
	}
	// It fetches what it lacks itself, or the leader, finding it behind,
	// sends it a snapshot whose install fetches the same records.
	if !strings.Contains(log, "fetched the records a partition lacked below the last snapshot") &&
		!strings.Contains(log, "installed a snapshot from the leader") {
		t.Errorf("%s did not fetch the records it lacked", f.id)
	}
	if strings.Contains(log, "handing leadership over") {
		t.Errorf("%s became leader while short of its last snapshot", f.id)
	}
}

// lastSnapshotNext returns, by partition, the next offsets of station in
// the newest complete raft snapshot under data; none when there is none.
func lastSnapshotNext(t *testing.T, data, station string) []uint64 {
	t.Helper()
	newest, _ := newestSnapshot(data)
	if newest == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(newest, "state.bin"))
	if err != nil {
		return nil
	}
	var m struct {
		Stations []struct {
			Config struct {
				Name string `json:"name"`
			} `json:"config"`
			Next []uint64 `json:"next"`
		} `json:"stations"`
	}
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	for _, s := range m.Stations {
		if s.Config.Name == station {
			return s.Next
		}
	}
	return nil
}

// cutBelow cuts the tail segment of the partition log in dir at a batch
// below want (about halfway to it, or the segment's first) and lowers
// the log's high-water mark to match, so that the log opens cleanly,
// shorter than want. It reports whether it cut anything.
func cutBelow(t *testing.T, dir string, want uint64) bool {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(segs) == 0 {
		return false
	}
	slices.Sort(segs)
	tail := segs[len(segs)-1]
	b, err := os.ReadFile(tail)
	if err != nil {
		t.Fatal(err)
	}
	pos, at := -1, uint64(0)
	for p := 0; p < len(b); {
		recs, n, err := seglog.DecodeBatch(b[p:])
		if err != nil {
			break // a torn tail, cut on open anyway
		}
		o := recs[0].Offset
		if o >= want {
			break
		}
		if pos < 0 || o <= want/2 {
			pos, at = p, o
		}
		p += n
	}
	if pos < 0 {
		return false
	}
	if err := os.WriteFile(tail, b[:pos], 0o644); err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(dir, "state.json")
	st := map[string]any{}
	if sb, err := os.ReadFile(statePath); err == nil {
		if err := json.Unmarshal(sb, &st); err != nil {
			t.Fatalf("%s: %v", statePath, err)
		}
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	st["high_water_mark"] = at
	sb, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, sb, 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}
