package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
)

func valueBytes(from, n int) uint64 {
	var b uint64
	for i := from; i < from+n; i++ {
		b += uint64(len(strconv.Itoa(i)))
	}
	return b
}

// A sink's counters since creation survive a pause and a broker restart;
// its per-run counters start again with each run.
func TestSinkCountersSurvivePauseAndRestart(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	e := startEnv(t, data, RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.h.Apply(context.Background(), "sink.yaml", sinkYAML("files", "orders", "${OUT_DIR}", "")); err != nil {
		t.Fatal(err)
	}
	e.produce(t, "orders", 0, 1000)
	waitFor(t, "1000 records out", 30*time.Second, func() bool { st, _ := e.h.Status("files"); return st.Total.RecordsOut == 1000 })
	if _, err := e.h.Pause("files"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.Resume("files"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the sink to run again", 30*time.Second, func() bool { st, _ := e.h.Status("files"); return st.State == StateRunning })
	if st, _ := e.h.Status("files"); st.Total.RecordsOut != 1000 || st.Run.RecordsOut != 0 || st.RecordsOut != 0 {
		t.Fatalf("after a pause: total %+v, run %+v", st.Total, st.Run)
	}
	e.produce(t, "orders", 1000, 500)
	waitFor(t, "1500 records out", 30*time.Second, func() bool { st, _ := e.h.Status("files"); return st.Total.RecordsOut == 1500 })
	st, _ := e.h.Status("files")
	if st.Run.RecordsOut != 500 || st.Total.RecordsIn != 1500 || st.Total.BytesOut != valueBytes(0, 1500) || st.Total.BytesIn != st.Total.BytesOut || st.Total.Errors != 0 {
		t.Fatalf("counters: total %+v, run %+v", st.Total, st.Run)
	}

	e.close()
	e = startEnv(t, data, RestartPolicy{})
	t.Cleanup(e.close)
	st, _ = e.h.Status("files")
	if st.Total.RecordsOut != 1500 || st.Total.BytesOut != valueBytes(0, 1500) {
		t.Fatalf("after a broker restart: total %+v", st.Total)
	}
}

// A source stores its counters with its checkpoint.
func TestSourceCountersSurviveRestart(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	e := startEnv(t, data, RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "lines"}); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(root, "in")
	os.MkdirAll(in, 0o755)
	var sb strings.Builder
	for i := range 100 {
		fmt.Fprintf(&sb, "%d\n", i)
	}
	os.WriteFile(filepath.Join(in, "a.txt"), []byte(sb.String()), 0o644)
	def := fmt.Sprintf("name: lines-in\nconnector: file\nkind: source\nstation: lines\nconfig:\n  glob: %s/*.txt\n  format: lines\n  poll_interval: 20ms\n", in)
	if _, _, _, err := e.h.Apply(context.Background(), "src.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a checkpoint after 100 records", 30*time.Second, func() bool {
		st, _ := e.h.Status("lines-in")
		return st.Checkpoint != "" && st.Total.RecordsOut == 100
	})
	e.close()
	e = startEnv(t, data, RestartPolicy{})
	t.Cleanup(e.close)
	if st, _ := e.h.Status("lines-in"); st.Total.RecordsOut != 100 || st.Total.BytesOut != valueBytes(0, 100) {
		t.Fatalf("after a broker restart: total %+v", st.Total)
	}
}
