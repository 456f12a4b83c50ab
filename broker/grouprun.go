package broker

import (
	"slices"
	"time"
)

// A group tracks first deliveries, the bulk of what it hands out, as runs
// of consecutive offsets with one ack deadline per run rather than one
// pending entry and one deadline entry per message. An offset of a run is
// pending while it is at or above the partition's committed offset, not
// set in its ack window and not in its pending map: an ack sets the bit,
// and a nack or an expired deadline moves the offset out of the run into
// the pending map, where redeliveries are tracked one by one as before. So
// a run needs no splitting; it only counts what it still holds.

// firstRun is a run of consecutive offsets [from, to) of one partition
// delivered for the first time with the ack deadline due.
type firstRun struct {
	from, to uint64
	due      time.Time
	id       uint64 // unique in its group, so a stale deadline never matches a later run
	left     int    // offsets of the run still pending in it
}

// runExpiry is the ack deadline of a run.
type runExpiry struct {
	part uint32
	from uint64
	id   uint64
	due  time.Time
}

// deliverFirst records off of partition pi as delivered for the first time
// with deadline due, extending the partition's last run where it can.
// g.mu is held.
func (g *group) deliverFirst(pi int, off uint64, due time.Time) {
	g.deliverFirstRange(pi, off, off+1, due)
}

// runOf returns the index in p.runs of the run holding off, or -1.
func (p *groupPart) runOf(off uint64) int {
	if len(p.runs) > 0 && p.runs[0].from <= off && off < p.runs[0].to {
		return 0
	}
	i, found := slices.BinarySearchFunc(p.runs, off, func(r firstRun, off uint64) int {
		switch {
		case r.to <= off:
			return -1
		case r.from > off:
			return 1
		}
		return 0
	})
	if !found {
		return -1
	}
	return i
}

// findRun returns the index of the run with the given start and id, or -1.
func (p *groupPart) findRun(from, id uint64) int {
	i := p.runOf(from)
	if i < 0 || p.runs[i].from != from || p.runs[i].id != id {
		return -1
	}
	return i
}

// inRun reports whether off is pending in a run, given that it is not in
// p.pending.
func (p *groupPart) inRun(off uint64) bool {
	return off >= p.commit && !p.acked.has(off)
}

// takeFromRun takes off, which is not in p.pending, out of the run holding
// it and returns the run's deadline; false if no run holds it pending.
// g.mu is held.
func (g *group) takeFromRun(p *groupPart, off uint64) (time.Time, bool) {
	if !p.inRun(off) {
		return time.Time{}, false
	}
	i := p.runOf(off)
	if i < 0 {
		return time.Time{}, false
	}
	r := &p.runs[i]
	due := r.due
	r.left--
	p.inRuns--
	if r.left == 0 {
		g.liveRuns--
		if i == 0 {
			p.trimRuns()
		}
	}
	return due, true
}

// trimRuns drops the runs at the front that hold nothing pending.
func (p *groupPart) trimRuns() {
	i := 0
	for i < len(p.runs) && p.runs[i].left == 0 {
		i++
	}
	if i == len(p.runs) {
		p.runs = p.runs[:0]
	} else if i > 0 {
		p.runs = p.runs[i:]
	}
}

// expireRuns moves the offsets still pending in runs whose deadline
// passed by now into the pending maps, one entry each, and hands each to
// fn, which queues it for redelivery or dead-letters it. g.mu is held.
func (g *group) expireRuns(now time.Time, fn func(expiry)) {
	for g.runExp.len() > 0 {
		e := g.runExp.front()
		if e.due.After(now) {
			break
		}
		g.runExp.pop()
		p := g.parts[e.part]
		i := p.findRun(e.from, e.id)
		if i < 0 {
			continue
		}
		r := &p.runs[i]
		live := r.left > 0
		for off := r.from; off < r.to && r.left > 0; off++ {
			if _, ok := p.pending[off]; ok || !p.inRun(off) {
				continue
			}
			pm := &pendingMsg{deliveries: 1, due: r.due}
			p.pending[off] = pm
			r.left--
			p.inRuns--
			fn(expiry{e.part, off, pm, r.due})
		}
		if r.left > 0 {
			// Unreachable while the counts agree; keep them honest.
			p.inRuns -= r.left
			r.left = 0
		}
		if live {
			g.liveRuns--
		}
		p.trimRuns()
	}
}

// nextRunDue returns the earliest deadline of a run still holding pending
// offsets, dropping the deadlines of runs that hold none, or zero. g.mu is
// held.
func (g *group) nextRunDue() time.Time {
	for g.runExp.len() > 0 {
		e := g.runExp.front()
		p := g.parts[e.part]
		if i := p.findRun(e.from, e.id); i >= 0 && p.runs[i].left > 0 {
			return e.due
		}
		g.runExp.pop()
	}
	return time.Time{}
}

// compactRuns drops the runs that hold nothing pending, and their
// deadlines, once those outnumber the live ones, so that the runs follow
// what is pending, not the delivery rate times the deadline. g.mu is held.
func (g *group) compactRuns() {
	if g.runExp.len() < 2*g.liveRuns+1024 {
		return
	}
	for _, p := range g.parts {
		p.runs = slices.DeleteFunc(p.runs, func(r firstRun) bool { return r.left == 0 })
	}
	q := g.runExp.items[g.runExp.head:]
	kept := q[:0]
	for _, e := range q {
		if g.parts[e.part].findRun(e.from, e.id) >= 0 {
			kept = append(kept, e)
		}
	}
	clear(q[len(kept):])
	g.runExp = deque[runExpiry]{items: kept}
}

// dropRuns forgets the runs of p below off (all of them when off is the
// cursor or beyond), uncounting what they held pending. g.mu is held.
func (g *group) dropRuns(p *groupPart, below uint64) {
	keep := p.runs[:0]
	for _, r := range p.runs {
		if r.from >= below {
			keep = append(keep, r)
			continue
		}
		left := r.left
		for off := r.from; off < min(r.to, below) && r.left > 0; off++ {
			if _, ok := p.pending[off]; !ok && p.inRun(off) {
				r.left--
			}
		}
		n := left - r.left
		p.inRuns -= n
		g.pending -= n
		g.track(-n)
		if left > 0 && r.left == 0 {
			g.liveRuns--
		}
		if r.to > below {
			keep = append(keep, r)
		}
	}
	clear(p.runs[len(keep):])
	p.runs = keep
}

// ackRunsIn acks the offsets of r pending in runs and returns how many it
// acked; the work is bounded by the runs' sizes, not by r's width. g.mu is
// held.
func (g *group) ackRunsIn(r OffsetRange) uint64 {
	p := g.parts[r.Partition]
	var spans [][2]uint64
	for _, run := range p.runs {
		if run.left > 0 && run.from < r.To && r.From < run.to {
			spans = append(spans, [2]uint64{max(run.from, r.From), min(run.to, r.To)})
		}
	}
	var acked uint64
	for _, s := range spans {
		for off := s[0]; off < s[1]; off++ {
			if _, ok := p.pending[off]; !ok && g.ackLocked(r.Partition, off) {
				acked++
			}
		}
	}
	return acked
}

// deliverFirstRange is deliverFirst for the offsets [from, to). g.mu is
// held.
func (g *group) deliverFirstRange(pi int, from, to uint64, due time.Time) {
	p := g.parts[pi]
	n := int(to - from)
	p.inRuns += n
	if k := len(p.runs); k > 0 {
		if r := &p.runs[k-1]; r.to == from && r.due.Equal(due) && r.left > 0 {
			r.to = to
			r.left += n
			return
		}
	}
	g.runSeq++
	g.liveRuns++
	p.runs = append(p.runs, firstRun{from: from, to: to, due: due, id: g.runSeq, left: n})
	g.runExp.push(runExpiry{part: uint32(pi), from: from, id: g.runSeq, due: due})
}

// ackInRuns acks the offsets of r pending in p's runs and returns how many
// it acked, setting the ack window's bits a word at a time. It is only
// right while p.pending is empty, when whatever a run holds at or above
// the committed offset and not acked is pending in it. The work is bounded
// by the runs r overlaps, not by r's width. g.mu is held.
func (g *group) ackInRuns(p *groupPart, r OffsetRange) uint64 {
	var acked int
	i, _ := slices.BinarySearchFunc(p.runs, r.From, func(run firstRun, off uint64) int {
		if run.to <= off {
			return -1
		}
		return 1
	})
	for ; i < len(p.runs) && p.runs[i].from < r.To; i++ {
		run := &p.runs[i]
		from, to := max(run.from, r.From, p.commit), min(run.to, r.To)
		if run.left == 0 || from >= to {
			continue
		}
		n := p.acked.setRange(from, to)
		run.left -= n
		p.inRuns -= n
		if run.left == 0 {
			g.liveRuns--
		}
		acked += n
	}
	if acked == 0 {
		return 0
	}
	g.pending -= acked
	g.track(-acked)
	if c := p.acked.advance(p.commit); c != p.commit {
		p.commit = c
		g.dirty = true
	}
	p.trimRuns()
	return uint64(acked)
}
