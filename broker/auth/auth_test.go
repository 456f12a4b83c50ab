package auth

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/junctionhq/junction/broker/meta"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
)

// newStore opens a metadata store that closes with the test.
func newStore(t testing.TB) *meta.Store {
	t.Helper()
	st, err := meta.Open(filepath.Join(t.TempDir(), "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newAuth(t testing.TB, mode Mode) *Auth {
	t.Helper()
	a, err := New(Options{Store: newStore(t), Mode: mode, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestBootstrap(t *testing.T) {
	a := newAuth(t, ModeAuto)
	if a.Enabled() {
		t.Fatal("enabled with no users")
	}
	if _, err := a.Unauthenticated(false); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("non-loopback caller of an open broker: %v", err)
	}
	id, err := a.Unauthenticated(true)
	if err != nil || !id.Open {
		t.Fatalf("loopback caller of an open broker: %+v %v", id, err)
	}
	if _, _, err := a.CreateUser(id, "bob", "", "producer", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("first user without manage-users: %v", err)
	}
	if _, _, err := a.CreateUser(id, "alice", "", "admin", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("first user without a password: %v", err)
	}
	if _, first, err := a.CreateUser(id, "alice", "long enough", "admin", nil); err != nil || !first {
		t.Fatalf("first user: %v %v", first, err)
	}
	if !a.Enabled() {
		t.Fatal("not enabled after the first user")
	}
	if _, err := a.Unauthenticated(true); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("loopback caller once a user exists: %v", err)
	}
	if err := a.DeleteUser(&Identity{User: "alice", grants: mustGrants(t, "manage-users")}, "alice"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deleting the last user: %v", err)
	}
	if _, err := a.SetGrants(&Identity{User: "alice"}, "alice", "producer", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("taking manage-users from the last user who has it: %v", err)
	}
	r := newAuth(t, ModeRequired)
	if !r.Enabled() {
		t.Fatal("required mode not enabled")
	}
	if id, err := r.Unauthenticated(true); err != nil || !id.Bootstrap || id.Allows(Produce, "x", "") {
		t.Fatalf("required mode, no users: %+v %v", id, err)
	}
}

func mustGrants(t testing.TB, gs ...string) []Grant {
	t.Helper()
	out, err := parseGrants(gs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTokensSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	st, err := meta.Open(filepath.Join(dir, "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	root := &Identity{Open: true}
	a.CreateUser(root, "alice", "long enough", "admin", nil)
	tok, info, err := a.Login("alice", "long enough", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = meta.Open(filepath.Join(dir, "meta.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := New(Options{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.Authenticate(tok)
	if err != nil || id.User != "alice" || id.TokenID != info.ID {
		t.Fatalf("token after reopen: %+v %v", id, err)
	}
	if _, err := b.Authenticate(tok[:len(tok)-2] + "AA"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("tampered token: %v", err)
	}
}

// BenchmarkCheck is the interceptor's work for one produce call with a
// token: parse and look up the token, hash its secret, match the grants.
func BenchmarkCheck(b *testing.B) {
	a := newAuth(b, ModeAuto)
	a.CreateUser(&Identity{Open: true}, "alice", "long enough", "admin", nil)
	tok, _, err := a.CreateToken(&Identity{User: "alice", grants: mustGrants(b, "manage-users")}, "alice", "", 0, []string{"produce:orders.*"})
	if err != nil {
		b.Fatal(err)
	}
	r := rules["/junction.v1.MessageService/Produce"]
	req := &v1.ProduceRequest{Station: "orders.eu"}
	b.ReportAllocs()
	for b.Loop() {
		id, err := a.Authenticate(tok)
		if err != nil {
			b.Fatal(err)
		}
		if err := a.authorize(id, "", r, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTokenHasOneSpelling changes the last character of an issued token,
// whose low bits the encoding leaves unused, to every other character: none
// authenticates.
func TestTokenHasOneSpelling(t *testing.T) {
	a := newAuth(t, ModeAuto)
	a.CreateUser(&Identity{Open: true}, "alice", "long enough", "admin", nil)
	tok, _, err := a.CreateToken(&Identity{User: "alice", grants: mustGrants(t, "manage-users")}, "alice", "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range alphabet {
		s := tok[:len(tok)-1] + string(c)
		if s == tok {
			continue
		}
		if id, err := a.Authenticate(s); err == nil {
			t.Fatalf("%q authenticates as %s, as the issued %q does", s, id.User, tok)
		}
	}
}

// FuzzAuthenticate checks that no string but the issued token
// authenticates, and that none makes the token parser fail other than
// with ErrUnauthenticated.
func FuzzAuthenticate(f *testing.F) {
	a := newAuth(f, ModeAuto)
	a.CreateUser(&Identity{Open: true}, "alice", "long enough", "admin", nil)
	tok, _, err := a.CreateToken(&Identity{User: "alice", grants: mustGrants(f, "manage-users")}, "alice", "", 0, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add(tok[:len(tok)-1] + "x")
	f.Add("jct_0123456789abcdef_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := a.Authenticate(s)
		if s == tok {
			if err != nil || id.User != "alice" {
				t.Fatalf("the issued token: %v", err)
			}
			return
		}
		if err == nil || !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("%q: %v, %+v", s, err, id)
		}
	})
}
