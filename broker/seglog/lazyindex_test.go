package seglog

import (
	"context"
	"slices"
	"testing"
)

// lazyIndexLog writes 4 sealed segments of 50 single-record batches with an
// index entry every 64 bytes, and reopens the log.
func lazyIndexLog(t *testing.T) (*Log, Options) {
	t.Helper()
	o := memOpts(nil)
	o.SegmentBytes, o.IndexIntervalBytes = 50*60, 64
	l := mustOpen(t, o)
	for i := range 201 {
		mustAppend(t, l, offsetRecords(uint64(i), 1))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = mustOpen(t, o)
	t.Cleanup(func() { l.Close() })
	return l, o
}

func TestIndexLoadedByFirstRead(t *testing.T) {
	l, o := lazyIndexLog(t)
	segs := l.segs[:len(l.segs)-1]
	if len(segs) < 3 {
		t.Fatalf("%d sealed segments, want at least 3", len(segs))
	}
	for _, s := range segs {
		if !s.indexLazy || len(s.index.entries) != 0 {
			t.Fatalf("segment %s: index loaded at Open (%d entries)", s.name(), len(s.index.entries))
		}
	}
	s := segs[1]
	mid := (s.base + s.next) / 2
	rs, err := l.Read(mid, 1)
	if err != nil || len(rs) != 1 || rs[0].Offset != mid {
		t.Fatalf("Read(%d) = %v, %v", mid, rs, err)
	}
	checkOffsets(t, rs, mid)
	want, err := decodeIndex(fileBytes(t, o.FS, segPath(o.Dir, s.base, indexSuffix)), s.size)
	if err != nil || len(want) == 0 {
		t.Fatalf("index file: %v, %v", want, err)
	}
	if s.indexLazy || !slices.Equal(s.index.entries, want) {
		t.Fatalf("after a read: lazy %v, entries %v, want %v", s.indexLazy, s.index.entries, want)
	}
	if !segs[0].indexLazy || !segs[2].indexLazy {
		t.Fatal("a read of one segment loaded the index of another")
	}
	checkOffsets(t, readAll(t, l, 0, 1), 0)
}

// TestRepairCutLoadsIndex cuts a sealed segment whose index Open left on
// disk: the rewritten index keeps every entry before the cut.
func TestRepairCutLoadsIndex(t *testing.T) {
	l, o := lazyIndexLog(t)
	s := l.segs[1]
	l.Close()
	// Damage the last batch of the segment.
	path := segPath(o.Dir, s.base, logSuffix)
	b := fileBytes(t, o.FS, path)
	b[len(b)-2] ^= 0xff
	writeFile(t, o.FS, path, b)
	l = mustOpen(t, o)
	defer l.Close()
	if _, err := l.Scrub(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if !l.segs[1].indexLazy {
		t.Fatal("the scrub loaded the index")
	}
	if _, err := l.Repair(context.Background(), RepairCut); err != nil {
		t.Fatal(err)
	}
	size := int64(len(fileBytes(t, o.FS, path)))
	entries, err := decodeIndex(fileBytes(t, o.FS, segPath(o.Dir, s.base, indexSuffix)), size)
	if err != nil || len(entries) < 10 {
		t.Fatalf("index after the cut: %d entries, %v", len(entries), err)
	}
	for off := s.base + 1; off < s.next-1; off++ {
		rs, err := l.Read(off, 1)
		if err != nil || len(rs) != 1 {
			t.Fatalf("Read(%d) after the cut: %v, %v", off, rs, err)
		}
		checkOffsets(t, rs, off)
	}
}

// TestReadBatchesLoadsIndex checks that the batch reader, too, starts from
// the index of a segment whose index Open left on disk.
func TestReadBatchesLoadsIndex(t *testing.T) {
	l, _ := lazyIndexLog(t)
	s := l.segs[2]
	mid := (s.base + s.next) / 2
	data, next, err := l.ReadBatches(mid, 1)
	if err != nil || next != mid+1 {
		t.Fatalf("ReadBatches(%d) = next %d, %v", mid, next, err)
	}
	rs, _, err := DecodeBatches(data, mid)
	if err != nil || len(rs) != 1 {
		t.Fatalf("DecodeBatches: %d records, %v", len(rs), err)
	}
	checkOffsets(t, rs, mid)
	if s.indexLazy || len(s.index.entries) == 0 {
		t.Fatal("ReadBatches did not load the index")
	}
}
