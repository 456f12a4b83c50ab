package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	bq "google.golang.org/api/bigquery/v2"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/plugintest"
)

// TestPluginProcessSIGKILL runs the built plugin under the broker's plugin
// host and SIGKILLs it mid-stream while one of its appends is still on its
// way to BigQuery; the append lands only after the restarted sink fenced
// the stream. Every record must end up in the table exactly once. Then a
// source reads a table into a station, killed part way, and every row must
// be in the station exactly once.
func TestPluginProcessSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped with -short")
	}
	pluginDir := t.TempDir()
	plugintest.Build(t, pluginDir, "bigquery", ".")
	bin := filepath.Join(pluginDir, "bigquery")
	f := newFakeBQ(t)
	e := plugintest.Start(t, pluginDir)
	b, h := e.Broker, e.Host
	e.Stations(t, 2, "orders", "copy")
	define := func(name, kind, station string, extra map[string]any) {
		t.Helper()
		e.Apply(t, name, "bigquery", kind, station, f.config(extra))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	status := func(name string) plugin.Status { st, _ := h.Status(name); return st }

	const n = 20000
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
	// Hold the first append to a data stream past its 1000th row, kill
	// the plugin while it is held, and let it land once the restarted
	// sink has opened.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.set(func(f *fakeBQ) {
		f.beforeAppend = func(stream string, offset int64) {
			if tableOf(stream) != "ds.events" || offset < 1000 {
				return
			}
			fire := false
			once.Do(func() { fire = true })
			if fire {
				close(held)
				<-release
			}
		}
	})
	define("to-bq", "sink", "orders", nil)
	produce(0, n/2)
	select {
	case <-held:
	case <-time.After(60 * time.Second):
		t.Fatal("no append past offset 1000 reached the fake")
	}
	killProcesses(t, bin)
	produce(n/2, n/2)
	waitFor("the sink to restart", func() bool { st := status("to-bq"); return st.Restarts >= 1 && st.State == plugin.StateRunning })
	waitFor("the restarted sink to write", func() bool { return len(f.rows("ds", "events")) > n/2 })
	close(release)
	waitFor("every record written", func() bool { return status("to-bq").Lag == 0 && len(f.rows("ds", "events")) >= n })
	vals := map[string]int{}
	for _, r := range jsonRecords(f.rows("ds", "events")) {
		vals[string(r.Value)]++
	}
	for i := range n {
		if c := vals[strconv.Itoa(i)]; c != 1 {
			t.Fatalf("table: record %d is there %d times", i, c)
		}
	}
	if rows := len(f.rows("ds", "events")); rows != n {
		t.Fatalf("table holds %d rows, want %d", rows, n)
	}
	f.mu.Lock()
	late := f.refused[storagepb.StorageError_STREAM_FINALIZED]
	f.mu.Unlock()
	if late == 0 {
		t.Error("the held append of the killed run was not refused as an append to a finalized stream")
	}

	// Bad input stops a connector at once, with the cause in its status.
	define("to-missing", "sink", "orders", map[string]any{"table": "missing", "auto_create": false})
	waitFor("the misconfigured sink to fail", func() bool { return status("to-missing").State == plugin.StateFailed })
	if st := status("to-missing"); st.Restarts != 0 || !strings.Contains(st.LastError, "table junction-test.ds.missing does not exist (auto_create is false)") {
		t.Errorf("status of a sink on a missing table: restarts %d, last error %q", st.Restarts, st.LastError)
	}

	// Source: read a table of n rows into a station, killing the plugin
	// part way.
	f.createTable("ds", "src", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "INTEGER", Mode: "REQUIRED"}, {Name: "payload", Type: "STRING"},
	}}, nil)
	for i := 0; i < n; i += 1000 {
		rows := make([]map[string]any, 1000)
		for j := range rows {
			rows[j] = map[string]any{"id": int64(i + j), "payload": strconv.Itoa(i + j)}
		}
		f.insert("ds", "src", rows...)
	}
	// The source's 20th page request waits until the plugin is killed.
	pageHeld := make(chan struct{})
	var pageOnce sync.Once
	pageCount := 0
	f.set(func(f *fakeBQ) {
		f.pageCap = 200
		f.beforePage = func(r *http.Request) {
			f.mu.Lock()
			pageCount++
			fire := pageCount == 20
			f.mu.Unlock()
			if fire {
				pageOnce.Do(func() { close(pageHeld) })
				<-r.Context().Done()
			}
		}
	})
	define("from-bq", "source", "copy", map[string]any{"table": "src", "ordering_column": "id", "value_column": "payload", "page_size": 200, "poll_interval": "20ms"})
	stationMessages := func() uint64 { _, s, _ := b.Station("copy"); return s.Messages }
	select {
	case <-pageHeld:
	case <-time.After(60 * time.Second):
		t.Fatal("the source did not page through the results")
	}
	if got := stationMessages(); got >= n {
		t.Fatalf("the station holds %d records before the kill, want fewer than %d", got, n)
	}
	killProcesses(t, bin)
	waitFor("the source to catch up after a restart", func() bool { return status("from-bq").Restarts >= 1 && stationMessages() >= n })
	seen := map[string]int{}
	total := 0
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
			seen[string(d.Record.Value)]++
			total++
			refs[i] = broker.MessageRef{Partition: d.Partition, Offset: d.Record.Offset}
		}
		b.Ack(t.Context(), "copy", "verify", refs)
	}
	for i := range n {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Fatalf("station: row %d is there %d times", i, c)
		}
	}
	if total != n {
		t.Fatalf("station holds %d records, want %d", total, n)
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
