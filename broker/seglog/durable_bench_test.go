package seglog

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkAppendDurable measures SyncAlways appends of 100-record batches
// from parallel appenders to a temporary directory on disk: the produce path
// of a partition, where the disk's fsync bounds throughput. b.N batches are
// shared by the appenders. Besides MB/s it reports fsyncs per second,
// appends covered by one fsync, the fsync time at p50 and p99 and the
// append latency at p50 and p99 (in microseconds). The segment=1MiB runs
// roll 64 times as often as the default, so the cost of a roll shows.
func BenchmarkAppendDurable(b *testing.B) {
	for _, segBytes := range []int64{DefaultSegmentBytes, 1 << 20} {
		for _, value := range []int{128, 1024} {
			for _, appenders := range []int{4, 16} {
				name := fmt.Sprintf("segment=%dMiB/value=%d/appenders=%d", segBytes>>20, value, appenders)
				b.Run(name, func(b *testing.B) { benchAppendDurable(b, segBytes, value, appenders) })
			}
		}
	}
}

func benchAppendDurable(b *testing.B, segBytes int64, value, appenders int) {
	var mu sync.Mutex
	var syncs []time.Duration
	onSync := func(d time.Duration) {
		mu.Lock()
		syncs = append(syncs, d)
		mu.Unlock()
	}
	l, err := Open(Options{Dir: b.TempDir(), Logger: quiet, SegmentBytes: segBytes, OnSync: onSync})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rs := make([]Record, benchBatch)
	v := bytes.Repeat([]byte("x"), value)
	for i := range rs {
		rs[i] = Record{Value: v}
	}
	lat := make([][]time.Duration, appenders)
	b.ReportAllocs()
	b.SetBytes(int64(benchBatch * value))
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range appenders {
		n := b.N / appenders
		if w < b.N%appenders {
			n++
		}
		lat[w] = make([]time.Duration, 0, n)
		wg.Go(func() {
			for range n {
				t0 := time.Now()
				if _, err := l.Append(context.Background(), rs); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	secs := time.Since(start).Seconds()
	mu.Lock()
	defer mu.Unlock()
	n := max(len(syncs), 1)
	b.ReportMetric(float64(b.N)*benchBatch/secs, "msgs/s")
	b.ReportMetric(float64(n)/secs, "fsyncs/s")
	b.ReportMetric(float64(b.N)/float64(n), "appends/fsync")
	b.ReportMetric(quantileMicros(syncs, 0.50), "fsync-p50-µs")
	b.ReportMetric(quantileMicros(syncs, 0.99), "fsync-p99-µs")
	all := slices.Concat(lat...)
	b.ReportMetric(quantileMicros(all, 0.50), "append-p50-µs")
	b.ReportMetric(quantileMicros(all, 0.99), "append-p99-µs")
}

// quantileMicros returns the q-quantile of ds in microseconds; ds is
// sorted in place.
func quantileMicros(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return float64(ds[int(q*float64(len(ds)-1))]) / 1e3
}
