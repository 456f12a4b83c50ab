package meta

// The metadata file serves three jobs, each behind its own small interface
// so that a user of one cannot reach the others, and so that a replicated
// store can later stand in for any of them. *Store implements all three.

// StationStore keeps station records.
type StationStore interface {
	// PutStation stores the record of a station, replacing any previous one.
	PutStation(name string, value []byte) error
	// Stations calls fn for every station record, in name order.
	Stations(fn func(name string, value []byte) error) error
	// DeleteStation removes a station with all its groups and offsets.
	DeleteStation(name string) error
}

// GroupStore keeps consumer groups and their committed offsets.
type GroupStore interface {
	// PutGroup stores the record of a consumer group.
	PutGroup(station, group string, value []byte) error
	// Groups calls fn for every group of station, in name order.
	Groups(station string, fn func(group string, value []byte) error) error
	// DeleteGroup removes a group and its committed offsets.
	DeleteGroup(station, group string) error
	// CommitOffsets stores many committed offsets, and replaces the
	// delivery counts of the groups in deliveries, atomically.
	CommitOffsets(offsets []Offset, deliveries ...Deliveries) error
	// DeliveryCounts returns the delivery counts stored for a group.
	DeliveryCounts(station, group string) ([]DeliveryCount, error)
	// Offsets returns the committed offsets of a group by partition.
	Offsets(station, group string) (map[uint32]uint64, error)
}

// ConnectorStore keeps connector definitions and source checkpoints.
type ConnectorStore interface {
	// PutConnector stores a connector's record.
	PutConnector(name string, value []byte) error
	// Connectors calls fn for every connector record, in name order.
	Connectors(fn func(name string, value []byte) error) error
	// DeleteConnector removes a connector and its checkpoint.
	DeleteConnector(name string) error
	// PutCheckpoint stores a source connector's position.
	PutCheckpoint(name string, position []byte) error
	// Checkpoint returns a source connector's position, nil if it has none.
	Checkpoint(name string) ([]byte, error)
}

var (
	_ StationStore   = (*Store)(nil)
	_ GroupStore     = (*Store)(nil)
	_ ConnectorStore = (*Store)(nil)
)
