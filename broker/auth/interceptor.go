package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// Interceptor returns the connect interceptor that authenticates and
// authorises every call: unary calls once, streams when they open and
// again for every message the client sends. Streams stay registered while
// open, so revoking their token, deleting or changing their user, or the
// token expiring closes them at once.
func (a *Auth) Interceptor() connect.Interceptor { return interceptor{a} }

type interceptor struct{ a *Auth }

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		proc := req.Spec().Procedure
		r, id, err := i.a.admit(ctx, proc, req.Header())
		if err != nil {
			return nil, Error(err)
		}
		if msg, ok := req.Any().(proto.Message); ok {
			if err := i.a.authorize(id, proc, r, msg); err != nil {
				return nil, Error(err)
			}
		}
		resp, err := next(NewContext(ctx, id), req)
		if err == nil && r.filter != nil && resp != nil {
			r.filter(id, resp.Any())
		}
		if err == nil && r.audit {
			i.a.auditCall(id, proc, req.Any())
		}
		return resp, err
	}
}

func (i interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		proc := conn.Spec().Procedure
		r, id, err := i.a.admit(ctx, proc, conn.RequestHeader())
		if err != nil {
			return Error(err)
		}
		ctx, lc := i.a.track(ctx, id)
		defer i.a.untrack(lc)
		if err := i.a.stillValid(id); err != nil {
			return Error(err)
		}
		err = next(NewContext(ctx, id), &checkedConn{StreamingHandlerConn: conn, a: i.a, id: id, proc: proc, rule: r})
		if cause := context.Cause(ctx); errors.Is(cause, ErrTokenRevoked) || errors.Is(cause, ErrTokenExpired) {
			return connect.NewError(connect.CodeUnauthenticated, cause)
		}
		return err
	}
}

func (a *Auth) auditCall(id *Identity, proc string, req any) {
	msg, ok := req.(proto.Message)
	if !ok {
		return
	}
	attrs := []any{"actor", id.String(), "action", proc}
	for _, f := range auditFields {
		if v := field(msg, f); v != "" {
			attrs = append(attrs, f, truncate(v))
		}
	}
	a.log.Info("audit", attrs...)
}

// checkedConn authorises every message a stream's client sends.
type checkedConn struct {
	connect.StreamingHandlerConn
	a    *Auth
	id   *Identity
	proc string
	rule rule
}

func (c *checkedConn) Receive(msg any) error {
	if err := c.StreamingHandlerConn.Receive(msg); err != nil {
		return err
	}
	if m, ok := msg.(proto.Message); ok {
		if err := c.a.authorize(c.id, c.proc, c.rule, m); err != nil {
			return Error(err)
		}
	}
	return nil
}

// admit authenticates the caller of proc: by bearer token, else by
// verified client certificate, else as the anonymous caller an open
// broker allows. It returns proc's rule.
func (a *Auth) admit(ctx context.Context, proc string, h http.Header) (rule, *Identity, error) {
	r, known := rules[proc]
	if r.public {
		return r, &Identity{}, nil
	}
	id, err := a.identify(ctx, h)
	if err != nil {
		return r, nil, err
	}
	if id.Bootstrap && proc != createUser {
		return r, nil, fmt.Errorf("%w: this broker requires authentication and has no users yet; create the first with junction user create NAME --role admin", ErrUnauthenticated)
	}
	if !known {
		return r, nil, fmt.Errorf("%w: %s has no permission rule", ErrPermissionDenied, proc)
	}
	return r, id, nil
}

func (a *Auth) identify(ctx context.Context, h http.Header) (*Identity, error) {
	if v := h.Get("Authorization"); v != "" {
		scheme, tok, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return nil, fmt.Errorf("%w: Authorization must be \"Bearer TOKEN\"", ErrUnauthenticated)
		}
		tok = strings.TrimSpace(tok)
		return a.again(ctx, errUnknownToken, func() (*Identity, error) { return a.Authenticate(tok) })
	}
	ci := callFrom(ctx)
	if ci != nil && ci.tls != nil && len(ci.tls.VerifiedChains) > 0 && len(ci.tls.PeerCertificates) > 0 {
		if name := ci.tls.PeerCertificates[0].Subject.CommonName; name != "" {
			return a.again(ctx, errUnknownUser, func() (*Identity, error) { return a.AuthenticateUser(name) })
		}
	}
	return a.Unauthenticated(ci != nil && ci.loopback)
}

// syncTimeout bounds how long a call with unknown credentials waits for
// its cluster node to sync with the leader.
const syncTimeout = 2 * time.Second

// again runs authenticate, and when it fails with unknown and this broker
// is a cluster member, once more after syncing with the leader (see
// Options.SyncWithLeader); a failed sync leaves the first answer.
func (a *Auth) again(ctx context.Context, unknown error, authenticate func() (*Identity, error)) (*Identity, error) {
	id, err := authenticate()
	if !errors.Is(err, unknown) || a.opts.SyncWithLeader == nil {
		return id, err
	}
	ctx, cancel := context.WithTimeout(ctx, syncTimeout)
	defer cancel()
	if a.opts.SyncWithLeader(ctx) != nil {
		return id, err
	}
	return authenticate()
}

// authorize checks one request message against proc's rule.
func (a *Auth) authorize(id *Identity, proc string, r rule, msg proto.Message) error {
	if id.Open || r.action == "" {
		return nil
	}
	var station, group string
	if r.station != "" {
		station = field(msg, r.station)
	}
	if r.group != "" {
		group = field(msg, r.group)
	}
	ok := false
	if r.action == seeStation {
		ok = id.Sees(station)
	} else {
		ok = id.Allows(r.action, station, group)
	}
	if ok {
		return nil
	}
	what := string(r.action)
	switch {
	case r.action == seeStation:
		what = "any permission on station " + quoteName(station)
	case r.group != "":
		what += " on station " + quoteName(station) + " in group " + quoteName(group)
	case r.station != "":
		what += " on station " + quoteName(station)
	}
	return fmt.Errorf("%w: %s needs %s", ErrPermissionDenied, id, what)
}

func quoteName(s string) string { return fmt.Sprintf("%q", truncate(s)) }

// stillValid reports whether id's credentials still hold, for a stream
// registered after it was authenticated.
func (a *Auth) stillValid(id *Identity) error {
	if id.TokenID == "" {
		return nil
	}
	a.mu.RLock()
	_, ok := a.tokens[id.TokenID]
	a.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: token revoked", ErrUnauthenticated)
	}
	return nil
}

// Error maps this package's errors to connect errors.
func Error(err error) error {
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return err
	case errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrTokenRevoked), errors.Is(err, ErrTokenExpired):
		return connect.NewError(connect.CodeUnauthenticated, err)
	case errors.Is(err, ErrPermissionDenied):
		return connect.NewError(connect.CodePermissionDenied, err)
	case errors.Is(err, ErrInvalid):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, ErrNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, ErrExists):
		return connect.NewError(connect.CodeAlreadyExists, err)
	case errors.Is(err, ErrCatchingUp):
		return connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

// callInfo is what the HTTP layer knows of a call and the interceptor
// needs: the peer, its TLS state, and how to end the call.
type callInfo struct {
	loopback bool
	tls      *tls.ConnectionState
	body     io.Closer
}

type callKey struct{}

func callFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callKey{}).(*callInfo)
	return ci
}

// Middleware records each request's peer and TLS state for the
// interceptor and for Require. Every handler the server mounts must be
// behind it.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := &callInfo{loopback: isLoopback(r.RemoteAddr), tls: r.TLS, body: r.Body}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, ci)))
	})
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Require wraps a plain HTTP handler (metrics, the dashboard) so that it
// answers only authenticated callers, with 401 otherwise.
func (a *Auth) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.identify(r.Context(), r.Header)
		if err == nil && id.Bootstrap {
			err = ErrUnauthenticated
		}
		if errors.Is(err, ErrCatchingUp) {
			w.Header().Set("Retry-After", "1")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="junction"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), id)))
	})
}

// liveCall is an open stream, ended when its credentials go.
type liveCall struct {
	tokenID, user string
	open          bool
	end           func(cause error)
	timer         *time.Timer
}

// track registers a stream of id and returns its context, which ends
// (with the request body closed, so a blocked Receive returns) when the
// stream's credentials are revoked or expire.
func (a *Auth) track(ctx context.Context, id *Identity) (context.Context, *liveCall) {
	ctx, cancel := context.WithCancelCause(ctx)
	ci := callFrom(ctx)
	lc := &liveCall{tokenID: id.TokenID, user: id.User, open: id.Open || id.Bootstrap}
	lc.end = func(cause error) {
		cancel(cause)
		if ci != nil && ci.body != nil {
			go ci.body.Close()
		}
	}
	if !id.Expires.IsZero() {
		lc.timer = time.AfterFunc(id.Expires.Sub(a.opts.Clock()), func() { lc.end(ErrTokenExpired) })
	}
	a.liveMu.Lock()
	a.live[lc] = struct{}{}
	a.liveMu.Unlock()
	return ctx, lc
}

func (a *Auth) untrack(lc *liveCall) {
	if lc.timer != nil {
		lc.timer.Stop()
	}
	a.liveMu.Lock()
	delete(a.live, lc)
	a.liveMu.Unlock()
}

// closeLive ends every open stream matching pred.
func (a *Auth) closeLive(pred func(*liveCall) bool) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	for lc := range a.live {
		if pred(lc) {
			lc.end(ErrTokenRevoked)
		}
	}
}

// OpenStreams returns how many streams are registered, for tests.
func (a *Auth) OpenStreams() int {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	return len(a.live)
}
