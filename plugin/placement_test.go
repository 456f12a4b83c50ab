package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin/config"
)

// TestPlacementStartsAndStopsConnectors moves a file sink off and back
// onto a host as its Placement changes: it stands by while placed
// elsewhere, resumes from its consumer group, and writes every record
// exactly once. Definitions the store gains or loses under the host (as a
// cluster replicates them) appear and disappear on Reconcile.
func TestPlacementStartsAndStopsConnectors(t *testing.T) {
	root := t.TempDir()
	b, err := broker.Open(broker.Options{DataDir: filepath.Join(root, "data"), Logger: slog.New(slog.DiscardHandler), RetentionInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var here atomic.Bool
	h, err := New(context.Background(), Options{Broker: b, Store: b.Connectors(), PluginDirs: []string{pluginDir},
		Logger: slog.New(slog.DiscardHandler), Placement: func(*config.Connector) bool { return here.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	e := &env{b: b, h: h}
	out := filepath.Join(root, "out")
	if _, _, _, err := h.Apply(t.Context(), "sink.yaml", sinkYAML("to-files", "orders", out, "")); err != nil {
		t.Fatal(err)
	}
	state := func() State {
		st, err := h.Status("to-files")
		if err != nil {
			t.Fatal(err)
		}
		return st.State
	}
	if s := state(); s != StateStandby {
		t.Fatalf("placed elsewhere: state %s, want %s", s, StateStandby)
	}
	e.produce(t, "orders", 0, 1000)

	move := func(to bool) {
		t.Helper()
		here.Store(to)
		if err := h.Reconcile(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	move(true)
	waitFor(t, "the sink to write the first records", 30*time.Second, func() bool { return len(sinkValues(t, out)) == 1000 })
	move(false)
	if s := state(); s != StateStandby {
		t.Fatalf("moved away: state %s, want %s", s, StateStandby)
	}
	e.produce(t, "orders", 1000, 1000)
	move(true)
	waitFor(t, "the sink to resume", 30*time.Second, func() bool {
		st, _ := h.Status("to-files")
		return st.State == StateRunning && st.Lag == 0
	})
	wantExactly(t, sinkValues(t, out), 2000)

	// A definition stored by another node.
	rec, _ := json.Marshal(record{File: "other.yaml", Definition: sinkYAML("other", "orders", filepath.Join(root, "other"), "")})
	if err := b.Connectors().PutConnector("other", rec); err != nil {
		t.Fatal(err)
	}
	move(false)
	if st, err := h.Status("other"); err != nil || st.State != StateStandby {
		t.Fatalf("replicated definition: %+v, %v; want it in standby", st, err)
	}
	if err := b.Connectors().DeleteConnector("other"); err != nil {
		t.Fatal(err)
	}
	move(false)
	if _, err := h.Status("other"); !errors.Is(err, ErrConnectorNotFound) {
		t.Fatalf("deleted definition: %v, want ErrConnectorNotFound", err)
	}
}
