package plugin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
)

// pluginDir holds the connector binaries built once for the package's
// tests.
var pluginDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "junction-plugins-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginDir = dir
	for name, src := range map[string]string{
		"file":     "../connectors/file",
		"hang":     "./testdata/plugins/hang",
		"exits":    "./testdata/plugins/exits",
		"oldproto": "./testdata/plugins/oldproto",
		"discard":  "./testdata/plugins/discard",
		"sinkinfo": "./testdata/plugins/sinkinfo",
	} {
		build := exec.Command("go", "build", "-o", filepath.Join(dir, name), src)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build plugin %s: %v\n", name, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type env struct {
	b    *broker.Broker
	h    *Host
	dir  string
	data string
	logs *logCapture
}

// logCapture is a slog handler that keeps every record's message and
// attributes.
type logCapture struct {
	mu    sync.Mutex
	lines []string
	attrs []slog.Attr
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) WithGroup(string) slog.Handler            { return c }
func (c *logCapture) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWith{c, as}
}
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	return c.handle(r, nil)
}

func (c *logCapture) handle(r slog.Record, with []slog.Attr) error {
	line := r.Level.String() + " " + r.Message
	for _, a := range with {
		line += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
	c.mu.Lock()
	c.lines = append(c.lines, line)
	c.mu.Unlock()
	return nil
}

func (c *logCapture) contains(parts ...string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

type logWith struct {
	c    *logCapture
	with []slog.Attr
}

func (l *logWith) Enabled(context.Context, slog.Level) bool { return true }
func (l *logWith) WithGroup(string) slog.Handler            { return l }
func (l *logWith) WithAttrs(as []slog.Attr) slog.Handler {
	return &logWith{l.c, append(slices.Clip(l.with), as...)}
}
func (l *logWith) Handle(_ context.Context, r slog.Record) error { return l.c.handle(r, l.with) }

func start(t *testing.T, data string, policy RestartPolicy) *env {
	t.Helper()
	e := startEnv(t, data, policy)
	t.Cleanup(e.close)
	return e
}

func startBench(b *testing.B, data string) *env {
	e := startEnv(b, data, RestartPolicy{})
	b.Cleanup(e.close)
	return e
}

func startEnv(t testing.TB, data string, policy RestartPolicy) *env {
	t.Helper()
	logs := &logCapture{}
	log := slog.New(logs)
	b, err := broker.Open(broker.Options{DataDir: data, Logger: log, RetentionInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Options{Broker: b, Store: b.Connectors(), PluginDirs: []string{pluginDir}, Logger: log, Restart: policy,
		LookupEnv: func(k string) (string, bool) {
			v, ok := map[string]string{"OUT_DIR": filepath.Join(data, "..", "out")}[k]
			return v, ok
		}})
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	return &env{b: b, h: h, data: data, logs: logs}
}

func (e *env) close() {
	e.h.Close()
	e.b.Close()
}

func (e *env) produce(t *testing.T, station string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i += 1000 {
		var msgs []broker.Message
		for j := i; j < min(i+1000, from+n); j++ {
			msgs = append(msgs, broker.Message{Value: []byte(strconv.Itoa(j))})
		}
		if _, err := e.b.Produce(context.Background(), station, msgs); err != nil {
			t.Fatal(err)
		}
	}
}

func sinkYAML(name, station, dir string, extra string) []byte {
	return []byte(fmt.Sprintf(`name: %s
connector: file@^1
kind: sink
station: %s
batch: {max_records: 2000, max_wait: 50ms}
timeout: 5s
config:
  dir: %s
  rotate:
    max_records: 7000
%s`, name, station, dir, extra))
}

// sinkValues reads every record value the file sink wrote under dir, from
// final and partial files.
func sinkValues(t *testing.T, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl*"))
	slices.Sort(files)
	var out []string
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var line struct {
				Offset uint64          `json:"offset"`
				Value  json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("%s: %v: %s", f, err, sc.Text())
			}
			out = append(out, string(line.Value))
		}
		fh.Close()
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wantExactly checks that values hold 0..n-1 exactly once each.
func wantExactly(t *testing.T, values []string, n int) {
	t.Helper()
	seen := make(map[int]int, n)
	for _, v := range values {
		i, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("unexpected value %q", v)
		}
		seen[i]++
	}
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("value %d written %d times (of %d records in all)", i, seen[i], len(values))
		}
	}
	if len(values) != n {
		t.Fatalf("%d records written, want %d", len(values), n)
	}
}

func TestFileSinkEndToEnd(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	st, created, changed, err := e.h.Apply(context.Background(), "sink.yaml", sinkYAML("orders-to-files", "orders", "${OUT_DIR}", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !created || !changed || st.PluginVersion != "1.0.0" {
		t.Fatalf("apply: %+v created=%v changed=%v", st, created, changed)
	}
	const n = 100_000
	e.produce(t, "orders", 0, n)
	waitFor(t, "the sink to write every record", 60*time.Second, func() bool {
		st, _ := e.h.Status("orders-to-files")
		return st.RecordsOut == n && st.Lag == 0
	})
	wantExactly(t, sinkValues(t, out), n)

	// Applying the same definition again changes nothing.
	_, created, changed, err = e.h.Apply(context.Background(), "sink.yaml", sinkYAML("orders-to-files", "orders", "${OUT_DIR}", ""))
	if err != nil || created || changed {
		t.Fatalf("re-apply: created=%v changed=%v err=%v", created, changed, err)
	}
}

// TestFileSinkSurvivesPluginSIGKILL kills the plugin process while it
// writes; the host restarts it and the output still holds every record
// exactly once.
func TestFileSinkSurvivesPluginSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: skipped with -short")
	}
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out")
	if _, _, _, err := e.h.Apply(context.Background(), "sink.yaml", sinkYAML("s", "orders", out, "")); err != nil {
		t.Fatal(err)
	}
	const n = 60_000
	e.produce(t, "orders", 0, n/2)
	waitFor(t, "the sink to start writing", 30*time.Second, func() bool {
		st, _ := e.h.Status("s")
		return st.RecordsOut > 0
	})
	killPlugin(t, "file")
	e.produce(t, "orders", n/2, n/2)
	waitFor(t, "the restarted sink to write everything", 60*time.Second, func() bool {
		st, _ := e.h.Status("s")
		return st.Lag == 0 && st.State == StateRunning && st.Restarts >= 1
	})
	wantExactly(t, sinkValues(t, out), n)
	if !e.logs.contains("through shared memory") {
		t.Error("the batches did not go through shared memory")
	}
}

// killPlugin SIGKILLs every running process of the plugin binary name
// under pluginDir.
func killPlugin(t *testing.T, name string) {
	t.Helper()
	path := filepath.Join(pluginDir, name)
	entries, _ := os.ReadDir("/proc")
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != path {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no running %s plugin to kill", name)
	}
}

func TestFileSourceCheckpointsAndResumes(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "lines"}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(root, "in")
	os.MkdirAll(in, 0o755)
	var sb strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&sb, "%d\n", i)
	}
	os.WriteFile(filepath.Join(in, "a.txt"), []byte(sb.String()), 0o644)
	def := fmt.Sprintf("name: lines-in\nconnector: file\nkind: source\nstation: lines\nconfig:\n  glob: %s/*.txt\n  format: lines\n  poll_interval: 20ms\n", in)
	if _, _, _, err := e.h.Apply(context.Background(), "src.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	stationCount := func() uint64 { _, s, _ := e.b.Station("lines"); return s.Messages }
	waitFor(t, "the source to read the file", 30*time.Second, func() bool { return stationCount() == 5000 })
	waitFor(t, "a checkpoint", 10*time.Second, func() bool { st, _ := e.h.Status("lines-in"); return st.Checkpoint != "" })

	// Kill the plugin, append more: the restarted source resumes from its
	// checkpoint without duplicates.
	killPlugin(t, "file")
	f, _ := os.OpenFile(filepath.Join(in, "a.txt"), os.O_APPEND|os.O_WRONLY, 0)
	for i := 5000; i < 6000; i++ {
		fmt.Fprintf(f, "%d\n", i)
	}
	f.Close()
	waitFor(t, "the appended lines", 30*time.Second, func() bool { return stationCount() >= 6000 })

	// Restart the whole broker: the connector comes back from the metadata
	// store and does not read anything twice.
	e.close()
	e = start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond})
	waitFor(t, "the connector to run again", 30*time.Second, func() bool { st, _ := e.h.Status("lines-in"); return st.State == StateRunning })
	f, _ = os.OpenFile(filepath.Join(in, "a.txt"), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "6000\n")
	f.Close()
	waitFor(t, "the last line", 30*time.Second, func() bool { return stationCount() >= 6001 })
	ds, err := e.b.Pull(context.Background(), "lines", "check", broker.PullOptions{Max: 10000, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, d := range ds {
		values = append(values, string(d.Record.Value))
	}
	for len(values) < 6001 {
		ds, err := e.b.Pull(context.Background(), "lines", "check", broker.PullOptions{Max: 10000, MaxWait: 200 * time.Millisecond})
		if err != nil || len(ds) == 0 {
			break
		}
		for _, d := range ds {
			values = append(values, string(d.Record.Value))
		}
	}
	wantExactly(t, values, 6001)
}

func TestBadDefinitionsAreRejectedClearly(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"})
	for _, tc := range []struct {
		name, def string
		want      []string
	}{
		{"malformed yaml", "name: x\nkind: sink\n  bad: 1\n", []string{"sink.yaml:3"}},
		{"unknown plugin", "name: x\nconnector: nope\nkind: sink\nstation: orders\n", []string{"connector: connector plugin not found: nope is not installed"}},
		{"version not installed", "name: x\nconnector: file@^2\nkind: sink\nstation: orders\nconfig: {dir: /tmp/x}\n", []string{"no installed version of file matches file@^2 (installed: 1.0.0)"}},
		{"missing station", "name: x\nconnector: file\nkind: sink\nstation: nope\nconfig: {dir: /tmp/x}\n", []string{`station: station "nope" does not exist`}},
		{"unknown and missing config fields", "name: x\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dri: /tmp/x\n", []string{"sink.yaml:6:3: config.dri: unknown field", "sink.yaml:5:1: config.dir: required", "config.dir"}},
		{"wrong type", "name: x\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dir: /tmp/x\n  rotate: {max_bytes: lots}\n", []string{"config.rotate.max_bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := e.h.Apply(context.Background(), "sink.yaml", []byte(tc.def))
			if !errors.Is(err, ErrInvalidDefinition) {
				t.Fatalf("err = %v, want an invalid definition", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	if got := e.h.List(); len(got) != 0 {
		t.Fatalf("rejected definitions left connectors behind: %+v", got)
	}
}

func TestBrokenPluginsShowInStatus(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, MaxFailures: 3})
	e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"})
	e.produce(t, "orders", 0, 10)

	// A plugin built for another protocol version is refused up front.
	_, _, _, err := e.h.Apply(context.Background(), "old.yaml", []byte("name: old\nconnector: oldproto\nkind: sink\nstation: orders\n"))
	if err == nil || !strings.Contains(err.Error(), "speaks connector protocol 7, this broker speaks 1") {
		t.Fatalf("plugin of another protocol: err = %v", err)
	}

	// A plugin that exits at once cannot even be validated.
	_, _, _, err = e.h.Apply(context.Background(), "exits.yaml", []byte("name: ex\nconnector: exits\nkind: sink\nstation: orders\n"))
	if err == nil || !strings.Contains(err.Error(), "start plugin exits@0.1.0") {
		t.Fatalf("plugin that exits: err = %v", err)
	}
	if !e.logs.contains("WARN", "connector definition rejected", "exits.yaml", "start plugin exits@0.1.0") {
		t.Errorf("the rejected definition is not in the broker's log")
	}

	// A sink that hangs in Write is cut off by the connector's timeout,
	// restarted, and marked failed after too many failures; the broker
	// keeps serving.
	def := "name: stuck\nconnector: hang\nkind: sink\nstation: orders\ntimeout: 200ms\nbatch: {max_wait: 10ms}\n"
	if _, _, _, err := e.h.Apply(context.Background(), "hang.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hanging connector to fail", 30*time.Second, func() bool {
		st, _ := e.h.Status("stuck")
		return st.State == StateFailed
	})
	if !e.logs.contains("WARN", "opened; Write will never return", "connector=stuck") {
		t.Errorf("the plugin's log line did not reach the broker's log tagged with the connector")
	}
	st, _ := e.h.Status("stuck")
	if !strings.Contains(st.LastError, "write of 10 records did not finish within the connector's timeout of 200ms") || st.Restarts < 2 {
		t.Fatalf("status of the hanging connector: restarts %d, last error %q", st.Restarts, st.LastError)
	}
	if _, err := e.b.Produce(context.Background(), "orders", []broker.Message{{Value: []byte("still serving")}}); err != nil {
		t.Fatalf("broker stopped serving: %v", err)
	}
	// Resume tries again.
	if st, err := e.h.Resume("stuck"); err != nil || st.State == StateFailed {
		t.Fatalf("resume: %+v %v", st, err)
	}
}

// TestSourceDropsRecordsProducedAfterCheckpoint sets up what a broker crash
// between a source batch's produce and its checkpoint leaves behind, and
// checks that the restarted source does not produce those records again.
func TestSourceDropsRecordsProducedAfterCheckpoint(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "lines"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "in.txt")
	var sb strings.Builder
	var msgs []broker.Message
	for i := range 100 {
		if i < 40 {
			// Produced, but the checkpoint below is from before them.
			msgs = append(msgs, broker.Message{Value: []byte(strconv.Itoa(i)), ID: fmt.Sprintf("source/lines-in/%s:%d", path, sb.Len())})
		}
		fmt.Fprintf(&sb, "%d\n", i)
	}
	os.WriteFile(path, []byte(sb.String()), 0o644)
	if _, err := e.b.Produce(context.Background(), "lines", msgs); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Connectors().PutCheckpoint("lines-in", []byte(`{"position":null,"next_offsets":[0]}`)); err != nil {
		t.Fatal(err)
	}
	def := fmt.Sprintf("name: lines-in\nconnector: file\nkind: source\nstation: lines\nconfig:\n  glob: %s\n  format: lines\n  batch: {max_records: 25}\n", path)
	if _, _, _, err := e.h.Apply(context.Background(), "src.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source to read the file", 30*time.Second, func() bool {
		st, _ := e.h.Status("lines-in")
		return st.RecordsIn >= 100
	})
	ds, err := e.b.Pull(context.Background(), "lines", "check", broker.PullOptions{Max: 1000, MaxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, d := range ds {
		values = append(values, string(d.Record.Value))
	}
	wantExactly(t, values, 100)
}

func TestSecretsNeverShow(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"})
	def := "name: quiet\nconnector: discard\nkind: sink\nstation: s\nbatch: {max_wait: 10ms}\nconfig:\n  token: ${TOKEN:-s3cr3t-value}\n"
	st, _, _, err := e.h.Apply(context.Background(), "quiet.yaml", []byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if st.Config["token"] != "********" {
		t.Fatalf("status config = %v, want the token redacted", st.Config)
	}
	e.produce(t, "s", 0, 10)
	waitFor(t, "the sink to run", 30*time.Second, func() bool { st, _ := e.h.Status("quiet"); return st.RecordsOut == 10 })
	if e.logs.contains("s3cr3t-value") {
		t.Fatal("the secret appeared in the broker's log")
	}
	raw, _ := json.Marshal(e.h.List())
	if strings.Contains(string(raw), "s3cr3t-value") {
		t.Fatal("the secret appeared in the connector list")
	}
}

// A stored connector whose config no longer validates (the plugin changed
// since it was applied) starts in the failed state with the field named.
func TestStoredConnectorWithBadConfigFails(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	e := start(t, data, RestartPolicy{})
	e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"})
	def := "name: bad\nconnector: file\nkind: sink\nstation: s\nconfig: {dri: /tmp/x}\n"
	rec, _ := json.Marshal(record{File: "bad.yaml", Definition: []byte(def)})
	if err := e.b.Connectors().PutConnector("bad", rec); err != nil {
		t.Fatal(err)
	}
	e.close()
	e = start(t, data, RestartPolicy{})
	waitFor(t, "the connector to fail", 30*time.Second, func() bool { st, _ := e.h.Status("bad"); return st.State == StateFailed })
	if st, _ := e.h.Status("bad"); !strings.Contains(st.LastError, "dri: unknown field") || st.Restarts != 0 {
		t.Fatalf("status: restarts %d, last error %q", st.Restarts, st.LastError)
	}
}
