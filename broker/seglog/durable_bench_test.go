package seglog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppendDurable measures SyncAlways appends of 100-record batches
// from parallel appenders to a temporary directory on disk: the produce path
// of a partition, where the disk's fsync bounds throughput. b.N batches are
// shared by the appenders. It reports MB/s of record values, fsyncs per
// second and appends covered by one fsync.
func BenchmarkAppendDurable(b *testing.B) {
	for _, value := range []int{128, 1024} {
		for _, appenders := range []int{4, 16} {
			b.Run(fmt.Sprintf("value=%d/appenders=%d", value, appenders), func(b *testing.B) {
				var syncs atomic.Int64
				l, err := Open(Options{Dir: b.TempDir(), Logger: quiet, OnSync: func(time.Duration) { syncs.Add(1) }})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				rs := make([]Record, benchBatch)
				v := bytes.Repeat([]byte("x"), value)
				for i := range rs {
					rs[i] = Record{Value: v}
				}
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
					wg.Go(func() {
						for range n {
							if _, err := l.Append(context.Background(), rs); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				secs := time.Since(start).Seconds()
				n := max(syncs.Load(), 1)
				b.ReportMetric(float64(b.N)*benchBatch/secs, "msgs/s")
				b.ReportMetric(float64(n)/secs, "fsyncs/s")
				b.ReportMetric(float64(b.N)/float64(n), "appends/fsync")
			})
		}
	}
}
