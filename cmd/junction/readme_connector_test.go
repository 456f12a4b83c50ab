package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/junctionhq/junction/server"
)

// TestREADMEConnectorExampleUnderDefaults runs the README's file sink
// example as written, against a broker started the way `make run` starts
// it (data directory ./data, default security settings): its path default
// must lie inside the default file roots.
func TestREADMEConnectorExampleUnderDefaults(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)cat > shipments-to-files.yaml <<'YAML'\n(.*?)\nYAML\n`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README has no shipments-to-files.yaml example")
	}
	plugins := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(plugins, "file"), "../../connectors/file")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the file connector: %v\n%s", err, out)
	}
	t.Chdir(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Options{DataDir: "./data", PluginDirs: []string{plugins},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := ln.Addr().String()
	os.WriteFile("shipments-to-files.yaml", m[1], 0o644)
	cli(t, addr, "", "station", "create", "shipments")
	if out, _ := cli(t, addr, "", "connector", "validate", "-f", "shipments-to-files.yaml"); !strings.Contains(out, "valid") {
		t.Fatalf("validate: %q", out)
	}
	cli(t, addr, "", "connector", "apply", "-f", "shipments-to-files.yaml")
	cli(t, addr, "1\n2\n3\n", "produce", "shipments")
	waitFor(t, "the sink to write under data/exports/shipments", func() bool {
		files, _ := filepath.Glob("data/exports/shipments/*.jsonl*")
		return len(files) > 0
	})
}
