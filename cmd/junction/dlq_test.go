package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCLIDeadLetters(t *testing.T) {
	addr := startBroker(t)
	dir := t.TempDir()
	cli(t, addr, "", "station", "create", "orders-dlq")
	cli(t, addr, "", "station", "create", "orders", "--dlq", "orders-dlq")
	cli(t, addr, "", "schema", "create", "order", "--file", writeTemp(t, dir, "order.json", `{"type":"object","required":["qty"]}`))
	cli(t, addr, "", "station", "attach-schema", "orders", "order", "--on-invalid", "dead-letter")

	_, errs := cli(t, addr, "{\"qty\":1}\n{\"n\":1}\n{\"n\":2}\n", "produce", "orders")
	if !strings.Contains(errs, "3 messages acked\n  2 of them failed the station's schema and went to its dead-letter station") {
		t.Errorf("produce: %q", errs)
	}
	out, _ := cli(t, addr, "", "dlq", "list", "orders-dlq")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PARTITION") || !strings.Contains(lines[1], "schema") || !strings.Contains(lines[1], "orders") ||
		!strings.Contains(lines[1], "order@1 at /: required:") || !strings.Contains(lines[1], " no ") {
		t.Errorf("dlq list:\n%s", out)
	}
	out, _ = cli(t, addr, "", "dlq", "list", "orders-dlq", "-o", "json")
	var dls []deadLetterJSON
	if err := json.Unmarshal([]byte(out), &dls); err != nil || len(dls) != 2 || dls[0].Reason != "schema" || dls[0].OriginStation != "orders" ||
		dls[0].OriginOffset != nil || *dls[1].Value != `{"n":2}` || dls[0].Schema != "order@1" || dls[0].Replayed {
		t.Fatalf("dlq list -o json: %v\n%s", err, out)
	}

	_, errs, code := runCLI(t, "", "--server", addr, "dlq", "replay", "orders-dlq")
	if code != 2 || !strings.Contains(errs, "exactly one of --offset N and --all") {
		t.Errorf("replay without selection: exit %d, %q", code, errs)
	}
	// Fix the cause, then replay: once, however often it runs.
	cli(t, addr, "", "schema", "update", "order", "--compatibility", "none", "--file", writeTemp(t, dir, "order2.json", `{"type":"object"}`))
	cli(t, addr, "", "station", "attach-schema", "orders", "order")
	_, errs = cli(t, addr, "", "dlq", "replay", "orders-dlq", "--offset", "1")
	if !strings.Contains(errs, "1 message replayed") {
		t.Errorf("replay one: %q", errs)
	}
	_, errs = cli(t, addr, "", "dlq", "replay", "orders-dlq", "--all")
	if !strings.Contains(errs, "1 message replayed, 1 already replayed before") {
		t.Errorf("replay all: %q", errs)
	}
	_, errs = cli(t, addr, "", "dlq", "replay", "orders-dlq", "--all")
	if !strings.Contains(errs, "0 messages replayed, 2 already replayed before") {
		t.Errorf("replay all again: %q", errs)
	}
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "3")
	if out != "{\"qty\":1}\n{\"n\":2}\n{\"n\":1}\n" {
		t.Errorf("origin holds %q", out)
	}

	_, errs = cli(t, addr, "", "dlq", "purge", "orders-dlq")
	if !strings.Contains(errs, `2 messages purged from "orders-dlq"`) {
		t.Errorf("purge: %q", errs)
	}
	out, _ = cli(t, addr, "", "dlq", "list", "orders-dlq", "-o", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("after purge: %s", out)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "dlq", "list", "nope")
	if code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("missing station: exit %d, %q", code, errs)
	}
}
