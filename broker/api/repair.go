package api

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/junctionhq/junction/broker"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

func (s *stationService) RepairPartition(ctx context.Context, req *connect.Request[v1.RepairPartitionRequest]) (*connect.Response[v1.RepairPartitionResponse], error) {
	var mode broker.RepairMode
	switch req.Msg.GetMode() {
	case v1.RepairMode_REPAIR_MODE_SKIP:
		mode = broker.RepairSkip
	case v1.RepairMode_REPAIR_MODE_CUT:
		mode = broker.RepairCut
	default:
		return nil, Error(invalid("mode", "must be SKIP or CUT"), req.Msg.GetStation(), "")
	}
	res, err := s.b.RepairPartition(ctx, req.Msg.GetStation(), req.Msg.GetPartition(), mode)
	out := &v1.RepairPartitionResponse{MarkedIn: res.MarkedIn}
	for _, r := range res.Ranges {
		out.Lost = append(out.Lost, &v1.LostRange{FromOffset: r.From, ToOffset: r.To, Reason: r.Damage.Reason, BytesRemoved: r.BytesRemoved})
	}
	if err != nil {
		return nil, Error(err, req.Msg.GetStation(), "")
	}
	return connect.NewResponse(out), nil
}

// integrityToProto fills a partition's damaged and lost ranges.
func integrityToProto(p *v1.PartitionStats, ps broker.PartitionStats) {
	p.HighWaterMark = ps.HighWaterMark
	for _, d := range ps.Damaged {
		p.Damaged = append(p.Damaged, &v1.DamagedRange{FromOffset: d.From, ToOffset: d.To, Segment: d.Segment, Position: d.Position, Bytes: d.Bytes, Reason: d.Reason})
	}
	for _, l := range ps.Lost {
		p.Lost = append(p.Lost, &v1.LostRange{FromOffset: l.From, ToOffset: l.To, Reason: l.Reason, At: timestamppb.New(l.At)})
	}
}
