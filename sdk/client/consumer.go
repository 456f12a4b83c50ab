package client

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// ConsumerOptions configures a [Consumer]. Zero fields take the defaults.
// Start and the group settings apply only if the consumer's first pull
// creates the group.
type ConsumerOptions struct {
	// BatchSize is the most messages per pull. Default 100.
	BatchSize int
	// MaxWait is how long a pull waits for the first message. Default 5s.
	MaxWait time.Duration
	// BatchWait is how long a pull may wait, once a message is ready, for
	// more of them while messages keep arriving: a pull that follows one
	// that returned several messages asks the broker to answer once a full
	// batch is ready or BatchWait has passed, so that a consumer of a
	// steady flow is woken once per batch rather than once per write on
	// the broker. A pull after an empty or a one-message pull answers at
	// the first message, so a lone message is not held back. Default 1ms;
	// negative turns coalescing off. Brokers that predate it ignore it.
	BatchWait time.Duration
	// Start is where a new group starts. Default earliest.
	Start StartPosition
	// AckDeadline, MaxDeliveries and MaxAckPending configure a new group;
	// zero means the broker (or station) default. See [GroupConfig].
	AckDeadline   time.Duration
	MaxDeliveries int
	MaxAckPending int
	// NackDelay is the redelivery delay of a message whose [Consumer.Run]
	// handler returned an error. Default 0: redeliver at once.
	NackDelay time.Duration
	// Prefetch makes the consumer take its deliveries from one stream
	// instead of a request per Pull: the broker reads and sends the next
	// batches while the caller handles this one. Up to the group's
	// MaxAckPending deliveries can be on their way or waiting in the
	// consumer, their ack deadlines running, so the caller should handle
	// that many well within the ack deadline. Close nacks those it
	// received and nobody took; those still on the way when it closes are
	// delivered again after their ack deadline. Either way they were
	// delivered, which counts towards MaxDeliveries. Concurrent Pulls take
	// turns. A broker that cannot stream to the consumer is pulled from.
	Prefetch bool
}

// Consumer is a member of a consumer group of one station. It pulls
// deliveries and sends their acks and nacks in batches. It is safe for
// concurrent use.
//
// First deliveries arrive as the record batches the broker stored, decoded
// in place after their CRC-32C is verified (a damaged batch fails the pull
// with [ErrCorruptBatch]); acks go out as ranges of offsets, with the next
// pull. Brokers that predate record batches send one message at a time and
// get acks by offset, in requests of their own.
type Consumer struct {
	c              *Client
	station, group string
	opts           ConsumerOptions
	cfg            *junctionv1.GroupConfig
	cfgErr         error

	mu     sync.Mutex
	acks   map[uint32][]uint64
	nacks  map[time.Duration]map[uint32][]uint64
	closed bool
	// ranges: the broker sent record batches, so it takes acks as ranges.
	ranges atomic.Bool
	pf     prefetcher
	// flowing: the last pull returned several messages, so the next one
	// coalesces (see BatchWait).
	flowing atomic.Bool
	// pullAcks: the broker applies acks sent with a pull.
	pullAcks atomic.Bool
}

// Delivery is a message delivered to a consumer group member. It must be
// acked before the group's ack deadline or it is delivered again.
//
// Key, Value and the header values share memory with the pulled response
// (often one buffer for a whole batch of deliveries) and are never reused by
// the SDK: they stay valid as long as they are referenced, and must not be
// modified.
type Delivery struct {
	Station   string
	Partition int
	Offset    uint64
	// Timestamp is when the broker stored the message.
	Timestamp time.Time
	Key       []byte
	Value     []byte
	Headers   []Header
	// DeliveryCount is 1 on the first delivery.
	DeliveryCount int

	c       *Consumer
	settled bool // guarded by c.mu
}

// NewConsumer returns a consumer in group of station. The group is created
// by the first pull if it does not exist.
func (c *Client) NewConsumer(station, group string, opts ConsumerOptions) *Consumer {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Second
	}
	if opts.BatchWait == 0 {
		opts.BatchWait = defaultBatchWait
	}
	cons := &Consumer{c: c, station: station, group: group, opts: opts}
	cons.cfg, cons.cfgErr = GroupConfig{
		AckDeadline: opts.AckDeadline, MaxDeliveries: opts.MaxDeliveries, MaxAckPending: opts.MaxAckPending,
	}.proto()
	return cons
}

// Ack queues an acknowledgement of d. Queued acks are sent by the
// consumer's next Pull (in the pull request itself where the broker takes
// them there, else in one request alongside it) or Flush (Run sends them
// after each batch).
// Acking or nacking a delivery again has no effect.
func (d *Delivery) Ack() {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	if d.settled {
		return
	}
	d.settled = true
	if d.c.acks == nil {
		d.c.acks = make(map[uint32][]uint64)
	}
	p := uint32(d.Partition)
	d.c.acks[p] = append(d.c.acks[p], d.Offset)
}

// Nack queues a negative acknowledgement of d: it is redelivered no sooner
// than delay. Queued nacks are sent like acks.
func (d *Delivery) Nack(delay time.Duration) {
	d.c.mu.Lock()
	defer d.c.mu.Unlock()
	if d.settled {
		return
	}
	d.settled = true
	if d.c.nacks == nil {
		d.c.nacks = make(map[time.Duration]map[uint32][]uint64)
	}
	m := d.c.nacks[delay]
	if m == nil {
		m = make(map[uint32][]uint64)
		d.c.nacks[delay] = m
	}
	p := uint32(d.Partition)
	m[p] = append(m[p], d.Offset)
}

// Pull waits up to MaxWait for deliveries and returns up to n of them
// (BatchSize if n <= 0); an empty slice if none arrived in time. It sends
// the queued acks and nacks concurrently with the pull. If sending them
// fails, Pull returns that error and no deliveries (those it received are
// nacked); a failure with [ErrNotPending] (a delivery's ack deadline had
// passed) is only logged.
func (c *Consumer) Pull(ctx context.Context, n int) ([]*Delivery, error) {
	return c.PullWait(ctx, n, c.opts.MaxWait)
}

// PullWait is Pull with a max wait for this call instead of MaxWait.
func (c *Consumer) PullWait(ctx context.Context, n int, maxWait time.Duration) ([]*Delivery, error) {
	if c.opts.Prefetch {
		return c.pullPrefetching(ctx, n, maxWait)
	}
	return c.pull(ctx, n, maxWait)
}

func (c *Consumer) pull(ctx context.Context, n int, maxWait time.Duration) ([]*Delivery, error) {
	if c.cfgErr != nil {
		return nil, c.cfgErr
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if n <= 0 {
		n = c.opts.BatchSize
	}
	nn, err := toUint32("n", n)
	if err != nil {
		return nil, err
	}
	req := &junctionv1.PullRequest{
		Station:     c.station,
		Group:       c.group,
		MaxMessages: nn,
		MaxWait:     durationpb.New(maxWait),
		Start:       c.opts.Start.proto(),
		Config:      c.cfg,
		// First deliveries come as record batches: no per-message
		// envelope to decode.
		RecordBatches: true,
	}
	// The queued acks ride on the pull where the broker takes them there.
	var carried map[uint32][]uint64
	if c.pullAcks.Load() && ctx.Err() == nil {
		c.mu.Lock()
		carried, c.acks = c.acks, nil
		c.mu.Unlock()
		if len(carried) > 0 {
			req.AckRanges = ackRanges(carried)
		}
	}
	if c.opts.BatchWait > 0 && nn > 1 && c.flowing.Load() {
		req.MinMessages, req.BatchWait = nn, durationpb.New(min(c.opts.BatchWait, maxWait))
	}
	// The queued acks go out concurrently with the pull: one round trip
	// per batch instead of two. They are sent even if ctx ends meanwhile,
	// so that what the caller handled is not redelivered.
	var ackErr error
	ackDone := make(chan struct{})
	if c.hasQueued() {
		go func() {
			defer close(ackDone)
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
			defer cancel()
			ackErr = c.Flush(actx)
		}()
	} else {
		close(ackDone)
	}
	pctx, cancel := c.c.unaryCtx(ctx, maxWait)
	defer cancel()
	resp, err := c.c.messages.Pull(pctx, connect.NewRequest(req))
	<-ackDone
	if ackErr != nil && !onlyNotPending(ackErr) {
		if err == nil && (len(resp.Msg.GetMessages()) > 0 || len(resp.Msg.GetBatches()) > 0) {
			c.nackAll(ctx, batchOffsets(resp.Msg.GetMessages(), resp.Msg.GetBatches()))
		}
		return nil, ackErr
	}
	if err != nil {
		if len(carried) > 0 {
			c.resendAcks(ctx, carried)
		}
		return nil, fromConnect(err)
	}
	if len(resp.Msg.GetBatches()) > 0 {
		c.ranges.Store(true)
	}
	if resp.Msg.GetAcksApplied() {
		c.ranges.Store(true)
		c.pullAcks.Store(true)
	}
	if n := resp.Msg.GetAcksNotPending(); n > 0 {
		c.c.opts.logger.Warn("junction: ack of messages no longer pending (their ack deadline passed?)",
			"station", c.station, "group", c.group, "messages", n)
	}
	ds, err := c.deliveries(resp.Msg.GetMessages(), resp.Msg.GetBatches(), n)
	c.flowing.Store(len(ds) > 1)
	return ds, err
}

// defaultBatchWait is ConsumerOptions.BatchWait's default: short next to a
// consumer's handling of a batch, long next to a group commit on the broker.
const defaultBatchWait = time.Millisecond

// resendAcks sends the acks of a pull that failed in an Ack request of
// their own, even if ctx ended, so that what the caller handled is not
// redelivered. The broker may have applied them already, so offsets it
// finds not pending are no news.
func (c *Consumer) resendAcks(ctx context.Context, acks map[uint32][]uint64) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	_, err := c.c.messages.Ack(actx, connect.NewRequest(&junctionv1.AckRequest{Station: c.station, Group: c.group, Ranges: ackRanges(acks)}))
	if err != nil && !errors.Is(fromConnect(err), ErrNotPending) {
		c.c.opts.logger.Warn("junction: send acks after a failed pull; they will be redelivered",
			"station", c.station, "group", c.group, "err", err)
	}
}

func (c *Consumer) hasQueued() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks) > 0 || len(c.nacks) > 0
}

// nackAll returns deliveries that Pull cannot hand out (because sending the
// acks failed) for prompt redelivery, on a best-effort basis.
func (c *Consumer) nackAll(ctx context.Context, m map[uint32][]uint64) {
	nctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = c.c.messages.Nack(nctx, connect.NewRequest(&junctionv1.NackRequest{Station: c.station, Group: c.group, Messages: refs(m)}))
}

// Flush sends the queued acks (one Ack request) and nacks (one Nack request
// per distinct delay). Queued acks are dropped even if sending fails: the
// broker redelivers unacked messages after their deadline.
func (c *Consumer) Flush(ctx context.Context) error {
	c.mu.Lock()
	acks, nacks := c.acks, c.nacks
	c.acks, c.nacks = nil, nil
	c.mu.Unlock()
	var errs []error
	if len(acks) > 0 {
		req := &junctionv1.AckRequest{Station: c.station, Group: c.group}
		if c.ranges.Load() {
			req.Ranges = ackRanges(acks)
		} else {
			req.Messages = refs(acks)
		}
		actx, cancel := c.c.unaryCtx(ctx, 0)
		_, err := c.c.messages.Ack(actx, connect.NewRequest(req))
		cancel()
		if err != nil {
			errs = append(errs, fromConnect(err))
		}
	}
	for delay, m := range nacks {
		req := &junctionv1.NackRequest{Station: c.station, Group: c.group, Messages: refs(m)}
		if delay > 0 {
			req.Delay = durationpb.New(delay)
		}
		nctx, cancel := c.c.unaryCtx(ctx, 0)
		_, err := c.c.messages.Nack(nctx, connect.NewRequest(req))
		cancel()
		if err != nil {
			errs = append(errs, fromConnect(err))
		}
	}
	err := errors.Join(errs...)
	if errors.Is(err, ErrNotPending) {
		c.c.opts.logger.Warn("junction: ack of a message no longer pending (its ack deadline passed?)",
			"station", c.station, "group", c.group, "err", err)
	}
	return err
}

func refs(m map[uint32][]uint64) []*junctionv1.MessageRefs {
	out := make([]*junctionv1.MessageRefs, 0, len(m))
	for p, offs := range m {
		out = append(out, &junctionv1.MessageRefs{Partition: p, Offsets: offs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Run pulls batches and calls handler for each delivery, one at a time in
// delivery order. A nil error from handler acks the delivery, an error nacks
// it (redelivered after NackDelay) unless the handler already called Ack or
// Nack. The acks of a batch are sent with the next pull.
//
// Run returns ctx's error once ctx is done, after sending the acks of the
// handled deliveries and nacking the rest of the batch, or the first pull or
// ack error other than [ErrNotPending].
func (c *Consumer) Run(ctx context.Context, handler func(context.Context, *Delivery) error) error {
	for {
		ds, err := c.Pull(ctx, 0)
		if err != nil {
			if ctx.Err() != nil {
				return c.stop(ctx)
			}
			return err
		}
		for _, d := range ds {
			if ctx.Err() != nil {
				d.Nack(0)
				continue
			}
			herr := handler(ctx, d)
			if herr == nil {
				d.Ack()
			} else {
				d.Nack(c.opts.NackDelay)
			}
		}
		if ctx.Err() != nil {
			return c.stop(ctx)
		}
		// The next Pull sends this batch's acks.
	}
}

// ackTimeout bounds sending acks that must go out after ctx ended.
const ackTimeout = 10 * time.Second

// stop sends queued acks with a fresh deadline after ctx ended.
func (c *Consumer) stop(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	c.releasePrefetched(fctx)
	_ = c.Flush(fctx)
	return ctx.Err()
}

// Close sends queued acks and nacks; later Pulls fail with [ErrClosed].
func (c *Consumer) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.releasePrefetched(ctx)
	return c.Flush(ctx)
}

// onlyNotPending reports whether every error joined in err is ErrNotPending.
func onlyNotPending(err error) bool {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, ErrNotPending) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, ErrNotPending)
}
