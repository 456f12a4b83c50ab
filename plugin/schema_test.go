package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	if _, err := e.b.CreateStation(broker.StationConfig{Name: "nums"}); err != nil {
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
