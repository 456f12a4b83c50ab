package broker

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/meta"
	"github.com/junctionhq/junction/broker/vfs"
)

// gate blocks whoever passes it while closed, and says when someone waits.
type gate struct {
	once    sync.Once
	waiting chan struct{} // closed when the first caller blocks
	open    chan struct{}
}

func newGate() *gate { return &gate{waiting: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) pass() {
	g.once.Do(func() { close(g.waiting) })
	<-g.open
}

func (g *gate) release() { close(g.open) }

// within fails the test if fn does not return in time: the bound is for
// a deadlock, not a speed claim.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s stalled behind another station's disk work", what)
	}
}

// blockingStations holds PutStation and DeleteStation at a gate.
type blockingStations struct {
	meta.StationStore
	put, del *gate
}

func (s *blockingStations) PutStation(name string, v []byte) error {
	if s.put != nil {
		s.put.pass()
	}
	return s.StationStore.PutStation(name, v)
}

func (s *blockingStations) DeleteStation(name string) error {
	if s.del != nil {
		s.del.pass()
	}
	return s.StationStore.DeleteStation(name)
}

// Creating or deleting one station must not stall produce and pull on the
// others while its metadata is written.
func TestStationChangesDoNotStallOtherStations(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "busy"})
	mustCreate(t, b, StationConfig{Name: "doomed"})
	store := &blockingStations{StationStore: b.stationsDB, put: newGate(), del: newGate()}
	b.stationsDB = store

	created := make(chan error, 1)
	go func() { _, err := b.CreateStation(context.Background(), StationConfig{Name: "new"}); created <- err }()
	<-store.put.waiting
	within(t, "produce while a station is created", func() error {
		_, err := b.Produce(context.Background(), "busy", []Message{{Value: []byte("x")}})
		return err
	})
	store.put.release()
	if err := <-created; err != nil {
		t.Fatal(err)
	}

	deleted := make(chan error, 1)
	go func() { deleted <- b.DeleteStation(context.Background(), "doomed", false) }()
	<-store.del.waiting
	within(t, "pull while a station is deleted", func() error {
		_, err := b.Pull(context.Background(), "busy", "g", PullOptions{Max: 1, MaxWait: time.Second})
		return err
	})
	within(t, "list stations while a station is deleted", func() error { b.Stations(); return nil })
	store.del.release()
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
}

// An update that races a delete of the same station never brings the
// station back: after a restart it is gone.
func TestUpdateRacingDeleteDoesNotResurrect(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	for i := range 20 {
		mustCreate(t, b, StationConfig{Name: "s"})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			d := time.Duration(i+1) * time.Minute
			b.UpdateStation(context.Background(), "s", StationUpdate{DedupWindow: &d})
		}()
		go func() {
			defer wg.Done()
			if err := b.DeleteStation(context.Background(), "s", false); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
	}
	b.Close()
	b = openTest(t, dir)
	if cfgs, _ := b.Stations(); len(cfgs) != 0 {
		t.Fatalf("a deleted station came back after restart: %+v", cfgs[0])
	}
}

// blockReads blocks segment reads at a gate while armed.
type blockReads struct {
	mu    sync.Mutex
	armed *gate
}

func (r *blockReads) MaybeError(op vfs.Op) error {
	r.mu.Lock()
	g := r.armed
	r.mu.Unlock()
	if g != nil && op.Kind == vfs.OpRead && strings.HasSuffix(op.Path, ".log") {
		g.pass()
	}
	return nil
}

func (r *blockReads) arm(g *gate) {
	r.mu.Lock()
	r.armed = g
	r.mu.Unlock()
}

// A consumer group reads its station's log without holding its lock, so
// acks of earlier deliveries never wait behind a read.
func TestGroupAcksDoNotWaitForReads(t *testing.T) {
	inj := &blockReads{}
	b := openTest(t, t.TempDir(), func(o *Options) { o.FS = vfs.NewErrorFS(vfs.OS, inj) })
	mustCreate(t, b, StationConfig{Name: "s"})
	produceN(t, b, "s", 0, 10)
	ds, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxWait: time.Second})
	if err != nil || len(ds) != 10 {
		t.Fatalf("first pull: %d messages, %v", len(ds), err)
	}
	produceN(t, b, "s", 10, 10)

	g := newGate()
	inj.arm(g)
	pulled := make(chan error, 1)
	go func() {
		_, err := b.Pull(context.Background(), "s", "g", PullOptions{Max: 10, MaxWait: 10 * time.Second})
		pulled <- err
	}()
	<-g.waiting
	within(t, "ack while the group reads", func() error {
		refs := make([]MessageRef, len(ds))
		for i, d := range ds {
			refs[i] = MessageRef{d.Partition, d.Record.Offset}
		}
		return b.Ack(context.Background(), "s", "g", refs)
	})
	inj.arm(nil)
	g.release()
	if err := <-pulled; err != nil {
		t.Fatal(err)
	}
}

// The dead-letter policy: a station may name a dead-letter station that
// does not exist yet; it is made on the first dead letter like its origin.
func TestDeadLetterStationIsCreatedOnDemand(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "orders", Partitions: 3, Storage: StorageMemory, DeadLetterStation: "orders.dlq", MaxDeliveries: 1,
		Retention: Retention{MaxAge: time.Hour}})
	produceN(t, b, "orders", 0, 1)
	ds, err := b.Pull(context.Background(), "orders", "g", PullOptions{Max: 1, MaxWait: time.Second})
	if err != nil || len(ds) != 1 {
		t.Fatalf("pull: %d, %v", len(ds), err)
	}
	if err := b.Nack(context.Background(), "orders", "g", []MessageRef{{ds[0].Partition, ds[0].Record.Offset}}, 0); err != nil {
		t.Fatal(err)
	}
	// The next pull finds the message out of deliveries and moves it.
	if _, err := b.Pull(context.Background(), "orders", "g", PullOptions{Max: 1, MaxWait: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	cfg, stats, err := b.Station("orders.dlq")
	if err != nil {
		t.Fatalf("dead-letter station was not created: %v", err)
	}
	if cfg.Partitions != 3 || cfg.Storage != StorageMemory || cfg.Retention.MaxAge != time.Hour || cfg.DeadLetterStation != "" {
		t.Fatalf("dead-letter station settings = %+v, want the origin's partitions, storage and retention and no DLQ", cfg)
	}
	if stats.Messages != 1 {
		t.Fatalf("dead-letter station holds %d messages, want 1", stats.Messages)
	}
}

func TestDeadLetterStationInUseIsNotDeleted(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "dlq"})
	mustCreate(t, b, StationConfig{Name: "b", DeadLetterStation: "dlq"})
	mustCreate(t, b, StationConfig{Name: "a", DeadLetterStation: "dlq"})
	err := b.DeleteStation(context.Background(), "dlq", false)
	if !errors.Is(err, ErrStationInUse) || !strings.Contains(err.Error(), `"a", "b"`) {
		t.Fatalf("delete of a dead-letter station in use: %v; want ErrStationInUse naming a and b", err)
	}
	if err := b.DeleteStation(context.Background(), "dlq", true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
}

// countingLog counts log records by message.
type countingLog struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingLog) Enabled(context.Context, slog.Level) bool { return true }
func (c *countingLog) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *countingLog) WithGroup(string) slog.Handler            { return c }
func (c *countingLog) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	c.n[r.Message]++
	c.mu.Unlock()
	return nil
}

func (c *countingLog) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg]
}

// When a dead-letter station cannot be made, the origin says so once
// (log, station stats) however often the move is retried, and recovers.
func TestMissingDeadLetterStationIsReportedOnce(t *testing.T) {
	fail := &failDir{dir: "stations/dlq"}
	logs := &countingLog{n: map[string]int{}}
	b := openTest(t, t.TempDir(), func(o *Options) {
		o.FS = vfs.NewErrorFS(vfs.OS, fail)
		o.Logger = slog.New(logs)
	})
	mustCreate(t, b, StationConfig{Name: "orders", DeadLetterStation: "dlq", MaxDeliveries: 1})
	msgs := []Message{{Value: []byte("x")}}
	for range 3 {
		if err := b.DeadLetter(context.Background(), "orders", "dlq", msgs); err == nil {
			t.Fatal("dead letter stored although its station cannot be created")
		}
	}
	_, stats, _ := b.Station("orders")
	if !strings.Contains(stats.DeadLetterError, `dead-letter station "dlq"`) {
		t.Fatalf("station stats DeadLetterError = %q", stats.DeadLetterError)
	}
	if n := logs.count("messages cannot be dead-lettered; they stay pending and are retried"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once", n)
	}
	fail.off()
	if err := b.DeadLetter(context.Background(), "orders", "dlq", msgs); err != nil {
		t.Fatal(err)
	}
	if _, stats, _ := b.Station("orders"); stats.DeadLetterError != "" {
		t.Fatalf("DeadLetterError stays %q after dead letters are stored again", stats.DeadLetterError)
	}
}

// failDir fails making directories under dir until off.
type failDir struct {
	mu       sync.Mutex
	dir      string
	disabled bool
}

func (f *failDir) MaybeError(op vfs.Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.disabled && op.Kind == vfs.OpMkdirAll && strings.Contains(op.Path, f.dir) {
		return errors.New("injected: disk full")
	}
	return nil
}

func (f *failDir) off() {
	f.mu.Lock()
	f.disabled = true
	f.mu.Unlock()
}
