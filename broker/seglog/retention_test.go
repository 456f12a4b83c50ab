package seglog

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// retentionLog builds a log of 10 closed segments of 10 records each, with
// batch i timestamped i seconds after t0, plus an active segment of 10.
func retentionLog(t *testing.T) (*Log, time.Time) {
	t.Helper()
	o := memOpts(nil)
	o.SegmentBytes = 1 // every batch rolls into its own segment
	l := mustOpen(t, o)
	t.Cleanup(func() { l.Close() })
	t0 := time.Unix(10000, 0)
	for i := range 11 {
		mustAppend(t, l, recs("r", 10, t0.Add(time.Duration(i)*time.Second).UnixNano()))
	}
	if n := len(l.Segments()); n != 11 {
		t.Fatalf("%d segments, want 11", n)
	}
	return l, t0
}

func TestRetention(t *testing.T) {
	for _, tc := range []struct {
		name    string
		r       Retention
		floor   uint64
		deleted int
	}{
		{"none", Retention{}, math.MaxUint64, 0},
		// Segment i's last timestamp is t0+i s (+9ns); now is t0+20s.
		{"age", Retention{MaxAge: 15 * time.Second}, math.MaxUint64, 5},
		{"bytes", Retention{MaxBytes: 1}, math.MaxUint64, 10},
		{"messages keeps at least the limit", Retention{MaxMessages: 35}, math.MaxUint64, 7},
		{"messages exact", Retention{MaxMessages: 40}, math.MaxUint64, 7},
		{"floor", Retention{MaxMessages: 1}, 30, 3},
		{"floor inside segment", Retention{MaxMessages: 1}, 35, 3},
		{"ack only", Retention{AckOnly: true}, 55, 5},
		{"ack only no floor", Retention{AckOnly: true}, math.MaxUint64, 10},
		{"ack only zero floor", Retention{AckOnly: true}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, t0 := retentionLog(t)
			n, err := l.Enforce(t0.Add(20*time.Second), tc.r, tc.floor)
			if err != nil || n != tc.deleted {
				t.Fatalf("Enforce = %d, %v; want %d", n, err, tc.deleted)
			}
			start := uint64(tc.deleted * 10)
			if l.StartOffset() != start || l.Segments()[0].BaseOffset != start || l.NextOffset() != 110 {
				t.Fatalf("StartOffset %d, first segment %d, NextOffset %d", l.StartOffset(), l.Segments()[0].BaseOffset, l.NextOffset())
			}
			if start > 0 {
				if _, err := l.Read(start-1, 1); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("Read below start: %v", err)
				}
			}
			if got := readAll(t, l, start, 1<<20); len(got) != int(110-start) {
				t.Fatalf("read %d records after retention", len(got))
			}
			var size int64
			for _, s := range l.Segments() {
				size += s.Bytes
			}
			if size != l.Size() {
				t.Fatalf("Size %d, segments sum %d", l.Size(), size)
			}
			if _, err := l.fs.Stat(segPath(l.opts.Dir, 0, logSuffix)); (err == nil) == (tc.deleted > 0) {
				t.Fatalf("first segment file exists = %v after deleting %d", err == nil, tc.deleted)
			}
		})
	}
}

func TestRetentionConcurrentReaders(t *testing.T) {
	l, t0 := retentionLog(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				from := l.StartOffset()
				rs, err := l.Read(from, 1<<20)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				for i, r := range rs {
					if r.Offset != from+uint64(i) || string(r.Key) != "r-k"+string(rune('0'+r.Offset%10)) {
						t.Errorf("garbage record %d at %d: %q", r.Offset, from+uint64(i), r.Key)
						return
					}
				}
			}
		})
	}
	for i := range 10 {
		if _, err := l.Enforce(t0, Retention{MaxMessages: int64(100 - i*10)}, math.MaxUint64); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if l.StartOffset() != 100 {
		t.Fatalf("StartOffset %d", l.StartOffset())
	}
}
