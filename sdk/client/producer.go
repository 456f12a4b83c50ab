package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// ProducerOptions configures a [Producer]. Zero (or negative) fields take
// the defaults.
type ProducerOptions struct {
	// Linger is how long a batch waits for more messages before it is
	// sent. Zero (the default) sends a batch as soon as fewer than
	// MaxInFlight requests are outstanding, so messages batch up only while
	// the broker is busy: low latency when idle, large batches under load.
	Linger time.Duration
	// MaxBatchMessages is the most messages in one request. Default 1000.
	MaxBatchMessages int
	// MaxBatchBytes is the most message bytes in one request (a larger
	// single message is sent alone). Default 1 MiB.
	MaxBatchBytes int
	// MaxInFlight is the most requests sent but not yet answered. Send
	// blocks when these and one more full batch are waiting. Default 4.
	MaxInFlight int
}

func (o *ProducerOptions) defaults() {
	if o.Linger < 0 {
		o.Linger = 0
	}
	if o.MaxBatchMessages <= 0 {
		o.MaxBatchMessages = 1000
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 1 << 20
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4
	}
}

// Producer sends messages to one station over a pipelined stream: messages
// are batched (up to Linger, MaxBatchMessages, MaxBatchBytes), several
// batches are in flight at once, and each message's outcome is reported
// through its [Pending] or callback. Messages of one Producer are stored in
// the order they were sent (per partition).
//
// A request the broker rejects fails exactly the messages of that request;
// none of them was stored. If the stream breaks, the messages in flight on
// it fail with an error saying they may or may not have been stored, and the
// next batch opens a new stream. The Producer retries by itself only after a
// cluster's leader changed, on a stream to the new leader: a request the
// old leader refused, one that never reached it, and one of unknown
// outcome whose every message has an [Message.ID] (the station's dedup
// window keeps one copy). Set IDs and a dedup window to retry safely.
//
// A Producer is safe for concurrent use. Close must be called to release
// its goroutine and stream.
type Producer struct {
	c       *Client
	station string
	opts    ProducerOptions

	ctx    context.Context // canceled by a Close that gives up
	cancel context.CancelFunc
	wake   chan struct{} // cap 1: a batch was sealed or Close was called
	slots  chan struct{} // in-flight request semaphore
	exited chan struct{} // closed when the sender goroutine returns

	mu        sync.Mutex
	cur       *batch   // batch being filled, nil if none
	ready     []*batch // sealed, waiting for the sender
	sealed    int      // sealed and not yet finished
	maxSealed int
	space     chan struct{} // closed (and replaced) when a batch finishes
	last      *batch        // most recently sealed batch
	closed    bool
	failed    int   // messages failed since Flush or Close last reported them
	firstErr  error // the first of those failures

	seq uint64 // owned by the sender goroutine
	// retry holds batches of a broken stream to send again to the new
	// leader, in order (see requeue).
	retry []*batch
}

type batch struct {
	seq     uint64
	mb      msgBuilder
	msgs    []*junctionv1.Message
	bytes   int
	timer   *time.Timer
	linger  bool // linger expired while the producer was at capacity
	slot    bool // holds an in-flight slot
	cbs     []callback
	done    chan struct{}
	results []*junctionv1.ProduceResult
	err     error
	msgErrs []error // per message, for a batch the station's schema partly rejected
	tries   int     // times sent again to a new leader
}

type callback struct {
	i  int
	fn func(Result, error)
}

// NewProducer returns a producer for station. It connects lazily: errors
// (including a missing station) are reported per message.
func (c *Client) NewProducer(station string, opts ProducerOptions) *Producer {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{
		c: c, station: station, opts: opts,
		ctx: ctx, cancel: cancel,
		wake:      make(chan struct{}, 1),
		slots:     make(chan struct{}, opts.MaxInFlight),
		exited:    make(chan struct{}),
		maxSealed: opts.MaxInFlight + 1,
		space:     make(chan struct{}),
	}
	go p.run()
	return p
}

// Pending is the outcome of one message sent with [Producer.Send]. It is a
// small value; copy it freely. The zero Pending is not valid.
type Pending struct {
	b *batch
	i int
}

// Done returns a channel closed once the message is acknowledged or failed.
func (p Pending) Done() <-chan struct{} { return p.b.done }

// Wait blocks until the message is acknowledged or failed, or ctx is done,
// and returns its result.
func (p Pending) Wait(ctx context.Context) (Result, error) {
	select {
	case <-p.b.done:
		return p.Result()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Result returns the message's result without blocking. Before Done is
// closed it returns an error.
func (p Pending) Result() (Result, error) {
	select {
	case <-p.b.done:
	default:
		return Result{}, errors.New("produce: result not ready")
	}
	if p.b.err != nil {
		return Result{}, p.b.err
	}
	if p.b.msgErrs != nil && p.b.msgErrs[p.i] != nil {
		return resultFromProto(p.b.results[p.i]), p.b.msgErrs[p.i]
	}
	return resultFromProto(p.b.results[p.i]), nil
}

func failedBatch(err error) *batch {
	b := &batch{done: make(chan struct{}), err: err}
	close(b.done)
	return b
}

// Send queues m and returns its Pending. It blocks only while the producer
// is at capacity (MaxInFlight requests and a full batch waiting), and then
// until ctx is done. The Pending fails with [ErrClosed] after Close, or with
// ctx's error if ctx ended while waiting. m's byte slices must not be
// modified until the Pending is done.
func (p *Producer) Send(ctx context.Context, m Message) Pending {
	p.mu.Lock()
	b, i, err := p.add(ctx, &m, nil)
	p.mu.Unlock()
	if err != nil {
		return Pending{b: failedBatch(err)}
	}
	return Pending{b: b, i: i}
}

// SendFunc queues m like [Producer.Send] and calls fn exactly once with its
// outcome: from the producer's goroutine once the broker answered, or
// before SendFunc returns if m could not be queued. Callbacks of one
// Producer run one at a time in send order; fn must not block, nor call
// Send, SendFunc, Flush or Close of the same Producer.
func (p *Producer) SendFunc(ctx context.Context, m Message, fn func(Result, error)) {
	p.mu.Lock()
	_, _, err := p.add(ctx, &m, fn)
	p.mu.Unlock()
	if err != nil {
		fn(Result{}, err)
	}
}

// add appends m to the current batch. p.mu is held; it is released while
// waiting for capacity.
func (p *Producer) add(ctx context.Context, m *Message, fn func(Result, error)) (*batch, int, error) {
	size := m.size()
	for {
		if p.closed {
			return nil, 0, ErrClosed
		}
		b := p.cur
		if b == nil || (len(b.msgs) < p.opts.MaxBatchMessages && (len(b.msgs) == 0 || b.bytes+size <= p.opts.MaxBatchBytes)) {
			break
		}
		// The current batch is full; it must be sealed first.
		if p.sealed < p.maxSealed {
			p.seal()
			break
		}
		space := p.space
		p.mu.Unlock()
		select {
		case <-space:
			p.mu.Lock()
		case <-ctx.Done():
			p.mu.Lock()
			return nil, 0, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	b := p.cur
	if b == nil {
		b = &batch{done: make(chan struct{}), msgs: make([]*junctionv1.Message, 0, min(p.opts.MaxBatchMessages, 64))}
		if p.opts.Linger > 0 {
			b.timer = time.AfterFunc(p.opts.Linger, func() { p.lingerExpired(b) })
		} else {
			b.linger = true // send as soon as there is room
		}
		p.cur = b
	}
	i := len(b.msgs)
	b.msgs = append(b.msgs, b.mb.add(m))
	b.bytes += size
	if fn != nil {
		b.cbs = append(b.cbs, callback{i: i, fn: fn})
	}
	if (b.linger || len(b.msgs) >= p.opts.MaxBatchMessages || b.bytes >= p.opts.MaxBatchBytes) && p.sealed < p.maxSealed {
		p.seal()
	}
	return b, i, nil
}

// seal hands the current batch to the sender. p.mu is held.
func (p *Producer) seal() {
	b := p.cur
	p.cur = nil
	if b.timer != nil {
		b.timer.Stop()
	}
	p.ready = append(p.ready, b)
	p.sealed++
	p.last = b
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Producer) lingerExpired(b *batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != b {
		return
	}
	if p.sealed < p.maxSealed {
		p.seal()
	} else {
		b.linger = true // sealed when a batch finishes
	}
}

// Flush sends any buffered messages and waits until every message sent
// before the call is acknowledged or failed (and its callback has run), or
// ctx is done. It returns ctx's error, or a [*SendError] if messages
// failed since the previous Flush or Close (each one's error is also
// reported by its Pending or callback), or nil.
func (p *Producer) Flush(ctx context.Context) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	return p.takeFailures()
}

// SendError reports that messages of a [Producer] failed; Err is the first
// failure, so errors.Is and errors.As see its cause.
type SendError struct {
	Station string
	Failed  int
	Err     error
}

func (e *SendError) Error() string {
	if e.Failed == 1 {
		return e.Err.Error()
	}
	return fmt.Sprintf("produce to %q: %d messages failed; the first: %v", e.Station, e.Failed, e.Err)
}

func (e *SendError) Unwrap() error { return e.Err }

// takeFailures returns the failures not yet reported, as a *SendError,
// and forgets them.
func (p *Producer) takeFailures() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed == 0 {
		return nil
	}
	err := &SendError{Station: p.station, Failed: p.failed, Err: p.firstErr}
	p.failed, p.firstErr = 0, nil
	return err
}

// flush is Flush without the failures: it returns ctx's error or nil.
func (p *Producer) flush(ctx context.Context) error {
	p.mu.Lock()
	target := p.last
	if b := p.cur; b != nil {
		target = b
		if p.sealed < p.maxSealed {
			p.seal()
		} else {
			b.linger = true
		}
	}
	p.mu.Unlock()
	if target == nil {
		return nil
	}
	select {
	case <-target.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close flushes the producer, waits for every message to be acknowledged or
// failed, and closes the stream. If ctx ends first, messages still
// outstanding fail with [ErrClosed] and Close returns ctx's error. If
// messages failed since the last Flush, Close returns a [*SendError] too
// (joined with ctx's error, if any), so that a producer whose sends all
// failed cannot close without an error. Sends after Close fail with
// [ErrClosed]. Close is idempotent.
func (p *Producer) Close(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.flush(ctx)
	if err != nil {
		p.cancel()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		// The broker does not end the stream: abandon it.
		p.cancel()
		<-p.exited
		if err == nil {
			err = ctx.Err()
		}
	}
	p.cancel()
	if fe := p.takeFailures(); fe != nil {
		if err == nil {
			return fe
		}
		return errors.Join(err, fe)
	}
	return err
}

// run is the sender goroutine: it sends sealed batches in order on the
// current stream, opening a new one when the last broke.
func (p *Producer) run() {
	defer close(p.exited)
	var s *pstream
	for {
		b := p.next()
		if b == nil {
			break
		}
		if b == followLeader {
			if s != nil {
				<-s.done
				s = nil
			}
			p.resend(nil)
			continue
		}
		if p.ctx.Err() != nil {
			p.finish(b, nil, fmt.Errorf("produce to %q: producer closed before the message was sent: %w", p.station, ErrClosed))
			continue
		}
		select {
		case p.slots <- struct{}{}:
			b.slot = true
		case <-p.ctx.Done():
			p.finish(b, nil, fmt.Errorf("produce to %q: producer closed before the message was sent: %w", p.station, ErrClosed))
			continue
		}
		p.seq++
		b.seq = p.seq
		for {
			if s != nil && s.isBroken() {
				<-s.done // every batch of the old stream is finished or kept
				s = nil
				if p.resend(b) {
					break
				}
			}
			if s == nil {
				s = p.openStream()
			}
			if s.send(b) {
				break
			}
		}
	}
	if s != nil {
		_ = s.st.CloseRequest()
		<-s.done
	}
}

// next returns the next sealed batch, or nil once the producer is closed
// and drained.
func (p *Producer) next() *batch {
	for {
		p.mu.Lock()
		if len(p.retry) > 0 {
			p.mu.Unlock()
			return followLeader
		}
		if len(p.ready) > 0 {
			b := p.ready[0]
			p.ready[0] = nil
			p.ready = p.ready[1:]
			p.mu.Unlock()
			return b
		}
		if p.closed && p.cur == nil && p.sealed == 0 {
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		<-p.wake
	}
}

// finish records a batch's outcome, wakes its waiters, runs its callbacks
// and frees its capacity.
func (p *Producer) finish(b *batch, results []*junctionv1.ProduceResult, err error) {
	b.results, b.err = results, err
	if err != nil {
		p.mu.Lock()
		if p.failed == 0 {
			p.firstErr = err
		}
		p.failed += len(b.msgs)
		p.mu.Unlock()
	}
	b.msgs, b.mb = nil, msgBuilder{}
	// Callbacks run before done is closed, so that Flush and Close return
	// only after the callbacks of their messages.
	for _, cb := range b.cbs {
		if err != nil {
			cb.fn(Result{}, err)
		} else {
			var merr error
			if b.msgErrs != nil {
				merr = b.msgErrs[cb.i]
			}
			cb.fn(resultFromProto(results[cb.i]), merr)
		}
	}
	b.cbs = nil
	close(b.done)
	if b.slot {
		<-p.slots
	}
	p.mu.Lock()
	p.sealed--
	close(p.space)
	p.space = make(chan struct{})
	if c := p.cur; c != nil && (c.linger || p.closed || len(c.msgs) >= p.opts.MaxBatchMessages || c.bytes >= p.opts.MaxBatchBytes) {
		p.seal()
	}
	wake := p.closed && p.sealed == 0
	p.mu.Unlock()
	if wake {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

func (p *Producer) complete(b *batch, resp *junctionv1.ProduceStreamResponse) {
	switch {
	case resp.GetError() != "" || resp.GetErrorCode() != "":
		err := streamError(p.station, resp.GetError(), resp.GetErrorCode(), resp.GetErrorInfo())
		if _, errs, ok := messageErrors(err, len(b.msgs)); ok && len(resp.GetErrorInfo().GetResults()) == len(b.msgs) {
			b.msgErrs = errs
			p.finish(b, resp.GetErrorInfo().GetResults(), nil)
			return
		}
		p.finish(b, nil, err)
	case len(resp.GetResults()) != len(b.msgs):
		p.finish(b, nil, fmt.Errorf("produce to %q: broker returned %d results for %d messages", p.station, len(resp.GetResults()), len(b.msgs)))
	default:
		p.finish(b, resp.GetResults(), nil)
	}
}

// pstream is one ProduceStream call with the batches in flight on it.
type pstream struct {
	p      *Producer
	st     *connect.BidiStreamForClient[junctionv1.ProduceStreamRequest, junctionv1.ProduceStreamResponse]
	cancel context.CancelFunc
	done   chan struct{} // closed when every batch of the stream is finished

	mu       sync.Mutex
	inflight []*batch // in sequence order
	broken   bool
	sendErr  error
}

func (p *Producer) openStream() *pstream {
	ctx, cancel := context.WithCancel(p.ctx)
	s := &pstream{p: p, st: p.c.messages.ProduceStream(ctx), cancel: cancel, done: make(chan struct{})}
	go s.recvLoop()
	return s
}

func (s *pstream) isBroken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// send sends b on the stream. It reports false if the stream was already
// broken, so b was not sent and must go on a new stream.
func (s *pstream) send(b *batch) bool {
	// Read b before it is published to recvLoop, which may finish it.
	req := &junctionv1.ProduceStreamRequest{Sequence: b.seq, Station: s.p.station, Messages: b.msgs}
	s.mu.Lock()
	if s.broken {
		s.mu.Unlock()
		return false
	}
	s.inflight = append(s.inflight, b)
	s.mu.Unlock()
	err := s.st.Send(req)
	if err != nil {
		// recvLoop fails b and every other batch in flight. On io.EOF the
		// broker ended the stream and Receive returns the reason.
		s.mu.Lock()
		s.broken = true
		if !errors.Is(err, io.EOF) && s.sendErr == nil {
			s.sendErr = err
		}
		s.mu.Unlock()
		if !errors.Is(err, io.EOF) {
			s.cancel()
		}
	}
	return true
}

func (s *pstream) recvLoop() {
	defer close(s.done)
	defer s.cancel()
	for {
		resp, err := s.st.Receive()
		if err != nil {
			s.fail(err)
			return
		}
		s.mu.Lock()
		if len(s.inflight) == 0 || s.inflight[0].seq != resp.GetSequence() {
			want := "none"
			if len(s.inflight) > 0 {
				want = fmt.Sprint(s.inflight[0].seq)
			}
			s.mu.Unlock()
			s.fail(fmt.Errorf("protocol error: broker answered sequence %d, expected %s", resp.GetSequence(), want))
			return
		}
		b := s.inflight[0]
		s.inflight[0] = nil
		s.inflight = s.inflight[1:]
		s.mu.Unlock()
		if !s.moved(b, resp) {
			s.p.complete(b, resp)
		}
	}
}

// fail breaks the stream and fails every batch in flight on it.
func (s *pstream) fail(err error) {
	s.mu.Lock()
	s.broken = true
	if s.sendErr != nil {
		err = s.sendErr
	}
	bs := s.inflight
	s.inflight = nil
	s.mu.Unlock()
	s.cancel()
	_ = s.st.CloseResponse()
	p := s.p
	if bs = p.requeue(bs, err, false); len(bs) == 0 {
		return
	}
	switch {
	case p.ctx.Err() != nil:
		err = fmt.Errorf("produce to %q: producer closed before the broker acknowledged: %w", p.station, ErrClosed)
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("produce to %q: broker %s closed the stream before acknowledging; the message may or may not be stored: %w",
			p.station, p.c.addr, &Error{Code: connect.CodeUnavailable, Message: "stream closed", cause: err})
	default:
		err = fmt.Errorf("produce to %q: stream to broker %s broke; the message may or may not be stored: %w", p.station, p.c.addr, fromConnect(err))
	}
	p.c.opts.logger.Warn("junction: produce stream failed", "station", p.station, "requests", len(bs), "err", err)
	for _, b := range bs {
		p.finish(b, nil, err)
	}
}
