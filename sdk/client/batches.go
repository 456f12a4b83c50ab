package client

import (
	"errors"
	"fmt"
	"slices"
	"time"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/recordbatch"
)

// ErrCorruptBatch is matched by the error of a pull whose record batches
// failed to decode or verify (their CRC-32C): the bytes were damaged on the
// way or the broker speaks a batch format this SDK does not know. The
// pull's deliveries are not handed out; the broker delivers them again
// after their ack deadline.
var ErrCorruptBatch = errors.New("corrupt record batch")

// deliveries turns a pull's per-message deliveries and record batches into
// Deliveries: the per-message ones first, then the batches' in order.
//
// A batch is decoded without copying: the Key, Value and Headers of its
// Deliveries alias the response's bytes, which nothing reuses, so they stay
// valid for as long as the caller keeps them (keeping one keeps its whole
// batch in memory).
//
// A response of more than most deliveries (what the pull asked for) is
// refused, so that what a pull allocates is bounded by its caller.
func (c *Consumer) deliveries(msgs []*junctionv1.Delivery, batches []*junctionv1.RecordBatches, most int) ([]*Delivery, error) {
	n := len(msgs)
	for _, b := range batches {
		k, err := recordbatch.Count(b.GetData())
		if err != nil {
			return nil, fmt.Errorf("junction: pull from station %q partition %d: %w: %w", c.station, b.GetPartition(), ErrCorruptBatch, err)
		}
		n += k
	}
	if n > most {
		return nil, fmt.Errorf("junction: pull from station %q: the broker sent %d deliveries for a pull of at most %d", c.station, n, most)
	}
	slab := make([]Delivery, n)
	out := make([]*Delivery, n)
	var hdrs []Header
	for i, m := range msgs {
		d := &slab[i]
		*d = Delivery{
			Station:       c.station,
			Partition:     int(m.GetPartition()),
			Offset:        m.GetOffset(),
			Key:           m.GetKey(),
			Value:         m.GetValue(),
			DeliveryCount: int(m.GetDeliveryCount()),
			c:             c,
		}
		if ts := m.GetTimestamp(); ts != nil {
			d.Timestamp = ts.AsTime()
		}
		if hs := m.GetHeaders(); len(hs) > 0 {
			d.Headers = make([]Header, len(hs))
			for j, h := range hs {
				d.Headers[j] = Header{Key: h.GetKey(), Value: h.GetValue()}
			}
		}
		out[i] = d
	}
	i := len(msgs)
	for _, b := range batches {
		part := int(b.GetPartition())
		err := recordbatch.Decode(b.GetData(), func(r *recordbatch.Record) {
			d := &slab[i]
			*d = Delivery{
				Station:       c.station,
				Partition:     part,
				Offset:        r.Offset,
				Timestamp:     time.Unix(0, r.Timestamp),
				Key:           r.Key,
				Value:         r.Value,
				DeliveryCount: 1,
				c:             c,
			}
			if len(r.Headers) > 0 {
				if cap(hdrs)-len(hdrs) < len(r.Headers) {
					hdrs = make([]Header, 0, max(len(r.Headers), 4*(n-i)))
				}
				first := len(hdrs)
				for _, h := range r.Headers {
					hdrs = append(hdrs, Header{Key: h.Key, Value: h.Value})
				}
				d.Headers = hdrs[first:len(hdrs):len(hdrs)]
			}
			out[i] = d
			i++
		})
		if err != nil {
			return nil, fmt.Errorf("junction: pull from station %q partition %d: %w: %w", c.station, part, ErrCorruptBatch, err)
		}
	}
	return out, nil
}

// batchOffsets returns the offsets of every delivery of a pull response by
// partition, for handing them back.
func batchOffsets(msgs []*junctionv1.Delivery, batches []*junctionv1.RecordBatches) map[uint32][]uint64 {
	m := make(map[uint32][]uint64)
	for _, d := range msgs {
		m[d.GetPartition()] = append(m[d.GetPartition()], d.GetOffset())
	}
	for _, b := range batches {
		p := b.GetPartition()
		// Offsets of undecodable batches cannot be named; those wait out
		// their ack deadline.
		_ = recordbatch.Decode(b.GetData(), func(r *recordbatch.Record) { m[p] = append(m[p], r.Offset) })
	}
	return m
}

// ackRanges sorts the offsets of each partition and returns them as ranges
// of consecutive offsets.
func ackRanges(m map[uint32][]uint64) []*junctionv1.OffsetRange {
	var out []*junctionv1.OffsetRange
	parts := make([]uint32, 0, len(m))
	for p := range m {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	for _, p := range parts {
		offs := m[p]
		slices.Sort(offs)
		offs = slices.Compact(offs)
		for i := 0; i < len(offs); {
			j := i + 1
			for j < len(offs) && offs[j] == offs[j-1]+1 {
				j++
			}
			out = append(out, &junctionv1.OffsetRange{Partition: p, From: offs[i], To: offs[j-1] + 1})
			i = j
		}
	}
	return out
}
