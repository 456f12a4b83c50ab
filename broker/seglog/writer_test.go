package seglog

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

func (l *Log) writerRunning() bool {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.running
}

// TestWriterStopsWhenIdle checks that an idle log keeps no writer goroutine
// and that the next append starts one again.
func TestWriterStopsWhenIdle(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(sync.String(), func(t *testing.T) {
			o := memOpts(nil)
			o.Sync, o.SyncInterval = sync, 5*time.Millisecond
			l := mustOpen(t, o)
			defer l.Close()
			if l.writerRunning() {
				t.Fatal("a writer runs before the first append")
			}
			l.idle = time.Millisecond
			for round := range 3 {
				mustAppend(t, l, offsetRecords(uint64(round*10), 10))
				deadline := time.Now().Add(10 * time.Second)
				for l.writerRunning() {
					if time.Now().After(deadline) {
						t.Fatalf("round %d: the writer still runs 10s after the last append", round)
					}
					time.Sleep(time.Millisecond)
				}
			}
			checkOffsets(t, readAll(t, l, 0, 1<<20), 0)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, o)
			defer l.Close()
			if n := l.NextOffset(); n != 30 {
				t.Fatalf("after reopening NextOffset %d, want 30", n)
			}
		})
	}
}

// TestCloseWritesStateOnlyWhenChanged checks that closing a log that took
// no appends since its state file was written leaves the file alone: a
// broker with thousands of idle partitions shuts down without an fsync each.
func TestCloseWritesStateOnlyWhenChanged(t *testing.T) {
	var renames atomic.Int64
	inj := vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpRename {
			renames.Add(1)
		}
		return nil
	})
	o := memOpts(vfs.NewErrorFS(vfs.NewMem(), inj))
	l := mustOpen(t, o)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := renames.Swap(0); n != 0 {
		t.Fatalf("closing an empty log wrote the state file %d times", n)
	}
	l = mustOpen(t, o)
	mustAppend(t, l, offsetRecords(0, 10))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := renames.Swap(0); n != 1 {
		t.Fatalf("closing after an append wrote the state file %d times, want 1", n)
	}
	l = mustOpen(t, o)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := renames.Swap(0); n != 0 {
		t.Fatalf("closing an unchanged log wrote the state file %d times", n)
	}
	l = mustOpen(t, o)
	defer l.Close()
	if st := l.Status(); st.HighWaterMark != 10 || l.NextOffset() != 10 {
		t.Fatalf("high-water mark %d, next offset %d; want 10, 10", st.HighWaterMark, l.NextOffset())
	}
}
