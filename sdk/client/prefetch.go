package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// A Consumer with Prefetch takes its deliveries from one Consume stream
// instead of a Pull per batch: the broker reads and sends the next batch
// while the caller handles this one, and no request goes out per batch.
// How far the stream runs ahead of the caller is bounded by the group's
// max_ack_pending, by the HTTP/2 flow control window and by one decoded
// batch waiting in the consumer. When a stream fails before it delivered
// anything (a broker that predates Consume, a follower of a cluster), that
// Pull pulls instead, as without Prefetch.

// prefetcher is the Prefetch state of a Consumer.
type prefetcher struct {
	// mu serializes the Pulls of the consumer; it is held while one
	// waits for the stream.
	mu sync.Mutex
	st *consumeStream
	// surplus holds deliveries of a streamed batch that the caller did
	// not take yet (it asked for fewer).
	surplus []*Delivery
	// pull: the broker does not implement Consume; Pulls pull.
	pull bool
	// flushing is closed when the acks sent in the background are done;
	// flushErr is their error, reported by the next Pull.
	flushing chan struct{}
	flushErr error
}

// consumeStream is an open Consume stream and what receives from it.
type consumeStream struct {
	cancel context.CancelFunc
	// batches carries decoded batches, or the error that ended the stream
	// (then it is closed).
	batches chan streamed
	// done is closed when the receiving goroutine has returned.
	done chan struct{}
	// delivered: a batch came from the stream.
	delivered bool
}

type streamed struct {
	ds  []*Delivery
	err error
}

// pullPrefetching is PullWait for a consumer with Prefetch.
func (c *Consumer) pullPrefetching(ctx context.Context, n int, maxWait time.Duration) ([]*Delivery, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	if n <= 0 {
		n = c.opts.BatchSize
	}
	p := &c.pf
	p.mu.Lock()
	defer p.mu.Unlock()
	// Under p.mu: Close sets closed before it takes p.mu to release the
	// stream, so no stream is opened after that.
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if p.pull {
		return c.pull(ctx, n, maxWait)
	}
	if err := p.flushed(); err != nil {
		return nil, err
	}
	c.flushInBackground(ctx)
	if len(p.surplus) > 0 {
		return p.takeSurplus(n), nil
	}
	if p.st == nil {
		st, err := c.openStream(ctx)
		if err != nil {
			return nil, err
		}
		p.st = st
	}
	var b streamed
	var ok bool
	select {
	case b, ok = <-p.st.batches:
	default:
		timer := time.NewTimer(maxWait)
		defer timer.Stop()
		select {
		case b, ok = <-p.st.batches:
		case <-timer.C:
			return []*Delivery{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if !ok {
		b.err = errors.New("junction: the consume stream ended")
	}
	if b.err != nil {
		delivered := p.st.delivered
		p.st.stop()
		p.st = nil
		if delivered || ctx.Err() != nil {
			return nil, b.err
		}
		// The stream failed at the start: a broker that predates Consume
		// is pulled from from now on; otherwise this Pull pulls (which
		// follows a cluster's leader) and the next one streams again.
		if connect.CodeOf(b.err) == connect.CodeUnimplemented {
			p.pull = true
		}
		return c.pull(ctx, n, maxWait)
	}
	p.st.delivered = true
	p.surplus = b.ds
	return p.takeSurplus(n), nil
}

// flushed waits for the acks sent in the background and returns their
// error, unless it is only ErrNotPending (logged by Flush). p.mu is held.
func (p *prefetcher) flushed() error {
	if p.flushing == nil {
		return nil
	}
	<-p.flushing
	err := p.flushErr
	p.flushing, p.flushErr = nil, nil
	if err != nil && onlyNotPending(err) {
		return nil
	}
	return err
}

// flushInBackground sends the queued acks and nacks without waiting for
// them; the next Pull (or Close) waits and reports their error. They are
// sent even if ctx ends meanwhile. c.pf.mu is held.
func (c *Consumer) flushInBackground(ctx context.Context) {
	if !c.hasQueued() {
		return
	}
	p := &c.pf
	done := make(chan struct{})
	p.flushing = done
	go func() {
		defer close(done)
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
		defer cancel()
		p.flushErr = c.Flush(actx)
	}()
}

// openStream starts a Consume stream of record batches and the goroutine
// that receives and decodes them.
func (c *Consumer) openStream(ctx context.Context) (*consumeStream, error) {
	n, err := toUint32("batch size", c.opts.BatchSize)
	if err != nil {
		return nil, err
	}
	req := &junctionv1.ConsumeRequest{
		Station:       c.station,
		Group:         c.group,
		BatchSize:     n,
		Start:         c.opts.Start.proto(),
		Config:        c.cfg,
		RecordBatches: true,
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	st := &consumeStream{cancel: cancel, batches: make(chan streamed, 1), done: make(chan struct{})}
	go c.receive(sctx, st, req)
	return st, nil
}

// receive runs the stream of st until it ends or st is stopped, handing
// each decoded batch to st.batches.
func (c *Consumer) receive(ctx context.Context, st *consumeStream, req *junctionv1.ConsumeRequest) {
	defer close(st.done)
	defer close(st.batches)
	fail := func(err error) {
		select {
		case st.batches <- streamed{err: err}:
		case <-ctx.Done():
		}
	}
	stream, err := c.c.messages.Consume(ctx, connect.NewRequest(req))
	if err != nil {
		fail(fmt.Errorf("junction: consume from station %q: %w", c.station, fromConnect(err)))
		return
	}
	defer stream.Close()
	for stream.Receive() {
		m := stream.Msg()
		if len(m.GetBatches()) > 0 {
			c.ranges.Store(true)
		}
		ds, err := c.deliveries(m.GetMessages(), m.GetBatches(), c.opts.BatchSize)
		if err != nil {
			// Deliveries that cannot be decoded wait out their ack
			// deadline.
			fail(err)
			return
		}
		select {
		case st.batches <- streamed{ds: ds}:
		case <-ctx.Done():
			c.release(ctx, ds)
			return
		}
	}
	err = stream.Err()
	if err == nil {
		err = errors.New("the broker ended the stream")
	}
	fail(fmt.Errorf("junction: consume from station %q: %w", c.station, fromConnect(err)))
}

// stop ends the stream and waits for its receiving goroutine.
func (st *consumeStream) stop() {
	st.cancel()
	<-st.done
}

// takeSurplus returns up to n of the surplus deliveries. p.mu is held.
func (p *prefetcher) takeSurplus(n int) []*Delivery {
	k := min(n, len(p.surplus))
	ds := p.surplus[:k:k]
	p.surplus = p.surplus[k:]
	if len(p.surplus) == 0 {
		p.surplus = nil
	}
	return ds
}

// releasePrefetched ends the stream of a consumer with Prefetch and nacks,
// for prompt redelivery, the deliveries it received that nobody took.
// Those the broker had sent but the consumer not yet received wait out
// their ack deadline. It waits for acks sent in the background.
func (c *Consumer) releasePrefetched(ctx context.Context) {
	p := &c.pf
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.flushing != nil {
		<-p.flushing
		p.flushing, p.flushErr = nil, nil
	}
	ds := p.surplus
	p.surplus = nil
	if st := p.st; st != nil {
		p.st = nil
		st.stop()
		for b := range st.batches {
			ds = append(ds, b.ds...)
		}
	}
	c.release(ctx, ds)
}

// release nacks ds, which no caller took, on a best-effort basis.
func (c *Consumer) release(ctx context.Context, ds []*Delivery) {
	if len(ds) == 0 {
		return
	}
	offs := make(map[uint32][]uint64)
	for _, d := range ds {
		p := uint32(d.Partition)
		offs[p] = append(offs[p], d.Offset)
	}
	c.nackAll(ctx, offs)
}
