package broker

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

func openErr(dir string, opts ...func(*Options)) (*Broker, error) {
	o := Options{Logger: slog.New(slog.DiscardHandler), DataDir: dir, SegmentBytes: 4096, RetentionInterval: time.Hour, ScrubBytesPerSecond: -1}
	for _, f := range opts {
		f(&o)
	}
	return Open(o)
}

// TestInvalidStationRecord is the regression test for a station record
// with "partitions":0, which loaded and then made produce divide by zero.
func TestInvalidStationRecord(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s", Partitions: 2})
	produceN(t, b, "s", 0, 50)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(filepath.Join(dir, "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PutStation("s", []byte(`{"name":"s","partitions":0,"storage":"disk","fsync":"always","max_deliveries":5,"max_message_bytes":100}`)); err != nil {
		t.Fatal(err)
	}
	m.Close()

	_, err = openErr(dir)
	if err == nil {
		t.Fatal("a station record with 0 partitions loaded")
	}
	for _, want := range []string{filepath.Join(dir, "meta.db"), `station "s"`, "partitions", "--recover-meta"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not mention %q", err, want)
		}
	}

	b, err = openErr(dir, func(o *Options) { o.RecoverMeta = true })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, stats, err := b.Station("s")
	if err != nil || cfg.Partitions != 2 || stats.Messages != 50 {
		t.Fatalf("rebuilt station %+v %+v, %v", cfg, stats, err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "meta.db.bad-*")); len(aside) != 1 {
		t.Fatalf("bad file not kept aside: %v", aside)
	}
}

// TestCorruptMetaFile: a meta.db that is not a bbolt file is a clear error,
// and --recover-meta rebuilds the stations from their directories.
func TestCorruptMetaFile(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "orders"})
	produceN(t, b, "orders", 0, 30)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "meta.db"), []byte(strings.Repeat("x", 20000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openErr(dir); !errors.Is(err, meta.ErrCorrupt) || !strings.Contains(err.Error(), "--recover-meta") {
		t.Fatalf("Open with a garbage meta.db = %v", err)
	}
	b, err := openErr(dir, func(o *Options) { o.RecoverMeta = true })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	wantSequence(t, pullAll(t, b, "orders", "g", 30), 0, 30)
}

func TestInvalidGroupRecord(t *testing.T) {
	dir := t.TempDir()
	b := openTest(t, dir)
	mustCreate(t, b, StationConfig{Name: "s"})
	if _, err := b.CreateGroup(t.Context(), "s", "g", StartPosition{}, GroupConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	m, err := meta.Open(filepath.Join(dir, "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.PutGroup("s", "g", []byte(`{"config":{"ack_deadline":0,"max_ack_pending":10}}`)); err != nil {
		t.Fatal(err)
	}
	m.Close()
	_, err = openErr(dir)
	if err == nil || !strings.Contains(err.Error(), `group "g" of station "s"`) || !strings.Contains(err.Error(), "ack_deadline") {
		t.Fatalf("Open with a bad group record = %v", err)
	}
	b, err = openErr(dir, func(o *Options) { o.RecoverMeta = true })
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Group("s", "g"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("the bad group survived the rebuild: %v", err)
	}
}
