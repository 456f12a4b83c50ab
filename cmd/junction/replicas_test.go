package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

func TestCLIStationReplicasOnASingleNode(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders", "--replicas", "1")
	out, _ := cli(t, addr, "", "station", "describe", "orders")
	if !regexp.MustCompile(`(?m)^Replicas:\s+1$`).MatchString(out) {
		t.Errorf("describe does not show 1 replica:\n%s", out)
	}
	cli(t, addr, "", "station", "create", "events")
	out, _ = cli(t, addr, "", "station", "describe", "events", "-o", "json")
	var st stationJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Replicas != 1 {
		t.Errorf("describe -o json of a default station: %v, replicas %d, want 1\n%s", err, st.Replicas, out)
	}

	_, errs, code := runCLI(t, "", "--server", addr, "station", "create", "jobs", "--replicas", "3")
	if code != 1 || !strings.Contains(errs, "replicas 3 for station jobs: a single node keeps one copy of every station; use 1 or leave it unset") {
		t.Errorf("create --replicas 3: exit %d, stderr %q", code, errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "station", "update", "orders", "--replicas", "2")
	if code != 1 || !strings.Contains(errs, "replicas 2 for station orders") {
		t.Errorf("update --replicas 2: exit %d, stderr %q", code, errs)
	}
	cli(t, addr, "", "station", "update", "orders", "--replicas", "1")
	for _, cmd := range [][]string{{"create", "x"}, {"update", "orders"}} {
		args := append([]string{"--server", addr, "station"}, cmd...)
		if _, errs, code := runCLI(t, "", append(args, "--replicas", "-1")...); code != 2 || !strings.Contains(errs, "--replicas") {
			t.Errorf("station %s --replicas -1: exit %d, stderr %q", cmd[0], code, errs)
		}
	}
}

// TestCLIStationReplicasOnAClusterOfOne checks the count a cluster's
// voters set: a one-node cluster accepts 1 and refuses 3.
func TestCLIStationReplicasOnAClusterOfOne(t *testing.T) {
	addr := startClusterOfOne(t)
	waitFor(t, "the node to lead", func() bool {
		out, _, code := runCLI(t, "", "--server", addr, "cluster", "status")
		return code == 0 && strings.Contains(out, "solo  leader")
	})
	_, errs, code := runCLI(t, "", "--server", addr, "station", "create", "orders", "--replicas", "3")
	if code != 1 || !strings.Contains(errs, "replicas 3 for station orders: this cluster has one voter, which keeps every station; use 1 or leave it unset") {
		t.Errorf("create --replicas 3: exit %d, stderr %q", code, errs)
	}
	cli(t, addr, "", "station", "create", "orders", "--replicas", "1")
	out, _ := cli(t, addr, "", "station", "describe", "orders", "-o", "json")
	var st stationJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Replicas != 1 {
		t.Errorf("describe -o json: %v, replicas %d, want 1\n%s", err, st.Replicas, out)
	}
}
