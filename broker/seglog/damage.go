package seglog

import (
	"fmt"
	"hash/crc32"
	"slices"
	"time"
)

// Damage is a range of offsets a log cannot serve: bytes that fail their
// checksum or do not parse yet are followed by intact batches (or lie in a
// segment that is not the last, whose bytes were fsynced when it rolled), or
// offsets missing altogether below what the log is known to have held.
// Reads of a damaged offset fail with a *CorruptionError until Repair
// decides what to do; nothing is deleted automatically.
type Damage struct {
	// From and To bound the offsets lost, [From, To). They are equal when
	// the bad bytes held no offsets the log knows of.
	From, To uint64
	// Segment names the segment file holding the bad bytes; it is empty
	// when the offsets are missing altogether.
	Segment string
	// Position and Bytes locate the bad bytes in Segment.
	Position, Bytes int64
	// Reason says what was found.
	Reason string
}

// LostRange is a range of offsets declared lost, by Repair or by recovery
// of a log that never fsyncs. Reads pass over it; its offsets are never
// reused.
type LostRange struct {
	From   uint64    `json:"from"`
	To     uint64    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Status is a log's integrity.
type Status struct {
	// Damaged lists the damaged ranges not yet repaired, by offset.
	Damaged []Damage
	// Lost lists the ranges declared lost, by offset.
	Lost []LostRange
	// HighWaterMark is the persisted offset below which every offset was
	// once durably written; the next offset never falls below it.
	HighWaterMark uint64
}

// Corrupt reports whether the log has damage awaiting repair.
func (s Status) Corrupt() bool { return len(s.Damaged) > 0 }

// CorruptionError is returned by Read for an offset in a damaged range. It
// matches ErrCorrupt.
type CorruptionError struct {
	// Dir is the log directory; the message leaves it out, as callers
	// may pass the message on.
	Dir string
	// Damage is the damaged range holding the offset read.
	Damage Damage
}

func (e *CorruptionError) Error() string {
	d := e.Damage
	what := "bytes holding no offsets"
	if d.To > d.From {
		what = fmt.Sprintf("offsets %d to %d", d.From, d.To-1)
	}
	where := "missing"
	if d.Segment != "" {
		where = fmt.Sprintf("in segment %s at position %d (%d bytes)", d.Segment, d.Position, d.Bytes)
	}
	return fmt.Sprintf("seglog: corrupt data: %s unreadable, %s: %s; repair the partition to skip or cut them", what, where, d.Reason)
}

// Is makes a CorruptionError match ErrCorrupt.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// Status returns the log's damaged and lost ranges and high-water mark.
func (l *Log) Status() Status {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return Status{Damaged: slices.Clone(l.damaged), Lost: slices.Clone(l.lost), HighWaterMark: l.hwm}
}

// rangeAt returns the damaged or lost range holding off. l.mu is held.
func (l *Log) rangeAt(off uint64) (d *Damage, lost *LostRange) {
	for i := range l.damaged {
		if r := &l.damaged[i]; r.From <= off && off < r.To {
			return r, nil
		}
	}
	for i := range l.lost {
		if r := &l.lost[i]; r.From <= off && off < r.To {
			return nil, r
		}
	}
	return nil, nil
}

// stopAfter returns the first offset above from at which a damaged or lost
// range starts, where a read starting at from must stop, or MaxUint64.
// l.mu is held.
func (l *Log) stopAfter(from uint64) uint64 {
	stop := ^uint64(0)
	for _, r := range l.damaged {
		if r.From > from && r.From < r.To {
			stop = min(stop, r.From)
		}
	}
	for _, r := range l.lost {
		if r.From > from {
			stop = min(stop, r.From)
		}
	}
	return stop
}

// covered reports whether [from, to) lies within damaged or lost ranges.
// l.mu is held (or the log is not yet shared).
func (l *Log) covered(from, to uint64) bool {
	for from < to {
		d, lost := l.rangeAt(from)
		switch {
		case d != nil:
			from = d.To
		case lost != nil:
			from = lost.To
		default:
			return false
		}
	}
	return true
}

// addDamage records d unless a known range already covers it, logs it and
// keeps the list in offset order. l.mu is held (or the log is not yet
// shared).
func (l *Log) addDamage(d Damage) {
	for _, o := range l.damaged {
		if o.Segment == d.Segment && o.Position == d.Position && d.Segment != "" {
			return
		}
	}
	if d.From < d.To && l.covered(d.From, d.To) {
		return
	}
	l.damaged = append(l.damaged, d)
	slices.SortFunc(l.damaged, func(a, b Damage) int {
		if a.From != b.From {
			return cmpU64(a.From, b.From)
		}
		return cmpU64(uint64(a.Position), uint64(b.Position))
	})
	l.logger.Error("seglog: corrupt data; the partition serves what is intact and awaits repair",
		"dir", l.opts.Dir, "from_offset", d.From, "to_offset", d.To, "segment", d.Segment,
		"position", d.Position, "bytes", d.Bytes, "reason", d.Reason)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// resync looks for the first intact batch after the bad bytes at position
// bad of seg: a batch that parses, passes its checksum and has a base offset
// of at least expect. It first tries the position the bad batch's own length
// points at, then every byte position. ok is false if there is none before
// the scanner's end.
func (l *Log) resync(sc *scanner, seg *segment, bad int64, expect uint64) (pos int64, h batchHeader, ok bool, err error) {
	try := func(p int64) (batchHeader, bool, error) {
		if sc.end-p < batchHeaderSize {
			return batchHeader{}, false, nil
		}
		hb, err := sc.window(p, batchHeaderSize)
		if err != nil {
			return batchHeader{}, false, err
		}
		h, perr := parseHeader(hb)
		if perr != nil || h.baseOffset < expect || h.nextOffset()-seg.base > 1<<32-1 || sc.end-p < int64(h.size()) {
			return h, false, nil
		}
		raw, err := sc.window(p, int64(h.size()))
		if err != nil {
			return h, false, err
		}
		return h, checksumOK(raw, h), nil
	}
	if sc.end-bad >= batchHeaderSize {
		hb, err := sc.window(bad, batchHeaderSize)
		if err != nil {
			return 0, h, false, err
		}
		if bh, perr := parseHeader(hb); perr == nil {
			if p := bad + int64(bh.size()); p < sc.end {
				if h, ok, err := try(p); err != nil || ok {
					return p, h, ok, err
				}
			}
		}
	}
	for p := bad + 1; sc.end-p >= batchHeaderSize; p++ {
		// A batch's magic byte is not zero, so in a run of zeros (a
		// hole, or a tail whose pages never reached the disk) only the
		// last offMagic positions can start one.
		z, err := sc.zeros(p)
		if err != nil {
			return 0, h, false, err
		}
		if z > offMagic {
			p += z - offMagic - 1
			continue
		}
		h, ok, err := try(p)
		if err != nil || ok {
			return p, h, ok, err
		}
	}
	return 0, h, false, nil
}

// checksumOK reports whether raw, the whole batch with header h, passes its
// checksum.
func checksumOK(raw []byte, h batchHeader) bool {
	return crc32.Checksum(raw[offMagic:], castagnoli) == h.crc
}
