package plugin

import (
	"context"
	"errors"
	"strconv"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/connector"
)

// deadLetterInvalid handles a produce error of a source batch: when the
// station's schema rejected some records (the others were stored), those
// go to the connector's dead-letter station with the validation error,
// and the pipeline moves on instead of failing on them forever. Any other
// error is returned as is.
func (r *runner) deadLetterInvalid(ctx context.Context, msgs []broker.Message, err error) error {
	var sv *broker.SchemaViolationError
	if !errors.As(err, &sv) {
		return err
	}
	dead := make([]broker.Message, 0, len(sv.Invalid))
	for _, m := range sv.Invalid {
		if m.Index < 0 || m.Index >= len(msgs) {
			return err
		}
		msg := msgs[m.Index]
		path := m.Path
		if path == "" {
			path = "/"
		}
		reason := "does not match schema " + sv.Schema + ": at " + path + ": " + m.Rule + ": " + m.Reason
		rec := broker.Record{Key: msg.Key, Value: msg.Value, Headers: msg.Headers}
		dead = append(dead, rejectedMessage(rec, r.def.Name, broker.DLQReasonSchema, reason))
	}
	r.log.Warn("records rejected by the station's schema go to the dead-letter station",
		"station", sv.Station, "schema", sv.Schema, "records", len(dead), "dead_letter_station", r.def.DLQ)
	return r.deadLetter(ctx, dead)
}

// errSchemaChanged ends a sink's run when its station's schema changed
// since Open: the supervisor restarts it at once, so that Open sees the
// new schema before any record validated against it is written.
var errSchemaChanged = errors.New("the station's schema changed; reopening the sink")

// sinkSchema returns the station's schema as a sink sees it, and a key
// naming it (NAME@VERSION, "" for none) to compare later.
func (r *runner) sinkSchema(ctx context.Context) (*connector.Schema, string, error) {
	a, v, err := r.h.b.StationSchema(ctx, r.def.Station)
	if err != nil || a == nil {
		return nil, "", err
	}
	s := &connector.Schema{Name: a.Name, Version: v.Version, Type: string(v.Source.Type), Message: v.Source.Message}
	for _, f := range v.Source.Files {
		s.Files = append(s.Files, connector.SchemaFile{Name: f.Name, Content: f.Content})
	}
	return s, a.Name + "@" + strconv.FormatUint(uint64(v.Version), 10), nil
}

// schemaChanged reports whether the station's schema is no longer the one
// named by opened.
func (r *runner) schemaChanged(ctx context.Context, opened string) bool {
	_, key, err := r.sinkSchema(ctx)
	return err == nil && key != opened
}
