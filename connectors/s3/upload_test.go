package main

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

// TestSinkUploadKeepsPartitionOrder checks that when one object of a
// partition fails to upload, the partition's later objects wait for it
// while other partitions' objects go up: the bucket never holds an object
// past a gap, which Open would resume after, skipping the gap.
func TestSinkUploadKeepsPartitionOrder(t *testing.T) {
	f := newFakeS3(t)
	snk, _ := openSink(t, f.config(map[string]any{"max_attempts": 1, "flush": map[string]any{"max_records": 2}}), "st", 2)
	var refused atomic.Int32
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "partition=0") && strings.HasSuffix(r.URL.Path, "00000000000000000000-00000000000000000001.jsonl") {
			refused.Add(1)
			http.Error(w, "", http.StatusInternalServerError)
			return true
		}
		return false
	})
	// Three objects per partition: offsets 0-1, 2-3, 4-5.
	recs := records(12, 2, base)
	ctx := context.Background()
	if err := snk.Write(ctx, recs); err == nil || !isRetryable(err) {
		t.Fatalf("Write with partition 0's first upload failing = %v, want a retryable error", err)
	}
	if refused.Load() != 1 {
		t.Fatalf("partition 0's first object was tried %d times, want 1", refused.Load())
	}
	keys := f.keys(t, "")
	for _, k := range keys {
		if strings.Contains(k, "partition=0") {
			t.Fatalf("partition 0 has %s in the bucket although its first object failed:\n%s", k, strings.Join(keys, "\n"))
		}
	}
	if n := len(keys); n != 3 {
		t.Fatalf("bucket holds %d objects, want partition 1's 3:\n%s", n, strings.Join(keys, "\n"))
	}
	f.setHook(nil)
	if err := snk.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if keys := f.keys(t, ""); len(keys) != 6 {
		t.Fatalf("after the retried Write the bucket holds %v, want 3 objects per partition", keys)
	}
	if err := snk.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := f.readBack(t, "")
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(recs)
	slices.SortStableFunc(want, func(a, b connector.Record) int { return cmp.Compare(a.Partition, b.Partition) })
	sameRecords(t, got, want)
	_, durable := openSink(t, f.config(map[string]any{}), "st", 2)
	if want := map[uint32]uint64{0: 6, 1: 6}; !mapsEqual(durable, want) {
		t.Fatalf("durable offsets after reopening = %v, want %v", durable, want)
	}
}
