package plugin

import (
	"context"
	"errors"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/broker/seglog"
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
		rec := seglog.Record{Key: msg.Key, Value: msg.Value, Headers: msg.Headers}
		dead = append(dead, rejectedMessage(rec, r.def.Name, broker.DLQReasonSchema, reason))
	}
	r.log.Warn("records rejected by the station's schema go to the dead-letter station",
		"station", sv.Station, "schema", sv.Schema, "records", len(dead), "dead_letter_station", r.def.DLQ)
	return r.deadLetter(ctx, dead)
}
