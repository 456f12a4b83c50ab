package seglog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestGroupOfMixedBatchSizes has concurrent appenders share group commits
// of small (coalesced) and large (written as they are) batches, and reads
// every record back in offset order.
func TestGroupOfMixedBatchSizes(t *testing.T) {
	l := mustOpen(t, Options{Dir: t.TempDir(), Logger: quiet, Sync: SyncNever})
	sizes := []int{10, 300 << 10, 40 << 10, 64 << 10, 1, 20 << 10, 100 << 10}
	const appenders, rounds = 4, 15
	want := map[uint64][]byte{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range rounds {
				v := bytes.Repeat([]byte{byte('a' + a)}, sizes[(a+i)%len(sizes)])
				v = append(v, fmt.Sprintf("/%d/%d", a, i)...)
				base, err := l.Append(context.Background(), []Record{{Value: v}, {Value: v[:1]}})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[base], want[base+1] = v, v[:1]
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	got, err := l.Read(0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d records, appended %d", len(got), len(want))
	}
	for i, r := range got {
		if r.Offset != uint64(i) || !bytes.Equal(r.Value, want[r.Offset]) {
			t.Fatalf("record %d: offset %d, value of %d bytes differs from what was appended", i, r.Offset, len(r.Value))
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c := cap(l.wbuf); c > 2*coalesceBytes {
		t.Fatalf("the log keeps a %d-byte write buffer, want at most %d", c, 2*coalesceBytes)
	}
}
