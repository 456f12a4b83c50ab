package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestMessageIDLimit is the regression test for unbounded message ids
// (200 ids of 1 MB held 1.24 GB): an id over 256 bytes is refused, naming
// the field, without echoing the id.
func TestMessageIDLimit(t *testing.T) {
	b := openTest(t, t.TempDir())
	mustCreate(t, b, StationConfig{Name: "s", DedupWindow: time.Minute})
	long := strings.Repeat("x", MaxMessageIDBytes+1)
	_, err := b.Produce(context.Background(), "s", []Message{{Value: []byte("a"), ID: "ok"}, {Value: []byte("b"), ID: long}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "messages[1].id" || strings.Contains(err.Error(), long) {
		t.Fatalf("Produce with a long id = %v", err)
	}
	if _, err := b.Produce(context.Background(), "s", []Message{{Value: []byte("a"), ID: strings.Repeat("y", MaxMessageIDBytes)}}); err != nil {
		t.Fatal(err)
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestDedupIndexMemoryBound is the regression test for an unbounded dedup
// index (1M ids of 35 B took 398 MB): the index's accounted bytes never
// exceed its cap, the heap grows by about that much, and reaching the cap
// is logged. Not parallel: heap figures are noisy enough.
func TestDedupIndexMemoryBound(t *testing.T) {
	const capBytes = 256 << 10
	var logBuf bytes.Buffer
	d := newDedupIndex("s", capBytes, slog.New(slog.NewTextHandler(&logBuf, nil)))
	before := heapAlloc()
	now := time.Unix(1_000_000, 0)
	for i := range 100_000 {
		id := fmt.Sprintf("%035d", i)
		msgs := []Message{{ID: id}}
		res := make([]ProduceResult, 1)
		claims, dups, err := d.claim(context.Background(), msgs, res, now, time.Hour)
		if err != nil || dups != nil {
			t.Fatalf("claim %d: %v %v", i, dups, err)
		}
		d.settle(claims, []ProduceResult{{Offset: uint64(i)}}, nil)
		if i%1000 == 0 {
			if b, _, _ := d.stats(); b > capBytes {
				t.Fatalf("after %d ids the index accounts %d bytes, over its cap of %d", i, b, capBytes)
			}
		}
		now = now.Add(time.Millisecond)
	}
	growth := int64(heapAlloc()) - int64(before)
	if growth > 8*capBytes+(8<<20) {
		t.Fatalf("heap grew by %d bytes for an index capped at %d", growth, capBytes)
	}
	b, ids, evicted := d.stats()
	if b > capBytes || evicted == 0 || uint64(ids)+evicted != 100_000 {
		t.Fatalf("bytes %d ids %d evicted %d", b, ids, evicted)
	}
	if !strings.Contains(logBuf.String(), "fall out of the dedup window early") {
		t.Fatalf("reaching the cap was not logged: %s", logBuf.String())
	}
	// The newest ids are still deduplicated.
	res := make([]ProduceResult, 1)
	_, dups, _ := d.claim(context.Background(), []Message{{ID: fmt.Sprintf("%035d", 99_999)}}, res, now, time.Hour)
	if dups == nil || !res[0].Duplicate || res[0].Offset != 99_999 {
		t.Fatalf("newest id not deduplicated: %v %+v", dups, res)
	}
}

func TestDedupIndexExpiresByBucket(t *testing.T) {
	d := newDedupIndex("s", 1<<20, slog.New(slog.DiscardHandler))
	now := time.Unix(1_000_000, 0)
	for i := range 100 {
		claims, _, _ := d.claim(context.Background(), []Message{{ID: fmt.Sprint(i)}}, make([]ProduceResult, 1), now.Add(time.Duration(i)*time.Second), time.Minute)
		d.settle(claims, []ProduceResult{{}}, nil)
	}
	d.mu.Lock()
	d.expire(now.Add(3 * time.Minute))
	d.mu.Unlock()
	if b, ids, _ := d.stats(); b != 0 || ids != 0 {
		t.Fatalf("after the window: %d bytes, %d ids", b, ids)
	}
}

func TestDedupMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := openTest(t, t.TempDir(), func(o *Options) { o.Registerer = reg })
	mustCreate(t, b, StationConfig{Name: "s", DedupWindow: time.Minute})
	if _, err := b.Produce(context.Background(), "s", []Message{{Value: []byte("a"), ID: "id-1"}}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "junction_dedup_index_bytes" {
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != float64(entryCost("id-1")) {
				t.Fatalf("junction_dedup_index_bytes = %v", v)
			}
			return
		}
	}
	t.Fatal("no junction_dedup_index_bytes metric")
}
