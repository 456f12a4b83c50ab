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
// consumer decodes without a per-message envelope. A batch the log stored
// and the pull delivers whole is handed on as stored.
type PartitionBatches struct {
	Partition uint32
	// Data is one or more encoded batches, back to back. It must not be
	// modified.
	Data []byte
	// Ranges lists the offsets the batches deliver, in order.
	Ranges []OffsetRange
	// Count is the number of messages in Data.
	Count int
	// Bytes is the size of their keys and values.
	Bytes int
}

// PullBatches is Pull for a consumer that accepts record batches: first
// deliveries come back as batches, one PartitionBatches per partition;
// redeliveries (and messages delivered before a restart) come back as
// Deliveries, as from Pull, since they carry a delivery count above 1. It
// waits and creates the group as Pull does, and ends the pull at the end of
// a stored batch where it can (o.WholeBatches), so that batches go out as
// stored.
func (b *Broker) PullBatches(ctx context.Context, stationName, groupName string, o PullOptions) ([]Delivery, []PartitionBatches, error) {
	o.WholeBatches = true
	ds, err := b.pull(ctx, stationName, groupName, o, true)
	if err != nil || len(ds) == 0 {
		return ds, nil, err
	}
	ds, bs := batchFirstDeliveries(ds)
	return ds, bs, nil
}

// batchFirstDeliveries returns the first deliveries among ds as record
// batches and the other deliveries in their order. A stored batch that is
// delivered whole goes out as the log stored it, without a copy; the
// deliveries of partly delivered batches are encoded afresh, one batch per
// run of consecutive offsets.
func batchFirstDeliveries(ds []Delivery) ([]Delivery, []PartitionBatches) {
	var (
		rest []Delivery
		out  []PartitionBatches
		// tail holds, per partition, the index in out of its last entry
		// when that is a freshly encoded one that may take more runs.
		tail = map[uint32]int{}
		run  []Record
	)
	encode := func(part uint32) {
		i, ok := tail[part]
		if !ok {
			i = len(out)
			tail[part] = i
			out = append(out, PartitionBatches{Partition: part})
		}
		pb := &out[i]
		from := run[0].Offset
		pb.Data = seglog.EncodeBatch(pb.Data, from, run)
		pb.Ranges = append(pb.Ranges, OffsetRange{Partition: part, From: from, To: from + uint64(len(run))})
		pb.Count += len(run)
		for k := range run {
			pb.Bytes += len(run[k].Key) + len(run[k].Value)
		}
		run = run[:0]
	}
	for i := 0; i < len(ds); {
		d := &ds[i]
		if d.whole {
			s := d.span
			delete(tail, d.Partition)
			out = append(out, PartitionBatches{Partition: d.Partition, Data: s.data, Count: int(s.next - s.base), Bytes: s.kvBytes,
				Ranges: []OffsetRange{{Partition: d.Partition, From: s.base, To: s.next}}})
			i++
			continue
		}
		if d.DeliveryCount != 1 {
			rest = append(rest, *d)
			i++
			continue
		}
		// The run of deliveries from here that continue d's offsets in
		// d's partition and stored batch.
		j := i + 1
		for j < len(ds) && !ds[j].whole && ds[j].DeliveryCount == 1 && ds[j].Partition == d.Partition && ds[j].span == d.span &&
			ds[j].Record.Offset == d.Record.Offset+uint64(j-i) {
			j++
		}
		if s := d.span; s != nil && s.base == d.Record.Offset && s.next == s.base+uint64(j-i) {
			delete(tail, d.Partition)
			n := 0
			for k := i; k < j; k++ {
				n += len(ds[k].Record.Key) + len(ds[k].Record.Value)
			}
			out = append(out, PartitionBatches{Partition: d.Partition, Data: s.data, Count: j - i, Bytes: n,
				Ranges: []OffsetRange{{Partition: d.Partition, From: s.base, To: s.next}}})
		} else {
			for k := i; k < j; k++ {
				run = append(run, ds[k].Record)
			}
			encode(d.Partition)
		}
		i = j
	}
	return rest, out
}

// AckRanges acknowledges the pending deliveries in ranges, each range in
// one step under the group's lock. Offsets in a range that are not pending
// (already acked, or never delivered) are reported in an error wrapping
// ErrNotPending after all the others were acked. The work is bounded by
// the group's pending deliveries, not by the width of a range.
func (b *Broker) AckRanges(ctx context.Context, stationName, groupName string, ranges []OffsetRange) error {
	missing, first, g, err := b.ackRanges(ctx, stationName, groupName, ranges)
	if err != nil || missing == 0 {
		return err
	}
	return fmt.Errorf("group %q on station %q: %d of the messages (first: partition %d offset %d or after): %w",
		g.name, g.st.name, missing, first.Partition, first.Offset, ErrNotPending)
}

// AckRangesCounted is AckRanges for a caller that reports the offsets
// that were not pending as a count rather than as an error: it returns
// how many there were, and an error only when the ranges could not be
// applied.
func (b *Broker) AckRangesCounted(ctx context.Context, stationName, groupName string, ranges []OffsetRange) (notPending uint64, err error) {
	missing, _, _, err := b.ackRanges(ctx, stationName, groupName, ranges)
	return missing, err
}

func (b *Broker) ackRanges(ctx context.Context, stationName, groupName string, ranges []OffsetRange) (uint64, MessageRef, *group, error) {
	for _, r := range ranges {
		if r.To < r.From {
			return 0, MessageRef{}, nil, fieldErr("ranges", "partition %d: range [%d, %d) ends before it starts", r.Partition, r.From, r.To)
		}
	}
	if err := b.leading(ctx); err != nil {
		return 0, MessageRef{}, nil, err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return 0, MessageRef{}, nil, err
	}
	missing, first, err := g.ackRanges(ranges)
	return missing, first, g, err
}

// ackRanges acks the pending offsets of ranges and returns how many were
// not pending, and the first of them.
func (g *group) ackRanges(ranges []OffsetRange) (missing uint64, first MessageRef, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return 0, first, fmt.Errorf("group %q on station %q: %w", g.name, g.st.name, ErrGroupNotFound)
	}
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
		if len(p.pending) == 0 {
			// Everything pending is in runs: ack them a word at a time.
			if acked := g.ackInRuns(p, r); acked < width {
				miss(r.Partition, r.From, width-acked)
			}
			continue
		}
		if width <= uint64(len(p.pending)+p.inRuns) {
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
		acked += g.ackRunsIn(r)
		if acked < width {
			miss(r.Partition, r.From, width-acked)
		}
	}
	g.compactExpiries()
	g.compactRuns()
	g.wakeForRoom(before)
	return missing, first, nil
}
