package seglog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

// faultLog opens a log on an ErrorFS whose injector is swapped in by the
// returned setter once the log is open.
func faultLog(t *testing.T) (*Log, Options, func(vfs.Injector)) {
	t.Helper()
	var inj atomic.Pointer[vfs.Injector]
	mem := vfs.NewMem()
	o := memOpts(vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op) error {
		if p := inj.Load(); p != nil && *p != nil {
			return (*p).MaybeError(op)
		}
		return nil
	})))
	l := mustOpen(t, o)
	return l, Options{FS: mem, Dir: o.Dir, Logger: quiet}, func(i vfs.Injector) { inj.Store(&i) }
}

func TestFsyncFailureFailsLog(t *testing.T) {
	l, plain, set := faultLog(t)
	mustAppend(t, l, recs("ok", 3, 0))
	ch := l.Changed()
	set(vfs.FailNth(vfs.OpSync, 1, syscall.EIO))
	_, err := l.Append(context.Background(), recs("lost", 2, 0))
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with failing fsync = %v, want EIO", err)
	}
	if l.NextOffset() != 3 {
		t.Fatalf("NextOffset %d after failed fsync, want 3", l.NextOffset())
	}
	select {
	case <-ch:
		t.Fatal("Changed fired for records that were never durable")
	default:
	}
	if rs, err := l.Read(0, 1<<20); err != nil || len(rs) != 3 {
		t.Fatalf("Read = %d records, %v", len(rs), err)
	}
	set(nil)
	// The log is failed for good: later appends report the original error.
	if _, err := l.Append(context.Background(), recs("later", 1, 0)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append after failure = %v, want EIO", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, plain)
	defer l.Close()
	if got := readAll(t, l, 0, 1<<20); len(got) != 3 {
		t.Fatalf("after reopen %d records, want 3", len(got))
	}
}

func TestWriteErrorsAreTruncatedAway(t *testing.T) {
	for name, err := range map[string]error{
		"torn":   vfs.ShortWrite(17, syscall.EIO),
		"enospc": syscall.ENOSPC,
	} {
		t.Run(name, func(t *testing.T) {
			l, plain, set := faultLog(t)
			mustAppend(t, l, recs("ok", 3, 0))
			size := l.Size()
			set(vfs.FailNth(vfs.OpWrite, 1, err))
			if _, aerr := l.Append(context.Background(), recs("lost", 2, 0)); !errors.Is(aerr, errors.Unwrap(err)) && !errors.Is(aerr, err) {
				t.Fatalf("Append = %v, want %v", aerr, err)
			}
			if l.NextOffset() != 3 || l.Size() != size {
				t.Fatalf("NextOffset %d Size %d after failed write", l.NextOffset(), l.Size())
			}
			// A failed write that could be undone does not fail the log.
			base := mustAppend(t, l, recs("next", 2, 0))
			if base != 3 {
				t.Fatalf("next append at %d, want 3", base)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l = mustOpen(t, plain)
			defer l.Close()
			got := readAll(t, l, 0, 1<<20)
			if len(got) != 5 || string(got[3].Value) != "next-v0" {
				t.Fatalf("after reopen: %d records", len(got))
			}
		})
	}
}

func TestWriteErrorWithFailedTruncateFailsLog(t *testing.T) {
	l, _, set := faultLog(t)
	defer l.Close()
	mustAppend(t, l, recs("ok", 1, 0))
	set(vfs.InjectorFunc(func(op vfs.Op) error {
		switch op.Kind {
		case vfs.OpWrite:
			return vfs.ShortWrite(5, syscall.ENOSPC)
		case vfs.OpTruncate:
			return syscall.EIO
		}
		return nil
	}))
	if _, err := l.Append(context.Background(), recs("x", 1, 0)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append = %v", err)
	}
	set(nil)
	if _, err := l.Append(context.Background(), recs("y", 1, 0)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on failed log = %v, want the original error", err)
	}
	if l.NextOffset() != 1 {
		t.Fatalf("NextOffset %d", l.NextOffset())
	}
}

// TestFlipEveryBatch is the storage fault suite: for every batch of a small
// multi-segment log and several byte positions in it, a copy of the log
// gets that byte flipped, is opened and scrubbed, and must keep the
// invariants: every record outside the flipped batch is served intact; the
// flipped batch is served intact or reported as damage, never silently
// dropped, unless it was the last batch of the tail after a crash (bytes
// never fsynced); and no offset is given out again.
func TestFlipEveryBatch(t *testing.T) {
	o := memOpts(nil)
	o.SegmentBytes = 1024
	o.IndexIntervalBytes = 100
	l := mustOpen(t, o)
	var all []Record
	for i := range 40 {
		rs := recs("f", i%3+1, 0)
		mustAppend(t, l, rs)
		all = append(all, rs...)
	}
	next := l.NextOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := make(map[string][]byte)
	entries, err := o.FS.ReadDir(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files[e.Name()] = fileBytes(t, o.FS, filepath.Join(o.Dir, e.Name()))
	}
	bases := segmentBases(t, o)
	if len(bases) < 3 {
		t.Fatalf("%d segments; the suite wants at least 3", len(bases))
	}
	tail := bases[len(bases)-1]
	positions := []int{offBaseOffset + 7, offLength + 3, offCRC + 1, offMagic, offRecordCount + 3, offMaxTimestamp + 7, batchHeaderSize, -1}

	cases := 0
	for _, crashed := range []bool{false, true} {
		for _, base := range bases {
			seg := files[segmentName(base, logSuffix)]
			start := 0
			for bi, end := range batchEnds(t, seg) {
				batch, _, err := DecodeBatch(seg[start:end])
				if err != nil {
					t.Fatal(err)
				}
				bFrom, bTo := batch[0].Offset, batch[0].Offset+uint64(len(batch))
				lastOfTail := base == tail && end == len(seg)
				for _, pos := range positions {
					at := start + pos
					if pos < 0 {
						at = end - 1
					}
					cases++
					name := fmt.Sprintf("crashed=%v/segment=%d/batch=%d/byte=%d", crashed, base, bi, at-start)
					checkFlip(t, name, o, files, segmentName(base, logSuffix), at, crashed, tail, all, next, bFrom, bTo, lastOfTail)
				}
				start = end
			}
		}
	}
	t.Logf("%d flips checked", cases)
}

func checkFlip(t *testing.T, name string, base Options, files map[string][]byte, segFile string, at int, crashed bool, tail uint64,
	all []Record, next, bFrom, bTo uint64, lastOfTail bool) {
	t.Helper()
	o := base
	o.FS = vfs.NewMem()
	for n, b := range files {
		b = bytes.Clone(b)
		if n == segFile {
			b[at] ^= 0x20
		}
		writeFile(t, o.FS, filepath.Join(o.Dir, n), b)
	}
	if crashed {
		simulateCrash(t, o.FS, o.Dir, tail)
	}
	l, err := Open(o)
	if err != nil {
		t.Fatalf("%s: Open: %v", name, err)
	}
	defer l.Close()
	if _, err := l.Scrub(context.Background(), 0); err != nil {
		t.Fatalf("%s: Scrub: %v", name, err)
	}
	tornCut := crashed && lastOfTail
	st := l.Status()
	got, met := readThrough(t, l)
	for i, r := range all {
		off := uint64(i)
		g, ok := got[off]
		inBatch := off >= bFrom && off < bTo
		switch {
		case ok && !sameRecord(g, r):
			t.Fatalf("%s: offset %d served with the wrong content", name, off)
		case ok:
		case !inBatch:
			t.Fatalf("%s: intact offset %d not served (damage met: %+v)", name, off, met)
		case tornCut:
		default:
			if !inDamage(st.Damaged, off) {
				t.Fatalf("%s: offset %d silently dropped; status %+v", name, off, st)
			}
		}
	}
	for _, d := range st.Damaged {
		if d.From < bFrom || d.To > bTo {
			t.Fatalf("%s: damage [%d, %d) reaches beyond the flipped batch [%d, %d)", name, d.From, d.To, bFrom, bTo)
		}
	}
	want := next
	if tornCut {
		want = bFrom
	}
	if b, err := l.Append(context.Background(), recs("new", 1, 0)); err != nil || b != want {
		t.Fatalf("%s: append at %d (%v), want %d", name, b, err, want)
	}
}

func inDamage(ds []Damage, off uint64) bool {
	for _, d := range ds {
		if d.From <= off && off < d.To {
			return true
		}
	}
	return false
}
