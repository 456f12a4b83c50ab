package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/plugin"
	"github.com/junctionhq/junction/plugin/plugintest"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildPlugin builds the plugin once per test binary; TestMain removes it.
func buildPlugin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "snowflake-plugin-"); buildErr != nil {
			return
		}
		var out []byte
		if out, buildErr = exec.Command("go", "build", "-tags", "minicore_disabled", "-o", filepath.Join(buildDir, "snowflake"), ".").CombinedOutput(); buildErr != nil {
			buildErr = fmt.Errorf("%w\n%s", buildErr, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the snowflake plugin: %v", buildErr)
	}
	return filepath.Join(buildDir, "snowflake")
}

// processHarness runs the built snowflake plugin under the broker's plugin
// host against the fake.
type processHarness struct {
	t   *testing.T
	bin string
	f   *sffake.Server
	b   *broker.Broker
	h   *plugin.Host
}

func newProcessHarness(t *testing.T, stations ...string) *processHarness {
	t.Helper()
	if testing.Short() {
		t.Skip("fault test: skipped with -short")
	}
	pluginDir := t.TempDir()
	bin := filepath.Join(pluginDir, "snowflake")
	built := buildPlugin(t)
	if err := os.Link(built, bin); err != nil {
		t.Fatal(err)
	}
	f := sffake.New(t)
	e := plugintest.Start(t, pluginDir)
	e.Stations(t, 2, stations...)
	return &processHarness{t: t, bin: bin, f: f, b: e.Broker, h: e.Host}
}

func (p *processHarness) define(name, kind, station string, batch string, cfg map[string]any) {
	p.t.Helper()
	js, _ := json.Marshal(cfg)
	def := fmt.Sprintf("name: %s\nconnector: snowflake\nkind: %s\nstation: %s\nbatch: %s\nconfig: %s\n", name, kind, station, batch, js)
	if _, _, _, err := p.h.Apply(context.Background(), name+".yaml", []byte(def)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *processHarness) waitStatus(name, what string, cond func(plugin.Status) bool) plugin.Status {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := p.h.Status(name)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: timed out waiting for %s (status %+v)", name, what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRows waits until table holds at least n rows.
func (p *processHarness) waitRows(table string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := p.f.Query(`SELECT COUNT(*) FROM ` + table)
		if err == nil && len(rows) == 1 {
			if c, _ := strconv.Atoi(*rows[0][0]); c >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %d rows in %s (%v, %v)", n, table, rows, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *processHarness) produce(station string, from, count int) {
	p.t.Helper()
	for i := from; i < from+count; i += 500 {
		msgs := make([]broker.Message, min(500, from+count-i))
		for j := range msgs {
			msgs[j] = broker.Message{Key: []byte(strconv.Itoa(i + j)), Value: []byte(strconv.Itoa(i + j))}
		}
		if _, err := p.b.Produce(context.Background(), station, msgs); err != nil {
			p.t.Fatal(err)
		}
	}
}

// TestPluginProcessSIGKILL runs the built plugin under the broker's plugin
// host, loses the reply of some COMMITs and then SIGKILLs the plugin
// process mid-stream, and checks that the table holds every record
// exactly once.
func TestPluginProcessSIGKILL(t *testing.T) {
	start := time.Now()
	p := newProcessHarness(t, "orders", "copy")
	t.Logf("%s: plugin built", time.Since(start))
	const n = 8000
	p.define("to-sf", "sink", "orders", "{max_records: 500, max_wait: 10ms}", fakeConfig(p.f, nil))
	p.produce("orders", 0, n/4)
	p.waitStatus("to-sf", "some records loaded", func(st plugin.Status) bool { return st.RecordsOut > 1000 })

	// Lose the replies of the next COMMIT (both of the driver's attempts):
	// the plugin cannot know whether the batch is in.
	var lost atomic.Int32
	p.f.SetFault(func(sqlText string) sffake.Action {
		if sqlText == "COMMIT" && lost.Add(1) <= 2 {
			return sffake.LoseReply
		}
		return sffake.Serve
	})
	p.produce("orders", n/4, n/4)
	p.waitStatus("to-sf", "a COMMIT reply lost", func(plugin.Status) bool { return lost.Load() > 2 })
	p.waitRows(table, n/2)
	t.Logf("%s: lost COMMIT replies survived", time.Since(start))
	p.f.SetFault(nil)

	p.produce("orders", n/2, n/4)
	p.waitRows(table, n/2+1000)
	restarts := p.waitStatus("to-sf", "running", func(st plugin.Status) bool { return st.State == plugin.StateRunning }).Restarts
	killProcesses(t, p.bin)
	p.produce("orders", 3*n/4, n/4)
	p.waitStatus("to-sf", "a restart", func(st plugin.Status) bool { return st.Restarts > restarts })
	p.waitRows(table, n)
	rows, err := p.f.Query(`SELECT "RECORD_CONTENT" FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]string, len(rows))
	for i, r := range rows {
		vals[i] = *r[0]
	}
	wantOnce(t, "table", vals, n)
	t.Logf("%s: sink done", time.Since(start))

	// Source: read a table of n rows into another station, killing the
	// plugin part way.
	p.f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID" NUMBER(38,0), "V" VARCHAR)`)
	for i := 0; i < n; i += 4000 {
		var docs []string
		for j := i; j < i+4000; j++ {
			docs = append(docs, fmt.Sprintf(`{"id":%d,"v":"%d"}`, j+1, j))
		}
		p.f.ExecArgs(t, `INSERT INTO "JUNCTION_DB"."PUBLIC"."ITEMS" ("ID", "V") SELECT value:id::NUMBER(38,0), value:v::VARCHAR FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))`, "["+strings.Join(docs, ",")+"]")
	}
	p.define("from-sf", "source", "copy", "{max_records: 200}", fakeConfig(p.f, map[string]any{
		"table": "ITEMS", "ordering_column": "ID", "value_column": "V", "page_size": 300, "poll_interval": "20ms", "auto_create": nil,
	}))
	stationMessages := func() uint64 { _, s, _ := p.b.Station("copy"); return s.Messages }
	deadline := time.Now().Add(30 * time.Second)
	for stationMessages() < 1000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	t.Logf("%s: source started", time.Since(start))
	killProcesses(t, p.bin)
	p.waitStatus("from-sf", "the source to catch up after a restart", func(st plugin.Status) bool {
		return st.Restarts >= 1 && stationMessages() >= n
	})
	var got []string
	for {
		ds, err := p.b.Pull(context.Background(), "copy", "verify", broker.PullOptions{Max: 5000, MaxWait: 200 * time.Millisecond})
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
		p.b.Ack(t.Context(), "copy", "verify", refs)
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

// TestPluginProcessBadInput runs connectors the service refuses under the
// plugin host: each fails with the object named in its status, without a
// secret, after one login, and acknowledges nothing.
func TestPluginProcessBadInput(t *testing.T) {
	p := newProcessHarness(t, "orders")
	p.produce("orders", 0, 10)
	for _, tc := range []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"bad-password", map[string]any{"private_key": nil, "password": "wrong-" + sffake.Password}, "Incorrect username or password"},
		{"no-warehouse", map[string]any{"warehouse": "NOPE_WH"}, "Warehouse 'NOPE_WH'"},
		{"no-table", map[string]any{"table": "MISSING", "auto_create": false}, `table "JUNCTION_DB"."PUBLIC"."MISSING" does not exist`},
	} {
		logins := p.f.Logins()
		p.define(tc.name, "sink", "orders", "{max_records: 10, max_wait: 10ms}", fakeConfig(p.f, tc.extra))
		st := p.waitStatus(tc.name, "the connector to fail", func(st plugin.Status) bool { return st.State == plugin.StateFailed })
		if !strings.Contains(st.LastError, tc.want) || strings.Contains(st.LastError, sffake.Password) || strings.Contains(st.LastError, "PRIVATE KEY") {
			t.Errorf("%s: status error %q, want it to say %q and show no secret", tc.name, st.LastError, tc.want)
		}
		if st.RecordsOut != 0 {
			t.Errorf("%s: %d records out", tc.name, st.RecordsOut)
		}
		if n := p.f.Logins() - logins; n > 0 && tc.name != "no-table" {
			t.Errorf("%s: %d successful logins", tc.name, n)
		}
	}

	// Records Snowflake cannot take reach the dead-letter station with
	// its reason; the others are loaded.
	p.f.Exec(t, `CREATE TABLE "JUNCTION_DB"."PUBLIC"."QTY" ("Q" NUMBER(38,0))`)
	if _, err := p.b.CreateStation(t.Context(), broker.StationConfig{Name: "quantities"}); err != nil {
		t.Fatal(err)
	}
	var msgs []broker.Message
	for _, v := range []string{`{"q":1}`, `{"q":"lots"}`, `7`, `{"q":3}`} {
		msgs = append(msgs, broker.Message{Value: []byte(v)})
	}
	if _, err := p.b.Produce(context.Background(), "quantities", msgs); err != nil {
		t.Fatal(err)
	}
	p.define("cols", "sink", "quantities", "{max_records: 10, max_wait: 10ms}", fakeConfig(p.f, map[string]any{"table": "QTY", "mode": "columns", "auto_create": false}))
	p.waitRows(`"JUNCTION_DB"."PUBLIC"."QTY"`, 2)
	reasons := map[string]string{}
	deadline := time.Now().Add(30 * time.Second)
	for len(reasons) < 2 && time.Now().Before(deadline) {
		ds, err := p.b.Pull(context.Background(), "cols.dlq", "verify", broker.PullOptions{Max: 10, MaxWait: 100 * time.Millisecond})
		if err != nil && !errors.Is(err, broker.ErrStationNotFound) {
			t.Fatal(err)
		}
		for _, d := range ds {
			for _, h := range d.Record.Headers {
				if h.Key == plugin.HeaderDLQError {
					reasons[string(d.Record.Value)] = string(h.Value)
				}
			}
		}
	}
	if !strings.Contains(reasons[`{"q":"lots"}`], "Numeric value 'lots' is not recognized") || !strings.Contains(reasons["7"], "JSON object") || len(reasons) != 2 {
		t.Fatalf("dead letters: %v", reasons)
	}
}
