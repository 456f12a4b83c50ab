package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/junctionhq/junction/broker"
	"github.com/junctionhq/junction/sdk/connector"
)

// runSink pumps the connector's station into a sink: pull a batch as
// consumer group connector.<name>, Write it, and ack it only after Write
// returned. It resumes from the offsets the sink says its destination
// holds, else from the group's committed offsets.
func (r *runner) runSink(ctx context.Context, sink connector.Sink) error {
	b, station, group := r.h.b, r.def.Station, GroupName(r.def.Name)
	gcfg := broker.GroupConfig{
		// A sink's failures are the destination's, not the message's: never
		// dead-letter by delivery count, and leave room for a slow Write.
		AckDeadline:   r.def.Timeout + r.def.Batch.MaxWait + 30*time.Second,
		MaxDeliveries: math.MaxUint32,
		MaxAckPending: uint32(min(max(4*r.def.Batch.MaxRecords, broker.DefaultMaxAckPending), 1_000_000)),
	}
	if _, err := b.CreateGroup(ctx, station, group, broker.StartPosition{Kind: broker.StartEarliest}, gcfg); err != nil && !errors.Is(err, broker.ErrGroupExists) {
		return fmt.Errorf("consumer group %s: %w", group, err)
	}
	cfg, _, err := b.Station(station)
	if err != nil {
		return err
	}
	schema, schemaKey, err := r.sinkSchema(ctx)
	if err != nil {
		return err
	}
	var durable map[uint32]uint64
	err = r.call(ctx, "open", func(ctx context.Context) error {
		var err error
		durable, err = sink.Open(ctx, connector.SinkInfo{Connector: r.def.Name, Station: station, Partitions: cfg.Partitions, Schema: schema})
		return err
	})
	if err != nil {
		return err
	}
	// Forget deliveries of a previous run: resume at what is durable.
	gi, err := b.Group(station, group)
	if err != nil {
		return err
	}
	offsets := make(map[uint32]uint64, len(gi.Partitions))
	for p, gp := range gi.Partitions {
		offsets[uint32(p)] = gp.Committed
	}
	for p, off := range durable {
		if _, ok := offsets[p]; ok {
			if off != offsets[p] {
				r.log.Info("resuming from the offset the destination holds", "partition", p, "offset", off, "committed", offsets[p])
			}
			offsets[p] = off
		}
	}
	if err := b.SeekGroup(ctx, station, group, offsets); err != nil {
		return err
	}
	if s, ok := sink.(interface{ SharesMemory() bool }); ok && s.SharesMemory() {
		r.log.Debug("the sink takes record batches through shared memory")
	}
	r.setState(StateRunning)

	// Pull the next batch while the sink writes this one. A sink that takes
	// record batches gets them as the broker stored them; any other gets
	// them decoded, here, off the write path.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan pulled, 1)
	bsink, _ := sink.(batchSink)
	if bsink != nil && !bsink.TakesRecordBatches() {
		bsink = nil
	}
	go func() {
		defer close(next)
		for {
			bt, err := r.pullBatch(ctx, group)
			if err == nil && bt.count > 0 && bsink == nil {
				bt.recs, err = bt.records()
			}
			if err != nil || bt.count == 0 {
				// The writer may have stopped with a batch still queued:
				// never block on it.
				select {
				case next <- pulled{err: err}:
				case <-ctx.Done():
				}
				return
			}
			select {
			case next <- pulled{sinkBatch: bt}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Ack written batches off the write path; every batch Write accepted
	// is acked before runSink returns.
	acks := make(chan []broker.OffsetRange, 2)
	ackErr := make(chan error, 1)
	go func() {
		var err error
		stored := time.Now()
		for ranges := range acks {
			if err == nil {
				// What the sink wrote is acked even when the pump is
				// stopping: the pump cancels ctx before the last acks
				// drain, and on a cluster an ack under a cancelled ctx
				// fails, which would deliver written records again.
				actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
				err = r.h.b.AckRanges(actx, r.def.Station, GroupName(r.def.Name), ranges)
				acancel()
				if err != nil {
					err = fmt.Errorf("ack written records: %w", err)
					cancel()
				}
			}
			if err == nil && time.Since(stored) >= totalsEvery {
				if serr := r.storeSinkTotals(); serr != nil {
					r.log.Warn("counters not stored", "err", serr)
				}
				stored = time.Now()
			}
		}
		if serr := r.storeSinkTotals(); serr != nil {
			r.log.Warn("counters not stored", "err", serr)
		}
		ackErr <- err
	}()
	err = nil
	if osink, ok := sink.(orderedSink); ok && bsink != nil && osink.OrdersWrites() {
		err = r.writeOrdered(ctx, osink, next, schemaKey, acks)
	} else {
		for bt := range next {
			if bt.err != nil || bt.count == 0 {
				err = bt.err
				break
			}
			if r.schemaChanged(ctx, schemaKey) {
				err = errSchemaChanged
				break
			}
			if err = r.writeBatch(ctx, sink, bsink, &bt.sinkBatch, acks); err != nil {
				break
			}
		}
	}
	cancel()
	close(acks)
	if aerr := <-ackErr; aerr != nil {
		return aerr
	}
	return err
}

// ackTimeout bounds one ack of written records, which the pump sends even
// while it stops.
const ackTimeout = 10 * time.Second

// pulled is a batch the sink pump pulled, or why it stopped pulling.
type pulled struct {
	sinkBatch
	err error
}

// writeBatch writes one batch to the sink, as record batches to bsink when
// not nil, else as records, dead-letters the records it rejects, and hands
// the batch's ranges to acks once Write returned.
func (r *runner) writeBatch(ctx context.Context, sink connector.Sink, bsink batchSink, bt *sinkBatch, acks chan<- []broker.OffsetRange) error {
	r.countIn(bt)
	err := r.call(ctx, fmt.Sprintf("write of %d records", bt.count), func(ctx context.Context) error {
		if bsink != nil {
			return bsink.WriteRecordBatches(ctx, bt.batches)
		}
		return sink.Write(ctx, bt.recs)
	})
	return r.written(ctx, bt, err, acks)
}

// written finishes the write of bt that returned err: it dead-letters the
// records the sink rejected and hands the batch's ranges to acks, or
// returns the write's error.
func (r *runner) written(ctx context.Context, bt *sinkBatch, err error, acks chan<- []broker.OffsetRange) error {
	bytes := bt.bytes
	failed := 0
	var be *connector.BatchError
	if errors.As(err, &be) {
		recs := bt.recs
		if recs == nil {
			var derr error
			if recs, derr = bt.records(); derr != nil {
				return derr
			}
		}
		var dead []broker.Message
		for i, ferr := range be.Failed {
			if i < 0 || i >= len(recs) {
				continue
			}
			dead = append(dead, rejectedMessage(toBrokerRecord(recs[i]), r.def.Name, "sink_rejected", ferr.Error()))
			bytes -= recordBytes(recs[i].Key, recs[i].Value)
		}
		if err := r.deadLetter(ctx, dead); err != nil {
			return err
		}
		failed, err = len(dead), nil
	}
	if err != nil {
		return err
	}
	acks <- bt.ranges
	r.total.out.Add(uint64(bt.count - failed))
	r.total.bytesOut.Add(bytes)
	return nil
}

// toBrokerRecord is the broker record rec was decoded from.
func toBrokerRecord(rec connector.Record) broker.Record {
	m := toMessage(rec)
	var ts int64
	if !rec.Timestamp.IsZero() {
		ts = rec.Timestamp.UnixNano()
	}
	return broker.Record{Offset: rec.Offset, Timestamp: ts, Key: m.Key, Value: m.Value, Headers: m.Headers}
}

func toMessage(rec connector.Record) broker.Message {
	m := broker.Message{Key: rec.Key, Value: rec.Value}
	if len(rec.Headers) > 0 {
		m.Headers = make([]broker.Header, len(rec.Headers))
		for i, h := range rec.Headers {
			m.Headers[i] = broker.Header{Key: h.Key, Value: h.Value}
		}
	}
	return m
}

// rejectedMessage is rec on its way to a dead-letter station, with headers
// saying which connector rejected it and why.
func rejectedMessage(rec broker.Record, connectorName, reason, msg string) broker.Message {
	hs := append(rec.Headers[:len(rec.Headers):len(rec.Headers)],
		broker.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		broker.Header{Key: HeaderDLQConnector, Value: []byte(connectorName)},
		broker.Header{Key: HeaderDLQError, Value: []byte(msg)},
	)
	return broker.Message{Key: rec.Key, Value: rec.Value, Headers: hs}
}

// runSource pumps a source into the connector's station: each batch is
// produced (durably, per the station's fsync policy) before its position
// is checkpointed, and only then acked to the source.
func (r *runner) runSource(ctx context.Context, src connector.Source) error {
	b, station := r.h.b, r.def.Station
	cp, err := loadCheckpoint(r.h.store, r.def.Name)
	if err != nil {
		return err
	}
	// Records produced after the checkpoint (the broker died between a
	// produce and its checkpoint) are read again: drop those by their ids.
	again, err := r.producedSince(ctx, cp)
	if err != nil {
		return err
	}
	if err := r.call(ctx, "open", func(ctx context.Context) error { return src.Open(ctx, cp.Position) }); err != nil {
		return err
	}
	r.setState(StateRunning)
	for {
		batch, err := src.Read(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		r.total.in.Add(uint64(len(batch.Records) + len(batch.Rejected)))
		for _, rec := range batch.Records {
			r.total.bytesIn.Add(recordBytes(rec.Key, rec.Value))
		}
		for _, rj := range batch.Rejected {
			r.total.bytesIn.Add(recordBytes(rj.Record.Key, rj.Record.Value))
		}
		msgs := make([]broker.Message, 0, len(batch.Records))
		dropped := 0
		for _, rec := range batch.Records {
			m := toMessage(rec)
			if rec.ID != "" {
				m.ID = r.sourceID(rec.ID)
				if again[m.ID] {
					dropped++
					continue
				}
			}
			msgs = append(msgs, m)
		}
		if again != nil && dropped == 0 && len(batch.Records) > 0 {
			again = nil // past what was produced before the restart
		}
		if len(msgs) > 0 {
			if _, err := b.Produce(ctx, station, msgs); err != nil {
				if err = r.deadLetterInvalid(ctx, msgs, err); err != nil {
					return fmt.Errorf("produce to %s: %w", station, err)
				}
			}
			r.total.out.Add(uint64(len(msgs)))
			for i := range msgs {
				r.total.bytesOut.Add(recordBytes(msgs[i].Key, msgs[i].Value))
			}
		}
		if len(batch.Rejected) > 0 {
			dead := make([]broker.Message, len(batch.Rejected))
			for i, rj := range batch.Rejected {
				m := toMessage(rj.Record)
				dead[i] = rejectedMessage(broker.Record{Key: m.Key, Value: m.Value, Headers: m.Headers}, r.def.Name, "source_rejected", rj.Reason)
			}
			if err := r.deadLetter(ctx, dead); err != nil {
				return err
			}
		}
		if len(batch.Position) == 0 {
			continue
		}
		if err := r.storeCheckpoint(batch.Position); err != nil {
			return err
		}
		if err := r.call(ctx, "ack", func(ctx context.Context) error { return src.Ack(ctx, []connector.Position{batch.Position}) }); err != nil {
			r.log.Warn("source ack failed; continuing (the checkpoint is stored)", "err", err)
		}
	}
}

// checkpoint is what the metadata store keeps for a source: its position,
// and where each partition of its station ended when it was taken, so that
// records produced after it can be found after a restart.
type checkpoint struct {
	Position []byte   `json:"position"`
	Next     []uint64 `json:"next_offsets,omitempty"`
	// Totals are the connector's counters since it was created, stored
	// with its position (a sink stores only these).
	Totals *Counts `json:"totals,omitempty"`
}

func loadCheckpoint(store Store, name string) (checkpoint, error) {
	raw, err := store.Checkpoint(name)
	if err != nil || raw == nil {
		return checkpoint{}, err
	}
	var cp checkpoint
	if err := json.Unmarshal(raw, &cp); err != nil {
		return checkpoint{}, fmt.Errorf("connector %s: decode checkpoint: %w", name, err)
	}
	return cp, nil
}

func (r *runner) storeCheckpoint(pos connector.Position) error {
	next, err := r.h.b.NextOffsets(r.def.Station)
	if err != nil {
		return err
	}
	totals := r.total.load()
	raw, err := json.Marshal(checkpoint{Position: pos, Next: next, Totals: &totals})
	if err != nil {
		return err
	}
	if err := r.h.store.PutCheckpoint(r.def.Name, raw); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// sourceID is the producer message id of a source record: the connector's
// name keeps ids of different sources apart.
func (r *runner) sourceID(id string) string { return "source/" + r.def.Name + "/" + id }

// producedSince returns the ids of this source's records in the station
// after the checkpoint: at most the batch produced but not checkpointed
// when the broker died.
func (r *runner) producedSince(ctx context.Context, cp checkpoint) (map[string]bool, error) {
	if cp.Next == nil {
		return nil, nil
	}
	seen, err := r.h.b.MessageIDs(ctx, r.def.Station, cp.Next, r.sourceID(""))
	if err != nil {
		return nil, fmt.Errorf("look for records produced after the checkpoint: %w", err)
	}
	if len(seen) > 0 {
		r.log.Info("the station already holds records this source will read again; dropping them", "records", len(seen))
	}
	return seen, nil
}
