package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
)

// TestCatchingUpNodeIsClosed: a cluster node that has not yet caught up
// with the cluster's users serves no caller as open and does not call an
// unknown token unknown; it says it is catching up, as UNAVAILABLE, until
// it has.
func TestCatchingUpNodeIsClosed(t *testing.T) {
	st := newStore(t)
	var caughtUp atomic.Bool
	a, err := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), CaughtUp: caughtUp.Load})
	if err != nil {
		t.Fatal(err)
	}
	const unknown = "jct_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

	if _, err := a.Unauthenticated(true); !errors.Is(err, ErrCatchingUp) {
		t.Fatalf("loopback caller while catching up: %v, want ErrCatchingUp", err)
	}
	if code := connect.CodeOf(Error(fmtErr(a.Unauthenticated(true)))); code != connect.CodeUnavailable {
		t.Fatalf("catching up as a status: %v, want unavailable", code)
	}
	if _, err := a.Authenticate(unknown); !errors.Is(err, ErrCatchingUp) {
		t.Fatalf("unknown token while catching up: %v, want ErrCatchingUp", err)
	}
	if _, err := a.AuthenticateUser("nobody"); !errors.Is(err, ErrCatchingUp) {
		t.Fatalf("unknown certificate user while catching up: %v, want ErrCatchingUp", err)
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/metrics", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	Middleware(a.Require(http.NotFoundHandler())).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("plain HTTP while catching up: %d, want 503", rec.Code)
	}

	caughtUp.Store(true)
	if id, err := a.Unauthenticated(true); err != nil || !id.Open {
		t.Fatalf("loopback caller of a caught-up node without users: %+v %v", id, err)
	}
	if _, err := a.Authenticate(unknown); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown token once caught up: %v, want ErrUnauthenticated", err)
	}
}

func fmtErr(_ *Identity, err error) error { return err }

func TestCatchingUpReported(t *testing.T) {
	st := newStore(t)
	var caughtUp atomic.Bool
	a, err := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), CaughtUp: caughtUp.Load})
	if err != nil {
		t.Fatal(err)
	}
	if !a.CatchingUp() {
		t.Error("not catching up before the node caught up")
	}
	caughtUp.Store(true)
	if a.CatchingUp() {
		t.Error("catching up after the node caught up")
	}
}
