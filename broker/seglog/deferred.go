package seglog

import (
	"context"
	"time"
)

// Under SyncDeferred the log is a copy of records its owner keeps durably
// elsewhere (a cluster node's raft log) until it calls Sync. Appends are
// written to the page cache, visible once written, with write-behind
// keeping dirty data bounded as under SyncInterval; segments are fsynced
// when they roll and at Close, like under the other policies that fsync.
//
// Sync fsyncs what was written and raises the high-water mark to it, so
// the mark is where durable data ends: records below it were fsynced, and
// missing or bad ones there are damage as under SyncAlways. Records at or
// above it may not have reached the disk before a crash, in any order
// (a later page written before an earlier one leaves a hole of zeros
// between intact batches), and the owner replays them: at Open, the first
// bad batch of the tail segment at or above the mark is a torn tail, cut
// together with whatever follows it, intact or not.

// Sync makes every record appended so far durable and raises the
// high-water mark to the next offset, which it returns. It waits for
// appends queued before it and delays those queued after it by the
// fsync. A log that failed returns its error.
func (l *Log) Sync(ctx context.Context) (next uint64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	r := reqPool.Get().(*appendReq)
	r.fn = func() error {
		next = l.wnext
		return l.syncTo(next)
	}
	if err := l.enqueue(r); err != nil {
		l.putReq(r)
		return 0, err
	}
	<-r.done
	err = r.err
	l.putReq(r)
	if err != nil {
		return 0, err
	}
	return next, nil
}

// syncTo fsyncs the active segment if it holds unsynced writes and
// raises the high-water mark to next. It runs on the writer goroutine.
func (l *Log) syncTo(next uint64) error {
	// The segment rolled last must be durable before the mark passes it.
	l.awaitRoll()
	if err := l.failed(); err != nil {
		return err
	}
	if l.dirty && l.opts.Sync != SyncNever {
		start := time.Now()
		err := l.syncSegment(l.active)
		if l.opts.OnSync != nil {
			l.opts.OnSync(time.Since(start))
		}
		if err != nil {
			l.setFailed(err)
			return err
		}
		l.dirty = false
	}
	if next <= l.Status().HighWaterMark {
		return nil
	}
	return l.writeState(next)
}

// replayable reports whether bad data where the batch at offset expect
// should start is a torn tail the owner replays rather than damage.
// l.hwm is read during Open only, before any writer runs.
func (l *Log) replayable(expect uint64) bool {
	return l.opts.Sync == SyncDeferred && expect >= l.hwm
}
