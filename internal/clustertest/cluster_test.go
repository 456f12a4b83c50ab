package clustertest

import (
	"testing"
)

// TestKillLeaderAndFollower SIGKILLs the leader, then a follower, under
// concurrent producers, restarting each, and checks the history.
func TestKillLeaderAndFollower(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	const station, partitions = "jepsen", 2
	c.createStation(station, partitions)
	w := startWorkload(c, station, 4)
	w.awaitAcked(200)

	old := c.leader()
	c.kill(old)
	t.Logf("killed leader %s", old.id)
	w.awaitAcked(200)
	c.start(old)

	var follower *node
	l := c.leader()
	for _, n := range c.alive() {
		if n != l {
			follower = n
			break
		}
	}
	c.kill(follower)
	t.Logf("killed follower %s", follower.id)
	w.awaitAcked(200)
	c.start(follower)
	w.awaitAcked(100)

	check(t, c, station, partitions, w.halt())
}
