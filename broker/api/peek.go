package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

const (
	defaultPeekMessages = 20
	maxPeekMessages     = 500
	// peekReadBytes bounds one read of the log; a peek makes at most a few.
	peekReadBytes = 1 << 20
	// maxPeekBytes bounds the answer beyond its first message.
	maxPeekBytes = 4 << 20
)

// PeekMessages reads a partition the way Read does for connectors: no
// group, no delivery count, no pending entry.
func (s *messageService) PeekMessages(ctx context.Context, req *connect.Request[v1.PeekMessagesRequest]) (*connect.Response[v1.PeekMessagesResponse], error) {
	m := req.Msg
	n := int(m.GetMaxMessages())
	if n == 0 {
		n = defaultPeekMessages
	}
	if n > maxPeekMessages {
		return nil, Error(invalid("max_messages", "must be at most %d, got %d", maxPeekMessages, n), m.Station, "")
	}
	start, next, err := s.b.PartitionBounds(m.Station, m.Partition)
	if err != nil {
		return nil, Error(err, m.Station, "")
	}
	from := start
	switch f := m.GetFrom().(type) {
	case *v1.PeekMessagesRequest_Offset:
		from = f.Offset
	case *v1.PeekMessagesRequest_Time:
		if err := f.Time.CheckValid(); err != nil {
			return nil, Error(invalid("time", "%v", err), m.Station, "")
		}
		if from, err = s.b.OffsetForTime(m.Station, m.Partition, f.Time.AsTime()); err != nil {
			return nil, Error(err, m.Station, "")
		}
	}
	from = min(max(from, start), next)
	resp := &v1.PeekMessagesResponse{StartOffset: start, EndOffset: next, NextOffset: from}
	var out []broker.Delivery
	bytes, full := 0, false
	for !full && from < next && ctx.Err() == nil {
		recs, err := s.b.Read(m.Station, m.Partition, from, peekReadBytes)
		if errors.Is(err, seglog.ErrOffsetOutOfRange) {
			break // retention removed what we were reading
		}
		if err != nil {
			return nil, Error(err, m.Station, "")
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			if r.Offset < from {
				continue
			}
			if len(out) == n || (len(out) > 0 && bytes+len(r.Key)+len(r.Value) > maxPeekBytes) {
				full = true
				break
			}
			out = append(out, broker.Delivery{Partition: m.Partition, Record: r})
			bytes += len(r.Key) + len(r.Value)
			from = r.Offset + 1
		}
		if last := recs[len(recs)-1].Offset; !full && last+1 > from {
			from = last + 1 // offsets passed over (lost ranges) are skipped
		}
	}
	resp.NextOffset = from
	resp.Messages = deliveriesToProto(out)
	for _, d := range resp.Messages {
		d.DeliveryCount = 0
	}
	return connect.NewResponse(resp), nil
}
