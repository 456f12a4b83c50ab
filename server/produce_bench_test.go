package server

import (
	"context"
	"log/slog"
	"net"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

// BenchmarkProducerStream measures the produce path end to end, the way
// the produce-1p workload drives it: one SDK Producer with its defaults
// streaming 128 B messages to a disk station that fsyncs every group
// commit. One op is one message, so allocs/op is what a message costs the
// client and the server together; -memprofile splits them by site.
func BenchmarkProducerStream(b *testing.B) {
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
	c, err := client.Connect(ctx, s.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	p := c.NewProducer("bench", client.ProducerOptions{})
	val := make([]byte, 128)
	b.SetBytes(int64(len(val)))
	b.ReportAllocs()
	for b.Loop() {
		p.Send(ctx, client.Message{Value: val})
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
