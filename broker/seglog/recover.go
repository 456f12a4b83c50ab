package seglog

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// recover opens the segments in the log directory, repairing the tail and
// any malformed index, and leaves them in l.segs. An empty directory gets
// one empty segment at offset 0.
func (l *Log) recover() error {
	entries, err := l.fs.ReadDir(l.opts.Dir)
	if err != nil {
		return fmt.Errorf("seglog: list log directory: %w", err)
	}
	var bases []uint64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name()); ok && !e.IsDir() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	if len(bases) == 0 {
		seg, err := l.createSegment(0)
		if err != nil {
			return err
		}
		l.segs = []*segment{seg}
		return l.raiseNext()
	}
	for i, base := range bases {
		path := filepath.Join(l.opts.Dir, segmentName(base, logSuffix))
		f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("seglog: open segment: %w", err)
		}
		seg := l.newSegment(base, path, f)
		l.segs = append(l.segs, seg)
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("seglog: stat segment %s: %w", seg.name(), err)
		}
		if i == len(bases)-1 {
			err = l.recoverTail(seg, st.Size())
		} else {
			err = l.loadSegment(seg, st.Size(), bases[i+1])
		}
		if err != nil {
			return err
		}
		if i < len(bases)-1 {
			seg.f.seal()
		}
		if i > 0 {
			prev := l.segs[i-1]
			switch {
			case prev.next < base && !l.covered(prev.next, base):
				l.addDamage(Damage{From: prev.next, To: base,
					Reason: fmt.Sprintf("offsets missing between segments %s and %s", prev.name(), seg.name())})
			case prev.next > base:
				l.logger.Warn("seglog: overlap between segments", "segment", prev.name(), "next_offset", prev.next, "following_base", base)
			}
		}
	}
	return l.raiseNext()
}

// raiseNext makes sure the next offset is at least the high-water mark and
// Options.MinNextOffset, so that no offset the log once gave out is given
// again. Offsets in between that the log lacks are damage, or under
// SyncNever lost; the next Append goes to a new segment at the raised
// offset.
func (l *Log) raiseNext() error {
	active := l.segs[len(l.segs)-1]
	next := active.next
	target := l.hwm
	if l.opts.Sync != SyncDeferred {
		target = max(target, l.opts.MinNextOffset)
	}
	if target <= next {
		return nil
	}
	if !l.covered(next, target) {
		if l.opts.Sync == SyncNever {
			l.logger.Warn("seglog: offsets the log once held were not recovered (it never fsyncs); they are passed over and not reused",
				"dir", l.opts.Dir, "from_offset", next, "to_offset", target)
			l.addLost(next, target, "not recovered by a log that never fsyncs")
		} else {
			reason := "offsets below the partition's high-water mark are missing"
			if target > l.hwm {
				reason = "offsets a consumer group committed are missing"
			}
			l.addDamage(Damage{From: next, To: target, Reason: reason})
		}
	}
	if active.size == 0 && (len(l.segs) > 1 || l.opts.Sync == SyncNever) {
		l.segs = l.segs[:len(l.segs)-1]
		_ = active.release()
		if err := l.fs.Remove(active.path); err != nil {
			return fmt.Errorf("seglog: remove empty segment: %w", err)
		}
		if err := l.fs.Remove(filepath.Join(l.opts.Dir, segmentName(active.base, indexSuffix))); err != nil && !isNotExist(err) {
			return fmt.Errorf("seglog: remove empty segment index: %w", err)
		}
	} else {
		if err := l.writeIndex(active); err != nil {
			l.logger.Warn("seglog: cannot write segment index; it will be rebuilt on open", "segment", active.name(), "err", err)
		}
		active.f.seal()
	}
	seg, err := l.createSegment(target)
	if err != nil {
		return err
	}
	l.segs = append(l.segs, seg)
	return l.writeState(target)
}

// recoverTail verifies every batch of the tail segment, truncates the file
// at the first torn or corrupt one and rebuilds the index.
//
// Bad bytes followed by an intact batch are damage, recorded and passed
// over by scan; only bad bytes with nothing intact after them are the torn
// last write, which was never acknowledged (under SyncAlways) and is cut.
// Under SyncDeferred, bad bytes at or above the high-water mark are cut
// with everything after them: the owner replays them (deferred.go).
func (l *Log) recoverTail(seg *segment, size int64) error {
	end, err := l.scan(seg, size, 0, seg.base, true)
	if err == nil {
		return nil
	}
	if !errors.Is(err, errTorn) && !IsCorruption(err) {
		return fmt.Errorf("seglog: recover segment %s: %w", seg.name(), err)
	}
	l.logger.Warn("seglog: truncating torn segment tail",
		"segment", seg.name(), "position", end, "dropped_bytes", size-end, "err", err)
	if err := seg.f.Truncate(end); err != nil {
		return fmt.Errorf("seglog: truncate segment %s to %d: %w", seg.name(), end, err)
	}
	if l.opts.Sync != SyncNever {
		if err := seg.f.Sync(); err != nil {
			return fmt.Errorf("seglog: sync segment %s: %w", seg.name(), err)
		}
	}
	return nil
}

// loadSegment sets up an older segment from its index file if its size and
// last entry are well formed and agree with the data, and rebuilds (and
// rewrites) it otherwise. Only the last index entry and the final index
// interval are read (see loadIndex); checksums are left to the scrub.
// An older segment was fsynced when it rolled, so bad bytes in it are damage
// even with nothing intact after them: up to following, the base of the
// next segment.
func (l *Log) loadSegment(seg *segment, size int64, following uint64) error {
	from, n, ierr := l.readIndexTail(seg, size)
	if ierr == nil {
		seg.index.lastPos = int64(from.pos)
		seg.indexLazy = n > 0
		if _, err := l.scan(seg, size, int64(from.pos), seg.base+uint64(from.rel), false); err == nil {
			if size == 0 {
				return nil
			}
			if ierr = l.readFirstTimestamp(seg); ierr == nil {
				return nil
			}
		} else if !errors.Is(err, errTorn) && !IsCorruption(err) {
			return fmt.Errorf("seglog: load segment %s: %w", seg.name(), err)
		} else {
			ierr = err
		}
	}
	if !errors.Is(ierr, fs.ErrNotExist) {
		l.logger.Warn("seglog: rebuilding segment index", "segment", seg.name(), "err", ierr)
	}
	seg.index = indexBuilder{interval: int64(l.opts.IndexIntervalBytes)}
	seg.indexLazy = false
	seg.firstTS, seg.lastTS = 0, 0
	end, err := l.scan(seg, size, 0, seg.base, true)
	if err != nil {
		if !errors.Is(err, errTorn) && !IsCorruption(err) {
			return fmt.Errorf("seglog: load segment %s: %w", seg.name(), err)
		}
		l.addDamage(Damage{From: seg.next, To: max(following, seg.next), Segment: seg.name(), Position: end, Bytes: size - end,
			Reason: damageReason(err)})
	}
	if err := l.writeIndex(seg); err != nil {
		l.logger.Warn("seglog: cannot write rebuilt segment index", "segment", seg.name(), "err", err)
	}
	return nil
}

func (l *Log) readIndex(seg *segment, segSize int64) ([]indexEntry, error) {
	path := filepath.Join(l.opts.Dir, segmentName(seg.base, indexSuffix))
	f, err := l.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > segSize {
		return nil, corruptf("index larger than its segment")
	}
	b := make([]byte, st.Size())
	if err := readAt(f, b, 0); err != nil {
		return nil, err
	}
	return decodeIndex(b, segSize)
}

func (l *Log) readFirstTimestamp(seg *segment) error {
	var hb [batchHeaderSize]byte
	if err := readAt(seg.f, hb[:], 0); err != nil {
		return fmt.Errorf("seglog: read segment %s: %w", seg.name(), err)
	}
	h, err := parseHeader(hb[:])
	if err != nil {
		return fmt.Errorf("seglog: segment %s position 0: %w", seg.name(), err)
	}
	seg.firstTS = h.baseTS
	return nil
}

// scan walks seg's batches from pos, where the batch with base offset expect
// starts, to size, adding index entries and timestamps. With verify it checks
// every CRC, and records bad bytes followed by an intact batch as damage
// and passes over them; without, a bad batch may be a bad index entry, so
// it just stops. It sets seg.size and seg.next to the end of the last good
// batch and returns that position, plus errTorn or an ErrCorrupt error if
// bad bytes with nothing intact after them stopped the scan before size.
func (l *Log) scan(seg *segment, size, pos int64, expect uint64, verify bool) (int64, error) {
	sc := scanner{f: seg.f, end: size, pos: pos}
	first := pos == 0
	if !first {
		seg.lastTS = math.MinInt64
	}
	var err error
	for {
		at := sc.pos
		var h batchHeader
		var raw []byte
		h, raw, err = sc.next(verify)
		if err == io.EOF {
			err = nil
			break
		}
		if err == nil {
			switch {
			case h.baseOffset != expect:
				err = corruptf("batch base offset %d, want %d", h.baseOffset, expect)
			case h.nextOffset()-seg.base > math.MaxUint32:
				err = corruptf("batch offsets beyond the segment's 32-bit range")
			case verify && crc32.Checksum(raw[offMagic:], castagnoli) != h.crc:
				err = corruptf("batch at offset %d: crc mismatch", h.baseOffset)
			}
		}
		if err != nil && verify && (errors.Is(err, errTorn) || IsCorruption(err)) && !l.replayable(expect) {
			p, rh, ok, rerr := l.resync(&sc, seg, at, expect)
			if rerr != nil {
				err = rerr
			} else if ok {
				l.addDamage(Damage{From: expect, To: rh.baseOffset, Segment: seg.name(), Position: at, Bytes: p - at, Reason: damageReason(err)})
				seg.index.force(uint32(rh.baseOffset-seg.base), p)
				sc.pos, expect, err = p, rh.baseOffset, nil
				continue
			}
		}
		if err != nil {
			sc.pos = at
			break
		}
		if first {
			seg.firstTS, seg.lastTS = h.baseTS, h.maxTS
			first = false
		}
		seg.lastTS = max(seg.lastTS, h.maxTS)
		seg.index.add(uint32(h.baseOffset-seg.base), at)
		expect = h.nextOffset()
	}
	seg.size, seg.next = sc.pos, expect
	seg.wsize = seg.size
	if seg.size > 0 && l.opts.SegmentMaxAge > 0 {
		seg.rollAt = seg.firstTS + int64(l.opts.SegmentMaxAge)
	}
	return sc.pos, err
}

// damageReason describes what made a batch bad.
func damageReason(err error) string {
	if errors.Is(err, errTorn) {
		return "incomplete batch"
	}
	var ce *corruptionError
	if errors.As(err, &ce) {
		return ce.msg
	}
	return strings.TrimPrefix(err.Error(), "seglog: ")
}
