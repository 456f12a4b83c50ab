package seglog

import (
	"sync"
	"time"
)

// Under SyncAlways the writer goroutine does not fsync: it writes a group
// commit to the active segment, hands its appends to the syncer and goes
// back to the queue, so the next group is written while this one is being
// fsynced. The syncer takes every handed-over append whose bytes were
// written before its fsync starts, fsyncs once, and then publishes and
// completes them in log order; one fsync covers all the groups the writer
// wrote during the previous one.
//
// What readers see is unchanged: l.next, the segment's size, index and
// timestamps advance only in publish, after the fsync that covers them.
//
// If an fsync fails, nothing written since the last good one can be
// trusted: under wmu the syncer fails the log and truncates the segment
// back to its published size, then fails the appends of that fsync. The
// writer writes only under wmu and only while the log has not failed, so
// nothing lands behind the truncation, and appends it handed over after
// the failure fail as well.
//
// The writer drains the syncer (waits until everything handed over is
// published or failed) before anything that needs the published state or
// changes the active segment: a roll, a roll request, a Repair, and its own
// exit. So the appends in flight always belong to one segment, the active
// one.
//
// Lock order: wmu before qmu and mu (setFailed, publish); syncer.mu is a
// leaf.

// syncer is the fsync goroutine of one writer goroutine's lifetime.
type syncer struct {
	l *Log

	mu      sync.Mutex
	cond    sync.Cond    // on mu: pending grew, a sync finished, or stop
	pending []*appendReq // written, not yet fsynced, in log order
	spare   []*appendReq
	seg     *segment // the segment of pending
	busy    bool     // an fsync of taken appends is under way
	stop    bool
	exited  chan struct{}

	syncs, appends uint64 // completed fsyncs and the appends they covered; under mu
}

// startSyncer starts the syncer goroutine.
func (l *Log) startSyncer() *syncer {
	s := &syncer{l: l, exited: make(chan struct{})}
	s.cond.L = &s.mu
	go s.run()
	return s
}

// hand passes the written appends reqs, in log order, on seg to the syncer.
// reqs is not retained.
func (s *syncer) hand(seg *segment, reqs []*appendReq) {
	s.mu.Lock()
	s.seg = seg
	s.pending = append(s.pending, reqs...)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// drain waits until every append handed over has been published or failed.
// A nil syncer has nothing to drain.
func (s *syncer) drain() {
	if s == nil {
		return
	}
	s.mu.Lock()
	for len(s.pending) > 0 || s.busy {
		s.cond.Wait()
	}
	s.mu.Unlock()
}

// close drains the syncer and waits for its goroutine to exit.
func (s *syncer) close() {
	s.mu.Lock()
	for len(s.pending) > 0 || s.busy {
		s.cond.Wait()
	}
	s.stop = true
	s.mu.Unlock()
	s.cond.Broadcast()
	<-s.exited
}

func (s *syncer) run() {
	defer close(s.exited)
	var reqs []*appendReq
	for {
		s.mu.Lock()
		for len(s.pending) == 0 && !s.stop {
			s.cond.Wait()
		}
		if len(s.pending) == 0 {
			s.mu.Unlock()
			return
		}
		reqs, s.pending = s.pending, s.spare[:0]
		seg := s.seg
		s.busy = true
		s.mu.Unlock()

		s.l.syncAndPublish(seg, reqs)

		s.mu.Lock()
		s.busy = false
		s.syncs++
		s.appends += uint64(len(reqs))
		clear(reqs)
		s.spare = reqs[:0]
		s.mu.Unlock()
		s.cond.Broadcast()
	}
}

// syncAndPublish fsyncs seg, whose bytes up to the end of the last of reqs
// are written, then publishes and completes reqs; if the fsync fails it
// fails the log and reqs.
func (l *Log) syncAndPublish(seg *segment, reqs []*appendReq) {
	if err := l.failed(); err != nil {
		for _, r := range reqs {
			r.finish(err)
		}
		return
	}
	start := time.Now()
	err := l.syncSegment(seg)
	if l.opts.OnSync != nil {
		l.opts.OnSync(time.Since(start))
	}
	if err != nil {
		// After a failed fsync the page cache no longer tells what is on
		// disk, so nothing written since the last good fsync can be
		// trusted: fail the log rather than guess.
		l.wmu.Lock()
		l.setFailed(err)
		l.mu.RLock()
		size := seg.size
		l.mu.RUnlock()
		_ = seg.f.Truncate(size)
		l.wmu.Unlock()
		for _, r := range reqs {
			r.finish(err)
		}
		return
	}
	l.publish(seg, reqs)
	for _, r := range reqs {
		r.finish(nil)
	}
}

// publish makes the written appends reqs, in log order on seg, visible to
// readers.
func (l *Log) publish(seg *segment, reqs []*appendReq) {
	l.mu.Lock()
	for _, r := range reqs {
		if seg.next == seg.base {
			seg.firstTS, seg.lastTS = r.baseTS, r.maxTS
		}
		seg.lastTS = max(seg.lastTS, r.maxTS)
		seg.index.add(uint32(r.base-seg.base), r.pos)
		seg.next = r.base + uint64(r.count)
		seg.size = r.pos + int64(len(r.buf))
	}
	l.next = seg.next
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}
