package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/protocol"
)

// writeDepth is how many writes a sink that orders them has in flight: the
// plugin writes one while the next is already on its way, so the host's
// pull, send and ack overlap the plugin's decode and write.
const writeDepth = 2

// orderedSink is a batch sink that writes batches in the order they were
// started, which a plugin's sink client does when its plugin orders
// writes: the pump sends the next batch before the last one returned.
type orderedSink interface {
	batchSink
	// OrdersWrites reports whether StartRecordBatches may be used, as of
	// the sink's last Open.
	OrdersWrites() bool
	// StartRecordBatches starts the write of bs after every write started
	// before it; the channel receives its outcome. Once a write failed,
	// the sink writes none of those started after it.
	StartRecordBatches(ctx context.Context, bs []protocol.RecordBatches) <-chan error
}

// pendingWrite is a batch whose write is in flight.
type pendingWrite struct {
	bt     sinkBatch
	done   <-chan error
	cancel context.CancelFunc
	// timedOut: the pump cancelled the write for taking longer than the
	// connector's timeout.
	timedOut bool
}

// startWrite starts the ordered write of bt.
func (r *runner) startWrite(ctx context.Context, sink orderedSink, bt sinkBatch) pendingWrite {
	r.countIn(&bt)
	cctx, cancel := context.WithCancel(ctx)
	return pendingWrite{bt: bt, done: sink.StartRecordBatches(cctx, bt.batches), cancel: cancel}
}

// writeOrdered is the sink pump's write loop for an ordered sink: up to
// writeDepth writes in flight, each acked (or its rejected records
// dead-lettered) in order as soon as it returned. After a failed write
// nothing later is acked, and the sink writes nothing later: those records
// are pulled again when the pump restarts. The connector's timeout applies
// to the oldest write from when the one before it returned (the sink
// writes one at a time). It waits for every write it started before
// returning.
func (r *runner) writeOrdered(ctx context.Context, sink orderedSink, next <-chan pulled, schemaKey string, acks chan<- []broker.OffsetRange) error {
	var (
		inflight []pendingWrite
		since    time.Time // when inflight[0] became the oldest
		err      error     // why the pulls stopped
		failed   error     // the first write that failed, or its dead-lettering
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	finish := func(werr error) {
		w := &inflight[0]
		w.cancel()
		if werr != nil {
			what := fmt.Sprintf("write of %d records", w.bt.count)
			if w.timedOut && ctx.Err() == nil {
				werr = fmt.Errorf("%s did not finish within the connector's timeout of %s: %w", what, r.def.Timeout, werr)
			} else {
				werr = fmt.Errorf("%s: %w", what, werr)
			}
		}
		if failed == nil {
			failed = r.written(ctx, &w.bt, werr, acks)
		}
		inflight, since = inflight[1:], time.Now()
	}
	for len(inflight) > 0 || (err == nil && failed == nil) {
		var (
			oldest <-chan error
			expire <-chan time.Time
		)
		if len(inflight) > 0 {
			oldest = inflight[0].done
			if !inflight[0].timedOut {
				timer.Reset(time.Until(since.Add(r.def.Timeout)))
				expire = timer.C
			}
		}
		in := next
		if len(inflight) == writeDepth || err != nil || failed != nil {
			in = nil
		}
		select {
		case werr := <-oldest:
			finish(werr)
		case <-expire:
			inflight[0].timedOut = true
			inflight[0].cancel()
		case bt, ok := <-in:
			switch {
			case !ok:
				err = errPullsEnded
			case bt.err != nil || bt.count == 0:
				err = bt.err
				if err == nil {
					err = errPullsEnded
				}
			case r.schemaChanged(ctx, schemaKey):
				err = errSchemaChanged
			default:
				if len(inflight) == 0 {
					since = time.Now()
				}
				inflight = append(inflight, r.startWrite(ctx, sink, bt.sinkBatch))
			}
		}
	}
	if failed != nil {
		return failed
	}
	if errors.Is(err, errPullsEnded) {
		return nil
	}
	return err
}

// errPullsEnded is how writeOrdered's loop learns that the pump's pulls
// ended without an error (its context ended).
var errPullsEnded = errors.New("pulls ended")

// countIn counts bt as taken in by the sink.
func (r *runner) countIn(bt *sinkBatch) {
	r.total.in.Add(uint64(bt.count))
	r.total.bytesIn.Add(bt.bytes)
}
