package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// fileLines returns the (partition, offset) of every line the file sink
// wrote under dir, finished files and the one being written alike. A
// file the sink finishes between the listing and the read is renamed
// away: the listing is then taken again.
func fileLines(t *testing.T, dir string) [][2]uint64 {
	t.Helper()
	for range 100 {
		out, err := readFileLines(dir)
		if errors.Is(err, errRenamed) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("the files under %s kept being renamed while read", dir)
	return nil
}

var errRenamed = errors.New("a listed file was renamed before it was read")

func readFileLines(dir string) ([][2]uint64, error) {
	var out [][2]uint64
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".jsonl") && !strings.HasSuffix(e.Name(), ".jsonl.partial") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errRenamed
		}
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var r struct {
				Partition uint32 `json:"partition"`
				Offset    uint64 `json:"offset"`
			}
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue // a line being written
			}
			out = append(out, [2]uint64{uint64(r.Partition), r.Offset})
		}
		f.Close()
	}
	return out, nil
}

// TestPinnedFileSinkRunsOnItsFollower pins the file sink to a follower:
// it runs there, not on the leader, its group calls going to the leader,
// and across a leader change under producers it writes every stored
// record exactly once.
func TestPinnedFileSinkRunsOnItsFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	plugins := buildPlugin(t, "file")
	roots := t.TempDir()
	c := newCluster(t, 3, "--plugins", plugins, "--file-roots", roots)
	c.createStation(station, partitions, time.Hour)
	pin := c.follower()
	dir := filepath.Join(roots, pin.id)
	def := fmt.Sprintf("name: files\nconnector: file\nkind: sink\nstation: %s\nnode: %s\nbatch: {max_records: 50, max_wait: 50ms}\nconfig:\n  dir: %s\n  rotate: {max_records: 200}\n",
		station, pin.id, dir)
	c.applyOnLeader("the pinned file sink", def)
	c.awaitPlacement("files", pin)

	w := startWorkload(c, station, producers, producers)
	w.awaitAcked(300)
	c.await(60*time.Second, "the pinned sink to write some records", func() bool { return len(fileLines(t, dir)) > 0 })
	// Should the leadership have moved to pin on a starved machine, hand
	// it on: the leader killed is never the sink's node.
	l := c.leader()
	if l == pin {
		c.transferTo(c.other(pin))
		l = c.leader()
	}
	c.kill(l)
	t.Logf("killed leader %s", l.id)
	nl := c.leader()
	if nl == pin {
		// Keep the sink on a follower: hand the leadership on.
		nl = c.other(pin)
		c.transferTo(nl)
	}
	t.Logf("%s leads; the sink stays on %s", nl.id, pin.id)
	w.awaitAcked(300)
	ops := w.halt()
	check(t, c, station, partitions, ops)

	want := make(map[[2]uint64]bool)
	for p := range uint32(partitions) {
		recs, _, err := c.readAll(nl, station, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			want[[2]uint64{uint64(p), r.Offset}] = true
		}
	}
	c.await(90*time.Second, fmt.Sprintf("all %d stored records in the files", len(want)), func() bool {
		return len(fileLines(t, dir)) >= len(want)
	})
	// Cut off by the leader's death, the sink restarted and resumed; it
	// runs on its follower again.
	c.awaitPlacement("files", pin)
	seen := make(map[[2]uint64]int)
	for _, k := range fileLines(t, dir) {
		seen[k]++
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("partition %d offset %d is in the files %d times, want once", k[0], k[1], seen[k])
		}
		delete(seen, k)
	}
	for k, n := range seen {
		t.Errorf("the files hold partition %d offset %d (%d times), which the station does not", k[0], k[1], n)
	}
	t.Logf("%d records, each once in the files of follower %s across the leader change", len(want), pin.id)
}

// TestPinnedFileSourceRunsOnItsFollower pins the file source to a
// follower: it reads that node's file and its produces and checkpoints go
// to the leader; across a leader change it resumes from its checkpoint,
// and every line reaches the station once.
func TestPinnedFileSourceRunsOnItsFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	plugins := buildPlugin(t, "file")
	roots := t.TempDir()
	c := newCluster(t, 3, "--plugins", plugins, "--file-roots", roots)
	const st = "lines"
	c.createStation(st, 1, time.Hour)
	pin := c.follower()
	in := filepath.Join(roots, pin.id+".txt")
	appendLines := func(from, to int) {
		t.Helper()
		f, err := os.OpenFile(in, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			fmt.Fprintf(f, "line-%04d\n", i)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	appendLines(0, 100)
	def := fmt.Sprintf("name: reader\nconnector: file\nkind: source\nstation: %s\nnode: %s\nconfig:\n  glob: %s\n  format: lines\n  poll_interval: 50ms\n",
		st, pin.id, in)
	c.applyOnLeader("the pinned file source", def)
	c.awaitPlacement("reader", pin)
	c.await(60*time.Second, "the first 100 lines in the station", func() bool {
		next, err := c.nextOffset(pin, st, 0)
		return err == nil && next >= 100
	})

	// Move the leadership away from the node that leads, to the node
	// that is neither it nor pin.
	l := c.leader()
	var other *node
	for _, n := range c.alive() {
		if n != l && n != pin {
			other = n
		}
	}
	c.transferTo(other)
	appendLines(100, 200)
	c.await(90*time.Second, "all 200 lines in the station", func() bool {
		next, err := c.nextOffset(other, st, 0)
		return err == nil && next >= 200
	})
	c.awaitPlacement("reader", pin)
	// The source's checkpoints reached the leader, through the cluster.
	c.await(30*time.Second, "the leader to hold the source's checkpoint", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.connectorClient(other).GetConnector(ctx, connect.NewRequest(&v1.GetConnectorRequest{Name: "reader"}))
		return err == nil && resp.Msg.Connector.GetCheckpoint() != ""
	})
	recs, _, err := c.readAll(other, st, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for i := range 200 {
		if v := fmt.Sprintf("line-%04d", i); seen[v] != 1 {
			t.Errorf("%s is in the station %d times, want once", v, seen[v])
		}
	}
	if len(recs) != 200 {
		t.Errorf("the station holds %d records, want 200", len(recs))
	}
}

// applyOnLeader applies the connector definition def on whichever node
// leads, until it takes it.
func (c *cluster) applyOnLeader(what, def string) {
	c.t.Helper()
	c.onLeader(90*time.Second, what+" applied", func(l *node) bool {
		err := c.applyConnector(l, def)
		if err != nil {
			c.t.Logf("apply %s on %s: %v", what, l.id, err)
		}
		return err == nil
	})
}

// other returns a live node other than n.
func (c *cluster) other(n *node) *node {
	c.t.Helper()
	for _, o := range c.alive() {
		if o != n {
			return o
		}
	}
	c.t.Fatalf("no live node other than %s", n.id)
	return nil
}
