package broker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkPullBatchesAck measures the group engine's cost per message on
// the consume path: one group takes batches of 1000 with PullBatches and
// acks each as ranges. Messages are produced beforehand with the timer
// stopped, so the figures are the pull, the read-ahead and the ack alone.
func BenchmarkPullBatchesAck(b *testing.B) {
	for _, size := range []int{128, 1024} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			benchPullBatchesAck(b, size)
		})
	}
}

func benchPullBatchesAck(b *testing.B, size int) {
	br, err := Open(Options{Logger: slog.New(slog.DiscardHandler), DataDir: b.TempDir(), RetentionInterval: time.Hour, CommitInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	ctx := context.Background()
	if _, err := br.CreateStation(ctx, StationConfig{Name: "s", Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	const chunk, perProduce = 20000, 500
	msgs := make([]Message, perProduce)
	for i := range msgs {
		msgs[i] = Message{Value: make([]byte, size)}
	}
	opts := PullOptions{Max: 1000, MaxWait: time.Second, Start: StartPosition{Kind: StartEarliest}}
	var ranges []OffsetRange
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		for i := 0; i < min(chunk, b.N-done); i += perProduce {
			if _, err := br.Produce(ctx, "s", msgs); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for got := 0; got < chunk && done < b.N; {
			ds, bs, err := br.PullBatches(ctx, "s", "g", opts)
			if err != nil {
				b.Fatal(err)
			}
			if len(ds) > 0 {
				b.Fatalf("%d redeliveries in a benchmark without failures", len(ds))
			}
			ranges = ranges[:0]
			for _, pb := range bs {
				ranges = append(ranges, pb.Ranges...)
				got += pb.Count
				done += pb.Count
			}
			if err := br.AckRanges(ctx, "s", "g", ranges); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/msg")
}
