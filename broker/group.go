package broker

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/junctionhq/junction/broker/meta"
)

// Headers the broker sets on a message it moves to a dead-letter station.
const (
	HeaderDLQReason     = "junction-dlq-reason"
	HeaderDLQStation    = "junction-dlq-station"
	HeaderDLQGroup      = "junction-dlq-group"
	HeaderDLQPartition  = "junction-dlq-partition"
	HeaderDLQOffset     = "junction-dlq-offset"
	HeaderDLQDeliveries = "junction-dlq-deliveries"
)

// readAheadBytes bounds how much of its station a group holds read but
// not yet delivered, split across the partitions (at least
// minReadAheadBytes each): a group's memory stays bounded however far
// behind it is and however many partitions its station has.
const (
	readAheadBytes    = 4 << 20
	minReadAheadBytes = 64 << 10
)

// Delivery is a message delivered to a member of a consumer group.
type Delivery struct {
	Partition     uint32
	Record        Record
	DeliveryCount uint32

	span *rawSpan // the stored batch holding Record, when known
	// whole: the delivery is all of span, a batch pull's first delivery
	// of a stored batch, and Record holds only its first offset.
	whole bool
}

// MessageRef names a delivered message.
type MessageRef struct {
	Partition uint32
	Offset    uint64
}

// GroupInfo describes a consumer group.
type GroupInfo struct {
	Station      string
	Name         string
	Config       GroupConfig
	CreatedAt    time.Time
	Partitions   []GroupPartition
	Lag          uint64
	Pending      int
	DeadLettered uint64
	// Redelivered counts redeliveries since the broker opened.
	Redelivered uint64
}

// GroupPartition is a group's position in one partition.
type GroupPartition struct {
	// Committed is the lowest unacknowledged offset.
	Committed uint64
	// Checkpointed is Committed as last stored durably, where a restart
	// resumes.
	Checkpointed uint64
	Next, Lag    uint64
	Pending      int
}

// group is a consumer group: it hands out every message of its station once
// to one of its members, tracks what awaits acknowledgement, redelivers what
// is not acked in time, and dead-letters what exhausted its deliveries.
type group struct {
	st   *station
	name string

	mu       sync.Mutex
	rec      groupRecord
	parts    []*groupPart
	pending  int
	nextPart int
	expiries deque[expiry] // deliveries by ack deadline (non-decreasing)
	delayed  delayHeap     // nacked deliveries by redelivery time
	wakeCh   chan struct{}
	epoch    uint64 // bumped when a seek or reset replaces the partitions' state
	// prior holds delivery counts stored before a restart for messages
	// not yet delivered again; countsDirty says the stored counts are
	// behind (a count reached 2 or a counted message was acked).
	prior        map[MessageRef]uint32
	countsDirty  bool
	tracked      int // entries of the parts' pending maps, charged to the broker's budget
	dirty        bool
	closed       bool
	deleted      bool
	deadLettered uint64
	redelivered  uint64 // since the broker opened

	// full: a pull found max_ack_pending (or the broker's budget)
	// reached, so acks wake the group's pulls.
	full bool

	// First deliveries are tracked as runs (see grouprun.go): runExp
	// holds their ack deadlines (non-decreasing), liveRuns counts those
	// still holding pending offsets.
	runExp   deque[runExpiry]
	runSeq   uint64 // id of the last run created
	liveRuns int
}

type groupPart struct {
	commit  uint64 // lowest unacknowledged offset
	durable uint64 // commit as last checkpointed
	cursor  uint64 // next offset never delivered
	acked   ackWindow
	pending map[uint64]*pendingMsg
	ahead   []Record  // records read from cursor on, not yet delivered
	spans   []rawSpan // the encoded batches of ahead, when the log gave them

	// First deliveries pending in runs, by offset, and how many offsets
	// they hold; pending holds the other deliveries awaiting ack.
	runs   []firstRun
	inRuns int
}

type pendingMsg struct {
	deliveries uint32
	due        time.Time
	dlq        bool // being moved to the dead-letter station
	// delayed: nacked and waiting for its redelivery time; it does not
	// count against max_ack_pending meanwhile.
	delayed bool
}

type expiry struct {
	part uint32
	off  uint64
	pm   *pendingMsg
	due  time.Time
}

func newGroup(st *station, name string, rec groupRecord, commits []uint64) *group {
	g := &group{st: st, name: name, rec: rec, wakeCh: make(chan struct{}), deadLettered: rec.DeadLettered}
	for _, c := range commits {
		g.parts = append(g.parts, &groupPart{commit: c, durable: c, cursor: c, acked: newAckWindow(c), pending: make(map[uint64]*pendingMsg)})
	}
	return g
}

func (g *group) wake() {
	close(g.wakeCh)
	g.wakeCh = make(chan struct{})
}

func (g *group) shutdown() {
	g.mu.Lock()
	g.closed = true
	g.wake()
	g.mu.Unlock()
}

func (g *group) committed(p int) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.parts[p].commit
}

func (g *group) markDirty() {
	g.mu.Lock()
	g.dirty, g.countsDirty = true, true
	g.mu.Unlock()
}

// checkpointed records offsets returned by dirtyOffsets as durably stored.
func (g *group) checkpointed(offs []meta.Offset) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range offs {
		if int(o.Partition) < len(g.parts) {
			g.parts[o.Partition].durable = o.Offset
		}
	}
}

// dirtyOffsets returns the group's committed offsets and, when they
// changed, its delivery counts of more than one, for the checkpoint; nil
// when nothing changed since the last.
func (g *group) dirtyOffsets() ([]meta.Offset, *meta.Deliveries) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !(g.dirty || g.countsDirty) || g.deleted {
		return nil, nil
	}
	var ds *meta.Deliveries
	if g.countsDirty {
		ds = &meta.Deliveries{Station: g.st.name, Group: g.name}
		for i, p := range g.parts {
			for off, pm := range p.pending {
				if pm.deliveries > 1 {
					ds.Counts = append(ds.Counts, meta.DeliveryCount{Partition: uint32(i), Offset: off, Count: pm.deliveries})
				}
			}
		}
		for ref, c := range g.prior {
			ds.Counts = append(ds.Counts, meta.DeliveryCount{Partition: ref.Partition, Offset: ref.Offset, Count: c})
		}
	}
	g.dirty, g.countsDirty = false, false
	out := make([]meta.Offset, len(g.parts))
	for i, p := range g.parts {
		out[i] = meta.Offset{Station: g.st.name, Group: g.name, Partition: uint32(i), Offset: p.commit}
	}
	return out, ds
}

func (g *group) maxDeliveries() uint32 {
	if g.rec.Config.MaxDeliveries > 0 {
		return g.rec.Config.MaxDeliveries
	}
	return g.st.config().MaxDeliveries
}

// CreateGroup creates a consumer group on a station, starting at start.
func (b *Broker) CreateGroup(ctx context.Context, stationName, name string, start StartPosition, cfg GroupConfig) (GroupInfo, error) {
	if err := b.leading(ctx); err != nil {
		return GroupInfo{}, err
	}
	st, err := b.station(stationName)
	if err != nil {
		return GroupInfo{}, err
	}
	g, created, err := st.group(name, start, cfg, true)
	if err != nil {
		return GroupInfo{}, err
	}
	if !created {
		return GroupInfo{}, fmt.Errorf("group %q on station %q: %w", name, stationName, ErrGroupExists)
	}
	return g.info(), nil
}

// group returns the named group, creating it when create is set.
func (st *station) group(name string, start StartPosition, cfg GroupConfig, create bool) (*group, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed {
		return nil, false, ErrClosed
	}
	if g, ok := st.groups[name]; ok {
		return g, false, nil
	}
	if !create {
		return nil, false, fmt.Errorf("group %s on station %q: %w", quote(name), st.name, ErrGroupNotFound)
	}
	if err := validateName("group", name); err != nil {
		return nil, false, err
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, false, err
	}
	commits, err := st.startOffsets(start)
	if err != nil {
		return nil, false, err
	}
	rec := groupRecord{Config: cfg, CreatedAt: st.b.now().UTC()}
	v, err := json.Marshal(rec)
	if err != nil {
		return nil, false, err
	}
	if err := st.b.groupsDB.PutGroup(st.name, name, v); err != nil {
		return nil, false, fmt.Errorf("group %q on station %q: store metadata: %w", name, st.name, err)
	}
	offs := make([]meta.Offset, len(commits))
	for p, c := range commits {
		offs[p] = meta.Offset{Station: st.name, Group: name, Partition: uint32(p), Offset: c}
	}
	if err := st.b.groupsDB.CommitOffsets(offs); err != nil {
		return nil, false, fmt.Errorf("group %q on station %q: store offsets: %w", name, st.name, err)
	}
	g := newGroup(st, name, rec, commits)
	st.groups[name] = g
	st.b.log.Info("consumer group created", "station", st.name, "group", name)
	return g, true, nil
}

func (st *station) startOffsets(start StartPosition) ([]uint64, error) {
	out := make([]uint64, len(st.logs))
	for p, l := range st.logs {
		first, next := l.Bounds()
		switch start.Kind {
		case StartEarliest:
			out[p] = first
		case StartLatest:
			out[p] = next
		case StartOffset:
			out[p] = min(max(start.Offset, first), next)
		case StartTime:
			off, err := l.OffsetForTime(start.Time.UnixNano())
			if err != nil {
				return nil, fmt.Errorf("station %q partition %d: find offset for %s: %w", st.name, p, start.Time.Format(time.RFC3339), err)
			}
			out[p] = off
		default:
			return nil, fieldErr("start", "unknown start position")
		}
	}
	return out, nil
}

// PullOptions bounds one Pull.
type PullOptions struct {
	// Max is the most messages to return; at least 1.
	Max int
	// MaxBytes, when positive, stops the batch once its keys, values and
	// headers reach this many bytes (a batch always holds one message).
	MaxBytes int
	// MaxWait is how long to wait for the first message.
	MaxWait time.Duration
	// Start and Config apply when the pull creates the group.
	Start  StartPosition
	Config GroupConfig
	// WholeBatches ends the pull at the end of a stored batch where that
	// leaves at least one, so that stored batches go out whole.
	WholeBatches bool
	// MinMessages and BatchWait coalesce: once a message is ready, the
	// pull waits up to BatchWait for MinMessages (at most Max) to be
	// ready before it takes them. A redelivery that is due ends the wait.
	// MinMessages <= 1 or BatchWait <= 0: take as soon as one is ready.
	MinMessages int
	BatchWait   time.Duration
}

// Pull delivers messages to a member of group, waiting up to o.MaxWait for
// the first. The group is created on first use with o.Start and o.Config.
// An empty result with a nil error means nothing arrived in time.
func (b *Broker) Pull(ctx context.Context, stationName, groupName string, o PullOptions) ([]Delivery, error) {
	return b.pull(ctx, stationName, groupName, o, false)
}

// pull is Pull. With spans, a stored batch delivered whole for the first
// time comes back as one Delivery marked whole, for PullBatches.
func (b *Broker) pull(ctx context.Context, stationName, groupName string, o PullOptions, spans bool) ([]Delivery, error) {
	if err := b.leading(ctx); err != nil {
		return nil, err
	}
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	if o.Max <= 0 {
		return nil, fieldErr("max_messages", "must be positive")
	}
	g, _, err := st.group(groupName, o.Start, o.Config, true)
	if err != nil {
		return nil, err
	}
	return g.pull(ctx, o.Max, o.MaxBytes, o.MaxWait, o.WholeBatches, spans, newCoalescer(o))
}

func (g *group) pull(ctx context.Context, max, maxBytes int, maxWait time.Duration, whole, spans bool, co *coalescer) ([]Delivery, error) {
	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	var due *time.Timer
	defer func() {
		if due != nil {
			due.Stop()
		}
	}()
	defer co.stop()
	waited := false // MaxWait passed while coalescing
	for {
		changed := g.st.changed()
		g.mu.Lock()
		wake := g.wakeCh
		if batchC := co.wait(g); batchC != nil {
			g.mu.Unlock()
			select {
			case <-changed:
			case <-wake:
			case <-batchC:
				co.expired()
			case <-timer.C:
				// MaxWait bounds the wait for the first message, which
				// is here: take what is ready.
				waited = true
				co.expired()
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			continue
		}
		out, redo, dead, need, next, err := g.take(max, maxBytes, g.st.b.now(), whole, spans)
		g.mu.Unlock()
		// Segment reads happen here, without g.mu, so acks never wait
		// behind them.
		if len(redo) > 0 && err == nil {
			var again []Delivery
			again, err = g.reread(redo)
			out = append(again, out...)
		}
		if len(dead) > 0 {
			g.deadLetter(ctx, dead)
		}
		if err == nil && len(out) == 0 && len(need) > 0 {
			if err = g.fill(need); err == nil {
				continue
			}
		}
		if err != nil || len(out) > 0 {
			if len(out) > 0 {
				g.st.m.messagesOut.Add(float64(deliveredCount(out)))
				g.st.m.bytesOut.Add(float64(deliveredBytes(out)))
			}
			return out, err
		}
		if len(dead) > 0 {
			continue
		}
		if waited {
			return nil, nil
		}
		var dueC <-chan time.Time
		if !next.IsZero() {
			d := next.Sub(g.st.b.now())
			if due == nil {
				due = time.NewTimer(d)
			} else {
				due.Reset(d)
			}
			dueC = due.C
		}
		select {
		case <-changed:
		case <-wake:
		case <-dueC:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// take hands out up to max deliveries: first those due for redelivery
// (returned in redo, still to be read from the log), then new messages
// from the partitions' read-ahead while fewer than max_ack_pending await
// ack and the batch is under maxBytes (when positive). It returns the
// deliveries that exhausted max_deliveries separately, the partitions
// whose read-ahead must be filled (by fill, without g.mu) to hand out
// more, and the time the next delivery becomes due. It never reads the
// log. With spans, a stored batch handed out whole comes as one Delivery
// (see Delivery.whole). g.mu is held.
func (g *group) take(max, maxBytes int, now time.Time, whole, spans bool) (out []Delivery, redo []expiry, dead []MessageRef, need []fillReq, next time.Time, err error) {
	if g.deleted {
		return nil, nil, nil, nil, time.Time{}, fmt.Errorf("group %q on station %q: %w", g.name, g.st.name, ErrGroupNotFound)
	}
	if g.closed {
		return nil, nil, nil, nil, time.Time{}, ErrClosed
	}
	maxDeliveries := g.maxDeliveries()
	redeliver := func(e expiry) {
		if e.pm.delayed {
			e.pm.delayed = false
			g.pending++
		}
		if e.pm.deliveries >= maxDeliveries {
			e.pm.dlq = true
			dead = append(dead, MessageRef{e.part, e.off})
			return
		}
		e.pm.deliveries++
		g.redelivered++
		g.countsDirty = true
		e.pm.due = now.Add(g.rec.Config.AckDeadline)
		e.due = e.pm.due
		g.expiries.push(e)
		redo = append(redo, e)
	}

	g.expireRuns(now, func(e expiry) { heap.Push(&g.delayed, e) })
	for len(g.delayed) > 0 && len(redo) < max {
		e := g.delayed[0]
		if !g.valid(e) {
			heap.Pop(&g.delayed)
			continue
		}
		if e.due.After(now) {
			break
		}
		heap.Pop(&g.delayed)
		redeliver(e)
	}
	for g.expiries.len() > 0 && len(redo) < max {
		e := g.expiries.front()
		if !g.valid(e) {
			g.expiries.pop()
			continue
		}
		if e.due.After(now) {
			break
		}
		g.expiries.pop()
		redeliver(e)
	}

	limit := min(int(g.rec.Config.MaxAckPending), g.pending+g.st.b.pendingRoom())
	bytes := 0
	taken := 0 // messages in out: a whole stored batch is one Delivery
	full := func() bool { return maxBytes > 0 && bytes >= maxBytes && taken > 0 }
	for tried := 0; tried < len(g.parts) && taken+len(redo) < max && g.pending < limit && !full(); tried++ {
		pi := g.nextPart
		g.nextPart = (g.nextPart + 1) % len(g.parts)
		p := g.parts[pi]
		if len(p.ahead) == 0 {
			if _, next := g.st.logs[pi].Bounds(); p.cursor < next && !slices.ContainsFunc(need, func(r fillReq) bool { return r.part == pi }) {
				need = append(need, fillReq{part: pi, cursor: p.cursor, epoch: g.epoch})
			}
			continue
		}
		n := min(len(p.ahead), max-taken-len(redo), limit-g.pending)
		if out == nil {
			if spans {
				// Mostly whole batches, one Delivery each.
				out = make([]Delivery, 0, min(n, 8))
			} else {
				out = make([]Delivery, 0, n)
			}
		}
		if maxBytes > 0 {
			for i := range n {
				if bytes >= maxBytes && taken+i > 0 {
					n = i
					break
				}
				bytes += recordBytes(&p.ahead[i])
			}
		}
		if whole && n < len(p.ahead) {
			n = p.wholeBatches(n)
		}
		due := now.Add(g.rec.Config.AckDeadline)
		for i := 0; i < n; i++ {
			rec := p.ahead[i]
			if spans && len(g.prior) == 0 {
				if s := p.spanOf(rec.Offset); s != nil && s.base == rec.Offset && s.next-s.base <= uint64(n-i) &&
					p.ahead[i+int(s.next-s.base)-1].Offset == s.next-1 {
					k := int(s.next - s.base)
					s.bytes, s.kvBytes = 0, 0
					for j := i; j < i+k; j++ {
						s.bytes += recordBytes(&p.ahead[j])
						s.kvBytes += len(p.ahead[j].Key) + len(p.ahead[j].Value)
					}
					g.deliverFirstRange(pi, s.base, s.next, due)
					out = append(out, Delivery{Partition: uint32(pi), Record: Record{Offset: s.base}, DeliveryCount: 1, span: s, whole: true})
					taken += k
					i += k - 1
					continue
				}
			}
			if len(g.prior) > 0 {
				// Delivered before a restart: count on from there.
				ref := MessageRef{uint32(pi), rec.Offset}
				if c, ok := g.prior[ref]; ok {
					delete(g.prior, ref)
					pm := &pendingMsg{deliveries: c + 1, due: due}
					p.pending[rec.Offset] = pm
					if c >= maxDeliveries {
						pm.deliveries, pm.dlq = c, true
						dead = append(dead, ref)
						continue
					}
					g.expiries.push(expiry{uint32(pi), rec.Offset, pm, due})
					out = append(out, Delivery{Partition: uint32(pi), Record: rec, DeliveryCount: pm.deliveries})
					taken++
					continue
				}
			}
			g.deliverFirst(pi, rec.Offset, due)
			out = append(out, Delivery{Partition: uint32(pi), Record: rec, DeliveryCount: 1, span: p.spanOf(rec.Offset)})
			taken++
		}
		g.pending += n
		g.track(n)
		if n > 0 {
			p.cursor = p.ahead[n-1].Offset + 1
			p.ahead = p.ahead[n:]
			if taken+len(redo) < max && len(p.ahead) == 0 {
				tried-- // this partition may have more
			}
		}
	}
	if g.pending >= limit {
		g.full = true
	}
	next = g.nextDue()
	return out, redo, dead, need, next, nil
}

// fillReq asks fill to read a partition's log from cursor on, if the group
// is still at epoch then.
type fillReq struct {
	part   int
	cursor uint64
	epoch  uint64
}

// fill reads ahead for the partitions in reqs without holding g.mu and
// installs what it read where nothing moved the partition meanwhile. A
// cursor below the log's start (retention removed messages the group
// never acked) skips to the start.
func (g *group) fill(reqs []fillReq) error {
	budget := max(readAheadBytes/len(g.parts), minReadAheadBytes)
	for _, rq := range reqs {
		l := g.st.logs[rq.part]
		from := rq.cursor
		recs, spans, err := readAhead(l, from, budget)
		if start, _ := l.Bounds(); errors.Is(err, ErrOffsetOutOfRange) && from < start {
			from = start
			recs, spans, err = readAhead(l, from, budget)
		}
		if err != nil {
			return fmt.Errorf("station %q partition %d: read at %d: %w", g.st.name, rq.part, from, err)
		}
		g.mu.Lock()
		p := g.parts[rq.part]
		if g.epoch == rq.epoch && p.cursor == rq.cursor && len(p.ahead) == 0 {
			if from != rq.cursor {
				g.skipTo(rq.part, from)
			}
			// Offsets a repair declared lost are passed over once.
			if len(recs) > 0 && recs[0].Offset > p.cursor {
				g.skipLost(rq.part, recs[0].Offset)
			} else if len(recs) == 0 {
				for _, r := range l.State().Lost {
					if r.From <= p.cursor && p.cursor < r.To {
						g.skipLost(rq.part, r.To)
					}
				}
			}
			p.ahead, p.spans = recs, spans
		}
		g.mu.Unlock()
	}
	return nil
}

// skipTo moves a partition that fell behind retention to the log's start.
// g.mu is held.
func (g *group) skipTo(pi int, start uint64) {
	p := g.parts[pi]
	g.st.b.log.Warn("consumer group fell behind retention; skipping deleted messages",
		"station", g.st.name, "group", g.name, "partition", pi, "from", p.cursor, "to", start)
	g.dropRuns(p, start)
	for off, pm := range p.pending {
		if off < start {
			delete(p.pending, off)
			g.track(-1)
			if !pm.delayed {
				g.pending--
			}
		}
	}
	p.cursor = start
	if p.commit < start {
		p.commit = start
		p.acked.reset(start)
		p.commit = p.acked.advance(start)
		g.dirty = true
	}
}

// reread reads the records of due redeliveries, without g.mu, and returns
// those still pending as deliveries; records retention removed are acked.
func (g *group) reread(redo []expiry) ([]Delivery, error) {
	out := make([]Delivery, 0, len(redo))
	for _, e := range redo {
		rec, ok, err := g.readOne(e.part, e.off)
		if err != nil {
			return out, err
		}
		g.mu.Lock()
		switch {
		case !ok:
			g.ackLocked(e.part, e.off)
		case g.parts[e.part].pending[e.off] == e.pm:
			out = append(out, Delivery{Partition: e.part, Record: rec, DeliveryCount: e.pm.deliveries})
		}
		g.mu.Unlock()
	}
	return out, nil
}

// track counts n more (or fewer) pending entries of this group against the
// broker's pending budget. g.mu is held.
func (g *group) track(n int) {
	g.tracked += n
	g.st.b.pendingEntries.Add(int64(n))
}

// compactExpiries drops acknowledged deliveries from the ack-deadline
// queue once they outnumber the live ones, so its size follows what is
// pending, not the delivery rate times the deadline. g.mu is held.
func (g *group) compactExpiries() {
	if g.expiries.len() < 2*g.tracked+1024 {
		return
	}
	q := g.expiries.items[g.expiries.head:]
	kept := q[:0]
	for _, e := range q {
		if g.valid(e) {
			kept = append(kept, e)
		}
	}
	clear(q[len(kept):])
	g.expiries = deque[expiry]{items: kept}
}

func (g *group) valid(e expiry) bool {
	p := g.parts[e.part]
	pm, ok := p.pending[e.off]
	return ok && pm == e.pm && pm.due.Equal(e.due) && !pm.dlq
}

func (g *group) nextDue() time.Time {
	var next time.Time
	for g.expiries.len() > 0 && !g.valid(g.expiries.front()) {
		g.expiries.pop()
	}
	if g.expiries.len() > 0 {
		next = g.expiries.front().due
	}
	if due := g.nextRunDue(); !due.IsZero() && (next.IsZero() || due.Before(next)) {
		next = due
	}
	for len(g.delayed) > 0 && !g.valid(g.delayed[0]) {
		heap.Pop(&g.delayed)
	}
	if len(g.delayed) > 0 && (next.IsZero() || g.delayed[0].due.Before(next)) {
		next = g.delayed[0].due
	}
	return next
}

// readOne reads the record at off, reporting false if it no longer exists.
func (g *group) readOne(part uint32, off uint64) (Record, bool, error) {
	recs, err := g.st.logs[part].Read(off, 1)
	if errors.Is(err, ErrOffsetOutOfRange) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("station %q partition %d: read at %d: %w", g.st.name, part, off, err)
	}
	for _, r := range recs {
		if r.Offset == off {
			return r, true, nil
		}
	}
	return Record{}, false, nil
}

// ackLocked acknowledges one pending delivery. g.mu is held.
func (g *group) ackLocked(part uint32, off uint64) bool {
	p := g.parts[part]
	if pm, ok := p.pending[off]; ok {
		delete(p.pending, off)
		if !pm.delayed {
			g.pending--
		}
		if pm.deliveries > 1 {
			g.countsDirty = true
		}
	} else if _, ok := g.takeFromRun(p, off); ok {
		g.pending--
	} else {
		return false
	}
	g.track(-1)
	p.acked.set(off)
	if off == p.commit {
		p.commit = p.acked.advance(p.commit)
		g.dirty = true
	}
	return true
}

// Ack acknowledges deliveries. Refs that are not pending (already acked,
// or never delivered) are reported in an error wrapping ErrNotPending after
// all the others were acked.
func (b *Broker) Ack(ctx context.Context, stationName, groupName string, refs []MessageRef) error {
	if err := b.leading(ctx); err != nil {
		return err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return err
	}
	return g.ack(refs)
}

func (g *group) ack(refs []MessageRef) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return fmt.Errorf("group %q on station %q: %w", g.name, g.st.name, ErrGroupNotFound)
	}
	var missing []MessageRef
	before := g.pending
	for _, r := range refs {
		if int(r.Partition) >= len(g.parts) || !g.ackLocked(r.Partition, r.Offset) {
			missing = append(missing, r)
		}
	}
	g.compactExpiries()
	g.compactRuns()
	g.wakeForRoom(before)
	return notPendingErr(g, missing)
}

// wakeForRoom wakes the group's pulls after acks took pending deliveries
// from before down, if a pull waits for room under max_ack_pending: a pull
// waiting for new messages has nothing to gain from an ack. g.mu is held.
func (g *group) wakeForRoom(before int) {
	if g.pending < before && g.full {
		g.full = false
		g.wake()
	}
}

func notPendingErr(g *group, missing []MessageRef) error {
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("group %q on station %q: %d of the messages (first: partition %d offset %d): %w",
		g.name, g.st.name, len(missing), missing[0].Partition, missing[0].Offset, ErrNotPending)
}

// Nack returns deliveries to the group for redelivery after delay.
func (b *Broker) Nack(ctx context.Context, stationName, groupName string, refs []MessageRef, delay time.Duration) error {
	if err := b.leading(ctx); err != nil {
		return err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return err
	}
	if delay < 0 || delay > b.opts.MaxNackDelay {
		return fieldErr("delay", "must be between 0 and %s, got %s", b.opts.MaxNackDelay, delay)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	due := g.st.b.now().Add(delay)
	var missing []MessageRef
	for _, r := range refs {
		var pm *pendingMsg
		if int(r.Partition) < len(g.parts) {
			p := g.parts[r.Partition]
			pm = p.pending[r.Offset]
			if pm == nil {
				if due, ok := g.takeFromRun(p, r.Offset); ok {
					pm = &pendingMsg{deliveries: 1, due: due}
					p.pending[r.Offset] = pm
				}
			}
		}
		if pm == nil || pm.dlq {
			missing = append(missing, r)
			continue
		}
		pm.due = due
		if !pm.delayed {
			pm.delayed = true
			g.pending--
		}
		heap.Push(&g.delayed, expiry{r.Partition, r.Offset, pm, due})
	}
	g.wake()
	return notPendingErr(g, missing)
}

// deadLetter moves deliveries that exhausted max_deliveries to the
// station's dead-letter station and acks them. Without a dead-letter
// station they are acked and counted. A failed move is retried later.
func (g *group) deadLetter(ctx context.Context, refs []MessageRef) {
	cfg := g.st.config()
	for _, r := range refs {
		rec, ok, err := g.readOne(r.Partition, r.Offset)
		if err == nil && ok && cfg.DeadLetterStation != "" {
			g.mu.Lock()
			deliveries := g.parts[r.Partition].pending[r.Offset].deliveriesOr(g.maxDeliveries())
			g.mu.Unlock()
			msg := Message{Key: rec.Key, Value: rec.Value, Headers: append(rec.Headers[:len(rec.Headers):len(rec.Headers)],
				Header{Key: HeaderDLQReason, Value: []byte("max_deliveries")},
				Header{Key: HeaderDLQStation, Value: []byte(g.st.name)},
				Header{Key: HeaderDLQGroup, Value: []byte(g.name)},
				Header{Key: HeaderDLQPartition, Value: []byte(strconv.FormatUint(uint64(r.Partition), 10))},
				Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatUint(r.Offset, 10))},
				Header{Key: HeaderDLQDeliveries, Value: []byte(strconv.FormatUint(uint64(deliveries), 10))},
			)}
			err = g.st.b.deadLetter(ctx, g.st, cfg.DeadLetterStation, []Message{msg})
			g.st.setDeadLetterError(err, cfg.DeadLetterStation)
		}
		g.mu.Lock()
		if err != nil {
			g.st.b.log.Debug("move message to dead-letter station; will retry",
				"station", g.st.name, "group", g.name, "partition", r.Partition, "offset", r.Offset,
				"dead_letter_station", cfg.DeadLetterStation, "err", err)
			if pm := g.parts[r.Partition].pending[r.Offset]; pm != nil {
				pm.dlq = false
				pm.due = g.st.b.now().Add(time.Second)
				heap.Push(&g.delayed, expiry{r.Partition, r.Offset, pm, pm.due})
			}
		} else {
			if cfg.DeadLetterStation == "" && ok {
				g.st.b.log.Warn("message exhausted its deliveries and the station has no dead-letter station; skipping it",
					"station", g.st.name, "group", g.name, "partition", r.Partition, "offset", r.Offset)
			}
			if g.ackLocked(r.Partition, r.Offset) {
				g.deadLettered++
				g.wake()
			}
		}
		g.mu.Unlock()
	}
}

func deliveredBytes(ds []Delivery) int {
	n := 0
	for i := range ds {
		if ds[i].whole {
			n += ds[i].span.bytes
		} else {
			n += recordBytes(&ds[i].Record)
		}
	}
	return n
}

// deliveredCount returns how many messages ds delivers.
func deliveredCount(ds []Delivery) int {
	n := len(ds)
	for i := range ds {
		if ds[i].whole {
			n += int(ds[i].span.next-ds[i].span.base) - 1
		}
	}
	return n
}

func recordBytes(r *Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

func (pm *pendingMsg) deliveriesOr(d uint32) uint32 {
	if pm == nil {
		return d
	}
	return pm.deliveries
}

func (b *Broker) existingGroup(stationName, groupName string) (*group, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	g, _, err := st.group(groupName, StartPosition{}, GroupConfig{}, false)
	return g, err
}

// sweep dead-letters deliveries of a group nobody pulls from.
func (g *group) sweep(ctx context.Context, now time.Time) {
	g.mu.Lock()
	var dead []MessageRef
	max := g.maxDeliveries()
	g.expireRuns(now, func(e expiry) {
		if e.pm.deliveries >= max {
			e.pm.dlq = true
			dead = append(dead, MessageRef{e.part, e.off})
			return
		}
		heap.Push(&g.delayed, e)
	})
	for g.expiries.len() > 0 {
		e := g.expiries.front()
		if !g.valid(e) {
			g.expiries.pop()
			continue
		}
		if e.due.After(now) || e.pm.deliveries < max {
			break
		}
		g.expiries.pop()
		e.pm.dlq = true
		dead = append(dead, MessageRef{e.part, e.off})
	}
	g.mu.Unlock()
	if len(dead) > 0 {
		g.deadLetter(ctx, dead)
	}
}

func (g *group) info() GroupInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	gi := GroupInfo{Station: g.st.name, Name: g.name, Config: g.rec.Config, CreatedAt: g.rec.CreatedAt, Pending: g.pending, DeadLettered: g.deadLettered, Redelivered: g.redelivered}
	for i, p := range g.parts {
		_, next := g.st.logs[i].Bounds()
		lag := uint64(0)
		if next > p.commit {
			lag = next - p.commit
		}
		gi.Partitions = append(gi.Partitions, GroupPartition{Committed: p.commit, Checkpointed: p.durable, Next: next, Lag: lag, Pending: len(p.pending) + p.inRuns})
		gi.Lag += lag
	}
	return gi
}

// Group describes a consumer group.
func (b *Broker) Group(stationName, groupName string) (GroupInfo, error) {
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return GroupInfo{}, err
	}
	return g.info(), nil
}

// Groups describes every group of a station, by name.
func (b *Broker) Groups(stationName string) ([]GroupInfo, error) {
	st, err := b.station(stationName)
	if err != nil {
		return nil, err
	}
	var out []GroupInfo
	for _, g := range st.groupList() {
		out = append(out, g.info())
	}
	return out, nil
}

// DeleteGroup deletes a consumer group and its committed offsets.
func (b *Broker) DeleteGroup(ctx context.Context, stationName, groupName string) error {
	if err := b.leading(ctx); err != nil {
		return err
	}
	st, err := b.station(stationName)
	if err != nil {
		return err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	g, ok := st.groups[groupName]
	if !ok {
		return fmt.Errorf("group %s on station %q: %w", quote(groupName), stationName, ErrGroupNotFound)
	}
	if err := b.groupsDB.DeleteGroup(stationName, groupName); err != nil {
		return fmt.Errorf("group %q on station %q: delete metadata: %w", groupName, stationName, err)
	}
	delete(st.groups, groupName)
	g.mu.Lock()
	g.deleted = true
	g.track(-g.tracked)
	g.wake()
	g.mu.Unlock()
	return nil
}

// ResetGroupOffset moves every partition of a group to start and forgets
// its pending deliveries.
func (b *Broker) ResetGroupOffset(ctx context.Context, stationName, groupName string, start StartPosition) (GroupInfo, error) {
	if err := b.leading(ctx); err != nil {
		return GroupInfo{}, err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return GroupInfo{}, err
	}
	commits, err := g.st.startOffsets(start)
	if err != nil {
		return GroupInfo{}, err
	}
	g.mu.Lock()
	for i, p := range g.parts {
		*p = groupPart{commit: commits[i], durable: p.durable, cursor: commits[i], acked: newAckWindow(commits[i]), pending: make(map[uint64]*pendingMsg)}
	}
	g.track(-g.tracked)
	g.epoch++
	g.pending = 0
	g.expiries = deque[expiry]{}
	g.runExp = deque[runExpiry]{}
	g.liveRuns = 0
	g.delayed = nil
	g.dirty = true
	g.wake()
	g.mu.Unlock()
	if err := b.commitOffsets(); err != nil {
		return GroupInfo{}, fmt.Errorf("group %q on station %q: store offsets: %w", groupName, stationName, err)
	}
	return g.info(), nil
}

// SeekGroup moves the named partitions of a group to the given offsets
// (clamped to what the log holds) and forgets their pending deliveries; the
// other partitions are untouched. A sink connector uses it to resume from
// the offsets its destination already holds. The new offsets are
// checkpointed before it returns.
func (b *Broker) SeekGroup(ctx context.Context, stationName, groupName string, offsets map[uint32]uint64) error {
	if err := b.leading(ctx); err != nil {
		return err
	}
	g, err := b.existingGroup(stationName, groupName)
	if err != nil {
		return err
	}
	g.mu.Lock()
	for part, off := range offsets {
		if int(part) >= len(g.parts) {
			g.mu.Unlock()
			return fieldErr("partition", "station %q has no partition %d", stationName, part)
		}
		first, next := g.st.logs[part].Bounds()
		off = min(max(off, first), next)
		p := g.parts[part]
		for _, pm := range p.pending {
			if !pm.delayed {
				g.pending--
			}
		}
		g.pending -= p.inRuns
		for _, r := range p.runs {
			if r.left > 0 {
				g.liveRuns--
			}
		}
		g.track(-len(p.pending) - p.inRuns)
		*p = groupPart{commit: off, durable: p.durable, cursor: off, acked: newAckWindow(off), pending: make(map[uint64]*pendingMsg)}
	}
	g.epoch++
	g.dirty = true
	g.wake()
	g.mu.Unlock()
	if err := b.commitOffsets(); err != nil {
		return fmt.Errorf("group %q on station %q: store offsets: %w", groupName, stationName, err)
	}
	return nil
}

// delayHeap orders nacked deliveries by redelivery time.
type delayHeap []expiry

func (h delayHeap) Len() int           { return len(h) }
func (h delayHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h delayHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *delayHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *delayHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// deque is a FIFO queue on a slice that reuses its space.
type deque[T any] struct {
	items []T
	head  int
}

func (q *deque[T]) len() int { return len(q.items) - q.head }
func (q *deque[T]) front() T { return q.items[q.head] }
func (q *deque[T]) push(x T) { q.items = append(q.items, x) }
func (q *deque[T]) pop() {
	var zero T
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
}
