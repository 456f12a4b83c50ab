package seglog

import (
	"testing"
	"time"
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
