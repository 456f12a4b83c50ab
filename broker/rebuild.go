package broker

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/junctionhq/junction/broker/seglog"
)

// PartitionDir returns the directory holding one partition's log.
func (b *Broker) PartitionDir(stationName string, partition uint32) string {
	return filepath.Join(b.stationDir(stationName), strconv.FormatUint(uint64(partition), 10))
}

// OpenPartitionLog opens a segment log in dir with the settings the
// station's partition logs have (the shared segment file cache included),
// not wrapped by the Replicator. A cluster
// node rebuilds a damaged partition in such a log from another node's
// copy, then moves it in place of the damaged one (see package cluster).
func (b *Broker) OpenPartitionLog(stationName string, partition uint32, dir string) (PartitionLog, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	cfg := st.config()
	if cfg.Storage == StorageMemory {
		return nil, fmt.Errorf("station %q keeps its messages in memory: it has no log files to rebuild", stationName)
	}
	l, err := seglog.Open(b.partitionLogOptions(cfg, partition, dir))
	if err != nil {
		return nil, fmt.Errorf("station %q partition %d: %w", stationName, partition, err)
	}
	return segLog{l}, nil
}

// partitionLogOptions are the segment log settings of partition p of a
// disk station with config cfg, its log kept in dir.
func (b *Broker) partitionLogOptions(cfg StationConfig, p uint32, dir string) seglog.Options {
	sync := seglog.SyncAlways
	switch cfg.Fsync {
	case FsyncInterval:
		sync = seglog.SyncInterval
	case FsyncNever:
		sync = seglog.SyncNever
	}
	if b.opts.Replicator != nil && sync == seglog.SyncAlways {
		// The raft log holds the records durably; the Replicator syncs
		// the segment log before it lets raft forget them.
		sync = seglog.SyncDeferred
	}
	return seglog.Options{
		FS:            b.opts.FS,
		Dir:           dir,
		SegmentBytes:  b.opts.SegmentBytes,
		SegmentMaxAge: segmentMaxAge(cfg.Retention),
		Sync:          sync,
		Logger:        b.log.With("station", cfg.Name, "partition", p),
		Clock:         b.opts.Clock,
		OnSync:        b.metrics.observeFsync,
		FileCache:     b.segFiles,
	}
}

// replicated wraps partition p's log l for the Replicator, when there is one.
func (b *Broker) replicated(station string, p uint32, l PartitionLog) PartitionLog {
	if r := b.opts.Replicator; r != nil {
		return r.WrapLog(station, p, l)
	}
	return l
}
