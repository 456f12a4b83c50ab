package server

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

// BenchmarkProducerStream1KiB is BenchmarkProducerStream with 1 KiB
// messages from four producers on their own connections, the way the
// produce-4p workload drives it. One op is one message.
func BenchmarkProducerStream1KiB(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{}}, ln)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const producers = 4
	var ps []*client.Producer
	for range producers {
		c, err := client.Connect(ctx, s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ps = append(ps, c.NewProducer("bench", client.ProducerOptions{}))
	}
	c, err := client.Connect(ctx, s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	val := make([]byte, 1024)
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, p := range ps {
		n := b.N / producers
		if i < b.N%producers {
			n++
		}
		wg.Go(func() {
			for range n {
				p.Send(ctx, client.Message{Value: val})
			}
			if err := p.Flush(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	for _, p := range ps {
		if err := p.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
