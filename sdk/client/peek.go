package client

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// StoredMessage is a message as a partition stores it, read without a
// consumer group.
type StoredMessage struct {
	Partition int
	Offset    uint64
	// Timestamp is when the broker stored the message.
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []Header
}

// PeekOptions says what [Client.PeekMessages] reads.
type PeekOptions struct {
	Partition int
	// From is where to start: earliest (the default), latest (nothing yet),
	// an offset or a time.
	From StartPosition
	// Max is the most messages returned: default 20, at most 500.
	Max int
}

// PeekResult is a page of a partition.
type PeekResult struct {
	Messages []StoredMessage
	// Next is the offset to peek from for the following page.
	Next uint64
	// Start and End bound the partition: its first stored offset and its
	// next offset.
	Start, End uint64
}

// PeekMessages reads stored messages of one partition without a consumer
// group: nothing is delivered, acknowledged or moved.
func (c *Client) PeekMessages(ctx context.Context, station string, o PeekOptions) (*PeekResult, error) {
	ctx, cancel := c.unaryCtx(ctx, time.Minute)
	defer cancel()
	req := &junctionv1.PeekMessagesRequest{Station: station, Partition: uint32(o.Partition), MaxMessages: uint32(o.Max)}
	switch o.From.kind {
	case startOffset:
		req.From = &junctionv1.PeekMessagesRequest_Offset{Offset: o.From.offset}
	case startTime:
		req.From = &junctionv1.PeekMessagesRequest_Time{Time: timestamppb.New(o.From.time)}
	case startLatest:
		req.From = &junctionv1.PeekMessagesRequest_Offset{Offset: ^uint64(0)}
	}
	resp, err := c.messages.PeekMessages(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fromConnect(err)
	}
	m := resp.Msg
	out := &PeekResult{Next: m.GetNextOffset(), Start: m.GetStartOffset(), End: m.GetEndOffset(), Messages: make([]StoredMessage, len(m.GetMessages()))}
	for i, d := range m.GetMessages() {
		s := &out.Messages[i]
		s.Partition, s.Offset, s.Timestamp, s.Key, s.Value = int(d.GetPartition()), d.GetOffset(), d.GetTimestamp().AsTime(), d.GetKey(), d.GetValue()
		for _, h := range d.GetHeaders() {
			s.Headers = append(s.Headers, Header{Key: h.GetKey(), Value: h.GetValue()})
		}
	}
	return out, nil
}
