package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

// benchRecords are 10,000 JSON records of about size bytes on 4
// partitions, starting at offset from per partition.
func benchRecords(size int, from uint64) []connector.Record {
	recs := make([]connector.Record, 10_000)
	for i := range recs {
		head := fmt.Sprintf(`{"order":%d,"amount":%d,"note":"`, i, i*7)
		pad := max(size-len(head)-2, 0)
		recs[i] = connector.Record{
			Key:       fmt.Appendf(nil, "customer-%d", i%97),
			Value:     append(append([]byte(head), bytes.Repeat([]byte("x"), pad)...), '"', '}'),
			Timestamp: base,
			Partition: uint32(i % 4),
			Offset:    from + uint64(i/4),
		}
	}
	return recs
}

// BenchmarkSink measures writing 10,000 JSON records per op through the
// Storage Write API into the in-process fake, which decodes every row with
// the writer schema (so the figures include the fake's work too).
func BenchmarkSink(b *testing.B) {
	for _, size := range []int{128, 1024} {
		for _, delivery := range []string{"exactly_once", "at_least_once"} {
			b.Run(fmt.Sprintf("%dB-%s", size, delivery), func(b *testing.B) {
				f := newFakeBQ(b)
				f.set(func(f *fakeBQ) { f.discard = true })
				snk, _ := openSink(b, f.config(map[string]any{"delivery": delivery}), "bench", 4)
				defer snk.Teardown(context.Background())
				recs := benchRecords(size, 0)
				var n int64
				for _, r := range recs {
					n += int64(len(r.Value))
				}
				b.SetBytes(n)
				b.ResetTimer()
				for i := range b.N {
					for j := range recs {
						recs[j].Offset = uint64(i)*2500 + uint64(j/4)
					}
					if err := snk.Write(context.Background(), recs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
