package seglog

import (
	"context"
	"errors"
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
