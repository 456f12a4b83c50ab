package seglog

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

// openFilesUnder counts this process's open files in dir.
func openFilesUnder(t *testing.T, dir string) int {
	t.Helper()
	n := countOpenFiles(dir)
	if n < 0 {
		t.Skip("cannot list open files")
	}
	return n
}

// offsetRecords builds n records whose values hold their offsets, starting
// at base.
func offsetRecords(base uint64, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Value: fmt.Appendf(nil, "v%d", base+uint64(i))}
	}
	return out
}

// manySegmentLog fills a log on the real filesystem with segs sealed
// segments of 10 records each and returns its options.
func manySegmentLog(t *testing.T, segs int, cache *FileCache) Options {
	t.Helper()
	o := Options{Dir: filepath.Join(t.TempDir(), "log"), Logger: quiet, SegmentBytes: 1, Sync: SyncNever, FileCache: cache}
	l := mustOpen(t, o)
	for i := range segs + 1 {
		mustAppend(t, l, offsetRecords(uint64(i*10), 10))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return o
}

func checkOffsets(t *testing.T, rs []Record, from uint64) {
	t.Helper()
	for i, r := range rs {
		want := from + uint64(i)
		if r.Offset != want || string(r.Value) != fmt.Sprintf("v%d", want) {
			t.Fatalf("record %d from %d: offset %d value %q, want offset %d", i, from, r.Offset, r.Value, want)
		}
	}
}

func TestFileCacheBoundsOpenFiles(t *testing.T) {
	const limit = 2
	cache := NewFileCache(limit)
	o := manySegmentLog(t, 40, cache)

	l := mustOpen(t, o)
	defer l.Close()
	if got := len(l.Segments()); got != 41 {
		t.Fatalf("%d segments, want 41", got)
	}
	// The limit plus the active segment.
	if n := openFilesUnder(t, o.Dir); n > limit+1 {
		t.Fatalf("after Open %d files open, want at most %d", n, limit+1)
	}
	for _, maxBytes := range []int{1, 1 << 20} {
		rs := readAll(t, l, 0, maxBytes)
		if len(rs) != 410 {
			t.Fatalf("read %d records, want 410", len(rs))
		}
		checkOffsets(t, rs, 0)
		if n := openFilesUnder(t, o.Dir); n > limit+1 {
			t.Fatalf("after reading %d files open, want at most %d", n, limit+1)
		}
	}
	if off, err := l.OffsetForTime(0); err != nil || off != 0 {
		t.Fatalf("OffsetForTime(0) = %d, %v", off, err)
	}
	if n, err := l.Scrub(context.Background(), 0); err != nil || n == 0 {
		t.Fatalf("Scrub = %d, %v", n, err)
	}
	st := cache.Stats()
	if st.Open > limit || st.Reopens == 0 || st.Evictions == 0 {
		t.Fatalf("cache stats %+v: want at most %d open and some reopens and evictions", st, limit)
	}
	if n := openFilesUnder(t, o.Dir); n > limit+1 {
		t.Fatalf("after the scrub %d files open, want at most %d", n, limit+1)
	}

	// Appending rolls sealed segments into the cache without raising the count.
	for i := range 10 {
		mustAppend(t, l, offsetRecords(uint64(410+i*10), 10))
	}
	l.awaitRoll() // the last sealed segment joins the cache in the background
	if n := openFilesUnder(t, o.Dir); n > limit+1 {
		t.Fatalf("after rolling %d files open, want at most %d", n, limit+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFilesUnder(t, o.Dir); n != 0 || cache.Stats().Open != 0 {
		t.Fatalf("after Close %d files open, cache holds %d", n, cache.Stats().Open)
	}
}

// TestFileCacheReadersAndRetention reads a log through a cache of two files
// while appends roll segments and retention deletes them: every read returns
// the right records or ErrOffsetOutOfRange, never an I/O error.
func TestFileCacheReadersAndRetention(t *testing.T) {
	const limit = 2
	cache := NewFileCache(limit)
	o := manySegmentLog(t, 20, cache)
	l := mustOpen(t, o)
	defer l.Close()

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			from := uint64(0)
			for ctx.Err() == nil {
				if from >= l.NextOffset() {
					from = l.StartOffset()
				}
				rs, err := l.Read(from, 64<<(r*3))
				if errors.Is(err, ErrOffsetOutOfRange) {
					from = l.StartOffset()
					continue
				}
				if err != nil {
					errc <- fmt.Errorf("Read(%d): %w", from, err)
					return
				}
				for i, rec := range rs {
					if want := from + uint64(i); rec.Offset != want || string(rec.Value) != fmt.Sprintf("v%d", want) {
						errc <- fmt.Errorf("Read(%d) record %d: offset %d value %q", from, i, rec.Offset, rec.Value)
						return
					}
				}
				from += uint64(len(rs))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if _, err := l.OffsetForTime(0); err != nil {
				errc <- fmt.Errorf("OffsetForTime: %w", err)
				return
			}
			if _, err := l.Scrub(ctx, 0); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("Scrub: %w", err)
				return
			}
		}
	}()

	next := l.NextOffset()
	for i := range 100 {
		if _, err := l.Append(ctx, offsetRecords(next, 10)); err != nil {
			t.Fatalf("Append: %v", err)
		}
		next += 10
		if i%5 == 0 {
			if _, err := l.Enforce(time.Now(), Retention{MaxMessages: 100}, math.MaxUint64); err != nil {
				t.Fatalf("Enforce: %v", err)
			}
		}
		select {
		case err := <-errc:
			t.Fatal(err)
		default:
		}
	}
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if l.StartOffset() == 0 {
		t.Fatal("retention deleted nothing")
	}
	if n := openFilesUnder(t, o.Dir); n > limit+1 {
		t.Fatalf("%d files open at rest, want at most %d", n, limit+1)
	}
}

// TestFileCacheRepairCut cuts damage out of a sealed segment whose file the
// cache has closed.
func TestFileCacheRepairCut(t *testing.T) {
	cache := NewFileCache(1)
	o := manySegmentLog(t, 5, cache)
	// Corrupt the value of segment 2's batch.
	path := segPath(o.Dir, 20, logSuffix)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, o)
	defer l.Close()
	readAll(t, l, 40, 1<<20) // evicts segment 2's file
	if _, err := l.Read(20, 1<<20); !IsCorruption(err) {
		t.Fatalf("Read of the damaged segment: %v, want corruption", err)
	}
	readAll(t, l, 30, 1<<20)
	rep, err := l.Repair(context.Background(), RepairCut)
	if err != nil || len(rep) != 1 || rep[0].From != 20 || rep[0].To != 30 {
		t.Fatalf("Repair = %+v, %v", rep, err)
	}
	rs := readAll(t, l, 0, 1<<20)
	if len(rs) != 50 {
		t.Fatalf("read %d records after repair, want 50", len(rs))
	}
	checkOffsets(t, rs[:20], 0)
	checkOffsets(t, rs[20:], 30)
	if st, err := os.Stat(path); err != nil || st.Size() != 0 {
		t.Fatalf("cut segment: %v, %v", st, err)
	}
}

// TestFileCacheOpenFailure reports a sealed segment that cannot be reopened
// as an I/O error naming it, not as damage.
func TestFileCacheOpenFailure(t *testing.T) {
	cache := NewFileCache(1)
	fail := false
	var mu sync.Mutex
	inj := vfs.InjectorFunc(func(op vfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if fail && op.Kind == vfs.OpOpen && strings.HasSuffix(op.Path, segmentName(0, logSuffix)) {
			return vfs.ErrInjected
		}
		return nil
	})
	o := memOpts(vfs.NewErrorFS(vfs.NewMem(), inj))
	o.SegmentBytes, o.FileCache = 1, cache
	l := mustOpen(t, o)
	defer l.Close()
	for i := range 4 {
		mustAppend(t, l, offsetRecords(uint64(i*10), 10))
	}
	readAll(t, l, 10, 1<<20)
	mu.Lock()
	fail = true
	mu.Unlock()
	_, err := l.Read(0, 1<<20)
	if !errors.Is(err, vfs.ErrInjected) || IsCorruption(err) || !strings.Contains(err.Error(), segmentName(0, logSuffix)) {
		t.Fatalf("Read with the segment unopenable: %v", err)
	}
	if l.Status().Corrupt() {
		t.Fatalf("an open failure was recorded as damage: %+v", l.Status())
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	checkOffsets(t, readAll(t, l, 0, 1<<20), 0)
}

// TestSegmentFileDescriptor checks that the active segment's file offers
// its descriptor (for write-back hints) through the cache's wrapper, and a
// memory file does not.
func TestSegmentFileDescriptor(t *testing.T) {
	o := Options{Dir: filepath.Join(t.TempDir(), "log"), Logger: quiet, FileCache: NewFileCache(1)}
	l := mustOpen(t, o)
	defer l.Close()
	mustAppend(t, l, offsetRecords(0, 10))
	rc, err := l.active.f.SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	want, err := os.Stat(l.active.path)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fstat(int(fd), &st) }); err != nil || serr != nil {
		t.Fatalf("Control: %v, fstat: %v", err, serr)
	}
	if got := want.Sys().(*syscall.Stat_t); got.Ino != st.Ino || got.Dev != st.Dev {
		t.Fatal("the descriptor is not the active segment's file")
	}

	m := mustOpen(t, memOpts(nil))
	defer m.Close()
	if _, err := m.active.f.SyscallConn(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SyscallConn of a memory file: %v, want ErrUnsupported", err)
	}
}
