package plugin

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/plugin/config"
	"github.com/junctionhq/junction/sdk/connector"
)

// failAfterTwoBatchesSink fails its first Write once the pump has pulled a
// second batch, so that batch is still queued when the writer stops.
type failAfterTwoBatchesSink struct {
	connector.UnimplementedSink
	b     *broker.Broker
	group string
}

func (s *failAfterTwoBatchesSink) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) {
	return nil, nil
}

func (s *failAfterTwoBatchesSink) Write(ctx context.Context, recs []connector.Record) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		gi, err := s.b.Group("s", s.group)
		if err == nil && gi.Pending >= 2*len(recs) {
			return errors.New("destination refused the batch")
		}
		time.Sleep(time.Millisecond)
	}
	return errors.New("the pump never pulled a second batch")
}

// The sink pump's reader goroutine exits when the writer failed while the
// reader waited for more records with a batch already queued.
func TestSinkPumpLeaksNothingWhenWriteFails(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	e := startEnv(t, t.TempDir(), RestartPolicy{})
	defer e.close()
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, "s", 0, 200) // two batches, then nothing more to pull
	def := &config.Connector{Name: "leaky", Station: "s", Kind: config.KindSink, DLQ: "s.dlq", Timeout: 30 * time.Second,
		Batch: config.Batch{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: time.Millisecond}}
	r := newRunner(e.h, def, Installed{}, record{})
	err := r.runSink(context.Background(), &failAfterTwoBatchesSink{b: e.b, group: GroupName("leaky")})
	if err == nil || err.Error() != "write of 100 records: destination refused the batch" {
		t.Fatalf("runSink = %v, want the sink's error", err)
	}
}

// Pausing a connector whose plugin is slow to shut down stalls neither the
// other connector calls nor a metrics scrape: the host's lock is not held
// while a plugin stops.
func TestSlowPluginShutdownStallsNothingElse(t *testing.T) {
	root := t.TempDir()
	e := start(t, filepath.Join(root, "data"), RestartPolicy{})
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, "orders", 0, 10)
	release := filepath.Join(root, "release")
	def := "name: slow\nconnector: hang\nkind: sink\nstation: orders\ntimeout: 1m\nbatch: {max_wait: 10ms}\nconfig: {teardown_until: " + release + "}\n"
	if _, _, _, err := e.h.Apply(context.Background(), "slow.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connector to write", 30*time.Second, func() bool {
		return e.logs.contains("opened; Write will never return", "connector=slow")
	})
	paused := make(chan error, 1)
	go func() { _, err := e.h.Pause("slow"); paused <- err }()
	waitFor(t, "the plugin's teardown to start", 30*time.Second, func() bool {
		return e.logs.contains("teardown waits for its release file", "connector=slow")
	})
	listed := make(chan []Status, 1)
	go func() { listed <- e.h.List() }()
	select {
	case sts := <-listed:
		if len(sts) != 1 || sts[0].Name != "slow" {
			t.Fatalf("List during a slow shutdown = %+v", sts)
		}
	case err := <-paused:
		t.Fatalf("pause finished (%v) before its plugin was released", err)
	case <-time.After(10 * time.Second):
		t.Fatal("List stalled while a plugin shut down")
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := <-paused; err != nil {
		t.Fatal(err)
	}
	if st, _ := e.h.Status("slow"); st.State != StatePaused {
		t.Fatalf("state after pause = %s", st.State)
	}
}

// ackRefusingBroker refuses acks under a cancelled context, as a cluster
// node does; its first ack waits until the pump has stopped (the sink's
// Write context is cancelled).
type ackRefusingBroker struct {
	*broker.Broker
	stopped <-chan context.Context
	once    bool
}

func (b *ackRefusingBroker) AckRanges(ctx context.Context, station, group string, ranges []broker.OffsetRange) error {
	if !b.once {
		b.once = true
		select {
		case wctx := <-b.stopped:
			<-wctx.Done()
		case <-time.After(10 * time.Second):
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.Broker.AckRanges(ctx, station, group, ranges)
}

// secondWriteFailsSink accepts its first batch and fails the second,
// handing the second Write's context to stopped.
type secondWriteFailsSink struct {
	connector.UnimplementedSink
	writes  int
	stopped chan<- context.Context
}

func (s *secondWriteFailsSink) Open(context.Context, connector.SinkInfo) (map[uint32]uint64, error) {
	return nil, nil
}

func (s *secondWriteFailsSink) Write(ctx context.Context, recs []connector.Record) error {
	if s.writes++; s.writes == 1 {
		return nil
	}
	s.stopped <- ctx
	return errors.New("destination refused the batch")
}

// What a sink wrote is acked even when the pump stops before the ack is
// sent: a stopping pump cancels its context, and on a cluster an ack under
// a cancelled context fails, which would deliver the written records again.
func TestSinkPumpAcksWhatWasWrittenWhileStopping(t *testing.T) {
	e := startEnv(t, t.TempDir(), RestartPolicy{})
	defer e.close()
	if _, err := e.b.CreateStation(t.Context(), broker.StationConfig{Name: "s"}); err != nil {
		t.Fatal(err)
	}
	e.produce(t, "s", 0, 200)
	stopped := make(chan context.Context, 1)
	h, err := New(context.Background(), Options{Broker: &ackRefusingBroker{Broker: e.b, stopped: stopped}, Store: e.b.Connectors(),
		PluginDirs: []string{pluginDir}, Logger: slog.New(e.logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	def := &config.Connector{Name: "stopping", Station: "s", Kind: config.KindSink, DLQ: "s.dlq", Timeout: 30 * time.Second,
		Batch: config.Batch{MaxRecords: 100, MaxBytes: 1 << 20, MaxWait: time.Millisecond}}
	r := newRunner(h, def, Installed{}, record{})
	err = r.runSink(context.Background(), &secondWriteFailsSink{stopped: stopped})
	if err == nil || err.Error() != "write of 100 records: destination refused the batch" {
		t.Fatalf("runSink = %v, want the sink's error", err)
	}
	gi, err := e.b.Group("s", GroupName("stopping"))
	if err != nil {
		t.Fatal(err)
	}
	if gi.Pending != 100 {
		t.Fatalf("%d deliveries pending after the pump stopped, want the 100 of the failed batch (the written batch acked)", gi.Pending)
	}
}
