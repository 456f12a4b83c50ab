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
// station's partition logs have, not wrapped by the Replicator. A cluster
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
	sync := seglog.SyncAlways
	switch cfg.Fsync {
	case FsyncInterval:
		sync = seglog.SyncInterval
	case FsyncNever:
		sync = seglog.SyncNever
	}
	l, err := seglog.Open(seglog.Options{
		FS:            b.opts.FS,
		Dir:           dir,
		SegmentBytes:  b.opts.SegmentBytes,
		SegmentMaxAge: segmentMaxAge(cfg.Retention),
		Sync:          sync,
		Logger:        b.log.With("station", cfg.Name, "partition", partition),
		Clock:         b.opts.Clock,
		OnSync:        b.metrics.observeFsync,
	})
	if err != nil {
		return nil, fmt.Errorf("station %q partition %d: %w", stationName, partition, err)
	}
	return segLog{l}, nil
}
