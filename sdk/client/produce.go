package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Header is a message header. Keys starting with "junction-" are reserved
// for the broker (e.g. dead-letter reasons). A key may repeat.
type Header struct {
	Key   string
	Value []byte
}

// Message is a message to produce. The SDK does not copy its byte slices:
// they must not be modified until the produce call (or, for a [Producer],
// the message's [Pending]) is done.
type Message struct {
	// Key selects the partition (by hash); messages without a key are
	// spread round robin.
	Key     []byte
	Value   []byte
	Headers []Header
	// ID is a producer message id; a repeat within the station's dedup
	// window is dropped and reported as [Result.Duplicate].
	ID string
}

// size is the message's approximate encoded size.
func (m *Message) size() int {
	n := len(m.Key) + len(m.Value) + len(m.ID) + 8
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}

// Result is the outcome for one produced message.
type Result struct {
	Partition int
	Offset    uint64
	// Duplicate reports that the message's ID was seen within the dedup
	// window; Offset is then the original message's.
	Duplicate bool
	// Rejected: the message failed the station's schema and was not
	// stored; its error says why.
	Rejected bool
	// DeadLettered: the message failed the station's schema and went to
	// the station's dead-letter station, at Partition and Offset there.
	DeadLettered bool
}

func resultFromProto(r *junctionv1.ProduceResult) Result {
	return Result{Partition: int(r.GetPartition()), Offset: r.GetOffset(), Duplicate: r.GetDuplicate(), Rejected: r.GetRejected(), DeadLettered: r.GetDeadLettered()}
}

// Produce appends msgs to a station in one request and returns once they
// are durable per the station's fsync policy. Results are in the order of
// msgs. On error no message was stored. For a steady flow of messages, a
// [Producer] is much faster.
func (c *Client) Produce(ctx context.Context, station string, msgs ...Message) ([]Result, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	var mb msgBuilder
	req := &junctionv1.ProduceRequest{Station: station, Messages: make([]*junctionv1.Message, 0, len(msgs))}
	for i := range msgs {
		req.Messages = append(req.Messages, mb.add(&msgs[i]))
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.messages.Produce(ctx, connect.NewRequest(req))
	if err != nil {
		err = fromConnect(err)
		// A schema violation stored the valid messages: say where.
		if rs, _, ok := messageErrors(err, len(msgs)); ok {
			return rs, err
		}
		return nil, err
	}
	rs := resp.Msg.GetResults()
	if len(rs) != len(msgs) {
		return nil, fmt.Errorf("produce to %q: broker returned %d results for %d messages", station, len(rs), len(msgs))
	}
	out := make([]Result, len(rs))
	for i, r := range rs {
		out[i] = resultFromProto(r)
	}
	return out, nil
}

// msgBuilder converts Messages to protobuf messages, allocating them in
// chunks rather than one by one.
type msgBuilder struct {
	chunk []junctionv1.Message
}

const msgChunk = 128

func (b *msgBuilder) add(m *Message) *junctionv1.Message {
	if len(b.chunk) == cap(b.chunk) {
		b.chunk = make([]junctionv1.Message, 0, msgChunk)
	}
	b.chunk = b.chunk[:len(b.chunk)+1]
	pm := &b.chunk[len(b.chunk)-1]
	pm.Key, pm.Value, pm.Id = m.Key, m.Value, m.ID
	if len(m.Headers) > 0 {
		hs := make([]junctionv1.Header, len(m.Headers))
		pm.Headers = make([]*junctionv1.Header, len(m.Headers))
		for i, h := range m.Headers {
			hs[i].Key, hs[i].Value = h.Key, h.Value
			pm.Headers[i] = &hs[i]
		}
	}
	return pm
}
