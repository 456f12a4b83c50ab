package connector

import (
	"context"
)

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
	// The sink must not keep records after Write returns: their keys,
	// values and headers may lie in memory the host fills with the next
	// Write's records. Copy what must outlive the call.
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
	// Env lists the environment variables the connector reads, which a
	// connector definition's env may then set: names (AWS_REGION) or
	// prefixes ending in "*" (AWS_*). The host passes the plugin only
	// these, on top of a clean base environment (PATH), and refuses a
	// definition that sets any other. PATH, HOME, LD_* and the like can
	// never be declared.
	Env []string
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
		Env:             d.Env,
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
		a.Secret != b.Secret || a.Path != b.Path || a.Doc != b.Doc || len(a.Allowed) != len(b.Allowed) {
		return false
	}
	for i := range a.Allowed {
		if a.Allowed[i] != b.Allowed[i] {
			return false
		}
	}
	return true
}
