package broker

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	messagesIn, bytesIn, messagesOut, bytesOut *prometheus.CounterVec
	deadLetterFailing                          *prometheus.GaugeVec
	produceLatency, fsyncLatency               prometheus.Histogram
	lag, pending                               *prometheus.Desc
}

type stationMetrics struct {
	messagesIn, bytesIn, messagesOut, bytesOut prometheus.Counter
	deadLetterFailing                          prometheus.Gauge
}

func newMetrics() *metrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "junction", Subsystem: "station", Name: name, Help: help}, []string{"station"})
	}
	latency := prometheus.ExponentialBuckets(50e-6, 2, 16) // 50µs .. 1.6s
	return &metrics{
		messagesIn:  counter("messages_in_total", "Messages produced to the station."),
		bytesIn:     counter("bytes_in_total", "Key, value and header bytes produced to the station."),
		messagesOut: counter("messages_out_total", "Messages delivered to consumer groups, redeliveries included."),
		bytesOut:    counter("bytes_out_total", "Key, value and header bytes delivered to consumer groups."),
		deadLetterFailing: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "junction", Subsystem: "station", Name: "dead_letter_failing",
			Help: "1 while messages of the station cannot be moved to its dead-letter station."}, []string{"station"}),
		produceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "junction", Name: "produce_latency_seconds", Help: "Time from receiving a produce to its messages being durable.", Buckets: latency}),
		fsyncLatency:   prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "junction", Name: "fsync_latency_seconds", Help: "Duration of segment fsyncs (one per group commit).", Buckets: latency}),
		lag:            prometheus.NewDesc("junction_group_lag_messages", "Messages of the station not yet acknowledged by the group.", []string{"station", "group"}, nil),
		pending:        prometheus.NewDesc("junction_group_pending_messages", "Deliveries awaiting acknowledgement.", []string{"station", "group"}, nil),
	}
}

func (m *metrics) station(name string) *stationMetrics {
	return &stationMetrics{
		messagesIn:        m.messagesIn.WithLabelValues(name),
		bytesIn:           m.bytesIn.WithLabelValues(name),
		messagesOut:       m.messagesOut.WithLabelValues(name),
		bytesOut:          m.bytesOut.WithLabelValues(name),
		deadLetterFailing: m.deadLetterFailing.WithLabelValues(name),
	}
}

func (m *metrics) forgetStation(name string) {
	for _, v := range []*prometheus.CounterVec{m.messagesIn, m.bytesIn, m.messagesOut, m.bytesOut} {
		v.DeleteLabelValues(name)
	}
	m.deadLetterFailing.DeleteLabelValues(name)
}

func (m *metrics) observeFsync(d time.Duration) { m.fsyncLatency.Observe(d.Seconds()) }

func (m *metrics) register(reg prometheus.Registerer, b *Broker) error {
	for _, c := range []prometheus.Collector{pendingBytesGauge(b), m.messagesIn, m.bytesIn, m.messagesOut, m.bytesOut, m.deadLetterFailing, m.produceLatency, m.fsyncLatency, &groupCollector{m, b}, newIntegrityCollector(b), newDedupCollector(b), newSegmentFilesCollector(b)} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func pendingBytesGauge(b *Broker) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "junction", Name: "pending_deliveries_bytes",
		Help: "Memory charged for deliveries awaiting acknowledgement in all consumer groups (bounded by the broker's MaxPendingBytes)."},
		func() float64 { return float64(b.pendingEntries.Load() * PendingEntryBytes) })
}

// groupCollector reports every group's lag at scrape time.
type groupCollector struct {
	m *metrics
	b *Broker
}

func (c *groupCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.lag
	ch <- c.m.pending
}

func (c *groupCollector) Collect(ch chan<- prometheus.Metric) {
	sts := c.b.stationList()
	for _, st := range sts {
		for _, g := range st.groupList() {
			gi := g.info()
			ch <- prometheus.MustNewConstMetric(c.m.lag, prometheus.GaugeValue, float64(gi.Lag), st.name, g.name)
			ch <- prometheus.MustNewConstMetric(c.m.pending, prometheus.GaugeValue, float64(gi.Pending), st.name, g.name)
		}
	}
}
