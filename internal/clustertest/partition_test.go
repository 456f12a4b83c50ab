package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// probeProducer numbers the messages a test sends straight to a node cut
// off from the majority; the workload's producers are numbered below it.
const probeProducer = 99

// newProxiedCluster starts size nodes whose every link goes through a
// proxy the test controls.
func newProxiedCluster(t *testing.T, size int, extra ...string) *cluster {
	t.Helper()
	c := prepareCluster(t, size, extra...)
	c.withProxies()
	c.startAll()
	return c
}

// produceTo sends one message of the probe producer to n and returns the
// produce's error (nil when n acknowledged it).
func (c *cluster) produceTo(n *node, seq int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	mc := junctionv1connect.NewMessageServiceClient(c.hc, "http://"+n.api)
	v := value(probeProducer, seq)
	_, err := mc.Produce(ctx, connect.NewRequest(&v1.ProduceRequest{Station: station, Messages: []*v1.Message{{Key: []byte("probe"), Value: []byte(v)}}}))
	return err
}

// assertAbsent fails the test if any node stores a probe message.
func assertProbesAbsent(t *testing.T, c *cluster) {
	t.Helper()
	for _, n := range c.alive() {
		for p := range uint32(partitions) {
			recs, _, err := c.readAll(n, station, p)
			if err != nil {
				t.Fatalf("read partition %d on %s: %v", p, n.id, err)
			}
			for _, r := range recs {
				if prod, _, ok := parseValue(r.Value); ok && prod == probeProducer {
					t.Errorf("%s stores %s at partition %d offset %d, sent only to a leader cut off from the majority", n.id, r.Value, p, r.Offset)
				}
			}
		}
	}
}

// awaitLeaderOtherThan waits until a node other than old leads.
func (c *cluster) awaitLeaderOtherThan(old *node) *node {
	c.t.Helper()
	var l *node
	c.await(60*time.Second, "a leader other than "+old.id, func() bool {
		for _, n := range c.alive() {
			if n == old {
				continue
			}
			if st, err := c.status(n); err == nil && st.State == "leader" {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// awaitNotLeader waits until n no longer says it leads.
func (c *cluster) awaitNotLeader(n *node) {
	c.t.Helper()
	c.await(30*time.Second, n.id+" to step down", func() bool {
		st, err := c.status(n)
		return err == nil && st.State != "leader"
	})
}

// TestPartitionIsolatesLeader cuts the leader off from both followers
// (its links blackholed both ways) under concurrent producers. The
// minority side must acknowledge nothing and step down; the majority
// elects a leader and goes on acknowledging. After the heal the old
// leader's unacknowledged tail is discarded and the history checks out.
func TestPartitionIsolatesLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newProxiedCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(150)

	old := c.leader()
	c.isolate(old, blackhole)
	t.Logf("isolated leader %s", old.id)
	if err := c.produceTo(old, 0); err == nil {
		t.Errorf("%s, cut off from the majority, acknowledged a produce", old.id)
	}
	nl := c.awaitLeaderOtherThan(old)
	t.Logf("%s leads the majority", nl.id)
	c.awaitNotLeader(old)
	if err := c.produceTo(old, 1); err == nil {
		t.Errorf("%s, cut off from the majority, acknowledged a produce after stepping down", old.id)
	}
	w.awaitAcked(150)

	c.heal()
	t.Log("healed")
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
	assertProbesAbsent(t, c)
}

// TestPartitionIsolatesFollower drops every connection to and from a
// follower: the other two go on acknowledging while it falls behind, so
// far that the leader compacts its raft log past it; after the heal it
// installs a snapshot, fetching the records it lacks from the leader's
// cluster port, through its link.
func TestPartitionIsolatesFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newProxiedCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)

	f := c.follower()
	c.isolate(f, drop)
	t.Logf("isolated follower %s", f.id)
	l := c.leader()
	before := newestSnapshotIndex(l.data)
	w.awaitAcked(300)
	// Two snapshots taken after the cut: the raft log is then compacted
	// past everything the follower has (the second keeps only 10 entries
	// behind it, fewer than the 50 between the two).
	var first uint64
	c.await(90*time.Second, l.id+" to take two snapshots after the cut", func() bool {
		i := newestSnapshotIndex(l.data)
		if first == 0 && i > before {
			first = i
		}
		return first != 0 && i > first
	})
	// Only what was in flight when the links dropped may have reached it.
	if have, want := c.total(f), c.total(l); have+200 > want {
		t.Errorf("%s, cut off, holds %d records of the leader's %d: its links do not pass through the proxies", f.id, have, want)
	}
	c.heal()
	t.Log("healed")
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
	b, _ := os.ReadFile(f.logPath)
	if !bytes.Contains(b, []byte("installed a snapshot from the leader")) {
		t.Errorf("%s caught up from the log, not from a snapshot: the scenario did not test what it means to", f.id)
	}
}

// total is the number of records n holds across the test station's
// partitions.
func (c *cluster) total(n *node) uint64 {
	c.t.Helper()
	var sum uint64
	for p := range uint32(partitions) {
		next, err := c.nextOffset(n, station, p)
		if err != nil {
			c.t.Fatalf("next offset of partition %d on %s: %v", p, n.id, err)
		}
		sum += next
	}
	return sum
}

// TestPartitionFlappingLinks cuts links on and off under producers: one
// direction only between the leader and a follower (the follower hears
// nothing but can still be heard), both directions, and the whole leader,
// alternating drop and blackhole.
func TestPartitionFlappingLinks(t *testing.T) {
	if os.Getenv("JUNCTION_CLUSTER_LONG") == "" {
		t.Skip("set JUNCTION_CLUSTER_LONG=1 (make test-cluster) for the long partition scenarios")
	}
	c := newProxiedCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)
	for round := range 9 {
		mode := []linkMode{drop, blackhole}[round%2]
		l := c.leader()
		var f *node
		for _, n := range c.nodes {
			if n != l {
				f = n
				break
			}
		}
		switch round % 3 {
		case 0:
			c.setLink(l, f, mode)
			t.Logf("round %d: %s to %s %v", round, l.id, f.id, mode)
		case 1:
			c.setLink(l, f, mode)
			c.setLink(f, l, mode)
			t.Logf("round %d: %s and %s %v", round, l.id, f.id, mode)
		case 2:
			c.isolate(l, mode)
			t.Logf("round %d: leader %s %v", round, l.id, mode)
		}
		w.awaitAcked(50)
		c.heal()
		w.awaitAcked(30)
	}
	check(t, c, station, partitions, w.halt())
}

// split sets every link between a node of side and one outside it to m.
func (c *cluster) split(side []*node, m linkMode) {
	c.t.Helper()
	in := make(map[*node]bool)
	for _, n := range side {
		in[n] = true
	}
	for _, a := range side {
		for _, b := range c.nodes {
			if !in[b] {
				c.setLink(a, b, m)
				c.setLink(b, a, m)
			}
		}
	}
}

// TestPartitionFiveNodesLeaderInMinority splits a 5-node cluster into
// the leader with one follower, and the other three: the two acknowledge
// nothing, the three elect a leader and go on, and after the heal the
// history checks out.
func TestPartitionFiveNodesLeaderInMinority(t *testing.T) {
	if os.Getenv("JUNCTION_CLUSTER_LONG") == "" {
		t.Skip("set JUNCTION_CLUSTER_LONG=1 (make test-cluster) for the 5-node scenarios")
	}
	c := newProxiedCluster(t, 5)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(150)

	old := c.leader()
	var mate *node
	for _, n := range c.nodes {
		if n != old {
			mate = n
			break
		}
	}
	c.split([]*node{old, mate}, blackhole)
	t.Logf("cut %s (leader) and %s off from the other three", old.id, mate.id)
	if err := c.produceTo(old, 0); err == nil {
		t.Errorf("%s, on the minority side, acknowledged a produce", old.id)
	}
	nl := c.awaitLeaderOtherThan(old)
	if nl == mate {
		t.Fatalf("%s, on the minority side, was elected", mate.id)
	}
	c.awaitNotLeader(old)
	w.awaitAcked(150)
	c.heal()
	t.Log("healed")
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
	assertProbesAbsent(t, c)
}

// newestSnapshotIndex is the raft index of the newest complete snapshot
// under a node's data directory, 0 if there is none.
func newestSnapshotIndex(data string) uint64 {
	_, index := newestSnapshot(data)
	return index
}

// newestSnapshot is the directory and raft index of the newest complete
// snapshot under a node's data directory; "" and 0 if there is none.
func newestSnapshot(data string) (dir string, index uint64) {
	metas, _ := filepath.Glob(filepath.Join(data, "raft", "snapshots", "*", "meta.json"))
	for _, m := range metas {
		if strings.HasSuffix(filepath.Dir(m), ".tmp") {
			continue
		}
		// While the node runs, raft may be reaping it, or writing it.
		b, err := os.ReadFile(m)
		var meta struct{ Index uint64 }
		if err == nil && json.Unmarshal(b, &meta) == nil && meta.Index >= index {
			dir, index = filepath.Dir(m), meta.Index
		}
	}
	return dir, index
}
