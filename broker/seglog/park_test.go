package seglog

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// waitIdle waits until l's writer has exited.
func waitIdle(t *testing.T, l *Log) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.qmu.Lock()
		running := l.running
		l.qmu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not go idle")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestIdleLogsWithinFileLimit checks that idle logs keep no more active
// segment files open than the cache allows, and that appending to a log
// whose active segment was closed meanwhile reopens it to append, across
// every sync policy.
func TestIdleLogsWithinFileLimit(t *testing.T) {
	for _, sync := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(fmt.Sprint(sync), func(t *testing.T) {
			const limit, n = 2, 6
			dir := t.TempDir()
			cache := NewFileCache(limit)
			opts := make([]Options, n)
			logs := make([]*Log, n)
			open := func() {
				for i := range logs {
					logs[i] = mustOpen(t, opts[i])
					logs[i].idle = time.Millisecond
				}
			}
			for i := range opts {
				opts[i] = Options{Dir: filepath.Join(dir, fmt.Sprint(i)), Logger: quiet, Sync: sync, SyncInterval: time.Millisecond, FileCache: cache}
			}
			open()
			if got := openFilesUnder(t, dir); got > limit {
				t.Fatalf("%d files open after Open, want at most %d", got, limit)
			}
			for round := range 3 {
				for _, l := range logs {
					mustAppend(t, l, offsetRecords(uint64(round*5), 5))
				}
				for _, l := range logs {
					waitIdle(t, l)
				}
				if got := openFilesUnder(t, dir); got > limit {
					t.Fatalf("round %d: %d files open with every log idle, want at most %d", round, got, limit)
				}
			}
			check := func() {
				for i, l := range logs {
					rs := readAll(t, l, 0, 1<<20)
					if len(rs) != 15 {
						t.Fatalf("log %d: %d records, want 15", i, len(rs))
					}
					checkOffsets(t, rs, 0)
				}
			}
			check()
			for _, l := range logs {
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
			}
			open()
			check()
			for _, l := range logs {
				l.Close()
			}
		})
	}
}
