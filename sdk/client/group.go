package client

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// StartPosition says where a new consumer group starts reading, or where
// [Client.ResetGroupOffset] moves a group. The zero value means the broker
// default (earliest).
type StartPosition struct {
	kind   startKind
	offset uint64
	time   time.Time
}

type startKind uint8

const (
	startDefault startKind = iota
	startEarliest
	startLatest
	startOffset
	startTime
)

var (
	// Earliest starts at the oldest stored message.
	Earliest = StartPosition{kind: startEarliest}
	// Latest starts after the newest message: only messages produced from
	// now on are delivered.
	Latest = StartPosition{kind: startLatest}
)

// AtOffset starts at offset n in every partition.
func AtOffset(n uint64) StartPosition { return StartPosition{kind: startOffset, offset: n} }

// AtTime starts at the first message at or after t in every partition.
func AtTime(t time.Time) StartPosition { return StartPosition{kind: startTime, time: t} }

// ParseStartPosition parses "earliest", "latest", an offset such as "42",
// or an RFC 3339 time such as "2024-05-01T12:00:00Z".
func ParseStartPosition(s string) (StartPosition, error) {
	switch strings.ToLower(s) {
	case "earliest":
		return Earliest, nil
	case "latest":
		return Latest, nil
	}
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return AtOffset(n), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return AtTime(t), nil
	}
	return StartPosition{}, fmt.Errorf("must be earliest, latest, an offset or an RFC 3339 time, got %q", s)
}

// String returns the position in the form ParseStartPosition accepts, or
// "default" for the zero value.
func (p StartPosition) String() string {
	switch p.kind {
	case startEarliest:
		return "earliest"
	case startLatest:
		return "latest"
	case startOffset:
		return strconv.FormatUint(p.offset, 10)
	case startTime:
		return p.time.Format(time.RFC3339Nano)
	}
	return "default"
}

func (p StartPosition) proto() *junctionv1.StartPosition {
	switch p.kind {
	case startEarliest:
		return &junctionv1.StartPosition{Position: &junctionv1.StartPosition_Earliest{Earliest: true}}
	case startLatest:
		return &junctionv1.StartPosition{Position: &junctionv1.StartPosition_Latest{Latest: true}}
	case startOffset:
		return &junctionv1.StartPosition{Position: &junctionv1.StartPosition_Offset{Offset: p.offset}}
	case startTime:
		return &junctionv1.StartPosition{Position: &junctionv1.StartPosition_Time{Time: timestamppb.New(p.time)}}
	}
	return nil
}

// GroupConfig is a consumer group's settings. Zero fields mean the broker
// (or station) defaults.
type GroupConfig struct {
	// AckDeadline is the time a member has to ack a delivery before it is
	// redelivered.
	AckDeadline time.Duration
	// MaxDeliveries after which a message is dead-lettered.
	MaxDeliveries int
	// MaxAckPending is the most deliveries awaiting ack at once; pulls wait
	// when it is reached.
	MaxAckPending int
}

func (g GroupConfig) proto() (*junctionv1.GroupConfig, error) {
	maxDel, err := toUint32("MaxDeliveries", g.MaxDeliveries)
	if err != nil {
		return nil, err
	}
	maxPend, err := toUint32("MaxAckPending", g.MaxAckPending)
	if err != nil {
		return nil, err
	}
	if g.AckDeadline < 0 {
		return nil, invalidArg("AckDeadline", "must not be negative, got %v", g.AckDeadline)
	}
	if g.AckDeadline == 0 && maxDel == 0 && maxPend == 0 {
		return nil, nil
	}
	pb := &junctionv1.GroupConfig{MaxDeliveries: maxDel, MaxAckPending: maxPend}
	if g.AckDeadline > 0 {
		pb.AckDeadline = durationpb.New(g.AckDeadline)
	}
	return pb, nil
}

// Group describes a consumer group.
type Group struct {
	Station, Name string
	Config        GroupConfig
	// Lag is the number of messages not yet acknowledged, over all
	// partitions; Pending the deliveries awaiting ack.
	Lag          uint64
	Pending      int
	DeadLettered uint64
	// Redelivered counts redeliveries since the broker started.
	Redelivered uint64
	CreatedAt   time.Time
	Partitions  []PartitionLag
}

// PartitionLag is a group's position in one partition.
type PartitionLag struct {
	Partition int
	// CommittedOffset is the lowest offset not yet acknowledged.
	CommittedOffset uint64
	NextOffset      uint64
	Lag             uint64
	Pending         int
}

func groupFromProto(pb *junctionv1.Group) *Group {
	g := &Group{
		Station: pb.GetStation(),
		Name:    pb.GetName(),
		Config: GroupConfig{
			AckDeadline:   pb.GetConfig().GetAckDeadline().AsDuration(),
			MaxDeliveries: int(pb.GetConfig().GetMaxDeliveries()),
			MaxAckPending: int(pb.GetConfig().GetMaxAckPending()),
		},
		Lag:          pb.GetLag(),
		Pending:      int(pb.GetPending()),
		DeadLettered: pb.GetDeadLettered(),
		Redelivered:  pb.GetRedelivered(),
	}
	if pb.GetCreatedAt() != nil {
		g.CreatedAt = pb.GetCreatedAt().AsTime()
	}
	for _, p := range pb.GetPartitions() {
		g.Partitions = append(g.Partitions, PartitionLag{
			Partition:       int(p.GetPartition()),
			CommittedOffset: p.GetCommittedOffset(),
			NextOffset:      p.GetNextOffset(),
			Lag:             p.GetLag(),
			Pending:         int(p.GetPending()),
		})
	}
	return g
}

// CreateGroup creates a consumer group explicitly, starting at start.
// Pulling also creates a group, so this is only needed to fix a group's
// start before the first pull. It fails with [ErrGroupExists] if the group
// exists.
func (c *Client) CreateGroup(ctx context.Context, station, group string, start StartPosition, cfg GroupConfig) (*Group, error) {
	gc, err := cfg.proto()
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.groups.CreateGroup(ctx, connect.NewRequest(&junctionv1.CreateGroupRequest{
		Station: station, Group: group, Start: start.proto(), Config: gc,
	}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return groupFromProto(resp.Msg.GetGroup()), nil
}

// Groups lists the consumer groups of a station.
func (c *Client) Groups(ctx context.Context, station string) ([]*Group, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.groups.ListGroups(ctx, connect.NewRequest(&junctionv1.ListGroupsRequest{Station: station}))
	if err != nil {
		return nil, fromConnect(err)
	}
	out := make([]*Group, 0, len(resp.Msg.GetGroups()))
	for _, g := range resp.Msg.GetGroups() {
		out = append(out, groupFromProto(g))
	}
	return out, nil
}

// Group returns a group's settings, committed offsets and lag, or
// [ErrGroupNotFound].
func (c *Client) Group(ctx context.Context, station, group string) (*Group, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.groups.DescribeGroup(ctx, connect.NewRequest(&junctionv1.DescribeGroupRequest{Station: station, Group: group}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return groupFromProto(resp.Msg.GetGroup()), nil
}

// DeleteGroup deletes a consumer group and its committed offsets.
func (c *Client) DeleteGroup(ctx context.Context, station, group string) error {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.groups.DeleteGroup(ctx, connect.NewRequest(&junctionv1.DeleteGroupRequest{Station: station, Group: group}))
	return fromConnect(err)
}

// ResetGroupOffset moves every partition of a group to start. Deliveries
// pending acknowledgement are forgotten.
func (c *Client) ResetGroupOffset(ctx context.Context, station, group string, start StartPosition) (*Group, error) {
	if start.kind == startDefault {
		return nil, invalidArg("start", "a start position is required")
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.groups.ResetGroupOffset(ctx, connect.NewRequest(&junctionv1.ResetGroupOffsetRequest{
		Station: station, Group: group, Start: start.proto(),
	}))
	if err != nil {
		return nil, fromConnect(err)
	}
	return groupFromProto(resp.Msg.GetGroup()), nil
}
