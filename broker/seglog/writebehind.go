package seglog

import (
	"errors"
	"fmt"
)

// Write-behind bounds the dirty page-cache data of a log that does not fsync
// every group commit (SyncInterval, SyncNever). Left alone, the kernel keeps
// such writes dirty for up to dirty_expire_centisecs (30 s by default) and
// then writes gigabytes back at once; on ext4 with data=ordered, every fsync
// in that window (those of fsync-always stations included) waits behind that
// write-back. Instead, once the active segment has grown writeBehindChunk
// past the last mark, the writer starts write-back of the new range and
// waits for the range it started last time, which the disk has usually
// finished by then: a log leaves at most about two chunks dirty, and a slow
// disk slows the appends of that log rather than everyone's fsyncs.
//
// Under SyncAlways every commit is fsynced, so nothing is left dirty and
// write-behind does nothing. Written-back pages stay cached: they are clean,
// the kernel reclaims them at will, and consumers reading the tail find them.

// writeBehindChunk is how far the active segment grows between write-back
// kicks.
const writeBehindChunk = 1 << 20

// errNoWriteBehind reports that a file offers no ranged write-back (not an
// OS file, not Linux, or a file system without it).
var errNoWriteBehind = errors.New("seglog: ranged write-back not supported")

// rangeWriteback starts write-back of bytes [off, off+n) of f; with wait it
// first waits for write-back already under way in the range and then for the
// range to be written. It returns errNoWriteBehind when f does not support it.
// Tests replace it.
var rangeWriteback = fileRangeWriteback

// writeBehind is the writer goroutine's write-behind state for the active
// segment.
type writeBehind struct {
	seg     *segment
	kicked  int64 // write-back was started for [0, kicked) of seg
	settled int64 // [0, settled) of seg was written back
	off     bool  // the log's files do not support it
}

// writeBehind is called by the writer goroutine after a group commit to seg
// that was not fsynced.
func (l *Log) writeBehind(seg *segment) {
	w := &l.wb
	if w.off {
		return
	}
	if w.seg != seg {
		*w = writeBehind{seg: seg}
	}
	end := seg.size
	if end-w.kicked < writeBehindChunk {
		return
	}
	err := rangeWriteback(seg.f, w.kicked, end-w.kicked, false)
	if err == nil && w.kicked > w.settled {
		err = rangeWriteback(seg.f, w.settled, w.kicked-w.settled, true)
		if err == nil {
			w.settled = w.kicked
		}
	}
	switch {
	case errors.Is(err, errNoWriteBehind):
		w.off = true
	case err != nil:
		// Waiting consumed the file's write-back error: a later fsync
		// would no longer report it, so treat it as a failed fsync.
		l.setFailed(fmt.Errorf("seglog: write back %s: %w", seg.name(), err))
	default:
		w.kicked = end
	}
}
