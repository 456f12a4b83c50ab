package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
	Headers    []Header
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
	// DeadLetterError is set while the station's dead letters cannot be
	// stored, and says why.
	DeadLetterError string
}

// PartitionStats describes one partition's log.
type PartitionStats struct {
	StartOffset, NextOffset uint64
	Bytes                   int64
	Segments                int
	// Damaged lists corrupt or missing ranges awaiting repair; the
	// partition serves what is intact.
	Damaged []seglog.Damage
	// Lost lists ranges declared lost by repair.
	Lost []seglog.LostRange
	// HighWaterMark is the persisted offset the next offset never falls
	// below.
	HighWaterMark uint64
}

type station struct {
	b    *Broker
	name string
	cfg  atomic.Pointer[StationConfig]
	logs []PartitionLog
	rr   atomic.Uint32
	m    *stationMetrics

	dedup  *dedupIndex
	dlqErr atomic.Pointer[string] // why dead letters fail; nil when they do not

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
		dedup:    newDedupIndex(cfg.Name, int64(cfg.Partitions)*b.opts.DedupIndexBytes, b.log),
		m:        b.metrics.station(cfg.Name),
	}
	st.cfg.Store(&cfg)
	var memFS vfs.FS
	if cfg.Storage == StorageMemory {
		memFS = vfs.NewMem()
	}
	highs, err := b.committedHighs(cfg.Name, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	for p := range cfg.Partitions {
		o := b.partitionLogOptions(cfg, p, b.PartitionDir(cfg.Name, p))
		if memFS != nil {
			o.FS, o.Sync, o.FileCache = memFS, seglog.SyncNever, memFiles
		}
		o.MinNextOffset = highs[p]
		l, err := seglog.Open(o)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("station %q partition %d: %w", cfg.Name, p, err)
		}
		st.logs = append(st.logs, b.replicated(cfg.Name, p, segLog{l}))
	}
	if cfg.DedupWindow > 0 {
		if err := st.rebuildDedup(b.now()); err != nil {
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
	st.stopServing()
	for _, l := range st.logs {
		if err := l.Close(); err != nil {
			st.b.log.Warn("close partition log", "station", st.name, "err", err)
		}
	}
	st.notify()
}

// stopServing closes the station's groups and saves its dedup window: what
// close does before it closes the logs.
func (st *station) stopServing() {
	st.mu.Lock()
	st.closed = true
	groups := st.groups
	st.mu.Unlock()
	for _, g := range groups {
		g.shutdown()
	}
	st.saveDedup()
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
		ls := l.State()
		p := PartitionStats{StartOffset: ls.StartOffset, NextOffset: ls.NextOffset, Bytes: ls.Bytes, Segments: ls.Segments,
			Damaged: ls.Damaged, Lost: ls.Lost, HighWaterMark: ls.HighWaterMark}
		s.Partitions[i] = p
		s.Messages += p.NextOffset - p.StartOffset
		s.Bytes += p.Bytes
	}
	st.mu.Lock()
	s.Groups = len(st.groups)
	st.mu.Unlock()
	if e := st.dlqErr.Load(); e != nil {
		s.DeadLetterError = *e
	}
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
// keep its order. Neither msgs nor the bytes its messages point to are
// retained: a caller may reuse them once it returns. Wait must be called
// exactly once.
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
	idx       []int // indexes of the messages in this partition's batch; nil: all, in order
	p         Appending
}

func (st *station) enqueue(ctx context.Context, msgs []Message) (*PendingProduce, error) {
	start := time.Now()
	cfg := st.config()
	if len(msgs) == 0 {
		return nil, fieldErr("messages", "at least one message is required")
	}
	var bytes int
	for i := range msgs {
		if len(msgs[i].ID) > MaxMessageIDBytes {
			return nil, fieldErr(fmt.Sprintf("messages[%d].id", i), "is %d bytes, over the limit of %d", len(msgs[i].ID), MaxMessageIDBytes)
		}
		n := msgs[i].size()
		if n > int(cfg.MaxMessageBytes) {
			return nil, fmt.Errorf("station %q: message %d is %d bytes, over the limit of %d: %w", st.name, i, n, cfg.MaxMessageBytes, ErrMessageTooLarge)
		}
		for j := range msgs[i].Headers {
			if err := checkHeaderKey(msgs[i].Headers[j].Key); err != nil {
				return nil, fieldErr(fmt.Sprintf("messages[%d].headers[%d].key", i, j), "%s", err)
			}
		}
		bytes += n
	}
	if r := st.b.opts.Replicator; r != nil {
		if err := r.Writable(ctx); err != nil {
			return nil, err
		}
	}
	pp := &PendingProduce{st: st, start: start, msgs: len(msgs), bytes: bytes, results: make([]ProduceResult, len(msgs))}
	var dups []int
	if cfg.DedupWindow > 0 {
		var err error
		pp.claims, dups, err = st.dedup.claim(ctx, msgs, pp.results, st.b.now(), cfg.DedupWindow)
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

	recs := getRecords()
	defer putRecords(recs)
	for p, idx := range perPart {
		if len(idx) == 0 {
			continue
		}
		*recs = slices.Grow((*recs)[:0], len(idx))[:len(idx)]
		for j, i := range idx {
			m := &msgs[i]
			(*recs)[j] = Record{Key: m.Key, Value: m.Value, Headers: m.Headers}
			if m.ID != "" {
				(*recs)[j].Headers = append(slices.Clip(m.Headers), Header{Key: HeaderMessageID, Value: []byte(m.ID)})
			}
		}
		sp, err := st.logs[p].Enqueue(ctx, *recs)
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

// Ready reports whether Wait would return without blocking; false when
// that cannot be told. It must not be called after Wait.
func (pp *PendingProduce) Ready() bool {
	if pp.schema != nil {
		return false
	}
	for _, pt := range pp.parts {
		r, ok := pt.p.(interface{ Ready() bool })
		if !ok || !r.Ready() {
			return false
		}
	}
	return true
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
		if pt.idx == nil {
			for j := range pp.results {
				pp.results[j] = ProduceResult{Partition: pt.partition, Offset: base + uint64(j)}
			}
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
func (b *Broker) Read(stationName string, partition uint32, from uint64, maxBytes int) ([]Record, error) {
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
		_, out[i] = l.Bounds()
	}
	return out, nil
}

// checkHeaderKey refuses header keys that are empty, too long, or hold
// control characters (CR and LF would let a key forge lines in text
// renderings of headers).
func checkHeaderKey(k string) error {
	switch {
	case k == "":
		return errors.New("must not be empty")
	case len(k) > MaxHeaderKeyBytes:
		return fmt.Errorf("is %d bytes, over the limit of %d", len(k), MaxHeaderKeyBytes)
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c == 0x7f {
			return fmt.Errorf("%s holds control character %#02x at byte %d", quote(k), c, i)
		}
	}
	return nil
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

// scanIDs calls fn for every record of partition p from offset from (or
// the log's start, if retention removed it) to the end that carries a
// producer message id. The id is only valid during the call.
func (st *station) scanIDs(ctx context.Context, p int, from uint64, fn func(id []byte, offset uint64, ts int64)) error {
	l := st.logs[p]
	start, next := l.Bounds()
	from = max(from, start)
	for from < next {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := l.Read(from, 1<<20)
		if start, _ := l.Bounds(); errors.Is(err, ErrOffsetOutOfRange) && from < start {
			from = start
			continue
		}
		var ce *seglog.CorruptionError
		if errors.As(err, &ce) && ce.Damage.To > from {
			from = ce.Damage.To // what corruption took holds no ids to find
			continue
		}
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			for _, h := range r.Headers {
				if h.Key == HeaderMessageID {
					fn(h.Value, r.Offset, r.Timestamp)
				}
			}
		}
		from = recs[len(recs)-1].Offset + 1
	}
	return nil
}

// MessageIDs returns the producer message ids starting with prefix that a
// station holds from offset from[p] of each partition p on (partitions
// past the end of from are not read). The connector host uses it to find
// the records of a source that a crash left in the station after its last
// checkpoint.
func (b *Broker) MessageIDs(ctx context.Context, stationName string, from []uint64, prefix string) (map[string]bool, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	var out map[string]bool
	for p, off := range from {
		if p >= len(st.logs) {
			break
		}
		err := st.scanIDs(ctx, p, off, func(id []byte, _ uint64, _ int64) {
			if strings.HasPrefix(string(id), prefix) {
				if out == nil {
					out = make(map[string]bool)
				}
				out[string(id)] = true
			}
		})
		if err != nil {
			return nil, fmt.Errorf("station %q partition %d: read message ids: %w", stationName, p, err)
		}
	}
	return out, nil
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
		n, err := l.Enforce(now, r, floor)
		if err != nil {
			st.b.log.Error("enforce retention", "station", st.name, "partition", p, "err", err)
		}
		if n > 0 {
			st.b.log.Debug("retention deleted segments", "station", st.name, "partition", p, "segments", n)
		}
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
	err := st.b.groupsDB.Groups(st.name, func(name string, v []byte) error {
		r, err := decodeGroup(v)
		if err != nil {
			return st.b.recordErr(fmt.Sprintf("group %q of station %q", name, st.name), err)
		}
		recs = append(recs, loaded{name, r})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range recs {
		offs, err := st.b.groupsDB.Offsets(st.name, r.name)
		if err != nil {
			return err
		}
		commits := make([]uint64, len(st.logs))
		for p, l := range st.logs {
			c, ok := offs[uint32(p)]
			if !ok {
				c, _ = l.Bounds()
			}
			commits[p] = c
		}
		g := newGroup(st, r.name, r.rec, commits)
		counts, err := st.b.groupsDB.DeliveryCounts(st.name, r.name)
		if err != nil {
			return err
		}
		for _, c := range counts {
			if int(c.Partition) < len(commits) && c.Offset >= commits[c.Partition] {
				if g.prior == nil {
					g.prior = make(map[MessageRef]uint32, len(counts))
				}
				g.prior[MessageRef{c.Partition, c.Offset}] = c.Count
			}
		}
		st.groups[r.name] = g
	}
	return nil
}
