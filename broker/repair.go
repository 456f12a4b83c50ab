package broker

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/seglog"
)

// Headers of the marker message RepairPartition writes to a station's
// dead-letter station for each range of offsets lost to corruption, with
// HeaderDLQReason set to DLQReasonLost and HeaderDLQStation and
// HeaderDLQPartition naming the partition.
const (
	HeaderLostFrom = "junction-lost-from"
	HeaderLostTo   = "junction-lost-to"
	DLQReasonLost  = "lost_to_corruption"
)

// Defaults of the background scrub.
const (
	DefaultScrubBytesPerSecond = 32 << 20
	DefaultScrubInterval       = 24 * time.Hour
)

// RepairResult reports what a partition repair declared lost.
type RepairResult struct {
	Partition uint32
	// Ranges are the damaged ranges settled, each with the offsets lost.
	Ranges []seglog.Repaired
	// MarkedIn is the dead-letter station that received a marker message
	// per range; empty when the station has none, and the ranges were
	// logged (they stay listed in the partition's stats either way).
	MarkedIn string
}

// RepairPartition settles every damaged range of one partition of a
// station as mode says (see seglog.RepairMode): the offsets are declared
// lost, consumer groups move past them, and they are never reused. For
// each range it writes a marker message saying which offsets were lost to
// the station's dead-letter station, or logs it when there is none.
func (b *Broker) RepairPartition(ctx context.Context, stationName string, partition uint32, mode seglog.RepairMode) (RepairResult, error) {
	st, err := b.station(stationName)
	if err != nil {
		return RepairResult{}, err
	}
	if int(partition) >= len(st.logs) {
		return RepairResult{}, fieldErr("partition", "station %q has no partition %d", stationName, partition)
	}
	if mode != seglog.RepairSkip && mode != seglog.RepairCut {
		return RepairResult{}, fieldErr("mode", "must be skip or cut")
	}
	r, ok := st.logs[partition].(Repairer)
	if !ok {
		return RepairResult{}, fmt.Errorf("station %q partition %d: its log cannot be repaired", stationName, partition)
	}
	reps, err := r.Repair(ctx, mode)
	res := RepairResult{Partition: partition, Ranges: reps}
	if err != nil {
		return res, fmt.Errorf("station %q partition %d: repair: %w", stationName, partition, err)
	}
	dls := st.config().DeadLetterStation
	for _, r := range reps {
		b.log.Warn("partition repaired; offsets lost to corruption",
			"station", stationName, "partition", partition, "mode", mode.String(), "from_offset", r.From, "to_offset", r.To,
			"bytes_removed", r.BytesRemoved, "reason", r.Damage.Reason, "dead_letter_station", dls)
		if dls == "" {
			continue
		}
		from, to := strconv.FormatUint(r.From, 10), strconv.FormatUint(r.To, 10)
		msg := Message{
			Value: fmt.Appendf(nil, "offsets %d to %d of station %s partition %d were lost to corruption (%s) and passed over by repair (%s)",
				r.From, r.To, stationName, partition, r.Damage.Reason, mode),
			Headers: []Header{
				{Key: HeaderDLQReason, Value: []byte(DLQReasonLost)},
				{Key: HeaderDLQStation, Value: []byte(stationName)},
				{Key: HeaderDLQPartition, Value: []byte(strconv.FormatUint(uint64(partition), 10))},
				{Key: HeaderDLQOffset, Value: []byte(from)},
				{Key: HeaderLostFrom, Value: []byte(from)},
				{Key: HeaderLostTo, Value: []byte(to)},
			},
		}
		if _, err := b.Produce(ctx, dls, []Message{msg}); err != nil {
			return res, fmt.Errorf("station %q partition %d: repaired, but writing the lost-offsets marker to %q failed: %w", stationName, partition, dls, err)
		}
	}
	if dls != "" && len(reps) > 0 {
		res.MarkedIn = dls
	}
	st.notify()
	return res, nil
}

// scrubLoop verifies every partition's checksums in the background, at
// start and then every interval, at most rate bytes per second, so that
// corruption in segments no read has touched is found and reported.
func (b *Broker) scrubLoop(rate int64, interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		<-b.stop
		cancel()
	}()
	go func() {
		defer b.wg.Done()
		for {
			b.scrubAll(ctx, rate)
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
}

// ScrubNow verifies every partition's checksums now, without a rate limit,
// and returns once done; what it finds shows in the stations' stats.
func (b *Broker) ScrubNow(ctx context.Context) { b.scrubAll(ctx, 0) }

func (b *Broker) scrubAll(ctx context.Context, rate int64) {
	sts := b.stationList()
	for _, st := range sts {
		if st.config().Storage == StorageMemory {
			continue
		}
		for p, l := range st.logs {
			if ctx.Err() != nil {
				return
			}
			r, ok := l.(Repairer)
			if !ok {
				continue
			}
			before := len(l.State().Damaged)
			if _, err := r.Scrub(ctx, rate); err != nil && ctx.Err() == nil && err != seglog.ErrClosed {
				b.log.Error("scrub partition", "station", st.name, "partition", p, "err", err)
			}
			if after := len(l.State().Damaged); after > before {
				b.log.Error("scrub found corrupt data; the partition serves what is intact until repaired with junction station repair",
					"station", st.name, "partition", p, "damaged_ranges", after)
			}
		}
	}
}

// integrityCollector reports the number of partitions with damage awaiting
// repair at scrape time.
type integrityCollector struct {
	b       *Broker
	corrupt *prometheus.Desc
}

func newIntegrityCollector(b *Broker) *integrityCollector {
	return &integrityCollector{b: b, corrupt: prometheus.NewDesc("junction_corrupt_partitions",
		"Partitions with corrupt or missing data awaiting repair (junction station repair).", nil, nil)}
}

func (c *integrityCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.corrupt }

func (c *integrityCollector) Collect(ch chan<- prometheus.Metric) {
	n := 0
	for _, st := range c.b.stationList() {
		for _, l := range st.logs {
			if l.State().Corrupt() {
				n++
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(c.corrupt, prometheus.GaugeValue, float64(n))
}
