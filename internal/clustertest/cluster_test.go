package clustertest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	station    = "jepsen"
	partitions = 2
	// producers write concurrently; the first withIDs use message ids and
	// retry unknown outcomes.
	producers, withIDs = 4, 2
)

// TestKillLeaderAndFollower SIGKILLs the leader, then a follower, under
// concurrent producers, restarting each, and checks the history.
func TestKillLeaderAndFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(200)

	old := c.leader()
	c.kill(old)
	t.Logf("killed leader %s", old.id)
	w.awaitAcked(200)
	c.start(old)

	follower := c.follower()
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)
	w.awaitAcked(200)
	c.start(follower)
	w.awaitAcked(100)

	check(t, c, station, partitions, w.halt())
}

// TestPausedLeader SIGSTOPs the leader until the others elect a new one
// and take produces, then resumes it: the old leader must step down and
// catch up without its stale term storing anything.
func TestPausedLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(200)

	old := c.leader()
	c.signal(old, syscall.SIGSTOP)
	t.Logf("paused leader %s", old.id)
	c.await(60*time.Second, "a new leader", func() bool {
		for _, n := range c.alive() {
			if n == old {
				continue
			}
			if st, err := c.status(n); err == nil && st.State == "leader" {
				return true
			}
		}
		return false
	})
	w.awaitAcked(200)
	c.signal(old, syscall.SIGCONT)
	t.Logf("resumed %s", old.id)
	w.awaitAcked(200)

	check(t, c, station, partitions, w.halt())
}

// TestFollowerCatchesUpFromSnapshot keeps a follower down while the
// others snapshot and compact their raft logs past it, so on restart it
// must install a snapshot: a manifest from which it fetches the records it
// lacks from the leader.
func TestFollowerCatchesUpFromSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3, "--cluster-snapshot-threshold", "50", "--cluster-trailing-logs", "10", "--cluster-snapshot-interval", "200ms")
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)

	follower := c.follower()
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)
	w.awaitAcked(400)
	c.start(follower)
	w.awaitAcked(100)

	check(t, c, station, partitions, w.halt())
	b, _ := os.ReadFile(follower.logPath)
	if !bytes.Contains(b, []byte("installed a snapshot from the leader")) {
		t.Errorf("%s caught up from the log, not from a snapshot: the scenario did not test what it means to", follower.id)
	}
}

// TestRollingRestart stops every node in turn with SIGTERM and starts it
// again, as an upgrade would, under producers.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)
	for _, n := range c.nodes {
		c.stop(n)
		t.Logf("stopped %s", n.id)
		w.awaitAcked(50)
		c.start(n)
		c.waitMembers(len(c.nodes))
		w.awaitAcked(50)
	}
	check(t, c, station, partitions, w.halt())
}

// TestFiveNodesLoseTwo kills the leader and a follower of a 5-node cluster
// at once; the other three keep acknowledging produces.
func TestFiveNodesLoseTwo(t *testing.T) {
	if os.Getenv("JUNCTION_CLUSTER_LONG") == "" {
		t.Skip("set JUNCTION_CLUSTER_LONG=1 (make test-cluster) for the 5-node scenarios")
	}
	c := newCluster(t, 5)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(200)
	l, f := c.leader(), c.follower()
	c.kill(l)
	c.kill(f)
	t.Logf("killed leader %s and follower %s", l.id, f.id)
	w.awaitAcked(300)
	c.start(l)
	c.start(f)
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
}

// TestCLIFollowsTheLeader points the CLI at a follower (and a dead
// address first): its writes reach the leader and every node stores them.
func TestCLIFollowsTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	f := c.follower()
	servers := "127.0.0.1:1," + f.api
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(junctionBin, append([]string{"--server", servers}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("junction %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("", "station", "create", "cli", "--partitions", "1")
	if out := run("a\nb\nc\n", "produce", "cli"); !strings.Contains(out, "3 messages acked") {
		t.Errorf("produce through a follower: %s", out)
	}
	c.await(30*time.Second, "every node to hold the 3 messages", func() bool {
		for _, n := range c.alive() {
			if next, err := c.nextOffset(n, "cli", 0); err != nil || next != 3 {
				return false
			}
		}
		return true
	})
}

// TestReplaceANode removes a follower from the cluster (through the CLI,
// sent to a follower so it must reach the leader), stops it, and adds a
// new, empty node, which must catch up on everything, under producers.
func TestReplaceANode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(100)

	gone := c.follower()
	var via *node
	for _, n := range c.alive() {
		if n != gone && n != c.leaderNow() {
			via = n
		}
	}
	if via == nil {
		via = gone
	}
	out, err := exec.Command(junctionBin, "--server", via.api, "cluster", "remove-node", gone.id).CombinedOutput()
	if err != nil {
		t.Fatalf("cluster remove-node %s: %v\n%s", gone.id, err, out)
	}
	c.kill(gone)
	t.Logf("removed %s", gone.id)
	w.awaitAcked(100)

	added := c.addNode()
	t.Logf("added %s", added.id)
	w.awaitAcked(100)
	check(t, c, station, partitions, w.halt())
	if st, err := c.status(c.leader()); err != nil || len(st.Nodes) != 3 {
		t.Errorf("members after the replacement: %v (%v)", st, err)
	}
}
