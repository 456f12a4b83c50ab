package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsMaxPending is the most async publishes awaiting their ack, per
// producer: the reference setup's 4096.
const natsMaxPending = 4096

// natsTarget is an embedded NATS server with JetStream on file storage,
// driven through nats.go's jetstream package. The server runs in this
// process, so its allocations count in allocs/msg.
type natsTarget struct {
	dir string
	srv *server.Server
	nc  *nats.Conn // for stream and consumer management
	js  jetstream.JetStream
}

// startNATS starts the server on a free loopback port with its store in a
// temp dir. syncAlways makes it fsync every write instead of the default
// periodic sync.
func startNATS(syncAlways bool) (_ *natsTarget, err error) {
	dir, err := os.MkdirTemp("", "nats-bench-")
	if err != nil {
		return nil, err
	}
	n := &natsTarget{dir: dir}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	n.srv, err = server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: dir, SyncAlways: syncAlways,
		NoLog: true, NoSigs: true,
	})
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	go n.srv.Start()
	if !n.srv.ReadyForConnections(10 * time.Second) {
		return nil, errors.New("nats server not ready after 10s")
	}
	if n.nc, err = nats.Connect(n.srv.ClientURL()); err != nil {
		return nil, err
	}
	n.js, err = jetstream.New(n.nc)
	return n, err
}

func (n *natsTarget) Name() string { return "nats" }

// Close stops the server and removes its store.
func (n *natsTarget) Close() {
	if n.nc != nil {
		n.nc.Close()
		n.nc = nil
	}
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
	if n.dir != "" {
		os.RemoveAll(n.dir)
		n.dir = ""
	}
}

// createStream creates a file-storage stream whose one subject is its name.
func (n *natsTarget) createStream(ctx context.Context, name string) (jetstream.Stream, error) {
	return n.js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name}, Storage: jetstream.FileStorage})
}

// publisher is one connection publishing asynchronously with up to
// natsMaxPending acks in flight. onAck runs on the connection's ack
// goroutine for every acknowledged message and must not block.
type publisher struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	failed firstError
}

func (n *natsTarget) newPublisher(onAck func(*nats.Msg)) (*publisher, error) {
	nc, err := nats.Connect(n.srv.ClientURL())
	if err != nil {
		return nil, err
	}
	p := &publisher{nc: nc}
	p.js, err = jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(natsMaxPending),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) { onAck(m) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { p.failed.set(err) }),
	)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return p, nil
}

// stallWait lets PublishAsync block while natsMaxPending acks are
// outstanding instead of failing after its default 200ms.
var stallWait = jetstream.WithStallWait(time.Minute)

// publish sends value asynchronously; failures are kept for done.
func (p *publisher) publish(subject string, value []byte) {
	if _, err := p.js.PublishAsync(subject, value, stallWait); err != nil {
		p.failed.set(err)
	}
}

// done waits for every outstanding ack, closes the connection and returns
// the first publish error.
func (p *publisher) done(ctx context.Context) error {
	defer p.nc.Close()
	select {
	case <-p.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.failed.get()
}

// Produce runs s.producers async publishers, each on its own connection,
// and counts the messages the server acknowledged.
func (n *natsTarget) Produce(ctx context.Context, s produceSpec) (measurement, error) {
	if _, err := n.createStream(ctx, s.station); err != nil {
		return measurement{}, err
	}
	var acked atomic.Int64
	pubs := make([]*publisher, s.producers)
	for i := range pubs {
		p, err := n.newPublisher(func(*nats.Msg) { acked.Add(1) })
		if err != nil {
			return measurement{}, err
		}
		defer p.nc.Close()
		pubs[i] = p
	}
	value := payload(s.size)
	errs := make([]error, len(pubs))
	m := startMeter()
	deadline := m.start.Add(s.duration)
	var wg sync.WaitGroup
	for pi, p := range pubs {
		wg.Go(func() {
			for i := 0; s.more(i, deadline) && ctx.Err() == nil; i++ {
				p.publish(s.station, value)
			}
			errs[pi] = p.done(ctx)
		})
	}
	wg.Wait()
	return m.stop(acked.Load(), s.size), errors.Join(errs...)
}

// ConsumeAck pre-fills n messages, then receives them with JetStream's
// streaming pull consumer and acks each one with msg.Ack.
func (n *natsTarget) ConsumeAck(ctx context.Context, station string, size, count int) (measurement, error) {
	stream, err := n.createStream(ctx, station)
	if err != nil {
		return measurement{}, err
	}
	p, err := n.newPublisher(func(*nats.Msg) {})
	if err != nil {
		return measurement{}, err
	}
	value := payload(size)
	for range count {
		p.publish(station, value)
	}
	if err := p.done(ctx); err != nil {
		return measurement{}, fmt.Errorf("prefill: %w", err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return measurement{}, err
	}
	// Messages keeps pull requests for up to consumeBatch messages
	// outstanding, JetStream's streaming consumer, as the Junction side
	// streams with Prefetch.
	it, err := cons.Messages(jetstream.PullMaxMessages(consumeBatch))
	if err != nil {
		return measurement{}, fmt.Errorf("consume: %w", err)
	}
	defer it.Stop()
	m := startMeter()
	got := 0
	for got < count && ctx.Err() == nil {
		msg, err := it.Next()
		if err != nil {
			return measurement{}, fmt.Errorf("consume after %d of %d: %w", got, count, err)
		}
		if err := msg.Ack(); err != nil {
			return measurement{}, fmt.Errorf("ack: %w", err)
		}
		got++
	}
	// Acks are fire-and-forget; a flush round trip makes sure the server
	// has read them all.
	if err := n.nc.Flush(); err != nil {
		return measurement{}, err
	}
	return m.stop(int64(got), size), ctx.Err()
}

// Latency sends s.rate msgs/s, each carrying its send time, for s.duration
// while a pull consumer (Consume, which keeps pull requests outstanding)
// receives and acks them.
func (n *natsTarget) Latency(ctx context.Context, s latencySpec) (measurement, error) {
	stream, err := n.createStream(ctx, s.station)
	if err != nil {
		return measurement{}, err
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		return measurement{}, err
	}
	epoch := time.Now()
	lr := newLatencyRecorder(s)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		lr.receive(time.Since(epoch) - sentAt(msg.Data()))
		_ = msg.Ack()
	})
	if err != nil {
		return measurement{}, err
	}
	defer cc.Stop()
	p, err := n.newPublisher(func(msg *nats.Msg) { lr.acked(time.Since(epoch) - sentAt(msg.Data)) })
	if err != nil {
		return measurement{}, err
	}
	m := startMeter()
	lr.pace(ctx, s, func() {
		value := stamped(s.size, time.Since(epoch))
		p.publish(s.station, value)
	})
	err = p.done(ctx)
	if err == nil {
		err = lr.wait(ctx)
	}
	return lr.measurement(m, s.size), err
}
