package plugin

import (
	"context"

	"github.com/junctionhq/junction/broker"
)

// Broker is what the connector host needs of the broker: produce, pull and
// ack as a consumer group, dead-letter, and find what a source already
// produced. *broker.Broker implements it.
type Broker interface {
	// Station returns a station's settings and statistics, or an error
	// matching broker.ErrStationNotFound.
	Station(name string) (broker.StationConfig, broker.StationStats, error)
	// NextOffsets returns the next offset of every partition of a station.
	NextOffsets(station string) ([]uint64, error)
	// Produce appends msgs and returns once they are durable.
	Produce(ctx context.Context, station string, msgs []broker.Message) ([]broker.ProduceResult, error)
	// DeadLetter appends msgs to the dead-letter station dlq of origin,
	// creating it when missing.
	DeadLetter(ctx context.Context, origin, dlq string, msgs []broker.Message) error
	// MessageIDs returns the producer message ids starting with prefix that
	// a station holds from offset from[p] of each partition p on.
	MessageIDs(ctx context.Context, station string, from []uint64, prefix string) (map[string]bool, error)
	// StationSchema returns the schema attached to a station and its
	// version, nil when none; a sink's Open sees it.
	StationSchema(ctx context.Context, station string) (*broker.StationSchema, *broker.SchemaVersion, error)

	// CreateGroup creates a consumer group; broker.ErrGroupExists if it
	// exists.
	CreateGroup(ctx context.Context, station, group string, start broker.StartPosition, cfg broker.GroupConfig) (broker.GroupInfo, error)
	// Group describes a consumer group.
	Group(station, group string) (broker.GroupInfo, error)
	// SeekGroup moves partitions of a group to offsets, forgetting their
	// pending deliveries.
	SeekGroup(ctx context.Context, station, group string, offsets map[uint32]uint64) error
	// PullBatches delivers messages to a member of a group: first
	// deliveries as the record batches the log stores, redeliveries one
	// by one.
	PullBatches(ctx context.Context, station, group string, o broker.PullOptions) ([]broker.Delivery, []broker.PartitionBatches, error)
	// AckRanges acknowledges the deliveries in ranges of offsets.
	AckRanges(ctx context.Context, station, group string, ranges []broker.OffsetRange) error
	// DeleteGroup deletes a consumer group.
	DeleteGroup(ctx context.Context, station, group string) error
}

// Store keeps connector definitions and source checkpoints durably; every
// method that returned nil survives a crash. The broker's
// meta.ConnectorStore implements it.
type Store interface {
	PutConnector(name string, value []byte) error
	Connectors(fn func(name string, value []byte) error) error
	DeleteConnector(name string) error
	PutCheckpoint(name string, position []byte) error
	Checkpoint(name string) ([]byte, error)
}

var _ Broker = (*broker.Broker)(nil)
