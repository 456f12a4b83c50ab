package clustertest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStationRepairOnMember flips a byte in a stopped follower's segment
// and, once it is back, runs junction station repair against it: the
// repair succeeds by rebuilding the partition from the leader's copy, and
// the follower then holds the leader's records byte for byte.
func TestStationRepairOnMember(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation(station, partitions, time.Hour)
	w := startWorkload(c, station, producers, withIDs)
	w.awaitAcked(300)
	check(t, c, station, partitions, w.halt())

	f := c.follower()
	c.stop(f)
	flipByte(t, f, station, 0)
	c.start(f)
	out, err := exec.Command(junctionBin, "--server", f.api, "station", "repair", station, "--partition", "0", "--skip").CombinedOutput()
	if err != nil {
		t.Fatalf("station repair on member %s: %v\n%s", f.id, err, out)
	}
	if !strings.Contains(string(out), "no damage to repair") {
		t.Errorf("station repair on member %s reports lost offsets:\n%s", f.id, out)
	}
	l := c.leader()
	theirs, _, err := c.readAll(l, station, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, _, err := c.readAll(f, station, 0)
	if err != nil {
		t.Fatalf("read the repaired partition on %s: %v", f.id, err)
	}
	if len(ours) != len(theirs) {
		t.Fatalf("%s holds %d records after the repair, the leader %d", f.id, len(ours), len(theirs))
	}
	for i := range ours {
		if !sameRecord(ours[i], theirs[i]) {
			t.Fatalf("offset %d differs between %s and the leader after the repair", theirs[i].Offset, f.id)
		}
	}
}
