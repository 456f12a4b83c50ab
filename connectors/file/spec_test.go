package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateSpec = flag.Bool("update-spec", false, "rewrite testdata/spec.golden.json")

// TestSpecGolden keeps the connector's spec (its config fields, docs and
// defaults) in testdata, so that a change to the config is a visible diff
// and the catalog entry and docs generated from it do not drift silently.
func TestSpecGolden(t *testing.T) {
	got, err := json.MarshalIndent(definition().Spec(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "spec.golden.json")
	if *updateSpec {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test -run TestSpecGolden . -args -update-spec)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the spec changed; review it and run: go test -run TestSpecGolden . -args -update-spec\ngot:\n%s", got)
	}
}
