package seglog

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// Retention says which segments Enforce may delete. Zero fields are no limit.
type Retention struct {
	// MaxAge deletes segments whose LastTimestamp is older than now-MaxAge.
	MaxAge time.Duration
	// MaxBytes deletes the oldest segments while what remains is still at
	// least MaxBytes (so the log keeps at least MaxBytes, as Kafka does).
	MaxBytes int64
	// MaxMessages deletes the oldest segments while what remains still
	// holds at least MaxMessages records.
	MaxMessages int64
	// AckOnly ignores the limits above and deletes every segment whose
	// records are all below the floor passed to Enforce.
	AckOnly bool
}

// Enforce deletes whole segments, oldest first, as r allows, and returns how
// many it deleted. It never deletes the active (last) segment nor a segment
// holding any offset >= floor; pass math.MaxUint64 for no floor. When
// Options.SegmentMaxAge is set, an active segment that is due to roll by age
// is rolled first, so that quiet logs age out too.
//
// StartOffset advances past deleted segments. Reads already in progress on a
// deleted segment complete normally; the file is closed when the last one
// finishes.
func (l *Log) Enforce(now time.Time, r Retention, floor uint64) (deleted int, err error) {
	if l.opts.SegmentMaxAge > 0 {
		if err := l.requestRoll(); err != nil {
			return 0, err
		}
	}
	l.enforceMu.Lock()
	defer l.enforceMu.Unlock()

	l.mu.Lock()
	if l.isClosed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	var size int64
	for _, s := range l.segs {
		size += s.size
	}
	msgs := l.next - l.start
	cutoff := now.Add(-r.MaxAge).UnixNano()
	n := 0
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.next > floor {
			break
		}
		del := r.AckOnly ||
			(r.MaxAge > 0 && s.lastTS < cutoff) ||
			(r.MaxBytes > 0 && size-s.size >= r.MaxBytes) ||
			(r.MaxMessages > 0 && msgs-(s.next-s.base) >= uint64(r.MaxMessages))
		if !del {
			break
		}
		size -= s.size
		msgs -= s.next - s.base
		n++
	}
	if n == 0 {
		l.mu.Unlock()
		return 0, nil
	}
	victims := l.segs[:n:n]
	l.segs = append([]*segment(nil), l.segs[n:]...)
	l.start = l.segs[0].base
	l.damaged = slices.DeleteFunc(l.damaged, func(d Damage) bool { return d.To <= l.start })
	l.mu.Unlock()
	// A victim may be the segment rolled last: let its index and the
	// high-water mark be written before its files go.
	l.awaitRoll()

	// Oldest first, log before index: a crash part way leaves at most an
	// orphan index file, which Open ignores.
	for _, s := range victims {
		if rerr := l.fs.Remove(s.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("seglog: delete segment: %w", rerr))
		}
		idx := filepath.Join(l.opts.Dir, segmentName(s.base, indexSuffix))
		if rerr := l.fs.Remove(idx); rerr != nil && !isNotExist(rerr) {
			err = errors.Join(err, fmt.Errorf("seglog: delete index: %w", rerr))
		}
		if cerr := s.release(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("seglog: close %s: %w", s.name(), cerr))
		}
	}
	return n, err
}

// requestRoll asks the writer to roll the active segment if it is due by
// age, and waits for it.
func (l *Log) requestRoll() error {
	r := reqPool.Get().(*appendReq)
	r.roll = true
	if err := l.enqueue(r); err != nil {
		l.putReq(r)
		if errors.Is(err, ErrClosed) {
			return err
		}
		// A failed log still allows deleting old segments.
		return nil
	}
	<-r.done
	err := r.err
	l.putReq(r)
	return err
}
