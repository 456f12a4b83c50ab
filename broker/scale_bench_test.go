package broker

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/junctionhq/junction/internal/par"
)

// BenchmarkCloseStations measures Close of a broker whose stations all took
// writes since they opened, and Open of the same data afterwards.
func BenchmarkCloseStations(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var closing, opening time.Duration
			for range b.N {
				dir := b.TempDir()
				o := Options{Logger: slog.New(slog.DiscardHandler), DataDir: dir}
				br := openScale(b, o, n)
				start := time.Now()
				if err := br.Close(); err != nil {
					b.Fatal(err)
				}
				closing += time.Since(start)
				start = time.Now()
				br, err := Open(o)
				if err != nil {
					b.Fatal(err)
				}
				opening += time.Since(start)
				br.Close()
			}
			b.ReportMetric(float64(closing.Milliseconds())/float64(b.N), "close-ms")
			b.ReportMetric(float64(opening.Milliseconds())/float64(b.N), "open-ms")
		})
	}
}

// openScale opens a broker with n stations of 4 partitions and a group
// each, with one message in every partition.
func openScale(b *testing.B, o Options, n int) *Broker {
	b.Helper()
	br, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	par.For(n, parallelism, func(i int) {
		name := fmt.Sprintf("s%05d", i)
		if _, err := br.CreateStation(ctx, StationConfig{Name: name, Partitions: 4}); err != nil {
			b.Error(err)
			return
		}
		if _, err := br.CreateGroup(ctx, name, "g", StartPosition{}, GroupConfig{}); err != nil {
			b.Error(err)
			return
		}
		for range 4 {
			if _, err := br.Produce(ctx, name, []Message{{Value: []byte("v")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if b.Failed() {
		b.FailNow()
	}
	return br
}

// BenchmarkIdleStations measures the background work of a broker whose
// 1,000 stations of 4 partitions, with a group each, sit idle: one pass of
// retention and one checkpoint of group offsets.
func BenchmarkIdleStations(b *testing.B) {
	o := Options{Logger: slog.New(slog.DiscardHandler), DataDir: b.TempDir(), RetentionInterval: time.Hour, CommitInterval: time.Hour}
	br := openScale(b, o, 1000)
	defer br.Close()
	b.Run("retention", func(b *testing.B) {
		for range b.N {
			br.EnforceRetention()
		}
	})
	b.Run("checkpoint", func(b *testing.B) {
		for range b.N {
			if err := br.commitOffsets(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
