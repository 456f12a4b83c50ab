package seglog

import (
	"encoding/binary"
	"slices"
	"sort"
)

// indexEntrySize is the size of one sparse index entry on disk.
const indexEntrySize = 8

// indexEntry maps the base offset of a batch, relative to the segment's base
// offset, to the batch's byte position in the segment file.
type indexEntry struct {
	rel uint32
	pos uint32
}

// encodeIndex appends the on-disk form of entries to dst.
func encodeIndex(dst []byte, entries []indexEntry) []byte {
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint32(dst, e.rel)
		dst = binary.BigEndian.AppendUint32(dst, e.pos)
	}
	return dst
}

// decodeIndex parses an index file for a segment of segSize bytes. It fails
// unless the file is a whole number of entries whose relative offsets and
// positions strictly increase and whose positions lie inside the segment.
func decodeIndex(b []byte, segSize int64) ([]indexEntry, error) {
	if len(b)%indexEntrySize != 0 {
		return nil, corruptf("index size %d is not a multiple of %d", len(b), indexEntrySize)
	}
	entries := make([]indexEntry, 0, len(b)/indexEntrySize)
	for p := 0; p < len(b); p += indexEntrySize {
		e := indexEntry{
			rel: binary.BigEndian.Uint32(b[p:]),
			pos: binary.BigEndian.Uint32(b[p+4:]),
		}
		if int64(e.pos)+batchHeaderSize > segSize {
			return nil, corruptf("index entry %d: position %d beyond segment size %d", len(entries), e.pos, segSize)
		}
		if n := len(entries); n > 0 && (e.rel <= entries[n-1].rel || e.pos <= entries[n-1].pos) {
			return nil, corruptf("index entry %d is not increasing", n)
		}
		if len(entries) == 0 && (e.rel == 0 || e.pos == 0) {
			// The first batch is implicit at position 0; an explicit
			// entry for it is never written.
			return nil, corruptf("index entry 0 points at the segment start")
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// lookupIndex returns the entry of the last indexed batch whose relative base
// offset is at most rel, or the zero entry (the first batch) if there is none.
func lookupIndex(entries []indexEntry, rel uint32) indexEntry {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].rel > rel })
	if i == 0 {
		return indexEntry{}
	}
	return entries[i-1]
}

// indexBuilder decides which batches get an index entry: the first batch
// starting at least interval bytes after the previously indexed one.
type indexBuilder struct {
	interval int64
	lastPos  int64
	entries  []indexEntry
}

// add considers the batch with relative base offset rel at byte position pos.
func (b *indexBuilder) add(rel uint32, pos int64) {
	if pos-b.lastPos >= b.interval && pos > 0 {
		b.entries = append(b.entries, indexEntry{rel: rel, pos: uint32(pos)})
		b.lastPos = pos
	}
}

// force adds an entry for the batch with relative base offset rel at byte
// position pos whatever the interval, so that reads can start there: recovery
// forces one at the first intact batch after damaged bytes.
func (b *indexBuilder) force(rel uint32, pos int64) {
	if n := len(b.entries); pos == 0 || (n > 0 && (b.entries[n-1].rel >= rel || int64(b.entries[n-1].pos) >= pos)) {
		return
	}
	b.entries = append(b.entries, indexEntry{rel: rel, pos: uint32(pos)})
	b.lastPos = pos
}

// insert adds an entry for the batch with relative base offset rel at byte
// position pos where it belongs among the entries, unless a neighbour makes
// it redundant or out of order. Reads that find damage insert one at the
// next intact batch so that later reads can start there.
func (b *indexBuilder) insert(rel uint32, pos int64) {
	if pos <= 0 || pos > 1<<32-1 {
		return
	}
	i := sort.Search(len(b.entries), func(i int) bool { return b.entries[i].rel >= rel })
	if i < len(b.entries) && (b.entries[i].rel == rel || int64(b.entries[i].pos) <= pos) {
		return
	}
	if i > 0 && int64(b.entries[i-1].pos) >= pos {
		return
	}
	b.entries = slices.Insert(b.entries, i, indexEntry{rel: rel, pos: uint32(pos)})
	if pos > b.lastPos {
		b.lastPos = pos
	}
}
