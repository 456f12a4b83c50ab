package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/junctionhq/junction/sdk/client"
)

// TestDashboardScreenshots writes the README's screenshots of the
// dashboard into $JUNCTION_SCREENSHOTS (make screenshots); the test suite
// skips it.
func TestDashboardScreenshots(t *testing.T) {
	out := os.Getenv("JUNCTION_SCREENSHOTS")
	if out == "" {
		t.Skip("set JUNCTION_SCREENSHOTS=DIR (make screenshots) to write the dashboard screenshots")
	}
	s, _, c := startDashboardBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, st := range []client.StationConfig{
		{Name: "orders", Partitions: 3, DeadLetterStation: "orders-dlq", Retention: client.Retention{MaxAge: 7 * 24 * time.Hour}},
		{Name: "payments", Partitions: 2, Retention: client.Retention{MaxBytes: 10 << 30}},
		{Name: "clicks", Partitions: 4, Storage: client.StorageMemory},
	} {
		if _, err := c.CreateStation(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	def := fmt.Sprintf("name: orders-archive\nconnector: file\nkind: sink\nstation: orders\nconfig:\n  dir: %s\n", t.TempDir())
	if _, _, _, err := c.ApplyConnector(ctx, "orders-archive.yaml", []byte(def)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateGroup(ctx, "orders", "billing", client.Earliest, client.GroupConfig{}); err != nil {
		t.Fatal(err)
	}
	// Steady traffic with a swell, and a consumer a little behind.
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			n := 20 + 15*(i/10%3)
			var msgs []client.Message
			for j := range n {
				msgs = append(msgs, client.Message{Key: []byte(fmt.Sprintf("customer-%d", (i*n+j)%97)),
					Value:   []byte(fmt.Sprintf(`{"order":%d,"customer":"customer-%d","total":%d.%02d,"currency":"EUR"}`, i*n+j, (i*n+j)%97, 10+j*3, j)),
					Headers: []client.Header{{Key: "source", Value: []byte("checkout")}}})
			}
			c.Produce(ctx, "orders", msgs...)
			c.Produce(ctx, "clicks", msgs[:n/2]...)
			if i%3 == 0 {
				c.Produce(ctx, "payments", msgs[:5]...)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	go func() {
		cons := c.NewConsumer("orders", "billing", client.ConsumerOptions{MaxWait: time.Second})
		for ctx.Err() == nil {
			ds, _ := cons.Pull(ctx, 150)
			for _, d := range ds {
				d.Ack()
			}
			time.Sleep(700 * time.Millisecond)
		}
	}()

	b := newBrowser(t, "http://"+s.Addr())
	shot := func(name string) {
		img, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(out, name), img, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", filepath.Join(out, name))
	}
	b.open("/")
	b.wait("a minute of throughput", `document.querySelectorAll("svg.chart path").length === 2 && document.querySelector('[data-metric="in"]').textContent !== "0/s"`)
	time.Sleep(20 * time.Second) // let the chart fill
	shot("dashboard-overview.png")
	if _, err := chromedp.Run(b.ctx, chromedp.EmulateViewport(1280, 1100)); err != nil {
		t.Fatal(err)
	}
	b.open("/stations/orders")
	b.wait("the messages", `document.querySelector("section[aria-labelledby=msgs-title] .kind-json") !== null && document.querySelector('tr[data-group="billing"]') !== null`)
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`document.documentElement.dataset.theme = "dark"`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	shot("dashboard-station.png")
}
