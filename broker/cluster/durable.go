package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/junctionhq/junction/broker"
)

// The raft log is what makes an append durable: an entry commits once a
// majority fsynced it, and the leader acknowledges the produce once the
// entry is applied, that is written to its segment log, not fsynced (the
// broker opens a cluster node's logs under seglog.SyncDeferred). Each
// node writes every batch twice but fsyncs it once, in the raft log.
//
// The segment logs must be durable before raft forgets the entries that
// fill them: a snapshot's Persist, and a Restore, sync every partition
// log up to the manifest's offsets before raft compacts its log behind
// the snapshot. Syncing raises each log's high-water mark, so after a
// crash a log finds below its mark what was fsynced (bad bytes there are
// damage) and, above it, a tail that may be short or torn: it is cut at
// the first bad batch, and raft replays the entries after the last
// snapshot, which re-fill it byte for byte (an entry names its base
// offset and carries its records' timestamps).

// logTarget is a partition log that must be durable up to next.
type logTarget struct {
	rl   *replicatedLog
	next uint64
}

// logTargets returns the open logs of station's partitions, each with the
// offset it must be durable up to.
func (n *Node) logTargets(station string, next []uint64) []logTarget {
	out := make([]logTarget, 0, len(next))
	for p, off := range next {
		if rl := n.lookup(station, uint32(p)); rl != nil {
			out = append(out, logTarget{rl: rl, next: off})
		}
	}
	return out
}

// syncLogs makes every target's log durable up to its offset. A log
// closed meanwhile (its station deleted) needs nothing.
func (n *Node) syncLogs(ctx context.Context, targets []logTarget) error {
	var errs []error
	for _, t := range targets {
		if err := t.rl.syncTo(ctx, t.next); err != nil {
			errs = append(errs, fmt.Errorf("station %q partition %d: %w", t.rl.station, t.rl.partition, err))
		}
	}
	return errors.Join(errs...)
}

// syncTo makes the local log durable at least up to next.
func (l *replicatedLog) syncTo(ctx context.Context, next uint64) error {
	l.localMu.RLock()
	defer l.localMu.RUnlock()
	if l.closed {
		return nil
	}
	s, ok := l.local.(broker.Syncer)
	if !ok {
		return nil // it fsyncs as it appends
	}
	synced, err := s.Sync(ctx)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if synced < next {
		return fmt.Errorf("synced up to offset %d, short of the snapshot's %d", synced, next)
	}
	return nil
}
