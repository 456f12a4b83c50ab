package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/plugintest"
)

// TestPluginProcessSIGKILL runs the built s3 plugin under the broker's
// plugin host, SIGKILLs the plugin process mid-stream, and checks that the
// host's restart leaves every record exactly once: in the bucket for the
// sink, in the station for the source.
func TestPluginProcessSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped with -short")
	}
	pluginDir := t.TempDir()
	plugintest.Build(t, pluginDir, "s3", ".")
	bin := filepath.Join(pluginDir, "s3")
	f := newFakeS3(t)
	e := plugintest.Start(t, pluginDir)
	b, h := e.Broker, e.Host
	e.Stations(t, 2, "orders", "copy")
	define := func(name, kind, station string, extra map[string]any) {
		t.Helper()
		e.Apply(t, name, "s3", kind, station, f.config(extra))
	}
	waitStatus := func(name, what string, cond func(plugin.Status) bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			st, _ := h.Status(name)
			if cond(st) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timed out waiting for %s (status %+v)", name, what, st)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Sink: kill the plugin after some objects are up, then let it finish.
	const n = 20000
	define("to-s3", "sink", "orders", map[string]any{"prefix": "out/"})
	produce := func(from, count int) {
		for i := from; i < from+count; i += 500 {
			msgs := make([]broker.Message, 500)
			for j := range msgs {
				msgs[j] = broker.Message{Key: []byte(strconv.Itoa(i + j)), Value: []byte(strconv.Itoa(i + j))}
			}
			if _, err := b.Produce(context.Background(), "orders", msgs); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, n/2)
	waitStatus("to-s3", "some records uploaded", func(st plugin.Status) bool { return st.RecordsOut > 1000 })
	killProcesses(t, bin)
	produce(n/2, n/2)
	waitStatus("to-s3", "every record uploaded after a restart", func(st plugin.Status) bool {
		return st.Restarts >= 1 && st.State == plugin.StateRunning && st.Lag == 0
	})
	recs, err := f.readBack(t, "out/")
	if err != nil {
		t.Fatal(err)
	}
	wantOnce(t, "bucket", values(recs), n)

	// Source: read the sink's objects back into another station, killing
	// the plugin part way.
	define("from-s3", "source", "copy", map[string]any{"prefix": "out/", "poll_interval": "20ms", "batch": map[string]any{"max_records": 200}})
	stationMessages := func() uint64 { _, s, _ := b.Station("copy"); return s.Messages }
	deadline := time.Now().Add(30 * time.Second)
	for stationMessages() < 1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	killProcesses(t, bin)
	waitStatus("from-s3", "the source to catch up after a restart", func(st plugin.Status) bool {
		return st.Restarts >= 1 && stationMessages() >= n
	})
	var got []string
	for {
		ds, err := b.Pull(context.Background(), "copy", "verify", broker.PullOptions{Max: 5000, MaxWait: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		refs := make([]broker.MessageRef, len(ds))
		for i, d := range ds {
			got = append(got, string(d.Record.Value))
			refs[i] = broker.MessageRef{Partition: d.Partition, Offset: d.Record.Offset}
		}
		b.Ack(t.Context(), "copy", "verify", refs)
	}
	wantOnce(t, "station", got, n)
}

func wantOnce(t *testing.T, where string, vals []string, n int) {
	t.Helper()
	seen := make(map[string]int, n)
	for _, v := range vals {
		seen[strings.Trim(v, `"`)]++
	}
	for i := range n {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Fatalf("%s: record %d is there %d times (%d records in all)", where, i, c, len(vals))
		}
	}
	if len(vals) != n {
		t.Fatalf("%s holds %d records, want %d", where, len(vals), n)
	}
}

// killProcesses SIGKILLs every running process of the executable path.
func killProcesses(t *testing.T, path string) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == path {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
	}
	if killed == 0 {
		t.Fatalf("no running %s to kill", path)
	}
}
