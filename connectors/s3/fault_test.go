package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/connector/connectortest"
)

// hostSink drives a sink as the plugin host does, over the real gRPC shims:
// Configure, Open, then Write from the durable offsets on, in batches.
type hostSink struct {
	t    *testing.T
	inst *connectortest.Instance
}

func startSink(t *testing.T, cfg map[string]any, partitions uint32) (*hostSink, map[uint32]uint64) {
	t.Helper()
	inst := connectortest.Start(t, definition())
	ctx := context.Background()
	fes, err := inst.Connector.Configure(ctx, connector.KindSink, "orders", "orders-to-s3", cfg)
	if err != nil || len(fes) > 0 {
		t.Fatalf("Configure: %v %v", fes, err)
	}
	durable, err := inst.Sink.Open(ctx, connector.SinkInfo{Connector: "orders-to-s3", Station: "orders", Partitions: partitions})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return &hostSink{t: t, inst: inst}, durable
}

// deliver writes the records at or after durable, as the host does after
// seeking the group there, in batches of 7.
func (h *hostSink) deliver(recs []connector.Record, durable map[uint32]uint64) {
	h.t.Helper()
	var todo []connector.Record
	for _, r := range recs {
		if r.Offset >= durable[r.Partition] {
			todo = append(todo, r)
		}
	}
	for len(todo) > 0 {
		n := min(len(todo), 7)
		if err := h.inst.Sink.Write(context.Background(), todo[:n]); err != nil {
			h.t.Fatalf("Write: %v", err)
		}
		todo = todo[n:]
	}
}

// TestSinkCrashBeforeFlush kills the plugin while acked records are only
// buffered: the next Open must report the offsets the bucket holds, and
// the replay from there must leave every record in the bucket exactly once.
func TestSinkCrashBeforeFlush(t *testing.T) {
	f := newFakeS3(t)
	cfg := f.config(map[string]any{"flush": map[string]any{"across_writes": true, "max_records": 20}})
	recs := records(100, 2, base)

	first, durable := startSink(t, cfg, 2)
	first.deliver(recs[:70], durable) // 35 per partition: 20 uploaded, 15 buffered
	first.inst.Close()
	if got := len(f.keys(t, "")); got != 2 {
		t.Fatalf("%d objects before the crash, want 2", got)
	}

	second, durable := startSink(t, cfg, 2)
	if want := map[uint32]uint64{0: 20, 1: 20}; !mapsEqual(durable, want) {
		t.Fatalf("durable after the crash = %v, want %v", durable, want)
	}
	second.deliver(recs, durable)
	if err := second.inst.Sink.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, byPartition(recs))
}

// TestSinkCrashMidUpload kills the plugin while an upload is in flight.
func TestSinkCrashMidUpload(t *testing.T) {
	f := newFakeS3(t)
	cfg := f.config(map[string]any{"max_attempts": 1, "flush": map[string]any{"across_writes": true, "max_records": 20}})
	recs := records(80, 2, base)
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "partition=1/") {
			return false
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		// The server notices the client going away only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	first, durable := startSink(t, cfg, 2)
	done := make(chan error, 1)
	go func() { done <- first.inst.Sink.Write(context.Background(), recs[:40]) }()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the upload of partition 1 never started")
	}
	first.inst.Close()
	if err := <-done; err == nil {
		t.Fatal("Write returned nil although the plugin died mid-upload")
	}
	f.setHook(nil)
	// Partitions upload side by side: partition 0's object may or may not
	// have gone up before the crash, partition 1's cannot have.
	want := map[uint32]uint64{0: 0, 1: 0}
	keys := f.keys(t, "")
	switch {
	case len(keys) == 1 && strings.Contains(keys[0], "partition=0/"):
		want[0] = 20
	case len(keys) != 0:
		t.Fatalf("objects after the crash %v, want none or partition 0's only", keys)
	}

	second, durable := startSink(t, cfg, 2)
	if !mapsEqual(durable, want) {
		t.Fatalf("durable after the crash = %v, want %v", durable, want)
	}
	second.deliver(recs, durable)
	if err := second.inst.Sink.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, byPartition(recs))
}

// TestSourceCrashMidRead kills the plugin after it returned batches the
// host had not checkpointed yet: the next instance, opened at the last
// checkpoint, must emit exactly the records after it.
func TestSourceCrashMidRead(t *testing.T) {
	f := newFakeS3(t)
	f.put(t, "in/a.txt", linesObject(0, 10))
	f.put(t, "in/b.txt.gz", mustCompress(t, linesObject(10, 10), "gzip"))
	f.put(t, "in/c.txt", linesObject(20, 10))
	cfg := f.config(map[string]any{"prefix": "in/", "poll_interval": "20ms", "batch": map[string]any{"max_records": 3}})
	ctx := context.Background()
	start := func(pos connector.Position) *connectortest.Instance {
		inst := connectortest.Start(t, definition())
		if fes, err := inst.Connector.Configure(ctx, connector.KindSource, "in", "s3-in", cfg); err != nil || len(fes) > 0 {
			t.Fatalf("Configure: %v %v", fes, err)
		}
		if err := inst.Source.Open(ctx, pos); err != nil {
			t.Fatalf("Open: %v", err)
		}
		return inst
	}
	first := start(nil)
	var inStation []connector.Record
	var checkpoint connector.Position
	for range 5 { // through a and into b, which is compressed
		b, err := first.Source.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		inStation = append(inStation, b.Records...)
		checkpoint = b.Position
	}
	for range 2 { // read but never durable in the station
		if _, err := first.Source.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	first.Close()

	second := start(checkpoint)
	rest, _, _ := readAll(t, second.Source, 30-len(inStation))
	got := append(inStation, rest...)
	if g, w := strings.Join(values(got), ","), strings.Join(wantLines(0, 30), ","); g != w {
		t.Fatalf("station holds %s, want %s", g, w)
	}
	expectIdle(t, second.Source)
	if err := second.Source.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
}
