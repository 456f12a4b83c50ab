// Package plugintest runs connector plugin binaries under a real broker and
// plugin host, for the process tests of connectors (a plugin SIGKILLed
// mid-stream must still deliver every record exactly once).
package plugintest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin"
)

// Env is a broker and a connector host running the plugins of one
// directory; both close when the test ends.
type Env struct {
	Broker *broker.Broker
	Host   *plugin.Host
}

// Build compiles the plugin in srcDir (such as ".") as dir/name with the
// go build flags given, using no HTTP proxy, and fails the test if it does
// not build.
func Build(t testing.TB, dir, name, srcDir string, flags ...string) {
	t.Helper()
	args := append(append([]string{"build"}, flags...), "-o", filepath.Join(dir, name), srcDir)
	build := exec.Command("go", args...)
	build.Env = append(os.Environ(), "HTTPS_PROXY=", "HTTP_PROXY=", "https_proxy=", "http_proxy=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the %s plugin: %v\n%s", name, err, out)
	}
}

// Start opens a broker in a temporary directory and a host running the
// plugins in pluginDir, restarting a failed plugin after 10 ms.
func Start(t testing.TB, pluginDir string) *Env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	b, err := broker.Open(broker.Options{DataDir: t.TempDir(), Logger: log, RetentionInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h, err := plugin.New(context.Background(), plugin.Options{Broker: b, Store: b.Connectors(), PluginDirs: []string{pluginDir}, Logger: log,
		Restart: plugin.RestartPolicy{Initial: 10 * time.Millisecond}})
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Close()
		b.Close()
	})
	return &Env{Broker: b, Host: h}
}

// Stations creates the named stations with partitions each.
func (e *Env) Stations(t testing.TB, partitions uint32, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := e.Broker.CreateStation(context.Background(), broker.StationConfig{Name: name, Partitions: partitions}); err != nil {
			t.Fatal(err)
		}
	}
}

// Apply applies connector name of plugin conn, of kind on station, with
// config, batching 500 records or 10 ms.
func (e *Env) Apply(t testing.TB, name, conn, kind, station string, config any) {
	t.Helper()
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: %s\nconnector: %s\nkind: %s\nstation: %s\nbatch: {max_records: 500, max_wait: 10ms}\nconfig: %s\n", name, conn, kind, station, cfg)
	if _, _, _, err := e.Host.Apply(context.Background(), name+".yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
}
