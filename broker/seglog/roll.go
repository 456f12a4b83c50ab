package seglog

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/junctionhq/junction/broker/vfs"
)

// Under SyncAlways rolling a segment costs the writer one file creation.
// What else a roll needs written (the sealed segment's index file, the
// state file with the raised high-water mark, and the directory entry of
// the new segment) is done off the writer's path, in an order that keeps
// what recovery relies on true:
//
//   - The new segment's directory entry is made durable by the first fsync
//     that covers data in it (syncSegment), before any of that data is
//     acknowledged under SyncAlways or counted as durable under
//     SyncDeferred. A crash before that leaves either no new segment or an
//     empty one, both of which Open handles.
//   - Recovery takes every segment but the last to have been fsynced
//     when it rolled (bad bytes in it are damage), and the state file's
//     high-water mark never covers data that is not on disk. So the sealed
//     segment is durable before the new one exists: under SyncAlways the
//     writer drained the syncer before rolling, under the other policies
//     that fsync roll fsyncs it first, on the writer.
//   - Its index file is a hint: Open trusts an index only if it agrees
//     with the segment and rebuilds it otherwise, so a crash part way
//     through writing it costs a scan at most.
//
// Everything that reads or replaces the state file or removes segment
// files (the next roll, Sync, Repair, Enforce and Close) first waits for
// the background work of the last roll (awaitRoll), so there is at most one
// at a time and none outlives the log.

// roll starts a new active segment at the next offset and leaves the
// sealing of the old one to a background goroutine (finishRoll). It runs on
// the writer goroutine.
func (l *Log) roll() error {
	l.awaitRoll()
	if err := l.failed(); err != nil {
		return err
	}
	old := l.active
	if l.dirty && l.opts.Sync != SyncNever {
		if err := l.syncSegment(old); err != nil {
			l.setFailed(err)
			return err
		}
		l.dirty = false
	}
	seg, err := l.createSegment(l.wnext)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	// Published before the new segment, so that whoever sees old sealed
	// in l.segs (Enforce) finds its background work to wait for.
	l.rollMu.Lock()
	l.rollDone = done
	l.rollMu.Unlock()
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	l.active = seg
	l.dirty = false
	go l.finishRoll(old, l.wnext, done)
	return nil
}

// finishRoll seals the file of the rolled segment old, writes its index
// and persists next as the high-water mark, then closes done.
func (l *Log) finishRoll(old *segment, next uint64, done chan struct{}) {
	defer close(done)
	old.f.seal()
	if err := l.writeIndex(old); err != nil {
		l.logger.Warn("seglog: cannot write segment index; it will be rebuilt on open", "segment", old.name(), "err", err)
	}
	if err := l.writeState(next); err != nil {
		l.logger.Warn("seglog: cannot persist the high-water mark", "dir", l.opts.Dir, "err", err)
	}
}

// awaitRoll waits until the background work of the last roll is done.
func (l *Log) awaitRoll() {
	l.rollMu.Lock()
	done := l.rollDone
	l.rollMu.Unlock()
	if done != nil {
		<-done
	}
}

// createSegment creates an empty segment file with the given base offset.
// Its directory entry is made durable by the first syncSegment of it.
func (l *Log) createSegment(base uint64) (*segment, error) {
	path := filepath.Join(l.opts.Dir, segmentName(base, logSuffix))
	f, err := l.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("seglog: create segment: %w", err)
	}
	seg := l.newSegment(base, path, f)
	seg.dirPending.Store(l.opts.Sync != SyncNever)
	return seg, nil
}

// syncSegment fsyncs seg and, the first time, the log directory, so that
// the segment's entry in it is as durable as its data.
func (l *Log) syncSegment(seg *segment) error {
	if err := seg.f.Sync(); err != nil {
		return fmt.Errorf("seglog: sync %s: %w", seg.name(), err)
	}
	if seg.dirPending.Load() {
		if err := vfs.SyncDir(l.fs, l.opts.Dir); err != nil {
			return fmt.Errorf("seglog: sync log directory for %s: %w", seg.name(), err)
		}
		seg.dirPending.Store(false)
	}
	return nil
}
