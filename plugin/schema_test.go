package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/schema"
)

// A source whose records the station's schema rejects dead-letters them
// and keeps going, instead of failing on them forever.
func TestSourceRecordsRejectedBySchemaAreDeadLettered(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond})
	ctx := context.Background()
	if _, err := e.b.CreateStation(ctx, broker.StationConfig{Name: "nums"}); err != nil {
		t.Fatal(err)
	}
	src := schema.Source{Type: schema.JSON, Files: []schema.File{{Name: "n.json", Content: []byte(`{"type":"integer","minimum":0}`)}}}
	if _, _, err := e.b.CreateSchema(ctx, "num", src, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.AttachSchema(ctx, "nums", broker.StationSchema{Name: "num"}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(root, "in")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "a.txt"), []byte("1\n2\nx\n-3\n4\n"), 0o644)
	def := fmt.Sprintf("name: nums-in\nconnector: file\nkind: source\nstation: nums\nconfig:\n  glob: %s/*.txt\n  format: lines\n  poll_interval: 20ms\n", in)
	if _, _, _, err := e.h.Apply(ctx, "src.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	count := func(station string) uint64 { _, s, _ := e.b.Station(station); return s.Messages }
	waitFor(t, "the valid lines", 30*time.Second, func() bool { return count("nums") == 3 })
	waitFor(t, "the invalid lines dead-lettered", 30*time.Second, func() bool { return count("nums-in.dlq") == 2 })
	dls, err := e.b.DeadLetters(ctx, "nums-in.dlq", 0, 10)
	if err != nil || len(dls) != 2 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	if d := dls[1]; string(d.Record.Value) != "-3" || d.Reason != broker.DLQReasonSchema || d.Error != "does not match schema num@1: at /: minimum: got -3, want 0" {
		t.Fatalf("dead letter %q: reason %q error %q", d.Record.Value, d.Reason, d.Error)
	}
	if st, _ := e.h.Status("nums-in"); st.State != StateRunning || st.Restarts != 0 {
		t.Fatalf("connector %+v", st)
	}
}

// A sink sees its station's schema at Open and is reopened when a new
// version is attached, before any record validated against it.
func TestSinkSeesStationSchemaAndRestartsOnNewVersion(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{Initial: 10 * time.Millisecond})
	ctx := context.Background()
	if _, err := e.b.CreateStation(ctx, broker.StationConfig{Name: "nums"}); err != nil {
		t.Fatal(err)
	}
	src := func(min int) schema.Source {
		return schema.Source{Type: schema.JSON, Files: []schema.File{{Name: "n.json", Content: fmt.Appendf(nil, `{"type":"integer","minimum":%d}`, min)}}}
	}
	if _, _, err := e.b.CreateSchema(ctx, "num", src(0), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.AttachSchema(ctx, "nums", broker.StationSchema{Name: "num"}); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(root, "sink.log")
	def := fmt.Sprintf("name: seen\nconnector: sinkinfo\nkind: sink\nstation: nums\nbatch: {max_records: 100, max_wait: 20ms}\nconfig:\n  file: %s\n", log)
	if _, _, _, err := e.h.Apply(ctx, "sink.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	lines := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	produce := func(v string) {
		if _, err := e.b.Produce(ctx, "nums", []broker.Message{{Value: []byte(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	produce("1")
	waitFor(t, "the first record", 30*time.Second, func() bool { return len(lines()) == 2 })
	// A compatible new version (a lower minimum): the sink reopens with it.
	if _, _, err := e.b.UpdateSchema(ctx, "num", src(-10), ""); err != nil {
		t.Fatal(err)
	}
	produce("-5")
	waitFor(t, "the record of version 2", 30*time.Second, func() bool { return len(lines()) == 4 })
	want := []string{"open num@1 json 1", "write 1 num@1", "open num@2 json 1", "write -5 num@2"}
	if got := lines(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sink log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st, _ := e.h.Status("seen"); st.Restarts != 0 || st.State != StateRunning {
		t.Fatalf("a schema change counted as a failure: %+v", st)
	}
}
