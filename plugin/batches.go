package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/sdk/connector"
	"github.com/junctionhq/junction/sdk/protocol"
)

// batchSink is a sink that takes records as the record batches the broker
// stores, as a plugin's sink client does when its plugin takes them: the
// pump hands the stored batches on, without decoding or re-encoding a
// record.
type batchSink interface {
	// TakesRecordBatches reports whether WriteRecordBatches may be used,
	// as of the sink's last Open.
	TakesRecordBatches() bool
	// WriteRecordBatches is Write of the records of bs, in order.
	WriteRecordBatches(ctx context.Context, bs []protocol.RecordBatches) error
}

// sinkBatch is what the sink pump writes in one call: records of the
// station as record batches, in the order they were pulled, and the offset
// ranges they cover, which are acked once the write returned.
type sinkBatch struct {
	batches []protocol.RecordBatches
	ranges  []broker.OffsetRange
	count   int
	// bytes is the size of the records' keys and values.
	bytes uint64
	// recs are the records decoded, for a sink that does not take batches.
	recs []connector.Record
}

// add appends what one batch pull delivered: redeliveries, encoded here
// one batch per run of consecutive offsets, then the first deliveries as
// the broker handed them out.
func (b *sinkBatch) add(rest []broker.Delivery, bs []broker.PartitionBatches) {
	for i := 0; i < len(rest); {
		d := &rest[i]
		j := i + 1
		for j < len(rest) && rest[j].Partition == d.Partition && rest[j].Record.Offset == d.Record.Offset+uint64(j-i) {
			j++
		}
		run := make([]broker.Record, j-i)
		for k := i; k < j; k++ {
			run[k-i] = rest[k].Record
			b.bytes += recordBytes(rest[k].Record.Key, rest[k].Record.Value)
		}
		from := d.Record.Offset
		b.batches = append(b.batches, protocol.RecordBatches{Partition: d.Partition, Data: seglog.EncodeBatch(nil, from, run)})
		b.ranges = append(b.ranges, broker.OffsetRange{Partition: d.Partition, From: from, To: from + uint64(j-i)})
		b.count += j - i
		i = j
	}
	for _, pb := range bs {
		b.batches = append(b.batches, protocol.RecordBatches{Partition: pb.Partition, Data: pb.Data})
		b.ranges = append(b.ranges, pb.Ranges...)
		b.count += pb.Count
		b.bytes += uint64(pb.Bytes)
	}
}

// records returns the records of the batch in order. The broker's own
// bytes failing to decode means its log is damaged in memory: an error.
func (b *sinkBatch) records() ([]connector.Record, error) {
	recs, err := protocol.DecodeRecordBatches(b.batches)
	if err != nil {
		return nil, fmt.Errorf("decode pulled records: %w", err)
	}
	if len(recs) != b.count {
		return nil, fmt.Errorf("decode pulled records: %d records, the pull delivered %d", len(recs), b.count)
	}
	return recs, nil
}

// pullBatch waits for records, then gathers more until the batch holds
// max_records or max_bytes or max_wait passed since the first arrived. It
// returns an empty batch only when ctx is done.
func (r *runner) pullBatch(ctx context.Context, group string) (sinkBatch, error) {
	lim := r.def.Batch
	var out sinkBatch
	var deadline time.Time
	for out.count < lim.MaxRecords && int64(out.bytes) < lim.MaxBytes {
		wait := time.Second
		if out.count > 0 {
			wait = time.Until(deadline)
			if wait <= 0 {
				break
			}
		}
		rest, bs, err := r.h.b.PullBatches(ctx, r.def.Station, group, broker.PullOptions{
			Max: lim.MaxRecords - out.count, MaxBytes: int(lim.MaxBytes - int64(out.bytes)), MaxWait: wait,
		})
		if ctx.Err() != nil {
			return sinkBatch{}, nil
		}
		if err != nil {
			return sinkBatch{}, fmt.Errorf("pull from %s: %w", r.def.Station, err)
		}
		before := out.count
		out.add(rest, bs)
		if before == 0 && out.count > 0 {
			deadline = time.Now().Add(lim.MaxWait)
		}
		if before > 0 && out.count == before {
			break
		}
	}
	return out, nil
}
