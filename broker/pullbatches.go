package broker

import (
	"context"
	"fmt"

	"github.com/junctionhq/junction/broker/seglog"
)

// OffsetRange names the offsets [From, To) of one partition.
type OffsetRange struct {
	Partition uint32
	From, To  uint64
}

// PartitionBatches holds first deliveries of one partition as record
// batches in the segment log's encoding (see package seglog): the form a
// consumer decodes without a per-message envelope.
type PartitionBatches struct {
	Partition uint32
	// Data is one or more encoded batches, back to back. It must not be
	// modified.
	Data []byte
	// Ranges lists the offsets the batches deliver, in order.
	Ranges []OffsetRange
	// Count is the number of messages in Data.
	Count int
}

// PullBatches is Pull for a consumer that accepts record batches: first
// deliveries come back as batches, one PartitionBatches per partition;
// redeliveries (and messages delivered before a restart) come back as
// Deliveries, as from Pull, since they carry a delivery count above 1. It
// waits and creates the group as Pull does.
func (b *Broker) PullBatches(ctx context.Context, stationName, groupName string, o PullOptions) ([]Delivery, []PartitionBatches, error) {
	ds, err := b.Pull(ctx, stationName, groupName, o)
	if err != nil || len(ds) == 0 {
		return ds, nil, err
	}
	ds, bs := batchFirstDeliveries(ds)
	return ds, bs, nil
}

// batchFirstDeliveries encodes the first deliveries among ds as record
// batches, one batch per run of consecutive offsets of a partition, and
// returns the other deliveries in their order.
func batchFirstDeliveries(ds []Delivery) ([]Delivery, []PartitionBatches) {
	var (
		rest  []Delivery
		out   []PartitionBatches
		index = map[uint32]int{}
		size  = map[uint32]int{}
	)
	for i := range ds {
		if ds[i].DeliveryCount == 1 {
			// A record's encoding: its bytes and at most 10 bytes per
			// varint, five varints plus two per header.
			r := &ds[i].Record
			size[ds[i].Partition] += recordBytes(r) + 50 + 20*len(r.Headers)
		}
	}
	var run []Record
	flush := func(pb *PartitionBatches) {
		if len(run) == 0 {
			return
		}
		from := run[0].Offset
		pb.Data = seglog.EncodeBatch(pb.Data, from, run)
		pb.Ranges = append(pb.Ranges, OffsetRange{Partition: pb.Partition, From: from, To: from + uint64(len(run))})
		pb.Count += len(run)
		run = run[:0]
	}
	// Deliveries of a partition are in offset order; runs of consecutive
	// offsets are collected per partition while the partitions interleave.
	last := -1
	for _, d := range ds {
		if d.DeliveryCount != 1 {
			rest = append(rest, d)
			continue
		}
		i, ok := index[d.Partition]
		if !ok {
			i = len(out)
			index[d.Partition] = i
			out = append(out, PartitionBatches{Partition: d.Partition, Data: make([]byte, 0, size[d.Partition]+seglogBatchOverhead)})
		}
		if last >= 0 && (last != i || run[len(run)-1].Offset+1 != d.Record.Offset) {
			flush(&out[last])
			out[i].Data = growBytes(out[i].Data, seglogBatchOverhead)
		}
		last = i
		run = append(run, d.Record)
	}
	if last >= 0 {
		flush(&out[last])
	}
	return rest, out
}

// seglogBatchOverhead is the size of a batch's fixed header.
const seglogBatchOverhead = 38

func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	return append(b, make([]byte, n)...)[:len(b)]
}

// AckRanges acknowledges the pending deliveries in ranges, each range in
// one step under the group's lock. Offsets in a range that are not pending
// (already acked, or never delivered) are reported in an error wrapping
// ErrNotPending after all the others were acked. The work is bounded by
// the group's pending deliveries, not by the width of a range.
func (b *Broker) AckRanges(ctx context.Context, stationName, groupName string, ranges []OffsetRange) error {
	for _, r := range ranges {
		if r.To < r.From {
			return fieldErr("ranges", "partition %d: range [%d, %d) ends before it starts", r.Partition, r.From, r.To)
		}
	}
	if err := b.leading(ctx); err != nil {
		return err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return err
	}
	return g.ackRanges(ranges)
}

func (g *group) ackRanges(ranges []OffsetRange) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return fmt.Errorf("group %q on station %q: %w", g.name, g.st.name, ErrGroupNotFound)
	}
	var missing uint64
	var first MessageRef
	miss := func(part uint32, off uint64, n uint64) {
		if missing == 0 {
			first = MessageRef{part, off}
		}
		missing += n
	}
	before := g.pending
	for _, r := range ranges {
		width := r.To - r.From
		if width == 0 {
			continue
		}
		if int(r.Partition) >= len(g.parts) {
			miss(r.Partition, r.From, width)
			continue
		}
		p := g.parts[r.Partition]
		if width <= uint64(len(p.pending)) {
			for off := r.From; off < r.To; off++ {
				if !g.ackLocked(r.Partition, off) {
					miss(r.Partition, off, 1)
				}
			}
			continue
		}
		// A range wider than what is pending: look at the pending ones.
		var acked uint64
		for off := range p.pending {
			if off >= r.From && off < r.To && g.ackLocked(r.Partition, off) {
				acked++
			}
		}
		if acked < width {
			miss(r.Partition, r.From, width-acked)
		}
	}
	g.compactExpiries()
	if g.pending < before {
		g.wake()
	}
	if missing == 0 {
		return nil
	}
	return fmt.Errorf("group %q on station %q: %d of the messages (first: partition %d offset %d or after): %w",
		g.name, g.st.name, missing, first.Partition, first.Offset, ErrNotPending)
}
