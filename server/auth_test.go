package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/junctionhq/junction/broker/auth"
	v1 "github.com/junctionhq/junction/sdk/api/junction/v1"
	"github.com/junctionhq/junction/sdk/api/junction/v1/junctionv1connect"
	"github.com/junctionhq/junction/sdk/client"
)

const adminPassword = "correct horse battery staple"

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// securedServer starts a broker, creates the first user (admin) from
// loopback, which turns authentication on, and returns an admin client.
func securedServer(t *testing.T) (*Server, *client.Client, *syncBuffer) {
	s, c, logs, _ := securedServerIn(t)
	return s, c, logs
}

func securedServerIn(t *testing.T) (*Server, *client.Client, *syncBuffer, string) {
	t.Helper()
	logs := &syncBuffer{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := Start(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil)), PluginDirs: []string{}}, ln)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	anon := dial(t, s, "")
	if _, first, err := anon.CreateUser(ctx, client.User{Name: "admin", Role: "admin"}, adminPassword); err != nil || !first {
		t.Fatalf("create first user: first=%v err=%v", first, err)
	}
	tok, _, err := anon.Login(ctx, "admin", adminPassword, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	return s, dial(t, s, tok), logs, dir
}

func dial(t *testing.T, s *Server, token string) *client.Client {
	t.Helper()
	var opts []client.Option
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	c, err := client.Connect(context.Background(), s.Addr(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// userToken creates a user with grants and returns a client with a token
// of theirs.
func userToken(t *testing.T, s *Server, admin *client.Client, name string, grants ...string) (*client.Client, string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := admin.CreateUser(ctx, client.User{Name: name, Grants: grants}, ""); err != nil {
		t.Fatal(err)
	}
	tok, _, err := admin.CreateToken(ctx, name, "test", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dial(t, s, tok), tok
}

// TestEveryMethodNeedsAToken calls every method of every service the
// server mounts without credentials. Services are taken from the protobuf
// registry, so a new method fails here until the interceptor covers it.
func TestEveryMethodNeedsAToken(t *testing.T) {
	s, _, _ := securedServer(t)
	var procs []string
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		pkg := string(fd.Package())
		if pkg != "junction.v1" && !strings.HasPrefix(pkg, "grpc.reflection.") {
			return true
		}
		for i := 0; i < fd.Services().Len(); i++ {
			sd := fd.Services().Get(i)
			for j := 0; j < sd.Methods().Len(); j++ {
				procs = append(procs, "/"+string(sd.FullName())+"/"+string(sd.Methods().Get(j).Name()))
			}
		}
		return true
	})
	if len(procs) < 30 {
		t.Fatalf("found only %d methods in the registry", len(procs))
	}
	hc := h2cClient()
	for _, proc := range procs {
		t.Run(strings.TrimPrefix(proc, "/"), func(t *testing.T) {
			if !auth.HasRule(proc) {
				t.Errorf("%s has no permission rule in broker/auth", proc)
			}
			if proc == "/junction.v1.AuthService/Login" {
				return // the one public method
			}
			c := connect.NewClient[emptypb.Empty, emptypb.Empty](hc, "http://"+s.Addr()+proc, connect.WithGRPC())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st := c.CallBidiStream(ctx)
			st.Send(&emptypb.Empty{})
			st.CloseRequest()
			_, err := st.Receive()
			st.CloseResponse()
			if connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Errorf("%s without a token: got %v, want unauthenticated", proc, err)
			}
		})
	}
	for _, path := range []string{"/metrics"} {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %s, want 401", path, resp.Status)
		}
	}
}

func TestConsumeOnlyTokenCannotProduceOrDelete(t *testing.T) {
	s, admin, _ := securedServer(t)
	ctx := context.Background()
	if _, err := admin.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	reader, _ := userToken(t, s, admin, "reader", "consume:orders:billing")
	if _, err := reader.Produce(ctx, "orders", client.Message{Value: []byte("x")}); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("produce with a consume-only token: %v, want permission denied", err)
	}
	if err := reader.DeleteStation(ctx, "orders"); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("delete with a consume-only token: %v, want permission denied", err)
	}
	if _, err := admin.Produce(ctx, "orders", client.Message{Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.CreateGroup(ctx, "orders", "billing", client.Earliest, client.GroupConfig{}); err != nil {
		t.Fatalf("create the granted group: %v", err)
	}
	if _, err := reader.CreateGroup(ctx, "orders", "other", client.Earliest, client.GroupConfig{}); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("create another group: %v, want permission denied", err)
	}
}

func TestPatternPermission(t *testing.T) {
	s, admin, logs := securedServer(t)
	ctx := context.Background()
	for _, name := range []string{"orders.eu", "orders.us", "payments"} {
		if _, err := admin.CreateStation(ctx, client.StationConfig{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := userToken(t, s, admin, "writer", "produce:orders.*")
	for _, name := range []string{"orders.eu", "orders.us"} {
		if _, err := w.Produce(ctx, name, client.Message{Value: []byte("x")}); err != nil {
			t.Fatalf("produce to %s with produce:orders.*: %v", name, err)
		}
	}
	if _, err := w.Produce(ctx, "payments", client.Message{Value: []byte("x")}); !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("produce to payments with produce:orders.*: %v, want permission denied", err)
	}
	// Every message of a produce stream is checked.
	p := w.NewProducer("payments", client.ProducerOptions{})
	_, err := p.Send(ctx, client.Message{Value: []byte("x")}).Wait(ctx)
	p.Close(ctx)
	if !errors.Is(err, client.ErrPermissionDenied) {
		t.Fatalf("stream produce to payments with produce:orders.*: %v, want permission denied", err)
	}
	if !strings.Contains(logs.String(), "actor=\"admin (token") || !strings.Contains(logs.String(), "action=/junction.v1.StationService/CreateStation station.name=payments") {
		t.Errorf("no audit line for the station creation:\n%s", logs.String())
	}
	var sts []client.Station
	sts, err = w.Stations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 {
		t.Fatalf("writer lists %d stations, want the 2 it has grants on", len(sts))
	}
}

// openConsume opens a Consume stream with token and returns a function
// that waits for the stream's end and returns its error.
func openConsume(t *testing.T, s *Server, token string) func() error {
	t.Helper()
	mc := junctionv1connect.NewMessageServiceClient(h2cClient(), "http://"+s.Addr(), connect.WithGRPC())
	req := connect.NewRequest(&v1.ConsumeRequest{Station: "orders", Group: "g", BatchSize: 10})
	req.Header().Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		st, err := mc.Consume(ctx, req)
		if err != nil {
			done <- err
			return
		}
		for st.Receive() {
		}
		done <- st.Err()
	}()
	return func() error { return <-done }
}

func TestRevokedTokenStopsAtOnce(t *testing.T) {
	s, admin, _ := securedServer(t)
	ctx := context.Background()
	if _, err := admin.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	c, tok := userToken(t, s, admin, "app", "consume:orders", "produce:orders")
	wait := openConsume(t, s, tok)
	waitFor(t, func() bool { return s.auth.OpenStreams() == 1 })
	toks, err := admin.Tokens(ctx, "app")
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens: %v %v", toks, err)
	}
	if err := admin.RevokeToken(ctx, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := wait(); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("open stream after revoke ended with %v, want unauthenticated", err)
	}
	if _, err := c.Produce(ctx, "orders", client.Message{Value: []byte("x")}); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("produce with a revoked token: %v", err)
	}
}

func TestExpiredTokenStopsAtOnce(t *testing.T) {
	s, admin, _ := securedServer(t)
	ctx := context.Background()
	if _, err := admin.CreateStation(ctx, client.StationConfig{Name: "orders"}); err != nil {
		t.Fatal(err)
	}
	tok, info, err := admin.CreateToken(ctx, "", "short", 300*time.Millisecond, []string{"consume:orders"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ExpiresAt.IsZero() {
		t.Fatal("token has no expiry")
	}
	wait := openConsume(t, s, tok)
	if err := wait(); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("open stream of an expiring token ended with %v, want unauthenticated", err)
	}
	c := dial(t, s, tok)
	if _, err := c.CreateGroup(ctx, "orders", "g2", client.Earliest, client.GroupConfig{}); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("pull with an expired token: %v", err)
	}
}

func TestPasswordsAndTokensNeverInClear(t *testing.T) {
	s, admin, logs, dir := securedServerIn(t)
	ctx := context.Background()
	tok, _, err := admin.CreateToken(ctx, "", "ci", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.SetPassword(ctx, "admin", "another fine password"); err != nil {
		t.Fatal(err)
	}
	anon := dial(t, s, "")
	if _, _, err := anon.Login(ctx, "admin", "wrong password!", 0, ""); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("login with a wrong password: %v", err)
	}
	s.Close()
	db, err := os.ReadFile(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	secret := tok[strings.LastIndex(tok, "_")+1:]
	for _, clear := range []string{adminPassword, "another fine password", "wrong password!", secret} {
		if bytes.Contains(db, []byte(clear)) {
			t.Errorf("metadata file contains %q in clear", clear)
		}
		if strings.Contains(logs.String(), clear) {
			t.Errorf("log contains %q in clear", clear)
		}
	}
	if !strings.Contains(logs.String(), "action=user.create") || !strings.Contains(logs.String(), "action=token.create") {
		t.Errorf("no audit lines in the log:\n%s", logs.String())
	}
}

func TestNonLoopbackWithoutAuthRefused(t *testing.T) {
	_, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "0.0.0.0:0", Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{}}, nil)
	if !errors.Is(err, ErrInsecureListen) {
		t.Fatalf("start on 0.0.0.0 with no users: %v, want ErrInsecureListen", err)
	}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Listen: "0.0.0.0:0", Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{},
		Security: SecurityOptions{Insecure: true}}, nil)
	if err != nil {
		t.Fatalf("start on 0.0.0.0 with --insecure: %v", err)
	}
	s.Close()
}

func TestAuthRequiredAllowsOnlyFirstUser(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(context.Background(), Options{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{},
		Security: SecurityOptions{AuthMode: auth.ModeRequired}}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c := dial(t, s, "")
	if _, err := c.Stations(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("list stations before any user exists, auth required: %v", err)
	}
	if _, _, err := c.CreateUser(ctx, client.User{Name: "admin", Role: "admin"}, adminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stations(ctx); !errors.Is(err, client.ErrUnauthenticated) {
		t.Fatalf("list stations without a token once a user exists: %v", err)
	}
}

func TestMetricsOpenAndWithToken(t *testing.T) {
	s, _, _ := securedServer(t)
	ctx := context.Background()
	anon := dial(t, s, "")
	tok, _, err := anon.Login(ctx, "admin", adminPassword, time.Hour, "metrics")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+s.Addr()+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with a token: %s", resp.Status)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	open, err := Start(ctx, Options{DataDir: dir, Logger: slog.New(slog.DiscardHandler), PluginDirs: []string{}, Security: SecurityOptions{MetricsOpen: true}}, ln)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	c := dial(t, open, "")
	if _, _, err := c.CreateUser(ctx, client.User{Name: "admin", Role: "admin"}, adminPassword); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get("http://" + open.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics with --metrics-open and no token: %s", resp.Status)
	}
}
