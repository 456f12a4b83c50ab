package main

import (
	"strings"
	"testing"
)

// TestCLIRemoveNodeKeepsStationReplicas: removing a voter that would
// leave fewer voters than a station's replicas is refused, naming the
// station and what to do; the cluster keeps its voter.
func TestCLIRemoveNodeKeepsStationReplicas(t *testing.T) {
	addr := startClusterOfOne(t)
	waitFor(t, "the node to lead", func() bool {
		out, _, code := runCLI(t, "", "--server", addr, "cluster", "status")
		return code == 0 && strings.Contains(out, "solo  leader")
	})
	cli(t, addr, "", "station", "create", "orders", "--replicas", "1")
	cli(t, addr, "", "station", "create", "events")
	_, errs, code := runCLI(t, "", "--server", addr, "cluster", "remove-node", "solo")
	if code != 1 || !strings.Contains(errs, "removing voter solo would leave 0, fewer than station(s) orders (replicas 1) ask for") ||
		!strings.Contains(errs, "--replicas 0") || strings.Contains(errs, "events") {
		t.Errorf("remove-node solo: exit %d, stderr %q", code, errs)
	}
	if out, _ := cli(t, addr, "", "cluster", "status"); !strings.Contains(out, "solo  leader") {
		t.Errorf("the voter is gone after a refused removal:\n%s", out)
	}
}
