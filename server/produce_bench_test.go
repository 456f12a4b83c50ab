package server

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

// BenchmarkProducerStream measures the produce path end to end, the way
// the produce-1p workload drives it: one SDK Producer with its defaults
// streaming 128 B messages to a disk station that fsyncs every group
// commit. One op is one message, so allocs/op is what a message costs the
// client and the server together; -memprofile splits them by site.
func BenchmarkProducerStream(b *testing.B) { benchProducers(b, 1, 128) }

// BenchmarkProducerStream1KiB is BenchmarkProducerStream with 1 KiB
// messages from four producers on their own connections, the way the
// produce-4p workload drives it.
func BenchmarkProducerStream1KiB(b *testing.B) { benchProducers(b, 4, 1024) }

// benchProducers sends b.N messages of size bytes to a disk station,
// split over producers SDK Producers with their defaults, each on its own
// connection.
func benchProducers(b *testing.B, producers, size int) {
	s := startBenchServer(b)
	ctx := context.Background()
	c, err := client.Connect(ctx, s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	ps := []*client.Producer{c.NewProducer("bench", client.ProducerOptions{})}
	for range producers - 1 {
		c, err := client.Connect(ctx, s.Addr())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		ps = append(ps, c.NewProducer("bench", client.ProducerOptions{}))
	}
	val := make([]byte, size)
	b.SetBytes(int64(size))
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

// startBenchServer starts a broker on a loopback port with its data in a
// temporary directory, no plugins and no logging; it stops with b.
func startBenchServer(b *testing.B) *Server {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{}}, ln)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
