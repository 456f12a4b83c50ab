package main

import (
	"strings"
	"testing"
)

func TestCLIDurationsPrintAsAccepted(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "events", "--retention-age", "30d", "--dedup-window", "1h30m")
	out, _ := cli(t, addr, "", "station", "describe", "events")
	if !strings.Contains(out, "age 30d") || !strings.Contains(out, "Dedup window:        1h30m") {
		t.Errorf("describe:\n%s", out)
	}
	cli(t, addr, "", "station", "update", "events", "--retention-age", "2w")
	out, _ = cli(t, addr, "", "station", "describe", "events", "-o", "json")
	if !strings.Contains(out, `"max_age": "2w"`) || !strings.Contains(out, `"dedup_window": "1h30m"`) {
		t.Errorf("describe -o json:\n%s", out)
	}
}

func TestCLIProduceSaysDuplicatesDropped(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders", "--dedup-window", "2m")
	_, errs := cli(t, addr, "", "produce", "orders", "--id", "order-1", "x")
	if strings.TrimSpace(errs) != "1 message acked" {
		t.Fatalf("first produce: %q", errs)
	}
	_, errs = cli(t, addr, "", "produce", "orders", "--id", "order-1", "x")
	if strings.TrimSpace(errs) != "1 duplicate dropped" {
		t.Fatalf("repeated id: %q", errs)
	}
	out, _ := cli(t, addr, "", "station", "describe", "orders", "-o", "json")
	if !strings.Contains(out, `"messages": 1`) {
		t.Fatalf("the duplicate was stored:\n%s", out)
	}
}
