package seglog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

// crashLog appends batches to a log and closes it, returning the filesystem, options, the per-batch record
// counts and the tail segment's base offset.
func crashLog(t *testing.T) (vfs.FS, Options, []int, uint64) {
	t.Helper()
	o := memOpts(nil)
	o.SegmentBytes = 4096
	o.IndexIntervalBytes = 200
	l := mustOpen(t, o)
	var counts []int
	for i := range 120 {
		n := i%4 + 1
		mustAppend(t, l, recs("c", n, 0))
		counts = append(counts, n)
	}
	segs := l.Segments()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	tail := segs[len(segs)-1].BaseOffset
	simulateCrash(t, o.FS, o.Dir, tail)
	return o.FS, o, counts, tail
}

// simulateCrash makes a closed log look as if it had crashed with the
// given high-water mark, the one its last roll persisted: Close persists
// its next offset, which a crash does not. (The active segment's index
// lives only in memory until the segment rolls, so Close adds no other
// file.)
func simulateCrash(t *testing.T, fsys vfs.FS, dir string, hwm uint64) {
	t.Helper()
	path := filepath.Join(dir, stateName)
	s, err := decodeState(fileBytes(t, fsys, path))
	if err != nil {
		t.Fatal(err)
	}
	s.HighWaterMark = hwm
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, fsys, path, b)
}

func fileBytes(t *testing.T, fsys vfs.FS, name string) []byte {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, st.Size())
	if err := readAt(f, b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// batchEnds returns the end position of every batch in a segment.
func batchEnds(t *testing.T, seg []byte) []int {
	var ends []int
	for p := 0; p < len(seg); {
		_, n, err := DecodeBatch(seg[p:])
		if err != nil {
			t.Fatalf("position %d: %v", p, err)
		}
		p += n
		ends = append(ends, p)
	}
	return ends
}

func TestRecoverTornAndCorruptTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := range 40 {
		fsys, o, _, tail := crashLog(t)
		path := segPath(o.Dir, tail, logSuffix)
		orig := fileBytes(t, fsys, path)
		ends := batchEnds(t, orig)
		var damaged []byte
		var keep int // bytes of the tail that must survive
		if iter%2 == 0 {
			cut := rng.IntN(len(orig) + 1)
			damaged = orig[:cut]
			for _, e := range ends {
				if e <= cut {
					keep = e
				}
			}
		} else {
			// Flip a byte inside the last batch's checksummed part.
			last := 0
			if len(ends) > 1 {
				last = ends[len(ends)-2]
			}
			damaged = bytes.Clone(orig)
			damaged[last+offCRC+rng.IntN(len(orig)-last-offCRC)] ^= 0x10
			keep = last
		}
		writeFile(t, fsys, path, damaged)

		var logBuf bytes.Buffer
		o.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
		l := mustOpen(t, o)
		wantNext := tail + countRecords(t, orig[:keep])
		if l.NextOffset() != wantNext {
			t.Fatalf("iter %d: NextOffset %d, want %d", iter, l.NextOffset(), wantNext)
		}
		if keep < len(damaged) && !strings.Contains(logBuf.String(), segmentName(tail, logSuffix)) {
			t.Fatalf("iter %d: no warning naming the segment: %q", iter, logBuf.String())
		}
		if got := fileBytes(t, fsys, path); !bytes.Equal(got, orig[:keep]) {
			t.Fatalf("iter %d: tail is %d bytes, want the %d good ones", iter, len(got), keep)
		}
		if got := readAll(t, l, 0, 1<<20); uint64(len(got)) != wantNext {
			t.Fatalf("iter %d: read %d records, want %d", iter, len(got), wantNext)
		}
		if base := mustAppend(t, l, recs("after", 3, 0)); base != wantNext {
			t.Fatalf("iter %d: new append at %d, want %d", iter, base, wantNext)
		}
		if rs, err := l.Read(wantNext, 1); err != nil || len(rs) != 3 || string(rs[2].Value) != "after-v2" {
			t.Fatalf("iter %d: reading the new append: %v %v", iter, rs, err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func countRecords(t *testing.T, seg []byte) uint64 {
	var n uint64
	for p := 0; p < len(seg); {
		rs, k, err := DecodeBatch(seg[p:])
		if err != nil {
			t.Fatal(err)
		}
		n += uint64(len(rs))
		p += k
	}
	return n
}

func TestRecoverRebuildsBadIndex(t *testing.T) {
	for name, damage := range map[string]func([]byte) []byte{
		"missing":   nil,
		"torn":      func(b []byte) []byte { return b[:len(b)-3] },
		"unordered": func(b []byte) []byte { return append(bytes.Clone(b[8:16]), b[:8]...) },
		"beyond":    func(b []byte) []byte { return encodeIndex(nil, []indexEntry{{1, 1 << 30}}) },
		"offbatch":  func(b []byte) []byte { return encodeIndex(nil, []indexEntry{{1, 7}}) },
	} {
		t.Run(name, func(t *testing.T) {
			fsys, o, counts, _ := crashLog(t)
			idx := segPath(o.Dir, 0, indexSuffix)
			if damage == nil {
				if err := fsys.Remove(idx); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, fsys, idx, damage(fileBytes(t, fsys, idx)))
			}
			l := mustOpen(t, o)
			defer l.Close()
			total := 0
			for _, c := range counts {
				total += c
			}
			got := readAll(t, l, 0, 1)
			if len(got) != total {
				t.Fatalf("read %d records, want %d", len(got), total)
			}
			for off := range uint64(total) {
				if rs, err := l.Read(off, 1); err != nil || rs[0].Offset != off {
					t.Fatalf("Read(%d): %v", off, err)
				}
			}
			want := fileBytes(t, fsys, segPath(o.Dir, 0, logSuffix))
			entries, err := decodeIndex(fileBytes(t, fsys, idx), int64(len(want)))
			if err != nil || len(entries) == 0 {
				t.Fatalf("index not rewritten well formed: %v %v", entries, err)
			}
		})
	}
}

func TestRecoverIgnoresStrayFilesAndEmptyTail(t *testing.T) {
	fsys := vfs.NewMem()
	o := memOpts(fsys)
	writeFile(t, fsys, "/log/README", []byte("hello"))
	writeFile(t, fsys, "/log/123.log", []byte("junk"))
	writeFile(t, fsys, segPath("/log", 5, indexSuffix), []byte("orphan"))
	if err := fsys.MkdirAll(segPath("/log", 9, logSuffix)+"x", 0o755); err != nil {
		t.Fatal(err)
	}
	l := mustOpen(t, o)
	mustAppend(t, l, recs("a", 3, 0))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// Leave an empty tail segment, as a crash right after a roll would.
	writeFile(t, fsys, segPath("/log", 3, logSuffix), nil)
	l = mustOpen(t, o)
	defer l.Close()
	if l.NextOffset() != 3 || len(l.Segments()) != 2 {
		t.Fatalf("NextOffset %d with %d segments", l.NextOffset(), len(l.Segments()))
	}
	if base := mustAppend(t, l, recs("b", 1, 0)); base != 3 {
		t.Fatalf("base %d", base)
	}
	if _, err := fsys.Stat("/log/README"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFailsCleanly(t *testing.T) {
	boom := errors.New("boom")
	fsys := vfs.NewErrorFS(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		if op.Kind == vfs.OpReadDir {
			return boom
		}
		return nil
	}))
	if _, err := Open(memOpts(fsys)); !errors.Is(err, boom) {
		t.Fatalf("Open = %v, want wrapped boom", err)
	}
}

// TestRecoverZeroTail checks what Open makes of zeros after the last batch
// of a SyncAlways log's tail segment, which a crash leaves where the file's
// size reached the disk before its last pages did: the end of the log, cut
// as a torn tail, neither records nor damage.
func TestRecoverZeroTail(t *testing.T) {
	for _, zeros := range []int{1, batchHeaderSize, 4096, 1 << 20} {
		t.Run(fmt.Sprint(zeros), func(t *testing.T) {
			fsys, o, _, tail := crashLog(t)
			path := segPath(o.Dir, tail, logSuffix)
			good := fileBytes(t, fsys, path)
			writeFile(t, fsys, path, append(slices.Clone(good), make([]byte, zeros)...))
			l := mustOpen(t, o)
			defer l.Close()
			if st := l.Status(); len(st.Damaged) > 0 {
				t.Fatalf("zero tail taken for damage: %+v", st.Damaged)
			}
			if got := fileBytes(t, fsys, path); !bytes.Equal(got, good) {
				t.Fatalf("tail segment holds %d bytes after Open, want the %d before the zeros", len(got), len(good))
			}
			readAll(t, l, l.StartOffset(), 1<<20)
		})
	}
}
