package connector

import (
	"context"
	"time"
)

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

// Sink writes records to an external system.
//
// The host never calls the methods of one Sink concurrently. Every method
// that blocks takes a ctx; when it is done, return promptly with ctx.Err()
// (or an error wrapping it).
type Sink interface {
	// Open prepares the sink. It returns, per partition, the next offset the
	// destination already durably holds (last written offset + 1), or nil
	// when the sink cannot know; the host then resumes each listed partition
	// from that offset instead of its committed one, which is how a sink
	// gets exactly-once delivery.
	Open(ctx context.Context, info SinkInfo) (durable map[uint32]uint64, err error)
	// Write returns only once the records are durable in the destination.
	// Records whose data can never be written are reported with a
	// *BatchError; all the other records of the batch must then be durable.
	// Any other error means the batch may be retried as a whole, so Write
	// must tolerate seeing records again (replays after a crash, too).
	// The sink must not keep records after Write returns.
	Write(ctx context.Context, records []Record) error
	// Teardown releases everything. It is called once, after the last Write,
	// also when Open failed.
	Teardown(ctx context.Context) error
}

// Source reads records from an external system.
//
// The host never calls the methods of one Source concurrently, except Ack,
// which may run concurrently with Read.
type Source interface {
	// Open prepares reading after pos, the position of the last batch the
	// station durably holds; nil or empty means from the beginning.
	Open(ctx context.Context, pos Position) error
	// Read blocks until records are available or ctx is done, and returns
	// them with the position after them. Batches must come in order and a
	// position must cover everything before it. The host may read ahead of
	// Ack.
	Read(ctx context.Context) (Batch, error)
	// Ack tells the source that the batches with these positions (in order)
	// are durably in the station, so it may forget or delete what they
	// cover. It may be called concurrently with Read.
	Ack(ctx context.Context, positions []Position) error
	// Teardown releases everything. It is called once, after the last Read,
	// also when Open failed.
	Teardown(ctx context.Context) error
}

// UnimplementedSink is embedded in a Sink implementation so that methods
// added to Sink in later versions of the SDK have a default. Its methods
// return ErrUnimplemented, except Teardown, which does nothing.
type UnimplementedSink struct{}

// Open returns ErrUnimplemented.
func (UnimplementedSink) Open(context.Context, SinkInfo) (map[uint32]uint64, error) {
	return nil, ErrUnimplemented
}

// Write returns ErrUnimplemented.
func (UnimplementedSink) Write(context.Context, []Record) error { return ErrUnimplemented }

// Teardown does nothing.
func (UnimplementedSink) Teardown(context.Context) error { return nil }

// UnimplementedSource is embedded in a Source implementation so that methods
// added to Source in later versions of the SDK have a default. Its methods
// return ErrUnimplemented, except Ack and Teardown, which do nothing.
type UnimplementedSource struct{}

// Open returns ErrUnimplemented.
func (UnimplementedSource) Open(context.Context, Position) error { return ErrUnimplemented }

// Read returns ErrUnimplemented.
func (UnimplementedSource) Read(context.Context) (Batch, error) { return Batch{}, ErrUnimplemented }

// Ack does nothing.
func (UnimplementedSource) Ack(context.Context, []Position) error { return nil }

// Teardown does nothing.
func (UnimplementedSource) Teardown(context.Context) error { return nil }

// Definition describes a connector plugin: what Serve serves.
type Definition struct {
	// Name is the catalog name: lower case letters, digits and dashes.
	Name string
	// Version is the plugin's semantic version, such as "1.2.0".
	Version string
	// Description is one or two sentences for the catalog.
	Description string
	// Author, Homepage and License are optional catalog metadata.
	Author, Homepage, License string
	// Sink builds the sink from its config; nil if the plugin has no sink.
	Sink *SinkFactory
	// Source builds the source from its config; nil if it has no source.
	Source *SourceFactory
}

// Spec returns the connector's spec, built from the definition and its
// config declarations.
func (d Definition) Spec() Spec {
	s := Spec{
		Name:            d.Name,
		Version:         d.Version,
		Description:     d.Description,
		Author:          d.Author,
		Homepage:        d.Homepage,
		License:         d.License,
		ProtocolVersion: ProtocolVersion,
	}
	switch {
	case d.Source != nil && d.Sink != nil:
		s.Kinds = []Kind{KindSource, KindSink}
		s.Fields = mergeFields(d.Source.cfg.specFields(), d.Sink.cfg.specFields())
	case d.Source != nil:
		s.Kinds = []Kind{KindSource}
		s.Fields = d.Source.cfg.specFields()
	case d.Sink != nil:
		s.Kinds = []Kind{KindSink}
		s.Fields = d.Sink.cfg.specFields()
	}
	return s
}

// mergeFields lists the fields of both kinds, tagging each with its kind; a
// field declared identically by both applies to all kinds.
func mergeFields(src, snk []Field) []Field {
	inSink := make(map[string]Field, len(snk))
	for _, f := range snk {
		inSink[f.Name] = f
	}
	shared := make(map[string]bool)
	var out []Field
	for _, f := range src {
		if g, ok := inSink[f.Name]; ok && sameField(f, g) {
			shared[f.Name] = true
			out = append(out, f)
			continue
		}
		f.Kinds = []Kind{KindSource}
		out = append(out, f)
	}
	for _, f := range snk {
		if !shared[f.Name] {
			f.Kinds = []Kind{KindSink}
			out = append(out, f)
		}
	}
	return out
}

func sameField(a, b Field) bool {
	if a.Type != b.Type || a.Required != b.Required || a.Default != b.Default ||
		a.Secret != b.Secret || a.Doc != b.Doc || len(a.Allowed) != len(b.Allowed) {
		return false
	}
	for i := range a.Allowed {
		if a.Allowed[i] != b.Allowed[i] {
			return false
		}
	}
	return true
}
