package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	junctionv1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
)

// Following the leader of a cluster. Every call of a Client goes to its
// target: the address it was created with until a call learns of another
// leader. A call refused with ErrNotLeader is sent again to the leader the
// error names; when none is named (an election, or the leader is
// unreachable), the addresses given to ConnectCluster are asked for it.
// A call whose outcome is unknown (the leader was lost while it ran) is
// sent again only when repeating it is harmless: reads, pulls, acks and
// nacks, and produces whose every message has an id (the station's dedup
// window then keeps one copy).

// maxFollow bounds how many times one call follows the leader.
const maxFollow = 8

// follower is what a Client keeps to follow the leader.
type follower struct {
	// target is the "host:port" calls go to; nil: the Client's address.
	target atomic.Pointer[string]
	// peers are the addresses given to ConnectCluster.
	peers []string
	// raw sends requests to exactly the URL asked, for asking peers.
	raw   *http.Client
	copts []connect.ClientOption
}

// followTransport sends every request to the Client's current target.
type followTransport struct {
	f    *follower
	base http.RoundTripper
}

func (t *followTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if to := t.f.target.Load(); to != nil && *to != req.URL.Host {
		req = req.Clone(req.Context())
		req.URL.Host = *to
		req.Host = *to
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the base transport's idle connections.
func (t *followTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// following returns hc sending to the follower's target, and keeps hc to
// ask peers directly.
func (f *follower) following(hc *http.Client) *http.Client {
	f.raw = hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out := *hc
	out.Transport = &followTransport{f: f, base: base}
	return &out
}

// setTarget makes later calls go to addr.
func (f *follower) setTarget(addr string) {
	if addr != "" {
		f.target.Store(&addr)
	}
}

// interceptor sends a unary call again to the leader after a leader
// change, when that is safe.
func (f *follower) interceptor(c *Client) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			for attempt := 0; ; attempt++ {
				resp, err := next(ctx, req)
				if err == nil || attempt >= maxFollow || ctx.Err() != nil {
					return resp, err
				}
				if !retryable(err, repeatable(req.Spec().Procedure, req.Any())) {
					return resp, err
				}
				if !f.follow(ctx, c, err, attempt) {
					return resp, err
				}
			}
		}
	}
}

// follow points the client at the leader after err, which retryable
// accepted: the leader err names, or the one the peers know of. It
// reports false when there is nothing to follow.
func (f *follower) follow(ctx context.Context, c *Client, err error, attempt int) bool {
	var e *Error
	if errors.As(fromConnect(err), &e) && e.Leader != "" {
		f.setTarget(e.Leader)
		return true
	}
	if len(f.peers) == 0 {
		return false
	}
	if leader := f.findLeader(ctx, c, attempt); leader != "" {
		f.setTarget(leader)
	}
	return true
}

// retryable reports whether a call that failed with err may be sent
// again after following the leader: when the follower refused it, when it
// was never sent, or, when it is repeatable, whatever became of it.
func retryable(err error, repeatable bool) bool {
	var e *Error
	if !errors.As(fromConnect(err), &e) && !errors.Is(err, io.EOF) {
		return false
	}
	switch {
	case e != nil && e.Reason == "NOT_LEADER":
		return true
	case notSent(err):
		return true
	case !repeatable:
		return false
	case e == nil:
		return true // io.EOF: the stream ended
	case e.Reason == "OUTCOME_UNKNOWN", e.Reason == "SHUTTING_DOWN":
		return true
	}
	return e.Reason == "" && brokeOff(e)
}

// brokeOff reports whether e, an error without a broker's reason, is a
// transport failure: the connection or stream broke.
func brokeOff(e *Error) bool {
	switch e.Code {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeInternal:
		return true
	case connect.CodeInvalidArgument:
		// connect's report of a response cut off mid-message.
		return strings.Contains(e.Message, "incomplete envelope")
	}
	var op *net.OpError
	return errors.As(e, &op)
}

// notSent reports whether err says the request never reached a broker.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// repeatable reports whether sending a call twice does no harm.
func repeatable(procedure string, msg any) bool {
	if m, ok := msg.(*junctionv1.ProduceRequest); ok {
		return allIDs(m.GetMessages())
	}
	method := procedure[strings.LastIndexByte(procedure, '/')+1:]
	switch method {
	case "Pull", "Ack", "Nack", "Status", "ReadPartition":
		return true
	}
	for _, p := range []string{"List", "Get", "Describe", "Peek"} {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

func allIDs(msgs []*junctionv1.Message) bool {
	for _, m := range msgs {
		if m.GetId() == "" {
			return false
		}
	}
	return len(msgs) > 0
}

// findLeader asks the peers for the leader and returns its address, or ""
// after a backoff that grows with attempt when none knows one yet. The
// current target, which just failed, is not taken for the leader: a
// follower names the old leader until it notices it is gone.
func (f *follower) findLeader(ctx context.Context, c *Client, attempt int) string {
	failed := c.addr
	if t := f.target.Load(); t != nil {
		failed = *t
	}
	named := ""
	for _, addr := range f.peers {
		base, err := baseURL(addr)
		if err != nil {
			continue
		}
		if !strings.Contains(addr, "://") && strings.HasPrefix(c.baseURL, "https://") {
			base = "https://" + addr
		}
		cc := junctionv1connect.NewClusterServiceClient(f.raw, base, f.copts...)
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cc.Status(sctx, connect.NewRequest(&junctionv1.ClusterStatusRequest{}))
		cancel()
		if err != nil {
			continue
		}
		st := resp.Msg
		if st.GetState() == "leader" {
			return strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://")
		}
		for _, n := range st.GetNodes() {
			if a := n.GetApiAddress(); n.GetLeader() && a != "" && a != failed && named == "" {
				named = a
			}
		}
	}
	if named != "" {
		return named
	}
	wait := min(100*time.Millisecond<<attempt, 2*time.Second)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ""
}

// requeue keeps, for a stream to the new leader, the batches of a broken
// stream that may be sent again (the broker refused them, they never
// reached it, or every message has an id), and returns the others, which
// fail with cause. It points the client at the new leader first.
func (p *Producer) requeue(bs []*batch, cause error, refused bool) []*batch {
	f := &p.c.follow
	if p.ctx.Err() != nil || len(bs) == 0 || !retryable(cause, true) {
		return bs
	}
	var rest, again []*batch
	p.mu.Lock()
	for _, b := range bs {
		if b.tries < maxFollow && (refused || notSent(cause) || allIDs(b.msgs)) {
			again = append(again, b)
		} else {
			rest = append(rest, b)
		}
	}
	p.mu.Unlock()
	if len(again) == 0 || !f.follow(p.ctx, p.c, cause, again[0].tries) {
		return bs
	}
	p.mu.Lock()
	for _, b := range again {
		b.tries++
		if b.slot {
			<-p.slots
			b.slot = false
		}
	}
	p.retry = append(p.retry, again...)
	p.mu.Unlock()
	p.c.opts.logger.Info("junction: producer follows the cluster leader", "station", p.station, "requests", len(again))
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return rest
}

// resend puts the batches kept by requeue back at the head of the queue,
// before b, which the sender held: it reports whether there were any.
func (p *Producer) resend(b *batch) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.retry) == 0 {
		return false
	}
	if b != nil {
		if b.slot {
			<-p.slots
			b.slot = false
		}
		p.retry = append(p.retry, b)
	}
	p.ready = append(p.retry, p.ready...)
	p.retry = nil
	return true
}

// followLeader is what next returns when batches wait to be sent again.
var followLeader = &batch{}

// moved handles a batch the broker refused as a follower, or whose
// outcome it could not tell: the batch is kept for the new leader when it
// may be sent again, and the stream is broken so that the batches behind
// it follow. It reports whether it kept the batch.
func (s *pstream) moved(b *batch, resp *junctionv1.ProduceStreamResponse) bool {
	r := resp.GetErrorInfo().GetReason()
	if r != junctionv1.ErrorReason_ERROR_REASON_NOT_LEADER && r != junctionv1.ErrorReason_ERROR_REASON_OUTCOME_UNKNOWN {
		return false
	}
	err := streamError(s.p.station, resp.GetError(), resp.GetErrorCode(), resp.GetErrorInfo())
	if len(s.p.requeue([]*batch{b}, err, r == junctionv1.ErrorReason_ERROR_REASON_NOT_LEADER)) != 0 {
		return false
	}
	s.mu.Lock()
	s.broken = true
	if s.sendErr == nil {
		s.sendErr = err
	}
	s.mu.Unlock()
	s.cancel()
	return true
}
