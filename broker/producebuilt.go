package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
)

// BuiltAppender is a PartitionLog that queues a batch a producer's request
// was decoded straight into (see Broker.ProduceBuiltAsync), taking the
// builder's buffer rather than copying the records again.
type BuiltAppender interface {
	// EnqueueBuilt queues b's records like Enqueue and leaves b empty.
	EnqueueBuilt(ctx context.Context, b *seglog.BatchBuilder) (Appending, error)
}

var _ BuiltAppender = segLog{}

// EnqueueBuilt implements BuiltAppender.
func (s segLog) EnqueueBuilt(ctx context.Context, b *seglog.BatchBuilder) (Appending, error) {
	p, err := s.l.EnqueueBuilt(ctx, b)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// ProduceBuiltAsync is ProduceAsync for messages without headers or ids
// that the caller decoded straight into the segment log's encoding: their
// bytes reach the log without another copy. On success the station's log
// takes the records and bb is left empty. It reports ok false, having done
// nothing, when the station needs the messages one by one: a schema to
// check, keyed messages to spread over several partitions, a message over
// the size limit (for its error), or a log that takes no built batches (a
// replicated one). The caller then produces bb.All() with ProduceAsync.
func (b *Broker) ProduceBuiltAsync(ctx context.Context, stationName string, bb *seglog.BatchBuilder) (_ *PendingProduce, ok bool, _ error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, true, err
	}
	n, bytes := bb.Len(), bb.PayloadBytes()
	cfg := st.config()
	nparts := uint32(len(st.logs))
	if n == 0 || cfg.Schema != nil || bb.LargestRecord() > int(cfg.MaxMessageBytes) || (nparts > 1 && bb.HasKeys()) {
		return nil, false, nil
	}
	if _, ok := st.logs[0].(BuiltAppender); !ok {
		return nil, false, nil
	}
	start := time.Now()
	if r := b.opts.Replicator; r != nil {
		if err := r.Writable(ctx); err != nil {
			return nil, true, err
		}
	}
	p := st.rr.Add(1) % nparts
	sp, err := st.logs[p].(BuiltAppender).EnqueueBuilt(ctx, bb)
	if err != nil {
		return nil, true, fmt.Errorf("station %q partition %d: %w", st.name, p, err)
	}
	pp := &PendingProduce{st: st, start: start, msgs: n, bytes: bytes, results: make([]ProduceResult, n)}
	pp.parts = append(pp.parts, partPending{partition: p, p: sp})
	return pp, true, nil
}
