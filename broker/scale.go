package broker

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/junctionhq/junction/broker/seglog"
	"github.com/junctionhq/junction/internal/par"
)

// memFiles holds the segments of memory stations: they cost no file
// descriptor, so none is ever closed to stay within a limit.
var memFiles = seglog.NewFileCache(math.MaxInt)

// parallelism bounds the stations opened or closed at once. Opening and
// closing a log are a few small reads, writes and fsyncs, so a broker with
// thousands of partitions starts and stops in the time of a few hundred of
// them rather than thousands.
const parallelism = 16

// closeStations closes every station: it stops their groups, then closes
// all their partition logs together, so that the high-water marks of
// thousands of partitions are made durable by a few syncs of the
// filesystem rather than two fsyncs each (see seglog.CloseAll).
func (b *Broker) closeStations() {
	sts := make([]*station, 0, len(b.stations))
	for _, st := range b.stations {
		sts = append(sts, st)
	}
	par.For(len(sts), parallelism, func(i int) { sts[i].stopServing() })
	type part struct {
		st *station
		p  int
	}
	var logs []*seglog.Log
	var parts, others []part
	for _, st := range sts {
		for p, l := range st.logs {
			if sl, ok := l.(segLog); ok {
				logs = append(logs, sl.l)
				parts = append(parts, part{st, p})
			} else {
				others = append(others, part{st, p})
			}
		}
	}
	warn := func(pt part, err error) {
		if err != nil {
			b.log.Warn("close partition log", "station", pt.st.name, "partition", pt.p, "err", err)
		}
	}
	par.For(len(others), parallelism, func(i int) { warn(others[i], others[i].st.logs[others[i].p].Close()) })
	for i, err := range seglog.CloseAll(logs) {
		warn(parts[i], err)
	}
	for _, st := range sts {
		st.notify()
	}
}

// segmentFilesCollector reports the cache of open segment files of disk
// stations at scrape time.
type segmentFilesCollector struct {
	files                  *seglog.FileCache
	open, limit, evictions *prometheus.Desc
}

func newSegmentFilesCollector(b *Broker) *segmentFilesCollector {
	return &segmentFilesCollector{
		files: b.segFiles,
		open: prometheus.NewDesc("junction_segment_files_open",
			"Open files of sealed segments and idle partitions' active segments of disk stations (the active segment of a partition being written is open besides).", nil, nil),
		limit: prometheus.NewDesc("junction_segment_files_limit",
			"Most files of sealed segments and idle partitions' active segments kept open (the server's --max-open-segments).", nil, nil),
		evictions: prometheus.NewDesc("junction_segment_file_evictions_total",
			"Files of sealed segments closed to stay within the limit; reading them again reopens them.", nil, nil),
	}
}

func (c *segmentFilesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.limit
	ch <- c.evictions
}

func (c *segmentFilesCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.files.Stats()
	ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.Open))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(st.Limit))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions))
}
