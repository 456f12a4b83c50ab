package api

import (
	"context"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// pullBatches answers a Pull that asked for record batches.
func (s *messageService) pullBatches(ctx context.Context, m *v1.PullRequest, opts broker.PullOptions, notPending uint64) (*connect.Response[v1.PullResponse], error) {
	ds, bs, err := s.b.PullBatches(ctx, m.Station, m.Group, opts)
	if err != nil {
		return nil, Error(err, m.Station, m.Group)
	}
	if ctx.Err() != nil {
		s.releaseBatches(ctx, m.Station, m.Group, ds, bs)
		return nil, Error(ctx.Err(), m.Station, m.Group)
	}
	return connect.NewResponse(&v1.PullResponse{Messages: deliveriesToProto(ds), Batches: batchesToProto(bs),
		AcksApplied: true, AcksNotPending: notPending}), nil
}

// pullAcks applies the acks a pull carries and returns how many of their
// offsets were not pending.
func (s *messageService) pullAcks(ctx context.Context, m *v1.PullRequest) (uint64, error) {
	if len(m.AckRanges) == 0 {
		return 0, nil
	}
	return s.b.AckRangesCounted(ctx, m.Station, m.Group, rangesFromProto(m.AckRanges))
}

// consumeBatches streams to a Consume that asked for record batches.
func (s *messageService) consumeBatches(ctx context.Context, m *v1.ConsumeRequest, opts broker.PullOptions, stream *connect.ServerStream[v1.ConsumeResponse]) error {
	for {
		ds, bs, err := s.b.PullBatches(ctx, m.Station, m.Group, opts)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return Error(err, m.Station, m.Group)
		}
		if len(ds) == 0 && len(bs) == 0 {
			continue
		}
		if err := stream.Send(&v1.ConsumeResponse{Messages: deliveriesToProto(ds), Batches: batchesToProto(bs)}); err != nil {
			s.releaseBatches(ctx, m.Station, m.Group, ds, bs)
			return err
		}
	}
}

// releaseBatches is release for the deliveries of a batch pull.
func (s *messageService) releaseBatches(ctx context.Context, station, group string, ds []broker.Delivery, bs []broker.PartitionBatches) {
	for _, b := range bs {
		for _, r := range b.Ranges {
			for off := r.From; off < r.To; off++ {
				ds = append(ds, broker.Delivery{Partition: r.Partition, Record: broker.Record{Offset: off}})
			}
		}
	}
	s.release(ctx, station, group, ds)
}

func batchesToProto(bs []broker.PartitionBatches) []*v1.RecordBatches {
	if len(bs) == 0 {
		return nil
	}
	out := make([]*v1.RecordBatches, len(bs))
	backing := make([]v1.RecordBatches, len(bs))
	for i, b := range bs {
		backing[i].Partition, backing[i].Data = b.Partition, b.Data
		out[i] = &backing[i]
	}
	return out
}

func rangesFromProto(rs []*v1.OffsetRange) []broker.OffsetRange {
	out := make([]broker.OffsetRange, len(rs))
	for i, r := range rs {
		out[i] = broker.OffsetRange{Partition: r.GetPartition(), From: r.GetFrom(), To: r.GetTo()}
	}
	return out
}
