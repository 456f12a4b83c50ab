package client

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// Storage says where a station keeps its messages.
type Storage string

// Storage types. The zero value means the broker default (disk).
const (
	StorageDisk   Storage = "disk"
	StorageMemory Storage = "memory"
)

// FsyncPolicy says when a station's messages are flushed to stable storage.
type FsyncPolicy string

// Fsync policies. The zero value means the broker default (always).
const (
	// FsyncAlways acknowledges a produce only after its bytes are fsynced.
	FsyncAlways FsyncPolicy = "always"
	// FsyncInterval fsyncs periodically; acknowledged writes of the last
	// interval can be lost on power loss.
	FsyncInterval FsyncPolicy = "interval"
	// FsyncNever leaves flushing to the operating system.
	FsyncNever FsyncPolicy = "never"
)

// Retention says when a station's old messages are deleted (by whole
// segments). Zero limits mean no limit.
type Retention struct {
	MaxAge      time.Duration
	MaxBytes    int64
	MaxMessages int64
	// Ack deletes messages once every consumer group has acknowledged them.
	Ack bool
}

// StationConfig is a station's settings. Zero fields take the broker
// defaults when creating a station.
type StationConfig struct {
	// Name: [a-zA-Z0-9._-]{1,128}.
	Name string
	// Partitions; default 1. Cannot change after creation.
	Partitions int
	// Storage; default disk. Cannot change after creation.
	Storage   Storage
	Retention Retention
	Fsync     FsyncPolicy
	// DedupWindow is the window within which a repeated [Message.ID] is
	// dropped as a duplicate. Zero disables deduplication.
	DedupWindow time.Duration
	// DeadLetterStation receives messages that exhausted MaxDeliveries.
	DeadLetterStation string
	// MaxDeliveries after which a message is dead-lettered (or dropped
	// without a dead-letter station). Zero means the broker default.
	MaxDeliveries int
	// MaxMessageBytes is the largest accepted message (key, value and
	// headers). Zero means the broker default.
	MaxMessageBytes int
	// Replicas is how many nodes keep the station. Zero means the default:
	// one on a single node, every voter on a cluster, which is the only
	// other count a cluster accepts today. A [Station] read back carries
	// the effective count.
	Replicas int
}

// Station is a station's settings and statistics.
type Station struct {
	StationConfig
	// Schema is the schema attached to the station, if any.
	Schema    *StationSchema
	CreatedAt time.Time
	Stats     StationStats
}

// StationStats describes a station's stored messages.
type StationStats struct {
	Messages   uint64
	Bytes      int64
	Groups     int
	Partitions []PartitionStats
	// DeadLetterError is set while the station's dead letters cannot be
	// stored, and says why.
	DeadLetterError string
}

// PartitionStats describes one partition of a station.
type PartitionStats struct {
	Partition int
	// StartOffset is the oldest stored offset; NextOffset the offset the
	// next message will get.
	StartOffset, NextOffset uint64
	Bytes                   int64
	Segments                int
	// Damaged lists corrupt or missing ranges awaiting a repair.
	Damaged []DamagedRange
	// Lost lists ranges declared lost by a repair.
	Lost []LostRange
	// HighWaterMark is the offset the next offset never falls below.
	HighWaterMark uint64
}

// StationUpdate names the settings [Client.UpdateStation] changes: nil
// fields are left as they are. Partitions, storage and fsync cannot change.
type StationUpdate struct {
	Retention         *Retention
	DedupWindow       *time.Duration
	DeadLetterStation *string
	MaxDeliveries     *int
	MaxMessageBytes   *int
	// Partitions grows the station to this many partitions (it cannot
	// shrink). Keyed messages produced afterwards may land on another
	// partition than their key's earlier messages.
	Partitions *int
	// Replicas must be a count the broker accepts (see
	// [StationConfig.Replicas]).
	Replicas *int
}

// CreateStation creates a station. It fails with [ErrStationExists] if one
// of that name exists and [ErrInvalidArgument] (naming the field) for a bad
// setting.
func (c *Client) CreateStation(ctx context.Context, cfg StationConfig) (*Station, error) {
	pb, err := stationToProto(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.stations.CreateStation(ctx, connect.NewRequest(&junctionv1.CreateStationRequest{Station: pb}))
	if err != nil {
		return nil, fromConnect(err)
	}
	st := stationFromProto(resp.Msg.GetStation(), nil)
	return &st, nil
}

// Station returns a station's settings and statistics, or
// [ErrStationNotFound].
func (c *Client) Station(ctx context.Context, name string) (*Station, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.stations.GetStation(ctx, connect.NewRequest(&junctionv1.GetStationRequest{Name: name}))
	if err != nil {
		return nil, fromConnect(err)
	}
	st := stationFromProto(resp.Msg.GetStation(), resp.Msg.GetStats())
	return &st, nil
}

// Stations lists every station, sorted by name.
func (c *Client) Stations(ctx context.Context) ([]Station, error) {
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.stations.ListStations(ctx, connect.NewRequest(&junctionv1.ListStationsRequest{}))
	if err != nil {
		return nil, fromConnect(err)
	}
	stats := resp.Msg.GetStats()
	out := make([]Station, 0, len(resp.Msg.GetStations()))
	for i, pb := range resp.Msg.GetStations() {
		var s *junctionv1.StationStats
		if i < len(stats) {
			s = stats[i]
		}
		out = append(out, stationFromProto(pb, s))
	}
	return out, nil
}

// UpdateStation changes the settings set in u and returns the station's new
// settings.
func (c *Client) UpdateStation(ctx context.Context, name string, u StationUpdate) (*Station, error) {
	pb := &junctionv1.Station{Name: name}
	var paths []string
	if u.Retention != nil {
		pb.Retention = retentionToProto(*u.Retention)
		paths = append(paths, "retention")
	}
	if u.DedupWindow != nil {
		pb.DedupWindow = durationpb.New(*u.DedupWindow)
		paths = append(paths, "dedup_window")
	}
	if u.DeadLetterStation != nil {
		pb.DeadLetterStation = *u.DeadLetterStation
		paths = append(paths, "dead_letter_station")
	}
	if u.MaxDeliveries != nil {
		n, err := toUint32("MaxDeliveries", *u.MaxDeliveries)
		if err != nil {
			return nil, err
		}
		pb.MaxDeliveries = n
		paths = append(paths, "max_deliveries")
	}
	if u.MaxMessageBytes != nil {
		n, err := toUint32("MaxMessageBytes", *u.MaxMessageBytes)
		if err != nil {
			return nil, err
		}
		pb.MaxMessageBytes = n
		paths = append(paths, "max_message_bytes")
	}
	if u.Partitions != nil {
		n, err := toUint32("Partitions", *u.Partitions)
		if err != nil {
			return nil, err
		}
		pb.Partitions = n
		paths = append(paths, "partitions")
	}
	if u.Replicas != nil {
		n, err := toUint32("Replicas", *u.Replicas)
		if err != nil {
			return nil, err
		}
		pb.Replicas = n
		paths = append(paths, "replicas")
	}
	if len(paths) == 0 {
		return c.Station(ctx, name)
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	resp, err := c.stations.UpdateStation(ctx, connect.NewRequest(&junctionv1.UpdateStationRequest{
		Station:    pb,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
	}))
	if err != nil {
		return nil, fromConnect(err)
	}
	st := stationFromProto(resp.Msg.GetStation(), nil)
	return &st, nil
}

// DeleteStation deletes a station, its messages and its consumer groups.
func (c *Client) DeleteStation(ctx context.Context, name string, opts ...DeleteOption) error {
	req := &junctionv1.DeleteStationRequest{Name: name}
	for _, o := range opts {
		o(req)
	}
	ctx, cancel := c.unaryCtx(ctx, 0)
	defer cancel()
	_, err := c.stations.DeleteStation(ctx, connect.NewRequest(req))
	return fromConnect(err)
}

// DeleteOption changes how DeleteStation deletes.
type DeleteOption func(*junctionv1.DeleteStationRequest)

// Force deletes a station even when other stations name it as their
// dead-letter station; without it the call fails with ErrStationInUse.
func Force() DeleteOption {
	return func(r *junctionv1.DeleteStationRequest) { r.Force = true }
}

func invalidArg(field, format string, args ...any) error {
	return &Error{Code: connect.CodeInvalidArgument, Reason: "INVALID_ARGUMENT", Field: field,
		Message: field + ": " + fmt.Sprintf(format, args...)}
}

func toUint32(field string, n int) (uint32, error) {
	if n < 0 || int64(n) > int64(^uint32(0)) {
		return 0, invalidArg(field, "out of range: %d", n)
	}
	return uint32(n), nil
}

func stationToProto(cfg StationConfig) (*junctionv1.Station, error) {
	parts, err := toUint32("Partitions", cfg.Partitions)
	if err != nil {
		return nil, err
	}
	maxDel, err := toUint32("MaxDeliveries", cfg.MaxDeliveries)
	if err != nil {
		return nil, err
	}
	maxBytes, err := toUint32("MaxMessageBytes", cfg.MaxMessageBytes)
	if err != nil {
		return nil, err
	}
	replicas, err := toUint32("Replicas", cfg.Replicas)
	if err != nil {
		return nil, err
	}
	pb := &junctionv1.Station{
		Name:              cfg.Name,
		Partitions:        parts,
		Retention:         retentionToProto(cfg.Retention),
		DeadLetterStation: cfg.DeadLetterStation,
		MaxDeliveries:     maxDel,
		MaxMessageBytes:   maxBytes,
		Replicas:          replicas,
	}
	switch cfg.Storage {
	case "":
	case StorageDisk:
		pb.Storage = junctionv1.StorageType_STORAGE_TYPE_DISK
	case StorageMemory:
		pb.Storage = junctionv1.StorageType_STORAGE_TYPE_MEMORY
	default:
		return nil, invalidArg("Storage", "must be disk or memory, got %q", cfg.Storage)
	}
	if pb.Fsync, err = fsyncToProto(cfg.Fsync); err != nil {
		return nil, err
	}
	if cfg.DedupWindow != 0 {
		pb.DedupWindow = durationpb.New(cfg.DedupWindow)
	}
	return pb, nil
}

func fsyncToProto(f FsyncPolicy) (junctionv1.FsyncPolicy, error) {
	switch f {
	case "":
		return junctionv1.FsyncPolicy_FSYNC_POLICY_UNSPECIFIED, nil
	case FsyncAlways:
		return junctionv1.FsyncPolicy_FSYNC_POLICY_ALWAYS, nil
	case FsyncInterval:
		return junctionv1.FsyncPolicy_FSYNC_POLICY_INTERVAL, nil
	case FsyncNever:
		return junctionv1.FsyncPolicy_FSYNC_POLICY_NEVER, nil
	}
	return 0, invalidArg("Fsync", "must be always, interval or never, got %q", f)
}

func retentionToProto(r Retention) *junctionv1.Retention {
	pb := &junctionv1.Retention{MaxBytes: r.MaxBytes, MaxMessages: r.MaxMessages, Ack: r.Ack}
	if r.MaxAge != 0 {
		pb.MaxAge = durationpb.New(r.MaxAge)
	}
	return pb
}

func stationFromProto(pb *junctionv1.Station, stats *junctionv1.StationStats) Station {
	s := Station{StationConfig: StationConfig{
		Name:       pb.GetName(),
		Partitions: int(pb.GetPartitions()),
		Retention: Retention{
			MaxAge:      pb.GetRetention().GetMaxAge().AsDuration(),
			MaxBytes:    pb.GetRetention().GetMaxBytes(),
			MaxMessages: pb.GetRetention().GetMaxMessages(),
			Ack:         pb.GetRetention().GetAck(),
		},
		DedupWindow:       pb.GetDedupWindow().AsDuration(),
		DeadLetterStation: pb.GetDeadLetterStation(),
		MaxDeliveries:     int(pb.GetMaxDeliveries()),
		MaxMessageBytes:   int(pb.GetMaxMessageBytes()),
		Replicas:          int(pb.GetReplicas()),
	}}
	s.Schema = stationSchemaFromProto(pb.GetSchema())
	switch pb.GetStorage() {
	case junctionv1.StorageType_STORAGE_TYPE_DISK:
		s.Storage = StorageDisk
	case junctionv1.StorageType_STORAGE_TYPE_MEMORY:
		s.Storage = StorageMemory
	}
	switch pb.GetFsync() {
	case junctionv1.FsyncPolicy_FSYNC_POLICY_ALWAYS:
		s.Fsync = FsyncAlways
	case junctionv1.FsyncPolicy_FSYNC_POLICY_INTERVAL:
		s.Fsync = FsyncInterval
	case junctionv1.FsyncPolicy_FSYNC_POLICY_NEVER:
		s.Fsync = FsyncNever
	}
	if pb.GetCreatedAt() != nil {
		s.CreatedAt = pb.GetCreatedAt().AsTime()
	}
	if stats != nil {
		s.Stats = StationStats{Messages: stats.GetMessages(), Bytes: stats.GetBytes(), Groups: int(stats.GetGroups()), DeadLetterError: stats.GetDeadLetterError()}
		for _, p := range stats.GetPartitions() {
			ps := PartitionStats{
				Partition:   int(p.GetPartition()),
				StartOffset: p.GetStartOffset(),
				NextOffset:  p.GetNextOffset(),
				Bytes:       p.GetBytes(),
				Segments:    int(p.GetSegments()),
			}
			integrityFromProto(&ps, p)
			s.Stats.Partitions = append(s.Stats.Partitions, ps)
		}
	}
	return s
}
