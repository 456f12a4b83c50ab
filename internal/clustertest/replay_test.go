package clustertest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestDeadLetterReplayResumesOnNewLeader replays one dead letter on the
// leader, SIGKILLs it, and replays the rest on the new leader: the new
// leader knows what was replayed, so every dead letter reaches the
// target exactly once.
func TestDeadLetterReplayResumesOnNewLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of junction processes")
	}
	c := newCluster(t, 3)
	c.createStation("parked", 1, 0)
	c.createStation("orders", 1, 0)
	junction := func(stdin string, args ...string) string {
		t.Helper()
		var servers []string
		for _, n := range c.alive() {
			servers = append(servers, n.api)
		}
		cmd := exec.Command(junctionBin, append([]string{"--server", strings.Join(servers, ",")}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("junction %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	const count = 5
	var lines []string
	for i := range count {
		lines = append(lines, fmt.Sprintf("m%d", i))
	}
	junction(strings.Join(lines, "\n")+"\n", "produce", "parked")
	junction("", "dlq", "replay", "parked", "--offset", "1", "--to", "orders")

	old := c.leader()
	c.kill(old)
	t.Logf("killed leader %s", old.id)
	nl := c.leader()
	out := junction("", "dlq", "replay", "parked", "--all", "--to", "orders")
	t.Logf("replay on the new leader %s: %s", nl.id, strings.TrimSpace(out))

	c.await(30*time.Second, fmt.Sprintf("%d messages in orders", count), func() bool {
		next, err := c.nextOffset(nl, "orders", 0)
		return err == nil && next >= count
	})
	recs, _, err := c.readAll(nl, "orders", 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]int)
	for _, r := range recs {
		seen[string(r.Value)]++
	}
	for _, v := range lines {
		if seen[v] != 1 {
			t.Errorf("dead letter %s reached orders %d times, want once", v, seen[v])
		}
	}
	if len(recs) != count {
		t.Errorf("orders holds %d messages, want %d", len(recs), count)
	}
}
