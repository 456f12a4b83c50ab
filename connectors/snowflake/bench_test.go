package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/junctionhq/junction/connectors/snowflake/internal/sffake"
	"github.com/junctionhq/junction/sdk/connector"
)

// benchRecords are 5,000 JSON records of about size bytes on 4 partitions.
func benchRecords(size int) []connector.Record {
	recs := make([]connector.Record, 5_000)
	for i := range recs {
		v := fmt.Appendf(nil, `{"order":%d,"customer":"c-%d","amount":%d,"note":""}`, i, i%97, i*7)
		pad := bytes.Repeat([]byte("x"), max(0, size-len(v)))
		v = append(v[:len(v)-2], pad...)
		v = append(v, `"}`...)
		recs[i] = connector.Record{Key: fmt.Appendf(nil, "customer-%d", i%97), Value: v, Timestamp: base, Partition: uint32(i % 4)}
	}
	return recs
}

// BenchmarkSink measures writing batches of 5,000 JSON records of 128 B
// and 1 KiB into the fake, in modes variant and columns. Besides records/s
// and MB/s (dominated by the fake's SQLite), it reports connector-ns/batch:
// the time per batch not spent inside the fake (encoding, the driver, the
// HTTP client), which is the connector's own cost.
func BenchmarkSink(b *testing.B) {
	for _, mode := range []string{"variant", "columns"} {
		for _, size := range []int{128, 1024} {
			b.Run(fmt.Sprintf("%s-%dB", mode, size), func(b *testing.B) {
				f := sffake.New(b)
				snk, _ := openSink(b, fakeConfig(f, map[string]any{"mode": mode}), "bench", 4)
				recs := benchRecords(size)
				var n int64
				for _, r := range recs {
					n += int64(len(r.Value))
				}
				b.SetBytes(n)
				busy := f.Busy()
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					for j := range recs {
						recs[j].Offset = uint64(i)*uint64(len(recs)/4) + uint64(j/4)
					}
					if err := snk.Write(context.Background(), recs); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N*len(recs))/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64((elapsed-(f.Busy()-busy)).Nanoseconds())/float64(b.N), "connector-ns/batch")
			})
		}
	}
}
