package broker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The dead-letter policy, one for the API, the CLI and the connector host:
// a station may name a dead-letter station that does not exist yet; it is
// created on the first dead letter with the origin's partitions, storage,
// fsync and retention (not the origin's own dead-letter station). A
// station that is some station's dead-letter station is not deleted
// without force. When a dead letter cannot be stored at all, the origin
// says so once (log, StationStats.DeadLetterError, metrics) until one is
// stored again, instead of once per retry.

// DeadLetter appends msgs to the station dlq on behalf of origin, creating
// dlq as the policy above says when it does not exist. It returns once
// they are durable.
func (b *Broker) DeadLetter(ctx context.Context, origin, dlq string, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	st, err := b.station(origin)
	if err != nil {
		return err
	}
	err = b.deadLetter(ctx, st, dlq, msgs)
	st.setDeadLetterError(err, dlq)
	return err
}

func (b *Broker) deadLetter(ctx context.Context, origin *station, dlq string, msgs []Message) error {
	_, err := b.Produce(ctx, dlq, msgs)
	if !errors.Is(err, ErrStationNotFound) {
		return err
	}
	if err := b.createDeadLetterStation(ctx, origin, dlq); err != nil {
		return err
	}
	_, err = b.Produce(ctx, dlq, msgs)
	return err
}

// createDeadLetterStation creates the dead-letter station dlq of origin
// like its origin, as the policy says; one that exists meanwhile is fine.
func (b *Broker) createDeadLetterStation(ctx context.Context, origin *station, dlq string) error {
	src := origin.config()
	cfg := StationConfig{
		Name:       dlq,
		Partitions: src.Partitions,
		Storage:    src.Storage,
		Fsync:      src.Fsync,
		Retention:  src.Retention,
	}
	if _, err := b.CreateStation(ctx, cfg); err != nil {
		if errors.Is(err, ErrStationExists) {
			return nil
		}
		return fmt.Errorf("create dead-letter station %q for %q: %w", dlq, origin.name, err)
	}
	b.log.Info("dead-letter station created on demand", "station", dlq, "for", origin.name)
	return nil
}

// setDeadLetterError records whether the last dead letter of st failed,
// logging only the change, not every retry.
func (st *station) setDeadLetterError(err error, dlq string) {
	if err == nil {
		if st.dlqErr.Swap(nil) != nil {
			st.b.log.Info("dead letters are stored again", "station", st.name, "dead_letter_station", dlq)
			st.m.deadLetterFailing.Set(0)
		}
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) {
		return
	}
	msg := fmt.Sprintf("dead-letter station %q: %v", dlq, err)
	if prev := st.dlqErr.Swap(&msg); prev == nil {
		st.b.log.Error("messages cannot be dead-lettered; they stay pending and are retried", "station", st.name, "dead_letter_station", dlq, "err", err)
		st.m.deadLetterFailing.Set(1)
	}
}

// deadLetterUsers returns the stations that name name as their dead-letter
// station, sorted.
func (b *Broker) deadLetterUsers(name string) []string {
	var out []string
	for _, st := range b.stationList() {
		if st.config().DeadLetterStation == name {
			out = append(out, st.name)
		}
	}
	return out
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
