package client

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// DeadLetter is a message of a dead-letter station, with why and where
// from it came.
type DeadLetter struct {
	Partition int
	Offset    uint64
	Time      time.Time
	// Reason is "max_deliveries" or "schema".
	Reason        string
	OriginStation string
	// HasOriginOffset: the message was stored on its origin, at
	// OriginPartition and OriginOffset (not so for one that failed its
	// schema at produce time).
	HasOriginOffset bool
	OriginPartition int
	OriginOffset    uint64
	Deliveries      int
	Group           string
	// Error is the validation error and Schema the NAME@VERSION it failed,
	// for reason "schema".
	Error, Schema string
	Key, Value    []byte
	Headers       []Header
	// Replayed: an earlier replay produced it again.
	Replayed bool
}

// ReplayOptions selects dead letters to replay: the one at Offset (of
// Partition), or All not replayed yet.
type ReplayOptions struct {
	Partition int
	Offset    uint64
	All       bool
	// To produces to this station instead of each message's origin.
	To string
}

// ReplayFailure is a dead letter a replay could not produce; it stays in
// the dead-letter station.
type ReplayFailure struct {
	Partition int
	Offset    uint64
	Error     string
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	Replayed        uint64
	AlreadyReplayed uint64
	Failed          []ReplayFailure
}

// DeadLetters lists up to limit messages (0: 100) of a dead-letter
// station from offset from of each partition on.
func (c *Client) DeadLetters(ctx context.Context, station string, from uint64, limit int) ([]DeadLetter, error) {
	if limit < 0 || limit > 10000 {
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "limit", Message: fmt.Sprintf("limit must be between 0 and 10000, got %d", limit)}
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.deadLetter.ListDeadLetters(ctx, connect.NewRequest(&junctionv1.ListDeadLettersRequest{Station: station, FromOffset: from, Limit: uint32(limit)}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]DeadLetter, len(resp.Msg.GetMessages()))
	for i, m := range resp.Msg.GetMessages() {
		out[i] = DeadLetter{
			Partition: int(m.GetPartition()), Offset: m.GetOffset(), Time: m.GetTimestamp().AsTime(), Reason: m.GetReason(),
			OriginStation: m.GetOriginStation(), HasOriginOffset: m.GetHasOriginOffset(), OriginPartition: int(m.GetOriginPartition()),
			OriginOffset: m.GetOriginOffset(), Deliveries: int(m.GetDeliveries()), Group: m.GetGroup(), Error: m.GetError(),
			Schema: m.GetSchema(), Key: m.GetKey(), Value: m.GetValue(), Replayed: m.GetReplayed(),
		}
		for _, h := range m.GetHeaders() {
			out[i].Headers = append(out[i].Headers, Header{Key: h.GetKey(), Value: h.GetValue()})
		}
	}
	return out, nil
}

// ReplayDeadLetters produces dead letters again to their origin (or
// opts.To), validated as any produce. Each is replayed at most once, even
// when a replay is interrupted and run again.
func (c *Client) ReplayDeadLetters(ctx context.Context, station string, opts ReplayOptions) (*ReplayResult, error) {
	if opts.Partition < 0 {
		return nil, &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: "partition", Message: "partition must not be negative"}
	}
	req := &junctionv1.ReplayDeadLettersRequest{Station: station, Partition: uint32(opts.Partition), To: opts.To}
	if opts.All {
		req.Selection = &junctionv1.ReplayDeadLettersRequest_All{All: true}
	} else {
		req.Selection = &junctionv1.ReplayDeadLettersRequest_Offset{Offset: opts.Offset}
	}
	// A large replay takes a while: no request timeout beyond ctx's.
	resp, err := c.deadLetter.ReplayDeadLetters(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, fromConnect(err)
	}
	res := &ReplayResult{Replayed: resp.Msg.GetReplayed(), AlreadyReplayed: resp.Msg.GetAlreadyReplayed()}
	for _, f := range resp.Msg.GetFailed() {
		res.Failed = append(res.Failed, ReplayFailure{Partition: int(f.GetPartition()), Offset: f.GetOffset(), Error: f.GetError()})
	}
	return res, nil
}

// PurgeDeadLetters drops every message now in a dead-letter station and
// returns how many.
func (c *Client) PurgeDeadLetters(ctx context.Context, station string) (uint64, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.deadLetter.PurgeDeadLetters(ctx, connect.NewRequest(&junctionv1.PurgeDeadLettersRequest{Station: station}))
	if err != nil {
		return 0, fromConnect(err)
	}
	return resp.Msg.GetPurged(), nil
}
