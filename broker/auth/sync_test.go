package auth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
)

// TestUnknownTokenSyncsWithLeader: a token minted on the leader a moment
// ago, not yet reloaded on a follower, authenticates there once the
// follower synced with the leader; credentials a sync cannot make known
// fail as before, and only a well-formed token whose id is unknown costs
// a sync.
func TestUnknownTokenSyncsWithLeader(t *testing.T) {
	st := newStore(t)
	leader, err := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var follower *Auth
	syncs, failSync := 0, false
	follower, err = New(Options{Store: st, Logger: slog.New(slog.DiscardHandler), SyncWithLeader: func(context.Context) error {
		syncs++
		if failSync {
			return errors.New("no leader")
		}
		return follower.Reload()
	}})
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
	bearer, _, err := leader.Login("alice", "long enough", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	call := func(token string) (*Identity, error) {
		h := http.Header{}
		h.Set("Authorization", "Bearer "+token)
		return follower.identify(t.Context(), h)
	}

	if id, err := call(bearer); err != nil || id.User != "alice" || syncs != 1 {
		t.Fatalf("the leader's fresh token on the follower: %+v %v after %d syncs, want alice after 1", id, err, syncs)
	}
	if _, err := call(bearer); err != nil || syncs != 1 {
		t.Fatalf("the token once known: %v after %d syncs, want no new sync", err, syncs)
	}
	wrongSecret := bearer[:len(bearer)-2] + "AA"
	if _, err := call(wrongSecret); !errors.Is(err, ErrUnauthenticated) || syncs != 1 {
		t.Fatalf("a known id with a wrong secret: %v after %d syncs, want unauthenticated without a sync", err, syncs)
	}
	if _, err := call("jct_nonsense"); !errors.Is(err, ErrUnauthenticated) || syncs != 1 {
		t.Fatalf("a malformed token: %v after %d syncs, want unauthenticated without a sync", err, syncs)
	}
	const unknown = "jct_AAAAAAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := call(unknown); !errors.Is(err, ErrUnauthenticated) || syncs != 2 {
		t.Fatalf("an unknown token: %v after %d syncs, want unauthenticated after a sync", err, syncs)
	}
	failSync = true
	if _, err := call(unknown); !errors.Is(err, ErrUnauthenticated) || syncs != 3 {
		t.Fatalf("an unknown token when the sync fails: %v after %d syncs, want unauthenticated", err, syncs)
	}
	if _, err := follower.AuthenticateUser("bob"); !errors.Is(err, errUnknownUser) {
		t.Fatalf("an unknown certificate user: %v, want errUnknownUser", err)
	}
}
