package integration_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/junctionhq/junction/sdk/client"
	"github.com/junctionhq/junction/server"
)

// startBroker runs a real broker on a loopback port with a fresh data
// directory and returns a client connected to it.
func startBroker(t *testing.T) *client.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, err := server.Start(ctx, server.Options{
		DataDir: t.TempDir(),
		Listen:  ln.Addr().String(),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, ln)
	if err != nil {
		ln.Close()
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.Connect(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIntegrationStations(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	cfg := client.StationConfig{
		Name: "orders", Partitions: 2, Storage: client.StorageMemory,
		Retention:   client.Retention{MaxAge: 24 * time.Hour, MaxMessages: 1000},
		Fsync:       client.FsyncNever,
		DedupWindow: time.Minute, MaxMessageBytes: 1024,
	}
	st, err := c.CreateStation(ctx, cfg)
	if err != nil {
		t.Fatalf("CreateStation: %v", err)
	}
	if st.Name != "orders" || st.Partitions != 2 || st.Storage != client.StorageMemory || st.Retention.MaxAge != 24*time.Hour ||
		st.Fsync != client.FsyncNever || st.DedupWindow != time.Minute || st.MaxMessageBytes != 1024 {
		t.Errorf("created %+v", st)
	}
	if _, err := c.CreateStation(ctx, cfg); !errors.Is(err, client.ErrStationExists) {
		t.Errorf("second create: %v, want ErrStationExists", err)
	}
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "bad name!"}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("bad name: %v, want ErrInvalidArgument", err)
	}
	if _, err := c.Station(ctx, "nope"); !errors.Is(err, client.ErrStationNotFound) {
		t.Errorf("Station(nope): %v, want ErrStationNotFound", err)
	}
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "audit"}); err != nil {
		t.Fatal(err)
	}
	sts, err := c.Stations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || sts[0].Name != "audit" || sts[1].Name != "orders" {
		t.Errorf("Stations: %+v", sts)
	}
	age := time.Hour
	up, err := c.UpdateStation(ctx, "orders", client.StationUpdate{Retention: &client.Retention{MaxAge: age}})
	if err != nil {
		t.Fatalf("UpdateStation: %v", err)
	}
	if up.Retention.MaxAge != age || up.Partitions != 2 {
		t.Errorf("updated %+v", up)
	}
	if _, err := c.Produce(ctx, "orders", client.Message{Value: make([]byte, 2048)}); !errors.Is(err, client.ErrMessageTooLarge) {
		t.Errorf("too large: %v, want ErrMessageTooLarge", err)
	}
	if err := c.DeleteStation(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Station(ctx, "orders"); !errors.Is(err, client.ErrStationNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestIntegrationProduceConsume(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Produce(ctx, "orders", client.Message{Value: []byte("0")}, client.Message{Value: []byte("1")})
	if err != nil || len(rs) != 2 || rs[0].Offset != 0 || rs[1].Offset != 1 {
		t.Fatalf("Produce: %v %v", rs, err)
	}
	p := c.NewProducer("orders", client.ProducerOptions{})
	const n = 20000
	var last client.Pending
	for i := 2; i < n; i++ {
		last = p.Send(ctx, client.Message{Value: []byte(strconv.Itoa(i)), Headers: []client.Header{{Key: "i", Value: []byte("x")}}})
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := last.Result(); err != nil || r.Offset != n-1 {
		t.Fatalf("last message: %+v %v", r, err)
	}
	missing := c.NewProducer("nope", client.ProducerOptions{})
	if _, err := missing.Send(ctx, client.Message{Value: []byte("x")}).Wait(ctx); !errors.Is(err, client.ErrStationNotFound) {
		t.Errorf("produce to missing station: %v", err)
	}
	missing.Close(ctx)

	cons := c.NewConsumer("orders", "g", client.ConsumerOptions{BatchSize: 1000, MaxWait: time.Second})
	next := 0
	rctx, cancel := context.WithCancel(ctx)
	err = cons.Run(rctx, func(_ context.Context, d *client.Delivery) error {
		if string(d.Value) != strconv.Itoa(next) || d.Offset != uint64(next) || d.DeliveryCount != 1 {
			t.Errorf("delivery %d: offset %d value %q", next, d.Offset, d.Value)
		}
		next++
		if next == n {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	g, err := c.Group(ctx, "orders", "g")
	if err != nil {
		t.Fatal(err)
	}
	if g.Lag != 0 || g.Pending != 0 {
		t.Errorf("group after consuming everything: lag %d pending %d", g.Lag, g.Pending)
	}
	gs, err := c.Groups(ctx, "orders")
	if err != nil || len(gs) != 1 || gs[0].Name != "g" {
		t.Errorf("Groups: %v %v", gs, err)
	}
	if _, err := c.ResetGroupOffset(ctx, "orders", "g", client.AtOffset(n-10)); err != nil {
		t.Fatal(err)
	}
	ds, err := c.NewConsumer("orders", "g", client.ConsumerOptions{}).Pull(ctx, 100)
	if err != nil || len(ds) != 10 || ds[0].Offset != n-10 {
		t.Fatalf("after reset: %d deliveries, %v", len(ds), err)
	}
	if err := c.DeleteGroup(ctx, "orders", "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Group(ctx, "orders", "g"); !errors.Is(err, client.ErrGroupNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestIntegrationNackRedelivers(t *testing.T) {
	c := startBroker(t)
	ctx := testCtx(t)
	if _, err := c.CreateStation(ctx, client.StationConfig{Name: "jobs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Produce(ctx, "jobs", client.Message{Value: []byte("job")}); err != nil {
		t.Fatal(err)
	}
	cons := c.NewConsumer("jobs", "w", client.ConsumerOptions{MaxWait: 5 * time.Second})
	ds, err := cons.Pull(ctx, 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("pull: %v %v", ds, err)
	}
	ds[0].Nack(0)
	ds, err = cons.Pull(ctx, 1) // sends the nack first
	if err != nil || len(ds) != 1 || ds[0].DeliveryCount != 2 {
		t.Fatalf("redelivery: %v %v", ds, err)
	}
	ds[0].Ack()
	if err := cons.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := c.Group(ctx, "jobs", "w")
	if err != nil || g.Lag != 0 {
		t.Fatalf("group: %+v %v", g, err)
	}
}
