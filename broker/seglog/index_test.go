package seglog

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/junctionhq/junction/broker/vfs"
)

// buildSegment encodes one batch per byte of shape, returning the segment
// bytes, the index the writer would keep and the number of records.
func buildSegment(base uint64, shape []byte, interval int64) ([]byte, []indexEntry, uint64) {
	var seg []byte
	b := indexBuilder{interval: interval}
	next := base
	for i, c := range shape[:min(len(shape), 64)] {
		n := int(c%4) + 1
		rs := make([]Record, n)
		for j := range rs {
			rs[j] = Record{Timestamp: int64(i*10 + j + 1), Value: bytes.Repeat([]byte{c}, int(c))}
		}
		b.add(uint32(next-base), int64(len(seg)))
		seg = EncodeBatch(seg, next, rs)
		next += uint64(n)
	}
	return seg, b.entries, next - base
}

func indexSeeds() [][]any {
	seg, entries, _ := buildSegment(1000, []byte("abcdefghijklmnop"), 64)
	_ = seg
	good := encodeIndex(nil, entries)
	shuffled := encodeIndex(nil, []indexEntry{{5, 300}, {2, 100}})
	return [][]any{
		{good, []byte("abcdefghijklmnop"), uint16(64)},
		{good[:len(good)-3], []byte("abcdefghijklmnop"), uint16(64)},
		{shuffled, []byte("abcdefghijklmnop"), uint16(64)},
		{[]byte{}, []byte{}, uint16(1)},
		{encodeIndex(nil, []indexEntry{{1, 1 << 31}}), []byte("zz"), uint16(0)},
		{encodeIndex(nil, []indexEntry{{3, 70}}), []byte("\x01\x80\xff\x10"), uint16(10)},
	}
}

func FuzzIndex(f *testing.F) {
	f.Fuzz(func(t *testing.T, idx, shape []byte, interval uint16) {
		iv := int64(interval) + 1
		seg, written, count := buildSegment(1000, shape, iv)

		// Arbitrary index bytes: decoding and lookup never panic and only
		// ever yield positions inside the segment.
		if entries, err := decodeIndex(idx, int64(len(seg))); err == nil {
			for rel := range uint32(count + 2) {
				if e := lookupIndex(entries, rel); int64(e.pos) >= int64(len(seg)) && e.pos != 0 {
					t.Fatalf("lookup(%d) = position %d beyond segment of %d bytes", rel, e.pos, len(seg))
				}
			}
		} else if !IsCorruption(err) {
			t.Fatalf("decodeIndex error is not a corruption: %v", err)
		}

		// The writer's index survives encoding and agrees with one rebuilt
		// from a scan of the segment.
		decoded, err := decodeIndex(encodeIndex(nil, written), int64(len(seg)))
		if err != nil {
			t.Fatalf("decoding the written index: %v", err)
		}
		fsys := vfs.NewMem()
		l := &Log{opts: Options{Dir: "/log", IndexIntervalBytes: int(iv), Logger: quiet}, fs: fsys, logger: quiet}
		writeFile(t, fsys, "/log/seg", seg)
		f, err := fsys.OpenFile("/log/seg", os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		rebuilt := l.newSegment(1000, "/log/seg", f)
		if _, err := l.scan(rebuilt, int64(len(seg)), 0, 1000, true); err != nil {
			t.Fatalf("scan: %v", err)
		}
		if !slices.Equal(decoded, rebuilt.index.entries) || rebuilt.next != 1000+count {
			t.Fatalf("rebuilt index %v (next %d), written %v (next %d)", rebuilt.index.entries, rebuilt.next, decoded, 1000+count)
		}

		if count == 0 {
			return
		}
		// A log whose older segment carries the arbitrary index reads every
		// record correctly or reports corruption; never wrong data.
		fsys = vfs.NewMem()
		writeFile(t, fsys, segPath("/log", 1000, logSuffix), seg)
		writeFile(t, fsys, segPath("/log", 1000, indexSuffix), idx)
		writeFile(t, fsys, segPath("/log", 1000+count, logSuffix), nil)
		lg, err := Open(Options{FS: fsys, Dir: "/log", IndexIntervalBytes: int(iv), Logger: quiet, Sync: SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		defer lg.Close()
		if lg.NextOffset() != 1000+count {
			t.Fatalf("NextOffset %d, want %d", lg.NextOffset(), 1000+count)
		}
		for off := uint64(1000); off < 1000+count; off++ {
			rs, err := lg.Read(off, 1)
			if err != nil {
				if !IsCorruption(err) {
					t.Fatalf("Read(%d): %v", off, err)
				}
				continue
			}
			if len(rs) == 0 || rs[0].Offset != off {
				t.Fatalf("Read(%d) returned %d records starting at %v", off, len(rs), rs)
			}
		}
	})
}

func writeFile(t *testing.T, fsys vfs.FS, name string, b []byte) {
	t.Helper()
	if err := fsys.MkdirAll("/log", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
