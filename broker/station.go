package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/broker/vfs"
)

// HeaderMessageID carries a producer's message id in the stored record, so
// the dedup window survives a restart.
const HeaderMessageID = "junction-msg-id"

// Message is a message to produce.
type Message struct {
	Key, Value []byte
	Headers    []seglog.Header
	// ID, when set, deduplicates the message within the station's window.
	ID string
}

func (m *Message) size() int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// ProduceResult is where a produced message was stored.
type ProduceResult struct {
	Partition uint32
	Offset    uint64
	// Duplicate reports that the message id was seen within the dedup
	// window; Partition and Offset are those of the original.
	Duplicate bool
	// Rejected: the message failed the station's schema and was not stored.
	Rejected bool
	// DeadLettered: the message failed the station's schema and was stored
	// on the dead-letter station, at Partition and Offset there.
	DeadLettered bool
}

// StationStats describes a station's stored messages.
type StationStats struct {
	Messages   uint64
	Bytes      int64
	Partitions []PartitionStats
	Groups     int
}

// PartitionStats describes one partition's log.
type PartitionStats struct {
	StartOffset, NextOffset uint64
	Bytes                   int64
	Segments                int
}

type station struct {
	b    *Broker
	name string
	cfg  atomic.Pointer[StationConfig]
	logs []*seglog.Log
	rr   atomic.Uint32
	m    *stationMetrics

	dedup *dedupIndex

	notifyMu sync.Mutex
	notifyCh chan struct{}

	mu     sync.Mutex
	groups map[string]*group
	closed bool
}

func (b *Broker) openStation(cfg StationConfig) (*station, error) {
	st := &station{
		b:        b,
		name:     cfg.Name,
		notifyCh: make(chan struct{}),
		groups:   make(map[string]*group),
		dedup:    newDedupIndex(),
		m:        b.metrics.station(cfg.Name),
	}
	st.cfg.Store(&cfg)
	fs := vfs.OS
	sync := seglog.SyncAlways
	switch cfg.Fsync {
	case FsyncInterval:
		sync = seglog.SyncInterval
	case FsyncNever:
		sync = seglog.SyncNever
	}
	if cfg.Storage == StorageMemory {
		fs, sync = vfs.NewMem(), seglog.SyncNever
	}
	for p := range cfg.Partitions {
		l, err := seglog.Open(seglog.Options{
			FS:            fs,
			Dir:           filepath.Join(b.stationDir(cfg.Name), strconv.Itoa(int(p))),
			SegmentBytes:  b.opts.SegmentBytes,
			SegmentMaxAge: segmentMaxAge(cfg.Retention),
			Sync:          sync,
			Logger:        b.log.With("station", cfg.Name, "partition", p),
			OnSync:        b.metrics.observeFsync,
		})
		if err != nil {
			st.close()
			return nil, fmt.Errorf("station %q partition %d: %w", cfg.Name, p, err)
		}
		st.logs = append(st.logs, l)
	}
	if cfg.DedupWindow > 0 {
		if err := st.rebuildDedup(time.Now()); err != nil {
			st.close()
			return nil, err
		}
	}
	return st, nil
}

// segmentMaxAge rolls segments often enough that age retention can delete
// them in reasonable steps.
func segmentMaxAge(r Retention) time.Duration {
	if r.MaxAge <= 0 {
		return 0
	}
	return max(r.MaxAge/8, time.Second)
}

func (st *station) config() StationConfig { return *st.cfg.Load() }

func (st *station) setConfig(c StationConfig) { st.cfg.Store(&c) }

func (st *station) close() {
	st.mu.Lock()
	st.closed = true
	groups := st.groups
	st.mu.Unlock()
	for _, g := range groups {
		g.shutdown()
	}
	for _, l := range st.logs {
		if err := l.Close(); err != nil {
			st.b.log.Warn("close partition log", "station", st.name, "err", err)
		}
	}
	st.notify()
}

// changed returns a channel closed at the next append to any partition.
func (st *station) changed() <-chan struct{} {
	st.notifyMu.Lock()
	defer st.notifyMu.Unlock()
	return st.notifyCh
}

func (st *station) notify() {
	st.notifyMu.Lock()
	close(st.notifyCh)
	st.notifyCh = make(chan struct{})
	st.notifyMu.Unlock()
}

func (st *station) stats() StationStats {
	s := StationStats{Partitions: make([]PartitionStats, len(st.logs))}
	for i, l := range st.logs {
		p := PartitionStats{StartOffset: l.StartOffset(), NextOffset: l.NextOffset(), Bytes: l.Size(), Segments: len(l.Segments())}
		s.Partitions[i] = p
		s.Messages += p.NextOffset - p.StartOffset
		s.Bytes += p.Bytes
	}
	st.mu.Lock()
	s.Groups = len(st.groups)
	st.mu.Unlock()
	return s
}

// Produce appends msgs to a station and returns once they are durable per
// its fsync policy, with one result per message in order. Messages with a
// key go to the partition of the key's hash; the others of one call go
// together to the next partition in round robin. Either every message of a
// partition is stored or none is, except that on a station with a schema
// the invalid messages are left out (reported in a *SchemaViolationError,
// returned with the results) or dead-lettered, per the station.
func (b *Broker) Produce(ctx context.Context, stationName string, msgs []Message) ([]ProduceResult, error) {
	p, err := b.ProduceAsync(ctx, stationName, msgs)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// ProduceAsync is Produce without the wait: it validates msgs and queues
// them on their partitions, then returns. Batches queued by successive
// calls are stored in call order, so a producer can pipeline requests and
// keep its order. msgs is not retained. Wait must be called exactly once.
func (b *Broker) ProduceAsync(ctx context.Context, stationName string, msgs []Message) (*PendingProduce, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	if cfg := st.config(); cfg.Schema != nil {
		return st.produceValidated(ctx, cfg, msgs)
	}
	return st.enqueue(ctx, msgs)
}

// PendingProduce is a produce queued by ProduceAsync.
type PendingProduce struct {
	st      *station
	start   time.Time
	msgs    int
	bytes   int
	results []ProduceResult
	claims  []*dedupEntry
	dups    []int // per message: notDuplicate, duplicateStored, or the index of the same id earlier in this produce
	parts   []partPending
	schema  *schemaOutcome // set for a station with a schema
}

type partPending struct {
	partition uint32
	idx       []int // indexes of the messages in this partition's batch
	p         *seglog.Pending
}

func (st *station) enqueue(ctx context.Context, msgs []Message) (*PendingProduce, error) {
	start := time.Now()
	cfg := st.config()
	if len(msgs) == 0 {
		return nil, fieldErr("messages", "at least one message is required")
	}
	var bytes int
	for i := range msgs {
		n := msgs[i].size()
		if n > int(cfg.MaxMessageBytes) {
			return nil, fmt.Errorf("station %q: message %d is %d bytes, over the limit of %d: %w", st.name, i, n, cfg.MaxMessageBytes, ErrMessageTooLarge)
		}
		bytes += n
	}
	pp := &PendingProduce{st: st, start: start, msgs: len(msgs), bytes: bytes, results: make([]ProduceResult, len(msgs))}
	var dups []int
	if cfg.DedupWindow > 0 {
		var err error
		pp.claims, dups, err = st.dedup.claim(ctx, msgs, pp.results, time.Now(), cfg.DedupWindow)
		if err != nil {
			return nil, err
		}
		pp.dups = dups
	}

	// Route: keyed messages by hash, the rest to one round-robin partition.
	nparts := uint32(len(st.logs))
	sticky := st.rr.Add(1) % nparts
	perPart := make([][]int, nparts)
	if nparts == 1 && dups == nil {
		perPart[0] = make([]int, len(msgs))
		for i := range perPart[0] {
			perPart[0][i] = i
		}
	} else {
		for i := range msgs {
			if dups != nil && dups[i] != notDuplicate {
				continue
			}
			p := sticky
			if msgs[i].Key != nil && nparts > 1 {
				p = fnv32a(msgs[i].Key) % nparts
			}
			perPart[p] = append(perPart[p], i)
		}
	}

	var recs []seglog.Record
	for p, idx := range perPart {
		if len(idx) == 0 {
			continue
		}
		recs = slices.Grow(recs[:0], len(idx))[:len(idx)]
		for j, i := range idx {
			m := &msgs[i]
			recs[j] = seglog.Record{Key: m.Key, Value: m.Value, Headers: m.Headers}
			if m.ID != "" {
				recs[j].Headers = append(slices.Clip(m.Headers), seglog.Header{Key: HeaderMessageID, Value: []byte(m.ID)})
			}
		}
		sp, err := st.logs[p].Enqueue(ctx, recs)
		if err != nil {
			err = fmt.Errorf("station %q partition %d: %w", st.name, p, err)
			for _, pt := range pp.parts {
				pt.p.Wait()
			}
			if pp.claims != nil {
				st.dedup.settle(pp.claims, nil, err)
			}
			return nil, err
		}
		pp.parts = append(pp.parts, partPending{partition: uint32(p), idx: idx, p: sp})
	}
	return pp, nil
}

// Wait blocks until every message is durable per the station's fsync
// policy and returns one result per message, in order. When the station's
// schema rejected some messages it returns the results together with a
// *SchemaViolationError.
func (pp *PendingProduce) Wait() ([]ProduceResult, error) {
	st := pp.st
	if pp.schema != nil {
		return pp.schema.wait(st)
	}
	var errs []error
	for _, pt := range pp.parts {
		base, err := pt.p.Wait()
		if err != nil {
			errs = append(errs, fmt.Errorf("station %q partition %d: %w", st.name, pt.partition, err))
			continue
		}
		for j, i := range pt.idx {
			pp.results[i] = ProduceResult{Partition: pt.partition, Offset: base + uint64(j)}
		}
	}
	pp.parts = nil
	for i, j := range pp.dups {
		if j >= 0 {
			pp.results[i] = pp.results[j]
			pp.results[i].Duplicate = true
		}
	}
	err := errors.Join(errs...)
	if pp.claims != nil {
		st.dedup.settle(pp.claims, pp.results, err)
	}
	if err != nil {
		return nil, err
	}
	st.notify()
	st.m.messagesIn.Add(float64(pp.msgs))
	st.m.bytesIn.Add(float64(pp.bytes))
	st.b.metrics.produceLatency.Observe(time.Since(pp.start).Seconds())
	return pp.results, nil
}

// Read returns records of one partition of a station from offset from on,
// at most about maxBytes of them (at least one batch when there is one).
// The records are immutable and safe to keep.
func (b *Broker) Read(stationName string, partition uint32, from uint64, maxBytes int) ([]seglog.Record, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	if int(partition) >= len(st.logs) {
		return nil, fieldErr("partition", "station %q has no partition %d", stationName, partition)
	}
	recs, err := st.logs[partition].Read(from, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("station %q partition %d: read at %d: %w", stationName, partition, from, err)
	}
	return recs, nil
}

// NextOffsets returns the next offset of every partition of a station.
func (b *Broker) NextOffsets(stationName string) ([]uint64, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, len(st.logs))
	for i, l := range st.logs {
		out[i] = l.NextOffset()
	}
	return out, nil
}

// fnv32a is FNV-1a of b, the hash that picks a keyed message's partition;
// hash/fnv would allocate a hasher per message.
func fnv32a(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// rebuildDedup reloads message ids of the last dedup window from the logs.
func (st *station) rebuildDedup(now time.Time) error {
	window := st.config().DedupWindow
	since := now.Add(-window).UnixNano()
	for p, l := range st.logs {
		off, err := l.OffsetForTime(since)
		if err != nil {
			return fmt.Errorf("station %q partition %d: rebuild dedup window: %w", st.name, p, err)
		}
		for off < l.NextOffset() {
			recs, err := l.Read(off, 1<<20)
			if err != nil {
				return fmt.Errorf("station %q partition %d: rebuild dedup window: %w", st.name, p, err)
			}
			if len(recs) == 0 {
				break
			}
			for _, r := range recs {
				for _, h := range r.Headers {
					if h.Key == HeaderMessageID {
						st.dedup.restore(string(h.Value), ProduceResult{Partition: uint32(p), Offset: r.Offset}, time.Unix(0, r.Timestamp).Add(window))
					}
				}
			}
			off = recs[len(recs)-1].Offset + 1
		}
	}
	st.dedup.mu.Lock()
	slices.SortFunc(st.dedup.expiry, func(a, b *dedupEntry) int { return a.expires.Compare(b.expires) })
	st.dedup.mu.Unlock()
	return nil
}

// enforceRetention deletes old segments per the station's retention. Under
// ack retention, nothing at or above the lowest committed offset of any
// group is deleted, and with no group nothing is.
func (st *station) enforceRetention(ctx context.Context, now time.Time) {
	cfg := st.config()
	r := cfg.Retention
	if !r.Ack && r.MaxAge == 0 && r.MaxBytes == 0 && r.MaxMessages == 0 {
		return
	}
	groups := st.groupList()
	for p, l := range st.logs {
		if ctx.Err() != nil {
			return
		}
		floor := uint64(math.MaxUint64)
		if r.Ack {
			floor = 0
			if len(groups) > 0 {
				floor = math.MaxUint64
				for _, g := range groups {
					floor = min(floor, g.committed(p))
				}
			}
		}
		n, err := l.Enforce(now, seglog.Retention{MaxAge: r.MaxAge, MaxBytes: r.MaxBytes, MaxMessages: r.MaxMessages, AckOnly: r.Ack}, floor)
		if err != nil {
			st.b.log.Error("enforce retention", "station", st.name, "partition", p, "err", err)
		}
		if n > 0 {
			st.b.log.Debug("retention deleted segments", "station", st.name, "partition", p, "segments", n)
		}
	}
}

// dedupIndex remembers producer message ids for a station's dedup window.
type dedupIndex struct {
	mu      sync.Mutex
	entries map[string]*dedupEntry
	expiry  []*dedupEntry // in insertion order, which is expiry order
}

type dedupEntry struct {
	id      string
	msg     int // index of the claiming message in its request
	result  ProduceResult
	expires time.Time
	done    chan struct{} // closed once the first produce of id settled
	failed  bool
}

func newDedupIndex() *dedupIndex {
	return &dedupIndex{entries: make(map[string]*dedupEntry)}
}

func (d *dedupIndex) expire(now time.Time) {
	i := 0
	for ; i < len(d.expiry) && d.expiry[i].expires.Before(now); i++ {
		e := d.expiry[i]
		if d.entries[e.id] == e {
			delete(d.entries, e.id)
		}
	}
	if i > 0 {
		d.expiry = append(d.expiry[:0], d.expiry[i:]...)
	}
}

func (d *dedupIndex) restore(id string, r ProduceResult, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := make(chan struct{})
	close(done)
	e := &dedupEntry{id: id, result: r, expires: expires, done: done}
	d.entries[id] = e
	d.expiry = append(d.expiry, e)
}

const (
	notDuplicate    = -1
	duplicateStored = -2
)

// claim reserves the ids of msgs. For an id already stored (or being stored
// by a concurrent produce, which it waits for) it fills results and marks
// the message a duplicate. dups is nil when no message is a duplicate, else
// per message notDuplicate, duplicateStored, or the index of the message
// of the same request that claimed its id. The claims must be settled.
func (d *dedupIndex) claim(ctx context.Context, msgs []Message, results []ProduceResult, now time.Time, window time.Duration) (claims []*dedupEntry, dups []int, err error) {
	markDup := func(i, of int) {
		if dups == nil {
			dups = make([]int, len(msgs))
			for j := range dups {
				dups[j] = notDuplicate
			}
		}
		dups[i] = of
	}
	for i := range msgs {
		id := msgs[i].ID
		if id == "" {
			continue
		}
		for {
			d.mu.Lock()
			d.expire(now)
			e, ok := d.entries[id]
			if !ok {
				e = &dedupEntry{id: id, msg: i, expires: now.Add(window), done: make(chan struct{})}
				d.entries[id] = e
				d.expiry = append(d.expiry, e)
				d.mu.Unlock()
				claims = append(claims, e)
				break
			}
			d.mu.Unlock()
			if slices.Contains(claims, e) {
				// The same id twice in one request: the first one wins.
				markDup(i, e.msg)
				break
			}
			select {
			case <-e.done:
			case <-ctx.Done():
				d.settle(claims, nil, ctx.Err())
				return nil, nil, ctx.Err()
			}
			if e.failed {
				continue
			}
			markDup(i, duplicateStored)
			results[i] = e.result
			results[i].Duplicate = true
			break
		}
	}
	return claims, dups, nil
}

// settle records the results of claimed ids, or releases them on error.
func (d *dedupIndex) settle(claims []*dedupEntry, results []ProduceResult, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range claims {
		if err != nil {
			e.failed = true
			if d.entries[e.id] == e {
				delete(d.entries, e.id)
			}
		} else {
			e.result = results[e.msg]
		}
		close(e.done)
	}
}

// groupList returns the station's groups.
func (st *station) groupList() []*group {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]*group, 0, len(st.groups))
	for _, g := range st.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *group) int { return strings.Compare(a.name, b.name) })
	return out
}

type groupRecord struct {
	Config       GroupConfig `json:"config"`
	CreatedAt    time.Time   `json:"created_at"`
	DeadLettered uint64      `json:"dead_lettered,omitempty"`
}

func (st *station) loadGroups() error {
	type loaded struct {
		name string
		rec  groupRecord
	}
	var recs []loaded
	err := st.b.meta.Groups(st.name, func(name string, v []byte) error {
		var r groupRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("group %s/%s: decode metadata: %w", st.name, name, err)
		}
		recs = append(recs, loaded{name, r})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		offs, err := st.b.meta.Offsets(st.name, r.name)
		if err != nil {
			return err
		}
		commits := make([]uint64, len(st.logs))
		for p, l := range st.logs {
			c, ok := offs[uint32(p)]
			if !ok {
				c = l.StartOffset()
			}
			commits[p] = c
		}
		st.groups[r.name] = newGroup(st, r.name, r.rec, commits)
	}
	return nil
}
