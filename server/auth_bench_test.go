package server

import (
	"context"
	"testing"

	"github.com/junctionhq/junction/sdk/client"
)

// BenchmarkProduceAuth measures what authentication costs a producer:
// batches of 100 messages of 128 B to a memory station (so that CPU, not
// fsync, bounds throughput and the check's share is not hidden), from an
// open broker and from a broker checking a token with a produce grant.
func BenchmarkProduceAuth(b *testing.B) {
	for _, mode := range []string{"open", "token"} {
		b.Run(mode, func(b *testing.B) {
			s := startBenchServer(b)
			ctx := context.Background()
			c, err := client.Connect(ctx, s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bench", Storage: client.StorageMemory}); err != nil {
				b.Fatal(err)
			}
			if mode == "token" {
				if _, _, err := c.CreateUser(ctx, client.User{Name: "admin", Role: "admin"}, "benchmark-password"); err != nil {
					b.Fatal(err)
				}
				login, _, err := c.Login(ctx, "admin", "benchmark-password", 0, "bench")
				if err != nil {
					b.Fatal(err)
				}
				admin, err := client.Connect(ctx, s.Addr(), client.WithToken(login))
				if err != nil {
					b.Fatal(err)
				}
				defer admin.Close()
				tok, _, err := admin.CreateToken(ctx, "", "bench", 0, []string{"produce:bench"})
				if err != nil {
					b.Fatal(err)
				}
				if c, err = client.Connect(ctx, s.Addr(), client.WithToken(tok)); err != nil {
					b.Fatal(err)
				}
				defer c.Close()
			}
			msgs := make([]client.Message, 100)
			for i := range msgs {
				msgs[i] = client.Message{Value: make([]byte, 128)}
			}
			b.SetBytes(int64(len(msgs) * 128))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Produce(ctx, "bench", msgs...); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
