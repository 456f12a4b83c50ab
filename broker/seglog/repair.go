package seglog

import (
	"context"
	"fmt"
	"slices"
)

// RepairMode says what Repair does with damaged ranges.
type RepairMode int

const (
	// RepairSkip keeps every intact batch and declares the damaged
	// offsets lost: reads pass over them. The bad bytes stay on disk.
	RepairSkip RepairMode = iota + 1
	// RepairCut truncates each damaged segment at its bad bytes, dropping
	// them and whatever follows in that segment; the offsets from the
	// damage to the segment's end are declared lost.
	RepairCut
)

// String returns skip or cut.
func (m RepairMode) String() string {
	switch m {
	case RepairSkip:
		return "skip"
	case RepairCut:
		return "cut"
	}
	return fmt.Sprintf("RepairMode(%d)", int(m))
}

// Repaired reports one repaired damaged range.
type Repaired struct {
	// Damage is what was found.
	Damage Damage
	// From and To bound the offsets declared lost, [From, To).
	From, To uint64
	// BytesRemoved is what RepairCut truncated away.
	BytesRemoved int64
}

// Repair settles every damaged range of the log as mode says and returns
// what each lost. The lost ranges are persisted beside the segments, so
// later Opens pass over them without reporting them again; their offsets
// are never reused. Appends wait while Repair runs.
func (l *Log) Repair(ctx context.Context, mode RepairMode) ([]Repaired, error) {
	if mode != RepairSkip && mode != RepairCut {
		return nil, fmt.Errorf("seglog: unknown repair mode %v", mode)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Repaired
	r := reqPool.Get().(*appendReq)
	r.fn = func() error {
		var err error
		out, err = l.repair(mode)
		return err
	}
	if err := l.enqueue(r); err != nil {
		l.putReq(r)
		return nil, err
	}
	<-r.done
	err := r.err
	l.putReq(r)
	return out, err
}

// repair is Repair, run by the writer goroutine.
func (l *Log) repair(mode RepairMode) ([]Repaired, error) {
	l.awaitRoll()
	l.mu.RLock()
	damaged := slices.Clone(l.damaged)
	l.mu.RUnlock()
	var out []Repaired
	cut := make(map[string]bool)
	for _, d := range damaged {
		rep := Repaired{Damage: d, From: d.From, To: d.To}
		if mode == RepairCut && d.Segment != "" && !cut[d.Segment] {
			end, removed, err := l.cutSegment(d)
			if err != nil {
				return out, err
			}
			rep.To, rep.BytesRemoved = max(rep.To, end), removed
			cut[d.Segment] = true
		}
		l.mu.Lock()
		l.addLost(rep.From, rep.To, fmt.Sprintf("%s by repair: %s", mode, d.Reason))
		l.damaged = slices.DeleteFunc(l.damaged, func(o Damage) bool { return o == d })
		l.mu.Unlock()
		l.logger.Warn("seglog: repaired damaged range; its offsets are lost",
			"dir", l.opts.Dir, "mode", mode.String(), "from_offset", rep.From, "to_offset", rep.To, "bytes_removed", rep.BytesRemoved)
		out = append(out, rep)
	}
	if l.opts.Sync == SyncDeferred {
		// The mark it raises says where durable data ends.
		if err := l.syncTo(l.wnext); err != nil {
			return out, err
		}
	}
	if err := l.writeState(l.wnext); err != nil {
		return out, err
	}
	return out, nil
}

// cutSegment truncates the segment holding d at d's bad bytes and returns
// the offset the segment ended at before and the bytes removed. Cutting the
// active segment starts a new one at the same next offset.
func (l *Log) cutSegment(d Damage) (end uint64, removed int64, err error) {
	l.mu.RLock()
	var seg *segment
	for _, s := range l.segs {
		if s.name() == d.Segment {
			seg = s
		}
	}
	l.mu.RUnlock()
	if seg == nil {
		return d.To, 0, nil // deleted by retention meanwhile
	}
	l.loadIndex(seg) // the rewritten index must hold every entry
	st, err := seg.f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("seglog: repair %s: %w", seg.name(), err)
	}
	end = seg.next
	if seg == l.active {
		end = l.wnext
	}
	if err := seg.f.Truncate(d.Position); err != nil {
		return 0, 0, fmt.Errorf("seglog: repair: truncate %s at %d: %w", seg.name(), d.Position, err)
	}
	if l.opts.Sync != SyncNever {
		if err := l.syncSegment(seg); err != nil {
			return 0, 0, err
		}
	}
	l.mu.Lock()
	seg.size = min(seg.size, d.Position)
	seg.wsize = seg.size
	seg.next = min(seg.next, d.From)
	seg.index.entries = slices.DeleteFunc(seg.index.entries, func(e indexEntry) bool { return int64(e.pos) >= d.Position })
	seg.index.lastPos = 0
	if n := len(seg.index.entries); n > 0 {
		seg.index.lastPos = int64(seg.index.entries[n-1].pos)
	}
	l.mu.Unlock()
	if seg != l.active {
		if err := l.writeIndex(seg); err != nil {
			return 0, 0, fmt.Errorf("seglog: repair: rewrite index of %s: %w", seg.name(), err)
		}
		return end, st.Size() - d.Position, nil
	}
	if err := l.writeIndex(seg); err != nil {
		l.logger.Warn("seglog: cannot write segment index; it will be rebuilt on open", "segment", seg.name(), "err", err)
	}
	if l.wnext == seg.base {
		return end, st.Size() - d.Position, nil
	}
	next, err := l.createSegment(l.wnext)
	if err != nil {
		return 0, 0, err
	}
	l.mu.Lock()
	l.segs = append(l.segs, next)
	l.mu.Unlock()
	l.active = next
	l.dirty = false
	seg.f.seal()
	return end, st.Size() - d.Position, nil
}
