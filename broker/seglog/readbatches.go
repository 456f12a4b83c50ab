package seglog

import (
	"errors"
	"fmt"
	"sort"
)

// ErrNotPlain is returned by ReadBatches where the plain batch path does not
// apply (damaged or lost offsets, a batch larger than the read, bytes that
// do not parse); Read serves those offsets, or reports why it cannot.
var ErrNotPlain = errors.New("seglog: offsets need a record read")

// ReadBatches returns, in their stored encoding, the whole batches of one
// segment that hold offsets from `from` on (the first may start below
// from), stopping before a batch that would take the total past maxBytes;
// at least one batch is returned when one exists at from. next is the
// offset after the last batch returned. Checksums are not verified:
// DecodeBatches does that.
//
// from == NextOffset yields no bytes; from below StartOffset or above
// NextOffset yields ErrOffsetOutOfRange; damaged and lost offsets, and
// anything else Read handles specially, yield an error matching
// ErrNotPlain. The returned bytes are never modified by the log.
func (l *Log) ReadBatches(from uint64, maxBytes int) (batches []byte, next uint64, err error) {
	l.mu.RLock()
	if l.isClosed {
		l.mu.RUnlock()
		return nil, from, ErrClosed
	}
	if from < l.start || from > l.next {
		start, next := l.start, l.next
		l.mu.RUnlock()
		return nil, from, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, from, start, next)
	}
	if from == l.next {
		l.mu.RUnlock()
		return nil, from, nil
	}
	if d, lost := l.rangeAt(from); d != nil || lost != nil {
		l.mu.RUnlock()
		return nil, from, ErrNotPlain
	}
	stop := l.stopAfter(from)
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > from }) - 1
	if i < 0 || l.segs[i].next <= from {
		l.mu.RUnlock()
		return nil, from, ErrNotPlain
	}
	seg := l.segs[i]
	if seg.indexLazy && from > seg.base {
		l.mu.RUnlock()
		l.loadIndex(seg)
		return l.ReadBatches(from, maxBytes)
	}
	var e indexEntry
	if from > seg.base {
		e = lookupIndex(seg.index.entries, uint32(from-seg.base))
	}
	end := seg.size
	seg.acquire()
	l.mu.RUnlock()

	batches, next, err = l.readPlain(seg, int64(e.pos), end, seg.base+uint64(e.rel), from, stop, maxBytes)
	if rerr := seg.release(); rerr != nil && err == nil {
		err = fmt.Errorf("seglog: close deleted segment %s: %w", seg.name(), rerr)
	}
	return batches, next, err
}

// readPlain reads the batches of seg between pos (the batch with base
// offset expect) and end that hold offsets >= from and < stop.
func (l *Log) readPlain(seg *segment, pos, end int64, expect, from, stop uint64, maxBytes int) ([]byte, uint64, error) {
	want := int64(l.opts.IndexIntervalBytes) + int64(max(maxBytes, 0)) + batchHeaderSize
	buf := make([]byte, min(end-pos, want))
	if err := readAt(seg.f, buf, pos); err != nil {
		return nil, from, fmt.Errorf("%w: %w", ErrNotPlain, l.readErr(seg, pos, err))
	}
	first, p := -1, 0
	for pos+int64(p) < end && expect < stop {
		if first < 0 && p+batchHeaderSize > len(buf) {
			// Nothing kept yet: read on from here.
			pos, p = pos+int64(p), 0
			buf = make([]byte, min(end-pos, want))
			if len(buf) < batchHeaderSize {
				break
			}
			if err := readAt(seg.f, buf, pos); err != nil {
				return nil, from, fmt.Errorf("%w: %w", ErrNotPlain, l.readErr(seg, pos, err))
			}
		}
		if p+batchHeaderSize > len(buf) {
			break
		}
		h, err := parseHeader(buf[p:])
		if err != nil || h.baseOffset != expect || h.nextOffset() > stop {
			break
		}
		size := h.size()
		if h.nextOffset() <= from {
			p += size
			expect = h.nextOffset()
			continue
		}
		if first < 0 && p+size > len(buf) {
			// The first batch to serve is larger than what was read.
			if buf, err = extend(seg, buf, p, pos, end, int64(size), want); err != nil {
				return nil, from, fmt.Errorf("%w: %w", ErrNotPlain, l.readErr(seg, pos+int64(p), err))
			}
			pos, p = pos+int64(p), 0
		}
		if p+size > len(buf) || (first >= 0 && p+size-first > maxBytes) {
			break
		}
		if first < 0 {
			first = p
		}
		p += size
		expect = h.nextOffset()
		if p-first >= maxBytes {
			break
		}
	}
	if first < 0 {
		return nil, from, ErrNotPlain
	}
	return buf[first:p:p], expect, nil
}

// BatchSpan locates one encoded batch within the bytes DecodeBatches
// decoded: data[Start:End] holds the offsets [Base, Next).
type BatchSpan struct {
	Base, Next uint64
	Start, End int
}

// DecodeBatches decodes the batches of data (as from ReadBatches),
// verifying each, and returns the records with offsets at least from and
// where each batch lies. The records alias data, like DecodeBatch's. A
// malformed batch yields an error for which IsCorruption is true.
func DecodeBatches(data []byte, from uint64) ([]Record, []BatchSpan, error) {
	var recs []Record
	var spans []BatchSpan
	for p := 0; p < len(data); {
		if recs == nil && len(data)-p >= batchHeaderSize {
			if h, err := parseHeader(data[p:]); err == nil {
				recs = make([]Record, 0, estimateRecords(h, h.size(), int64(len(data)-p)))
			}
		}
		n0 := len(recs)
		var n int
		var err error
		if recs, n, err = decodeBatchInto(data[p:], recs, from); err != nil {
			return nil, nil, err
		}
		if len(recs) > n0 {
			h, _ := parseHeader(data[p:]) // decoded above: cannot fail
			spans = append(spans, BatchSpan{Base: h.baseOffset, Next: h.nextOffset(), Start: p, End: p + n})
		}
		p += n
	}
	return recs, spans, nil
}
