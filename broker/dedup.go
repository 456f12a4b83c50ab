package broker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/seglog"
)

// Dedup window limits.
const (
	// MaxMessageIDBytes bounds a producer's message id.
	MaxMessageIDBytes = 256
	// DefaultDedupIndexBytes is the default cap of a station's dedup index
	// per partition.
	DefaultDedupIndexBytes = 32 << 20
	// dedupEntryOverhead is what one id costs besides its bytes: the map
	// slot, the entry and its channel, the bucket's pointer.
	dedupEntryOverhead = 256
	// dedupBuckets is how many time buckets a window is split into: ids
	// expire a bucket at a time.
	dedupBuckets = 16
)

// dedupIndex remembers producer message ids for a station's dedup window.
// Ids sit in time buckets by expiry, so that expiring is a bucket at a
// time; the index accounts the bytes it holds and, at its cap, drops the
// oldest ids early and says so.
type dedupIndex struct {
	station string
	log     *slog.Logger

	mu       sync.Mutex
	entries  map[string]*dedupEntry
	buckets  []*dedupBucket // by end, oldest first
	bytes    int64          // accounted bytes of the ids held
	cap      int64
	evicted  uint64    // ids dropped early by the cap
	warnedAt time.Time // last log line about the cap
}

// dedupBucket holds the ids expiring before end, in insertion order.
type dedupBucket struct {
	end   time.Time
	ids   []*dedupEntry
	head  int // ids before head were dropped early
	bytes int64
}

type dedupEntry struct {
	id      string
	msg     int // index of the claiming message in its request
	result  ProduceResult
	expires time.Time
	done    chan struct{} // closed once the first produce of id settled
	failed  bool
}

func entryCost(id string) int64 { return int64(len(id)) + dedupEntryOverhead }

func newDedupIndex(station string, capBytes int64, log *slog.Logger) *dedupIndex {
	return &dedupIndex{station: station, log: log, cap: capBytes, entries: make(map[string]*dedupEntry)}
}

// expire drops the buckets whose ids all expired by now. d.mu is held.
func (d *dedupIndex) expire(now time.Time) {
	n := 0
	for ; n < len(d.buckets) && !d.buckets[n].end.After(now); n++ {
		b := d.buckets[n]
		for _, e := range b.ids[b.head:] {
			if d.entries[e.id] == e {
				delete(d.entries, e.id)
			}
		}
		d.bytes -= b.bytes
	}
	if n > 0 {
		clear(d.buckets[:n])
		d.buckets = d.buckets[n:]
	}
}

// add files e in the bucket of its expiry and enforces the cap. d.mu is
// held.
func (d *dedupIndex) add(e *dedupEntry, window time.Duration, now time.Time) {
	span := max(window/dedupBuckets, time.Second)
	end := e.expires.Truncate(span).Add(span)
	i, found := slices.BinarySearchFunc(d.buckets, end, func(b *dedupBucket, t time.Time) int { return b.end.Compare(t) })
	if !found {
		d.buckets = slices.Insert(d.buckets, i, &dedupBucket{end: end})
	}
	b := d.buckets[i]
	b.ids = append(b.ids, e)
	cost := entryCost(e.id)
	b.bytes += cost
	d.bytes += cost
	d.entries[e.id] = e
	if d.bytes > d.cap {
		d.evict(now)
	}
}

// evict drops the oldest ids until the index is within its cap. d.mu is
// held.
func (d *dedupIndex) evict(now time.Time) {
	var n uint64
	for d.bytes > d.cap && len(d.buckets) > 0 {
		b := d.buckets[0]
		if b.head == len(b.ids) {
			d.buckets[0] = nil
			d.buckets = d.buckets[1:]
			continue
		}
		e := b.ids[b.head]
		b.ids[b.head] = nil
		b.head++
		if d.entries[e.id] == e {
			delete(d.entries, e.id)
		}
		cost := entryCost(e.id)
		b.bytes -= cost
		d.bytes -= cost
		n++
		if b.head > 1024 && b.head*2 > len(b.ids) {
			b.ids = slices.Delete(b.ids, 0, b.head)
			b.head = 0
		}
	}
	d.evicted += n
	if n > 0 && now.Sub(d.warnedAt) >= time.Minute {
		d.warnedAt = now
		d.log.Warn("dedup index reached its size cap; the oldest message ids fall out of the dedup window early",
			"station", d.station, "cap_bytes", d.cap, "evicted_ids_total", d.evicted)
	}
}

// lookup returns the live entry of id. d.mu is held.
func (d *dedupIndex) lookup(id string, now time.Time) (*dedupEntry, bool) {
	e, ok := d.entries[id]
	if ok && e.expires.Before(now) {
		return nil, false
	}
	return e, ok
}

func (d *dedupIndex) restore(id string, r ProduceResult, expires time.Time, window time.Duration, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	done := make(chan struct{})
	close(done)
	d.add(&dedupEntry{id: id, result: r, expires: expires, done: done}, window, now)
}

// stats returns the accounted bytes, the ids held and the ids dropped early.
func (d *dedupIndex) stats() (bytes int64, ids int, evicted uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bytes, len(d.entries), d.evicted
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
			e, ok := d.lookup(id, now)
			if !ok {
				e = &dedupEntry{id: id, msg: i, expires: now.Add(window), done: make(chan struct{})}
				d.add(e, window, now)
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

// rebuildDedup reloads the message ids of the last dedup window: from the
// snapshot a clean shutdown left and what the logs gained after it, or
// else from the logs, reading only the records of the window (from the
// first batch whose timestamp reaches it). The index keeps to its cap
// meanwhile.
// Corrupt data is passed over: its ids are gone with it.
func (st *station) rebuildDedup(now time.Time) error {
	window := st.config().DedupWindow
	since := now.Add(-window).UnixNano()
	snapshot := st.loadDedup(now, window)
	for p, l := range st.logs {
		if snapshot != nil {
			start, _ := l.Bounds()
			if err := st.readDedup(p, max(snapshot[p], start), window, now); err != nil {
				return err
			}
			continue
		}
		off, err := l.OffsetForTime(since)
		if seglog.IsCorruption(err) {
			st.b.log.Warn("rebuild dedup window: corrupt data; reading the whole partition", "station", st.name, "partition", p, "err", err)
			off, _ = l.Bounds()
			err = nil
		}
		if err != nil {
			return fmt.Errorf("station %q partition %d: rebuild dedup window: %w", st.name, p, err)
		}
		if err := st.readDedup(p, off, window, now); err != nil {
			return err
		}
	}
	return nil
}

// readDedup adds the message ids of partition p from offset off on.
func (st *station) readDedup(p int, off uint64, window time.Duration, now time.Time) error {
	err := st.scanIDs(context.Background(), p, off, func(id []byte, offset uint64, ts int64) {
		if len(id) <= MaxMessageIDBytes {
			st.dedup.restore(string(id), ProduceResult{Partition: uint32(p), Offset: offset}, time.Unix(0, ts).Add(window), window, now)
		}
	})
	if err != nil {
		return fmt.Errorf("station %q partition %d: rebuild dedup window: %w", st.name, p, err)
	}
	return nil
}

// dedupCollector reports every station's dedup index size at scrape time.
type dedupCollector struct {
	b               *Broker
	bytes, evictedD *prometheus.Desc
}

func newDedupCollector(b *Broker) *dedupCollector {
	return &dedupCollector{
		b:        b,
		bytes:    prometheus.NewDesc("junction_dedup_index_bytes", "Accounted bytes of the station's dedup window index.", []string{"station"}, nil),
		evictedD: prometheus.NewDesc("junction_dedup_evicted_ids_total", "Message ids dropped from the dedup window early because the index reached its size cap.", []string{"station"}, nil),
	}
}

func (c *dedupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.evictedD
}

func (c *dedupCollector) Collect(ch chan<- prometheus.Metric) {
	sts := c.b.stationList()
	for _, st := range sts {
		bytes, _, evicted := st.dedup.stats()
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(bytes), st.name)
		ch <- prometheus.MustNewConstMetric(c.evictedD, prometheus.CounterValue, float64(evicted), st.name)
	}
}
