package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/junctionhq/junction/broker/record"
	"github.com/junctionhq/junction/broker/seglog"
)

// Header is one message header. Keys may repeat.
type Header = record.Header

// Record is one stored message: offset, timestamp, key, value, headers.
type Record = record.Record

// ErrOffsetOutOfRange is returned by a PartitionLog's Read for an offset
// below the log's start (deleted by retention) or past its end.
var ErrOffsetOutOfRange = errors.New("offset out of range")

// ErrCorrupt is matched by errors from reading offsets a PartitionLog
// found damaged; they stay unreadable until an operator repairs them.
var ErrCorrupt = seglog.ErrCorrupt

// PartitionLog is one partition's durable, ordered log of records: the
// seam between a station (its groups, dedup, retention) and its storage.
// The single-node implementation is the segment log; a replicated log can
// stand behind it without touching consumer groups.
//
// Offsets and timestamps are assigned once, by the log that first appends
// an entry (with its clock), so that every replica of that entry agrees.
// All methods are safe for concurrent use.
type PartitionLog interface {
	// Enqueue queues recs to be appended, in call order, assigning their
	// offsets and stamping zero timestamps, and returns without waiting;
	// Wait on the result returns once they are durable per the log's
	// policy. Neither recs nor the bytes they point to are retained.
	Enqueue(ctx context.Context, recs []Record) (Appending, error)
	// Read returns records from offset from on, about maxBytes of them
	// (at least one when there is one). It fails with an error matching
	// ErrOffsetOutOfRange for an offset below the start. The records are
	// immutable and safe to keep.
	Read(from uint64, maxBytes int) ([]Record, error)
	// OffsetForTime returns the first offset whose timestamp (unix ns) is
	// at or after ts, or the next offset when there is none.
	OffsetForTime(ts int64) (uint64, error)
	// Bounds returns the oldest stored offset and the next offset to be
	// assigned. It is cheap.
	Bounds() (start, next uint64)
	// State describes the log for operators: bounds, size, damage.
	State() LogState
	// Enforce deletes the oldest whole segments per r, never anything at
	// or above floor, and returns how many it deleted.
	Enforce(now time.Time, r Retention, floor uint64) (int, error)
	// Close waits for queued appends and releases the log.
	Close() error
}

// Appending is an append queued by PartitionLog.Enqueue.
type Appending interface {
	// Wait blocks until the records are durable and returns the offset of
	// the first. It must be called exactly once.
	Wait() (base uint64, err error)
}

// LogState describes a partition log.
type LogState struct {
	StartOffset, NextOffset uint64
	Bytes                   int64
	Segments                int
	// Damaged lists ranges of acknowledged records the log found corrupt
	// and serves around until an operator repairs them; empty when intact.
	Damaged []DamagedRange
	// Lost lists ranges a repair declared lost; reads pass over them.
	Lost []LostRange
	// HighWaterMark is the offset below which every offset was once
	// durably written; the next offset never falls below it.
	HighWaterMark uint64
}

// Corrupt reports whether the log has damage awaiting repair.
func (s LogState) Corrupt() bool { return len(s.Damaged) > 0 }

// The integrity reports of a partition log. They are the segment log's,
// the only implementation so far.
type (
	// DamagedRange is a run of offsets a log cannot serve until repaired.
	DamagedRange = seglog.Damage
	// LostRange is a run of offsets a repair declared lost.
	LostRange = seglog.LostRange
	// RepairMode says how a repair settles damage.
	RepairMode = seglog.RepairMode
	// Repaired is a damaged range a repair settled.
	Repaired = seglog.Repaired
)

// Repair modes.
const (
	RepairSkip = seglog.RepairSkip
	RepairCut  = seglog.RepairCut
)

// Repairer is a PartitionLog an operator can verify and repair.
type Repairer interface {
	// Scrub verifies every stored batch at most bytesPerSecond (0: no
	// limit), recording what fails; it returns the bytes verified.
	Scrub(ctx context.Context, bytesPerSecond int64) (int64, error)
	// Repair settles every damaged range as mode says and reports them.
	Repair(ctx context.Context, mode RepairMode) ([]Repaired, error)
}

// Optional powers of a PartitionLog, for later parts of the broker. A log
// that lacks one is used without it.
type (
	// BatchReader hands out stored record batches in their encoded (wire)
	// form, so a consume path can send them without decoding or copying
	// each message.
	BatchReader interface {
		ReadBatches(from uint64, maxBytes int) (batches []byte, next uint64, err error)
	}
	// ReplicaLog appends entries whose offsets and timestamps another log
	// assigned (a replica following its leader). recs must continue the
	// log exactly: recs[0].Offset is the log's next offset.
	ReplicaLog interface {
		AppendAssigned(ctx context.Context, recs []Record) error
	}
)

// segLog is the segment log behind the PartitionLog seam.
type segLog struct{ l *seglog.Log }

var (
	_ PartitionLog = segLog{}
	_ Repairer     = segLog{}
	_ ReplicaLog   = segLog{}
)

// AppendAssigned appends recs, which carry their offsets and timestamps,
// and returns once they are durable. It fails without appending when
// recs[0].Offset is not the log's next offset.
func (s segLog) AppendAssigned(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	if next := s.l.NextOffset(); recs[0].Offset != next {
		return fmt.Errorf("append at offset %d: the log's next offset is %d", recs[0].Offset, next)
	}
	p, err := s.l.Enqueue(ctx, recs)
	if err != nil {
		return err
	}
	base, err := p.Wait()
	if err != nil {
		return err
	}
	if base != recs[0].Offset {
		return fmt.Errorf("appended at offset %d, not at %d: another writer appended meanwhile", base, recs[0].Offset)
	}
	return nil
}

func (s segLog) Enqueue(ctx context.Context, recs []Record) (Appending, error) {
	p, err := s.l.Enqueue(ctx, recs)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s segLog) Read(from uint64, maxBytes int) ([]Record, error) {
	recs, err := s.l.Read(from, maxBytes)
	if errors.Is(err, seglog.ErrOffsetOutOfRange) {
		return nil, fmt.Errorf("%w: %w", ErrOffsetOutOfRange, err)
	}
	return recs, err
}

func (s segLog) OffsetForTime(ts int64) (uint64, error) { return s.l.OffsetForTime(ts) }

func (s segLog) Bounds() (start, next uint64) { return s.l.StartOffset(), s.l.NextOffset() }

func (s segLog) State() LogState {
	st := s.l.Status()
	return LogState{StartOffset: s.l.StartOffset(), NextOffset: s.l.NextOffset(), Bytes: s.l.Size(), Segments: len(s.l.Segments()),
		Damaged: st.Damaged, Lost: st.Lost, HighWaterMark: st.HighWaterMark}
}

func (s segLog) Scrub(ctx context.Context, bytesPerSecond int64) (int64, error) {
	return s.l.Scrub(ctx, bytesPerSecond)
}

func (s segLog) Repair(ctx context.Context, mode RepairMode) ([]Repaired, error) {
	return s.l.Repair(ctx, mode)
}

func (s segLog) Enforce(now time.Time, r Retention, floor uint64) (int, error) {
	return s.l.Enforce(now, seglog.Retention{MaxAge: r.MaxAge, MaxBytes: r.MaxBytes, MaxMessages: r.MaxMessages, AckOnly: r.Ack}, floor)
}

func (s segLog) Close() error { return s.l.Close() }
