package cluster

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// The raft log is bounded in bytes, not only in entries: entries run up
// to a produce batch's size, so a bound in entries alone (raft's
// SnapshotThreshold and TrailingLogs) lets the log grow to tens of GB.
// boundedLog counts the bytes stored since the log was last compacted
// and, past Config.SnapshotBytes, has the node snapshot (a manifest, which
// is cheap) so that raft compacts the log. Before each such snapshot the
// node lowers raft's TrailingLogs so that the entries kept behind it take
// about Config.TrailingBytes at the average entry size seen so far (never
// fewer than minTrailingLogs, never more than Config.TrailingLogs). The
// log then stays within about SnapshotBytes + TrailingBytes, plus one
// segment file (64 MiB) whose entries are not all deleted yet.

// minTrailingLogs is the fewest entries kept behind a snapshot.
const minTrailingLogs = 64

// boundedLog is the node's raft log store, counting what it stores.
type boundedLog struct {
	logStore
	limit uint64 // snapshot once this many bytes were stored since compaction
	// since is the bytes stored since the log was last compacted;
	// entries and bytes are totals, for the average entry size.
	since, entries, bytes atomic.Uint64
	wake                  chan struct{}
}

func newBoundedLog(s logStore, limit uint64) *boundedLog {
	return &boundedLog{logStore: s, limit: limit, wake: make(chan struct{}, 1)}
}

// IsMonotonic tells raft whether the underlying store needs contiguous
// indexes (the WAL does), which changes how raft installs a snapshot.
func (b *boundedLog) IsMonotonic() bool {
	m, ok := b.logStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

func (b *boundedLog) StoreLog(l *raft.Log) error { return b.StoreLogs([]*raft.Log{l}) }

func (b *boundedLog) StoreLogs(logs []*raft.Log) error {
	if err := b.logStore.StoreLogs(logs); err != nil {
		return err
	}
	var n uint64
	for _, l := range logs {
		n += uint64(len(l.Data))
	}
	b.entries.Add(uint64(len(logs)))
	b.bytes.Add(n)
	if b.since.Add(n) >= b.limit {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// DeleteRange resets the count when raft compacts the log from its head.
func (b *boundedLog) DeleteRange(lo, hi uint64) error {
	first, err := b.logStore.FirstIndex()
	if err != nil {
		return err
	}
	if err := b.logStore.DeleteRange(lo, hi); err != nil {
		return err
	}
	if lo <= first {
		b.since.Store(0)
	}
	return nil
}

// trailingLogs is how many entries take about trailingBytes at the
// average entry size, within [minTrailingLogs, most].
func (b *boundedLog) trailingLogs(trailingBytes, most uint64) uint64 {
	entries, bytes := b.entries.Load(), b.bytes.Load()
	if entries == 0 || bytes == 0 {
		return most
	}
	avg := max(bytes/entries, 1)
	return min(max(trailingBytes/avg, minTrailingLogs), most)
}

// watchLogSize snapshots whenever the raft log grew by SnapshotBytes
// since it was last compacted.
func (n *Node) watchLogSize(b *boundedLog) {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-b.wake:
		}
		if b.since.Load() < b.limit {
			continue
		}
		rc := n.raft.ReloadableConfig()
		if t := b.trailingLogs(n.cfg.TrailingBytes, n.cfg.TrailingLogs); t != rc.TrailingLogs {
			rc.TrailingLogs = t
			if err := n.raft.ReloadConfig(rc); err != nil {
				n.log.Warn("bound the raft log's trailing entries", "err", err)
			}
		}
		if err := n.raft.Snapshot().Error(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			n.log.Warn("snapshot to bound the raft log", "bytes_since_compaction", b.since.Load(), "err", err)
		}
		// However it went, give raft a moment before trying again.
		select {
		case <-n.stop:
			return
		case <-time.After(time.Second):
		}
	}
}
