package client

import (
	"context"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// DamagedRange is a range of offsets a partition cannot serve because its
// data is corrupt or missing; the partition serves the rest until
// [Client.RepairPartition] settles it.
type DamagedRange struct {
	// From and To bound the unreadable offsets, [From, To).
	From, To uint64
	// Segment, Position and Bytes locate the bad bytes; Segment is empty
	// when the offsets are missing altogether.
	Segment         string
	Position, Bytes int64
	Reason          string
}

// LostRange is a range of offsets declared lost by a repair.
type LostRange struct {
	// From and To bound the lost offsets, [From, To).
	From, To uint64
	Reason   string
	At       time.Time
	// BytesRemoved is what a cut removed from the segment file.
	BytesRemoved int64
}

// RepairMode says what [Client.RepairPartition] does with damaged ranges.
type RepairMode int

const (
	// RepairSkip keeps every intact message and passes over the damaged
	// offsets.
	RepairSkip RepairMode = iota + 1
	// RepairCut truncates each damaged segment at its bad bytes, dropping
	// what follows in that segment.
	RepairCut
)

// RepairResult reports what a repair declared lost.
type RepairResult struct {
	Lost []LostRange
	// MarkedIn is the dead-letter station that received a marker message
	// per range; empty when the station has none.
	MarkedIn string
}

// RepairPartition settles the damaged ranges of one partition of a
// station: their offsets are declared lost and never reused, and consumer
// groups move past them.
func (c *Client) RepairPartition(ctx context.Context, station string, partition int, mode RepairMode) (*RepairResult, error) {
	p, err := toUint32("partition", partition)
	if err != nil {
		return nil, err
	}
	pm := junctionv1.RepairMode_REPAIR_MODE_UNSPECIFIED
	switch mode {
	case RepairSkip:
		pm = junctionv1.RepairMode_REPAIR_MODE_SKIP
	case RepairCut:
		pm = junctionv1.RepairMode_REPAIR_MODE_CUT
	default:
		return nil, invalidArg("mode", "must be RepairSkip or RepairCut")
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.stations.RepairPartition(ctx, connect.NewRequest(&junctionv1.RepairPartitionRequest{Station: station, Partition: p, Mode: pm}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := &RepairResult{MarkedIn: resp.Msg.GetMarkedIn()}
	for _, l := range resp.Msg.GetLost() {
		out.Lost = append(out.Lost, lostFromProto(l))
	}
	return out, nil
}

func lostFromProto(l *junctionv1.LostRange) LostRange {
	r := LostRange{From: l.GetFromOffset(), To: l.GetToOffset(), Reason: l.GetReason(), BytesRemoved: l.GetBytesRemoved()}
	if l.GetAt() != nil {
		r.At = l.GetAt().AsTime()
	}
	return r
}

// integrityFromProto fills a partition's damaged and lost ranges.
func integrityFromProto(ps *PartitionStats, p *junctionv1.PartitionStats) {
	ps.HighWaterMark = p.GetHighWaterMark()
	for _, d := range p.GetDamaged() {
		ps.Damaged = append(ps.Damaged, DamagedRange{From: d.GetFromOffset(), To: d.GetToOffset(), Segment: d.GetSegment(),
			Position: d.GetPosition(), Bytes: d.GetBytes(), Reason: d.GetReason()})
	}
	for _, l := range p.GetLost() {
		ps.Lost = append(ps.Lost, lostFromProto(l))
	}
}
