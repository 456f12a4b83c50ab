package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/junctionhq/junction/sdk/connector"
)

// benchRecords are 10,000 JSON records of about 200 bytes on 4 partitions.
func benchRecords(from uint64) []connector.Record {
	recs := make([]connector.Record, 10_000)
	pad := bytes.Repeat([]byte("x"), 150)
	for i := range recs {
		recs[i] = connector.Record{
			Key:       fmt.Appendf(nil, "customer-%d", i%97),
			Value:     fmt.Appendf(nil, `{"order":%d,"amount":%d,"note":"%s"}`, i, i*7, pad),
			Timestamp: base,
			Partition: uint32(i % 4),
			Offset:    from + uint64(i/4),
		}
	}
	return recs
}

func recordBytes(recs []connector.Record) int64 {
	var n int64
	for _, r := range recs {
		n += int64(len(r.Key) + len(r.Value))
	}
	return n
}

// BenchmarkSink measures writing 10,000 records per op to gofakes3 as
// objects of 2,500 records.
func BenchmarkSink(b *testing.B) {
	for _, tc := range []struct{ format, compression string }{{"jsonl", "none"}, {"jsonl", "zstd"}, {"parquet", "zstd"}} {
		b.Run(tc.format+"-"+tc.compression, func(b *testing.B) {
			f := newFakeS3(b)
			snk, _ := openSink(b, f.config(map[string]any{"format": tc.format, "compression": tc.compression, "flush": map[string]any{"max_records": 2500}}), "bench", 4)
			defer snk.Teardown(context.Background())
			recs := benchRecords(0)
			b.SetBytes(recordBytes(recs))
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

// BenchmarkSource measures reading 10,000 records per op from gofakes3.
func BenchmarkSource(b *testing.B) {
	for _, tc := range []struct{ format, compression string }{{"jsonl", "none"}, {"jsonl", "zstd"}, {"parquet", "zstd"}} {
		b.Run(tc.format+"-"+tc.compression, func(b *testing.B) {
			f := newFakeS3(b)
			recs := benchRecords(0)
			snk, _ := openSink(b, f.config(map[string]any{"prefix": "bench/", "format": tc.format, "compression": tc.compression, "flush": map[string]any{"max_records": 2500}}), "bench", 4)
			if err := snk.Write(context.Background(), recs); err != nil {
				b.Fatal(err)
			}
			if err := snk.Teardown(context.Background()); err != nil {
				b.Fatal(err)
			}
			cfg := f.config(map[string]any{"prefix": "bench/", "poll_interval": "10ms", "batch": map[string]any{"max_records": 1000}})
			b.SetBytes(recordBytes(recs))
			b.ResetTimer()
			for range b.N {
				src := openSource(b, cfg, nil)
				readAll(b, src, len(recs))
				_ = src.Teardown(context.Background())
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
