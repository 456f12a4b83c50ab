package connector

import "github.com/junctionhq/junction/sdk/protocol"

// The values that cross the process boundary are defined by the connector
// protocol (package protocol, which the SDK and the broker's plugin host
// share); this package re-exports them, so a connector imports only
// connector.

// ProtocolVersion is the connector protocol version this SDK speaks. It is
// bumped on any incompatible change to sdk/proto/connector.proto.
const ProtocolVersion = protocol.Version

// DefaultMaxMessageBytes is the largest gRPC message either side accepts
// unless configured otherwise: a Write or a source batch must fit in it.
const DefaultMaxMessageBytes = protocol.DefaultMaxMessageBytes

// Kind is the direction a connector instance moves records in: KindSource
// or KindSink.
type Kind = protocol.Kind

// The kinds a connector can serve.
const (
	// KindSource reads from an external system into a station.
	KindSource = protocol.KindSource
	// KindSink writes from a station to an external system.
	KindSink = protocol.KindSink
)

// Header is one record header. Keys may repeat.
type Header = protocol.Header

// Record is a message crossing the connector boundary: Key, Value,
// Headers, Timestamp, and for a sink the Partition and Offset it sits at in
// its station (sinks use them to make writes idempotent), for a source an
// ID naming it in the external system. A source leaves Partition and Offset
// zero; a zero Timestamp from a source means "let the broker stamp it". The
// connector owns the slices it receives and must not keep those it returns
// once returned.
type Record = protocol.Record

// Position is a source's opaque checkpoint: the source returns one with each
// batch and gets the last durable one back in Open after a restart.
type Position = protocol.Position

// Batch is what a Source's Read returns: Records to append to the station
// in order, the Position after them (including rejected records), and the
// Rejected records the host sends to the dead-letter station.
type Batch = protocol.Batch

// Rejected is a record a source read but could not turn into a Record: the
// raw bytes, usually in Record.Value, and the Reason, with enough context
// to find the input (file, line).
type Rejected = protocol.Rejected

// SinkInfo tells a sink what it is writing for: the connector's name from
// its YAML definition, the station the records come from and the
// station's partition count.
type SinkInfo = protocol.SinkInfo

// FieldType is the type of a configuration field.
type FieldType = protocol.FieldType

// The field types a config struct can use, with the Go types they come from.
const (
	TypeString     = protocol.TypeString     // string
	TypeInt        = protocol.TypeInt        // int, int8..int64, uint..uint64
	TypeFloat      = protocol.TypeFloat      // float32, float64
	TypeBool       = protocol.TypeBool       // bool
	TypeDuration   = protocol.TypeDuration   // time.Duration, written as "5s"
	TypeSize       = protocol.TypeSize       // connector.Size, written as "64MiB"
	TypeStringList = protocol.TypeStringList // []string
)

// Field declares one configuration field, as generated from a config
// struct.
type Field = protocol.Field

// Spec describes a connector plugin and its configuration; Definition.Spec
// builds it and Spec.Validate checks it.
type Spec = protocol.Spec

// Sentinel errors. Test for them with errors.Is; they survive the process
// boundary.
var (
	// ErrFatal means retrying cannot help (bad credentials, missing bucket):
	// the host stops the connector and reports the error.
	ErrFatal = protocol.ErrFatal
	// ErrRetryable means the call may succeed if tried again after the
	// host's own backoff.
	ErrRetryable = protocol.ErrRetryable
	// ErrConfig means the configuration is invalid. FieldErrors match it.
	ErrConfig = protocol.ErrConfig
	// ErrUnimplemented is returned by methods of UnimplementedSink and
	// UnimplementedSource, and for a kind the plugin does not serve.
	ErrUnimplemented = protocol.ErrUnimplemented
)

// BackoffError asks the host to retry after Wait, for example when the
// destination throttles. Find it with errors.As.
type BackoffError = protocol.BackoffError

// FieldError is a problem with one configuration field: its dotted path
// (empty when the problem is not about a single field) and a message
// without the field name. It matches ErrConfig.
type FieldError = protocol.FieldError

// FieldErrors are all the problems with a configuration. A config's
// Validate method or a factory may return them to name fields.
type FieldErrors = protocol.FieldErrors

// BatchError is returned by Sink.Write when some records can never be
// written (bad data); Failed maps the index of a record in the Write call
// to its error. Every record not in Failed is durable. The host sends the
// failed ones to the connector's dead-letter station and moves on.
type BatchError = protocol.BatchError
