package clustertest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// flipByte flips one byte a third of the way into the first segment of a
// partition of n's station, in place (n may be running), and returns the
// file.
func flipByte(t *testing.T, n *node, station string, partition uint32) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(n.data, "stations", station, strconv.Itoa(int(partition)), "*.log"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segment of %s partition %d on %s: %v", station, partition, n.id, err)
	}
	path := segs[0]
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 1024 {
		t.Fatalf("segment %s holds only %d bytes", path, fi.Size())
	}
	b := make([]byte, 1)
	at := fi.Size() / 3
	if _, err := f.ReadAt(b, at); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x5a
	if _, err := f.WriteAt(b, at); err != nil {
		t.Fatal(err)
	}
	return path
}

// memberState returns what n's status says of member id.
func (c *cluster) memberState(n *node, id string) (voter, repairing, found bool) {
	st, err := c.status(n)
	if err != nil {
		return false, false, false
	}
	for _, m := range st.Nodes {
		if m.Id == id {
			return m.Voter, m.Repairing, true
		}
	}
	return false, false, false
}

// TestCorruptFollowerRebuilds flips a byte in a stopped follower's
// segment and starts it again under producers, unable at first to reach
// the leader: its status must say it is repairing. Once it can, it must
// have the leader demote it, rebuild the partition from the leader's copy
// (keeping the damaged files in quarantine) and vote again, with replicas
// byte for byte identical and every acknowledged record in place.
func TestCorruptFollowerRebuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newProxiedCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(300)

	f, l := c.follower(), c.leader()
	c.stop(f)
	seg := flipByte(t, f, station, 0)
	t.Logf("flipped a byte in %s of %s", filepath.Base(seg), f.id)
	// The leader still reaches f (raft), f cannot ask it for anything.
	c.setLink(f, l, blackhole)
	c.start(f)
	// Cut off from the leader, f cannot learn whether it has caught up,
	// so it answers callers without credentials "catching up"; its log
	// says it is damaged.
	if _, err := c.status(f); catchingUp(err) {
		if b, _ := os.ReadFile(f.logPath); !bytes.Contains(b, []byte("damaged partitions found at start")) {
			t.Errorf("%s, started with a damaged partition, does not say it is damaged:\n%s", f.id, tail(b, 2000))
		}
	} else if _, repairing, found := c.memberState(f, f.id); !found || !repairing {
		t.Errorf("%s, started with a damaged partition, does not report itself repairing (found %v)", f.id, found)
	}
	w.awaitAcked(100)
	c.heal()
	t.Log("healed")

	logHas := func(n *node, s string) bool {
		b, _ := os.ReadFile(n.logPath)
		return bytes.Contains(b, []byte(s))
	}
	c.await(90*time.Second, f.id+" to rebuild the partition and vote again", func() bool {
		if !logHas(f, "repaired; a voter again") {
			return false
		}
		ldr := c.leaderNow()
		if ldr == nil {
			return false
		}
		voter, repairing, found := c.memberState(ldr, f.id)
		return found && voter && !repairing
	})
	b, _ := os.ReadFile(f.logPath)
	for _, line := range bytes.Split(b, []byte("\n")) {
		if bytes.Contains(line, []byte("damaged")) || bytes.Contains(line, []byte("rebuil")) || bytes.Contains(line, []byte("voter")) {
			t.Logf("%s: %s", f.id, line)
		}
	}
	for _, want := range []string{"damaged partitions found at start", "partition rebuilt from the leader's copy"} {
		if !logHas(f, want) {
			t.Errorf("%s's log lacks %q", f.id, want)
		}
	}
	demoted := false
	for _, n := range c.nodes {
		demoted = demoted || logHas(n, "node demoted to a non-voter while it repairs damaged partitions")
	}
	if !demoted {
		t.Error("no leader demoted the damaged node")
	}
	quarantined, _ := filepath.Glob(filepath.Join(f.data, "quarantine", station, "0-*", filepath.Base(seg)))
	if len(quarantined) != 1 {
		t.Errorf("the damaged segment is not kept in quarantine: %v", quarantined)
	}
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
}

// TestCorruptLeaderStepsDown flips a byte in the running leader's
// segment and reads the partition there: the leader finds the damage,
// hands leadership over, and rebuilds like a follower.
func TestCorruptLeaderStepsDown(t *testing.T) {
	if os.Getenv("JUNCTION_CLUSTER_LONG") == "" {
		t.Skip("set JUNCTION_CLUSTER_LONG=1 (make test-cluster) for the longer scenarios")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(300)

	l := c.leader()
	seg := flipByte(t, l, station, 0)
	t.Logf("flipped a byte in %s of leader %s", filepath.Base(seg), l.id)
	if _, _, err := c.readAll(l, station, 0); err == nil {
		t.Fatalf("%s read its damaged partition without an error", l.id)
	}
	nl := c.awaitLeaderOtherThan(l)
	t.Logf("%s leads", nl.id)
	c.await(90*time.Second, l.id+" to rebuild the partition and vote again", func() bool {
		b, _ := os.ReadFile(l.logPath)
		if !bytes.Contains(b, []byte("repaired; a voter again")) {
			return false
		}
		ldr := c.leaderNow()
		if ldr == nil {
			return false
		}
		voter, repairing, found := c.memberState(ldr, l.id)
		return found && voter && !repairing
	})
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
}
