package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/junctionhq/junction/sdk/client"
)

// BenchmarkProduceWithDashboard measures produce throughput (batches of
// 100 messages of 100 bytes, fsync never) with the dashboard closed and
// with a headless chromium polling its overview: the dashboard should cost
// the broker next to nothing (compare msgs/s of the two).
func BenchmarkProduceWithDashboard(b *testing.B) {
	for _, open := range []bool{false, true} {
		name := "closed"
		if open {
			name = "overview-open"
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			s, err := Start(context.Background(), Options{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}, ln)
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
			if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bench", Partitions: 4, Fsync: client.FsyncNever}); err != nil {
				b.Fatal(err)
			}
			if open {
				exe, err := exec.LookPath("chromium")
				if err != nil {
					b.Skip("no chromium on PATH")
				}
				actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe),
					chromedp.NoSandbox, chromedp.Headless, chromedp.UserDataDir(b.TempDir()))...)
				defer cancelAlloc()
				bctx, cancel := chromedp.NewContext(actx)
				defer cancel()
				if err := chromedp.Do(bctx, chromedp.Navigate("http://"+s.Addr()+"/#/")); err != nil {
					b.Fatal(err)
				}
				if _, err := chromedp.Run(bctx, chromedp.Poll[any](`document.querySelector('[data-metric="stations"]')?.textContent === "1"`,
					chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
					b.Fatal(err)
				}
			}
			msgs := make([]client.Message, 100)
			for i := range msgs {
				msgs[i] = client.Message{Value: []byte(fmt.Sprintf("%0100d", i))}
			}
			b.SetBytes(100 * 100)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if _, err := c.Produce(ctx, "bench", msgs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*100)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
