package seglog

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

// heldSync is an injector that holds the next fsync until released and
// then fails it with the given error (nil lets it succeed); later fsyncs
// pass.
type heldSync struct {
	started chan struct{} // receives once the held fsync has begun
	release chan error
	armed   atomic.Bool
	syncs   atomic.Int64
}

func holdNextSync() *heldSync {
	h := &heldSync{started: make(chan struct{}, 1), release: make(chan error, 1)}
	h.armed.Store(true)
	return h
}

func (h *heldSync) MaybeError(op vfs.Op) error {
	if op.Kind != vfs.OpSync || filepath.Ext(op.Path) != logSuffix {
		return nil
	}
	h.syncs.Add(1)
	if !h.armed.CompareAndSwap(true, false) {
		return nil
	}
	h.started <- struct{}{}
	return <-h.release
}

// appendAsync runs an Append in a goroutine and delivers its outcome.
type appendResult struct {
	base uint64
	err  error
}

func appendAsync(l *Log, rs []Record) <-chan appendResult {
	ch := make(chan appendResult, 1)
	go func() {
		base, err := l.Append(context.Background(), rs)
		ch <- appendResult{base, err}
	}()
	return ch
}

// waitHanded waits until the syncer holds n written appends not yet taken
// by an fsync. Call it only once an fsync has begun, which orders the
// writer's start of the syncer before the test's read of l.sync.
func waitHanded(t *testing.T, l *Log, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.sync.mu.Lock()
		got := len(l.sync.pending)
		l.sync.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the syncer holds %d written appends after 10s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitTaken waits until the writer has taken everything queued.
func waitTaken(t *testing.T, l *Log) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.qmu.Lock()
		n := len(l.queue)
		l.qmu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d appends still queued after 10s", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func notFired(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("Changed fired %s", what)
	default:
	}
}

// TestFailedSyncFailsGroupWrittenBehind checks the pipelined write path's
// failure rule: when the fsync of a group fails, the group written behind it
// while that fsync ran fails too, the log fails, nothing after the last
// good fsync ever becomes visible, and the segment is cut back to it.
func TestFailedSyncFailsGroupWrittenBehind(t *testing.T) {
	l, plain, set := faultLog(t)
	mustAppend(t, l, recs("ok", 3, 0))
	size := l.Size()
	ch := l.Changed()

	h := holdNextSync()
	set(h)
	first := appendAsync(l, recs("n", 2, 0))
	<-h.started
	second := appendAsync(l, recs("n1", 4, 0))
	waitHanded(t, l, 1)

	if n := l.NextOffset(); n != 3 {
		t.Fatalf("NextOffset %d while the fsync is under way, want 3", n)
	}
	if rs, err := l.Read(3, 1<<20); err != nil || len(rs) != 0 {
		t.Fatalf("Read(3) before the fsync = %d records, %v; want none", len(rs), err)
	}
	notFired(t, ch, "for records not yet durable")

	h.release <- syscall.EIO
	for name, res := range map[string]<-chan appendResult{"group N": first, "group N+1": second} {
		if r := <-res; !errors.Is(r.err, syscall.EIO) {
			t.Fatalf("%s: Append = %d, %v; want EIO", name, r.base, r.err)
		}
	}
	if n := l.NextOffset(); n != 3 {
		t.Fatalf("NextOffset %d after the failed fsync, want 3", n)
	}
	notFired(t, ch, "for records that were never durable")
	if got := readAll(t, l, 0, 1<<20); len(got) != 3 {
		t.Fatalf("read %d records, want 3", len(got))
	}
	if _, err := l.Append(context.Background(), recs("later", 1, 0)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append after the failure = %v, want EIO", err)
	}
	if n := len(fileBytes(t, plain.FS, segPath(plain.Dir, 0, logSuffix))); int64(n) != size {
		t.Fatalf("segment holds %d bytes after the failure, want %d (cut back to the last good fsync)", n, size)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = mustOpen(t, plain)
	defer l.Close()
	got := readAll(t, l, 0, 1<<20)
	if len(got) != 3 || string(got[2].Value) != "ok-v2" {
		t.Fatalf("after reopening %d records, want the 3 acknowledged ones", len(got))
	}
}

// TestOneSyncCoversGroupsWrittenDuringTheLast checks that the groups written
// while an fsync runs are made durable together by one more fsync, become
// visible only after it, and keep their order.
func TestOneSyncCoversGroupsWrittenDuringTheLast(t *testing.T) {
	l, _, set := faultLog(t)
	defer l.Close()
	mustAppend(t, l, recs("ok", 1, 0))

	h := holdNextSync()
	set(h)
	first := appendAsync(l, recs("n", 2, 0))
	<-h.started
	second := appendAsync(l, recs("n1", 3, 0))
	waitHanded(t, l, 1)
	third := appendAsync(l, recs("n2", 4, 0))
	waitHanded(t, l, 2)
	if n := l.NextOffset(); n != 1 {
		t.Fatalf("NextOffset %d while the first fsync is under way, want 1", n)
	}

	h.release <- nil
	for i, res := range []<-chan appendResult{first, second, third} {
		want := []uint64{1, 3, 6}[i]
		if r := <-res; r.err != nil || r.base != want {
			t.Fatalf("append %d = %d, %v; want base %d", i, r.base, r.err, want)
		}
	}
	if n := h.syncs.Load(); n != 2 {
		t.Fatalf("%d fsyncs for two rounds of group commits, want 2", n)
	}
	got := readAll(t, l, 0, 1<<20)
	checkValues(t, got, []string{"ok-v0", "n-v0", "n-v1", "n1-v0", "n1-v1", "n1-v2", "n2-v0", "n2-v1", "n2-v2", "n2-v3"})
}

// TestRollAndCloseWaitForSyncInFlight checks that a roll and Close issued
// while an fsync is under way wait for it rather than overtaking it.
func TestRollAndCloseWaitForSyncInFlight(t *testing.T) {
	var inj atomic.Pointer[heldSync]
	mem := vfs.NewMem()
	o := memOpts(vfs.NewErrorFS(mem, vfs.InjectorFunc(func(op vfs.Op) error {
		if h := inj.Load(); h != nil {
			return h.MaybeError(op)
		}
		return nil
	})))
	o.SegmentBytes = 256
	l := mustOpen(t, o)
	mustAppend(t, l, recs("a", 2, 0))

	h := holdNextSync()
	inj.Store(h)
	first := appendAsync(l, recs("b", 2, 0))
	<-h.started
	// Does not fit the segment: the writer must wait for the fsync of
	// the group before it rolls.
	second, err := l.Enqueue(context.Background(), recs("c", 6, 0))
	if err != nil {
		t.Fatal(err)
	}
	waitTaken(t, l)
	h.release <- nil
	if r := <-first; r.err != nil || r.base != 2 {
		t.Fatalf("first append = %d, %v", r.base, r.err)
	}
	if base, err := second.Wait(); err != nil || base != 4 {
		t.Fatalf("second append = %d, %v", base, err)
	}
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments, want 2 after the roll", n)
	}

	h = holdNextSync()
	inj.Store(h)
	third := appendAsync(l, recs("d", 1, 0))
	<-h.started
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.qmu.Lock()
		c := l.closed
		l.qmu.Unlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an fsync was under way", err)
	case r := <-third:
		t.Fatalf("append completed (%d, %v) before its fsync", r.base, r.err)
	default:
	}
	h.release <- nil
	if r := <-third; r.err != nil || r.base != 10 {
		t.Fatalf("third append = %d, %v", r.base, r.err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}

	o.FS = mem
	l = mustOpen(t, o)
	defer l.Close()
	got := readAll(t, l, 0, 1<<20)
	checkValues(t, got, []string{"a-v0", "a-v1", "b-v0", "b-v1", "c-v0", "c-v1", "c-v2", "c-v3", "c-v4", "c-v5", "d-v0"})
}

func checkValues(t *testing.T, got []Record, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		if string(r.Value) != want[i] || r.Offset != uint64(i) {
			t.Fatalf("record %d: offset %d value %q, want %q", i, r.Offset, r.Value, want[i])
		}
	}
}

// TestFatalWriteLetsEarlierGroupComplete checks that a write that cannot be
// undone fails the log only after the group written before it, whose fsync
// is under way, has completed as it would have without the pipeline.
func TestFatalWriteLetsEarlierGroupComplete(t *testing.T) {
	l, _, set := faultLog(t)
	defer l.Close()
	mustAppend(t, l, recs("ok", 1, 0))

	h := holdNextSync()
	var failing atomic.Bool
	var failedWrites atomic.Int64
	set(vfs.InjectorFunc(func(op vfs.Op) error {
		switch {
		case op.Kind == vfs.OpSync:
			return h.MaybeError(op)
		case failing.Load() && op.Kind == vfs.OpWrite:
			failedWrites.Add(1)
			return vfs.ShortWrite(5, syscall.ENOSPC)
		case failing.Load() && op.Kind == vfs.OpTruncate:
			return syscall.EIO
		}
		return nil
	}))
	first := appendAsync(l, recs("n", 2, 0))
	<-h.started
	failing.Store(true)
	second := appendAsync(l, recs("n1", 2, 0))
	deadline := time.Now().Add(10 * time.Second)
	for failedWrites.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second group was not written within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	h.release <- nil
	if r := <-first; r.err != nil || r.base != 1 {
		t.Fatalf("group written before the failed write = %d, %v; want base 1", r.base, r.err)
	}
	if r := <-second; !errors.Is(r.err, syscall.ENOSPC) {
		t.Fatalf("group with the failed write = %v, want ENOSPC", r.err)
	}
	if _, err := l.Append(context.Background(), recs("later", 1, 0)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append on the failed log = %v, want the original error", err)
	}
	if n := l.NextOffset(); n != 3 {
		t.Fatalf("NextOffset %d, want 3", n)
	}
}
