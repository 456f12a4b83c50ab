package connectortest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

var updateSpec = flag.Bool("update-spec", false, "rewrite the connector's golden spec (SpecGolden)")

// SpecGolden compares def's spec (config fields, docs, defaults) with the
// golden file testdata/spec.golden.json, so that a change to a connector's
// config is a visible diff and the docs and catalog entries built from the
// spec do not drift silently. Run the test with -args -update-spec to
// rewrite the file after reviewing the change.
func SpecGolden(t *testing.T, def connector.Definition) {
	t.Helper()
	got, err := json.MarshalIndent(def.Spec(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "spec.golden.json")
	if *updateSpec {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with: go test -run %s . -args -update-spec)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the spec of %s changed; review it and run: go test -run %s . -args -update-spec\ngot:\n%s", def.Name, t.Name(), got)
	}
}
