package seglog

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/vfs"
)

const benchBatch, benchValue = 100, 128

func benchRecords() []Record {
	rs := make([]Record, benchBatch)
	v := bytes.Repeat([]byte("x"), benchValue)
	for i := range rs {
		rs[i] = Record{Value: v}
	}
	return rs
}

func reportThroughput(b *testing.B, start time.Time) {
	secs := time.Since(start).Seconds()
	msgs := float64(b.N) * benchBatch
	b.ReportMetric(msgs/secs, "msgs/s")
	b.ReportMetric(msgs*benchValue/secs/1e6, "MB/s")
}

// BenchmarkAppend measures durable (SyncAlways) appends of 100 × 128 B
// batches to a temporary directory; b.N batches are shared by the appenders.
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 4} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			b.ReportAllocs()
			start := time.Now()
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range appenders {
				n := b.N / appenders
				if w < b.N%appenders {
					n++
				}
				wg.Go(func() {
					rs := benchRecords()
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
			reportThroughput(b, start)
		})
	}
}

// BenchmarkRead measures sequential reads of 1 MiB from a log of 100 × 128 B
// batches; each iteration reads one batch's worth of messages on average.
func BenchmarkRead(b *testing.B) {
	for _, fsName := range []string{"os", "mem"} {
		b.Run(fsName, func(b *testing.B) {
			o := Options{Dir: b.TempDir(), Logger: quiet, Sync: SyncNever}
			if fsName == "mem" {
				o.FS, o.Dir = vfs.NewMem(), "/log"
			}
			l, err := Open(o)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rs := benchRecords()
			for range 2000 {
				if _, err := l.Append(context.Background(), rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			start := time.Now()
			b.ResetTimer()
			var from uint64
			read := 0
			for read < b.N*benchBatch {
				got, err := l.Read(from, 1<<20)
				if err != nil {
					b.Fatal(err)
				}
				read += len(got)
				from = got[len(got)-1].Offset + 1
				if from == l.NextOffset() {
					from = 0
				}
			}
			b.StopTimer()
			reportThroughput(b, start)
		})
	}
}
