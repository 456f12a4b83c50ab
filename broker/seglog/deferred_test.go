package seglog

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

// deferredLog writes three synced batches and then three unsynced ones to
// a SyncDeferred log, closes it and makes it look crashed with the mark
// Sync left. It returns the options, the tail segment's bytes, the batch
// end positions and the mark.
func deferredLog(t *testing.T) (Options, []byte, []int, uint64) {
	t.Helper()
	o := memOpts(nil)
	o.Sync = SyncDeferred
	l := mustOpen(t, o)
	for i := range 6 {
		if i == 3 {
			next, err := l.Sync(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if next != l.NextOffset() || l.Status().HighWaterMark != next {
				t.Fatalf("Sync = %d, NextOffset %d, mark %d: want all equal", next, l.NextOffset(), l.Status().HighWaterMark)
			}
		}
		mustAppend(t, l, recs("d", i+2, int64(1000*(i+1))))
	}
	mark := l.Status().HighWaterMark
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	simulateCrash(t, o.FS, o.Dir, mark)
	seg := fileBytes(t, o.FS, segPath(o.Dir, 0, logSuffix))
	return o, seg, batchEnds(t, seg), mark
}

// TestDeferredTornTailReplayed: past the mark, a hole of zeros between
// intact batches (a later page reached the disk, an earlier one did not)
// is a torn tail, cut with what follows it; appending the same records
// again gives back the same bytes.
func TestDeferredTornTailReplayed(t *testing.T) {
	for _, hole := range []int{3, 4, 5} {
		o, seg, ends, mark := deferredLog(t)
		if mark != 2+3+4 {
			t.Fatalf("mark %d, want 9", mark)
		}
		damaged := bytes.Clone(seg)
		clear(damaged[ends[hole-1]:ends[hole]])
		path := segPath(o.Dir, 0, logSuffix)
		writeFile(t, o.FS, path, damaged)

		l := mustOpen(t, o)
		if st := l.Status(); len(st.Damaged) != 0 {
			t.Fatalf("hole in batch %d: damage %+v, want none", hole, st.Damaged)
		}
		wantNext := uint64(0)
		for i := range hole {
			wantNext += uint64(i + 2)
		}
		if l.NextOffset() != wantNext {
			t.Fatalf("hole in batch %d: NextOffset %d, want %d", hole, l.NextOffset(), wantNext)
		}
		for i := hole; i < 6; i++ {
			mustAppend(t, l, recs("d", i+2, int64(1000*(i+1))))
		}
		if _, err := l.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if got := fileBytes(t, o.FS, path); !bytes.Equal(got, seg) {
			t.Fatalf("hole in batch %d: replayed segment differs from the original (%d bytes, want %d)", hole, len(got), len(seg))
		}
	}
}

// TestDeferredDamageBelowMark: bad bytes below the mark were fsynced, so
// they are damage, not a tail to cut.
func TestDeferredDamageBelowMark(t *testing.T) {
	o, seg, ends, _ := deferredLog(t)
	damaged := bytes.Clone(seg)
	damaged[ends[0]+offCRC+1] ^= 0x40 // the second batch, offsets 2-4
	writeFile(t, o.FS, segPath(o.Dir, 0, logSuffix), damaged)
	l := mustOpen(t, o)
	defer l.Close()
	st := l.Status()
	if len(st.Damaged) != 1 || st.Damaged[0].From != 2 || st.Damaged[0].To != 5 {
		t.Fatalf("damage %+v, want offsets [2, 5)", st.Damaged)
	}
	if l.NextOffset() != 2+3+4+5+6+7 {
		t.Fatalf("NextOffset %d, want every batch kept", l.NextOffset())
	}
}

// TestDeferredWritesVisibleUnsynced: records are readable once written,
// and Sync on a log without unsynced writes only reports the mark.
func TestDeferredWritesVisibleUnsynced(t *testing.T) {
	o := memOpts(nil)
	o.Sync = SyncDeferred
	l := mustOpen(t, o)
	defer l.Close()
	mustAppend(t, l, recs("v", 3, 0))
	if got := readAll(t, l, 0, 1<<20); len(got) != 3 {
		t.Fatalf("read %d records, want 3", len(got))
	}
	if st := l.Status(); st.HighWaterMark != 0 {
		t.Fatalf("mark %d before Sync, want 0", st.HighWaterMark)
	}
	for range 2 {
		if next, err := l.Sync(context.Background()); err != nil || next != 3 {
			t.Fatalf("Sync = %d, %v; want 3", next, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Sync(context.Background()); err == nil {
		t.Fatal("Sync after Close succeeded")
	}
}

// TestDeferredFsyncsWhenAsked: appends are not fsynced; Sync, and a
// Repair (which raises the mark), fsync what was written.
func TestDeferredFsyncsWhenAsked(t *testing.T) {
	var segSyncs atomic.Int64
	o := memOpts(vfs.NewErrorFS(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpSync && strings.HasSuffix(op.Path, logSuffix) {
			segSyncs.Add(1)
		}
		return nil
	})))
	o.Sync = SyncDeferred
	var observed atomic.Int64
	o.OnSync = func(time.Duration) { observed.Add(1) }
	l := mustOpen(t, o)
	defer l.Close()
	ctx := context.Background()
	for i := range 10 {
		mustAppend(t, l, recs("s", i+1, 0))
	}
	if n := segSyncs.Load(); n != 0 {
		t.Fatalf("%d segment fsyncs for appends, want none", n)
	}
	if _, err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := segSyncs.Load(); n != 1 {
		t.Fatalf("%d segment fsyncs after Sync, want 1", n)
	}
	mustAppend(t, l, recs("r", 2, 0))
	if _, err := l.Repair(ctx, RepairSkip); err != nil {
		t.Fatal(err)
	}
	if n := segSyncs.Load(); n != 2 {
		t.Fatalf("%d segment fsyncs after Repair, want 2", n)
	}
	if mark := l.Status().HighWaterMark; mark != l.NextOffset() {
		t.Fatalf("mark %d after Repair, want %d", mark, l.NextOffset())
	}
	if n := observed.Load(); n != 2 {
		t.Fatalf("OnSync saw %d fsyncs, want 2", n)
	}
}
