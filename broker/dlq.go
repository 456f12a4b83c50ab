package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
)

// HeaderReplayOf marks a message replayed from a dead-letter station:
// STATION/PARTITION/OFFSET of the dead letter. An interrupted replay finds
// what it already produced by it.
const HeaderReplayOf = "junction-replay-of"

// DeadLetter is a message of a dead-letter station, with why and where
// from it came.
type DeadLetter struct {
	Partition uint32
	Offset    uint64
	Time      time.Time
	// Reason is DLQReasonMaxDeliveries, DLQReasonSchema, or what the
	// junction-dlq-reason header says.
	Reason string
	// OriginStation is where the message came from; OriginOffset is set
	// when it was stored there (not for a message that failed its schema
	// at produce time).
	OriginStation   string
	HasOriginOffset bool
	OriginPartition uint32
	OriginOffset    uint64
	Deliveries      uint32
	Group           string
	// Error is the validation error, Schema NAME@VERSION, for reason schema.
	Error, Schema string
	Record        seglog.Record
	// Replayed: an earlier replay produced it again.
	Replayed bool
}

// ReplayOptions selects dead letters to replay.
type ReplayOptions struct {
	// Partition and Offset name one message; All replays every message
	// not replayed yet, of every partition.
	Partition uint32
	Offset    uint64
	All       bool
	// To produces to this station instead of each message's origin.
	To string
}

// ReplayFailure is a dead letter a replay could not produce.
type ReplayFailure struct {
	Partition uint32
	Offset    uint64
	Err       error
}

// ReplayResult is what a replay did.
type ReplayResult struct {
	Replayed        uint64
	AlreadyReplayed uint64
	Failed          []ReplayFailure
}

// dlqLocks serialises replays and purges of dead-letter stations.
type dlqLocks struct {
	mu sync.Mutex
	// afterProduce, when set (by tests), runs after a replay batch was
	// produced and before its progress is recorded; an error stops the
	// replay there, as a crash would.
	afterProduce func() error
}

// replayState is a dead-letter partition's replay progress, persisted in
// the metadata store before and after every replayed batch.
type replayState struct {
	// Station identifies the incarnation of the station (its creation
	// time): a re-created station starts afresh.
	Station time.Time `json:"station"`
	// Cursor: every offset below it was replayed or purged.
	Cursor uint64 `json:"cursor"`
	// Done lists replayed offsets at or above Cursor, sorted.
	Done []uint64 `json:"done,omitempty"`
	// Purged: offsets below it were purged.
	Purged uint64 `json:"purged,omitempty"`
	// Pending is a batch being produced: on recovery, the target's
	// messages since Next tell which of Offsets were stored.
	Pending *replayIntent `json:"pending,omitempty"`
}

type replayIntent struct {
	Offsets []uint64 `json:"offsets"`
	Target  string   `json:"target"`
	Next    []uint64 `json:"next"`
}

func (s *replayState) done(off uint64) bool {
	if off < s.Cursor {
		return true
	}
	_, ok := slices.BinarySearch(s.Done, off)
	return ok
}

func (s *replayState) markDone(off uint64) {
	if s.done(off) {
		return
	}
	i, _ := slices.BinarySearch(s.Done, off)
	s.Done = slices.Insert(s.Done, i, off)
	for len(s.Done) > 0 && s.Done[0] == s.Cursor {
		s.Done = s.Done[1:]
		s.Cursor++
	}
}

func replayKey(station string, partition uint32) string {
	return station + "\x00" + strconv.FormatUint(uint64(partition), 10)
}

func (b *Broker) loadReplay(cfg StationConfig, partition uint32) (*replayState, error) {
	v, err := b.replayDB.Replay(replayKey(cfg.Name, partition))
	if err != nil {
		return nil, fmt.Errorf("station %q: load replay state: %w", cfg.Name, err)
	}
	s := &replayState{Station: cfg.CreatedAt}
	if v == nil {
		return s, nil
	}
	var stored replayState
	if err := json.Unmarshal(v, &stored); err != nil {
		return nil, fmt.Errorf("station %q: decode replay state: %w", cfg.Name, err)
	}
	if !stored.Station.Equal(cfg.CreatedAt) {
		return s, nil
	}
	return &stored, nil
}

func (b *Broker) saveReplay(station string, partition uint32, s *replayState) error {
	v, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := b.replayDB.PutReplay(replayKey(station, partition), v); err != nil {
		return fmt.Errorf("station %q: store replay state: %w", station, err)
	}
	return nil
}

// deadLetterOf reads the dead-letter headers of a record.
func deadLetterOf(partition uint32, r seglog.Record) DeadLetter {
	d := DeadLetter{Partition: partition, Offset: r.Offset, Time: time.Unix(0, r.Timestamp).UTC(), Record: r}
	var hasPart bool
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderDLQReason:
			d.Reason = v
		case HeaderDLQStation:
			d.OriginStation = v
		case HeaderDLQGroup:
			d.Group = v
		case HeaderDLQPartition:
			if p, err := strconv.ParseUint(v, 10, 32); err == nil {
				d.OriginPartition, hasPart = uint32(p), true
			}
		case HeaderDLQOffset:
			if o, err := strconv.ParseUint(v, 10, 64); err == nil {
				d.OriginOffset, d.HasOriginOffset = o, true
			}
		case HeaderDLQDeliveries:
			if n, err := strconv.ParseUint(v, 10, 32); err == nil {
				d.Deliveries = uint32(n)
			}
		case HeaderDLQError:
			d.Error = v
		case HeaderDLQSchema:
			d.Schema = v
		}
	}
	d.HasOriginOffset = d.HasOriginOffset && hasPart
	return d
}

// maxListBytes bounds the message bytes one DeadLetters call returns (it
// returns at least one message).
const maxListBytes = 16 << 20

// DeadLetters lists up to limit messages of a dead-letter station from
// offset from of each partition on, skipping purged ones, in partition
// then offset order; fewer when they would take more than 16 MiB.
func (b *Broker) DeadLetters(ctx context.Context, station string, from uint64, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	st, err := b.station(station)
	if err != nil {
		return nil, err
	}
	cfg := st.config()
	var out []DeadLetter
	size := 0
	for p := range st.logs {
		state, err := b.loadReplay(cfg, uint32(p))
		if err != nil {
			return nil, err
		}
		off := max(from, state.Purged)
		_, next := st.logs[p].Bounds()
		for len(out) < limit && off < next {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			recs, err := b.Read(station, uint32(p), off, 1<<20)
			if err != nil {
				return nil, err
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				if r.Offset < off || len(out) == limit {
					continue
				}
				if size += recordBytes(&r); size > maxListBytes && len(out) > 0 {
					limit = len(out)
					continue
				}
				d := deadLetterOf(uint32(p), r)
				d.Replayed = state.done(r.Offset)
				out = append(out, d)
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	return out, nil
}

// replayBatch bounds the messages one replay step produces (and the
// pending record lists).
const replayBatch = 256

// ReplayDeadLetters produces dead letters again to their origin station
// (or opts.To), where they are validated as any produce. Each dead letter
// is replayed at most once: progress is persisted around every batch, and
// a replay interrupted between producing a batch and recording it finds,
// when run again, which of its messages reached the target (by their
// junction-replay-of header) instead of producing them twice. Messages the
// target rejects are reported in Failed and stay replayable.
func (b *Broker) ReplayDeadLetters(ctx context.Context, station string, opts ReplayOptions) (ReplayResult, error) {
	var res ReplayResult
	st, err := b.station(station)
	if err != nil {
		return res, err
	}
	if opts.To != "" {
		if _, err := b.station(opts.To); err != nil {
			return res, fieldErr("to", "%v", err)
		}
	}
	if !opts.All && int(opts.Partition) >= len(st.logs) {
		return res, fieldErr("partition", "station %q has no partition %d", station, opts.Partition)
	}
	b.dlq.mu.Lock()
	defer b.dlq.mu.Unlock()
	cfg := st.config()
	for p := range st.logs {
		if !opts.All && uint32(p) != opts.Partition {
			continue
		}
		if err := b.replayPartition(ctx, st, cfg, uint32(p), opts, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (b *Broker) replayPartition(ctx context.Context, st *station, cfg StationConfig, p uint32, opts ReplayOptions, res *ReplayResult) error {
	state, err := b.loadReplay(cfg, p)
	if err != nil {
		return err
	}
	if state.Pending != nil {
		if err := b.recoverReplay(st.name, p, state); err != nil {
			return err
		}
	}
	start, to := st.logs[p].Bounds()
	from := max(state.Cursor, state.Purged, start)
	if !opts.All {
		if opts.Offset < max(state.Purged, start) || opts.Offset >= to {
			return fieldErr("offset", "station %q partition %d has no message at offset %d (it holds %d to %d)", st.name, p, opts.Offset, max(state.Purged, start), to)
		}
		if state.done(opts.Offset) {
			res.AlreadyReplayed++
			return nil
		}
		from, to = opts.Offset, opts.Offset+1
	} else {
		if lo := max(state.Purged, start); state.Cursor > lo {
			res.AlreadyReplayed += state.Cursor - lo
		}
		res.AlreadyReplayed += uint64(len(state.Done))
	}
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := b.Read(st.name, p, from, 1<<20)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		from = recs[len(recs)-1].Offset + 1
		var batch []seglog.Record
		for _, r := range recs {
			if r.Offset < to && !state.done(r.Offset) {
				batch = append(batch, r)
			}
		}
		for len(batch) > 0 {
			// One produce per run of messages bound for the same station.
			target := replayTarget(batch[0], opts.To)
			n := 1
			for n < len(batch) && n < replayBatch && replayTarget(batch[n], opts.To) == target {
				n++
			}
			if err := b.replayRun(ctx, st.name, p, state, batch[:n], target, res); err != nil {
				return err
			}
			batch = batch[n:]
		}
	}
	return nil
}

func replayTarget(r seglog.Record, to string) string {
	if to != "" {
		return to
	}
	for _, h := range r.Headers {
		if h.Key == HeaderDLQStation {
			return string(h.Value)
		}
	}
	return ""
}

// replayRun produces recs (dead letters of partition p) to target and
// records the outcome.
func (b *Broker) replayRun(ctx context.Context, station string, p uint32, state *replayState, recs []seglog.Record, target string, res *ReplayResult) error {
	fail := func(err error) {
		for _, r := range recs {
			res.Failed = append(res.Failed, ReplayFailure{Partition: p, Offset: r.Offset, Err: err})
		}
	}
	if target == "" {
		fail(errors.New("the message names no origin station; replay it with --to STATION"))
		return nil
	}
	next, err := b.NextOffsets(target)
	if err != nil {
		fail(err)
		return nil
	}
	intent := &replayIntent{Target: target, Next: next}
	msgs := make([]Message, len(recs))
	for i, r := range recs {
		intent.Offsets = append(intent.Offsets, r.Offset)
		hs := make([]seglog.Header, 0, len(r.Headers)+1)
		for _, h := range r.Headers {
			if !strings.HasPrefix(h.Key, "junction-dlq-") && h.Key != HeaderSchema && h.Key != HeaderReplayOf {
				hs = append(hs, h)
			}
		}
		hs = append(hs, seglog.Header{Key: HeaderReplayOf, Value: []byte(replayOf(station, p, r.Offset))})
		msgs[i] = Message{Key: r.Key, Value: r.Value, Headers: hs}
	}
	state.Pending = intent
	if err := b.saveReplay(station, p, state); err != nil {
		return err
	}
	results, err := b.Produce(ctx, target, msgs)
	var sv *SchemaViolationError
	switch {
	case errors.As(err, &sv):
		rejected := make(map[int]InvalidMessage, len(sv.Invalid))
		for _, m := range sv.Invalid {
			rejected[m.Index] = m
		}
		for i, r := range recs {
			if m, ok := rejected[i]; ok {
				res.Failed = append(res.Failed, ReplayFailure{Partition: p, Offset: r.Offset,
					Err: fmt.Errorf("%s rejects it: does not match schema %s: at %s: %s: %s", target, sv.Schema, orRoot(m.Path), m.Rule, m.Reason)})
				continue
			}
			state.markDone(r.Offset)
			res.Replayed++
		}
	case err != nil:
		// Nothing recorded: the next replay recovers from Pending.
		return fmt.Errorf("replay to %q: %w", target, err)
	default:
		for i, r := range recs {
			state.markDone(r.Offset)
			res.Replayed++
			if results[i].DeadLettered {
				res.Failed = append(res.Failed, ReplayFailure{Partition: p, Offset: r.Offset,
					Err: fmt.Errorf("%s still finds it invalid and dead-lettered it again", target)})
			}
		}
	}
	if hook := b.dlq.afterProduce; hook != nil {
		if err := hook(); err != nil {
			return err
		}
	}
	state.Pending = nil
	return b.saveReplay(station, p, state)
}

func orRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func replayOf(station string, p uint32, off uint64) string {
	return station + "/" + strconv.FormatUint(uint64(p), 10) + "/" + strconv.FormatUint(off, 10)
}

// recoverReplay settles a batch whose produce may or may not have
// happened: the target's messages since the batch's start say which of
// its dead letters were stored.
func (b *Broker) recoverReplay(station string, p uint32, state *replayState) error {
	in := state.Pending
	want := make(map[string]uint64, len(in.Offsets))
	for _, off := range in.Offsets {
		want[replayOf(station, p, off)] = off
	}
	next, err := b.NextOffsets(in.Target)
	if err != nil && !errors.Is(err, ErrStationNotFound) {
		return err
	}
	for tp := range next {
		off := uint64(0)
		if tp < len(in.Next) {
			off = in.Next[tp]
		}
		for off < next[tp] && len(want) > 0 {
			recs, err := b.Read(in.Target, uint32(tp), off, 1<<20)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				for _, h := range r.Headers {
					if h.Key != HeaderReplayOf {
						continue
					}
					if o, ok := want[string(h.Value)]; ok {
						state.markDone(o)
						delete(want, string(h.Value))
					}
				}
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	state.Pending = nil
	return b.saveReplay(station, p, state)
}

// PurgeDeadLetters drops every message now in a dead-letter station: they
// no longer list or replay, and the segments holding only them are
// deleted (the active segment's bytes go with retention). It returns how
// many messages were dropped.
func (b *Broker) PurgeDeadLetters(ctx context.Context, station string) (uint64, error) {
	st, err := b.station(station)
	if err != nil {
		return 0, err
	}
	b.dlq.mu.Lock()
	defer b.dlq.mu.Unlock()
	cfg := st.config()
	var n uint64
	for p, l := range st.logs {
		state, err := b.loadReplay(cfg, uint32(p))
		if err != nil {
			return n, err
		}
		start, next := l.Bounds()
		from := max(state.Purged, start)
		if next > from {
			n += next - from
		}
		state.Purged, state.Cursor, state.Done, state.Pending = next, max(state.Cursor, next), nil, nil
		if err := b.saveReplay(station, uint32(p), state); err != nil {
			return n, err
		}
		if _, err := l.Enforce(b.now(), Retention{Ack: true}, next); err != nil {
			b.log.Warn("purge dead letters: delete segments", "station", station, "partition", p, "err", err)
		}
	}
	b.log.Info("dead letters purged", "station", station, "messages", n)
	return n, nil
}
