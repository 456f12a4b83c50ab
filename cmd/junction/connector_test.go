package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionhq/junction/server"
)

// startBrokerWithPlugins runs a broker whose plugin directory holds the
// file connector, built for the test.
func startBrokerWithPlugins(t *testing.T) (addr, pluginDir string) {
	t.Helper()
	pluginDir = t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "file"), "../../connectors/file")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the file connector: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.Start(context.Background(), server.Options{
		DataDir: t.TempDir(), PluginDirs: []string{pluginDir},
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Security: server.SecurityOptions{FileRoots: []string{os.TempDir()}},
	}, ln)
	if err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), pluginDir
}

func TestCLIConnectors(t *testing.T) {
	addr, plugins := startBrokerWithPlugins(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	def := filepath.Join(dir, "sink.yaml")
	os.WriteFile(def, []byte("name: files\nconnector: file@^1\nkind: sink\nstation: orders\nbatch: {max_wait: 10ms}\nconfig:\n  dir: "+out+"\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: files\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dri: x\n"), 0o644)

	// Offline validation needs no broker.
	stdout, _, code := runCLI(t, "", "connector", "validate", "--offline", "-f", def, "--plugins", plugins)
	if code != 0 || !strings.Contains(stdout, "valid (plugin file@1.0.0)") {
		t.Fatalf("validate: exit %d, %q", code, stdout)
	}
	_, stderr, code := runCLI(t, "", "connector", "validate", "--offline", "-f", bad, "--plugins", plugins)
	if code != 1 || !strings.Contains(stderr, bad+`:6:3: config.dri: unknown field, did you mean "dir"?`) || !strings.Contains(stderr, bad+":5:1: config.dir: required") {
		t.Fatalf("validate bad: exit %d, stderr %q", code, stderr)
	}

	cli(t, addr, "", "station", "create", "orders")
	_, stderr, code = runCLI(t, "", "--server", addr, "connector", "apply", "-f", bad)
	if code != 1 || !strings.Contains(stderr, "config.dri: unknown field") {
		t.Fatalf("apply bad: exit %d, stderr %q", code, stderr)
	}
	_, stderr = cli(t, addr, "", "connector", "apply", "-f", def)
	if !strings.Contains(stderr, `connector "files" created (sink from orders, plugin file@1.0.0)`) {
		t.Fatalf("apply stderr %q", stderr)
	}
	cli(t, addr, "a\nb\nc\n", "produce", "orders")
	waitFor(t, "the sink to write 3 records", func() bool {
		stdout, _ := cli(t, addr, "", "connector", "status", "files")
		return strings.Contains(stdout, "Records out:          3") && strings.Contains(stdout, "Lag:                  0")
	})
	stdout, _ = cli(t, addr, "", "connector", "list")
	if !strings.Contains(stdout, "files") || !strings.Contains(stdout, "running") {
		t.Fatalf("list: %q", stdout)
	}
	stdout, _ = cli(t, addr, "", "plugin", "list", "-o", "json")
	if !strings.Contains(stdout, `"name": "file"`) {
		t.Fatalf("plugin list: %q", stdout)
	}
	_, stderr = cli(t, addr, "", "connector", "pause", "files")
	if !strings.Contains(stderr, "paused") {
		t.Fatalf("pause: %q", stderr)
	}
	cli(t, addr, "", "connector", "resume", "files")
	cli(t, addr, "", "connector", "delete", "files")
	_, stderr, code = runCLI(t, "", "--server", addr, "connector", "status", "files")
	if code != 1 || !strings.Contains(stderr, "connector not found") {
		t.Fatalf("status after delete: exit %d, %q", code, stderr)
	}
}
