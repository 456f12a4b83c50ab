package protocol

import "time"

// Kind is the direction a connector instance moves records in.
type Kind string

// The kinds a connector can serve.
const (
	// KindSource reads from an external system into a station.
	KindSource Kind = "source"
	// KindSink writes from a station to an external system.
	KindSink Kind = "sink"
)

// Header is one record header. Keys may repeat.
type Header struct {
	Key   string
	Value []byte
}

// Record is a message crossing the connector boundary.
//
// For a sink, Partition and Offset say where the record sits in its station;
// sinks use them to make writes idempotent. A source leaves them zero. A zero
// Timestamp from a source means "let the broker stamp it". The connector owns
// the slices it receives and must not keep those it returns once returned.
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time
	Partition uint32
	Offset    uint64
	// ID, set by a source, names the record in the external system so that
	// reading it again yields the same ID (file and byte offset, object and
	// line). The host uses it to produce each record once even when a crash
	// makes the source read some again. Sinks see it empty.
	ID string
}

// Position is a source's opaque checkpoint: the source returns one with each
// batch and gets the last durable one back in Open after a restart.
type Position []byte

// Batch is what a Source's Read returns.
type Batch struct {
	// Records to append to the station, in order.
	Records []Record
	// Position after this batch, including its rejected records.
	Position Position
	// Rejected are records the source could not parse; the host sends them
	// to the connector's dead-letter station with the reason.
	Rejected []Rejected
}

// Rejected is a record a source read but could not turn into a Record.
type Rejected struct {
	// Record holds the raw bytes, usually in Value.
	Record Record
	// Reason says why, with enough context to find the input (file, line).
	Reason string
}

// SinkInfo tells a sink what it is writing for.
type SinkInfo struct {
	// Connector is the connector's name from its YAML definition.
	Connector string
	// Station is the station the records come from.
	Station string
	// Partitions is the station's partition count.
	Partitions uint32
	// Schema is the schema attached to the station, nil when none: a sink
	// with typed columns derives them from it. When the station's schema
	// changes, the host restarts the sink so that Open sees the new one.
	Schema *Schema
}
