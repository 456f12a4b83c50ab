package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/connector"
)

// BenchmarkSink measures Write of batches of 10,000 records of 128 bytes
// (encoded as JSON lines, appended and fsynced per batch), with a JSON
// document as the value and with 128 zero bytes (escaped in the line), as
// plugin's BenchmarkSink sends.
func BenchmarkSink(b *testing.B) {
	for _, tc := range []struct {
		name  string
		value []byte
	}{
		{"json", []byte(`{"note":"` + strings.Repeat("x", 128-11) + `"}`)},
		{"zeros", make([]byte, 128)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := newSink(SinkConfig{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			s.(*sink).cfg.Rotate.MaxBytes = 64 << 20
			if _, err := s.Open(context.Background(), connector.SinkInfo{Station: "orders", Partitions: 1}); err != nil {
				b.Fatal(err)
			}
			defer s.Teardown(context.Background())
			recs := make([]connector.Record, 10_000)
			now := time.Now()
			for i := range recs {
				recs[i] = connector.Record{Value: tc.value, Timestamp: now}
			}
			b.SetBytes(int64(len(recs) * len(tc.value)))
			b.ResetTimer()
			for i := range b.N {
				for j := range recs {
					recs[j].Offset = uint64(i*len(recs) + j)
				}
				if err := s.Write(context.Background(), recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
		})
	}
}
