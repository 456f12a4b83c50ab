package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCLISchemas(t *testing.T) {
	addr := startBroker(t)
	dir := t.TempDir()
	v1 := writeTemp(t, dir, "order.json", `{"type":"object","properties":{"qty":{"type":"integer","minimum":1}},"required":["qty"]}`)
	v2bad := writeTemp(t, dir, "order2.json", `{"type":"object","properties":{"qty":{"type":"integer","minimum":1},"sku":{"type":"string"}},"required":["qty","sku"]}`)
	v2 := writeTemp(t, dir, "order3.json", `{"type":"object","properties":{"qty":{"type":"integer","minimum":0}},"required":["qty"]}`)

	_, errs := cli(t, addr, "", "schema", "create", "order", "--file", v1)
	if !strings.Contains(errs, `schema "order" created: version 1, json, compatibility backward`) {
		t.Errorf("create: %q", errs)
	}
	_, errs, code := runCLI(t, "", "--server", addr, "schema", "update", "order", "--file", v2bad)
	if code != 1 || !strings.Contains(errs, `property "sku" became required`) || !strings.Contains(errs, "backward with version 1 at /sku") {
		t.Errorf("incompatible update: exit %d, %q", code, errs)
	}
	cli(t, addr, "", "schema", "update", "order", "--file", v2)
	_, errs, code = runCLI(t, "", "--server", addr, "schema", "create", "x", "--file", filepath.Join(dir, "nope.json"))
	if code != 1 || !strings.Contains(errs, "nope.json") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "schema", "create", "x", "--file", writeTemp(t, dir, "x.txt", "{}"))
	if code != 2 || !strings.Contains(errs, "--type is required") {
		t.Errorf("no type: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "schema", "create", "bad", "--type", "json", "--file", writeTemp(t, dir, "bad.json", `{"type":1}`))
	if code != 1 || !strings.Contains(errs, "bad.json") {
		t.Errorf("bad schema: exit %d, %q", code, errs)
	}

	// Protobuf with an import, named relative to -I.
	writeTemp(t, dir, "proto/shop/v1/item.proto", `syntax = "proto3"; package shop.v1; message Item { string sku = 1; }`)
	order := writeTemp(t, dir, "proto/shop/v1/order.proto", `syntax = "proto3"; package shop.v1; import "shop/v1/item.proto"; message Order { repeated Item items = 1; }`)
	cli(t, addr, "", "schema", "create", "order-pb", "-I", filepath.Join(dir, "proto"), "--file", order, "--file", filepath.Join(dir, "proto/shop/v1/item.proto"), "--message", "shop.v1.Order")

	out, _ := cli(t, addr, "", "schema", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[1], "order ") || !strings.Contains(lines[1], "json") || !strings.Contains(lines[1], " 2 ") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = cli(t, addr, "", "schema", "get", "order", "--version", "1")
	if !strings.Contains(out, `"minimum":1`) || !strings.Contains(out, "Versions:      1, 2") {
		t.Errorf("get:\n%s", out)
	}
	out, _ = cli(t, addr, "", "schema", "get", "order-pb", "-o", "json")
	var g struct {
		Schema  struct{ Name, Type string }
		Version struct {
			Version    int
			Definition struct {
				Message string
				Files   []struct{ Name string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil || g.Schema.Type != "protobuf" || g.Version.Definition.Message != "shop.v1.Order" || g.Version.Definition.Files[1].Name != "shop/v1/item.proto" {
		t.Errorf("get -o json: %v\n%s", err, out)
	}

	cli(t, addr, "", "station", "create", "orders")
	_, errs = cli(t, addr, "", "station", "attach-schema", "orders", "order@1")
	if !strings.Contains(errs, "validates against order@1 (on invalid: reject)") {
		t.Errorf("attach: %q", errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "station", "attach-schema", "orders", "order@x")
	if code != 2 {
		t.Errorf("bad version: exit %d, %q", code, errs)
	}
	_, errs, code = runCLI(t, "", "--server", addr, "station", "attach-schema", "orders", "order", "--on-invalid", "dead-letter")
	if code != 1 || !strings.Contains(errs, "no dead-letter station") {
		t.Errorf("dead-letter without dlq: exit %d, %q", code, errs)
	}
	out, _ = cli(t, addr, "", "station", "describe", "orders")
	if !strings.Contains(out, "order@1 (on invalid: reject)") {
		t.Errorf("describe:\n%s", out)
	}

	// produce shows the validation error verbatim and stores the valid lines.
	_, errs, code = runCLI(t, "{\"qty\":1}\n{\"qty\":0}\n{\"qty\":2}\n", "--server", addr, "produce", "orders")
	if code != 1 || !strings.Contains(errs, "2 messages acked") || !strings.Contains(errs, "1 of 3 messages failed: does not match schema order@1: at /qty: minimum: got 0, want 1") {
		t.Errorf("produce: exit %d, %q", code, errs)
	}
	out, _ = cli(t, addr, "", "consume", "orders", "--group", "g", "--count", "2")
	if out != "{\"qty\":1}\n{\"qty\":2}\n" {
		t.Errorf("consumed %q", out)
	}

	_, errs, code = runCLI(t, "", "--server", addr, "schema", "delete", "order")
	if code != 1 || !strings.Contains(errs, `attached to station(s) orders`) {
		t.Errorf("delete while attached: exit %d, %q", code, errs)
	}
	cli(t, addr, "", "station", "detach-schema", "orders")
	cli(t, addr, "", "schema", "delete", "order")
	_, errs, code = runCLI(t, "", "--server", addr, "schema", "get", "order")
	if code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("get deleted: exit %d, %q", code, errs)
	}
}
