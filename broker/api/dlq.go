package api

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// deadLetterService browses, replays and purges dead-letter stations.
type deadLetterService struct{ *api }

func (s *deadLetterService) ListDeadLetters(ctx context.Context, req *connect.Request[v1.ListDeadLettersRequest]) (*connect.Response[v1.ListDeadLettersResponse], error) {
	m := req.Msg
	if m.GetLimit() > 10000 {
		return nil, Error(invalid("limit", "at most 10000, got %d", m.GetLimit()), m.GetStation(), "")
	}
	dls, err := s.b.DeadLetters(ctx, m.GetStation(), m.GetFromOffset(), int(m.GetLimit()))
	if err != nil {
		return nil, Error(err, m.GetStation(), "")
	}
	resp := &v1.ListDeadLettersResponse{Messages: make([]*v1.DeadLetter, len(dls))}
	for i, d := range dls {
		p := &v1.DeadLetter{
			Partition: d.Partition, Offset: d.Offset, Timestamp: timestamppb.New(d.Time), Reason: d.Reason,
			OriginStation: d.OriginStation, HasOriginOffset: d.HasOriginOffset, OriginPartition: d.OriginPartition, OriginOffset: d.OriginOffset,
			Deliveries: d.Deliveries, Group: d.Group, Error: d.Error, Schema: d.Schema,
			Key: d.Record.Key, Value: d.Record.Value, Replayed: d.Replayed,
		}
		for _, h := range d.Record.Headers {
			p.Headers = append(p.Headers, &v1.Header{Key: h.Key, Value: h.Value})
		}
		resp.Messages[i] = p
	}
	return connect.NewResponse(resp), nil
}

func (s *deadLetterService) ReplayDeadLetters(ctx context.Context, req *connect.Request[v1.ReplayDeadLettersRequest]) (*connect.Response[v1.ReplayDeadLettersResponse], error) {
	m := req.Msg
	opts := broker.ReplayOptions{Partition: m.GetPartition(), To: m.GetTo()}
	switch sel := m.GetSelection().(type) {
	case *v1.ReplayDeadLettersRequest_Offset:
		opts.Offset = sel.Offset
	case *v1.ReplayDeadLettersRequest_All:
		if !sel.All {
			return nil, Error(invalid("all", "name an offset or set all"), m.GetStation(), "")
		}
		opts.All = true
	default:
		return nil, Error(invalid("selection", "name an offset or set all"), m.GetStation(), "")
	}
	res, err := s.b.ReplayDeadLetters(ctx, m.GetStation(), opts)
	if err != nil {
		return nil, Error(err, m.GetStation(), "")
	}
	resp := &v1.ReplayDeadLettersResponse{Replayed: res.Replayed, AlreadyReplayed: res.AlreadyReplayed}
	for _, f := range res.Failed {
		resp.Failed = append(resp.Failed, &v1.ReplayFailure{Partition: f.Partition, Offset: f.Offset, Error: f.Err.Error()})
	}
	return connect.NewResponse(resp), nil
}

func (s *deadLetterService) PurgeDeadLetters(ctx context.Context, req *connect.Request[v1.PurgeDeadLettersRequest]) (*connect.Response[v1.PurgeDeadLettersResponse], error) {
	n, err := s.b.PurgeDeadLetters(ctx, req.Msg.GetStation())
	if err != nil {
		return nil, Error(err, req.Msg.GetStation(), "")
	}
	return connect.NewResponse(&v1.PurgeDeadLettersResponse{Purged: n}), nil
}
