package seglog

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Open trusts the index of an older segment from its size and last entry,
// and leaves the rest of it on disk: a log's start costs a few small reads
// per segment however much it retains, and only the indexes of segments
// that are read take memory. The first read that needs one loads it.

// readIndexTail checks the index file of a sealed segment of segSize bytes
// without reading it whole: its size, and its last entry, which Open then
// verifies by scanning the segment from it. n is the number of entries.
func (l *Log) readIndexTail(seg *segment, segSize int64) (last indexEntry, n int64, err error) {
	path := filepath.Join(l.opts.Dir, segmentName(seg.base, indexSuffix))
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return last, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return last, 0, err
	}
	size := st.Size()
	switch {
	case size > segSize:
		return last, 0, corruptf("index larger than its segment")
	case size%indexEntrySize != 0:
		return last, 0, corruptf("index size %d is not a multiple of %d", size, indexEntrySize)
	case size == 0:
		return last, 0, nil
	}
	var b [indexEntrySize]byte
	if err := readAt(f, b[:], size-indexEntrySize); err != nil {
		return last, 0, err
	}
	// Alone, the last entry gets the checks of a first one: inside the
	// segment and not at its start.
	entries, err := decodeIndex(b[:], segSize)
	if err != nil {
		return last, 0, err
	}
	return entries[0], size / indexEntrySize, nil
}

// loadIndex reads the index of seg if Open left it on disk. An index file
// that no longer decodes is rebuilt from the segment's batch headers and
// rewritten; if that fails too, reads of the segment start at its first
// batch, which is slower but right.
func (l *Log) loadIndex(seg *segment) {
	l.idxMu.Lock()
	defer l.idxMu.Unlock()
	l.mu.RLock()
	lazy, size := seg.indexLazy, seg.size
	l.mu.RUnlock()
	if !lazy {
		return
	}
	entries, err := l.readIndex(seg, size)
	rewrite := false
	if err != nil && !l.gone(seg) {
		l.logger.Warn("seglog: rebuilding segment index", "segment", seg.name(), "err", err)
		entries, err = l.rebuildIndex(seg, size)
		if err != nil {
			l.logger.Warn("seglog: cannot rebuild segment index; reads of it start at its first batch", "segment", seg.name(), "err", err)
		}
		rewrite = err == nil
	}
	l.mu.Lock()
	found := seg.index.entries // recorded since Open, past damage or the last entry
	seg.index.entries = entries
	for _, e := range found {
		seg.index.insert(e.rel, int64(e.pos))
	}
	seg.indexLazy = false
	l.mu.Unlock()
	if rewrite {
		if err := l.writeIndex(seg); err != nil {
			l.logger.Warn("seglog: cannot write rebuilt segment index", "segment", seg.name(), "err", err)
		}
	}
}

// rebuildIndex builds the index of seg's first size bytes from its batch
// headers, stopping at the first one that does not parse or follow on.
func (l *Log) rebuildIndex(seg *segment, size int64) ([]indexEntry, error) {
	b := indexBuilder{interval: int64(l.opts.IndexIntervalBytes)}
	sc := scanner{f: seg.f, end: size}
	expect := seg.base
	for {
		at := sc.pos
		h, _, err := sc.next(false)
		if err == io.EOF || errors.Is(err, errTorn) || IsCorruption(err) || (err == nil && h.baseOffset != expect) {
			return b.entries, nil
		}
		if err != nil {
			return nil, err
		}
		b.add(uint32(h.baseOffset-seg.base), at)
		expect = h.nextOffset()
	}
}
