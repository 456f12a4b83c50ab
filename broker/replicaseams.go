package broker

import "context"

// Optional powers of a PartitionLog that a cluster node uses on its
// replicas' local logs.
type (
	// Syncer is a PartitionLog whose appends may be durable only once
	// synced: a cluster node's segment logs, whose records the raft log
	// holds durably until the node syncs them and lets raft forget the
	// entries.
	Syncer interface {
		// Sync makes every record appended so far durable and returns
		// the next offset.
		Sync(ctx context.Context) (next uint64, err error)
	}
	// BatchAppender appends records already encoded as one segment-log
	// batch (seglog.EncodeBatch, every timestamp set), as Enqueue would
	// append them, without decoding and encoding them again.
	BatchAppender interface {
		EnqueueBatch(ctx context.Context, batch []byte) (Appending, error)
	}
)

var (
	_ Syncer        = segLog{}
	_ BatchAppender = segLog{}
)

// Sync implements Syncer.
func (s segLog) Sync(ctx context.Context) (uint64, error) { return s.l.Sync(ctx) }

// EnqueueBatch implements BatchAppender.
func (s segLog) EnqueueBatch(ctx context.Context, batch []byte) (Appending, error) {
	p, err := s.l.EnqueueBatch(ctx, batch)
	if err != nil {
		return nil, err
	}
	return p, nil
}
