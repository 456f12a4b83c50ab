package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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

// checkHeld logs, before raft starts, every partition that holds fewer
// records than the last snapshot this node stored: raft replays only the
// entries after that snapshot, so nothing would refill them. A snapshot
// that raft stored but the FSM had not finished restoring when the node
// stopped leaves that.
func (n *Node) checkHeld(b *broker.Broker) {
	metas, err := n.snaps.List()
	if err != nil || len(metas) == 0 {
		return
	}
	_, rc, err := n.snaps.Open(metas[0].ID)
	if err != nil {
		n.log.Warn("read the last snapshot to check the partitions against it", "snapshot", metas[0].ID, "err", err)
		return
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	var m manifest
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		n.log.Warn("read the last snapshot to check the partitions against it", "snapshot", metas[0].ID, "err", err)
		return
	}
	for _, s := range m.Stations {
		cfg, _, err := b.Station(s.Config.Name)
		if err != nil || !cfg.CreatedAt.Equal(s.Config.CreatedAt) {
			continue // deleted (or recreated) by an entry after the snapshot
		}
		for p, want := range s.Next {
			rl := n.lookup(s.Config.Name, uint32(p))
			if rl == nil {
				continue
			}
			if _, have := rl.Bounds(); have < want {
				n.log.Error("a partition holds fewer records than the last snapshot, and raft keeps no entries to refill it; replace this node's data to rebuild it from the others",
					"station", s.Config.Name, "partition", p, "next_offset", have, "snapshot_next_offset", want, "snapshot", metas[0].ID)
			}
		}
	}
}
