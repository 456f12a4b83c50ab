package seglog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker/record"
	"github.com/junctionhq/junction/broker/vfs"
)

// Header is a record header (record.Header). Duplicate keys are allowed.
type Header = record.Header

// Record is one message of the log (record.Record). Append assigns its
// Offset, and stamps its Timestamp from Options.Clock when it is zero.
type Record = record.Record

// SegmentInfo describes one segment.
type SegmentInfo struct {
	BaseOffset uint64 // offset of the first record
	NextOffset uint64 // one past the last visible record
	Bytes      int64  // visible size of the segment file
	// FirstTimestamp is the timestamp of the first record; 0 if empty.
	FirstTimestamp int64
	// LastTimestamp is the largest timestamp in the segment. For segments
	// recovered from an index at Open it is the largest timestamp of the
	// segment's final index interval, which equals the true maximum when
	// timestamps are roughly increasing.
	LastTimestamp int64
}

// Log is the append-only log of one partition. All methods are safe for
// concurrent use.
//
// Lock order: enforceMu before mu; idxMu before mu; wmu before qmu and mu;
// stateMu before mu. qmu and rollMu are leaves: nothing else is acquired
// while one of them is held.
type Log struct {
	opts   Options
	fs     vfs.FS
	logger *slog.Logger
	now    func() time.Time // wall clock for age rolling; replaced in tests
	idle   time.Duration    // see writerIdle; replaced in tests

	qmu     sync.Mutex
	queue   []*appendReq
	closed  bool
	failErr error         // sticky: set once the log can no longer be trusted
	wake    chan struct{} // capacity 1; nudges the writer
	running bool          // a writer goroutine runs (see run)
	writer  sync.WaitGroup

	mu       sync.RWMutex
	segs     []*segment // oldest first; the last one is active
	start    uint64
	next     uint64
	changed  chan struct{}
	isClosed bool
	damaged  []Damage    // see Status
	lost     []LostRange // see Status
	hwm      uint64      // see Status

	enforceMu sync.Mutex
	idxMu     sync.Mutex // serialises loadIndex

	// wmu is held by the writer goroutine while it writes to the active
	// segment and by the syncer while it fails the log after a failed
	// fsync and truncates the segment (see syncer.go).
	wmu sync.Mutex

	// Owned by the writer goroutine.
	active *segment
	wnext  uint64 // one past the last written offset
	wbuf   []byte
	dirty  bool // written but not fsynced
	wb     writeBehind
	sync   *syncer // under SyncAlways; nil otherwise

	// rollMu guards rollDone, which is closed when the work the last roll
	// left to the background is done (see roll.go); nil before any roll.
	rollMu   sync.Mutex
	rollDone chan struct{}
	// stateMu serialises writeState.
	stateMu sync.Mutex
}

// appendReq is one queued Append (or, with roll set, Enforce's request to
// roll an expired active segment).
type appendReq struct {
	buf    []byte // the encoded batch; its base offset is patched in by the writer
	count  uint32
	baseTS int64
	maxTS  int64
	roll   bool
	fn     func() error // run by the writer between group commits

	pos  int64 // position in the segment, set by the writer
	base uint64
	err  error
	done chan struct{}
}

func (r *appendReq) finish(err error) {
	r.err = err
	r.done <- struct{}{}
}

var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// maxPooledBuf bounds the encode buffers kept for reuse.
const maxPooledBuf = 4 << 20

// Open opens (creating if needed) the log in opts.Dir, recovering from a
// torn tail left by a crash: bad bytes at the end of the tail segment with
// no intact batch after them are truncated. Bad bytes followed by intact
// batches, or in older segments, are recorded as damage (see Status) and
// left in place. Older segments' indexes are rebuilt if malformed. The
// next offset is at least the persisted high-water mark and
// opts.MinNextOffset.
func Open(opts Options) (*Log, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Log{
		opts:    o,
		fs:      o.FS,
		logger:  o.Logger,
		now:     o.Clock,
		idle:    writerIdle,
		wake:    make(chan struct{}, 1),
		changed: make(chan struct{}),
	}
	if err := l.fs.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("seglog: create log directory: %w", err)
	}
	if err := l.loadState(); err != nil {
		return nil, err
	}
	if err := l.recover(); err != nil {
		for _, s := range l.segs {
			_ = s.release()
		}
		return nil, err
	}
	l.active = l.segs[len(l.segs)-1]
	l.start = l.segs[0].base
	l.next = l.active.next
	l.wnext = l.next
	l.active.f.park() // until the first append starts a writer
	return l, nil
}

// Append appends recs as one batch with the consecutive offsets base,
// base+1, … and returns base once the batch is durable under the sync
// policy. Concurrent Appends are committed together with one write and one
// fsync. recs is not retained.
//
// ctx is checked only before the batch is queued; once queued, Append waits
// for the outcome so that a nil error always means the records were appended
// and a non-nil one that they never become visible. After a failed write or
// fsync that left the log in an unknown state, every Append fails with that
// error.
func (l *Log) Append(ctx context.Context, recs []Record) (base uint64, err error) {
	p, err := l.Enqueue(ctx, recs)
	if err != nil {
		return 0, err
	}
	return p.Wait()
}

// Pending is a batch queued by Enqueue.
type Pending struct {
	l *Log
	r *appendReq
}

// Enqueue queues recs as one batch and returns without waiting for it to be
// written. Batches are appended in the order their Enqueue calls returned,
// so a caller can pipeline several batches and keep their order. The
// returned Pending's Wait must be called exactly once. recs is not retained.
func (l *Log) Enqueue(ctx context.Context, recs []Record) (*Pending, error) {
	if len(recs) == 0 {
		return nil, ErrEmptyAppend
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := reqPool.Get().(*appendReq)
	r.buf = encodeBatch(r.buf[:0], 0, recs, l.now().UnixNano())
	if len(r.buf) > maxBatchBytes {
		reqPool.Put(r)
		return nil, fmt.Errorf("seglog: batch of %d bytes exceeds the limit of %d", len(r.buf), maxBatchBytes)
	}
	r.count = uint32(len(recs))
	r.baseTS = int64(binary.BigEndian.Uint64(r.buf[offBaseTimestamp:]))
	r.maxTS = int64(binary.BigEndian.Uint64(r.buf[offMaxTimestamp:]))
	if err := l.enqueue(r); err != nil {
		l.putReq(r)
		return nil, err
	}
	return &Pending{l: l, r: r}, nil
}

// Ready reports whether Wait would return at once. It must not be called
// after Wait.
func (p *Pending) Ready() bool { return len(p.r.done) > 0 }

// Wait blocks until the batch is durable under the sync policy and returns
// its base offset, or the error that kept it from ever becoming visible.
func (p *Pending) Wait() (base uint64, err error) {
	<-p.r.done
	base, err = p.r.base, p.r.err
	p.l.putReq(p.r)
	p.r = nil
	return base, err
}

func (l *Log) enqueue(r *appendReq) error {
	l.qmu.Lock()
	switch {
	case l.closed:
		l.qmu.Unlock()
		return ErrClosed
	case l.failErr != nil:
		err := l.failErr
		l.qmu.Unlock()
		return err
	}
	l.queue = append(l.queue, r)
	start := !l.running
	if start {
		l.running = true
		l.writer.Add(1)
	}
	l.qmu.Unlock()
	if start {
		go l.run()
		return nil
	}
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return nil
}

func (l *Log) putReq(r *appendReq) {
	if cap(r.buf) > maxPooledBuf {
		r.buf = nil
	}
	r.roll, r.fn, r.err, r.base = false, nil, nil, 0
	reqPool.Put(r)
}

// setFailed puts the log into the failed state.
func (l *Log) setFailed(err error) {
	l.qmu.Lock()
	if l.failErr == nil {
		l.failErr = err
	}
	l.qmu.Unlock()
	l.logger.Error("seglog: log failed; appends disabled until reopened", "dir", l.opts.Dir, "err", err)
}

func (l *Log) failed() error {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.failErr
}

// writerIdle is how long the writer goroutine waits for more appends
// before it exits: the next append starts another, so an idle log costs no
// goroutine.
const writerIdle = time.Second

// run is the writer goroutine: it drains the queue and group-commits. The
// fields the writer owns pass from one writer goroutine to the next through
// qmu (running).
func (l *Log) run() {
	defer l.writer.Done()
	if err := l.active.f.unpark(); err != nil {
		l.refuseQueued(fmt.Errorf("seglog: reopen active segment: %w", err))
		return
	}
	if l.opts.Sync == SyncAlways {
		l.sync = l.startSyncer()
		defer l.sync.close()
	}
	var tick <-chan time.Time
	if l.opts.Sync == SyncInterval {
		t := time.NewTicker(l.opts.SyncInterval)
		defer t.Stop()
		tick = t.C
	}
	idle := time.NewTimer(l.idle)
	defer idle.Stop()
	var reqs []*appendReq
	for {
		for {
			l.qmu.Lock()
			reqs, l.queue = l.queue, reqs[:0]
			if len(reqs) == 0 && l.closed {
				l.running = false
				l.qmu.Unlock()
				return
			}
			l.qmu.Unlock()
			if len(reqs) == 0 {
				break
			}
			l.commit(reqs)
			clear(reqs)
		}
		idle.Reset(l.idle)
		select {
		case <-l.wake:
		case <-tick:
			l.syncDirty()
		case <-idle.C:
			// A next writer must not start while this one's syncs
			// are in flight.
			l.sync.drain()
			// An idle log holds no file open beyond the cache's
			// limit; parked before a next writer may start.
			l.active.f.park()
			if l.stopIdle() {
				return
			}
			if err := l.active.f.unpark(); err != nil {
				l.refuseQueued(fmt.Errorf("seglog: reopen active segment: %w", err))
				return
			}
		}
	}
}

// refuseQueued fails every queued append with err and ends the writer,
// which could not start; the next append starts another. The log is not
// failed: nothing was written.
func (l *Log) refuseQueued(err error) {
	l.qmu.Lock()
	reqs := l.queue
	l.queue = nil
	l.running = false
	l.qmu.Unlock()
	for _, r := range reqs {
		r.finish(err)
	}
}

// stopIdle reports whether the writer may exit: nothing is queued and no
// write awaits an interval fsync. It clears running if so.
func (l *Log) stopIdle() bool {
	if l.dirty && l.opts.Sync == SyncInterval {
		return false
	}
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if len(l.queue) > 0 {
		return false
	}
	l.running = false
	return true
}

// syncDirty fsyncs the active segment if it has unsynced writes.
func (l *Log) syncDirty() {
	if !l.dirty || l.failed() != nil {
		return
	}
	if err := l.syncSegment(l.active); err != nil {
		l.setFailed(err)
		return
	}
	l.dirty = false
}

// commit writes reqs, rolling segments as needed, and completes each.
func (l *Log) commit(reqs []*appendReq) {
	now := l.now().UnixNano()
	for i := 0; i < len(reqs); {
		if err := l.failed(); err != nil {
			for _, r := range reqs[i:] {
				r.finish(err)
			}
			return
		}
		seg := l.active
		var size int64
		next := l.wnext
		j := i
		for ; j < len(reqs); j++ {
			r := reqs[j]
			pos := seg.wsize + size
			if r.roll || r.fn != nil || l.shouldRoll(seg, pos, next, r, now) {
				break
			}
			binary.BigEndian.PutUint64(r.buf[offBaseOffset:], next)
			r.base, r.pos = next, pos
			next += uint64(r.count)
			size += int64(len(r.buf))
		}
		if j > i {
			l.writeGroup(seg, reqs[i:j], size, next, now)
		}
		if j == len(reqs) {
			return
		}
		// What follows needs the published state of the active segment.
		l.sync.drain()
		if err := l.failed(); err != nil {
			for _, r := range reqs[j:] {
				r.finish(err)
			}
			return
		}
		r := reqs[j]
		if r.fn != nil {
			r.finish(r.fn())
			j++
		} else if r.roll {
			var err error
			if seg.size > 0 && seg.rollAt != 0 && now >= seg.rollAt {
				err = l.roll()
			}
			r.finish(err)
			j++
		} else if err := l.roll(); err != nil {
			r.finish(err)
			j++
		}
		i = j
	}
}

// shouldRoll reports whether r must go to a new segment rather than at pos
// in seg.
func (l *Log) shouldRoll(seg *segment, pos int64, next uint64, r *appendReq, now int64) bool {
	if pos == 0 {
		return false
	}
	return pos+int64(len(r.buf)) > l.opts.SegmentBytes ||
		next+uint64(r.count)-seg.base > math.MaxUint32 ||
		(seg.rollAt != 0 && now >= seg.rollAt)
}

// writeGroup writes the batches of reqs, size bytes, to seg with as few
// writes as it can without copying large batches (see writeBatches). Under
// SyncAlways it hands them to the syncer, which fsyncs, publishes and
// completes them; otherwise it publishes and completes them itself.
func (l *Log) writeGroup(seg *segment, reqs []*appendReq, size int64, next uint64, now int64) {
	l.wmu.Lock()
	err := l.failed()
	fatal := false
	if err == nil {
		if err = l.writeBatches(seg.f, reqs); err != nil {
			err = fmt.Errorf("seglog: write %d bytes to %s at position %d: %w", size, seg.name(), seg.wsize, err)
			if terr := seg.f.Truncate(seg.wsize); terr != nil {
				err = fmt.Errorf("%w (and truncating back failed: %v)", err, terr)
				fatal = true
			}
		}
	}
	l.wmu.Unlock()
	if fatal {
		// The groups written before this one are intact: let them
		// complete as they would have before this write.
		l.sync.drain()
		l.setFailed(err)
	}
	if err != nil {
		for _, r := range reqs {
			r.finish(err)
		}
		return
	}
	seg.wsize += size
	l.wnext = next
	if seg.rollAt == 0 && l.opts.SegmentMaxAge > 0 {
		seg.rollAt = now + int64(l.opts.SegmentMaxAge)
	}
	if l.sync != nil {
		l.sync.hand(seg, reqs)
		return
	}
	l.dirty = true
	l.publish(seg, reqs)
	for _, r := range reqs {
		r.finish(nil)
	}
	l.writeBehind(seg)
}

func (l *Log) newSegment(base uint64, path string, f vfs.File) *segment {
	s := &segment{base: base, path: path, f: l.opts.FileCache.newActiveFile(l.fs, path, f), next: base}
	s.index.interval = int64(l.opts.IndexIntervalBytes)
	s.refs.Store(1)
	return s
}

// writeIndex writes the sparse index file of seg.
func (l *Log) writeIndex(seg *segment) error {
	path := filepath.Join(l.opts.Dir, segmentName(seg.base, indexSuffix))
	f, err := l.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	l.mu.RLock()
	b := encodeIndex(nil, seg.index.entries)
	l.mu.RUnlock()
	_, err = f.Write(b)
	if err == nil && l.opts.Sync != SyncNever {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// Changed returns a channel that is closed the next time NextOffset advances
// (or the log is closed). Call it again for a fresh channel after it fires.
func (l *Log) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.changed
}

// StartOffset returns the first retained offset.
func (l *Log) StartOffset() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// NextOffset returns one past the last visible record: the offset the next
// Append will be given, once all in-flight Appends have completed.
func (l *Log) NextOffset() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.next
}

// Size returns the visible size in bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// Segments describes the segments, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.info()
	}
	return out
}

// Close waits for queued Appends to complete, syncs unless the policy is
// SyncNever, and releases the files. Reads in progress finish normally;
// later calls return ErrClosed.
func (l *Log) Close() error {
	if !l.markClosed() {
		return ErrClosed
	}
	err := l.quiesce()
	if err == nil && l.stateBehind() {
		// Everything is durable now: a later Open that finds less
		// reports it rather than giving its offsets out again.
		err = l.writeState(l.wnext)
	}
	return l.release(err)
}

// markClosed makes Append fail with ErrClosed and tells the writer to
// exit once the queue is drained. It reports false if the log was already
// closed.
func (l *Log) markClosed() bool {
	l.qmu.Lock()
	if l.closed {
		l.qmu.Unlock()
		return false
	}
	l.closed = true
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return true
}

// quiesce waits, after markClosed, for the writer and any roll to finish
// and makes the written data durable under the sync policy.
func (l *Log) quiesce() error {
	l.writer.Wait()
	l.awaitRoll()
	if l.dirty && l.opts.Sync != SyncNever && l.failed() == nil {
		return l.syncSegment(l.active)
	}
	return nil
}

// stateBehind reports, after quiesce, whether the persisted high-water
// mark is below what the log wrote.
func (l *Log) stateBehind() bool {
	return l.failed() == nil && l.wnext > l.Status().HighWaterMark
}

// release ends Close: readers see the log closed and its segment files are
// closed. It returns err joined with any error closing them.
func (l *Log) release(err error) error {
	l.mu.Lock()
	segs := l.segs
	l.segs = nil
	l.isClosed = true
	close(l.changed)
	l.mu.Unlock()
	for _, s := range segs {
		if cerr := s.release(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("seglog: close %s: %w", s.name(), cerr))
		}
	}
	return err
}

// Read returns records with offsets from `from` on, in whole batches (records
// of the first batch below from are dropped), stopping before a batch that
// would take the total past maxBytes; at least one batch is returned when any
// exists at or beyond from. It may continue into following segments.
//
// from == NextOffset yields an empty slice; from below StartOffset or above
// NextOffset yields ErrOffsetOutOfRange.
//
// Each call reads the byte range it needs with one positioned read where it
// can, and the records' Key, Value and header fields alias that buffer. The
// returned records are never modified by the log: they are immutable and
// safe to keep and share, but must not be written to. Read does not block
// Append.
func (l *Log) Read(from uint64, maxBytes int) ([]Record, error) {
	var recs []Record
	used := 0
	for {
		l.mu.RLock()
		if l.isClosed {
			l.mu.RUnlock()
			return nil, ErrClosed
		}
		if from < l.start || from > l.next {
			start, next := l.start, l.next
			l.mu.RUnlock()
			if recs != nil {
				// Retention removed the rest concurrently.
				return recs, nil
			}
			return nil, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, from, start, next)
		}
		if d, lost := l.rangeAt(from); d != nil || lost != nil {
			if lost != nil {
				from = lost.To
				l.mu.RUnlock()
				continue
			}
			err := &CorruptionError{Dir: l.opts.Dir, Damage: *d}
			l.mu.RUnlock()
			if recs != nil {
				return recs, nil
			}
			return nil, err
		}
		if from == l.next {
			l.mu.RUnlock()
			if recs == nil {
				recs = []Record{}
			}
			return recs, nil
		}
		stop := l.stopAfter(from)
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > from }) - 1
		for i < len(l.segs) && (i < 0 || l.segs[i].next <= from) {
			i++
		}
		if i == len(l.segs) {
			l.mu.RUnlock()
			return recs, nil
		}
		seg := l.segs[i]
		if seg.indexLazy && from > seg.base {
			l.mu.RUnlock()
			l.loadIndex(seg)
			continue
		}
		var e indexEntry
		if from > seg.base {
			e = lookupIndex(seg.index.entries, uint32(from-seg.base))
		}
		end, segNext := seg.size, seg.next
		seg.acquire()
		l.mu.RUnlock()

		var done bool
		var err error
		var reached uint64
		recs, used, done, reached, err = l.readSegment(seg, int64(e.pos), end, seg.base+uint64(e.rel), from, stop, maxBytes, recs, used)
		if rerr := seg.release(); rerr != nil && err == nil {
			err = fmt.Errorf("seglog: close deleted segment %s: %w", seg.name(), rerr)
		}
		if err != nil {
			if isNotExist(err) && l.gone(seg) {
				continue // retention deleted it meanwhile
			}
			if recs != nil && IsCorruption(err) {
				// Serve what is intact; the next read reports the damage.
				return recs, nil
			}
			return nil, err
		}
		if done {
			if recs == nil {
				recs = []Record{}
			}
			return recs, nil
		}
		if reached < stop {
			reached = max(reached, segNext)
		}
		if reached <= from {
			return recs, nil
		}
		from = reached
	}
}

// readSegment appends to recs the records >= from and < stop of the
// batches of seg between pos (the batch with base offset expect) and end.
// done reports that the byte budget is used up; otherwise the segment was
// read to end or to stop, and reached is the offset after the last batch
// read. Bad data is recorded as damage (see Status) and reported as a
// *CorruptionError.
func (l *Log) readSegment(seg *segment, pos, end int64, expect, from, stop uint64, maxBytes int, recs []Record, used int) (_ []Record, _ int, done bool, reached uint64, _ error) {
	recs, used, done, expect, bad, err := l.readBatches(seg, pos, end, expect, from, stop, maxBytes, recs, used)
	if err != nil && IsCorruption(err) && bad >= 0 {
		err = l.noteCorruption(seg, bad, expect, end, err)
	}
	return recs, used, done, expect, err
}

// readBatches is readSegment without the damage bookkeeping: on corrupt
// data it returns the position of the bad batch in bad (else -1), with
// expect the offset the bad batch should have started at.
func (l *Log) readBatches(seg *segment, pos, end int64, expect, from, stop uint64, maxBytes int, recs []Record, used int) (_ []Record, _ int, done bool, _ uint64, bad int64, _ error) {
	want := int64(l.opts.IndexIntervalBytes) + int64(max(maxBytes-used, 0)) + batchHeaderSize
	buf := make([]byte, min(end-pos, want))
	if err := readAt(seg.f, buf, pos); err != nil {
		return recs, used, false, expect, pos, l.readErr(seg, pos, err)
	}
	p := 0
	for pos+int64(p) < end && expect < stop {
		if p >= len(buf) {
			// Skipped past the buffer: start afresh at the next batch.
			pos, p = pos+int64(p), 0
			buf = make([]byte, min(end-pos, want))
			if err := readAt(seg.f, buf, pos); err != nil {
				return recs, used, false, expect, pos, l.readErr(seg, pos, err)
			}
		}
		rest := buf[p:]
		if len(rest) < batchHeaderSize {
			var err error
			if buf, err = extend(seg, buf, p, pos, end, batchHeaderSize, want); err != nil {
				return recs, used, false, expect, pos + int64(p), l.readErr(seg, pos+int64(p), err)
			}
			pos, p = pos+int64(p), 0
			continue
		}
		h, err := parseHeader(rest)
		if err != nil {
			return recs, used, false, expect, pos + int64(p), fmt.Errorf("seglog: segment %s position %d: %w", seg.name(), pos+int64(p), err)
		}
		if h.baseOffset != expect {
			return recs, used, false, expect, pos + int64(p), corruptf("segment %s position %d: batch base offset %d, want %d", seg.name(), pos+int64(p), h.baseOffset, expect)
		}
		size := h.size()
		if h.nextOffset() <= from {
			expect = h.nextOffset()
			p += size
			continue
		}
		if recs != nil && used+size > maxBytes {
			return recs, used, true, expect, -1, nil
		}
		if len(rest) < size {
			if buf, err = extend(seg, buf, p, pos, end, int64(size), want); err != nil {
				return recs, used, false, expect, pos + int64(p), l.readErr(seg, pos+int64(p), err)
			}
			pos, p = pos+int64(p), 0
			continue
		}
		n, wasNil := len(recs), recs == nil
		if recs == nil {
			recs = make([]Record, 0, estimateRecords(h, size, min(int64(maxBytes), end-pos-int64(p))))
		}
		if recs, _, err = decodeBatchInto(rest[:size], recs, from); err != nil {
			if recs = recs[:n]; wasNil {
				recs = nil
			}
			return recs, used, false, expect, pos + int64(p), fmt.Errorf("seglog: segment %s position %d: %w", seg.name(), pos+int64(p), err)
		}
		expect = h.nextOffset()
		used += size
		p += size
		if used >= maxBytes && recs != nil {
			return recs, used, true, expect, -1, nil
		}
	}
	return recs, used, false, expect, -1, nil
}

// noteCorruption records the damage a read found at position bad of seg,
// where the batch with base offset expect should start: up to the next
// intact batch, or to the end of what the segment holds. It returns the
// error for the reader.
func (l *Log) noteCorruption(seg *segment, bad int64, expect uint64, end int64, cause error) error {
	sc := scanner{f: seg.f, end: end}
	d := Damage{From: expect, Segment: seg.name(), Position: bad, Reason: damageReason(cause)}
	p, h, ok, err := l.resync(&sc, seg, bad, expect)
	if err != nil {
		return fmt.Errorf("seglog: look past corrupt data in %s: %w", seg.name(), err)
	}
	l.mu.Lock()
	if ok {
		d.To, d.Bytes = h.baseOffset, p-bad
		seg.index.insert(uint32(h.baseOffset-seg.base), p)
	} else {
		d.To, d.Bytes = max(seg.next, expect), end-bad
	}
	if cur, _ := l.rangeAt(expect); cur != nil {
		d = *cur
	} else {
		l.addDamage(d)
	}
	l.mu.Unlock()
	return &CorruptionError{Dir: l.opts.Dir, Damage: d}
}

// estimateRecords sizes the result slice from the first batch's density and
// the bytes the read can cover.
func estimateRecords(h batchHeader, size int, budget int64) int {
	n := int64(h.count) * budget / int64(size)
	return int(max(min(n, 1<<16), int64(h.count)))
}

// extend returns a new buffer starting with buf[p:] and filled from the file
// to at least need bytes (and up to want more), not past end. Records decoded
// from the old buffer keep aliasing it.
func extend(seg *segment, buf []byte, p int, pos, end, need, want int64) ([]byte, error) {
	start := pos + int64(p)
	n := min(end-start, max(need, want))
	if n < need {
		return nil, io.ErrUnexpectedEOF
	}
	nb := make([]byte, n)
	k := copy(nb, buf[p:])
	return nb, readAt(seg.f, nb[k:], start+int64(k))
}

func (l *Log) readErr(seg *segment, pos int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return corruptf("segment %s position %d: unexpected end of file", seg.name(), pos)
	}
	return fmt.Errorf("seglog: read %s at %d: %w", seg.name(), pos, err)
}

// OffsetForTime returns the first offset whose record timestamp is at least
// ts, or NextOffset if there is none. It assumes timestamps are roughly
// increasing: it picks the first segment and then the first batch whose
// largest timestamp reaches ts.
func (l *Log) OffsetForTime(ts int64) (uint64, error) {
	for {
		off, seg, err := l.offsetForTime(ts)
		if err != nil && seg != nil && isNotExist(err) && l.gone(seg) {
			continue // retention deleted it meanwhile
		}
		return off, err
	}
}

// offsetForTime is OffsetForTime; it returns the segment it read.
func (l *Log) offsetForTime(ts int64) (uint64, *segment, error) {
	l.mu.RLock()
	if l.isClosed {
		l.mu.RUnlock()
		return 0, nil, ErrClosed
	}
	var seg *segment
	for _, s := range l.segs {
		if s.size > 0 && s.lastTS >= ts {
			seg = s
			break
		}
	}
	next := l.next
	if seg == nil {
		l.mu.RUnlock()
		return next, nil, nil
	}
	end := seg.size
	seg.acquire()
	l.mu.RUnlock()
	defer seg.release()

	sc := scanner{f: seg.f, end: end}
	for {
		pos := sc.pos
		h, raw, err := sc.next(false)
		if err == io.EOF {
			return next, seg, nil
		}
		if err != nil {
			return 0, seg, l.scanErr(seg, pos, err)
		}
		if h.maxTS < ts {
			continue
		}
		raw = make([]byte, h.size())
		if err := readAt(seg.f, raw, pos); err != nil {
			return 0, seg, l.readErr(seg, pos, err)
		}
		recs, _, err := DecodeBatch(raw)
		if err != nil {
			return 0, seg, fmt.Errorf("seglog: segment %s position %d: %w", seg.name(), pos, err)
		}
		for _, r := range recs {
			if r.Timestamp >= ts {
				return r.Offset, seg, nil
			}
		}
	}
}

func (l *Log) scanErr(seg *segment, pos int64, err error) error {
	if errors.Is(err, errTorn) {
		return corruptf("segment %s position %d: torn batch", seg.name(), pos)
	}
	if IsCorruption(err) {
		return fmt.Errorf("seglog: segment %s position %d: %w", seg.name(), pos, err)
	}
	return fmt.Errorf("seglog: read %s at %d: %w", seg.name(), pos, err)
}
