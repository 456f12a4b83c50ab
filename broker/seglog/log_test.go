package seglog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{}, "Options.Dir"},
		{Options{Dir: "/x", SegmentBytes: -1}, "Options.SegmentBytes"},
		{Options{Dir: "/x", SegmentBytes: MaxSegmentBytes + 1}, "Options.SegmentBytes"},
		{Options{Dir: "/x", SegmentMaxAge: -1}, "Options.SegmentMaxAge"},
		{Options{Dir: "/x", IndexIntervalBytes: -1}, "Options.IndexIntervalBytes"},
		{Options{Dir: "/x", Sync: 7}, "Options.Sync"},
		{Options{Dir: "/x", SyncInterval: -time.Second}, "Options.SyncInterval"},
	} {
		tc.o.FS = vfs.NewMem()
		if _, err := Open(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%+v) = %v, want error naming %s", tc.o, err, tc.want)
		}
	}
}

func TestRoundTripAcrossSegments(t *testing.T) {
	for _, fsName := range []string{"mem", "os"} {
		t.Run(fsName, func(t *testing.T) {
			o := memOpts(nil)
			if fsName == "os" {
				o.FS, o.Dir = vfs.OS, t.TempDir()
			}
			o.SegmentBytes = 2048
			o.IndexIntervalBytes = 256
			l := mustOpen(t, o)
			var want []Record
			for i := range 40 {
				rs := recs(fmt.Sprint(i), i%7+1, 0)
				base := mustAppend(t, l, rs)
				if base != uint64(len(want)) {
					t.Fatalf("batch %d got base %d, want %d", i, base, len(want))
				}
				want = append(want, rs...)
			}
			if n := len(l.Segments()); n < 3 {
				t.Fatalf("only %d segments; want several", n)
			}
			for _, maxBytes := range []int{1, 100, 1000, 1 << 20} {
				got := readAll(t, l, 0, maxBytes)
				if len(got) != len(want) {
					t.Fatalf("maxBytes %d: read %d records, want %d", maxBytes, len(got), len(want))
				}
				for i := range want {
					if got[i].Offset != uint64(i) || !sameRecord(got[i], want[i]) || got[i].Timestamp == 0 {
						t.Fatalf("maxBytes %d: record %d = %+v, want %+v", maxBytes, i, got[i], want[i])
					}
				}
			}
			// Reads starting inside a batch skip its earlier records.
			for from := range uint64(len(want)) {
				rs, err := l.Read(from, 1)
				if err != nil || len(rs) == 0 || rs[0].Offset != from {
					t.Fatalf("Read(%d, 1) = %d records, %v", from, len(rs), err)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}

			l = mustOpen(t, o)
			defer l.Close()
			if got := readAll(t, l, 0, 4096); len(got) != len(want) {
				t.Fatalf("after reopen read %d records, want %d", len(got), len(want))
			}
			if base := mustAppend(t, l, recs("x", 2, 0)); base != uint64(len(want)) {
				t.Fatalf("after reopen base %d, want %d", base, len(want))
			}
		})
	}
}

func TestReadBounds(t *testing.T) {
	l := mustOpen(t, memOpts(nil))
	defer l.Close()
	if rs, err := l.Read(0, 100); err != nil || rs == nil || len(rs) != 0 {
		t.Fatalf("Read on empty log = %v, %v; want empty, nil", rs, err)
	}
	mustAppend(t, l, recs("a", 3, 0))
	if rs, err := l.Read(3, 100); err != nil || len(rs) != 0 {
		t.Fatalf("Read(NextOffset) = %v, %v", rs, err)
	}
	if _, err := l.Read(4, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read past end: %v", err)
	}
	rs, err := l.Read(0, 0)
	if err != nil || len(rs) != 3 {
		t.Fatalf("Read with maxBytes 0 = %d records, %v; want the whole first batch", len(rs), err)
	}
	if _, err := l.Append(context.Background(), nil); !errors.Is(err, ErrEmptyAppend) {
		t.Fatalf("empty Append: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, recs("c", 1, 0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with cancelled ctx: %v", err)
	}
}

func TestConcurrentAppendersAndReaders(t *testing.T) {
	o := memOpts(nil)
	o.SegmentBytes = 16 << 10
	l := mustOpen(t, o)
	defer l.Close()

	const writers, batches = 8, 60
	var wg sync.WaitGroup
	bases := make([][]uint64, writers)
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() { // a tailing reader verifying contiguity while appends run
		var from uint64
		for {
			ch := l.Changed()
			rs, err := l.Read(from, 4096)
			if err != nil {
				readErr <- err
				return
			}
			for _, r := range rs {
				if r.Offset != from {
					readErr <- fmt.Errorf("tail read got offset %d, want %d", r.Offset, from)
					return
				}
				from++
			}
			if len(rs) == 0 {
				select {
				case <-ch:
				case <-stop:
					readErr <- nil
					return
				}
			}
		}
	}()
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				rs := recs(fmt.Sprintf("w%d-b%d", w, b), b%5+1, 0)
				base, err := l.Append(context.Background(), rs)
				if err != nil {
					t.Error(err)
					return
				}
				bases[w] = append(bases[w], base)
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}

	got := readAll(t, l, 0, 64<<10)
	seen := make([]bool, len(got))
	for w := range writers {
		for b, base := range bases[w] {
			prefix := fmt.Sprintf("w%d-b%d", w, b)
			for i, want := range recs(prefix, b%5+1, 0) {
				off := base + uint64(i)
				if off >= uint64(len(got)) || seen[off] || !sameRecord(got[off], want) {
					t.Fatalf("%s record %d at offset %d missing, duplicated or wrong", prefix, i, off)
				}
				seen[off] = true
			}
		}
	}
	for off, ok := range seen {
		if !ok {
			t.Fatalf("offset %d not assigned to any append", off)
		}
	}
}

func TestChangedAndOffsetForTime(t *testing.T) {
	o := memOpts(nil)
	o.SegmentBytes = 1024
	l := mustOpen(t, o)
	defer l.Close()
	ch := l.Changed()
	select {
	case <-ch:
		t.Fatal("Changed fired before any append")
	default:
	}
	for i := range 30 {
		mustAppend(t, l, recs("t", 4, int64(1000+i*10)))
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed did not fire after append")
	}
	for _, tc := range []struct {
		ts   int64
		want uint64
	}{
		{0, 0}, {1000, 0}, {1001, 1}, {1004, 4}, {1010, 4}, {1012, 6}, {1293, 119}, {1294, 120}, {5000, 120},
	} {
		if got, err := l.OffsetForTime(tc.ts); err != nil || got != tc.want {
			t.Errorf("OffsetForTime(%d) = %d, %v; want %d", tc.ts, got, err, tc.want)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Changed():
	default:
		t.Fatal("Changed not closed after Close")
	}
	if _, err := l.Append(context.Background(), recs("x", 1, 0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if _, err := l.Read(0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}

func TestSyncPoliciesAndMemory(t *testing.T) {
	for _, p := range []SyncPolicy{SyncAlways, SyncInterval, SyncNever} {
		t.Run(p.String(), func(t *testing.T) {
			o := memOpts(nil)
			o.Sync = p
			o.SyncInterval = time.Millisecond
			o.SegmentBytes = 4096
			l := mustOpen(t, o)
			for range 50 {
				mustAppend(t, l, recs("p", 10, 0))
			}
			if l.NextOffset() != 500 {
				t.Fatalf("NextOffset %d", l.NextOffset())
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, o)
			defer l.Close()
			if got := readAll(t, l, 0, 1<<20); len(got) != 500 {
				t.Fatalf("reopened log has %d records", len(got))
			}
		})
	}
}

func TestSegmentMaxAgeRolls(t *testing.T) {
	o := memOpts(nil)
	o.SegmentMaxAge = time.Minute
	clock := time.Unix(1000, 0)
	var mu sync.Mutex
	o.Clock = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	l := mustOpen(t, o)
	defer l.Close()
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }

	mustAppend(t, l, recs("a", 2, 0))
	advance(30 * time.Second)
	mustAppend(t, l, recs("b", 2, 0))
	if n := len(l.Segments()); n != 1 {
		t.Fatalf("%d segments before max age", n)
	}
	advance(31 * time.Second)
	mustAppend(t, l, recs("c", 2, 0))
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments after max age, want 2", n)
	}
	// A quiet log rolls on Enforce so that age retention can delete it.
	advance(2 * time.Minute)
	n, err := l.Enforce(clock, Retention{MaxAge: time.Minute}, ^uint64(0))
	if err != nil || n != 2 {
		t.Fatalf("Enforce = %d, %v; want both old segments deleted", n, err)
	}
	if l.StartOffset() != 6 || l.NextOffset() != 6 {
		t.Fatalf("StartOffset %d NextOffset %d, want 6 6", l.StartOffset(), l.NextOffset())
	}
}
