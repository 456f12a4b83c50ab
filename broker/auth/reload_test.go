package auth

import (
	"errors"
	"log/slog"
	"testing"
)

// TestReload has two Auths share a store, as a cluster's nodes share
// their replicated one: what one writes the other sees after Reload.
func TestReload(t *testing.T) {
	st := newStore(t)
	opts := Options{Store: st, Logger: slog.New(slog.DiscardHandler)}
	leader, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	follower, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	open, err := leader.Unauthenticated(true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := leader.CreateUser(open, "alice", "long enough", "admin", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Unauthenticated(true); err != nil {
		t.Fatalf("before reload the follower is still open: %v", err)
	}
	if err := follower.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Unauthenticated(true); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a loopback caller once the user is reloaded: %v, want unauthenticated", err)
	}
	bearer, info, err := leader.Login("alice", "long enough", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := follower.Reload(); err != nil {
		t.Fatal(err)
	}
	id, err := follower.Authenticate(bearer)
	if err != nil || id.User != "alice" {
		t.Fatalf("the leader's token on the follower: %+v %v", id, err)
	}
	if err := leader.RevokeToken(id, info.ID); err != nil {
		t.Fatal(err)
	}
	if err := follower.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Authenticate(bearer); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("a revoked token on the follower: %v, want unauthenticated", err)
	}
}
