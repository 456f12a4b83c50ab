package seglog

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

// wbCall is one recorded rangeWriteback call.
type wbCall struct {
	off, n int64
	wait   bool
}

// recordWriteback replaces rangeWriteback for the test with one that records
// its calls and returns what fail says (nil: success).
func recordWriteback(t *testing.T, fail func(c wbCall) error) *[]wbCall {
	t.Helper()
	var mu sync.Mutex
	var calls []wbCall
	old := rangeWriteback
	rangeWriteback = func(_ vfs.File, off, n int64, wait bool) error {
		mu.Lock()
		defer mu.Unlock()
		c := wbCall{off, n, wait}
		calls = append(calls, c)
		if fail != nil {
			return fail(c)
		}
		return nil
	}
	t.Cleanup(func() { rangeWriteback = old })
	return &calls
}

// bigRecord is one record with a value of n bytes.
func bigRecord(n int) []Record {
	return []Record{{Value: bytes.Repeat([]byte{'x'}, n)}}
}

func TestWriteBehindBoundsDirtyBytes(t *testing.T) {
	calls := recordWriteback(t, nil)
	o := memOpts(nil)
	o.Sync = SyncNever
	l := mustOpen(t, o)
	const batch, batches = 256 << 10, 40
	for range batches {
		mustAppend(t, l, bigRecord(batch))
	}
	written := l.Size()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	var kicked, settled int64
	for i, c := range *calls {
		if c.wait {
			if c.off != settled || c.off+c.n > kicked {
				t.Fatalf("call %d waits for [%d, %d), want a range from %d within the kicked [0, %d)", i, c.off, c.off+c.n, settled, kicked)
			}
			settled = c.off + c.n
			continue
		}
		if c.off != kicked {
			t.Fatalf("call %d starts write-back at %d, want %d (contiguous)", i, c.off, kicked)
		}
		if c.n < writeBehindChunk {
			t.Fatalf("call %d starts write-back of %d bytes, less than a chunk", i, c.n)
		}
		// Before this kick the log had [settled, end) possibly dirty.
		if dirty := c.off + c.n - settled; dirty > 2*writeBehindChunk+batch+batchHeaderSize+64 {
			t.Fatalf("call %d: %d bytes written and not known written back, want at most about two chunks", i, dirty)
		}
		kicked = c.off + c.n
	}
	if kicked < written-writeBehindChunk || settled < kicked-2*writeBehindChunk {
		t.Fatalf("of %d bytes written, write-back started for %d and finished for %d", written, kicked, settled)
	}
}

func TestWriteBehindNotUnderSyncAlways(t *testing.T) {
	calls := recordWriteback(t, nil)
	l := mustOpen(t, memOpts(nil))
	for range 12 {
		mustAppend(t, l, bigRecord(256<<10))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 0 {
		t.Fatalf("fsync-always log made write-back calls: %v", *calls)
	}
}

func TestWriteBehindTurnsOffWhenUnsupported(t *testing.T) {
	calls := recordWriteback(t, func(wbCall) error { return errNoWriteBehind })
	o := memOpts(nil)
	o.Sync = SyncInterval
	o.SyncInterval = time.Hour
	l := mustOpen(t, o)
	for range 20 {
		mustAppend(t, l, bigRecord(256<<10))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*calls) != 1 {
		t.Fatalf("got %d write-back calls after the first said unsupported, want 1: %v", len(*calls), *calls)
	}
}

func TestWriteBehindErrorFailsLog(t *testing.T) {
	recordWriteback(t, func(c wbCall) error {
		if c.wait {
			return syscall.EIO
		}
		return nil
	})
	o := memOpts(nil)
	o.Sync = SyncNever
	l := mustOpen(t, o)
	defer l.Close()
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, err = l.Append(context.Background(), bigRecord(512<<10))
	}
	if !errors.Is(err, syscall.EIO) {
		t.Fatalf("append after a failed write-back wait: got %v, want the EIO", err)
	}
}

// TestWriteBehindOnDisk runs the real ranged write-back on the host's file
// system.
func TestWriteBehindOnDisk(t *testing.T) {
	o := Options{Dir: t.TempDir(), Logger: quiet, Sync: SyncInterval, SyncInterval: time.Hour}
	l := mustOpen(t, o)
	const want = 16
	for range want {
		mustAppend(t, l, bigRecord(300<<10))
	}
	if err := l.failed(); err != nil {
		t.Fatalf("log failed: %v", err)
	}
	got, err := l.Read(0, 64<<20)
	if err != nil || len(got) != want {
		t.Fatalf("read back %d records (err %v), want %d", len(got), err, want)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}
