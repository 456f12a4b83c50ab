package main

import (
	"strings"
	"testing"
)

// peek prints stored messages from an offset without creating or moving a
// consumer group.
func TestCLIPeek(t *testing.T) {
	addr := startBroker(t)
	cli(t, addr, "", "station", "create", "orders")
	cli(t, addr, "a\nb\nc\nd\n", "produce", "orders")
	out, errs := cli(t, addr, "", "peek", "orders", "--from", "1", "-n", "2")
	if out != "b\nc\n" || !strings.Contains(errs, "next 3") {
		t.Fatalf("peek from 1: stdout %q, stderr %q", out, errs)
	}
	out, _ = cli(t, addr, "", "peek", "orders", "-o", "json", "-n", "1")
	if !strings.Contains(out, `"offset":0`) || !strings.Contains(out, `"value":"a"`) {
		t.Fatalf("peek -o json: %q", out)
	}
	if out, _ := cli(t, addr, "", "group", "list", "orders", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("peek left a group behind: %q", out)
	}
	if _, errs, code := runCLI(t, "", "--server", addr, "peek", "orders", "-p", "7"); code == 0 || !strings.Contains(errs, "partition") {
		t.Fatalf("peek a missing partition: exit %d, %q", code, errs)
	}
}
