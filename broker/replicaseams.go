package broker

import "context"

// Syncer is a PartitionLog whose appends may be durable only once synced:
// a cluster node's segment logs, whose records the raft log holds durably
// until the node syncs them and lets raft forget the entries.
type Syncer interface {
	// Sync makes every record appended so far durable and returns the
	// next offset.
	Sync(ctx context.Context) (next uint64, err error)
}

var _ Syncer = segLog{}

// Sync implements Syncer.
func (s segLog) Sync(ctx context.Context) (uint64, error) { return s.l.Sync(ctx) }
