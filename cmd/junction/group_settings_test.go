package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCLIGroupSettings(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders")
	cli(t, addr, "a\nb\n", "produce", "orders")
	_, errs := cli(t, addr, "", "group", "create", "orders", "billing", "--ack-deadline", "2m", "--max-deliveries", "10", "--max-ack-pending", "500", "--from", "latest")
	if !strings.Contains(errs, `group "billing" of station "orders" created (lag 0)`) {
		t.Fatalf("create: %q", errs)
	}
	var g struct {
		AckDeadline   string `json:"ack_deadline"`
		MaxDeliveries any    `json:"max_deliveries"`
		MaxAckPending int    `json:"max_ack_pending"`
	}
	out, _ := cli(t, addr, "", "group", "describe", "orders", "billing", "-o", "json")
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.AckDeadline != "2m" || g.MaxDeliveries != float64(10) || g.MaxAckPending != 500 {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	if _, errs, code := runCLI(t, "", "--server", addr, "group", "create", "orders", "billing"); code != 1 || !strings.Contains(errs, "billing") {
		t.Fatalf("second create: exit %d %q", code, errs)
	}

	// consume creates a group with the same settings.
	cli(t, addr, "", "consume", "orders", "--group", "workers", "--count", "2", "--ack-deadline", "1h30m", "--max-deliveries", "unlimited")
	out, _ = cli(t, addr, "", "group", "describe", "orders", "workers")
	if !strings.Contains(out, "Ack deadline:    1h30m") || !strings.Contains(out, "Max deliveries:  unlimited") {
		t.Fatalf("describe a group consume created:\n%s", out)
	}
	for _, bad := range [][]string{{"--max-deliveries", "0"}, {"--max-ack-pending", "-1"}, {"--ack-deadline", "soon"}} {
		if _, _, code := runCLI(t, "", append([]string{"--server", addr, "group", "create", "orders", "x"}, bad...)...); code != 2 {
			t.Errorf("group create %v: exit %d, want 2", bad, code)
		}
	}
}

func TestCLIStationGrowsPartitions(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders", "--partitions", "2")
	cli(t, addr, "a\nb\nc\n", "produce", "orders")
	cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "3")
	cli(t, addr, "", "station", "update", "orders", "--partitions", "4")
	out, _ := cli(t, addr, "", "station", "describe", "orders", "-o", "json")
	var st stationJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Partitions != 4 || len(st.Stats.Partitions) != 4 || st.Stats.Messages != 3 {
		t.Fatalf("after growing: %v\n%s", err, out)
	}
	cli(t, addr, "d\ne\nf\ng\n", "produce", "orders")
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "4")
	if len(strings.Fields(out)) != 4 {
		t.Fatalf("consumed after growing:\n%s", out)
	}
	if _, errs, code := runCLI(t, "", "--server", addr, "station", "update", "orders", "--partitions", "2"); code != 1 || !strings.Contains(errs, "can only grow") {
		t.Fatalf("shrink: exit %d %q", code, errs)
	}
}
